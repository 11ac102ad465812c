#include "setting_values.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

namespace pdtp::server {

namespace {

Error bad_value(std::string expected, std::string_view got) {
  return Error{Errc::bad_config, "expected " + std::move(expected) + ", got " + quote_for_message(got)};
}

bool is_space_or_control(unsigned char c) { return c <= 0x20 || c == 0x7f; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t max_shown = 60;
  std::string out = "'";
  std::size_t shown = 0;
  for (char ch : text) {
    if (shown == max_shown) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
    ++shown;
  }
  out += "'";
  return out;
}

Result<std::uint64_t> parse_uint_value(std::string_view text, std::uint64_t lo, std::uint64_t hi,
                                       std::string_view unit) {
  std::string expected = "an integer " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!unit.empty()) expected += " (" + std::string(unit) + ")";
  if (text.empty() || text.size() > 20) return bad_value(std::move(expected), text);
  for (char c : text) {
    if (c < '0' || c > '9') return bad_value(std::move(expected), text);
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < lo || value > hi) {
    return bad_value(std::move(expected), text);
  }
  return value;
}

Result<std::uint16_t> parse_port_value(std::string_view text) {
  auto v = parse_uint_value(text, 1, max_port);
  if (!v) return v.error();
  return static_cast<std::uint16_t>(*v);
}

Result<std::uint64_t> parse_chunk_size_value(std::string_view text) {
  return parse_uint_value(text, min_chunk_size, max_chunk_size, "bytes");
}

Result<unsigned> parse_slots_value(std::string_view text) {
  auto v = parse_uint_value(text, 1, max_slots);
  if (!v) return v.error();
  return static_cast<unsigned>(*v);
}

Result<unsigned> parse_timeout_ms_value(std::string_view text) {
  auto v = parse_uint_value(text, 1, max_transfer_timeout_ms, "milliseconds");
  if (!v) return v.error();
  return static_cast<unsigned>(*v);
}

Result<std::size_t> parse_udp_datagram_size_value(std::string_view text) {
  auto v = parse_uint_value(text, min_udp_datagram_size, max_udp_datagram_size, "bytes");
  if (!v) return v.error();
  return static_cast<std::size_t>(*v);
}

Result<bool> parse_bool_value(std::string_view text) {
  const std::string t = lower(text);
  if (t == "true" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "no" || t == "off") return false;
  return bad_value("true or false", text);
}

Result<std::string> parse_host_value(std::string_view text) {
  if (text.empty() || text.size() > 253) return bad_value("a host name or address", text);
  for (char c : text) {
    if (is_space_or_control(static_cast<unsigned char>(c))) return bad_value("a host name or address", text);
  }
  return std::string(text);
}

Result<std::string> parse_vhost_value(std::string_view text) {
  if (text.empty()) return std::string();
  return parse_host_value(text);
}

Result<TransportMode> parse_transport_value(std::string_view text) {
  const std::string t = lower(text);
  if (t == "tcp") return TransportMode::tcp;
  if (t == "udp") return TransportMode::udp;
  if (t == "both") return TransportMode::both;
  return bad_value("tcp, udp or both", text);
}

Result<std::filesystem::path> parse_file_value(std::string_view text) {
  if (text.empty() || text.find('\0') != std::string_view::npos) return bad_value("a file name", text);
  return std::filesystem::path(std::string(text));
}

std::string_view transport_name(TransportMode mode) noexcept {
  switch (mode) {
    case TransportMode::tcp: return "tcp";
    case TransportMode::udp: return "udp";
    case TransportMode::both: return "both";
  }
  return "both";
}

std::string_view transports_text(TransportMode mode) noexcept {
  switch (mode) {
    case TransportMode::tcp: return "tcp";
    case TransportMode::udp: return "udp";
    case TransportMode::both: return "tcp+udp";
  }
  return "tcp+udp";
}

}  // namespace pdtp::server
