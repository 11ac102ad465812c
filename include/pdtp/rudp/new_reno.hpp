// NewReno as RFC 9002 appendix B describes it: slow start, congestion avoidance, one halving per
// recovery period, collapse to the minimum window on persistent congestion.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "pdtp/rudp/congestion_controller.hpp"

namespace pdtp::rudp {

class NewReno final : public CongestionController {
 public:
  explicit NewReno(std::uint64_t max_datagram_size) noexcept
      : mss_(max_datagram_size),
        window_(std::min(10 * mss_, std::max<std::uint64_t>(2 * mss_, 14720))),
        ssthresh_(UINT64_MAX) {}

  CongestionAlgorithm algorithm() const noexcept override { return CongestionAlgorithm::new_reno; }

  void on_ack(const AckSample& s, const RttEstimator&) override {
    if (in_recovery(s.largest_acked_sent_time)) return;
    if (s.app_limited) return;  // an unused window proves nothing about the path
    if (window_ < ssthresh_) {
      window_ += s.acked_bytes;
    } else {
      // One datagram per window of acked bytes.
      acked_in_ca_ += s.acked_bytes;
      if (acked_in_ca_ >= window_) {
        acked_in_ca_ -= window_;
        window_ += mss_;
      }
    }
  }

  void on_congestion_event(TimePoint now, TimePoint largest_lost_sent, std::uint64_t, bool persistent) override {
    if (!in_recovery(largest_lost_sent)) {
      recovery_start_ = now;
      ssthresh_ = std::max(window_ / 2, min_window());
      window_ = ssthresh_;
      acked_in_ca_ = 0;
    }
    if (persistent) {
      window_ = min_window();
      acked_in_ca_ = 0;
    }
  }

  std::uint64_t window() const noexcept override { return window_; }
  double pacing_rate(const RttEstimator& rtt) const noexcept override {
    const double srtt = std::max(std::chrono::duration<double>(rtt.smoothed()).count(), 1e-4);
    return 1.25 * static_cast<double>(window_) / srtt;
  }
  std::uint64_t slow_start_threshold() const noexcept { return ssthresh_; }

 private:
  std::uint64_t min_window() const noexcept { return 2 * mss_; }
  bool in_recovery(TimePoint sent) const noexcept { return recovery_start_ && sent <= *recovery_start_; }

  std::uint64_t mss_;
  std::uint64_t window_;
  std::uint64_t ssthresh_;
  std::uint64_t acked_in_ca_ = 0;
  std::optional<TimePoint> recovery_start_;
};

}  // namespace pdtp::rudp
