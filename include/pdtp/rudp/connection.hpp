// One reliable-UDP connection as a pure state machine: datagrams, time and application calls go in;
// datagrams to send, the next wake-up time and events come out. No sockets, clocks or randomness.
//
// After every input (on_datagram, on_timeout, or a stream call) the caller drains poll_transmit()
// until it returns nothing, then poll_event() likewise, then sleeps until next_timeout().
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pdtp/result.hpp"
#include "pdtp/rudp/ack_ranges.hpp"
#include "pdtp/rudp/config.hpp"
#include "pdtp/rudp/congestion.hpp"
#include "pdtp/rudp/event.hpp"
#include "pdtp/rudp/frame.hpp"
#include "pdtp/rudp/loss.hpp"
#include "pdtp/rudp/pacer.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/rudp/protection.hpp"
#include "pdtp/rudp/stream.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

struct Datagram {
  std::vector<std::uint8_t> bytes;
};

struct ReadResult {
  std::size_t bytes = 0;
  bool fin = false;  // the end of the stream was reached: nothing more will ever be read
};

struct ConnectionStats {
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;  // authenticated and processed
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t packets_dropped = 0;   // undecodable, misaddressed or failing authentication
  std::uint64_t duplicates = 0;
  std::uint64_t packets_lost = 0;
  std::uint64_t stream_bytes_retransmitted = 0;
};

enum class ConnectionState : std::uint8_t {
  open,      // streams work (possibly flushing before a graceful close)
  closing,   // we sent CLOSE; answering stray packets with it for three PTOs
  draining,  // the peer sent CLOSE; staying silent for three PTOs
  closed,    // nothing more to do: the owner may drop the connection
};

class Connection {
 public:
  // Built after a handshake: `local` is the id the peer puts in packets to us, `peer` the id we put in
  // packets to it. Config values out of range are clamped (see validate()).
  Connection(ConnectionId local, ConnectionId peer, Role role, std::unique_ptr<PacketProtection> protection,
             const Config& config, TimePoint now)
      : local_(local),
        peer_(peer),
        role_(role),
        protection_(std::move(protection)),
        cfg_(clamped(config)),
        recovery_(cfg_.initial_rtt, max_ack_delay,
                  make_congestion_controller(cfg_.congestion, cfg_.max_datagram_size, to_u32(local),
                                             cfg_.ledbat_target)),
        pacer_(cfg_.max_datagram_size),
        received_(cfg_.max_ack_ranges),
        max_remote_streams_(cfg_.max_incoming_streams),
        max_data_advertised_(cfg_.connection_receive_window),
        last_activity_(now),
        last_sent_(now) {
    max_data_pending_ = max_data_advertised_ > initial_max_data;
    max_streams_pending_ = max_remote_streams_ > initial_max_streams;
    if (!protection_) protection_ = std::make_unique<NullProtection>();
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  // ---------------------------------------------------------------- input

  // A datagram addressed to this connection (whole UDP payload, header included).
  void on_datagram(TimePoint now, std::span<const std::uint8_t> datagram) {
    if (state_ == ConnectionState::closed) return;
    auto header = decode_header(datagram);
    PacketProtection* keys = nullptr;
    if (header && header->type == PacketType::data && datagram.size() <= max_udp_payload) {
      if (header->receiver == local_) keys = protection_.get();
      else if (previous_ && header->receiver == previous_->local) keys = previous_->protection.get();
    }
    if (keys == nullptr) {
      ++stats_.packets_dropped;
      return;
    }
    scratch_.assign(datagram.begin() + header_size, datagram.end());
    auto plain = keys->open(header->number, datagram.first(header_size), scratch_);
    if (!plain) {
      ++stats_.packets_dropped;
      return;
    }
    if (state_ == ConnectionState::draining) return;
    last_activity_ = now;
    eliciting_since_receive_ = false;
    if (state_ == ConnectionState::closing) {
      if (close_repeats_ < 16) close_resend_ = true;  // the peer missed our CLOSE: say it again, a bounded number of times
      return;
    }
    const PacketNumber pn = header->number;
    if (received_.contains(pn)) {
      ++stats_.duplicates;
      return;
    }
    ++stats_.packets_received;
    stats_.bytes_received += datagram.size();
    if (plain->empty()) {
      fail(now, TransportError::protocol_violation, "packet " + std::to_string(pn) + " carries no frames");
      return;
    }
    bool eliciting = false;
    detail::Reader r(*plain);
    while (!r.empty()) {
      auto frame = decode_frame(r);
      if (!frame) {
        fail(now, TransportError::frame_encoding_error, frame.error().message);
        return;
      }
      eliciting = eliciting || is_ack_eliciting(*frame);
      handle_frame(now, *frame);
      if (state_ != ConnectionState::open) return;
    }
    record_received(now, pn, eliciting);
  }

  // Call when next_timeout() has passed.
  void on_timeout(TimePoint now) {
    if (state_ == ConnectionState::closed) return;
    if (state_ != ConnectionState::open) {
      if (close_deadline_ && now >= *close_deadline_) state_ = ConnectionState::closed;
      return;
    }
    if (now >= idle_deadline()) {
      state_ = ConnectionState::closed;
      drop_streams();
      events_.push_back(ConnectionClosed{CloseReason::idle_timeout, 0, "no packet received for the idle timeout"});
      return;
    }
    if (auto t = recovery_.timer(); t && now >= *t) {
      RecoveryHandler h{*this, now};
      recovery_.on_timeout(now, h);
    }
    if (ack_deadline_ && now >= *ack_deadline_) ack_now_ = true;
    if (auto k = keep_alive_deadline(); k && now >= *k) ping_pending_ = true;
    if (pacing_wake_ && now >= *pacing_wake_) pacing_wake_.reset();
  }

  // New keys from a new handshake (rekeying): from now on packets go out to `peer` sealed with
  // `protection`, and packets to `local` are opened with it. The previous keys (and id) still open
  // packets that were in flight until drop_previous_keys() or the next install_keys().
  void install_keys(ConnectionId local, ConnectionId peer, std::unique_ptr<PacketProtection> protection) {
    if (!protection) return;
    previous_ = PreviousKeys{local_, std::move(protection_)};
    local_ = local;
    peer_ = peer;
    protection_ = std::move(protection);
  }
  void drop_previous_keys() noexcept { previous_.reset(); }
  std::optional<ConnectionId> previous_local_id() const noexcept {
    if (!previous_) return std::nullopt;
    return previous_->local;
  }

  // ---------------------------------------------------------------- output

  // Writes the next datagram into `out` (at most max_datagram_size bytes are used); returns its size,
  // 0 when there is nothing to send now.
  std::size_t write_transmit(TimePoint now, std::span<std::uint8_t> out) {
    if (state_ == ConnectionState::closed || state_ == ConnectionState::draining) return 0;
    const std::size_t limit = std::min(out.size(), cfg_.max_datagram_size);
    const std::size_t overhead = protection_->overhead();
    if (limit < header_size + overhead + 64) return 0;
    detail::Writer w(out.subspan(header_size, limit - header_size - overhead));
    SentPacket sp;
    sp.number = next_pn_;
    sp.time_sent = now;

    if (state_ == ConnectionState::closing) {
      if (!close_resend_ || !close_frame_) return 0;
      close_resend_ = false;
      ++close_repeats_;
      write_frame(w, *close_frame_);
      return finish_packet(now, out, w, std::move(sp), false);
    }

    if (close_after_flush_ && !close_frame_ && all_flushed()) {
      enter_closing(now, CloseFrame{true, close_after_flush_->first, close_after_flush_->second},
                    CloseReason::local);
      return write_transmit(now, out);
    }

    const bool probe = recovery_.probes_owed() > 0;
    const bool work = has_eliciting_work();
    bool may_elicit = probe || (recovery_.window_allows_send() && recovery_.tracked_packets() < cfg_.max_tracked_packets);
    if (may_elicit && !probe && work && cfg_.pacing) {
      pacer_.set_rate(recovery_.pacing_rate());
      if (auto t = pacer_.delay_until(now, limit)) {
        pacing_wake_ = t;
        may_elicit = false;
      }
    }
    if (ack_new_info_ && received_.empty()) clear_ack_state();  // everything was forgotten as acknowledged
    const bool ack_due = ack_new_info_ && (ack_now_ || (ack_deadline_ && now >= *ack_deadline_));
    const bool elicit = may_elicit && (work || probe);
    if (!ack_due && !elicit) {
      if (may_elicit && !work && unsent_bytes_ == 0) recovery_.on_app_limited();
      return 0;
    }
    // ACK-only packets stay out of the tracked-packet limit's way, but not without bound.
    if (!elicit && recovery_.tracked_packets() >= 2 * cfg_.max_tracked_packets) return 0;

    if (ack_new_info_ && !received_.empty()) write_ack(now, w, sp);
    if (elicit) {
      write_control(w, sp);
      write_streams(w, sp);
      if (!sp.ack_eliciting && (probe || ping_pending_)) {
        write_frame(w, PingFrame{});
        sp.ack_eliciting = true;
      }
      // Held back by flow control is not app-limited: the model should see that plateau.
      if (!sp.ack_eliciting && !probe && unsent_bytes_ == 0) recovery_.on_app_limited();
    }
    if (w.size() == 0) return 0;
    const bool eliciting = sp.ack_eliciting;
    if (probe && eliciting) recovery_.on_probe_sent();
    return finish_packet(now, out, w, std::move(sp), eliciting);
  }

  std::optional<Datagram> poll_transmit(TimePoint now) {
    Datagram d;
    d.bytes.resize(cfg_.max_datagram_size);
    const std::size_t n = write_transmit(now, d.bytes);
    if (n == 0) return std::nullopt;
    d.bytes.resize(n);
    return d;
  }

  // When on_timeout() must next be called; nullopt once closed.
  std::optional<TimePoint> next_timeout() const {
    if (state_ == ConnectionState::closed) return std::nullopt;
    if (state_ != ConnectionState::open) return close_deadline_;
    TimePoint t = idle_deadline();
    auto take = [&t](std::optional<TimePoint> c) {
      if (c && *c < t) t = *c;
    };
    take(recovery_.timer());
    if (ack_new_info_) take(ack_deadline_);
    take(keep_alive_deadline());
    take(pacing_wake_);
    return t;
  }

  std::optional<Event> poll_event() {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  // ---------------------------------------------------------------- streams

  // Errors: would_block when the peer's stream limit is reached (StreamsAvailable follows);
  // bad_state when the connection is closing.
  Result<StreamId> open_stream() {
    if (!accepting_app_calls()) return Error{Errc::bad_state, "connection is closing"};
    if (opened_local_ >= peer_max_streams_) {
      streams_blocked_ = true;
      return Error{Errc::would_block, "peer allows " + std::to_string(peer_max_streams_) + " streams"};
    }
    const StreamId id = nth_stream(role_, opened_local_++);
    create_stream(id);
    return id;
  }

  // Accepts as many bytes as the stream's send buffer has room for (maybe 0; StreamWritable follows).
  Result<std::size_t> write(StreamId id, std::span<const std::uint8_t> data) {
    auto s = app_stream(id, "write");
    if (!s) return s.error();
    Stream& st = **s;
    if (st.send.finished() || st.send.is_reset())
      return Error{Errc::bad_state, "stream " + std::to_string(to_u64(id)) + " is finished or reset"};
    const std::size_t n = st.send.write(data);
    unsent_bytes_ += n;
    if (n < data.size()) st.send.want_writable = true;
    if (n > 0) enqueue_send(id, st);
    return n;
  }

  // No more data on this stream after what was written.
  Status finish(StreamId id) {
    auto s = app_stream(id, "finish");
    if (!s) return s.error();
    Stream& st = **s;
    if (st.send.is_reset()) return Error{Errc::bad_state, "stream " + std::to_string(to_u64(id)) + " is reset"};
    st.send.finish();
    enqueue_send(id, st);
    return Ok{};
  }

  Result<ReadResult> read(StreamId id, std::span<std::uint8_t> out) {
    auto it = streams_.find(to_u64(id));
    if (it == streams_.end())
      return Error{Errc::bad_state, "read: stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
    Stream& st = it->second;
    if (st.recv.is_reset())
      return Error{Errc::bad_state, "read: stream " + std::to_string(to_u64(id)) + " was reset by the peer"};
    ReadResult res;
    res.bytes = st.recv.read(out, res.fin);
    st.recv.readable_notified = st.recv.readable();
    if (res.bytes > 0) {
      consume(res.bytes);
      if (auto credit = st.recv.credit_update()) {
        st.recv.on_credit_sent(*credit);
        st.max_data_pending = true;
        enqueue_control(id, st);
      }
    }
    maybe_remove(id);
    return res;
  }

  // Abandons the stream both ways: our sending half is reset with `code` (RESET_STREAM) and the peer
  // is asked to stop its own (STOP_SENDING); unread data is discarded.
  Status reset(StreamId id, std::uint64_t code) {
    auto it = streams_.find(to_u64(id));
    if (it == streams_.end() || state_ != ConnectionState::open)
      return Error{Errc::bad_state, "reset: stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
    if (code > max_varint) return Error{Errc::bad_field, "reset: code " + std::to_string(code) + " exceeds 2^62-1"};
    Stream& st = it->second;
    reset_send(id, st, code);
    if (!st.recv.done() && !st.recv.stopped()) {
      consume(st.recv.unread_beyond(st.recv.highest()));
      st.recv.stop();
      st.stop_pending = true;
      st.stop_code = code;
      enqueue_control(id, st);
    }
    maybe_remove(id);
    return Ok{};
  }

  // Graceful close: data already written is delivered first, then CLOSE carries `code` and `reason`.
  // New streams and writes are refused from now on.
  void close(std::uint64_t code, std::string_view reason) {
    if (state_ != ConnectionState::open || close_after_flush_ || close_frame_) return;
    close_after_flush_ = std::make_pair(std::min(code, max_varint), std::string(reason.substr(0, max_close_reason)));
  }

  // Immediate close: pending data is dropped and CLOSE goes out with the next transmit.
  void abort(TimePoint now, std::uint64_t code, std::string_view reason) {
    if (state_ != ConnectionState::open) return;
    enter_closing(now, CloseFrame{true, std::min(code, max_varint), std::string(reason.substr(0, max_close_reason))},
                  CloseReason::local);
  }

  // ---------------------------------------------------------------- inspection

  ConnectionId local_id() const noexcept { return local_; }
  ConnectionId peer_id() const noexcept { return peer_; }
  Role role() const noexcept { return role_; }
  ConnectionState state() const noexcept { return state_; }
  bool is_closed() const noexcept { return state_ == ConnectionState::closed; }
  const Config& config() const noexcept { return cfg_; }
  const ConnectionStats& stats() const noexcept { return stats_; }
  const RttEstimator& rtt() const noexcept { return recovery_.rtt(); }
  std::uint64_t congestion_window() const noexcept { return recovery_.window(); }
  std::uint64_t bytes_in_flight() const noexcept { return recovery_.bytes_in_flight(); }
  double pacing_rate() const noexcept { return recovery_.pacing_rate(); }
  const CongestionController& congestion() const noexcept { return recovery_.congestion(); }
  const LossRecovery& recovery() const noexcept { return recovery_; }
  std::size_t stream_count() const noexcept { return streams_.size(); }
  bool has_stream(StreamId id) const noexcept { return streams_.count(to_u64(id)) != 0; }
  // Bytes held for the reader of a stream (received, not yet read), counting gaps: what the
  // receive window bounds.
  std::uint64_t receive_buffered(StreamId id) const noexcept {
    auto it = streams_.find(to_u64(id));
    return it == streams_.end() ? 0 : it->second.recv.buffered_span();
  }
  // Bytes written to a stream and not yet acknowledged.
  std::uint64_t send_buffered(StreamId id) const noexcept {
    auto it = streams_.find(to_u64(id));
    return it == streams_.end() ? 0 : it->second.send.buffered();
  }
  // Storage currently allocated for stream buffers (both directions).
  std::size_t buffer_memory() const noexcept {
    std::size_t n = 0;
    for (const auto& [id, s] : streams_) n += s.recv.allocated() + s.send.allocated();
    return n;
  }

 private:
  struct Stream {
    Stream(std::uint64_t send_buffer, std::uint64_t recv_window)
        : send(send_buffer, initial_max_stream_data), recv(recv_window, initial_max_stream_data) {}
    SendStream send;
    RecvStream recv;
    bool in_send_queue = false;
    bool in_control_queue = false;
    bool max_data_pending = false;  // MAX_STREAM_DATA to send
    bool stop_pending = false;      // STOP_SENDING to send
    std::uint64_t stop_code = 0;
  };

  struct PreviousKeys {
    ConnectionId local;
    std::unique_ptr<PacketProtection> protection;
  };

  struct RecoveryHandler {
    Connection& c;
    TimePoint now;
    void acked(const SentPacket& p) { c.on_packet_acked(p); }
    void lost(const SentPacket& p) { c.on_packet_lost(p); }
  };

  static Config clamped(Config c) {
    c.max_datagram_size = std::clamp<std::size_t>(c.max_datagram_size, min_datagram_size, max_udp_payload);
    c.stream_receive_window = std::clamp<std::uint64_t>(c.stream_receive_window, initial_max_stream_data, std::uint64_t{1} << 32);
    c.connection_receive_window = std::clamp<std::uint64_t>(c.connection_receive_window, initial_max_data, std::uint64_t{1} << 40);
    c.stream_send_buffer = std::clamp<std::uint64_t>(c.stream_send_buffer, 4096, std::uint64_t{1} << 32);
    c.max_incoming_streams = std::clamp<std::uint64_t>(c.max_incoming_streams, initial_max_streams, std::uint64_t{1} << 20);
    if (c.idle_timeout <= Duration::zero()) c.idle_timeout = std::chrono::seconds(30);
    c.idle_timeout = std::min<Duration>(c.idle_timeout, max_config_duration);
    c.keep_alive_interval = std::clamp<Duration>(c.keep_alive_interval, Duration::zero(), max_config_duration);
    if (c.initial_rtt <= Duration::zero()) c.initial_rtt = std::chrono::milliseconds(333);
    c.initial_rtt = std::min<Duration>(c.initial_rtt, std::chrono::seconds(60));
    if (c.ledbat_target <= Duration::zero()) c.ledbat_target = std::chrono::milliseconds(100);
    c.ledbat_target = std::min<Duration>(c.ledbat_target, std::chrono::seconds(10));
    c.max_ack_ranges = std::clamp<std::size_t>(c.max_ack_ranges, 1, 256);
    c.max_tracked_packets = std::clamp<std::size_t>(c.max_tracked_packets, 64, std::size_t{1} << 22);
    return c;
  }

  Role peer_role() const noexcept { return role_ == Role::client ? Role::server : Role::client; }
  bool accepting_app_calls() const noexcept { return state_ == ConnectionState::open && !close_after_flush_; }

  // ---- timers ----

  TimePoint idle_deadline() const noexcept {
    return last_activity_ + std::max(cfg_.idle_timeout, 3 * recovery_.pto_base());
  }
  // PING after keep_alive_interval of quiet; also (at a third of the idle timeout) while data waits
  // for flow-control credit, so a slow reader does not make the connection look idle.
  std::optional<TimePoint> keep_alive_deadline() const noexcept {
    if (ping_pending_) return std::nullopt;
    Duration interval = cfg_.keep_alive_interval;
    if (interval == Duration::zero() && unsent_bytes_ > 0) interval = cfg_.idle_timeout / 3;
    if (interval == Duration::zero()) return std::nullopt;
    return std::max(last_activity_, last_sent_) + interval;
  }

  // ---- receiving ----

  void record_received(TimePoint now, PacketNumber pn, bool eliciting) {
    const bool out_of_order = largest_received_ && pn != *largest_received_ + 1;
    received_.insert(pn);
    if (!largest_received_ || pn > *largest_received_) {
      largest_received_ = pn;
      largest_received_time_ = now;
    }
    ack_new_info_ = true;
    if (!eliciting) return;
    ++unacked_eliciting_;
    // Every second packet, and at once when packets arrive out of order (the sender learns of gaps).
    if (unacked_eliciting_ >= 2 || out_of_order) ack_now_ = true;
    else if (!ack_deadline_) ack_deadline_ = now + max_ack_delay;
  }

  void handle_frame(TimePoint now, const Frame& frame) {
    std::visit([&](const auto& f) { on_frame(now, f); }, frame);
  }

  void on_frame(TimePoint, const PaddingFrame&) {}
  void on_frame(TimePoint, const PingFrame&) {}

  void on_frame(TimePoint now, const AckFrame& f) {
    RecoveryHandler h{*this, now};
    if (auto st = recovery_.on_ack(now, f, h); !st) fail(now, TransportError::protocol_violation, st.error().message);
  }

  void on_frame(TimePoint now, const StreamFrame& f) {
    Stream* s = stream_for_frame(now, f.stream, "STREAM");
    if (s == nullptr) return;
    StreamFault fault;
    auto growth = s->recv.on_data(f.offset, f.data, f.fin, fault);
    if (!growth) return fail(now, fault.code, "stream " + std::to_string(to_u64(f.stream)) + ": " + fault.message);
    if (!add_received(now, *growth)) return;
    if (s->recv.stopped()) consume(*growth);
    notify_readable(f.stream, *s);
  }

  void on_frame(TimePoint now, const ResetStreamFrame& f) {
    Stream* s = stream_for_frame(now, f.stream, "RESET_STREAM");
    if (s == nullptr) return;
    const bool discarded_before = s->recv.stopped() || s->recv.is_reset();
    const std::uint64_t unread = s->recv.unread_beyond(std::max(f.final_size, s->recv.highest()));
    StreamFault fault;
    auto growth = s->recv.on_reset(f.code, f.final_size, fault);
    if (!growth) return fail(now, fault.code, "stream " + std::to_string(to_u64(f.stream)) + ": " + fault.message);
    if (!add_received(now, *growth)) return;
    consume(discarded_before ? *growth : unread);
    if (!discarded_before && !s->recv.reset_notified) {
      s->recv.reset_notified = true;
      events_.push_back(StreamReset{f.stream, f.code});
    }
    maybe_remove(f.stream);
  }

  void on_frame(TimePoint now, const StopSendingFrame& f) {
    Stream* s = stream_for_frame(now, f.stream, "STOP_SENDING");
    if (s == nullptr) return;
    if (s->send.is_reset() || s->send.all_acked()) return;
    reset_send(f.stream, *s, f.code);
    events_.push_back(StreamStopped{f.stream, f.code});
    maybe_remove(f.stream);
  }

  void on_frame(TimePoint, const MaxDataFrame& f) {
    if (f.maximum <= peer_max_data_) return;
    peer_max_data_ = f.maximum;
    if (!connection_blocked_) return;
    connection_blocked_ = false;
    for (auto& [id, s] : streams_) enqueue_send(StreamId{id}, s);
  }

  void on_frame(TimePoint now, const MaxStreamDataFrame& f) {
    Stream* s = stream_for_frame(now, f.stream, "MAX_STREAM_DATA");
    if (s == nullptr) return;
    s->send.on_max_data(f.maximum);
    enqueue_send(f.stream, *s);
  }

  void on_frame(TimePoint, const MaxStreamsFrame& f) {
    if (f.maximum <= peer_max_streams_) return;
    peer_max_streams_ = f.maximum;
    if (streams_blocked_) {
      streams_blocked_ = false;
      events_.push_back(StreamsAvailable{});
    }
  }

  void on_frame(TimePoint now, const CloseFrame& f) {
    state_ = ConnectionState::draining;
    close_deadline_ = now + 3 * recovery_.pto_base();
    drop_streams();
    events_.push_back(ConnectionClosed{f.application ? CloseReason::peer : CloseReason::peer_error, f.code, f.reason});
  }

  // Counts new bytes against our connection credit; false (and the connection fails) if over it.
  bool add_received(TimePoint now, std::uint64_t growth) {
    data_received_ += growth;
    if (data_received_ <= max_data_advertised_) return true;
    fail(now, TransportError::flow_control_error,
         "peer sent " + std::to_string(data_received_) + " bytes, credit was " + std::to_string(max_data_advertised_));
    return false;
  }

  // The stream a frame names, opening peer streams as needed; nullptr if the stream is already
  // closed (late frames are ignored) or the frame broke the rules (the connection then fails).
  Stream* stream_for_frame(TimePoint now, StreamId id, const char* frame) {
    if (auto it = streams_.find(to_u64(id)); it != streams_.end()) return &it->second;
    const std::uint64_t index = stream_index(id);
    if (opened_by(id, role_)) {
      if (index >= opened_local_)
        fail(now, TransportError::stream_state_error,
             std::string(frame) + " for stream " + std::to_string(to_u64(id)) + " which we never opened");
      return nullptr;
    }
    if (index < opened_remote_) return nullptr;
    if (index >= max_remote_streams_) {
      fail(now, TransportError::stream_limit_error,
           std::string(frame) + " opens stream " + std::to_string(to_u64(id)) + " beyond the limit of " +
               std::to_string(max_remote_streams_));
      return nullptr;
    }
    // Streams open in order: a frame for stream n opens every lower one too.
    while (opened_remote_ <= index) {
      const StreamId sid = nth_stream(peer_role(), opened_remote_++);
      create_stream(sid);
      events_.push_back(StreamOpened{sid});
    }
    return &streams_.at(to_u64(id));
  }

  void create_stream(StreamId id) {
    auto [it, inserted] = streams_.try_emplace(to_u64(id), cfg_.stream_send_buffer, cfg_.stream_receive_window);
    Stream& s = it->second;
    if (cfg_.stream_receive_window > initial_max_stream_data) {
      s.recv.on_credit_sent(cfg_.stream_receive_window);
      s.max_data_pending = true;
      enqueue_control(id, s);
    }
  }

  void notify_readable(StreamId id, Stream& s) {
    if (s.recv.readable_notified || !s.recv.readable()) return;
    s.recv.readable_notified = true;
    events_.push_back(StreamReadable{id});
  }

  // The application consumed (or we discarded) bytes: connection credit may be extended.
  void consume(std::uint64_t n) {
    data_consumed_ += n;
    const std::uint64_t next = data_consumed_ + cfg_.connection_receive_window;
    if (next > max_data_advertised_ && next - max_data_advertised_ >= cfg_.connection_receive_window / 8) {
      max_data_advertised_ = next;
      max_data_pending_ = true;
    }
  }

  // ---- sending ----

  bool has_eliciting_work() const noexcept {
    return max_data_pending_ || max_streams_pending_ || !control_queue_.empty() || !send_queue_.empty() ||
           ping_pending_;
  }

  bool all_flushed() const noexcept {
    for (const auto& [id, s] : streams_)
      if (!s.send.flushed()) return false;
    return control_queue_.empty();
  }

  void enqueue_send(StreamId id, Stream& s) {
    if (s.in_send_queue || !s.send.wants_to_send(connection_credit())) return;
    s.in_send_queue = true;
    send_queue_.push_back(id);
  }
  void enqueue_control(StreamId id, Stream& s) {
    if (s.in_control_queue) return;
    s.in_control_queue = true;
    control_queue_.push_back(id);
  }

  std::uint64_t connection_credit() const noexcept { return peer_max_data_ > data_sent_ ? peer_max_data_ - data_sent_ : 0; }

  void write_ack(TimePoint now, detail::Writer& w, SentPacket& sp) {
    const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(now - largest_received_time_).count();
    AckFrame ack = received_.frame(static_cast<std::uint64_t>(std::max<std::int64_t>(delay, 0)));
    // Keep room for data: drop low ranges if the frame would take more than a quarter of the packet.
    while (ack.ranges.size() > 1 && frame_size(ack) > w.remaining() / 4) ack.ranges.pop_back();
    if (frame_size(ack) > w.remaining()) return;
    write_frame(w, ack);
    sp.acked_up_to = ack.largest();
    clear_ack_state();
  }

  void clear_ack_state() noexcept {
    ack_new_info_ = false;
    ack_now_ = false;
    ack_deadline_.reset();
    unacked_eliciting_ = 0;
  }

  void write_control(detail::Writer& w, SentPacket& sp) {
    if (max_data_pending_) {
      const MaxDataFrame f{max_data_advertised_};
      if (frame_size(f) <= w.remaining()) {
        write_frame(w, f);
        max_data_pending_ = false;
        sp.max_data = true;
        sp.ack_eliciting = true;
      }
    }
    if (max_streams_pending_) {
      const MaxStreamsFrame f{max_remote_streams_};
      if (frame_size(f) <= w.remaining()) {
        write_frame(w, f);
        max_streams_pending_ = false;
        sp.max_streams = true;
        sp.ack_eliciting = true;
      }
    }
    while (!control_queue_.empty()) {
      const StreamId id = control_queue_.front();
      auto it = streams_.find(to_u64(id));
      if (it == streams_.end()) {
        control_queue_.pop_front();
        continue;
      }
      Stream& s = it->second;
      if (!write_stream_control(w, sp, id, s)) return;  // out of room: keep its place
      control_queue_.pop_front();
      s.in_control_queue = false;
    }
  }

  // Writes the stream's pending control frames; false if they did not all fit.
  bool write_stream_control(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s) {
    if (s.send.reset_pending()) {
      const ResetStreamFrame f{id, *s.send.reset_code(), s.send.next_offset()};
      if (frame_size(f) > w.remaining()) return false;
      write_frame(w, f);
      s.send.on_reset_sent();
      sp.frames.push_back({SentFrame::Kind::reset_stream, false, 0, id, 0});
      sp.ack_eliciting = true;
    }
    if (s.stop_pending) {
      const StopSendingFrame f{id, s.stop_code};
      if (frame_size(f) > w.remaining()) return false;
      write_frame(w, f);
      s.stop_pending = false;
      sp.frames.push_back({SentFrame::Kind::stop_sending, false, 0, id, 0});
      sp.ack_eliciting = true;
    }
    if (s.max_data_pending) {
      if (s.recv.final_size() || s.recv.stopped() || s.recv.is_reset()) {
        s.max_data_pending = false;  // no more data is coming: credit is moot
      } else {
        const MaxStreamDataFrame f{id, s.recv.current_credit()};
        if (frame_size(f) > w.remaining()) return false;
        write_frame(w, f);
        s.max_data_pending = false;
        sp.frames.push_back({SentFrame::Kind::max_stream_data, false, 0, id, 0});
        sp.ack_eliciting = true;
      }
    }
    return true;
  }

  void write_streams(detail::Writer& w, SentPacket& sp) {
    while (!send_queue_.empty() && w.remaining() > 8) {
      const StreamId id = send_queue_.front();
      auto it = streams_.find(to_u64(id));
      if (it == streams_.end()) {
        send_queue_.pop_front();
        continue;
      }
      Stream& s = it->second;
      if (!write_stream_frame(w, sp, id, s)) return;  // no room left: the stream keeps its turn
      send_queue_.pop_front();
      s.in_send_queue = false;
      if (s.send.wants_to_send(connection_credit())) {
        s.in_send_queue = true;
        send_queue_.push_back(id);  // round robin: others go first
      } else if (s.send.sendable(UINT64_MAX) > 0 && connection_credit() == 0) {
        connection_blocked_ = true;  // MAX_DATA will queue it again
      }
    }
  }

  // Writes one STREAM frame (lost bytes first, then new ones); false if not even a byte fits.
  // A stream with nothing to send returns true having written nothing.
  bool write_stream_frame(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s) {
    SendStream& send = s.send;
    std::uint64_t offset = 0;
    std::uint64_t available = 0;
    bool retransmit = false;
    if (send.has_lost() && !send.fin_to_send()) {
      if (!send_lost_range(send, offset, available)) return true;
      retransmit = true;
    } else {
      offset = send.next_offset();
      available = send.sendable(connection_credit());
      if (available == 0 && !send.fin_to_send()) return true;
    }
    const std::size_t room = w.remaining();
    const std::size_t header = stream_frame_overhead(id, offset, std::min<std::uint64_t>(available, room));
    if (available == 0 ? room < header : room <= header) return false;
    const std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(available, room - header));
    const bool fin = send.finished() && offset + len == send.write_end();
    if (len == 0 && !fin) return false;
    write_stream_frame_header(w, id, offset, len, fin);
    auto dst = w.reserve(len);
    send.copy_out(offset, dst);
    if (!retransmit) {
      data_sent_ += len;
      unsent_bytes_ -= len;
    } else {
      stats_.stream_bytes_retransmitted += len;
    }
    send.on_sent(offset, len, fin);
    sp.frames.push_back({SentFrame::Kind::stream, fin, static_cast<std::uint32_t>(len), id, offset});
    sp.ack_eliciting = true;
    return true;
  }

  static bool send_lost_range(const SendStream& send, std::uint64_t& offset, std::uint64_t& available) {
    if (!send.has_lost()) return false;
    const auto& iv = send.first_lost();
    offset = iv.start;
    available = iv.size();
    return true;
  }

  std::size_t finish_packet(TimePoint now, std::span<std::uint8_t> out, detail::Writer& w, SentPacket&& sp,
                            bool eliciting) {
    const std::size_t payload = w.size();
    const PacketHeader h{PacketType::data, peer_, next_pn_};
    const auto hb = encode_header(h);
    std::copy(hb.begin(), hb.end(), out.begin());
    const std::size_t total = header_size + payload + protection_->overhead();
    if (!protection_->seal(next_pn_, std::span<const std::uint8_t>(out.data(), header_size),
                           out.subspan(header_size, payload + protection_->overhead()))) {
      // Keys exhausted: nothing more may be sent under them.
      state_ = ConnectionState::closed;
      drop_streams();
      events_.push_back(ConnectionClosed{CloseReason::local_error, static_cast<std::uint64_t>(TransportError::internal_error),
                                         "packet protection refused to seal (key limit reached)"});
      return 0;
    }
    ++next_pn_;
    sp.size = static_cast<std::uint32_t>(total);
    sp.ack_eliciting = eliciting;
    if (eliciting) {
      if (!eliciting_since_receive_) last_activity_ = std::max(last_activity_, now);
      eliciting_since_receive_ = true;
      last_sent_ = now;
      ping_pending_ = false;
      pacing_wake_.reset();
      pacer_.on_sent(now, total);
    }
    recovery_.on_packet_sent(std::move(sp));
    ++stats_.packets_sent;
    stats_.bytes_sent += total;
    return total;
  }

  // ---- acknowledgements and losses of our packets ----

  void on_packet_acked(const SentPacket& p) {
    if (p.acked_up_to) received_.forget_below(*p.acked_up_to + 1);
    for (const auto& f : p.frames) {
      auto it = streams_.find(to_u64(f.stream));
      if (it == streams_.end()) continue;
      Stream& s = it->second;
      switch (f.kind) {
        case SentFrame::Kind::stream: {
          const bool freed = s.send.on_acked(f.offset, f.length, f.fin);
          if (freed && s.send.want_writable && s.send.space() > 0) {
            s.send.want_writable = false;
            events_.push_back(StreamWritable{f.stream});
          }
          if (s.send.all_acked() && !s.send.finished_notified) {
            s.send.finished_notified = true;
            events_.push_back(StreamFinished{f.stream});
          }
          break;
        }
        case SentFrame::Kind::reset_stream: s.send.on_reset_acked(); break;
        case SentFrame::Kind::stop_sending:
        case SentFrame::Kind::max_stream_data: break;
      }
      maybe_remove(f.stream);
    }
  }

  void on_packet_lost(const SentPacket& p) {
    ++stats_.packets_lost;
    if (p.max_data) max_data_pending_ = true;
    if (p.max_streams) max_streams_pending_ = true;
    for (const auto& f : p.frames) {
      auto it = streams_.find(to_u64(f.stream));
      if (it == streams_.end()) continue;
      Stream& s = it->second;
      switch (f.kind) {
        case SentFrame::Kind::stream:
          s.send.on_lost(f.offset, f.length, f.fin);
          enqueue_send(f.stream, s);
          break;
        case SentFrame::Kind::reset_stream:
          s.send.on_reset_lost();
          if (s.send.reset_pending()) enqueue_control(f.stream, s);
          break;
        case SentFrame::Kind::stop_sending:
          if (!s.recv.done()) {
            s.stop_pending = true;
            enqueue_control(f.stream, s);
          }
          break;
        case SentFrame::Kind::max_stream_data:
          s.max_data_pending = true;
          enqueue_control(f.stream, s);
          break;
      }
    }
  }

  // ---- stream lifecycle ----

  Result<Stream*> app_stream(StreamId id, const char* what) {
    if (!accepting_app_calls()) return Error{Errc::bad_state, std::string(what) + ": connection is closing"};
    auto it = streams_.find(to_u64(id));
    if (it == streams_.end())
      return Error{Errc::bad_state, std::string(what) + ": stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
    return &it->second;
  }

  void reset_send(StreamId id, Stream& s, std::uint64_t code) {
    if (s.send.is_reset() || s.send.all_acked()) return;
    unsent_bytes_ -= s.send.write_end() - s.send.next_offset();
    (void)s.send.reset(code);
    enqueue_control(id, s);
  }

  // Forgets a stream whose two halves are both done; a peer stream's slot goes back to the peer.
  void maybe_remove(StreamId id) {
    auto it = streams_.find(to_u64(id));
    if (it == streams_.end()) return;
    const Stream& s = it->second;
    if (!s.send.done() || !s.recv.done() || s.stop_pending || s.send.reset_pending()) return;
    streams_.erase(it);
    if (!opened_by(id, role_)) {
      ++max_remote_streams_;
      max_streams_pending_ = true;
    }
  }

  void drop_streams() {
    unsent_bytes_ = 0;
    streams_.clear();
    send_queue_.clear();
    control_queue_.clear();
  }

  // ---- closing ----

  void fail(TimePoint now, TransportError code, std::string message) {
    if (state_ != ConnectionState::open) return;
    if (message.size() > max_close_reason) message.resize(max_close_reason);
    enter_closing(now, CloseFrame{false, static_cast<std::uint64_t>(code), message}, CloseReason::local_error);
  }

  void enter_closing(TimePoint now, CloseFrame frame, CloseReason reason) {
    state_ = ConnectionState::closing;
    close_deadline_ = now + 3 * recovery_.pto_base();
    events_.push_back(ConnectionClosed{reason, frame.code, frame.reason});
    close_frame_ = std::move(frame);
    close_resend_ = true;
    drop_streams();
  }

  ConnectionId local_;
  ConnectionId peer_;
  Role role_;
  std::unique_ptr<PacketProtection> protection_;
  std::optional<PreviousKeys> previous_;  // keys before the last rekey, still accepted on receipt
  Config cfg_;
  ConnectionState state_ = ConnectionState::open;
  LossRecovery recovery_;
  Pacer pacer_;
  ConnectionStats stats_;
  PacketNumber next_pn_ = 0;

  // What we received, and when to acknowledge it.
  AckRanges received_;
  std::optional<PacketNumber> largest_received_;
  TimePoint largest_received_time_{};
  std::uint32_t unacked_eliciting_ = 0;
  bool ack_new_info_ = false;
  bool ack_now_ = false;
  std::optional<TimePoint> ack_deadline_;

  // Streams.
  std::unordered_map<std::uint64_t, Stream> streams_;
  std::deque<StreamId> send_queue_;     // streams with data to send, round robin
  std::deque<StreamId> control_queue_;  // streams with control frames to send
  std::uint64_t opened_local_ = 0;      // streams we opened
  std::uint64_t peer_max_streams_ = initial_max_streams;
  bool streams_blocked_ = false;
  std::uint64_t opened_remote_ = 0;     // streams the peer opened
  std::uint64_t max_remote_streams_;    // cumulative limit we grant
  bool max_streams_pending_ = false;

  // Connection-level flow control.
  std::uint64_t peer_max_data_ = initial_max_data;
  std::uint64_t data_sent_ = 0;  // new stream bytes sent, all streams
  std::uint64_t unsent_bytes_ = 0;  // written by the application, never sent (all streams)
  bool connection_blocked_ = false;
  std::uint64_t max_data_advertised_;
  std::uint64_t data_received_ = 0;  // highest offsets received, all streams
  std::uint64_t data_consumed_ = 0;  // read by the application or discarded
  bool max_data_pending_ = false;

  // Timers and keep-alive.
  TimePoint last_activity_;
  TimePoint last_sent_;
  bool eliciting_since_receive_ = false;
  bool ping_pending_ = false;
  std::optional<TimePoint> pacing_wake_;

  // Closing.
  std::optional<std::pair<std::uint64_t, std::string>> close_after_flush_;
  std::optional<CloseFrame> close_frame_;
  bool close_resend_ = false;
  int close_repeats_ = 0;
  std::optional<TimePoint> close_deadline_;

  std::deque<Event> events_;
  std::vector<std::uint8_t> scratch_;
};

}  // namespace pdtp::rudp
