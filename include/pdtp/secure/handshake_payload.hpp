// What every handshake message carries as its Noise payload (so it is encrypted, or at least bound
// into the transcript, like everything Noise carries):
//   suites u8 | sender index u32 | application length u16 | application bytes | zero padding
// `suites` is the initiator's offer in message 1 and the responder's single choice in message 2 (the
// initiator repeats the choice in XX message 3). The sender index repeats the cleartext header's, so
// a changed header is detected. Padding lets an initiation be as large as the reply it asks for.
#pragma once

#include <cstdint>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/secure/aead.hpp"
#include "pdtp/secure/detail/bytes.hpp"

namespace pdtp::secure {

inline constexpr std::size_t handshake_payload_header = 7;
inline constexpr std::size_t max_handshake_application = 60000;  // keeps any message under Noise's 65535

struct HandshakePayload {
  SuiteSet suites = 0;
  std::uint32_t sender_index = 0;
  Bytes application;
};

// At least `min_size` bytes long (zero padding after the application bytes).
inline Bytes encode_handshake_payload(SuiteSet suites, std::uint32_t sender_index, ByteView application,
                                      std::size_t min_size = 0) {
  Bytes out(handshake_payload_header + application.size(), 0);
  out[0] = suites;
  detail::put_u32be(out.data() + 1, sender_index);
  detail::put_u16be(out.data() + 5, static_cast<std::uint16_t>(application.size()));
  std::copy(application.begin(), application.end(), out.begin() + handshake_payload_header);
  if (out.size() < min_size) out.resize(min_size, 0);
  return out;
}

inline Result<HandshakePayload> decode_handshake_payload(ByteView p) {
  if (p.size() < handshake_payload_header)
    return Error{Errc::bad_field, "handshake payload of " + std::to_string(p.size()) + " bytes is shorter than its 7-byte header"};
  const std::size_t len = detail::get_u16be(p.data() + 5);
  if (len > p.size() - handshake_payload_header)
    return Error{Errc::bad_field, "handshake payload: application length " + std::to_string(len) + " exceeds the " +
                                      std::to_string(p.size() - handshake_payload_header) + " bytes present"};
  if (!detail::all_zero(p.subspan(handshake_payload_header + len)))
    return Error{Errc::bad_field, "handshake payload: padding is not all zero"};
  HandshakePayload out;
  out.suites = p[0];
  out.sender_index = detail::get_u32be(p.data() + 1);
  out.application.assign(p.begin() + handshake_payload_header,
                         p.begin() + static_cast<std::ptrdiff_t>(handshake_payload_header + len));
  return out;
}

}  // namespace pdtp::secure
