// One bidirectional stream: the sending half (bounded buffer of unacknowledged bytes, what was lost,
// what is new) and the receiving half (bounded reorder buffer, flow-control credit, final size).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/rudp/detail/byte_ring.hpp"
#include "pdtp/rudp/detail/range_set.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// Transport error codes carried by CLOSE (transport) frames.
enum class TransportError : std::uint64_t {
  no_error = 0x0,
  internal_error = 0x1,
  flow_control_error = 0x3,
  stream_limit_error = 0x4,
  stream_state_error = 0x5,
  final_size_error = 0x6,
  frame_encoding_error = 0x7,
  protocol_violation = 0xa,
};

// Separate pieces a stream's receive buffer may hold (see RecvStream::too_fragmented).
inline constexpr std::size_t max_receive_fragments = 4096;

struct StreamFault {
  TransportError code;
  std::string message;
};

class SendStream {
 public:
  SendStream(std::uint64_t buffer_limit, std::uint64_t peer_max_data) noexcept
      : buf_(buffer_limit), peer_max_(peer_max_data) {}

  // ---- application side ----
  std::uint64_t space() const noexcept {
    if (fin_ || reset_code_) return 0;
    return buf_.limit() - (write_end_ - buf_.base());
  }
  // Copies what fits in the buffer; returns the count accepted.
  std::size_t write(std::span<const std::uint8_t> data) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(space(), data.size()));
    if (n == 0) return 0;
    buf_.write(write_end_, data.first(n));
    write_end_ += n;
    return n;
  }
  void finish() noexcept { fin_ = true; }
  // Abandons the data; returns the final size to announce (everything ever sent).
  std::uint64_t reset(std::uint64_t code) {
    reset_code_ = code;
    reset_pending_ = true;
    lost_.clear();
    acked_.clear();
    buf_.release();
    return next_offset_;
  }

  // ---- sender side ----
  bool has_lost() const noexcept { return !lost_.empty() || fin_lost_; }
  const detail::Interval& first_lost() const noexcept { return lost_.front(); }
  // New bytes that may go out now, given the connection's remaining credit.
  std::uint64_t sendable(std::uint64_t connection_credit) const noexcept {
    if (reset_code_) return 0;
    const std::uint64_t conn_limit =
        connection_credit > UINT64_MAX - next_offset_ ? UINT64_MAX : next_offset_ + connection_credit;
    const std::uint64_t limit = std::min({write_end_, peer_max_, conn_limit});
    return limit > next_offset_ ? limit - next_offset_ : 0;
  }
  // Bytes written but held back by the peer's stream credit (not connection credit).
  bool blocked_by_stream_credit() const noexcept {
    return !reset_code_ && write_end_ > peer_max_ && next_offset_ == peer_max_;
  }
  bool fin_to_send() const noexcept {
    return !reset_code_ && fin_ && ((!fin_sent_ && next_offset_ == write_end_) || (fin_lost_ && lost_.empty()));
  }
  bool wants_to_send(std::uint64_t connection_credit) const noexcept {
    return !reset_code_ && (!lost_.empty() || sendable(connection_credit) > 0 || fin_to_send());
  }
  void copy_out(std::uint64_t offset, std::span<std::uint8_t> out) const noexcept { buf_.read(offset, out); }

  // A STREAM frame [offset, offset + len) (+fin) went out.
  void on_sent(std::uint64_t offset, std::uint64_t len, bool fin) {
    if (offset + len > next_offset_) next_offset_ = offset + len;
    lost_.erase(offset, offset + len);
    if (fin) {
      fin_sent_ = true;
      fin_lost_ = false;
    }
  }
  // Returns true if buffer space was freed.
  bool on_acked(std::uint64_t offset, std::uint64_t len, bool fin) {
    if (fin) {
      fin_acked_ = true;
      fin_lost_ = false;
    }
    if (reset_code_ || len == 0) return false;
    acked_.insert(std::max(offset, buf_.base()), std::max(offset + len, buf_.base()));
    lost_.erase(offset, offset + len);
    if (!acked_.empty() && acked_.front().start == buf_.base()) {
      buf_.advance(acked_.front().end);
      acked_.erase_below(buf_.base());
      return true;
    }
    return false;
  }
  void on_lost(std::uint64_t offset, std::uint64_t len, bool fin) {
    if (reset_code_) return;
    if (fin && !fin_acked_) fin_lost_ = true;
    const std::uint64_t start = std::max(offset, buf_.base());
    const std::uint64_t end = offset + len;
    if (start >= end) return;
    lost_.insert(start, end);
    for (const auto& a : acked_.items()) {
      if (a.start >= end) break;
      if (a.end > start) lost_.erase(std::max(a.start, start), std::min(a.end, end));
    }
  }
  void on_max_data(std::uint64_t max) noexcept { peer_max_ = std::max(peer_max_, max); }

  // ---- reset bookkeeping ----
  bool reset_pending() const noexcept { return reset_pending_; }
  void on_reset_sent() noexcept { reset_pending_ = false; }
  void on_reset_lost() noexcept {
    if (!reset_acked_) reset_pending_ = true;
  }
  void on_reset_acked() noexcept {
    reset_acked_ = true;
    reset_pending_ = false;
  }

  // ---- state ----
  bool is_reset() const noexcept { return reset_code_.has_value(); }
  std::optional<std::uint64_t> reset_code() const noexcept { return reset_code_; }
  bool finished() const noexcept { return fin_; }
  // Every byte and the FIN are acknowledged.
  bool all_acked() const noexcept { return !reset_code_ && fin_ && fin_acked_ && buf_.base() == write_end_; }
  // Nothing written is still unacknowledged (FIN aside): used by graceful close.
  bool flushed() const noexcept {
    return reset_code_ ? reset_acked_ : (buf_.base() == write_end_ && (!fin_ || fin_acked_));
  }
  bool done() const noexcept { return reset_code_ ? reset_acked_ : all_acked(); }
  std::uint64_t next_offset() const noexcept { return next_offset_; }
  std::uint64_t write_end() const noexcept { return write_end_; }
  std::uint64_t acked_base() const noexcept { return buf_.base(); }
  std::uint64_t peer_max_data() const noexcept { return peer_max_; }
  std::uint64_t buffered() const noexcept { return write_end_ - buf_.base(); }
  std::size_t allocated() const noexcept { return buf_.allocated(); }

  bool want_writable = false;    // the app saw a short write and waits for space
  bool finished_notified = false;

 private:
  detail::ByteRing buf_;  // bytes [acked base, write_end)
  std::uint64_t write_end_ = 0;
  std::uint64_t next_offset_ = 0;  // first byte never sent
  std::uint64_t peer_max_;
  detail::RangeSet acked_;  // acknowledged ranges above the base
  detail::RangeSet lost_;   // ranges to send again
  bool fin_ = false;
  bool fin_sent_ = false;
  bool fin_acked_ = false;
  bool fin_lost_ = false;
  std::optional<std::uint64_t> reset_code_;
  bool reset_pending_ = false;
  bool reset_acked_ = false;
};

class RecvStream {
 public:
  RecvStream(std::uint64_t window, std::uint64_t initial_max) noexcept
      : buf_(std::max(window, initial_max)), window_(std::max(window, initial_max)), max_advertised_(initial_max) {}

  // Data arrived. Returns how far the highest received offset grew (connection flow control
  // counts it), or a fault: beyond our credit, or inconsistent with the final size.
  Result<std::uint64_t> on_data(std::uint64_t offset, std::span<const std::uint8_t> data, bool fin,
                                StreamFault& fault) {
    const std::uint64_t end = offset + data.size();
    if (auto f = check_final(end, fin, fault); !f) return f.error();
    if (end > max_advertised_) {
      fault = {TransportError::flow_control_error,
               "stream data up to " + std::to_string(end) + " exceeds credit " + std::to_string(max_advertised_)};
      return Error{Errc::bad_field, fault.message};
    }
    const std::uint64_t growth = end > highest_ ? end - highest_ : 0;
    highest_ = std::max(highest_, end);
    if (fin) final_size_ = end;
    if (reset_code_ || stopped_ || end <= read_offset_) return growth;
    const std::uint64_t start = std::max(offset, read_offset_);
    if (!buf_.write(start, data.subspan(static_cast<std::size_t>(start - offset)))) {
      fault = {TransportError::internal_error, "receive buffer refused bytes inside the credit"};
      return Error{Errc::bad_state, fault.message};
    }
    received_.insert(start, end);
    return growth;
  }

  // True if storing [offset, end) would add a hole-separated piece to an already very fragmented
  // buffer. Honest senders cause one piece per lost packet; tiny scattered frames are an attack on
  // our memory and time, so such a packet is dropped unacknowledged (the sender will resend).
  bool too_fragmented(std::uint64_t offset, std::uint64_t end) const noexcept {
    if (received_.intervals() < max_receive_fragments || end <= read_offset_ || reset_code_ || stopped_) return false;
    return !received_.touches(std::max(offset, read_offset_), end);
  }

  // The peer abandoned the stream. Returns growth of the highest offset, or a fault.
  Result<std::uint64_t> on_reset(std::uint64_t code, std::uint64_t final_size, StreamFault& fault) {
    if (auto f = check_final(final_size, true, fault); !f) return f.error();
    const std::uint64_t growth = final_size > highest_ ? final_size - highest_ : 0;
    highest_ = std::max(highest_, final_size);
    final_size_ = final_size;
    if (!reset_code_) reset_code_ = code;
    received_.clear();
    buf_.release();
    return growth;
  }

  // We asked the peer to stop: data is no longer kept.
  void stop() {
    stopped_ = true;
    received_.clear();
    buf_.release();
  }

  std::uint64_t readable_bytes() const noexcept {
    if (reset_code_ || stopped_ || received_.empty() || received_.front().start != read_offset_) return 0;
    return received_.front().size();
  }
  bool at_fin() const noexcept { return final_size_ && read_offset_ == *final_size_ && !reset_code_ && !stopped_; }
  bool readable() const noexcept { return readable_bytes() > 0 || (at_fin() && !fin_read_); }

  // Copies contiguous bytes out; `fin` says the end of the stream was reached.
  std::size_t read(std::span<std::uint8_t> out, bool& fin) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(readable_bytes(), out.size()));
    if (n > 0) {
      buf_.read(read_offset_, out.first(n));
      read_offset_ += n;
      received_.erase_below(read_offset_);
      buf_.advance(read_offset_);
    }
    fin = at_fin();
    if (fin) {
      fin_read_ = true;
      buf_.release();
    }
    return n;
  }

  // Credit to announce if the reader freed an eighth of the window since the last announcement
  // (early enough that the sender never stalls while the update is in flight).
  std::optional<std::uint64_t> credit_update() const noexcept {
    if (final_size_ || reset_code_ || stopped_) return std::nullopt;
    const std::uint64_t next = read_offset_ + window_;
    if (next - max_advertised_ < window_ / 8) return std::nullopt;
    return next;
  }
  std::uint64_t current_credit() const noexcept { return max_advertised_; }
  void on_credit_sent(std::uint64_t max) noexcept { max_advertised_ = std::max(max_advertised_, max); }

  // Bytes the application will never read (discarded), for connection-level credit.
  std::uint64_t unread_beyond(std::uint64_t offset) const noexcept {
    return offset > read_offset_ ? offset - read_offset_ : 0;
  }

  bool is_reset() const noexcept { return reset_code_.has_value(); }
  std::optional<std::uint64_t> reset_code() const noexcept { return reset_code_; }
  bool stopped() const noexcept { return stopped_; }
  // Nothing more will come or be read: the receiving half can be forgotten.
  bool done() const noexcept {
    return fin_read_ || reset_code_.has_value() || (stopped_ && final_size_ && highest_ == *final_size_);
  }
  std::uint64_t read_offset() const noexcept { return read_offset_; }
  std::uint64_t highest() const noexcept { return highest_; }
  std::optional<std::uint64_t> final_size() const noexcept { return final_size_; }
  std::uint64_t buffered_span() const noexcept { return highest_ > read_offset_ ? highest_ - read_offset_ : 0; }
  std::size_t allocated() const noexcept { return buf_.allocated(); }

  bool readable_notified = false;
  bool reset_notified = false;

 private:
  Status check_final(std::uint64_t end, bool fin, StreamFault& fault) const {
    if (final_size_ && (fin ? end != *final_size_ : end > *final_size_)) {
      fault = {TransportError::final_size_error, "stream data up to " + std::to_string(end) +
                                                     " conflicts with final size " + std::to_string(*final_size_)};
      return Error{Errc::bad_field, fault.message};
    }
    if (fin && end < highest_) {
      fault = {TransportError::final_size_error,
               "final size " + std::to_string(end) + " below data already received up to " + std::to_string(highest_)};
      return Error{Errc::bad_field, fault.message};
    }
    return Ok{};
  }

  detail::ByteRing buf_;
  std::uint64_t window_;
  std::uint64_t max_advertised_;
  detail::RangeSet received_;  // ranges held above read_offset_
  std::uint64_t read_offset_ = 0;
  std::uint64_t highest_ = 0;
  std::optional<std::uint64_t> final_size_;
  std::optional<std::uint64_t> reset_code_;
  bool stopped_ = false;
  bool fin_read_ = false;
};

}  // namespace pdtp::rudp
