// Loss detection and probe timeouts as RFC 9002 describes them, feeding a congestion controller.
// Packet threshold 3, time threshold 9/8 RTT, 1 ms granularity, exponential PTO backoff, persistent
// congestion after three PTO periods of consecutive losses.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/rudp/congestion_controller.hpp"
#include "pdtp/rudp/delivery_rate.hpp"
#include "pdtp/rudp/frame.hpp"
#include "pdtp/rudp/rtt.hpp"
#include "pdtp/rudp/sent_packets.hpp"

namespace pdtp::rudp {

inline constexpr std::uint64_t packet_threshold = 3;
inline constexpr std::uint32_t persistent_congestion_threshold = 3;
inline constexpr std::uint32_t max_pto_backoff_exponent = 16;
inline constexpr Duration max_pto_period = std::chrono::seconds(60);

class LossRecovery {
 public:
  LossRecovery(Duration initial_rtt, Duration peer_max_ack_delay, std::unique_ptr<CongestionController> cc)
      : rtt_(initial_rtt), peer_max_ack_delay_(peer_max_ack_delay), cc_(std::move(cc)) {}

  // Records a packet just sent with number next_packet_number() - 1 or later (numbers only grow).
  void on_packet_sent(SentPacket&& p) {
    sampler_.on_packet_sent(p, bytes_in_flight_);
    if (p.in_flight()) {
      bytes_in_flight_ += p.size;
      last_ack_eliciting_sent_ = p.time_sent;
      cc_->on_packet_sent(p.time_sent, p.size, bytes_in_flight_);
    }
    largest_sent_ = p.number;
    sent_.push(std::move(p));
  }

  // Processes an ACK frame. Handler gets acked(const SentPacket&) and lost(const SentPacket&) for
  // every packet newly resolved. Error: the frame acknowledges a packet never sent.
  template <class Handler>
  Status on_ack(TimePoint now, const AckFrame& ack, Handler& handler) {
    if (!largest_sent_ || ack.largest() > *largest_sent_)
      return Error{Errc::bad_field, "ACK of packet " + std::to_string(ack.largest()) + " which was never sent"};
    if (!largest_acked_ || ack.largest() > *largest_acked_) largest_acked_ = ack.largest();

    const std::uint64_t prior_in_flight = bytes_in_flight_;
    std::uint64_t acked_bytes = 0;
    std::optional<PacketNumber> newest;
    TimePoint newest_sent{};
    bool largest_newly_acked_eliciting = false;
    TimePoint largest_sent_time{};
    const auto first = sent_.first();
    for (auto it = ack.ranges.rbegin(); first && it != ack.ranges.rend(); ++it) {
      const PacketNumber lo = std::max(it->smallest, *first);
      for (PacketNumber pn = lo; pn <= it->largest; ++pn) {
        SentPacket* p = sent_.find(pn);
        if (p == nullptr) break;
        if (p->state != SentPacket::State::outstanding) continue;
        p->state = SentPacket::State::acked;
        if (p->in_flight()) {
          bytes_in_flight_ -= p->size;
          acked_bytes += p->size;
          sampler_.on_packet_acked(*p, now);
        }
        if (!newest || pn > *newest) {
          newest = pn;
          newest_sent = p->time_sent;
        }
        if (pn == ack.largest()) {
          largest_newly_acked_eliciting = p->ack_eliciting;
          largest_sent_time = p->time_sent;
        }
        handler.acked(*p);
      }
    }
    if (!newest) return Ok{};

    std::optional<Duration> rtt_sample;
    if (largest_newly_acked_eliciting) {
      // Capped in microseconds first: a hostile delay must not overflow the conversion.
      const auto cap_us = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(peer_max_ack_delay_).count());
      const Duration delay = std::chrono::microseconds(std::min(ack.ack_delay_us, cap_us));
      rtt_sample = std::max(now - largest_sent_time, Duration::zero());  // a clock stepping back gives no negative RTT
      rtt_.update(*rtt_sample, delay);
      if (!first_rtt_sample_) first_rtt_sample_ = now;
    }
    pto_count_ = 0;

    const bool lost = detect_lost(now, handler);
    AckSample s;
    s.now = now;
    s.acked_bytes = acked_bytes;
    s.largest_acked_sent_time = newest_sent;
    s.prior_bytes_in_flight = prior_in_flight;
    s.bytes_in_flight = bytes_in_flight_;
    s.delivered = sampler_.delivered();
    s.rtt_sample = rtt_sample;
    s.rate = sampler_.take_sample(rtt_.has_sample() ? rtt_.min() : Duration::zero());
    s.app_limited = sampler_.app_limited();
    s.loss_in_round = lost;
    cc_->on_ack(s, rtt_);
    sent_.trim();
    return Ok{};
  }

  // Call when timer() has passed: runs loss detection or arms probe packets.
  template <class Handler>
  void on_timeout(TimePoint now, Handler& handler) {
    if (loss_time_ && now >= *loss_time_) {
      detect_lost(now, handler);
      sent_.trim();
      return;
    }
    if (auto pto = pto_time(); pto && now >= *pto) {
      if (pto_count_ < max_pto_backoff_exponent) ++pto_count_;
      probes_ = 2;
    }
  }

  // The earlier of the loss-time and probe timers, if either is armed.
  std::optional<TimePoint> timer() const noexcept {
    if (loss_time_) return loss_time_;
    return pto_time();
  }

  // Probe timeout period with the current backoff, capped at max_pto_period.
  Duration pto_period() const noexcept {
    const Duration base = pto_base();
    const Duration backed_off = base * (std::uint64_t{1} << pto_count_);
    return std::max(base, std::min(backed_off, max_pto_period));
  }
  // Probe timeout without backoff: the unit for idle and closing periods.
  Duration pto_base() const noexcept { return rtt_.pto_base(peer_max_ack_delay_); }

  // Probe packets still owed after a PTO: they go out even if the window is full.
  std::uint32_t probes_owed() const noexcept { return probes_; }
  void on_probe_sent() noexcept {
    if (probes_ > 0) --probes_;
  }

  // The sender had less data than the window allowed.
  void on_app_limited() noexcept { sampler_.on_app_limited(bytes_in_flight_); }

  bool window_allows_send() const noexcept { return bytes_in_flight_ < cc_->window(); }
  std::uint64_t bytes_in_flight() const noexcept { return bytes_in_flight_; }
  std::uint64_t window() const noexcept { return cc_->window(); }
  double pacing_rate() const noexcept { return cc_->pacing_rate(rtt_); }
  const RttEstimator& rtt() const noexcept { return rtt_; }
  const CongestionController& congestion() const noexcept { return *cc_; }
  std::uint32_t pto_count() const noexcept { return pto_count_; }
  std::size_t tracked_packets() const noexcept { return sent_.size(); }
  std::uint64_t lost_packets() const noexcept { return lost_count_; }
  std::uint64_t persistent_congestion_events() const noexcept { return persistent_count_; }
  std::optional<PacketNumber> largest_acked() const noexcept { return largest_acked_; }

 private:
  std::optional<TimePoint> pto_time() const noexcept {
    if (bytes_in_flight_ == 0 || !last_ack_eliciting_sent_) return std::nullopt;
    return *last_ack_eliciting_sent_ + pto_period();
  }

  // Declares lost every outstanding packet at or below the largest acknowledged that is 3 packets
  // or 9/8 RTT older than it, and arms the loss timer for the next one to cross that line.
  template <class Handler>
  bool detect_lost(TimePoint now, Handler& handler) {
    loss_time_.reset();
    if (!largest_acked_) return false;
    const Duration base = std::max(rtt_.latest(), rtt_.smoothed());
    const Duration loss_delay = std::max<Duration>(base + base / 8, granularity);
    const TimePoint lost_send_time = now - loss_delay;
    const Duration pc_period = rtt_.pto_base(peer_max_ack_delay_) * persistent_congestion_threshold;

    std::uint64_t lost_bytes = 0;
    std::optional<TimePoint> largest_lost_sent;
    bool in_run = false;  // inside a run of consecutive lost packets
    TimePoint run_start{};
    bool persistent = false;
    for (auto& p : sent_) {
      if (p.number > *largest_acked_) break;
      if (p.state == SentPacket::State::acked) {
        in_run = false;  // an acknowledgement in between ends a run of losses
        continue;
      }
      if (p.state == SentPacket::State::lost) continue;
      if (p.time_sent > lost_send_time && *largest_acked_ < p.number + packet_threshold) {
        loss_time_ = p.time_sent + loss_delay;
        break;  // later packets are newer still
      }
      p.state = SentPacket::State::lost;
      ++lost_count_;
      if (p.mtu_probe) {  // too big for the path, most likely: not a congestion signal
        if (p.in_flight()) bytes_in_flight_ -= p.size;
        handler.lost(p);
        continue;
      }
      if (p.in_flight()) {
        bytes_in_flight_ -= p.size;
        lost_bytes += p.size;
        largest_lost_sent = p.time_sent;
        if (first_rtt_sample_ && p.time_sent > *first_rtt_sample_) {
          if (!in_run) {
            in_run = true;
            run_start = p.time_sent;
          }
          if (p.time_sent - run_start > pc_period) persistent = true;
        }
      }
      handler.lost(p);
    }
    if (!largest_lost_sent) return false;
    if (persistent) ++persistent_count_;
    cc_->on_congestion_event(now, *largest_lost_sent, lost_bytes, persistent);
    return true;
  }

  RttEstimator rtt_;
  Duration peer_max_ack_delay_;
  std::unique_ptr<CongestionController> cc_;
  DeliveryRateSampler sampler_;
  SentPackets sent_;
  std::uint64_t bytes_in_flight_ = 0;
  std::optional<PacketNumber> largest_sent_;
  std::optional<PacketNumber> largest_acked_;
  std::optional<TimePoint> last_ack_eliciting_sent_;
  std::optional<TimePoint> loss_time_;
  std::optional<TimePoint> first_rtt_sample_;
  std::uint32_t pto_count_ = 0;
  std::uint32_t probes_ = 0;
  std::uint64_t lost_count_ = 0;
  std::uint64_t persistent_count_ = 0;
};

}  // namespace pdtp::rudp
