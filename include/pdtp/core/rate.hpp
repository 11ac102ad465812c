// Bytes per second over the last few seconds, from the times callers pass in (no clock inside).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>

#include "pdtp/core/time.hpp"

namespace pdtp::core {

class RateWindow {
 public:
  static constexpr int seconds = 10;  // window length: one bucket per second

  void add(TimePoint now, std::uint64_t bytes) noexcept {
    const std::int64_t s = second_of(now);
    if (head_ == never) head_ = s;
    if (s > head_) {
      // Clear the buckets of the seconds that passed without traffic.
      const std::int64_t gap = s - head_ < seconds ? s - head_ : seconds;
      for (std::int64_t k = 1; k <= gap; ++k) buckets_[slot(head_ + k)] = 0;
      head_ = s;
    } else if (head_ - s >= seconds) {
      return;  // older than the window (time went backwards): nothing to count it in
    }
    buckets_[slot(s)] += bytes;
  }

  // Average bytes/s over the `seconds` seconds up to and including now.
  double per_second(TimePoint now) const noexcept {
    if (head_ == never) return 0;
    const std::int64_t s = second_of(now);
    const std::int64_t hi = s < head_ ? s : head_;
    const std::int64_t lo = (s > head_ ? s : head_) - (seconds - 1);
    std::uint64_t sum = 0;
    for (std::int64_t t = lo; t <= hi; ++t) sum += buckets_[slot(t)];
    return static_cast<double>(sum) / seconds;
  }

 private:
  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();

  static std::int64_t second_of(TimePoint t) noexcept {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  }
  static std::size_t slot(std::int64_t second) noexcept {
    return static_cast<std::size_t>(((second % seconds) + seconds) % seconds);
  }

  std::array<std::uint64_t, seconds> buckets_{};
  std::int64_t head_ = never;  // the second of the newest bucket
};

}  // namespace pdtp::core
