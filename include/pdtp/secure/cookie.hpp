// Cookies: a responder under load answers an initiation with a cookie instead of doing DH work, and
// only processes initiations whose mac2 proves the sender received that cookie at its claimed address.
//   cookie = BLAKE2b-128 keyed with a secret that changes every 120 s, over the initiator's address
// The address is whatever bytes the runtime uses to name the sender (IP and port). The reply seals the
// cookie with XChaCha20-Poly1305 under a key derived from the responder's public key (anonymous for XX)
// with the initiation's mac1 as associated data, so only the real initiator can read it and a forged
// reply cannot plant a cookie. The previous secret stays valid for one more period so cookies issued
// just before a rotation still work.
#pragma once

#include <sodium.h>

#include <chrono>
#include <optional>
#include <string>

#include "pdtp/core/time.hpp"
#include "pdtp/result.hpp"
#include "pdtp/secure/detail/bytes.hpp"
#include "pdtp/secure/handshake_packets.hpp"
#include "pdtp/secure/keys.hpp"

namespace pdtp::secure {

using core::Duration;
using core::TimePoint;

inline constexpr Duration cookie_secret_lifetime = std::chrono::seconds(120);  // WireGuard's CookieRefreshTime
inline constexpr Duration cookie_usable_for = std::chrono::seconds(120);

// Responder side: makes cookies and checks mac2.
class CookieChecker {
 public:
  CookieChecker(const PublicKey& responder_static, RandomBytes random)
      : key_ik_(cookie_key(&responder_static)), key_xx_(cookie_key(nullptr)), random_(std::move(random)) {
    ensure_sodium();
  }

  Cookie cookie_for(TimePoint now, ByteView address) {
    rotate(now);
    return detail::blake2b_mac(current_.view(), address);
  }

  bool mac2_valid(TimePoint now, ByteView address, const HandshakeDatagram& h) {
    rotate(now);
    if (secure::mac2_valid(h, detail::blake2b_mac(current_.view(), address))) return true;
    return have_previous_ && secure::mac2_valid(h, detail::blake2b_mac(previous_.view(), address));
  }

  // The 64-byte cookie reply to an initiation (never larger than the initiation it answers).
  Bytes make_reply(TimePoint now, ByteView address, const HandshakeDatagram& initiation) {
    const Cookie cookie = cookie_for(now, address);
    Bytes d(cookie_reply_size, 0);
    d[0] = static_cast<std::uint8_t>(HandshakeType::cookie);
    detail::put_u32be(d.data() + 4, initiation.sender_index);
    random_(MutableByteView(d.data() + 8, cookie_nonce_size));
    const MacKey& key = initiation.kind == HandshakeKind::ik_initiation ? key_ik_ : key_xx_;
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(d.data() + 8 + cookie_nonce_size, &written, cookie.data(), cookie.size(),
                                               initiation.mac1.data(), initiation.mac1.size(), nullptr, d.data() + 8,
                                               key.data());
    return d;
  }

 private:
  void rotate(TimePoint now) {
    if (have_current_ && now - current_since_ < cookie_secret_lifetime) return;
    have_previous_ = have_current_ && now - current_since_ < 2 * cookie_secret_lifetime;
    previous_ = current_;
    random_(current_.mutable_view());
    have_current_ = true;
    current_since_ = now;
  }

  MacKey key_ik_;
  MacKey key_xx_;
  RandomBytes random_;
  SecretBytes<32> current_;
  SecretBytes<32> previous_;
  bool have_current_ = false;
  bool have_previous_ = false;
  TimePoint current_since_{};
};

// Initiator side: keeps the last cookie received, for mac2 on the next initiation.
class CookieJar {
 public:
  // `mac1_sent` is the mac1 of our initiation; `responder_static` is null for an XX initiation.
  Status accept(TimePoint now, const HandshakeDatagram& reply, const Mac& mac1_sent, const PublicKey* responder_static) {
    if (reply.kind != HandshakeKind::cookie_reply || reply.sealed_cookie.size() != mac_size + detail::tag_len)
      return Error{Errc::bad_field, "not a cookie reply"};
    const MacKey key = cookie_key(responder_static);
    Cookie cookie{};
    unsigned long long written = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie.data(), &written, nullptr, reply.sealed_cookie.data(),
                                                   reply.sealed_cookie.size(), mac1_sent.data(), mac1_sent.size(),
                                                   reply.cookie_nonce.data(), key.data()) != 0)
      return Error{Errc::decrypt_failed, "cookie reply does not decrypt: it does not answer our initiation"};
    cookie_ = cookie;
    received_ = now;
    return Ok{};
  }

  std::optional<Cookie> current(TimePoint now) const {
    if (cookie_ && now - received_ < cookie_usable_for) return cookie_;
    return std::nullopt;
  }

 private:
  std::optional<Cookie> cookie_;
  TimePoint received_{};
};

}  // namespace pdtp::secure
