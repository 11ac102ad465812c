// The primitives of Noise_*_25519_ChaChaPoly_SHA256, built from libsodium 1.0.18 (which has no HKDF):
// SHA-256, HMAC-SHA256, the Noise HKDF, X25519 and ChaCha20-Poly1305 (IETF) with Noise's nonce layout.
// Also keyed BLAKE2b, used for the handshake datagram MACs and cookies.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <initializer_list>

#include "pdtp/secure/detail/bytes.hpp"

namespace pdtp::secure::detail {

inline constexpr std::size_t hash_len = 32;  // SHA-256 output (Noise HASHLEN)
inline constexpr std::size_t dh_len = 32;    // X25519 public key / shared secret (Noise DHLEN)
inline constexpr std::size_t key_len = 32;   // AEAD key
inline constexpr std::size_t tag_len = 16;   // AEAD tag

using Hash = std::array<std::uint8_t, hash_len>;

inline Hash sha256(std::initializer_list<ByteView> parts) noexcept {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  for (ByteView p : parts) crypto_hash_sha256_update(&st, p.data(), p.size());
  Hash out;
  crypto_hash_sha256_final(&st, out.data());
  return out;
}

inline Hash hmac_sha256(ByteView key, std::initializer_list<ByteView> parts) noexcept {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  for (ByteView p : parts) crypto_auth_hmacsha256_update(&st, p.data(), p.size());
  Hash out;
  crypto_auth_hmacsha256_final(&st, out.data());
  sodium_memzero(&st, sizeof st);
  return out;
}

// Noise HKDF(chaining_key, input_key_material): the first two or three outputs (spec section 4.3).
struct HkdfOutput {
  SecretBytes<hash_len> first, second, third;
};

inline HkdfOutput hkdf(ByteView chaining_key, ByteView ikm, bool want_third) noexcept {
  static constexpr std::uint8_t one = 1, two = 2, three = 3;
  SecretBytes<hash_len> temp_key(hmac_sha256(chaining_key, {ikm}));
  HkdfOutput out;
  out.first = SecretBytes<hash_len>(hmac_sha256(temp_key.view(), {ByteView(&one, 1)}));
  out.second = SecretBytes<hash_len>(hmac_sha256(temp_key.view(), {out.first.view(), ByteView(&two, 1)}));
  if (want_third)
    out.third = SecretBytes<hash_len>(hmac_sha256(temp_key.view(), {out.second.view(), ByteView(&three, 1)}));
  return out;
}

// X25519. False when the result is all zero (the peer sent a low-order point): we reject those.
inline bool x25519(std::uint8_t* shared, const std::uint8_t* secret, const std::uint8_t* peer_public) noexcept {
  return crypto_scalarmult(shared, secret, peer_public) == 0;
}

inline void x25519_base(std::uint8_t* public_key, const std::uint8_t* secret) noexcept {
  crypto_scalarmult_base(public_key, secret);
}

// Noise's ChaChaPoly nonce: 32 zero bits, then the 64-bit counter little-endian.
inline std::array<std::uint8_t, 12> chachapoly_nonce(std::uint64_t n) noexcept {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
  return nonce;
}

// out must hold plaintext.size() + tag_len bytes.
inline void chachapoly_encrypt(std::uint8_t* out, const std::uint8_t* key, std::uint64_t n, ByteView ad,
                               ByteView plaintext) noexcept {
  const auto nonce = chachapoly_nonce(n);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out, &written, plaintext.data(), plaintext.size(), ad.data(),
                                            ad.size(), nullptr, nonce.data(), key);
}

// out must hold ciphertext.size() - tag_len bytes. False when the tag does not verify.
inline bool chachapoly_decrypt(std::uint8_t* out, const std::uint8_t* key, std::uint64_t n, ByteView ad,
                               ByteView ciphertext) noexcept {
  if (ciphertext.size() < tag_len) return false;
  const auto nonce = chachapoly_nonce(n);
  unsigned long long written = 0;
  return crypto_aead_chacha20poly1305_ietf_decrypt(out, &written, nullptr, ciphertext.data(), ciphertext.size(),
                                                   ad.data(), ad.size(), nonce.data(), key) == 0;
}

// Keyed BLAKE2b with a 16-byte output: the handshake datagram MACs and the cookie itself.
using Mac = std::array<std::uint8_t, 16>;

inline Mac blake2b_mac(ByteView key, ByteView message) noexcept {
  Mac out;
  crypto_generichash(out.data(), out.size(), message.data(), message.size(), key.data(), key.size());
  return out;
}

// Unkeyed BLAKE2b-256 of a label and a value: derives the MAC and cookie keys from a public key.
inline std::array<std::uint8_t, 32> blake2b_derive(std::string_view label, ByteView value) noexcept {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(label.data()), label.size());
  crypto_generichash_update(&st, value.data(), value.size());
  std::array<std::uint8_t, 32> out;
  crypto_generichash_final(&st, out.data(), out.size());
  return out;
}

}  // namespace pdtp::secure::detail
