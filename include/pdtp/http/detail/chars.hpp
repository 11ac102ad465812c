// Character classes of HTTP/1.1 (RFC 9110 / 9112) and small text helpers for the head parser and writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pdtp::http::detail {

// tchar: the characters of a token (method, header field name).
inline bool is_tchar(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}

inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

// Visible ASCII: what a request-target may consist of.
inline bool is_vchar(unsigned char c) noexcept { return c >= 0x21 && c <= 0x7e; }

// A byte allowed inside a field value or reason phrase: HTAB, SP, VCHAR, obs-text. Never CR, LF or NUL.
inline bool is_field_char(unsigned char c) noexcept { return c == '\t' || c == ' ' || is_vchar(c) || c >= 0x80; }

inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

inline char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Quotes untrusted text for an error message: at most 64 bytes, non-printables as \xNN.
inline std::string quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  constexpr std::size_t max_shown = 64;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xFu]);
    }
  }
  if (s.size() > max_shown) out += "...";
  out.push_back('\'');
  return out;
}

// Decimal digits to uint64, saturating at the maximum instead of wrapping. `s` must be all digits.
inline std::uint64_t parse_decimal_saturating(std::string_view s, bool& overflowed) noexcept {
  constexpr std::uint64_t max = UINT64_MAX;
  std::uint64_t v = 0;
  overflowed = false;
  for (char c : s) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) {
      overflowed = true;
      return max;
    }
    v = v * 10 + d;
  }
  return v;
}

inline bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace pdtp::http::detail
