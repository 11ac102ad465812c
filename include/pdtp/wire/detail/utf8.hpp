// UTF-8 validation shared by the JSON encoder and the path normaliser (same rules as nlohmann's lexer).
#pragma once

#include <cstddef>
#include <string_view>

namespace pdtp::wire::detail {

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0 if it is malformed
// (overlong forms, surrogates, code points above U+10FFFF and truncated sequences are malformed).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const auto cont = [&](std::size_t k) { return k < s.size() && (at(k) & 0xC0u) == 0x80u; };
  const unsigned char c = at(i);
  if (c < 0x80u) return 1;
  if (c >= 0xC2u && c <= 0xDFu) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0u && c <= 0xEFu) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const unsigned char c1 = at(i + 1);
    if (c == 0xE0u && c1 < 0xA0u) return 0;  // overlong
    if (c == 0xEDu && c1 > 0x9Fu) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xF0u && c <= 0xF4u) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const unsigned char c1 = at(i + 1);
    if (c == 0xF0u && c1 < 0x90u) return 0;  // overlong
    if (c == 0xF4u && c1 > 0x8Fu) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

inline bool is_valid_utf8(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace pdtp::wire::detail
