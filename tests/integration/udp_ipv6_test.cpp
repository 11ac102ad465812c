// The UDP transport over IPv6 loopback (::1) and on dual-stack sockets: ICMPv6 refusals end a connect
// at once, and each end knows the address the peer reached (IPV6_PKTINFO); an IPv4 peer of a
// dual-stack socket is named in plain IPv4, as an IPv4 socket names it.
#include <catch2/catch.hpp>

#include <sodium.h>

#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pdtp/transport/udp.hpp"
#include "udp_test_host.hpp"

using namespace pdtp;
using transport::Udp;

namespace {

using pdtp_test::fresh_keys;

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

// Whether a UDP socket can be bound to `at` here (::1 needs IPv6 on the loopback interface).
bool can_bind(const asio::ip::address& at) {
  asio::io_context io;
  asio::ip::udp::socket s(io);
  asio::error_code ec;
  s.open(asio::ip::udp::endpoint(at, 0).protocol(), ec);
  if (!ec) s.bind({at, 0}, ec);
  return !ec;
}

bool ipv6_loopback() {
  if (can_bind(ip("::1"))) return true;
  WARN("SKIP: ::1 is not configured on this machine; the IPv6 UDP test is skipped");
  return false;
}

// A socket bound to :: takes IPv4 too unless the system makes IPv6 sockets IPv6-only.
bool dual_stack() {
  std::ifstream f("/proc/sys/net/ipv6/bindv6only");
  int only = 0;
  if (f >> only && only != 0) {
    WARN("SKIP: net.ipv6.bindv6only is set (no dual-stack sockets); the dual-stack test is skipped");
    return false;
  }
  return can_bind(ip("::")) && can_bind(ip("127.0.0.1"));
}

// A UDP port that was just free on `at`: bind, note it, close.
std::uint16_t free_port(const asio::ip::address& at) {
  asio::io_context io;
  asio::ip::udp::socket probe(io, asio::ip::udp::endpoint(at, 0));
  return probe.local_endpoint().port();
}

// What an accepting host saw of one stream.
struct Seen {
  std::string local_ip;
  std::string remote_ip;
};

// A host on its own thread bound to `at`, echoing every stream and noting its addresses.
struct EchoServer {
  explicit EchoServer(asio::ip::address at)
      : threaded(at, options(), [this](transport::UdpStream st) { return serve(std::move(st)); }), port(threaded.port) {}
  static transport::UdpOptions options() {
    transport::UdpOptions o;
    o.identity = fresh_keys();
    return o;
  }
  asio::awaitable<void> serve(transport::UdpStream st) {
    {
      std::lock_guard lock(mu);
      seen.push_back({Udp::local_ip(st), Udp::remote_ip(st)});
    }
    co_await pdtp_test::echo_stream(std::move(st));
  }
  std::vector<Seen> seen_now() {
    std::lock_guard lock(mu);
    return seen;
  }
  std::mutex mu;
  std::vector<Seen> seen;
  pdtp_test::ThreadedUdpHost threaded;  // last: its thread stops before the members above go
  std::uint16_t port;
};

// A host bound to `at` (or not bound at all: it binds on its first connect), driven on the test's thread.
struct Client {
  explicit Client(std::optional<asio::ip::address> at) {
    transport::UdpOptions o;
    o.identity = fresh_keys();
    host.emplace(io, o);
    if (at) host->bind({*at, 0});
  }
  template <class T>
  T run(asio::awaitable<T> task) {
    auto f = asio::co_spawn(io, std::move(task), asio::use_future);
    io.restart();
    while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    return f.get();
  }
  asio::io_context io;
  std::optional<transport::UdpHost> host;
};

// What one stream to `to` tells: our address as the peer reached it, and the echo of `data`.
struct Echoed {
  std::string local_ip;
  std::string echo;
};

asio::awaitable<Echoed> echo_once(transport::UdpEndpoint to, std::string data) {
  auto s = co_await Udp::connect(to, std::nullopt);
  Echoed out{Udp::local_ip(s), {}};
  asio::error_code ec;
  co_await asio::async_write(s, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return out;
  s.shutdown(asio::socket_base::shutdown_send, ec);
  std::vector<char> buf(65536);
  for (;;) {
    std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    out.echo.append(buf.data(), n);
  }
  co_return out;
}

asio::awaitable<std::string> connect_error(transport::UdpEndpoint to) {
  try {
    co_await Udp::connect(to, std::nullopt);
  } catch (const std::exception& e) {
    co_return std::string(e.what());
  }
  co_return std::string();
}

std::string some_bytes() {
  std::string s;
  for (int i = 0; i < 200000; ++i) s.push_back(static_cast<char>(i * 7 + i / 251));
  return s;
}

}  // namespace

TEST_CASE("udp over IPv6: a connect to a ::1 port where nothing listens is refused at once") {
  if (!ipv6_loopback()) return;
  Client client(ip("::1"));
  const std::uint16_t port = free_port(ip("::1"));
  const std::string error = client.run(connect_error({ip("::1"), port}));
  CHECK(error.find("connection refused by ::1: nothing listens on UDP port " + std::to_string(port)) !=
        std::string::npos);
  // Refused by the first ICMPv6 answer (IPV6_RECVERR), not by running out of retries.
  CHECK(client.host->endpoint_stats().connects_failed == 0);
}

TEST_CASE("udp over IPv6: a stream between two hosts on ::1 reports ::1 as the local address at both ends") {
  if (!ipv6_loopback()) return;
  // Both bound to any address: only the datagrams' destination (IPV6_PKTINFO) can tell ::1.
  EchoServer server(ip("::"));
  Client client(ip("::"));
  const std::string data = some_bytes();
  const Echoed got = client.run(echo_once({ip("::1"), server.port}, data));
  CHECK(got.echo == data);
  CHECK(got.local_ip == "::1");
  const auto seen = server.seen_now();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].local_ip == "::1");
  CHECK(seen[0].remote_ip == "::1");
}

TEST_CASE("udp over IPv6: a dual-stack host names an IPv4 peer, and itself as that peer reached it, in plain IPv4") {
  if (!dual_stack()) return;
  EchoServer server(ip("::"));
  Client client(ip("::"));
  const std::string data = some_bytes();
  const Echoed got = client.run(echo_once({ip("127.0.0.1"), server.port}, data));
  CHECK(got.echo == data);
  CHECK(got.local_ip == "127.0.0.1");
  const auto seen = server.seen_now();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].local_ip == "127.0.0.1");
  CHECK(seen[0].remote_ip == "127.0.0.1");
}

TEST_CASE("udp over IPv6: a dual-stack host's connect to an IPv4 port where nothing listens is refused at once") {
  if (!dual_stack()) return;
  Client client(ip("::"));
  const std::uint16_t port = free_port(ip("127.0.0.1"));
  const std::string error = client.run(connect_error({ip("127.0.0.1"), port}));
  CHECK(error.find("connection refused by 127.0.0.1: nothing listens on UDP port " + std::to_string(port)) !=
        std::string::npos);
  CHECK(client.host->endpoint_stats().connects_failed == 0);
}

TEST_CASE("udp over IPv6: a host not bound yet binds an IPv6 socket for its first connect to ::1") {
  if (!ipv6_loopback()) return;
  EchoServer server(ip("::1"));
  Client client(std::nullopt);
  const std::string data = some_bytes();
  const Echoed got = client.run(echo_once({ip("::1"), server.port}, data));
  CHECK(got.echo == data);
  CHECK(got.local_ip == "::1");
}
