// The head of an HTTP/1.1 message (start line + header fields), parsed and written without I/O, after h11:
// the I/O layer buffers bytes until find_head_end says a head is complete, then hands that head here.
//
// Accepted: lines ending in CRLF or a bare LF; HTTP/1.0 and HTTP/1.1. Rejected: obsolete line folding,
// whitespace before ':', control characters (CR, LF, NUL, ...) anywhere in a field value, empty lines
// before the start line, bytes after the blank line that ends the head.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pdtp/http/detail/chars.hpp"
#include "pdtp/http/detail/unsupported.hpp"
#include "pdtp/result.hpp"

namespace pdtp::http {

struct HttpLimits {
  std::size_t max_head_bytes = 8192;  // start line, header lines and the blank line together
  std::size_t max_headers = 32;       // header lines
};

struct Header {
  std::string name;   // as received (case preserved); compare with case-insensitive lookup
  std::string value;  // without leading or trailing whitespace
  friend bool operator==(const Header&, const Header&) = default;
};

namespace detail {

inline std::optional<std::string_view> find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

}  // namespace detail

struct RequestHead {
  std::string method;  // case-sensitive token, e.g. "GET"
  std::string target;  // "/path" or "http://host/path", still percent-encoded
  int version_minor = 1;
  std::vector<Header> headers;

  // The value of the first header named `name` (case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const { return detail::find_header(headers, name); }
  friend bool operator==(const RequestHead&, const RequestHead&) = default;
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  int version_minor = 1;
  std::vector<Header> headers;

  std::optional<std::string_view> header(std::string_view name) const { return detail::find_header(headers, name); }
  friend bool operator==(const ResponseHead&, const ResponseHead&) = default;
};

// Length of the head at the start of `buffered`, blank line included. Errc::incomplete while more bytes
// may still complete it; Errc::head_too_large once no head within the limit is possible.
inline Result<std::size_t> find_head_end(std::string_view buffered, const HttpLimits& limits = {}) {
  const std::size_t scan = buffered.size() < limits.max_head_bytes ? buffered.size() : limits.max_head_bytes;
  for (std::size_t i = 0; i < scan; ++i) {
    if (buffered[i] != '\n') continue;
    std::size_t j = i + 1;
    if (j < buffered.size() && buffered[j] == '\r') ++j;
    if (j < buffered.size() && buffered[j] == '\n') {
      const std::size_t length = j + 1;
      if (length > limits.max_head_bytes) break;
      return length;
    }
  }
  if (buffered.size() > limits.max_head_bytes)
    return Error{Errc::head_too_large,
                 "no end of the HTTP head within " + std::to_string(limits.max_head_bytes) + " bytes"};
  return Error{Errc::incomplete, "the HTTP head is not complete yet"};
}

namespace detail {

// The line starting at `pos`, without its LF or CR LF; advances `pos` past it. nullopt if no LF follows.
inline std::optional<std::string_view> next_line(std::string_view text, std::size_t& pos) {
  const std::size_t lf = text.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(pos, lf - pos);
  pos = lf + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// "HTTP/1.0" or "HTTP/1.1" -> the minor version. Other well-formed versions are unsupported.
inline Result<int> parse_version(std::string_view v, Errc malformed, const char* where) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
    return Error{malformed, "bad HTTP version " + quote(v) + " in the " + where};
  if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
    return Error{Errc::unsupported, std::string(unsupported_version) + " " + quote(v) + " (only HTTP/1.0 and 1.1)"};
  return v[7] - '0';
}

inline Status check_limit(std::string_view head, const HttpLimits& limits) {
  if (head.size() > limits.max_head_bytes)
    return Error{Errc::head_too_large, "HTTP head of " + std::to_string(head.size()) + " bytes exceeds the limit of " +
                                           std::to_string(limits.max_head_bytes)};
  return Ok{};
}

// Header lines from `pos` up to the blank line, which must be the last thing in `head`.
inline Status parse_fields(std::string_view head, std::size_t pos, const HttpLimits& limits, std::vector<Header>& out) {
  for (;;) {
    const auto line = next_line(head, pos);
    if (!line) return Error{Errc::incomplete, "the HTTP head does not end with a blank line"};
    if (line->empty()) break;
    if (is_ows(line->front()))
      return Error{Errc::bad_header, "obsolete line folding (header line starts with whitespace): " + quote(*line)};
    if (out.size() >= limits.max_headers)
      return Error{Errc::too_many_headers, "more than " + std::to_string(limits.max_headers) + " header lines"};
    const std::size_t colon = line->find(':');
    if (colon == std::string_view::npos) return Error{Errc::bad_header, "header line without ':': " + quote(*line)};
    const std::string_view name = line->substr(0, colon);
    if (!is_token(name)) {
      const bool space = !name.empty() && is_ows(name.back());
      return Error{Errc::bad_header,
                   "bad header name " + quote(name) + (space ? " (whitespace before ':' is not allowed)" : "")};
    }
    const std::string_view value = trim_ows(line->substr(colon + 1));
    for (char c : value)
      if (!is_field_char(static_cast<unsigned char>(c)))
        return Error{Errc::bad_header, "control character in the value of " + quote(name) + ": " + quote(value)};
    out.push_back(Header{std::string(name), std::string(value)});
  }
  if (pos != head.size())
    return Error{Errc::bad_header,
                 std::to_string(head.size() - pos) + " bytes after the blank line that ends the HTTP head"};
  return Ok{};
}

inline bool is_request_target(std::string_view t) noexcept {
  if (t.empty()) return false;
  for (char c : t)
    if (!is_vchar(static_cast<unsigned char>(c))) return false;
  return t.front() == '/' || (istarts_with(t, "http://") && t.size() > 7);
}

// What the writers check, so that whatever they write parses back to the same head.
inline Status check_fields(const std::vector<Header>& headers) {
  for (const Header& h : headers) {
    if (!is_token(h.name)) return Error{Errc::bad_header, "bad header name " + quote(h.name)};
    if (h.value != trim_ows(h.value))
      return Error{Errc::bad_header, "leading or trailing whitespace in the value of " + quote(h.name)};
    for (char c : h.value)
      if (!is_field_char(static_cast<unsigned char>(c)))
        return Error{Errc::bad_header, "control character in the value of " + quote(h.name) + ": " + quote(h.value)};
  }
  return Ok{};
}

inline void append_fields(std::string& out, const std::vector<Header>& headers) {
  for (const Header& h : headers) {
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace detail

// "METHOD SP request-target SP HTTP/1.x", header lines, blank line. `head` is exactly what find_head_end measured.
inline Result<RequestHead> parse_request_head(std::string_view head, const HttpLimits& limits = {}) {
  using detail::quote;
  if (auto s = detail::check_limit(head, limits); !s) return s.error();
  std::size_t pos = 0;
  const auto line = detail::next_line(head, pos);
  if (!line) return Error{Errc::incomplete, "the request line is not complete"};
  const std::size_t sp1 = line->find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line->find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return Error{Errc::bad_request_line, "request line is not 'METHOD target HTTP/1.x': " + quote(*line)};
  RequestHead out;
  const std::string_view method = line->substr(0, sp1);
  const std::string_view target = line->substr(sp1 + 1, sp2 - sp1 - 1);
  if (!detail::is_token(method)) return Error{Errc::bad_request_line, "bad method " + quote(method)};
  if (!detail::is_request_target(target))
    return Error{Errc::bad_request_line, "request target must be '/path' or 'http://host/path': " + quote(target)};
  auto minor = detail::parse_version(line->substr(sp2 + 1), Errc::bad_request_line, "request line");
  if (!minor) return minor.error();
  out.method.assign(method);
  out.target.assign(target);
  out.version_minor = *minor;
  if (auto s = detail::parse_fields(head, pos, limits, out.headers); !s) return s.error();
  return out;
}

// "HTTP/1.x SP 3DIGIT SP reason" (the SP before an empty reason may be missing), header lines, blank line.
inline Result<ResponseHead> parse_response_head(std::string_view head, const HttpLimits& limits = {}) {
  using detail::quote;
  if (auto s = detail::check_limit(head, limits); !s) return s.error();
  std::size_t pos = 0;
  const auto line = detail::next_line(head, pos);
  if (!line) return Error{Errc::incomplete, "the status line is not complete"};
  const std::size_t sp = line->find(' ');
  if (sp == std::string_view::npos)
    return Error{Errc::bad_status_line, "status line is not 'HTTP/1.x code reason': " + quote(*line)};
  auto minor = detail::parse_version(line->substr(0, sp), Errc::bad_status_line, "status line");
  if (!minor) return minor.error();
  const std::string_view rest = line->substr(sp + 1);
  if (rest.size() < 3 || !detail::is_digit(rest[0]) || !detail::is_digit(rest[1]) || !detail::is_digit(rest[2]) ||
      rest[0] == '0' || (rest.size() > 3 && rest[3] != ' '))
    return Error{Errc::bad_status_line, "status code must be three digits 100..999: " + quote(*line)};
  ResponseHead out;
  out.version_minor = *minor;
  out.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
  const std::string_view reason = rest.size() > 3 ? rest.substr(4) : std::string_view{};
  for (char c : reason)
    if (!detail::is_field_char(static_cast<unsigned char>(c)))
      return Error{Errc::bad_status_line, "control character in the reason phrase: " + quote(reason)};
  out.reason.assign(reason);
  if (auto s = detail::parse_fields(head, pos, limits, out.headers); !s) return s.error();
  return out;
}

// The head as CRLF-terminated lines and a blank line. Rejects what parse_request_head would not read back.
inline Result<std::string> write_request_head(const RequestHead& h) {
  using detail::quote;
  if (!detail::is_token(h.method)) return Error{Errc::bad_request_line, "bad method " + quote(h.method)};
  if (!detail::is_request_target(h.target))
    return Error{Errc::bad_request_line, "request target must be '/path' or 'http://host/path': " + quote(h.target)};
  if (h.version_minor != 0 && h.version_minor != 1)
    return Error{Errc::unsupported, std::string(detail::unsupported_version) + " 1." + std::to_string(h.version_minor)};
  if (auto s = detail::check_fields(h.headers); !s) return s.error();
  std::string out;
  out.reserve(h.method.size() + h.target.size() + 16 + h.headers.size() * 32);
  out += h.method;
  out += ' ';
  out += h.target;
  out += h.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  detail::append_fields(out, h.headers);
  return out;
}

inline Result<std::string> write_response_head(const ResponseHead& h) {
  using detail::quote;
  if (h.status < 100 || h.status > 999)
    return Error{Errc::bad_status_line, "status code " + std::to_string(h.status) + " is not three digits"};
  for (char c : h.reason)
    if (!detail::is_field_char(static_cast<unsigned char>(c)))
      return Error{Errc::bad_status_line, "control character in the reason phrase: " + quote(h.reason)};
  if (h.version_minor != 0 && h.version_minor != 1)
    return Error{Errc::unsupported, std::string(detail::unsupported_version) + " 1." + std::to_string(h.version_minor)};
  if (auto s = detail::check_fields(h.headers); !s) return s.error();
  std::string out = h.version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(h.status);
  out += ' ';
  out += h.reason;
  out += "\r\n";
  detail::append_fields(out, h.headers);
  return out;
}

// The standard reason phrase of a status code; a generic one for codes we never send.
inline std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: break;
  }
  if (status >= 100 && status < 200) return "Informational";
  if (status >= 200 && status < 300) return "Success";
  if (status >= 300 && status < 400) return "Redirection";
  if (status >= 400 && status < 500) return "Client Error";
  if (status >= 500 && status < 600) return "Server Error";
  return "Unknown";
}

}  // namespace pdtp::http
