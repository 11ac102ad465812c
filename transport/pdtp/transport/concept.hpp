// The transport concept the server and client runtimes are written against: reliable, ordered byte
// streams between endpoints (plain TCP today; encrypted reliable UDP streams plug in the same way).
#pragma once

#include <concepts>
#include <optional>
#include <string>

#include <asio.hpp>

namespace pdtp::transport {

template <class T>
concept StreamTransport = requires(const typename T::stream& cs, typename T::stream& s,
                                   const asio::any_io_executor& ex, const typename T::endpoint& ep) {
  { T::listen(ex, ep) } -> std::same_as<typename T::acceptor>;
  { T::connect(ep, std::optional<asio::ip::address>{}) } -> std::same_as<asio::awaitable<typename T::stream>>;
  { T::remote_ip(cs) } -> std::convertible_to<std::string>;
  { T::local_ip(cs) } -> std::convertible_to<std::string>;
  T::prepare_accepted(s);
  s.close();
};

}  // namespace pdtp::transport
