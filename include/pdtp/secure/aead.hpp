// Packet protection for the transport phase: one AEAD key per direction (from the handshake's Split()),
// the 64-bit packet number as the nonce, the cleartext packet header as associated data.
// AES-256-GCM where the CPU has AES-NI (about 1.7x faster here, with the key schedule precomputed once),
// ChaCha20-Poly1305-IETF otherwise; the two ends agree on one suite during the handshake.
// Nonce layout (12 bytes): 4 zero bytes, then the packet number, little-endian for ChaCha20-Poly1305 and
// big-endian for AES-256-GCM (the same layouts Noise uses for ChaChaPoly and AESGCM).
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/secure/detail/bytes.hpp"
#include "pdtp/secure/detail/crypto.hpp"
#include "pdtp/secure/noise.hpp"
#include "pdtp/secure/rekey.hpp"
#include "pdtp/secure/replay.hpp"
#include "pdtp/secure/sodium.hpp"

namespace pdtp::secure {

// Suites as bits, so an offer can name several.
enum class Suite : std::uint8_t { chacha20_poly1305 = 0x01, aes256_gcm = 0x02 };
using SuiteSet = std::uint8_t;

inline constexpr std::size_t aead_overhead = detail::tag_len;

inline constexpr std::string_view suite_name(Suite s) noexcept {
  return s == Suite::aes256_gcm ? "AES-256-GCM" : "ChaCha20-Poly1305";
}

inline bool aes256gcm_available() noexcept {
  ensure_sodium();
  return crypto_aead_aes256gcm_is_available() == 1;
}

// What this machine can run: ChaCha20-Poly1305 always, AES-256-GCM with hardware support.
inline SuiteSet local_suites() noexcept {
  return static_cast<SuiteSet>(static_cast<SuiteSet>(Suite::chacha20_poly1305) |
                               (aes256gcm_available() ? static_cast<SuiteSet>(Suite::aes256_gcm) : 0));
}

// The responder's choice: AES-256-GCM if both ends have it, else ChaCha20-Poly1305 (always offered).
inline Result<Suite> choose_suite(SuiteSet initiator_offer, SuiteSet responder_supports) {
  const SuiteSet both = initiator_offer & responder_supports;
  if (both & static_cast<SuiteSet>(Suite::aes256_gcm)) return Suite::aes256_gcm;
  if (both & static_cast<SuiteSet>(Suite::chacha20_poly1305)) return Suite::chacha20_poly1305;
  return Error{Errc::unsupported, "no common cipher suite: initiator offers 0x" +
                                      detail::to_hex(ByteView(&initiator_offer, 1)) + ", responder supports 0x" +
                                      detail::to_hex(ByteView(&responder_supports, 1))};
}

// One direction's key. Seals or opens a packet in place: `buffer` is the payload followed by 16 bytes
// (the tag's room when sealing, the tag when opening).
class PacketKey {
 public:
  static Result<PacketKey> create(Suite suite, const AeadKey& key) {
    ensure_sodium();
    if (suite == Suite::aes256_gcm && !aes256gcm_available())
      return Error{Errc::unsupported, "AES-256-GCM was negotiated but this CPU lacks AES-NI/PCLMUL"};
    if (suite != Suite::aes256_gcm && suite != Suite::chacha20_poly1305)
      return Error{Errc::unsupported, "unknown cipher suite " + std::to_string(static_cast<int>(suite))};
    return PacketKey(suite, key);
  }

  Suite suite() const noexcept { return suite_; }

  Status seal_in_place(std::uint64_t pn, ByteView header, MutableByteView buffer) const {
    if (buffer.size() < aead_overhead)
      return Error{Errc::bad_field, "seal buffer of " + std::to_string(buffer.size()) + " bytes has no room for the tag"};
    const std::size_t len = buffer.size() - aead_overhead;
    const auto nonce = make_nonce(pn);
    unsigned long long tag_len = 0;
    if (suite_ == Suite::aes256_gcm) {
      crypto_aead_aes256gcm_encrypt_detached_afternm(buffer.data(), buffer.data() + len, &tag_len, buffer.data(), len,
                                                      header.data(), header.size(), nullptr, nonce.data(), aes_.get());
    } else {
      crypto_aead_chacha20poly1305_ietf_encrypt_detached(buffer.data(), buffer.data() + len, &tag_len, buffer.data(),
                                                         len, header.data(), header.size(), nullptr, nonce.data(),
                                                         key_.data());
    }
    return Ok{};
  }

  // Returns the plaintext length (a prefix of `buffer`).
  Result<std::size_t> open_in_place(std::uint64_t pn, ByteView header, MutableByteView buffer) const {
    if (buffer.size() < aead_overhead)
      return Error{Errc::decrypt_failed, "packet payload of " + std::to_string(buffer.size()) +
                                             " bytes is shorter than the 16-byte tag"};
    const std::size_t len = buffer.size() - aead_overhead;
    const auto nonce = make_nonce(pn);
    int rc;
    if (suite_ == Suite::aes256_gcm) {
      rc = crypto_aead_aes256gcm_decrypt_detached_afternm(buffer.data(), nullptr, buffer.data(), len,
                                                          buffer.data() + len, header.data(), header.size(),
                                                          nonce.data(), aes_.get());
    } else {
      rc = crypto_aead_chacha20poly1305_ietf_decrypt_detached(buffer.data(), nullptr, buffer.data(), len,
                                                              buffer.data() + len, header.data(), header.size(),
                                                              nonce.data(), key_.data());
    }
    if (rc != 0)
      return Error{Errc::decrypt_failed, "packet " + std::to_string(pn) + " does not authenticate (" +
                                             std::string(suite_name(suite_)) + ")"};
    return len;
  }

  // Copying conveniences for tests and handshake-sized data.
  Bytes seal(std::uint64_t pn, ByteView header, ByteView payload) const {
    Bytes out(payload.begin(), payload.end());
    out.resize(payload.size() + aead_overhead);
    (void)seal_in_place(pn, header, out);
    return out;
  }
  Result<Bytes> open(std::uint64_t pn, ByteView header, ByteView sealed) const {
    Bytes buf(sealed.begin(), sealed.end());
    auto n = open_in_place(pn, header, buf);
    if (!n) return n.error();
    buf.resize(*n);
    return buf;
  }

 private:
  using AesState = crypto_aead_aes256gcm_state;
  struct AesStateDeleter {
    void operator()(AesState* s) const noexcept {
      sodium_memzero(s, sizeof *s);
      delete s;
    }
  };

  PacketKey(Suite suite, const AeadKey& key) : suite_(suite), key_(key) {
    if (suite_ == Suite::aes256_gcm) {
      aes_ = std::shared_ptr<const AesState>(new AesState, AesStateDeleter{});
      crypto_aead_aes256gcm_beforenm(const_cast<AesState*>(aes_.get()), key_.data());
    }
  }

  std::array<std::uint8_t, 12> make_nonce(std::uint64_t pn) const noexcept {
    std::array<std::uint8_t, 12> n{};
    for (int i = 0; i < 8; ++i) {
      const auto b = static_cast<std::uint8_t>(pn >> (8 * i));
      if (suite_ == Suite::aes256_gcm) n[11 - i] = b;
      else n[4 + i] = b;
    }
    return n;
  }

  Suite suite_;
  AeadKey key_;
  std::shared_ptr<const AesState> aes_;  // expanded key schedule, shared read-only between copies
};

// Both directions of a session plus the receive-side replay window. Sealing refuses a packet number
// that is not above the last one sealed (a repeated nonce would reveal plaintext and forge tags) and
// any at or past the reject-after-messages limit. Opening checks the replay window only after the
// packet authenticated, and a failed open changes nothing.
class PacketProtector {
 public:
  PacketProtector(PacketKey send, PacketKey receive, KeyLimits limits = {})
      : send_(std::move(send)), receive_(std::move(receive)), limits_(limits) {}

  static Result<PacketProtector> create(Suite suite, const AeadKey& send_key, const AeadKey& receive_key,
                                        KeyLimits limits = {}) {
    auto s = PacketKey::create(suite, send_key);
    if (!s) return s.error();
    auto r = PacketKey::create(suite, receive_key);
    if (!r) return r.error();
    return PacketProtector(std::move(*s), std::move(*r), limits);
  }

  Suite suite() const noexcept { return send_.suite(); }
  static constexpr std::size_t overhead() noexcept { return aead_overhead; }

  Status seal(std::uint64_t pn, ByteView header, MutableByteView buffer) {
    if (pn >= limits_.reject_after_messages)
      return Error{Errc::key_expired, "packet number " + std::to_string(pn) + " is past the key's message limit"};
    if (sealed_any_ && pn <= last_sealed_)
      return Error{Errc::bad_state, "packet number " + std::to_string(pn) + " is not above the last sealed (" +
                                        std::to_string(last_sealed_) + "): a nonce must never repeat"};
    auto st = send_.seal_in_place(pn, header, buffer);
    if (!st) return st;
    sealed_any_ = true;
    last_sealed_ = pn;
    return Ok{};
  }

  Result<std::size_t> open(std::uint64_t pn, ByteView header, MutableByteView buffer) {
    if (pn >= limits_.reject_after_messages)
      return Error{Errc::key_expired, "packet number " + std::to_string(pn) + " is past the key's message limit"};
    if (!window_.may_accept(pn))
      return Error{Errc::replayed, "packet " + std::to_string(pn) + " was already received or is older than the window"};
    auto n = receive_.open_in_place(pn, header, buffer);
    if (!n) return n;
    if (!window_.accept(pn)) return Error{Errc::replayed, "packet " + std::to_string(pn) + " was already received"};
    return n;
  }

  const ReplayWindow& window() const noexcept { return window_; }
  // The next packet number seal() will take.
  std::uint64_t next_send_number() const noexcept { return sealed_any_ ? last_sealed_ + 1 : 0; }

 private:
  PacketKey send_;
  PacketKey receive_;
  KeyLimits limits_;
  ReplayWindow window_;
  std::uint64_t last_sealed_ = 0;
  bool sealed_any_ = false;
};

}  // namespace pdtp::secure
