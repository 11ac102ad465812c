// Parsers for single setting values, shared by the config file and the command line so both
// accept the same spellings and reject with the same words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "pdtp/result.hpp"
#include "pdtp/rudp/packet.hpp"
#include "settings.hpp"

namespace pdtp::server {

inline constexpr std::uint64_t min_chunk_size = 1024;
inline constexpr std::uint64_t max_chunk_size = 16u * 1024 * 1024;
inline constexpr std::uint16_t max_port = 65534;  // port + 1 (the HTTP port) must fit too
inline constexpr unsigned max_slots = 1000000;
inline constexpr unsigned max_transfer_timeout_ms = 86400000;  // one day
// The range rudp::validate() accepts for Config::max_datagram_size.
inline constexpr std::size_t min_udp_datagram_size = rudp::min_datagram_size;  // 1200
inline constexpr std::size_t max_udp_datagram_size = rudp::max_udp_payload;    // 65527

// Every parser returns Errc::bad_config with a message "expected ..., got '...'"; callers
// prefix it with where the value came from ("conf/x.yml: key 'port': " or "--port: ").

// Decimal digits only (no sign, no hex, no spaces), within [lo, hi].
Result<std::uint64_t> parse_uint_value(std::string_view text, std::uint64_t lo, std::uint64_t hi,
                                       std::string_view unit = {});
Result<std::uint16_t> parse_port_value(std::string_view text);
Result<std::uint64_t> parse_chunk_size_value(std::string_view text);
Result<unsigned> parse_slots_value(std::string_view text);
Result<unsigned> parse_timeout_ms_value(std::string_view text);
// The largest UDP datagram to send, in bytes: 1200..65527.
Result<std::size_t> parse_udp_datagram_size_value(std::string_view text);
// true/false, yes/no, on/off (any case).
Result<bool> parse_bool_value(std::string_view text);
// A host name or address: 1..253 characters, no whitespace or control characters.
Result<std::string> parse_host_value(std::string_view text);
// Like a host, but empty is allowed (= no vhost).
Result<std::string> parse_vhost_value(std::string_view text);
// tcp, udp or both (any case).
Result<TransportMode> parse_transport_value(std::string_view text);
// A file name: not empty, no NUL byte. Relative names are left for the caller to resolve.
Result<std::filesystem::path> parse_file_value(std::string_view text);

// "tcp", "udp" or "both": the spelling parse_transport_value accepts.
std::string_view transport_name(TransportMode mode) noexcept;
// What listens, for people: "tcp", "udp" or "tcp+udp".
std::string_view transports_text(TransportMode mode) noexcept;

// `text` in single quotes for an error message: control bytes escaped, long values cut, so
// the message stays on one line and short.
std::string quote_for_message(std::string_view text);

}  // namespace pdtp::server
