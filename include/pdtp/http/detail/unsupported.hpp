// Message prefixes of the Errc::unsupported errors, so status_for can tell 405, 416, 501 and 505 apart.
#pragma once

#include <string_view>

namespace pdtp::http::detail {

inline constexpr std::string_view unsupported_version = "unsupported HTTP version";  // -> 505
inline constexpr std::string_view unsupported_method = "method not allowed";         // -> 405
inline constexpr std::string_view unsupported_ranges = "multiple ranges";            // -> 416
inline constexpr std::string_view unsupported_coding = "transfer coding";            // -> 501

}  // namespace pdtp::http::detail
