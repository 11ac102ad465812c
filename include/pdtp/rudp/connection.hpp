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
#include <set>
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
#include "pdtp/rudp/mtu_probe.hpp"
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
  std::uint64_t mtu_probes_lost = 0;
  // Where the sender's time went (in the manner of Linux's tcp_info busy/limited times), from the
  // first ack-eliciting packet on: data waiting but the congestion window full, data waiting but
  // the pacer holding it, or nothing to send (including flow-control limits).
  Duration time_window_limited{};
  Duration time_pacing_limited{};
  Duration time_idle{};
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
    send_size_ = cfg_.max_datagram_size;
    mtu_probe_ = MtuProbe(cfg_.probe_datagram_size > send_size_ ? cfg_.probe_datagram_size : 0);
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
  void on_datagram(TimePoint now, std::span<const std::uint8_t> datagram);

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
    mtu_probe_.on_timeout(now);
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
  std::size_t write_transmit(TimePoint now, std::span<std::uint8_t> out);

  std::optional<Datagram> poll_transmit(TimePoint now) {
    Datagram d;
    d.bytes.resize(std::max(send_size_, mtu_probe_.size()));
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
    take(mtu_probe_.timer());
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
  Result<StreamId> open_stream();

  // Accepts as many bytes as the stream's send buffer has room for (maybe 0; StreamWritable follows).
  Result<std::size_t> write(StreamId id, std::span<const std::uint8_t> data);

  // No more data on this stream after what was written.
  Status finish(StreamId id);

  // Copies in-order bytes into `out`; `fin` once the end of the stream is reached. Read until it
  // returns fewer bytes than asked: StreamReadable comes again only after a read drains the stream.
  Result<ReadResult> read(StreamId id, std::span<std::uint8_t> out);

  // Abandons the stream both ways: our sending half is reset with `code` (RESET_STREAM) and the peer
  // is asked to stop its own (STOP_SENDING); unread data is discarded.
  Status reset(StreamId id, std::uint64_t code);

  // Abandons only our receiving half: unread and later data is discarded and, unless the peer's half
  // already ended, the peer is asked to stop (STOP_SENDING with `code`; it answers RESET_STREAM).
  // Our sending half goes on: what we wrote and our FIN are still delivered.
  Status stop_sending(StreamId id, std::uint64_t code);

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
  // The largest datagram this connection sends now: max_datagram_size, or more once a path MTU
  // probe (Config::probe_datagram_size) was acknowledged.
  std::size_t datagram_size() const noexcept { return send_size_; }
  // Path MTU probing: probes sent, failed tries of the current search, searches given up.
  const MtuProbe& mtu_probe() const noexcept { return mtu_probe_; }
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
    void lost(const SentPacket& p) { c.on_packet_lost(now, p); }
  };

  static Config clamped(Config c) {
    c.max_datagram_size = std::clamp<std::size_t>(c.max_datagram_size, min_datagram_size, max_udp_payload);
    if (c.probe_datagram_size != 0)
      c.probe_datagram_size = std::clamp<std::size_t>(c.probe_datagram_size, min_datagram_size, max_udp_payload);
    using U = std::uint64_t;
    c.stream_receive_window = std::clamp<U>(c.stream_receive_window, initial_max_stream_data, U{1} << 32);
    c.connection_receive_window = std::clamp<U>(c.connection_receive_window, initial_max_data, U{1} << 40);
    c.stream_send_buffer = std::clamp<U>(c.stream_send_buffer, 4096, U{1} << 32);
    c.max_incoming_streams = std::clamp<U>(c.max_incoming_streams, initial_max_streams, U{1} << 20);
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

  void record_received(TimePoint now, PacketNumber pn, bool eliciting);

  void handle_frame(TimePoint now, const Frame& frame) {
    std::visit([&](const auto& f) { on_frame(now, f); }, frame);
  }

  void on_frame(TimePoint, const PaddingFrame&) {}
  void on_frame(TimePoint, const PingFrame&) {}

  void on_frame(TimePoint now, const AckFrame& f);
  void on_frame(TimePoint now, const StreamFrame& f);
  void on_frame(TimePoint now, const ResetStreamFrame& f);
  void on_frame(TimePoint now, const StopSendingFrame& f);
  void on_frame(TimePoint, const MaxDataFrame& f);
  void on_frame(TimePoint now, const MaxStreamDataFrame& f);
  void on_frame(TimePoint, const MaxStreamsFrame& f);
  void on_frame(TimePoint now, const CloseFrame& f);

  // Counts new bytes against our connection credit; false (and the connection fails) if over it.
  bool add_received(TimePoint now, std::uint64_t growth);

  // The stream a frame names, opening peer streams as needed; nullptr if the stream is already
  // closed (late frames are ignored) or the frame broke the rules (the connection then fails).
  Stream* stream_for_frame(TimePoint now, StreamId id, const char* frame);

  void create_stream(StreamId id);

  void notify_readable(StreamId id, Stream& s);

  // The application consumed (or we discarded) bytes: connection credit may be extended.
  void consume(std::uint64_t n);

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
    send_queue_.insert(to_u64(id));
  }
  void enqueue_control(StreamId id, Stream& s) {
    if (s.in_control_queue) return;
    s.in_control_queue = true;
    control_queue_.push_back(id);
  }

  std::uint64_t connection_credit() const noexcept {
    return peer_max_data_ > data_sent_ ? peer_max_data_ - data_sent_ : 0;
  }

  void write_ack(TimePoint now, detail::Writer& w, SentPacket& sp);

  void clear_ack_state() noexcept {
    ack_new_info_ = false;
    ack_now_ = false;
    ack_deadline_.reset();
    unacked_eliciting_ = 0;
  }

  void write_control(detail::Writer& w, SentPacket& sp);

  // Writes the stream's pending control frames; false if they did not all fit.
  bool write_stream_control(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s);

  void write_streams(detail::Writer& w, SentPacket& sp);

  // Writes one STREAM frame (lost bytes first, then new ones); false if not even a byte fits.
  // A stream with nothing to send returns true having written nothing.
  bool write_stream_frame(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s);

  static bool send_lost_range(const SendStream& send, std::uint64_t& offset, std::uint64_t& available);

  std::size_t finish_packet(TimePoint now, std::span<std::uint8_t> out, detail::Writer& w, SentPacket&& sp,
                            bool eliciting);

  // ---- acknowledgements and losses of our packets ----

  void on_packet_acked(const SentPacket& p);

  void on_packet_lost(TimePoint now, const SentPacket& p);

  // ---- stream lifecycle ----

  Result<Stream*> app_stream(StreamId id, const char* what);

  void reset_send(StreamId id, Stream& s, std::uint64_t code);

  // Discards our receiving half and queues STOP_SENDING if more data may still come.
  void stop_receiving(StreamId id, Stream& s, std::uint64_t code);

  // Forgets a stream whose two halves are both done; a peer stream's slot goes back to the peer.
  void maybe_remove(StreamId id);

  void drop_streams() {
    unsent_bytes_ = 0;
    streams_.clear();
    send_queue_.clear();
    control_queue_.clear();
  }

  // ---- closing ----

  void fail(TimePoint now, TransportError code, std::string message);

  void enter_closing(TimePoint now, CloseFrame frame, CloseReason reason);

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
  // Path MTU probing (Config::probe_datagram_size, mtu_probe.hpp).
  std::size_t send_size_ = 0;  // largest datagram sent now
  MtuProbe mtu_probe_;
  std::size_t write_mtu_probe(TimePoint now, std::span<std::uint8_t> out);
  enum class SendState : std::uint8_t { none, sending, window, pacing, idle };
  SendState send_state_ = SendState::none;
  TimePoint send_state_since_{};
  void note_send_state(TimePoint now, SendState st) noexcept {
    if (send_state_ != SendState::none && now > send_state_since_) {
      const Duration d = now - send_state_since_;
      if (send_state_ == SendState::window) stats_.time_window_limited += d;
      else if (send_state_ == SendState::pacing) stats_.time_pacing_limited += d;
      else if (send_state_ == SendState::idle) stats_.time_idle += d;
    }
    if (send_state_ == SendState::none && st == SendState::idle) return;  // not started yet
    send_state_ = st;
    send_state_since_ = now;
  }
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
  std::set<std::uint64_t> send_queue_;  // streams with data to send, lowest id first
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
  bool drop_packet_ = false;  // a frame asked to leave the packet being processed unacknowledged
};

}  // namespace pdtp::rudp

#include "pdtp/rudp/detail/connection_frames.hpp"
#include "pdtp/rudp/detail/connection_packets.hpp"
#include "pdtp/rudp/detail/connection_streams.hpp"
