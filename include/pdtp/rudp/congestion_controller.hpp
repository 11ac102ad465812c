// The interface every congestion controller implements, and what it is told on each ACK.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "pdtp/rudp/delivery_rate.hpp"
#include "pdtp/rudp/rtt.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

enum class CongestionAlgorithm : std::uint8_t {
  bbr,       // model-based (default): random loss alone does not cut the rate
  new_reno,  // loss-based, RFC 9002 appendix B
  ledbat,    // delay-based background mode: yields to other traffic when queues build
};

constexpr std::string_view to_string(CongestionAlgorithm a) noexcept {
  switch (a) {
    case CongestionAlgorithm::bbr: return "bbr";
    case CongestionAlgorithm::new_reno: return "new_reno";
    case CongestionAlgorithm::ledbat: return "ledbat";
  }
  return "unknown";
}

// Everything one ACK frame taught the sender.
struct AckSample {
  TimePoint now{};
  std::uint64_t acked_bytes = 0;              // newly acknowledged in-flight bytes
  TimePoint largest_acked_sent_time{};        // when the newest newly-acked packet was sent
  std::uint64_t prior_bytes_in_flight = 0;    // before this ACK
  std::uint64_t bytes_in_flight = 0;          // after this ACK (and any losses it revealed)
  std::uint64_t delivered = 0;                // total bytes delivered so far
  std::optional<Duration> rtt_sample;         // this ACK's RTT sample, if it gave one
  std::optional<RateSample> rate;             // delivery-rate sample, if trustworthy
  bool app_limited = false;                   // the sender lately had less to send than allowed
  bool loss_in_round = false;                 // packets were declared lost by this ACK
};

class CongestionController {
 public:
  virtual ~CongestionController() = default;
  virtual CongestionAlgorithm algorithm() const noexcept = 0;

  virtual void on_packet_sent(TimePoint /*now*/, std::uint64_t /*bytes*/, std::uint64_t /*bytes_in_flight*/) {}
  virtual void on_ack(const AckSample& sample, const RttEstimator& rtt) = 0;
  // Packets were declared lost; `largest_lost_sent` is when the newest of them was sent.
  // `persistent`: losses spanned more than three probe timeouts with nothing acked in between.
  virtual void on_congestion_event(TimePoint now, TimePoint largest_lost_sent, std::uint64_t lost_bytes,
                                   bool persistent) = 0;

  // Bytes the sender may have in flight.
  virtual std::uint64_t window() const noexcept = 0;
  // Bytes per second to pace at.
  virtual double pacing_rate(const RttEstimator& rtt) const noexcept = 0;
};

}  // namespace pdtp::rudp
