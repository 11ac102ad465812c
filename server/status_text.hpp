// Small text helpers for the status renderers: escaping and human-readable numbers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pdtp::server {

// Replaces every invalid UTF-8 sequence with U+FFFD (client ids and file names are arbitrary bytes).
std::string valid_utf8(std::string_view text);
// UTF-8-cleaned text with & < > " ' escaped; safe in element content and quoted attributes.
std::string html_escape(std::string_view text);
// A Prometheus label value: UTF-8-cleaned, with \ " and newline escaped.
std::string prometheus_label_escape(std::string_view text);
// 999 B, 5 kB, 250 kB, 1.23 MB, 12.3 GB (decimal units, three significant digits).
std::string human_bytes(std::uint64_t bytes);
// human_bytes of a rate, plus "/s"; negative or non-finite rates read as 0 B/s.
std::string human_rate(double bytes_per_second);
// 0.2 s, 42 s, 3 m 07 s, 2 h 05 m, 3 d 04 h.
std::string human_duration(double seconds);
// 37.5% (one decimal) of a 0..1 fraction.
std::string percent(double fraction);
// A double for machine formats: shortest round-trip form; NaN and infinities as Prometheus spells them.
std::string number_text(double value);

}  // namespace pdtp::server
