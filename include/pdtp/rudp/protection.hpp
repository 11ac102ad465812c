// Pluggable packet protection: the secure layer supplies an AEAD; NullProtection serves tests and simulations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// One direction pair of packet keys. The connection calls seal() once per packet number it sends
// (numbers only grow, never repeat) and open() for every received data packet; `header` is the
// 13-byte cleartext header, to be authenticated as associated data.
class PacketProtection {
 public:
  virtual ~PacketProtection() = default;

  // Bytes appended to every payload (the AEAD tag).
  virtual std::size_t overhead() const noexcept = 0;

  // `sealed` holds the plaintext followed by overhead() bytes of room; encrypts in place and writes
  // the tag into that room. false = these keys may not protect more packets: the connection closes.
  virtual bool seal(PacketNumber pn, std::span<const std::uint8_t> header, std::span<std::uint8_t> sealed) = 0;

  // Verifies and decrypts `sealed` (ciphertext then tag) in place. Returns the plaintext (a prefix
  // of `sealed`), or nullopt if it does not authenticate (or is a replay, if the implementation
  // keeps a replay window). A failed open must leave no trace in the protection's state.
  virtual std::optional<std::span<std::uint8_t>> open(PacketNumber pn, std::span<const std::uint8_t> header,
                                                      std::span<std::uint8_t> sealed) = 0;
};

// No confidentiality and no authentication. With `checksum` on, an 8-byte non-cryptographic
// checksum over header and payload catches accidental corruption (simulated links flip bits).
class NullProtection final : public PacketProtection {
 public:
  explicit NullProtection(bool checksum = true) noexcept : checksum_(checksum) {}

  std::size_t overhead() const noexcept override { return checksum_ ? 8 : 0; }

  bool seal(PacketNumber, std::span<const std::uint8_t> header, std::span<std::uint8_t> sealed) override {
    if (!checksum_) return true;
    if (sealed.size() < 8) return false;
    auto body = sealed.first(sealed.size() - 8);
    const std::uint64_t sum = digest(header, body);
    for (int i = 0; i < 8; ++i)
      sealed[body.size() + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sum >> (8 * i));
    return true;
  }

  std::optional<std::span<std::uint8_t>> open(PacketNumber, std::span<const std::uint8_t> header,
                                              std::span<std::uint8_t> sealed) override {
    if (!checksum_) return sealed;
    if (sealed.size() < 8) return std::nullopt;
    auto body = sealed.first(sealed.size() - 8);
    std::uint64_t got = 0;
    for (int i = 7; i >= 0; --i) got = (got << 8) | sealed[body.size() + static_cast<std::size_t>(i)];
    if (got != digest(header, body)) return std::nullopt;
    return body;
  }

  // A 64-bit multiply-xorshift mix over all bytes; every bit of input reaches every bit of output.
  static std::uint64_t digest(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
    std::uint64_t h = 0x243F6A8885A308D3ull ^ (a.size() * 0x9E3779B97F4A7C15ull) ^ b.size();
    auto mix = [&h](std::span<const std::uint8_t> s) {
      std::size_t i = 0;
      for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w = 0;
        for (int k = 7; k >= 0; --k) w = (w << 8) | s[i + static_cast<std::size_t>(k)];
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
      }
      std::uint64_t tail = 0;
      for (std::size_t k = s.size(); k > i; --k) tail = (tail << 8) | s[k - 1];
      h = (h ^ tail ^ (std::uint64_t{s.size() - i} << 56)) * 0x94D049BB133111EBull;
      h ^= h >> 29;
    };
    mix(a);
    mix(b);
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
  }

 private:
  bool checksum_;
};

}  // namespace pdtp::rudp
