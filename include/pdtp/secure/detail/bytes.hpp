// Byte vocabulary for the secure layer: owned buffers, views, fixed-size keys that wipe themselves,
// big-endian integer access and constant-time comparison.
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pdtp::secure {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using MutableByteView = std::span<std::uint8_t>;

// N bytes of key material, zeroed when destroyed so secrets do not linger in freed memory.
template <std::size_t N>
class SecretBytes {
 public:
  static constexpr std::size_t size_bytes = N;
  SecretBytes() noexcept { bytes_.fill(0); }
  explicit SecretBytes(const std::array<std::uint8_t, N>& b) noexcept : bytes_(b) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;
  ~SecretBytes() { sodium_memzero(bytes_.data(), N); }

  std::uint8_t* data() noexcept { return bytes_.data(); }
  const std::uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr std::size_t size() noexcept { return N; }
  ByteView view() const noexcept { return ByteView(bytes_.data(), N); }
  MutableByteView mutable_view() noexcept { return MutableByteView(bytes_.data(), N); }

 private:
  std::array<std::uint8_t, N> bytes_;
};

namespace detail {

inline ByteView as_bytes(std::string_view s) noexcept {
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

inline void append(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

inline void put_u32be(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

inline std::uint32_t get_u32be(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

inline void put_u16be(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

inline std::uint16_t get_u16be(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// Constant-time equality: comparing MACs with memcmp would leak how many leading bytes match.
inline bool equal_ct(ByteView a, ByteView b) noexcept {
  return a.size() == b.size() && (a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0);
}

inline bool all_zero(ByteView a) noexcept { return sodium_is_zero(a.data(), a.size()) == 1; }

inline std::string to_hex(ByteView b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (std::uint8_t c : b) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

}  // namespace detail
}  // namespace pdtp::secure
