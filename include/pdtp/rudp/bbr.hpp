// A model-based controller in the manner of BBR (v1): it estimates the bottleneck bandwidth (windowed
// max of delivery-rate samples) and the minimum RTT, paces at gain x bandwidth and caps data in flight
// at gain x bandwidth-delay product. Loss is not a signal here, so random loss alone does not cut the
// rate; persistent congestion (nothing acked for three probe timeouts) collapses the window.
// Loss together with a standing queue is another matter: a round trip that loses more than 2% of
// its data while even its smallest RTT stands 1.25x above the minimum means the bandwidth estimate outran the
// bottleneck (e.g. ACK compression inflated a sample), so the estimate is capped at what that round
// actually delivered (in the manner of BBRv2's loss bound). Random loss without a queue never caps.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

#include "pdtp/rudp/congestion_controller.hpp"

namespace pdtp::rudp {

class Bbr final : public CongestionController {
 public:
  enum class Mode : std::uint8_t { startup, drain, probe_bw, probe_rtt };

  static constexpr double high_gain = 2.885;  // 2/ln(2): doubles the sending rate each round
  static constexpr double probe_bw_cwnd_gain = 2.0;
  // Startup's window allows 2 x BDP in flight (as BBRv3): its 2.885 pacing gain still doubles the
  // rate each round, and the overshoot when the pipe fills stays within a one-BDP queue.
  static constexpr double startup_cwnd_gain = 2.0;
  // 32 datagrams, not TCP's 10 (as Google's QUIC): the first flight is paced over the handshake's
  // RTT, not sent as a burst, and a chunk transfer reaches the path's rate about two rounds sooner.
  static constexpr std::uint64_t initial_window_packets = 32;
  static constexpr std::size_t bw_window_rounds = 10;
  static constexpr std::array<double, 8> gain_cycle = {1.25, 0.75, 1, 1, 1, 1, 1, 1};

  // `seed` picks the starting phase of the gain cycle so flows do not probe in lockstep.
  Bbr(std::uint64_t max_datagram_size, std::uint64_t seed) noexcept
      : mss_(max_datagram_size), cwnd_(initial_window()), seed_(seed) {}

  CongestionAlgorithm algorithm() const noexcept override { return CongestionAlgorithm::bbr; }

  void on_ack(const AckSample& s, const RttEstimator& rtt) override {
    bool round_start = false;
    if (s.rate && s.rate->prior_delivered >= next_round_delivered_) {
      next_round_delivered_ = s.delivered;
      ++round_;
      round_start = true;
      end_loss_round();
    }
    round_acked_ += s.acked_bytes;
    if (s.rtt_sample) {
      round_min_rtt_ = std::min(round_min_rtt_, *s.rtt_sample);
      ++round_rtt_samples_;
    }
    if (s.rate && s.rate->valid && !s.rate->app_limited)
      round_best_rate_ = std::max(round_best_rate_, s.rate->bytes_per_second);
    if (s.rate && s.rate->valid && (!s.rate->app_limited || s.rate->bytes_per_second >= max_bw()))
      update_bw_filter(s.rate->bytes_per_second);

    if (mode_ == Mode::probe_bw) update_cycle_phase(s);
    if (round_start && !filled_pipe_ && s.rate && !s.rate->app_limited) check_full_pipe();
    if (!filled_pipe_) check_startup_delay();
    if (mode_ == Mode::startup && filled_pipe_) {
      mode_ = Mode::drain;
      pacing_gain_ = 1 / high_gain;
      cwnd_gain_ = high_gain;
    }
    if (mode_ == Mode::drain && s.bytes_in_flight <= bdp(1.0)) enter_probe_bw(s.now);
    update_min_rtt(s, round_start);
    update_pacing_rate(rtt);
    update_window(s);
  }

  void on_congestion_event(TimePoint, TimePoint, std::uint64_t lost_bytes, bool persistent) override {
    round_lost_ += lost_bytes;
    if (persistent) cwnd_ = min_window();
  }

  std::uint64_t window() const noexcept override { return cwnd_; }
  double pacing_rate(const RttEstimator& rtt) const noexcept override {
    if (pacing_rate_ > 0) return pacing_rate_;
    return high_gain * static_cast<double>(initial_window()) / seconds(rtt.smoothed());
  }

  Mode mode() const noexcept { return mode_; }
  double max_bw() const noexcept {
    double m = 0;
    for (const auto& slot : bw_slots_)
      if (slot.round + bw_window_rounds > round_ && slot.bw > m) m = slot.bw;
    return std::min(m, bw_hi_);
  }
  // The cap a congested round set on the bandwidth estimate (infinite until one happens).
  double bandwidth_cap() const noexcept { return bw_hi_; }
  std::optional<Duration> min_rtt() const noexcept { return min_rtt_; }
  bool filled_pipe() const noexcept { return filled_pipe_; }

 private:
  struct BwSlot {
    std::uint64_t round = 0;
    double bw = 0;
  };

  static double seconds(Duration d) noexcept { return std::max(std::chrono::duration<double>(d).count(), 1e-6); }
  std::uint64_t initial_window() const noexcept { return initial_window_packets * mss_; }
  std::uint64_t min_window() const noexcept { return 4 * mss_; }

  // What leaves in one burst: a millisecond at the pacing rate, 2 datagrams to 64 kB. The window keeps
  // three of them beyond the BDP (as Linux's BBR budgets for TSO bursts): ACKs come back in batches,
  // and on a path whose BDP is a few datagrams (loopback, LAN) a bare 2 x BDP would stall between them.
  std::uint64_t send_quantum() const noexcept {
    const auto q = static_cast<std::uint64_t>(pacing_rate_ * 0.001);
    return std::clamp<std::uint64_t>(q, 2 * mss_, 64 * 1024);
  }

  // gain x estimated bandwidth-delay product, in bytes.
  std::uint64_t bdp(double gain) const noexcept {
    const double bw = max_bw();
    if (!min_rtt_ || bw <= 0) return initial_window();
    return static_cast<std::uint64_t>(gain * bw * seconds(*min_rtt_));
  }

  void update_bw_filter(double bw) noexcept {
    auto& slot = bw_slots_[round_ % bw_window_rounds];
    if (slot.round != round_) slot = BwSlot{round_, 0};
    slot.bw = std::max(slot.bw, bw);
  }

  // A round trip ended: did it show congestion (loss with a standing queue)? Then cap the estimate at
  // what the round delivered; a clean round lets the cap follow what the path delivered since.
  void end_loss_round() noexcept {
    const std::uint64_t total = round_acked_ + round_lost_;
    const bool lossy = total > 0 && static_cast<double>(round_lost_) > loss_threshold * static_cast<double>(total);
    // Even the round's smallest RTT stands above the minimum: a queue, not a delayed ACK or two.
    const bool queued = min_rtt_ && round_min_rtt_ != Duration::max() && round_min_rtt_ > *min_rtt_ + *min_rtt_ / 4;
    if (lossy && queued && round_best_rate_ > 0) {
      bw_hi_ = round_best_rate_;
      if (!filled_pipe_) filled_pipe_ = true;  // startup found the ceiling the hard way
    } else if (!queued && round_best_rate_ > bw_hi_) {  // loss without a queue is not congestion
      bw_hi_ = round_best_rate_;
    }
    round_rtt_samples_ = 0;
    round_acked_ = 0;
    round_lost_ = 0;
    round_min_rtt_ = Duration::max();
    round_best_rate_ = 0;
  }

  // Startup also ends as soon as the smallest RTT of the round so far (at least 8 samples) stands
  // clearly above the minimum, in the manner of HyStart++ (RFC 9406): a queue is building, so the
  // pipe is full. Waiting for three rounds without growth, or for loss, overfills a buffer of about
  // one BDP before it is seen, and a sender that runs short of data in startup (app-limited
  // samples) hides growth from the full-pipe check altogether.
  void check_startup_delay() noexcept {
    if (!min_rtt_ || round_rtt_samples_ < startup_rtt_samples) return;
    const Duration rise =
        std::clamp<Duration>(*min_rtt_ / 8, std::chrono::milliseconds(4), std::chrono::milliseconds(16));
    if (round_min_rtt_ >= *min_rtt_ + rise) filled_pipe_ = true;
  }

  void check_full_pipe() noexcept {
    const double bw = max_bw();
    if (bw >= full_bw_ * 1.25) {
      full_bw_ = bw;
      full_bw_rounds_ = 0;
      return;
    }
    if (++full_bw_rounds_ >= 3) filled_pipe_ = true;
  }

  void enter_probe_bw(TimePoint now) noexcept {
    mode_ = Mode::probe_bw;
    cwnd_gain_ = probe_bw_cwnd_gain;
    // Start anywhere but the draining phase (index 1).
    cycle_index_ = static_cast<std::size_t>(seed_ % 7);
    if (cycle_index_ >= 1) ++cycle_index_;
    pacing_gain_ = gain_cycle[cycle_index_];
    cycle_stamp_ = now;
  }

  void update_cycle_phase(const AckSample& s) noexcept {
    const bool full_length = !min_rtt_ || s.now - cycle_stamp_ > *min_rtt_;
    bool advance = full_length;
    if (pacing_gain_ > 1)
      advance = full_length && (s.loss_in_round || s.app_limited || s.prior_bytes_in_flight >= bdp(pacing_gain_));
    else if (pacing_gain_ < 1)
      advance = full_length || s.prior_bytes_in_flight <= bdp(1.0);
    if (!advance) return;
    cycle_index_ = (cycle_index_ + 1) % gain_cycle.size();
    cycle_stamp_ = s.now;
    pacing_gain_ = gain_cycle[cycle_index_];
  }

  void update_min_rtt(const AckSample& s, bool round_start) noexcept {
    const bool expired = min_rtt_ && s.now > min_rtt_stamp_ + std::chrono::seconds(10);
    // An equal sample also refreshes: it shows the minimum still holds, so no ProbeRTT is needed.
    if (s.rtt_sample && (!min_rtt_ || *s.rtt_sample <= *min_rtt_ || expired)) {
      min_rtt_ = *s.rtt_sample;
      min_rtt_stamp_ = s.now;
    }
    if (expired && mode_ != Mode::probe_rtt) {
      mode_ = Mode::probe_rtt;
      pacing_gain_ = 1;
      cwnd_gain_ = 1;
      prior_cwnd_ = cwnd_;
      probe_rtt_done_.reset();
    }
    if (mode_ != Mode::probe_rtt) return;
    if (!probe_rtt_done_ && s.bytes_in_flight <= min_window()) {
      probe_rtt_done_ = s.now + std::chrono::milliseconds(200);
      probe_rtt_round_done_ = false;
      next_round_delivered_ = s.delivered;
    } else if (probe_rtt_done_) {
      if (round_start) probe_rtt_round_done_ = true;
      if (probe_rtt_round_done_ && s.now > *probe_rtt_done_) {
        min_rtt_stamp_ = s.now;
        cwnd_ = std::max(cwnd_, prior_cwnd_);
        if (filled_pipe_) {
          enter_probe_bw(s.now);
        } else {
          mode_ = Mode::startup;
          pacing_gain_ = high_gain;
          cwnd_gain_ = startup_cwnd_gain;
        }
      }
    }
  }

  void update_pacing_rate(const RttEstimator& rtt) noexcept {
    // Startup begins at high_gain x initial window per RTT and only speeds up from there: the first
    // samples come from small, app-limited packets and would otherwise pace the first flights at a
    // crawl.
    if (pacing_rate_ <= 0 && rtt.has_sample())
      pacing_rate_ = high_gain * static_cast<double>(initial_window()) / seconds(rtt.smoothed());
    const double bw = max_bw();
    if (bw <= 0) return;
    const double rate = pacing_gain_ * bw * 0.99;
    // In startup the rate only grows: early samples undershoot.
    if (filled_pipe_ || rate > pacing_rate_) pacing_rate_ = rate;
  }

  void update_window(const AckSample& s) noexcept {
    if (mode_ == Mode::probe_rtt) {
      cwnd_ = std::min(cwnd_, min_window());
      return;
    }
    const std::uint64_t target = bdp(cwnd_gain_) + 3 * send_quantum();
    if (filled_pipe_)
      cwnd_ = std::min(cwnd_ + s.acked_bytes, target);
    else if (cwnd_ < target || s.delivered < initial_window())
      cwnd_ += s.acked_bytes;
    cwnd_ = std::max(cwnd_, min_window());
  }

  std::uint64_t mss_;
  std::uint64_t cwnd_;
  std::uint64_t seed_;
  Mode mode_ = Mode::startup;
  double pacing_gain_ = high_gain;
  double cwnd_gain_ = startup_cwnd_gain;
  double pacing_rate_ = 0;
  std::array<BwSlot, bw_window_rounds> bw_slots_{};
  std::uint64_t round_ = 0;
  std::uint64_t next_round_delivered_ = 0;
  bool filled_pipe_ = false;
  double full_bw_ = 0;
  int full_bw_rounds_ = 0;
  std::size_t cycle_index_ = 0;
  TimePoint cycle_stamp_{};
  std::optional<Duration> min_rtt_;
  TimePoint min_rtt_stamp_{};
  std::optional<TimePoint> probe_rtt_done_;
  bool probe_rtt_round_done_ = false;
  std::uint64_t prior_cwnd_ = 0;
  // Loss bound (see the top of the file).
  static constexpr double loss_threshold = 0.02;
  double bw_hi_ = std::numeric_limits<double>::infinity();
  std::uint64_t round_acked_ = 0;
  std::uint64_t round_lost_ = 0;
  Duration round_min_rtt_ = Duration::max();
  std::uint64_t round_rtt_samples_ = 0;
  static constexpr std::uint64_t startup_rtt_samples = 8;  // RTT samples a round needs to end startup by delay
  double round_best_rate_ = 0;
};

}  // namespace pdtp::rudp
