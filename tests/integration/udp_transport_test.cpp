// The UDP transport over real sockets on loopback: two hosts (two io_contexts on two threads), streams
// through the StreamTransport operations the runtimes use, keys checked, nothing sent in clear.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pdtp/transport/concept.hpp"
#include "pdtp/transport/stream_io.hpp"
#include "pdtp/transport/udp.hpp"
#include "udp_test_host.hpp"

using namespace pdtp;
using transport::Udp;

static_assert(transport::StreamTransport<Udp>);

namespace {

using pdtp_test::fresh_keys;

// A host on its own thread, answering every stream by echoing what it reads until the end; it notes
// the key each stream's peer proved.
struct EchoServer {
  explicit EchoServer(std::size_t datagram_size = rudp::min_datagram_size,
                      std::function<void(std::span<const std::uint8_t>)> on_send = {})
      : keys(fresh_keys()), threaded(asio::ip::make_address("127.0.0.1"), options(keys, datagram_size, std::move(on_send)),
                                     [this](transport::UdpStream st) { return serve(std::move(st)); }),
        port(threaded.port) {}
  static transport::UdpOptions options(const secure::KeyPair& keys, std::size_t datagram_size,
                                       std::function<void(std::span<const std::uint8_t>)> on_send) {
    transport::UdpOptions o;
    o.identity = keys;
    o.config.max_datagram_size = datagram_size;
    o.on_send = std::move(on_send);
    return o;
  }
  asio::awaitable<void> serve(transport::UdpStream st) {
    {
      std::lock_guard lock(mu);
      peer_keys.push_back(Udp::remote_key(st));
    }
    co_await pdtp_test::echo_stream(std::move(st));
  }
  std::mutex mu;
  std::vector<std::string> peer_keys;
  secure::KeyPair keys;
  pdtp_test::ThreadedUdpHost threaded;  // last: its thread stops before the members above go
  std::uint16_t port;
};

struct Client {
  explicit Client(std::function<void(std::span<const std::uint8_t>)> on_send = {},
                  std::size_t datagram_size = rudp::min_datagram_size)
      : keys(fresh_keys()) {
    transport::UdpOptions o;
    o.identity = keys;
    o.config.max_datagram_size = datagram_size;
    o.on_send = std::move(on_send);
    host.emplace(io, o);
  }
  // Runs `task` to completion on this client's io_context.
  template <class T>
  T run(asio::awaitable<T> task) {
    auto f = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return f.get();
  }
  secure::KeyPair keys;
  asio::io_context io;
  std::optional<transport::UdpHost> host;
};

std::string pattern(std::size_t n, std::string_view marker) {
  std::string s;
  s.reserve(n);
  std::uint32_t x = 12345;
  while (s.size() < n) {
    if (s.size() % 4096 == 0) s.append(marker);
    x = x * 1103515245 + 12345;
    s.push_back(static_cast<char>(x >> 16));
  }
  s.resize(n);
  return s;
}

asio::awaitable<std::string> echo_once(transport::UdpEndpoint to, std::string data) {
  auto s = co_await Udp::connect(to, std::nullopt);
  asio::error_code ec;
  std::string got;
  std::vector<char> buf(65536);
  std::size_t written = 0;
  // Write in pieces and read as we go so neither side's buffers fill.
  while (got.size() < data.size()) {
    if (written < data.size()) {
      std::size_t n = std::min<std::size_t>(256 * 1024, data.size() - written);
      co_await asio::async_write(s, asio::buffer(data.data() + written, n), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      written += n;
      if (written == data.size()) s.shutdown(asio::socket_base::shutdown_send, ec);
    }
    while (got.size() < written) {
      std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return got;
      got.append(buf.data(), n);
    }
  }
  co_return got;
}

}  // namespace

TEST_CASE("udp transport: a stream to a pinned key echoes 8 MB byte-exact and no plaintext crosses the wire") {
  EchoServer server;
  std::mutex mu;
  std::vector<std::vector<std::uint8_t>> sent;
  Client client([&](std::span<const std::uint8_t> d) {
    std::lock_guard lock(mu);
    sent.emplace_back(d.begin(), d.end());
  });
  const std::string marker = "PDTP-PLAINTEXT-MARKER";
  const std::string data = pattern(8 << 20, marker);
  auto got = client.run(echo_once({asio::ip::make_address("127.0.0.1"), server.port, server.keys.public_key}, data));
  CHECK(got.size() == data.size());
  CHECK(got == data);
  std::lock_guard lock(mu);
  CHECK(sent.size() > 1000);
  for (const auto& d : sent) REQUIRE(std::search(d.begin(), d.end(), marker.begin(), marker.end()) == d.end());
  std::lock_guard lock2(server.mu);
  REQUIRE(!server.peer_keys.empty());
  CHECK(server.peer_keys.front() == secure::to_text(client.keys.public_key));
}

namespace {

// The sizes of the datagrams one host sends (its on_send hook may run on another thread).
struct SizeLog {
  std::function<void(std::span<const std::uint8_t>)> hook() {
    return [this](std::span<const std::uint8_t> d) {
      std::lock_guard lock(mu);
      sizes.push_back(d.size());
    };
  }
  std::size_t largest() {
    std::lock_guard lock(mu);
    return sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
  }
  std::size_t count_above(std::size_t n) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(std::count_if(sizes.begin(), sizes.end(), [n](std::size_t s) { return s > n; }));
  }
  std::mutex mu;
  std::vector<std::size_t> sizes;
};

}  // namespace

TEST_CASE("udp transport: each end sends datagrams up to its own size and receives the other's") {
  SizeLog client_sent, server_sent;  // outlive the hosts that write to them
  EchoServer server(1452, server_sent.hook());
  Client client(client_sent.hook(), 9000);
  const std::string data = pattern(2 << 20, "DATAGRAM-SIZE");
  auto got = client.run(echo_once({asio::ip::make_address("127.0.0.1"), server.port, server.keys.public_key}, data));
  CHECK(got == data);
  // 2 MB each way: about 230 datagrams of 9000 bytes from the client, 1450 of 1452 from the server.
  CHECK(client_sent.largest() <= 9000);
  CHECK(client_sent.count_above(1452) >= 100);
  CHECK(server_sent.largest() <= 1452);
  CHECK(server_sent.count_above(1200) >= 500);
}

TEST_CASE("udp transport: several streams share one connection to the same peer") {
  EchoServer server;
  Client client;
  const transport::UdpEndpoint to{asio::ip::make_address("127.0.0.1"), server.port, server.keys.public_key};
  auto both = client.run([](transport::UdpEndpoint to) -> asio::awaitable<std::pair<std::string, std::string>> {
    auto a = co_await echo_once(to, "first stream");
    auto b = co_await echo_once(to, "second stream");
    co_return std::make_pair(a, b);
  }(to));
  CHECK(both.first == "first stream");
  CHECK(both.second == "second stream");
  CHECK(client.host->endpoint_stats().connects_failed == 0);
  std::lock_guard lock(server.mu);
  CHECK(server.peer_keys.size() == 2);
}

TEST_CASE("udp transport: streams closed before the peer's FIN is read still end and free their buffers") {
  // echo_once reads the whole echo and lets the stream go; the echo server's FIN comes after. What
  // arrives for a released stream is read and dropped, so the stream ends on both sides instead of
  // holding its buffers until the connection closes (a stream per chunk would pile them up).
  EchoServer server;
  Client client;
  const transport::UdpEndpoint to{asio::ip::make_address("127.0.0.1"), server.port, server.keys.public_key};
  constexpr int rounds = 150;  // more than the 100 streams a peer may have open at once
  const int ok = client.run([](transport::UdpEndpoint to) -> asio::awaitable<int> {
    int good = 0;
    for (int i = 0; i < rounds; ++i)
      if (co_await echo_once(to, "request " + std::to_string(i) + std::string(20000, 'x')) ==
          "request " + std::to_string(i) + std::string(20000, 'x'))
        ++good;
    co_return good;
  }(to));
  CHECK(ok == rounds);
  // Let the last FINs arrive and their acknowledgements go (a generous bound, not a timing claim).
  for (int i = 0; i < 500 && client.host->open_streams() > 2; ++i)
    client.run([]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }());
  CHECK(client.host->open_streams() <= 2);
}

TEST_CASE("udp transport: without a pinned key the peer's key is learned (XX)") {
  EchoServer server;
  Client client;
  auto key = client.run([](std::uint16_t port) -> asio::awaitable<std::string> {
    auto s = co_await Udp::connect({asio::ip::make_address("127.0.0.1"), port}, std::nullopt);
    co_return Udp::remote_key(s);
  }(server.port));
  CHECK(key == secure::to_text(server.keys.public_key));
}

TEST_CASE("udp transport: a connect pinned to the wrong key fails with a clear error") {
  EchoServer server;
  Client client;
  const auto wrong = fresh_keys().public_key;
  auto error = client.run([](std::uint16_t port, secure::PublicKey k) -> asio::awaitable<std::string> {
    try {
      co_await Udp::connect({asio::ip::make_address("127.0.0.1"), port, k}, std::nullopt);
    } catch (const std::exception& e) {
      co_return std::string(e.what());
    }
    co_return std::string();
  }(server.port, wrong));
  CHECK(error.find("no answer from 127.0.0.1:" + std::to_string(server.port)) != std::string::npos);
}

TEST_CASE("udp transport: a connect to a port where nothing listens is refused at once") {
  Client client;
  // A port that was just free: bind, note it, close.
  std::uint16_t port = 0;
  {
    asio::io_context io;
    asio::ip::udp::socket probe(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  auto error = client.run([](std::uint16_t p) -> asio::awaitable<std::string> {
    try {
      co_await Udp::connect({asio::ip::make_address("127.0.0.1"), p}, std::nullopt);
    } catch (const std::exception& e) {
      co_return std::string(e.what());
    }
    co_return std::string();
  }(port));
  CHECK(error.find("connection refused by 127.0.0.1: nothing listens on UDP port " + std::to_string(port)) !=
        std::string::npos);
  // Refused by the first ICMP answer, not by running out of retries (which takes ~8 s).
  CHECK(client.host->endpoint_stats().connects_failed == 0);
}

namespace {

// A host on its own thread whose streams each start with one line saying what to do, then let the
// stream go (release) as that says:
//   "reply N"  write N pattern bytes, then release at once (the client's half not ended: stopped);
//   "sink N"   read N bytes, then release (the client may still be writing: stopped);
//   "flood"    write until a write fails, then release (the client releases first).
struct ReleaseServer {
  ReleaseServer()
      : keys(fresh_keys()),
        threaded(asio::ip::make_address("127.0.0.1"), options(keys),
                 [this](transport::UdpStream st) { return serve(std::move(st)); }),
        port(threaded.port) {}
  static transport::UdpOptions options(const secure::KeyPair& keys) {
    transport::UdpOptions o;
    o.identity = keys;
    return o;
  }
  transport::UdpEndpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), port, keys.public_key}; }
  // Streams the server's host still holds (asked on its own thread).
  std::size_t open_streams() {
    std::promise<std::size_t> p;
    asio::post(threaded.io, [&] { p.set_value(threaded.host->open_streams()); });
    return p.get_future().get();
  }
  asio::awaitable<void> serve(transport::UdpStream s) {
    asio::error_code ec;
    std::string line;
    std::vector<char> buf(65536);
    while (line.find('\n') == std::string::npos) {
      const std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      line.append(buf.data(), n);
    }
    std::size_t extra = line.size() - line.find('\n') - 1;
    line.resize(line.find('\n'));
    if (line.rfind("reply ", 0) == 0) {
      const std::string body = pattern(std::stoul(line.substr(6)), "REPLY");
      co_await asio::async_write(s, asio::buffer(body), asio::redirect_error(asio::use_awaitable, ec));
    } else if (line.rfind("sink ", 0) == 0) {
      for (std::size_t want = std::stoul(line.substr(5)); extra < want && !ec;)
        extra += co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    } else if (line == "flood") {
      const std::string chunk = pattern(65536, "FLOOD");
      std::size_t sent = 0;
      while (!ec && sent < (std::size_t{1} << 30))
        sent += co_await asio::async_write(s, asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
      std::lock_guard lock(mu);
      ++floods_ended;
      if (ec == asio::error::broken_pipe) ++floods_stopped;
    }
    // s goes out of scope here: released.
  }
  std::mutex mu;
  int floods_ended = 0;
  int floods_stopped = 0;  // ended by broken_pipe: the client's release stopped them
  secure::KeyPair keys;
  pdtp_test::ThreadedUdpHost threaded;  // last: its thread stops before the members above go
  std::uint16_t port;
};

// Runs `task` on the client's io_context, giving up after `limit` (a bound against a hang, not a
// timing claim): nullopt if it did not finish.
template <class T>
std::optional<T> run_for(Client& client, asio::awaitable<T> task, std::chrono::seconds limit) {
  auto f = asio::co_spawn(client.io, std::move(task), asio::use_future);
  client.io.restart();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    client.io.run_one_for(std::chrono::milliseconds(100));
  }
  return f.get();
}

// Reads until the end of the stream or an error; returns what came and the error that ended it.
asio::awaitable<std::pair<std::string, asio::error_code>> read_to_end(transport::UdpStream& s, std::size_t limit) {
  std::string got;
  std::vector<char> buf(65536);
  asio::error_code ec;
  while (!ec && got.size() < limit) {
    const std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    got.append(buf.data(), n);
  }
  co_return std::make_pair(got, ec);
}

void wait_for_streams_to_end(Client& client, ReleaseServer& server) {
  // Let the last FINs, resets and acknowledgements go (a generous bound, not a timing claim).
  for (int i = 0; i < 500 && (client.host->open_streams() > 0 || server.open_streams() > 0); ++i)
    client.run([]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
      co_await t.async_wait(asio::use_awaitable);
    }());
}

}  // namespace

TEST_CASE("udp transport: a writer into a stream its peer released gets an error instead of writing for ever") {
  ReleaseServer server;
  Client client;
  constexpr std::size_t limit = std::size_t{256} << 20;
  auto result = run_for(client, [](transport::UdpEndpoint to) -> asio::awaitable<std::pair<std::size_t, asio::error_code>> {
    auto s = co_await Udp::connect(to, std::nullopt);
    asio::error_code ec;
    const std::string request = "sink 1000\n";
    co_await asio::async_write(s, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
    const std::string chunk(65536, 'w');
    std::size_t written = 0;
    while (!ec && written < limit)
      written += co_await asio::async_write(s, asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
    co_return std::make_pair(written, ec);
  }(server.endpoint()), std::chrono::seconds(60));
  REQUIRE(result);
  CHECK(result->second == asio::error::broken_pipe);
  CHECK(result->first < limit);
  wait_for_streams_to_end(client, server);
  CHECK(client.host->open_streams() == 0);
  CHECK(server.open_streams() == 0);
}

TEST_CASE("udp transport: a reply written just before release still arrives whole") {
  ReleaseServer server;
  Client client;
  constexpr std::size_t size = 3 << 20;  // more than a stream's send buffer: much is unsent at release
  auto got = run_for(client, [](transport::UdpEndpoint to) -> asio::awaitable<std::pair<std::string, asio::error_code>> {
    auto s = co_await Udp::connect(to, std::nullopt);
    asio::error_code ec;
    // Our half stays open: the server releases before it ends, so it stops it (and we read on).
    const std::string request = "reply " + std::to_string(size) + "\n";
    co_await asio::async_write(s, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
    co_return co_await read_to_end(s, size + 1);
  }(server.endpoint()), std::chrono::seconds(60));
  REQUIRE(got);
  CHECK(got->second == asio::error::eof);
  CHECK(got->first.size() == size);
  CHECK(got->first == pattern(size, "REPLY"));
  wait_for_streams_to_end(client, server);
  CHECK(client.host->open_streams() == 0);
  CHECK(server.open_streams() == 0);
}

TEST_CASE("udp transport: 300 streams opened and released in turn on one connection all work (the stream credit comes back)") {
  ReleaseServer server;
  Client client;
  constexpr int rounds = 300;  // three times the 100 streams a peer may have open at once
  auto ok = run_for(client, [](transport::UdpEndpoint to) -> asio::awaitable<int> {
    int good = 0;
    for (int i = 0; i < rounds; ++i) {
      auto s = co_await Udp::connect(to, std::nullopt);
      asio::error_code ec;
      switch (i % 3) {
        case 0: {  // the server writes a reply and releases first; we read it all
          const std::string request = "reply 3000\n";
          co_await asio::async_write(s, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
          auto [got, end] = co_await read_to_end(s, 3001);
          if (!ec && end == asio::error::eof && got == pattern(3000, "REPLY")) ++good;
          break;
        }
        case 1: {  // the server floods; we read a little and release first
          const std::string request = "flood\n";
          co_await asio::async_write(s, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
          auto [got, end] = co_await read_to_end(s, 100000);
          if (!ec && !end && got.size() >= 100000) ++good;
          break;
        }
        default: {  // we write; the server reads a little and releases while we still write
          const std::string request = "sink 10\n" + std::string(200000, 's');
          co_await asio::async_write(s, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
          auto [got, end] = co_await read_to_end(s, 1);
          if (got.empty() && end == asio::error::eof) ++good;
          break;
        }
      }
      // s goes out of scope here: released.
    }
    co_return good;
  }(server.endpoint()), std::chrono::seconds(120));
  REQUIRE(ok);
  CHECK(*ok == rounds);
  CHECK(client.host->connection_count() == 1);
  wait_for_streams_to_end(client, server);
  CHECK(client.host->open_streams() == 0);
  CHECK(server.open_streams() == 0);
  std::lock_guard lock(server.mu);
  CHECK(server.floods_ended == rounds / 3);
  CHECK(server.floods_stopped == rounds / 3);
}
