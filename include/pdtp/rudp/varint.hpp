// Variable-length integers as QUIC encodes them: the top two bits of the first byte give the length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/rudp/detail/bytes.hpp"

namespace pdtp::rudp {

inline constexpr std::uint64_t max_varint = (std::uint64_t{1} << 62) - 1;

// Bytes the shortest encoding of `v` takes (1, 2, 4 or 8); v must be <= max_varint.
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  if (v < (1u << 6)) return 1;
  if (v < (1u << 14)) return 2;
  if (v < (std::uint64_t{1} << 30)) return 4;
  return 8;
}

// Writes the shortest encoding; values above max_varint are clamped by the caller's contract (asserted by size).
inline void write_varint(detail::Writer& w, std::uint64_t v) noexcept {
  switch (varint_size(v)) {
    case 1: w.u8(static_cast<std::uint8_t>(v)); break;
    case 2:
      w.u8(static_cast<std::uint8_t>(0x40 | (v >> 8)));
      w.u8(static_cast<std::uint8_t>(v));
      break;
    case 4: w.u32be(static_cast<std::uint32_t>(v) | 0x80000000u); break;
    default: w.u64be((v & max_varint) | 0xC000000000000000ull); break;
  }
}

// Non-shortest encodings are accepted (as QUIC does); `what` names the field in the error.
inline Result<std::uint64_t> read_varint(detail::Reader& r, const char* what) {
  auto first = r.peek_u8();
  if (!first) return Error{Errc::incomplete, std::string(what) + ": missing (datagram ends)"};
  const std::size_t len = std::size_t{1} << (*first >> 6);
  if (r.remaining() < len)
    return Error{Errc::incomplete, std::string(what) + ": varint needs " + std::to_string(len) +
                                       " bytes, " + std::to_string(r.remaining()) + " left"};
  auto b = *r.bytes(len);
  std::uint64_t v = b[0] & 0x3Fu;
  for (std::size_t i = 1; i < len; ++i) v = (v << 8) | b[i];
  return v;
}

}  // namespace pdtp::rudp
