// Path MTU probing for one candidate size, in the manner of RFC 8899 (DPLPMTUD): when a probe may
// go, what its loss means, and when to try again. Sans-I/O: times and RTTs come in as arguments.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// Probes lost for no other reason after which a search gives up (RFC 8899's MAX_PROBES).
inline constexpr int max_mtu_probes = 3;
// A search that gave up starts again after this long (RFC 8899's PMTU_RAISE_TIMER).
inline constexpr Duration mtu_raise_interval = std::chrono::minutes(10);
// A retry waits this many probe timeouts after the loss, doubling with each lost probe of a search.
inline constexpr int mtu_retry_ptos = 2;

class MtuProbe {
 public:
  MtuProbe() = default;
  // `size`: the datagram size to probe; 0 turns probing off.
  explicit MtuProbe(std::size_t size) noexcept : size_(size), due_(size != 0) {}

  // The size being probed; 0 once confirmed (or when off).
  std::size_t size() const noexcept { return size_; }
  // A probe should go now (none in flight, and no timer holds it back).
  bool wants_to_send() const noexcept { return size_ != 0 && due_ && !in_flight_; }

  void on_sent(TimePoint now) noexcept {
    in_flight_ = true;
    due_ = false;
    sent_ = now;
    congested_ = false;
    ++sent_count_;
  }

  // The probe arrived: returns the size the path is now known to carry.
  std::size_t on_acked() noexcept {
    const std::size_t confirmed = size_;
    size_ = 0;
    due_ = in_flight_ = verdict_pending_ = congested_ = false;
    timer_.reset();
    return confirmed;
  }

  // The probe was declared lost; `pto` is the connection's probe timeout (without backoff). The
  // verdict waits for the retry timer, so losses of packets sent near it can still be found.
  void on_lost(TimePoint now, Duration pto) noexcept {
    if (!in_flight_) return;
    in_flight_ = false;
    verdict_pending_ = true;
    const int doublings = std::min(losses_, 16);
    ++losses_;
    const Duration wait = std::min<Duration>(mtu_retry_ptos * pto * (std::int64_t{1} << doublings), mtu_raise_interval);
    timer_ = now + wait;
  }

  // An ordinary ack-eliciting packet sent at `sent` was declared lost; `rtt` is the smoothed RTT.
  void on_other_lost(TimePoint sent, Duration rtt) noexcept {
    if (!in_flight_ && !verdict_pending_) return;
    // Within a round trip of the probe: the same loss event, so the queue, not the size, lost it.
    const Duration gap = sent > sent_ ? sent - sent_ : sent_ - sent;
    if (gap <= rtt) congested_ = true;
  }

  // When on_timeout() must next be called, if a retry or a new search waits.
  std::optional<TimePoint> timer() const noexcept { return timer_; }

  void on_timeout(TimePoint now) noexcept {
    if (!timer_ || now < *timer_) return;
    timer_.reset();
    if (!verdict_pending_) {  // the raise timer: search again from scratch
      due_ = true;
      return;
    }
    verdict_pending_ = false;
    if (!congested_) ++failures_;
    if (failures_ >= max_mtu_probes) {
      failures_ = 0;
      losses_ = 0;
      ++searches_given_up_;
      timer_ = now + mtu_raise_interval;
      return;
    }
    due_ = true;
  }

  // Counters for tests and diagnostics.
  std::uint64_t probes_sent() const noexcept { return sent_count_; }
  int failures() const noexcept { return failures_; }
  std::uint64_t searches_given_up() const noexcept { return searches_given_up_; }

 private:
  std::size_t size_ = 0;
  bool due_ = false;
  bool in_flight_ = false;
  bool verdict_pending_ = false;  // lost, not yet judged (congestion or size)
  bool congested_ = false;        // ordinary packets sent within an RTT of the probe were lost too
  TimePoint sent_{};
  std::optional<TimePoint> timer_;
  int losses_ = 0;    // probes lost in this search, congestion or not (backs off the retry)
  int failures_ = 0;  // probes of this search lost for no other reason
  std::uint64_t sent_count_ = 0;
  std::uint64_t searches_given_up_ = 0;
};

}  // namespace pdtp::rudp
