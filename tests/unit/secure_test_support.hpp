// Helpers shared by the secure_*_test.cpp files: hex literals and a deterministic random source.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "pdtp/secure/keys.hpp"

namespace secure_test {

using pdtp::secure::Bytes;

inline Bytes hex(std::string_view s) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex digit");
  };
  if (s.size() % 2) throw std::invalid_argument("odd hex length");
  Bytes out;
  for (std::size_t i = 0; i < s.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(nibble(s[i]) * 16 + nibble(s[i + 1])));
  return out;
}

inline pdtp::secure::SecretKey secret(std::string_view hex_text) {
  Bytes b = hex(hex_text);
  std::array<std::uint8_t, 32> a{};
  std::copy_n(b.begin(), 32, a.begin());
  return pdtp::secure::SecretKey(a);
}

inline pdtp::secure::SecretKey secret_filled(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return pdtp::secure::SecretKey(a);
}

// A reproducible byte stream (splitmix64): tests must not depend on real randomness.
struct CountingRandom {
  std::uint64_t state = 0x1234567887654321ULL;
  void operator()(pdtp::secure::MutableByteView out) {
    for (auto& b : out) {
      state += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      b = static_cast<std::uint8_t>(z ^ (z >> 31));
    }
  }
};

inline pdtp::secure::RandomBytes random_source(std::uint64_t seed) {
  CountingRandom r;
  r.state = seed;
  return r;
}

inline Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace secure_test
