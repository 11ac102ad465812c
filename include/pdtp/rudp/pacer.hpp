// Token-bucket pacing: spreads a window's worth of packets over the round trip instead of bursting.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

class Pacer {
 public:
  // The bucket holds at most max(burst_packets datagrams, 1 ms of sending) so a caller woken with
  // millisecond timers can still reach the rate.
  explicit Pacer(std::uint64_t max_datagram_size, std::uint64_t burst_packets = 10) noexcept
      : mss_(max_datagram_size), burst_packets_(burst_packets),
        tokens_(static_cast<double>(burst_packets * max_datagram_size)) {}

  void set_rate(double bytes_per_second) noexcept {
    rate_ = std::max(bytes_per_second, 1.0);
    tokens_ = std::min(tokens_, static_cast<double>(capacity()));
  }
  double rate() const noexcept { return rate_; }

  // When a datagram of `size` bytes may leave: nullopt = now.
  std::optional<TimePoint> delay_until(TimePoint now, std::uint64_t size) noexcept {
    refill(now);
    if (tokens_ >= static_cast<double>(size)) return std::nullopt;
    const double wait = (static_cast<double>(size) - tokens_) / rate_;
    return now + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait)) + Duration(1);
  }

  void on_sent(TimePoint now, std::uint64_t size) noexcept {
    refill(now);
    tokens_ = std::max(tokens_ - static_cast<double>(size), -static_cast<double>(capacity()));
  }

 private:
  std::uint64_t capacity() const noexcept {
    const auto per_ms = static_cast<std::uint64_t>(rate_ / 1000.0);
    return std::max(burst_packets_ * mss_, per_ms);
  }
  void refill(TimePoint now) noexcept {
    if (last_ && now > *last_)
      tokens_ = std::min(tokens_ + rate_ * std::chrono::duration<double>(now - *last_).count(),
                         static_cast<double>(capacity()));
    if (!last_ || now > *last_) last_ = now;
  }

  std::uint64_t mss_;
  std::uint64_t burst_packets_;
  double rate_ = 1e12;  // effectively unpaced until the first rate is set
  double tokens_;
  std::optional<TimePoint> last_;
};

}  // namespace pdtp::rudp
