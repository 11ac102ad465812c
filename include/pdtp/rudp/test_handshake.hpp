// A stand-in for the secure handshake, for tests and simulations over NullProtection only:
// CONNECT carries the client's connection id, ACCEPT answers with the server's. No keys, no
// authentication: never expose it on a real network (the endpoint accepts it only when told to).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pdtp/rudp/detail/bytes.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// CONNECT: header{test_connect, receiver 0, pn 0} + client id (u32), zero-padded to 1200 bytes so a
// server never answers more bytes than it received. ACCEPT: header{test_accept, receiver = client id,
// pn 0} + server id (u32).
inline std::vector<std::uint8_t> encode_test_packet(PacketType type, ConnectionId receiver, ConnectionId sender) {
  std::vector<std::uint8_t> out(type == PacketType::test_connect ? min_datagram_size : header_size + 4, 0);
  detail::Writer w(out);
  const auto h = encode_header(PacketHeader{type, receiver, 0});
  w.bytes(h);
  w.u32be(to_u32(sender));
  return out;
}

// The sender's id carried by a CONNECT or ACCEPT datagram whose header was already decoded.
inline std::optional<ConnectionId> decode_test_sender(std::span<const std::uint8_t> datagram) {
  detail::Reader r(datagram);
  r.skip(header_size);
  auto id = r.u32be();
  if (!id || *id == 0) return std::nullopt;
  return ConnectionId{*id};
}

}  // namespace pdtp::rudp
