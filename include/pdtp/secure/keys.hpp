// X25519 key pairs and the user-facing text form of public keys.
//
// Text form (what --server-key takes and what dstream prints): unpadded base64url (RFC 4648 section 5),
// 43 characters, safe inside URLs and file names. The parser also accepts 64 hex digits and padded
// standard base64 (44 characters, as WireGuard prints keys), so keys pasted from other tools work.
// A fingerprint is a short form for humans to compare by eye: the first 16 bytes of SHA-256(public
// key) as hex in groups of four, e.g. "3f2a-9c1d-....". It identifies; it does not replace the key.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "pdtp/result.hpp"
#include "pdtp/secure/detail/bytes.hpp"
#include "pdtp/secure/detail/crypto.hpp"
#include "pdtp/secure/sodium.hpp"

namespace pdtp::secure {

inline constexpr std::size_t key_size = 32;

// Fills the span with cryptographically secure random bytes. The runtime supplies it (normally a
// wrapper around libsodium's randombytes_buf); tests pass a deterministic one.
using RandomBytes = std::function<void(MutableByteView)>;

struct PublicKey {
  std::array<std::uint8_t, key_size> bytes{};
  ByteView view() const noexcept { return ByteView(bytes.data(), bytes.size()); }
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

using SecretKey = SecretBytes<key_size>;

struct KeyPair {
  SecretKey secret;
  PublicKey public_key;
};

// The key pair whose secret is the given 32 bytes (X25519 clamps the scalar when it is used).
inline KeyPair keypair_from_secret(const SecretKey& secret) noexcept {
  ensure_sodium();
  KeyPair kp;
  kp.secret = secret;
  detail::x25519_base(kp.public_key.bytes.data(), secret.data());
  return kp;
}

inline KeyPair generate_keypair(const RandomBytes& random) {
  SecretKey secret;
  random(secret.mutable_view());
  return keypair_from_secret(secret);
}

inline std::string to_base64url(const PublicKey& key) {
  ensure_sodium();
  char buf[sodium_base64_ENCODED_LEN(key_size, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(buf, sizeof buf, key.bytes.data(), key.bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return std::string(buf);
}

inline std::string to_hex(const PublicKey& key) { return detail::to_hex(key.view()); }

// The canonical text form.
inline std::string to_text(const PublicKey& key) { return to_base64url(key); }

// Parses 43 base64url characters, 44 padded standard base64 characters, or 64 hex digits.
inline Result<PublicKey> parse_public_key(std::string_view text) {
  ensure_sodium();
  PublicKey key;
  std::size_t decoded = 0;
  const char* end = nullptr;
  int rc = -1;
  if (text.size() == 64) {
    rc = sodium_hex2bin(key.bytes.data(), key.bytes.size(), text.data(), text.size(), nullptr, &decoded, &end);
  } else if (text.size() == 43) {
    rc = sodium_base642bin(key.bytes.data(), key.bytes.size(), text.data(), text.size(), nullptr, &decoded, &end,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  } else if (text.size() == 44) {
    rc = sodium_base642bin(key.bytes.data(), key.bytes.size(), text.data(), text.size(), nullptr, &decoded, &end,
                           sodium_base64_VARIANT_ORIGINAL);
  } else {
    return Error{Errc::bad_key, "public key '" + std::string(text.substr(0, 80)) + "' has " +
                                    std::to_string(text.size()) +
                                    " characters; expected 43 (base64url), 44 (base64) or 64 (hex)"};
  }
  if (rc != 0 || decoded != key_size || end != text.data() + text.size())
    return Error{Errc::bad_key, "public key '" + std::string(text) + "' is not valid " +
                                    (text.size() == 64 ? "hex" : "base64") + " for 32 bytes"};
  if (detail::all_zero(key.view())) return Error{Errc::bad_key, "public key is all zero"};
  return key;
}

// SHA-256 of the public key; fingerprint_text shows its first 16 bytes.
inline std::array<std::uint8_t, 32> fingerprint(const PublicKey& key) noexcept {
  return detail::sha256({key.view()});
}

inline std::string fingerprint_text(const PublicKey& key) {
  const auto digest = fingerprint(key);
  const std::string hex = detail::to_hex(ByteView(digest.data(), 16));
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i) out.push_back('-');
    out.append(hex, i, 4);
  }
  return out;
}

}  // namespace pdtp::secure
