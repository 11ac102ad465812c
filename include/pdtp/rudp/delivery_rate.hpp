// Delivery-rate samples in the manner of the IETF delivery-rate-estimation draft: how fast acked
// data actually arrived, measured over the interval each packet spent in flight.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "pdtp/rudp/sent_packets.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

struct RateSample {
  bool valid = false;            // the interval was long enough to trust the rate
  double bytes_per_second = 0;   // meaningful only when valid
  std::uint64_t prior_delivered = 0;  // connection's delivered count when the sampled packet was sent
  Duration interval{};
  bool app_limited = false;  // taken while the sender had too little to send: a lower bound only
};

class DeliveryRateSampler {
 public:
  // Call before handing the packet to the store.
  void on_packet_sent(SentPacket& p, std::uint64_t bytes_in_flight_before) noexcept {
    if (bytes_in_flight_before == 0) {
      first_sent_time_ = p.time_sent;
      delivered_time_ = p.time_sent;
    }
    p.delivered = delivered_;
    p.delivered_time = delivered_time_;
    p.first_sent_time = first_sent_time_;
    p.app_limited = app_limited_until_ != 0;
  }

  // Call for every newly acknowledged in-flight packet of one ACK, then take_sample().
  void on_packet_acked(const SentPacket& p, TimePoint now) noexcept {
    delivered_ += p.size;
    delivered_time_ = now;
    if (!have_ || p.delivered >= prior_delivered_) {
      have_ = true;
      prior_delivered_ = p.delivered;
      prior_time_ = p.delivered_time;
      sample_app_limited_ = p.app_limited;
      send_elapsed_ = p.time_sent - p.first_sent_time;
      ack_elapsed_ = delivered_time_ - p.delivered_time;
      first_sent_time_ = p.time_sent;
    }
  }

  // The sample for the ACK just processed; nullopt if no packet was acked. Not `valid` when the
  // interval is shorter than the minimum RTT (that would overstate the rate).
  std::optional<RateSample> take_sample(Duration min_rtt) noexcept {
    if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
    if (!have_) return std::nullopt;
    have_ = false;
    const Duration interval = std::max(send_elapsed_, ack_elapsed_);
    RateSample s;
    s.prior_delivered = prior_delivered_;
    s.interval = interval;
    s.app_limited = sample_app_limited_;
    if (interval <= Duration::zero() || interval < min_rtt) return s;
    s.valid = true;
    s.bytes_per_second =
        static_cast<double>(delivered_ - prior_delivered_) / std::chrono::duration<double>(interval).count();
    return s;
  }

  // The sender has less to send than the window allows: samples until the data in flight now is
  // delivered say nothing about the path's capacity.
  void on_app_limited(std::uint64_t bytes_in_flight) noexcept {
    app_limited_until_ = std::max<std::uint64_t>(delivered_ + bytes_in_flight, 1);
  }

  std::uint64_t delivered() const noexcept { return delivered_; }
  bool app_limited() const noexcept { return app_limited_until_ != 0; }

 private:
  std::uint64_t delivered_ = 0;
  TimePoint delivered_time_{};
  TimePoint first_sent_time_{};
  std::uint64_t app_limited_until_ = 0;
  // The sample being built for the current ACK.
  bool have_ = false;
  std::uint64_t prior_delivered_ = 0;
  TimePoint prior_time_{};
  bool sample_app_limited_ = false;
  Duration send_elapsed_{};
  Duration ack_elapsed_{};
};

}  // namespace pdtp::rudp
