// Per-connection settings and the protocol constants both ends assume without negotiating.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/rudp/congestion_controller.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// Credit each side may use before the first MAX_* frame arrives (receivers always allow at least this).
inline constexpr std::uint64_t initial_max_stream_data = 64 * 1024;
inline constexpr std::uint64_t initial_max_data = 256 * 1024;
inline constexpr std::uint64_t initial_max_streams = 16;
// How long a receiver may hold back an ACK for an ack-eliciting packet (both ends assume it).
inline constexpr Duration max_ack_delay = std::chrono::milliseconds(25);
// CLOSE reasons longer than this are cut when sent.
inline constexpr std::size_t max_close_reason = 512;
// Timeouts and intervals above this are refused (they would only risk overflowing time arithmetic).
inline constexpr Duration max_config_duration = std::chrono::hours(24);

struct Config {
  std::size_t max_datagram_size = min_datagram_size;   // UDP payload we send: 1200 .. 65527 (1452 suits Ethernet)
  // Path MTU probing (mtu_probe.hpp, RFC 8899): once open, the connection sends a PING padded to
  // this size (0: never); once one is acknowledged it sends datagrams up to this size. A lost probe
  // is retried after a probe timer; three lost for no other reason give the search up for 10
  // minutes; probes lost with ordinary packets (congestion) do not count. Never taken for
  // congestion. Must exceed max_datagram_size to do anything.
  std::size_t probe_datagram_size = 0;
  std::uint64_t stream_receive_window = 1 << 20;         // per stream, bytes buffered for the reader
  std::uint64_t connection_receive_window = 8 << 20;     // all streams together
  std::uint64_t stream_send_buffer = 1 << 20;            // per stream, bytes written but not yet acknowledged
  std::uint64_t max_incoming_streams = 100;              // streams the peer may have open at once
  Duration idle_timeout = std::chrono::seconds(30);      // close when nothing is heard for this long
  Duration keep_alive_interval = Duration::zero();       // send PING after this much quiet (zero: off)
  Duration initial_rtt = std::chrono::milliseconds(333);
  CongestionAlgorithm congestion = CongestionAlgorithm::bbr;
  Duration ledbat_target = std::chrono::milliseconds(100);  // queueing delay LEDBAT mode aims for
  bool pacing = true;
  std::size_t max_ack_ranges = 32;           // ranges kept and reported in ACK frames
  std::size_t max_tracked_packets = 16384;   // sent packets awaiting their fate; more blocks sending
};

inline Status validate(const Config& c) {
  auto bad = [](std::string what) { return Error{Errc::bad_config, std::move(what)}; };
  if (c.max_datagram_size < min_datagram_size || c.max_datagram_size > max_udp_payload)
    return bad("max_datagram_size " + std::to_string(c.max_datagram_size) + " outside 1200..65527");
  if (c.probe_datagram_size != 0 && (c.probe_datagram_size < min_datagram_size || c.probe_datagram_size > max_udp_payload))
    return bad("probe_datagram_size " + std::to_string(c.probe_datagram_size) + " outside 1200..65527 (or 0: off)");
  if (c.stream_receive_window < initial_max_stream_data || c.stream_receive_window > (std::uint64_t{1} << 32))
    return bad("stream_receive_window " + std::to_string(c.stream_receive_window) + " outside 65536..2^32");
  if (c.connection_receive_window < initial_max_data || c.connection_receive_window > (std::uint64_t{1} << 40))
    return bad("connection_receive_window " + std::to_string(c.connection_receive_window) + " outside 262144..2^40");
  if (c.stream_send_buffer < 4096 || c.stream_send_buffer > (std::uint64_t{1} << 32))
    return bad("stream_send_buffer " + std::to_string(c.stream_send_buffer) + " outside 4096..2^32");
  if (c.max_incoming_streams < initial_max_streams || c.max_incoming_streams > (std::uint64_t{1} << 20))
    return bad("max_incoming_streams " + std::to_string(c.max_incoming_streams) + " outside 16..2^20");
  if (c.idle_timeout <= Duration::zero() || c.idle_timeout > max_config_duration)
    return bad("idle_timeout must be positive and at most 24 hours");
  if (c.keep_alive_interval < Duration::zero() || c.keep_alive_interval > max_config_duration)
    return bad("keep_alive_interval must be between 0 (off) and 24 hours");
  if (c.initial_rtt <= Duration::zero() || c.initial_rtt > std::chrono::seconds(60))
    return bad("initial_rtt must be positive and at most 60 s");
  if (c.ledbat_target <= Duration::zero() || c.ledbat_target > std::chrono::seconds(10))
    return bad("ledbat_target must be positive and at most 10 s");
  if (c.max_ack_ranges < 1 || c.max_ack_ranges > 256)
    return bad("max_ack_ranges " + std::to_string(c.max_ack_ranges) + " outside 1..256");
  if (c.max_tracked_packets < 64 || c.max_tracked_packets > (1u << 22))
    return bad("max_tracked_packets " + std::to_string(c.max_tracked_packets) + " outside 64..4194304");
  return Ok{};
}

}  // namespace pdtp::rudp
