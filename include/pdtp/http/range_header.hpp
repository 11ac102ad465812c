// Range, Content-Range and Content-Length values (RFC 9110 §14, §8.6) for the peer exchange: one byte range
// per request, nothing else. Numbers of any length are read without overflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pdtp/http/detail/chars.hpp"
#include "pdtp/http/detail/unsupported.hpp"
#include "pdtp/result.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::http {

namespace detail {

// One range-spec without regard to the file size: "A-B", "A-" or "-N". Numbers saturate at 2^64-1.
struct RangeSpec {
  std::optional<std::uint64_t> first;  // absent: suffix range "-N"
  std::optional<std::uint64_t> last;   // absent: open range "A-"
};

inline std::optional<RangeSpec> parse_range_spec(std::string_view s) {
  const std::size_t dash = s.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view a = s.substr(0, dash);
  const std::string_view b = s.substr(dash + 1);
  if ((!a.empty() && !all_digits(a)) || (!b.empty() && !all_digits(b)) || (a.empty() && b.empty()))
    return std::nullopt;
  RangeSpec out;
  bool overflowed = false;
  if (!a.empty()) out.first = parse_decimal_saturating(a, overflowed);
  if (!b.empty()) out.last = parse_decimal_saturating(b, overflowed);
  return out;
}

}  // namespace detail

// "bytes=A-B" (B clamped to size-1), "bytes=A-" (to the end) or "bytes=-N" (the last N bytes) against a file of
// `file_size` bytes. Errors: bad_range when nothing of the file is selected (A > B, A >= size, N = 0, empty
// file); unsupported for several ranges; bad_header for anything else.
inline Result<ByteRange> parse_range_header(std::string_view value, std::uint64_t file_size) {
  using detail::quote;
  const std::string_view v = detail::trim_ows(value);
  const std::size_t eq = v.find('=');
  if (eq == std::string_view::npos || !detail::iequals(v.substr(0, eq), "bytes"))
    return Error{Errc::bad_header, "Range must be 'bytes=A-B': " + quote(value)};
  const std::string_view set = v.substr(eq + 1);
  if (set.find(',') != std::string_view::npos) {
    std::string_view rest = set;
    for (;;) {  // several well-formed ranges are unsupported; any malformed one makes the header bad
      const std::size_t comma = rest.find(',');
      if (!detail::parse_range_spec(detail::trim_ows(rest.substr(0, comma))))
        return Error{Errc::bad_header, "malformed byte range in " + quote(value)};
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    return Error{Errc::unsupported, std::string(detail::unsupported_ranges) + " in one request: " + quote(value)};
  }
  const auto spec = detail::parse_range_spec(set);
  if (!spec) return Error{Errc::bad_header, "malformed byte range " + quote(value)};
  if (file_size == 0) return Error{Errc::bad_range, "range " + quote(value) + " of an empty file"};
  const std::uint64_t last_byte = file_size - 1;
  if (!spec->first) {
    const std::uint64_t n = *spec->last;
    if (n == 0) return Error{Errc::bad_range, "suffix range of zero bytes " + quote(value)};
    return ByteRange{n >= file_size ? 0 : file_size - n, last_byte};
  }
  const std::uint64_t first = *spec->first;
  if (spec->last && first > *spec->last)
    return Error{Errc::bad_range, "range " + quote(value) + " ends before it starts"};
  if (first >= file_size)
    return Error{Errc::bad_range,
                 "range " + quote(value) + " starts at or after the end of the file (" + std::to_string(file_size) + ")"};
  const std::uint64_t last = spec->last && *spec->last < last_byte ? *spec->last : last_byte;
  return ByteRange{first, last};
}

// "bytes=A-B"
inline std::string format_range_header(ByteRange r) {
  return "bytes=" + std::to_string(r.min) + "-" + std::to_string(r.max);
}

struct ContentRange {
  ByteRange range;
  std::optional<std::uint64_t> size;  // absent for "bytes A-B/*"
  friend bool operator==(const ContentRange&, const ContentRange&) = default;
};

namespace detail {

inline Result<std::uint64_t> parse_exact_number(std::string_view digits, std::string_view what,
                                                std::string_view whole) {
  if (!all_digits(digits)) return Error{Errc::bad_header, std::string(what) + " is not a decimal number in " + quote(whole)};
  bool overflowed = false;
  const std::uint64_t v = parse_decimal_saturating(digits, overflowed);
  if (overflowed) return Error{Errc::bad_header, std::string(what) + " does not fit in 64 bits in " + quote(whole)};
  return v;
}

}  // namespace detail

// "bytes A-B/SIZE" or "bytes A-B/*". Errors: bad_header when malformed or a number overflows; bad_range when
// A > B or B >= SIZE. The unsatisfied form "bytes */SIZE" is bad_header: it names no range.
inline Result<ContentRange> parse_content_range(std::string_view value) {
  using detail::quote;
  const std::string_view v = detail::trim_ows(value);
  if (v.size() < 6 || !detail::iequals(v.substr(0, 6), "bytes "))
    return Error{Errc::bad_header, "Content-Range must be 'bytes A-B/SIZE': " + quote(value)};
  const std::string_view spec = v.substr(6);
  const std::size_t dash = spec.find('-');
  const std::size_t slash = spec.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
    return Error{Errc::bad_header, "Content-Range must be 'bytes A-B/SIZE': " + quote(value)};
  auto first = detail::parse_exact_number(spec.substr(0, dash), "first byte", value);
  if (!first) return first.error();
  auto last = detail::parse_exact_number(spec.substr(dash + 1, slash - dash - 1), "last byte", value);
  if (!last) return last.error();
  ContentRange out{ByteRange{*first, *last}, std::nullopt};
  const std::string_view size = spec.substr(slash + 1);
  if (size != "*") {
    auto n = detail::parse_exact_number(size, "complete length", value);
    if (!n) return n.error();
    out.size = *n;
  }
  if (*first > *last) return Error{Errc::bad_range, "Content-Range " + quote(value) + " ends before it starts"};
  if (out.size && *last >= *out.size)
    return Error{Errc::bad_range, "Content-Range " + quote(value) + " reaches beyond the complete length"};
  return out;
}

// "bytes A-B/SIZE"
inline std::string format_content_range(ByteRange r, std::uint64_t size) {
  return "bytes " + std::to_string(r.min) + "-" + std::to_string(r.max) + "/" + std::to_string(size);
}

// Digits only (no sign, no list "5, 5"); bad_header if malformed or beyond 2^64-1.
inline Result<std::uint64_t> parse_content_length(std::string_view value) {
  return detail::parse_exact_number(detail::trim_ows(value), "Content-Length", value);
}

}  // namespace pdtp::http
