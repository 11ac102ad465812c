// A delay-based background controller in the manner of LEDBAT (RFC 6817), measured on round-trip
// time since our header carries no timestamps: queueing delay = current RTT - base RTT. The window
// grows while queueing delay is under the target and shrinks in proportion as it exceeds it (at most
// halving per round trip), so a background transfer yields to others that fill the queue. Loss
// halves the window once per RTT.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "pdtp/rudp/congestion_controller.hpp"

namespace pdtp::rudp {

class Ledbat final : public CongestionController {
 public:
  static constexpr std::size_t base_history_minutes = 10;
  static constexpr std::size_t current_delay_samples = 4;

  Ledbat(std::uint64_t max_datagram_size, Duration target) noexcept
      : mss_(max_datagram_size), target_(target > Duration::zero() ? target : std::chrono::milliseconds(100)),
        window_(std::min(10 * mss_, std::max<std::uint64_t>(2 * mss_, 14720))) {}

  CongestionAlgorithm algorithm() const noexcept override { return CongestionAlgorithm::ledbat; }

  void on_ack(const AckSample& s, const RttEstimator&) override {
    if (s.rtt_sample) add_delay_sample(s.now, *s.rtt_sample);
    if (recovery_start_ && s.largest_acked_sent_time <= *recovery_start_) return;
    if (s.app_limited || !base_delay() || s.acked_bytes == 0) return;
    const double queueing = seconds(current_delay() - *base_delay());
    const double target = seconds(effective_target());
    if (slow_start_ && queueing < target / 2) {
      window_ += s.acked_bytes;  // far below target: ramp up quickly, as LEDBAT++ does
      return;
    }
    slow_start_ = false;
    const double acked = static_cast<double>(s.acked_bytes);
    double change = 0;
    if (queueing <= target) {
      // Under target: additive increase of up to one datagram per window acknowledged (RFC 6817).
      change = (target - queueing) / target * acked * static_cast<double>(mss_) / static_cast<double>(window_);
    } else {
      // Over target: shrink in proportion to the overshoot, at most halving per window (as LEDBAT++
      // does), so a background flow gets out of the way within a few round trips.
      change = -std::min(acked * (queueing / target - 1), acked / 2);
    }
    const double next = std::max(static_cast<double>(window_) + change, static_cast<double>(min_window()));
    // Growth is limited by what is actually in flight (RFC 6817's allowed increase).
    const double cap = static_cast<double>(std::max(s.prior_bytes_in_flight, window_) + 2 * mss_);
    window_ = static_cast<std::uint64_t>(std::min(next, cap));
  }

  void on_congestion_event(TimePoint now, TimePoint largest_lost_sent, std::uint64_t, bool persistent) override {
    slow_start_ = false;
    if (!recovery_start_ || largest_lost_sent > *recovery_start_) {
      recovery_start_ = now;
      window_ = std::max(window_ / 2, min_window());
    }
    if (persistent) window_ = min_window();
  }

  std::uint64_t window() const noexcept override { return window_; }
  double pacing_rate(const RttEstimator& rtt) const noexcept override {
    return 1.25 * static_cast<double>(window_) / std::max(seconds(rtt.smoothed()), 1e-4);
  }

  Duration target() const noexcept { return target_; }
  // The configured target, but never more than half the base RTT (at least 1 ms): a background flow
  // must not add a queue that starves model-based flows, which keep at most one min-RTT queued.
  Duration effective_target() const noexcept {
    const auto base = base_delay();
    if (!base) return target_;
    return std::min(target_, std::max<Duration>(*base / 2, std::chrono::milliseconds(1)));
  }
  std::optional<Duration> base_delay() const noexcept {
    std::optional<Duration> m;
    for (const auto& b : base_)
      if (b.valid && (!m || b.min < *m)) m = b.min;
    return m;
  }
  Duration current_delay() const noexcept {
    Duration m = current_[0];
    for (std::size_t i = 1; i < std::min(current_count_, current_delay_samples); ++i) m = std::min(m, current_[i]);
    return m;
  }

 private:
  struct MinuteMin {
    bool valid = false;
    std::int64_t minute = 0;
    Duration min{};
  };

  static double seconds(Duration d) noexcept { return std::chrono::duration<double>(d).count(); }
  std::uint64_t min_window() const noexcept { return 2 * mss_; }

  void add_delay_sample(TimePoint now, Duration rtt) noexcept {
    current_[current_count_ % current_delay_samples] = rtt;
    ++current_count_;
    // The base delay is the minimum over the last ten minutes, kept per minute so it can age out.
    const std::int64_t minute = std::chrono::duration_cast<std::chrono::minutes>(now.time_since_epoch()).count();
    auto& slot = base_[static_cast<std::size_t>(minute) % base_history_minutes];
    if (!slot.valid || slot.minute != minute) slot = MinuteMin{true, minute, rtt};
    slot.min = std::min(slot.min, rtt);
    for (auto& b : base_)
      if (b.valid && b.minute + static_cast<std::int64_t>(base_history_minutes) <= minute) b.valid = false;
  }

  std::uint64_t mss_;
  Duration target_;
  std::uint64_t window_;
  bool slow_start_ = true;
  std::optional<TimePoint> recovery_start_;
  std::array<MinuteMin, base_history_minutes> base_{};
  std::array<Duration, current_delay_samples> current_{};
  std::size_t current_count_ = 0;
};

}  // namespace pdtp::rudp
