// What a completed handshake hands to the transport phase: the session's keys, indices, suite and
// the peer's authenticated identity, plus the application bytes the peer sent along.
#pragma once

#include <cstdint>
#include <string_view>

#include "pdtp/result.hpp"
#include "pdtp/secure/aead.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/secure/noise.hpp"

namespace pdtp::secure {

inline constexpr std::string_view default_prologue = "pdtp udp v1";

// Everything the transport phase needs from a completed handshake.
struct SessionKeys {
  Role role = Role::initiator;
  Pattern pattern = Pattern::xx;
  Suite suite = Suite::chacha20_poly1305;
  AeadKey send_key;
  AeadKey receive_key;
  std::uint32_t local_index = 0;   // the receiver index the peer puts on packets to us
  std::uint32_t remote_index = 0;  // the receiver index we put on packets to the peer
  PublicKey remote_static;         // the peer's authenticated identity
  detail::Hash handshake_hash{};   // unique to this session (channel binding)
};

struct Established {
  SessionKeys keys;
  Bytes peer_payload;  // the application bytes the peer sent in the handshake
};

inline Result<PacketProtector> make_protector(const SessionKeys& keys, KeyLimits limits = {}) {
  return PacketProtector::create(keys.suite, keys.send_key, keys.receive_key, limits);
}

namespace detail {
inline SessionKeys session_keys(const HandshakeState& hs, Suite suite, std::uint32_t local, std::uint32_t remote) {
  SessionKeys k;
  auto t = hs.split();  // only called on a finished state
  k.role = hs.role();
  k.pattern = hs.pattern();
  k.suite = suite;
  k.send_key = t->send.key();
  k.receive_key = t->receive.key();
  k.local_index = local;
  k.remote_index = remote;
  k.remote_static = *hs.remote_static();
  k.handshake_hash = hs.handshake_hash();
  return k;
}

inline bool single_suite(SuiteSet s) noexcept {
  return s == static_cast<SuiteSet>(Suite::chacha20_poly1305) || s == static_cast<SuiteSet>(Suite::aes256_gcm);
}
}  // namespace detail

}  // namespace pdtp::secure
