// Round-trip time estimation as RFC 9002 section 5 describes it: min, smoothed, variation, latest.
#pragma once

#include <algorithm>
#include <chrono>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

inline constexpr Duration granularity = std::chrono::milliseconds(1);

class RttEstimator {
 public:
  explicit RttEstimator(Duration initial_rtt = std::chrono::milliseconds(333)) noexcept
      : smoothed_(initial_rtt), var_(initial_rtt / 2), latest_(initial_rtt), min_(initial_rtt) {}

  // `latest`: time from sending the newly acked largest packet to its ACK; `ack_delay`: what the
  // peer reports it held that ACK back, already capped at its max_ack_delay by the caller.
  void update(Duration latest, Duration ack_delay) noexcept {
    latest = std::max(latest, Duration::zero());  // a caller's clock that stepped back must not poison the filter
    latest_ = latest;
    if (!has_sample_) {
      has_sample_ = true;
      min_ = latest;
      smoothed_ = latest;
      var_ = latest / 2;
      return;
    }
    min_ = std::min(min_, latest);
    // Subtract the peer's delay only when that cannot take the sample below the minimum.
    Duration adjusted = latest;
    if (latest >= min_ + ack_delay) adjusted = latest - ack_delay;
    const Duration diff = smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
    var_ = (var_ * 3 + diff) / 4;
    smoothed_ = (smoothed_ * 7 + adjusted) / 8;
  }

  // Probe timeout before backoff: srtt + max(4 rttvar, granularity) + the peer's max ack delay.
  Duration pto_base(Duration max_ack_delay) const noexcept {
    return smoothed_ + std::max(var_ * 4, granularity) + max_ack_delay;
  }

  bool has_sample() const noexcept { return has_sample_; }
  Duration smoothed() const noexcept { return smoothed_; }
  Duration variation() const noexcept { return var_; }
  Duration latest() const noexcept { return latest_; }
  Duration min() const noexcept { return min_; }

 private:
  bool has_sample_ = false;
  Duration smoothed_;
  Duration var_;
  Duration latest_;
  Duration min_;
};

}  // namespace pdtp::rudp
