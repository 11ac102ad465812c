// Cleartext packet header: type, receiver's connection id, packet number. 13 bytes, big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/rudp/detail/bytes.hpp"
#include "pdtp/rudp/types.hpp"
#include "pdtp/rudp/varint.hpp"

namespace pdtp::rudp {

// First byte of every datagram. 0x01-0x03 belong to the secure layer's handshake (not decoded here).
enum class PacketType : std::uint8_t {
  data = 0x04,          // protected payload of frames
  test_connect = 0xF0,  // NullProtection-only connect exchange for tests and simulations
  test_accept = 0xF1,
};

inline constexpr std::size_t header_size = 13;
// Receivers accept any UDP payload size; senders stay within Config::max_datagram_size.
inline constexpr std::size_t max_udp_payload = 65527;
inline constexpr std::size_t min_datagram_size = 1200;

struct PacketHeader {
  PacketType type = PacketType::data;
  ConnectionId receiver = no_connection;
  PacketNumber number = 0;
  friend bool operator==(const PacketHeader&, const PacketHeader&) = default;
};

inline bool is_known_packet_type(std::uint8_t t) noexcept {
  return t == static_cast<std::uint8_t>(PacketType::data) || t == static_cast<std::uint8_t>(PacketType::test_connect) ||
         t == static_cast<std::uint8_t>(PacketType::test_accept);
}

inline std::array<std::uint8_t, header_size> encode_header(const PacketHeader& h) noexcept {
  std::array<std::uint8_t, header_size> out{};
  detail::Writer w(out);
  w.u8(static_cast<std::uint8_t>(h.type));
  w.u32be(to_u32(h.receiver));
  w.u64be(h.number);
  return out;
}

// Decodes the header at the start of a datagram. Packet numbers above 2^62-1 are refused (ACK frames
// carry them as varints).
inline Result<PacketHeader> decode_header(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < header_size)
    return Error{Errc::incomplete, "packet header needs 13 bytes, datagram has " + std::to_string(datagram.size())};
  detail::Reader r(datagram);
  const std::uint8_t type = *r.u8();
  if (!is_known_packet_type(type))
    return Error{Errc::unknown_type, "packet type " + std::to_string(type) + " is not a rudp packet"};
  PacketHeader h;
  h.type = static_cast<PacketType>(type);
  h.receiver = ConnectionId{*r.u32be()};
  h.number = *r.u64be();
  if (h.number > max_varint)
    return Error{Errc::bad_field, "packet number " + std::to_string(h.number) + " exceeds 2^62-1"};
  return h;
}

}  // namespace pdtp::rudp
