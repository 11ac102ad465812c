// One-way goodput of the UDP transport alone (no PDTP, no hashing): two hosts on loopback, each on
// its own thread and io_context, one stream carrying N MiB. Prints MB/s and the datagram counts.
//   udp_stream [MiB=1024] [streams=1]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "pdtp/transport/udp.hpp"

using namespace pdtp;
using transport::Udp;

namespace {

secure::KeyPair keys() {
  return secure::generate_keypair([](secure::MutableByteView out) { randombytes_buf(out.data(), out.size()); });
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1024;
  const int streams = argc > 2 ? std::atoi(argv[2]) : 1;
  const std::uint64_t per_stream = (mib << 20) / static_cast<std::uint64_t>(streams);
  secure::ensure_sodium();

  asio::io_context sio;
  transport::UdpOptions so;
  so.identity = keys();
  transport::UdpHost server(sio, so);
  auto acceptor = Udp::listen(sio.get_executor(), {asio::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = acceptor.local_endpoint().port();
  std::uint64_t received = 0;
  int finished = 0;
  auto sink = [&](transport::UdpStream s) -> asio::awaitable<void> {
    std::vector<char> buf(1 << 20);
    for (;;) {
      asio::error_code ec;
      std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      received += n;
      if (ec) break;
    }
    if (++finished == streams) {
      acceptor.close();
      server.close();
    }
  };
  asio::co_spawn(sio, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < streams; ++i) {
      transport::UdpStream s(sio);
      asio::error_code ec;
      co_await acceptor.async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(sio, sink(std::move(s)), asio::detached);
    }
  }, asio::detached);
  std::thread st([&] { sio.run(); });

  asio::io_context cio;
  transport::UdpOptions co;
  co.identity = keys();
  transport::UdpHost client(cio, co);
  const auto server_key = server.public_key();
  std::chrono::steady_clock::time_point start;
  int done = 0;
  auto source = [&]() -> asio::awaitable<void> {
    auto s = co_await Udp::connect({asio::ip::make_address("127.0.0.1"), port, server_key}, std::nullopt);
    std::vector<char> buf(1 << 20, 'x');
    std::uint64_t left = per_stream;
    asio::error_code ec;
    while (left > 0 && !ec) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
      co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
      left -= n;
    }
    s.shutdown(asio::socket_base::shutdown_send, ec);
    asio::steady_timer t(cio, std::chrono::seconds(1));  // let the last bytes be acknowledged
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (++done == streams) client.close();
  };
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < streams; ++i) asio::co_spawn(cio, source(), asio::detached);
  cio.run();
  st.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - 1.0;
  std::printf("udp_stream: %llu MiB over %d stream(s) in %.2f s: %.0f MB/s; datagrams out %llu (client), in %llu "
              "(server); gso %s\n",
              static_cast<unsigned long long>(received >> 20), streams, secs, received / secs / 1e6,
              static_cast<unsigned long long>(client.stats().datagrams_out),
              static_cast<unsigned long long>(server.stats().datagrams_in), "on");
  return received == per_stream * static_cast<std::uint64_t>(streams) ? 0 : 1;
}
