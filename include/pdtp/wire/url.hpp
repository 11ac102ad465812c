// pdtp:// and http:// URLs, and the normalised file path both name a file by.
//
// A normalised path is the percent-decoded path below the served root: it starts with '/', has no
// empty, "." or ".." segments, never ends with '/' (unless it is "/"), is valid UTF-8 and contains
// no NUL, control character, backslash, '%', '?' or '#'. Because of the last rule normalize_path is
// idempotent, so normalising an already normalised path is harmless. Query strings and fragments
// are not part of PDTP: a raw '?' or '#' is rejected (bad_url) rather than silently stripped.
// Decoding happens before splitting, so "%2F" separates segments like '/' and "%2e%2e" is "..".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pdtp/result.hpp"
#include "pdtp/wire/detail/utf8.hpp"

namespace pdtp {

inline constexpr std::uint16_t default_control_port = 6086;
inline constexpr std::size_t max_path_length = 4096;  // bytes of a normalised path
inline constexpr std::size_t max_host_length = 255;

struct PdtpUrl {
  std::string host;  // lowercase; an IPv6 address without its brackets
  std::uint16_t port = default_control_port;
  std::string path;  // normalised
  friend bool operator==(const PdtpUrl&, const PdtpUrl&) = default;
};

struct HttpUrl {
  std::string host;  // lowercase; an IPv6 address without its brackets
  std::optional<std::uint16_t> port;
  std::string path;  // normalised
  friend bool operator==(const HttpUrl&, const HttpUrl&) = default;
};

namespace wire::detail {

inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// Characters that may appear unencoded in a path segment (RFC 3986 pchar minus pct-encoded).
inline bool is_path_char(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=': case ':': case '@': return true;
    default: return false;
  }
}

inline bool is_host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Dotted quad of decimal octets 0..255.
inline bool is_ipv4(std::string_view s) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    unsigned value = 0;
    while (j < s.size() && j - i < 4 && s[j] >= '0' && s[j] <= '9') value = value * 10 + static_cast<unsigned>(s[j++] - '0');
    if (j == i || j - i > 3 || value > 255) return false;
    ++parts;
    if (j == s.size()) return parts == 4;
    if (s[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
}

// RFC 4291 text form: eight 16-bit hex groups, one "::" may stand for a run of zero groups, and the
// last two groups may be written as an IPv4 address. Zone ids are not supported.
inline bool is_ipv6(std::string_view s) noexcept {
  if (s.size() < 2 || s.size() > 45) return false;
  int groups = 0;
  bool compressed = false;
  std::size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    compressed = true;
    i = 2;
    if (i == s.size()) return true;
  }
  while (true) {
    std::size_t j = i;
    while (j < s.size() && hex_value(s[j]) >= 0) ++j;
    if (j < s.size() && s[j] == '.') {  // IPv4 tail
      if (!is_ipv4(s.substr(i))) return false;
      groups += 2;
      break;
    }
    if (j == i || j - i > 4) return false;
    ++groups;
    i = j;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (compressed) return false;
      compressed = true;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // a single trailing ':'
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

struct Authority {
  std::string host;
  std::optional<std::uint16_t> port;
  std::string_view rest;  // from the '/' that starts the path
};

// Splits "scheme://host[:port]/path..." for the given scheme (case-insensitive).
inline Result<Authority> split_url(std::string_view url, std::string_view scheme) {
  const auto bad = [&](const std::string& why) {
    return Error{Errc::bad_url, why + " in '" + std::string(url.substr(0, 200)) + "'"};
  };
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos || !iequals(url.substr(0, sep), scheme))
    return bad("expected " + std::string(scheme) + "://");
  std::string_view rest = url.substr(sep + 3);
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("missing path");
  std::string_view auth = rest.substr(0, slash);
  Authority out;
  out.rest = rest.substr(slash);
  std::string_view port_text;
  bool has_port = false;
  if (!auth.empty() && auth.front() == '[') {
    const std::size_t close = auth.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    const std::string_view ip = auth.substr(1, close - 1);
    if (!is_ipv6(ip)) return bad("bad IPv6 address");
    out.host.assign(ip);
    const std::string_view after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected text after IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = auth.find(':');
    const std::string_view host = auth.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = auth.substr(colon + 1);
    }
    if (host.empty()) return bad("missing host");
    if (host.size() > max_host_length) return bad("host name too long");
    for (char c : host)
      if (!is_host_char(c)) return bad("bad character in host");
    out.host.assign(host);
  }
  for (char& c : out.host) c = ascii_lower(c);
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5) return bad("bad port");
    std::uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return bad("bad port");
      port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return bad("port out of range 1..65535");
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

}  // namespace wire::detail

// Percent-decodes and normalises a URL path (see the top of this file). Errors: bad_url for a
// malformed escape, a '?', '#', NUL, control character, decoded '%', invalid UTF-8, a path not
// starting with '/' or too long; path_escapes_root for a ".." segment (also encoded) or a backslash.
inline Result<std::string> normalize_path(std::string_view raw) {
  namespace d = wire::detail;
  const auto fail = [&](Errc code, const std::string& why) {
    return Error{code, why + " in path '" + std::string(raw.substr(0, 200)) + "'"};
  };
  if (raw.size() > 3 * max_path_length) return fail(Errc::bad_url, "path too long");
  if (raw.empty() || raw.front() != '/') return fail(Errc::bad_url, "path must start with '/'");
  std::string decoded;
  decoded.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    const bool escaped = c == '%';
    if (escaped) {
      if (raw.size() - i < 3 || d::hex_value(raw[i + 1]) < 0 || d::hex_value(raw[i + 2]) < 0)
        return fail(Errc::bad_url, "malformed percent escape");
      c = static_cast<unsigned char>(d::hex_value(raw[i + 1]) * 16 + d::hex_value(raw[i + 2]));
      i += 2;
    }
    if (c == 0) return fail(Errc::bad_url, "NUL byte");
    if (c == '\\') return fail(Errc::path_escapes_root, "backslash");
    if (c < 0x20 || c == 0x7f) return fail(Errc::bad_url, "control character");
    if (c == '?' || c == '#') return fail(Errc::bad_url, escaped ? "encoded '?' or '#'" : "query or fragment");
    if (escaped && c == '%') return fail(Errc::bad_url, "encoded '%'");
    decoded.push_back(static_cast<char>(c));
  }
  if (!d::is_valid_utf8(decoded)) return fail(Errc::bad_url, "invalid UTF-8");
  std::string out;
  out.reserve(decoded.size());
  std::size_t pos = 0;
  while (pos < decoded.size()) {
    std::size_t end = decoded.find('/', pos);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view seg(decoded.data() + pos, end - pos);
    pos = end + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") return fail(Errc::path_escapes_root, "'..' segment");
    out.push_back('/');
    out.append(seg);
  }
  if (out.empty()) out = "/";
  if (out.size() > max_path_length) return fail(Errc::bad_url, "path too long");
  return out;
}

// "pdtp://host[:port]/path"; the port defaults to 6086.
inline Result<PdtpUrl> parse_pdtp_url(std::string_view url) {
  auto a = wire::detail::split_url(url, "pdtp");
  if (!a) return a.error();
  auto path = normalize_path(a->rest);
  if (!path) return path.error();
  return PdtpUrl{std::move(a->host), a->port.value_or(default_control_port), std::move(*path)};
}

// "http://host[:port]/path"
inline Result<HttpUrl> parse_http_url(std::string_view url) {
  auto a = wire::detail::split_url(url, "http");
  if (!a) return a.error();
  auto path = normalize_path(a->rest);
  if (!path) return path.error();
  return HttpUrl{std::move(a->host), a->port, std::move(*path)};
}

// The normalised path named by a wire url: "http://host[:port]/path" or a bare "/path". The host is
// ignored on purpose: the original server matched host + path and broke when clients used an address.
inline Result<std::string> file_path_of(std::string_view wire_url) {
  if (!wire_url.empty() && wire_url.front() == '/') return normalize_path(wire_url);
  auto u = parse_http_url(wire_url);
  if (!u) return u.error();
  return std::move(u->path);
}

// Append a normalised path, percent-encoding every byte that is not a path character.
inline void append_encoded_path(std::string& out, std::string_view normalized_path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (char ch : normalized_path) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '/' || wire::detail::is_path_char(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xFu]);
    }
  }
}

// A host with two or more ':' is an IPv6 address, written in brackets in URLs and Host headers.
inline bool needs_brackets(std::string_view host) {
  return host.find(':') != host.rfind(':') && (host.empty() || host.front() != '[');
}

// "http://host/path" for a normalised path; an IPv6 host gets its brackets back.
inline std::string wire_url(std::string_view host, std::string_view normalized_path) {
  std::string out = "http://";
  out.reserve(out.size() + host.size() + 2 + normalized_path.size() * 3);
  const bool ipv6 = needs_brackets(host);
  if (ipv6) out.push_back('[');
  out.append(host);
  if (ipv6) out.push_back(']');
  append_encoded_path(out, normalized_path);
  return out;
}

}  // namespace pdtp
