// Plain TCP transport: PDTP v2 control connections and peer HTTP, wire-compatible with the original.
// A transport gives the runtimes reliable ordered byte streams; see concept.hpp.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include <asio.hpp>

namespace pdtp::transport {

struct Tcp {
  using stream = asio::ip::tcp::socket;
  using acceptor = asio::ip::tcp::acceptor;
  using endpoint = asio::ip::tcp::endpoint;
  static constexpr std::string_view name = "tcp";

  static acceptor listen(const asio::any_io_executor& ex, const endpoint& at) {
    acceptor a(ex);
    a.open(at.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    a.bind(at);
    a.listen(asio::socket_base::max_listen_connections);
    return a;
  }

  // Connect to `to`, from `from` when given (a peer bound to one address uses it for every socket,
  // so the address the server saw is the address other peers see).
  static asio::awaitable<stream> connect(endpoint to, std::optional<asio::ip::address> from) {
    stream s(co_await asio::this_coro::executor);
    s.open(to.protocol());
    if (from) {
      // Let connect() pick the port (per destination), not bind(): bind(addr, 0) needs a port free
      // towards every destination and runs out under many short transfers.
      int one = 1;
      ::setsockopt(s.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      s.bind(endpoint(*from, 0));
    }
    co_await s.async_connect(to, asio::use_awaitable);
    s.set_option(asio::ip::tcp::no_delay(true));
    co_return s;
  }

  static void prepare_accepted(stream& s) {
    asio::error_code ignored;  // a peer that already left shows up on the first read
    s.set_option(asio::ip::tcp::no_delay(true), ignored);
  }

  static std::string remote_ip(const stream& s) {
    asio::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string() : ep.address().to_string();
  }
  static std::string local_ip(const stream& s) {
    asio::error_code ec;
    auto ep = s.local_endpoint(ec);
    return ec ? std::string() : ep.address().to_string();
  }
};

}  // namespace pdtp::transport
