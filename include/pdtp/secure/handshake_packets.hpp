// Wire format of handshake datagrams. First byte 0x01-0x03 (the rudp layer owns the other values).
// All integers big-endian. Indices are the 32-bit receiver ids rudp routes by; 0 means "none".
//
//   initiation (0x01):  type | pattern (1 = IK, 2 = XX) | 0x0000 | sender index u32 | Noise message 1 | mac1 | mac2
//   reply      (0x02):  type | message (2 = response, 3 = XX finish) | 0x0000 | sender index u32
//                       | receiver index u32 | Noise message 2 or 3 | mac1 | mac2
//   cookie     (0x03):  type | 0x00 | 0x0000 | receiver index u32 | nonce (24) | sealed cookie (16 + 16)   = 64 bytes
//
// mac1 = BLAKE2b-128 keyed with BLAKE2b-256("pdtp mac1 v1" || K) over every byte before mac1, where K is
// the receiver's static public key when the sender knows it, else 32 zero bytes ("anonymous"). A receiver
// checks mac1 before any DH, so junk and datagrams for another key cost it one hash.
// mac2 = BLAKE2b-128 keyed with a cookie over every byte before mac2, or 16 zero bytes without a cookie.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/secure/detail/bytes.hpp"
#include "pdtp/secure/detail/crypto.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/secure/noise.hpp"

namespace pdtp::secure {

enum class HandshakeType : std::uint8_t { initiation = 0x01, reply = 0x02, cookie = 0x03 };

enum class HandshakeKind : std::uint8_t {
  ik_initiation,  // Noise IK message 1
  xx_initiation,  // Noise XX message 1
  response,       // Noise message 2 (IK or XX), responder -> initiator
  finish,         // Noise XX message 3, initiator -> responder
  cookie_reply,   // the responder is under load: retry with this cookie in mac2
};

using Mac = detail::Mac;
using Cookie = detail::Mac;  // 16 bytes
using MacKey = std::array<std::uint8_t, 32>;

inline constexpr std::size_t mac_size = 16;
inline constexpr std::size_t initiation_header_size = 8;
inline constexpr std::size_t reply_header_size = 12;
inline constexpr std::size_t cookie_nonce_size = 24;
inline constexpr std::size_t cookie_reply_size = 8 + cookie_nonce_size + mac_size + detail::tag_len;  // 64

inline bool is_handshake_datagram(ByteView datagram) noexcept {
  return !datagram.empty() && datagram[0] >= 0x01 && datagram[0] <= 0x03;
}

// The key for mac1 on datagrams sent to the holder of `receiver_static` (nullptr: anonymous).
inline MacKey mac1_key(const PublicKey* receiver_static) noexcept {
  const PublicKey zero{};
  return detail::blake2b_derive("pdtp mac1 v1", (receiver_static ? *receiver_static : zero).view());
}

// The key that seals cookie replies for initiations sent to `responder_static` (nullptr: anonymous, XX).
inline MacKey cookie_key(const PublicKey* responder_static) noexcept {
  const PublicKey zero{};
  return detail::blake2b_derive("pdtp cookie v1", (responder_static ? *responder_static : zero).view());
}

// A parsed handshake datagram; the views point into the datagram it came from.
struct HandshakeDatagram {
  HandshakeKind kind = HandshakeKind::ik_initiation;
  std::uint32_t sender_index = 0;    // initiation, response, finish
  std::uint32_t receiver_index = 0;  // response, finish, cookie reply
  ByteView noise;                    // the Noise message (initiation, response, finish)
  ByteView before_mac1;              // the bytes mac1 covers
  ByteView before_mac2;              // the bytes mac2 covers
  Mac mac1{};
  Mac mac2{};
  std::array<std::uint8_t, cookie_nonce_size> cookie_nonce{};  // cookie reply
  ByteView sealed_cookie;                                       // cookie reply: 16 bytes + 16-byte tag
};

namespace detail {
// The least Noise message each kind can carry (keys and tags, empty payload).
inline std::size_t min_noise_size(HandshakeKind k) noexcept {
  switch (k) {
    case HandshakeKind::ik_initiation: return 32 + 48 + 16;
    case HandshakeKind::xx_initiation: return 32;
    case HandshakeKind::response: return 32 + 16;  // IK; XX's is longer (96)
    case HandshakeKind::finish: return 48 + 16;
    case HandshakeKind::cookie_reply: return 0;
  }
  return 0;
}
}  // namespace detail

inline Result<HandshakeDatagram> parse_handshake(ByteView d) {
  if (!is_handshake_datagram(d))
    return Error{Errc::unknown_type, d.empty() ? std::string("empty datagram")
                                               : "datagram type " + std::to_string(d[0]) + " is not a handshake"};
  if (d.size() < 8)
    return Error{Errc::bad_field, "handshake datagram of " + std::to_string(d.size()) + " bytes is shorter than its 8-byte header"};
  if (d[2] != 0 || d[3] != 0) return Error{Errc::bad_field, "handshake header: reserved bytes 2-3 are not zero"};
  HandshakeDatagram h;
  const auto type = static_cast<HandshakeType>(d[0]);
  if (type == HandshakeType::cookie) {
    if (d[1] != 0) return Error{Errc::bad_field, "cookie reply: byte 1 is not zero"};
    if (d.size() != cookie_reply_size)
      return Error{Errc::bad_field, "cookie reply of " + std::to_string(d.size()) + " bytes; it is exactly 64"};
    h.kind = HandshakeKind::cookie_reply;
    h.receiver_index = detail::get_u32be(d.data() + 4);
    std::copy_n(d.begin() + 8, cookie_nonce_size, h.cookie_nonce.begin());
    h.sealed_cookie = d.subspan(8 + cookie_nonce_size);
    if (h.receiver_index == 0) return Error{Errc::bad_field, "cookie reply: receiver index is 0"};
    return h;
  }
  std::size_t header = initiation_header_size;
  if (type == HandshakeType::initiation) {
    if (d[1] == 1) h.kind = HandshakeKind::ik_initiation;
    else if (d[1] == 2) h.kind = HandshakeKind::xx_initiation;
    else return Error{Errc::bad_field, "initiation: pattern byte " + std::to_string(d[1]) + " is neither 1 (IK) nor 2 (XX)"};
  } else {
    if (d[1] == 2) h.kind = HandshakeKind::response;
    else if (d[1] == 3) h.kind = HandshakeKind::finish;
    else return Error{Errc::bad_field, "reply: message byte " + std::to_string(d[1]) + " is neither 2 nor 3"};
    header = reply_header_size;
  }
  const std::size_t min = header + detail::min_noise_size(h.kind) + 2 * mac_size;
  if (d.size() < min)
    return Error{Errc::bad_field, "handshake datagram of " + std::to_string(d.size()) + " bytes is shorter than the " +
                                      std::to_string(min) + " its kind needs"};
  if (d.size() - header - 2 * mac_size > max_noise_message)
    return Error{Errc::bad_field, "handshake datagram carries more than 65535 bytes of Noise message"};
  h.sender_index = detail::get_u32be(d.data() + 4);
  if (h.sender_index == 0) return Error{Errc::bad_field, "handshake datagram: sender index is 0"};
  if (header == reply_header_size) {
    h.receiver_index = detail::get_u32be(d.data() + 8);
    if (h.receiver_index == 0) return Error{Errc::bad_field, "handshake reply: receiver index is 0"};
  }
  const std::size_t mac1_at = d.size() - 2 * mac_size;
  h.noise = d.subspan(header, mac1_at - header);
  h.before_mac1 = d.first(mac1_at);
  h.before_mac2 = d.first(mac1_at + mac_size);
  std::copy_n(d.begin() + static_cast<std::ptrdiff_t>(mac1_at), mac_size, h.mac1.begin());
  std::copy_n(d.begin() + static_cast<std::ptrdiff_t>(mac1_at + mac_size), mac_size, h.mac2.begin());
  return h;
}

inline bool mac1_valid(const HandshakeDatagram& h, const MacKey& key) noexcept {
  const Mac expect = detail::blake2b_mac(ByteView(key.data(), key.size()), h.before_mac1);
  return detail::equal_ct(ByteView(expect.data(), expect.size()), ByteView(h.mac1.data(), h.mac1.size()));
}

inline bool mac2_valid(const HandshakeDatagram& h, const Cookie& cookie) noexcept {
  const Mac expect = detail::blake2b_mac(ByteView(cookie.data(), cookie.size()), h.before_mac2);
  return detail::equal_ct(ByteView(expect.data(), expect.size()), ByteView(h.mac2.data(), h.mac2.size()));
}

// (Re)computes mac2 of a built datagram, e.g. to resend an initiation once a cookie arrived.
inline void set_mac2(Bytes& datagram, const std::optional<Cookie>& cookie) noexcept {
  const std::size_t at = datagram.size() - mac_size;
  Mac m{};
  if (cookie) m = detail::blake2b_mac(ByteView(cookie->data(), cookie->size()), ByteView(datagram.data(), at));
  std::copy(m.begin(), m.end(), datagram.begin() + static_cast<std::ptrdiff_t>(at));
}

struct HandshakeHeader {
  HandshakeKind kind = HandshakeKind::ik_initiation;
  std::uint32_t sender_index = 0;
  std::uint32_t receiver_index = 0;  // response and finish only
};

// Builds an initiation, response or finish around a Noise message; mac1 keyed with `key`.
inline Bytes build_handshake(const HandshakeHeader& hdr, ByteView noise, const MacKey& key,
                             const std::optional<Cookie>& cookie = std::nullopt) {
  const bool initiation = hdr.kind == HandshakeKind::ik_initiation || hdr.kind == HandshakeKind::xx_initiation;
  const std::size_t header = initiation ? initiation_header_size : reply_header_size;
  Bytes d(header + noise.size() + 2 * mac_size, 0);
  d[0] = static_cast<std::uint8_t>(initiation ? HandshakeType::initiation : HandshakeType::reply);
  switch (hdr.kind) {
    case HandshakeKind::ik_initiation: d[1] = 1; break;
    case HandshakeKind::xx_initiation: d[1] = 2; break;
    case HandshakeKind::response: d[1] = 2; break;
    case HandshakeKind::finish: d[1] = 3; break;
    case HandshakeKind::cookie_reply: break;
  }
  detail::put_u32be(d.data() + 4, hdr.sender_index);
  if (!initiation) detail::put_u32be(d.data() + 8, hdr.receiver_index);
  std::copy(noise.begin(), noise.end(), d.begin() + static_cast<std::ptrdiff_t>(header));
  const std::size_t mac1_at = header + noise.size();
  const Mac m1 = detail::blake2b_mac(ByteView(key.data(), key.size()), ByteView(d.data(), mac1_at));
  std::copy(m1.begin(), m1.end(), d.begin() + static_cast<std::ptrdiff_t>(mac1_at));
  set_mac2(d, cookie);
  return d;
}

// The mac1 field of a built datagram (cookie replies are bound to it).
inline Mac mac1_of(ByteView datagram) noexcept {
  Mac m{};
  if (datagram.size() >= 2 * mac_size)
    std::copy_n(datagram.end() - 2 * static_cast<std::ptrdiff_t>(mac_size), mac_size, m.begin());
  return m;
}

}  // namespace pdtp::secure
