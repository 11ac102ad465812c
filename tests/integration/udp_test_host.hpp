// Shared by the UDP transport tests: fresh keys, a host that accepts streams on its own thread, and
// the echo that most of them talk to.
#pragma once

#include <sodium.h>

#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "pdtp/transport/udp.hpp"

namespace pdtp_test {

inline pdtp::secure::KeyPair fresh_keys() {
  pdtp::secure::ensure_sodium();
  return pdtp::secure::generate_keypair(
      [](pdtp::secure::MutableByteView out) { randombytes_buf(out.data(), out.size()); });
}

// A UdpHost bound to `at` (port 0: any) on its own io_context and thread; every accepted stream is
// handed to `serve`, which runs on that thread. Destroying it closes the host and joins the thread.
struct ThreadedUdpHost {
  using Serve = std::function<asio::awaitable<void>(pdtp::transport::UdpStream)>;

  ThreadedUdpHost(asio::ip::address at, pdtp::transport::UdpOptions o, Serve serve) : serve_(std::move(serve)) {
    host.emplace(io, std::move(o));
    acceptor.emplace(pdtp::transport::Udp::listen(io.get_executor(), {at, 0}));
    port = acceptor->local_endpoint().port();
    asio::co_spawn(io, accept_loop(), asio::detached);
    thread = std::thread([this] { io.run(); });
  }
  ~ThreadedUdpHost() {
    asio::post(io, [this] {
      acceptor->close();
      host->close();
      io.stop();
    });
    thread.join();
  }
  ThreadedUdpHost(const ThreadedUdpHost&) = delete;
  ThreadedUdpHost& operator=(const ThreadedUdpHost&) = delete;

  asio::io_context io;
  std::optional<pdtp::transport::UdpHost> host;
  std::optional<pdtp::transport::UdpAcceptor> acceptor;
  std::uint16_t port = 0;
  std::thread thread;

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      pdtp::transport::UdpStream s(io);
      asio::error_code ec;
      co_await acceptor->async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io, serve_(std::move(s)), asio::detached);
    }
  }
  Serve serve_;
};

// Echoes what the stream brings until its end, ends ours, and keeps the stream for 2 s so that the
// other side can read the echo.
inline asio::awaitable<void> echo_stream(pdtp::transport::UdpStream s) {
  std::vector<char> buf(65536);
  for (;;) {
    asio::error_code ec;
    std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    co_await asio::async_write(s, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  asio::error_code ig;
  s.shutdown(asio::socket_base::shutdown_send, ig);
  asio::steady_timer t(s.get_executor(), std::chrono::seconds(2));
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ig));
}

}  // namespace pdtp_test
