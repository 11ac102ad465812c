// Connection, output side: assembling the next packet (ACK, control frames, stream data) and sealing it.
// Part of connection.hpp (which includes this at its end); not meant to be included alone.
#pragma once

#include "pdtp/rudp/connection.hpp"

namespace pdtp::rudp {

inline std::size_t Connection::write_transmit(TimePoint now, std::span<std::uint8_t> out) {
  if (state_ == ConnectionState::closed || state_ == ConnectionState::draining) return 0;
  if (state_ == ConnectionState::open && mtu_probe_.wants_to_send() && out.size() >= mtu_probe_.size() &&
      recovery_.window_allows_send())
    return write_mtu_probe(now, out);
  const std::size_t limit = std::min(out.size(), send_size_);
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
  SendState st = !work ? SendState::idle : may_elicit ? SendState::sending : SendState::window;
  if (may_elicit && !probe && work && cfg_.pacing) {
    pacer_.set_rate(recovery_.pacing_rate());
    if (auto t = pacer_.delay_until(now, limit)) {
      pacing_wake_ = t;
      may_elicit = false;
      st = SendState::pacing;
    }
  }
  note_send_state(now, st);
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

// A PING padded to the size being probed (mtu_probe.hpp decides when). Sent with DF set by the
// transport, so a path that cannot carry it loses it instead of fragmenting.
inline std::size_t Connection::write_mtu_probe(TimePoint now, std::span<std::uint8_t> out) {
  const std::size_t overhead = protection_->overhead();
  detail::Writer w(out.subspan(header_size, mtu_probe_.size() - header_size - overhead));
  write_frame(w, PingFrame{});
  write_frame(w, PaddingFrame{w.remaining()});
  SentPacket sp;
  sp.number = next_pn_;
  sp.time_sent = now;
  sp.mtu_probe = true;
  mtu_probe_.on_sent(now);
  return finish_packet(now, out, w, std::move(sp), true);
}

inline void Connection::write_ack(TimePoint now, detail::Writer& w, SentPacket& sp) {
  const auto delay = std::chrono::duration_cast<std::chrono::microseconds>(now - largest_received_time_).count();
  AckFrame ack = received_.frame(static_cast<std::uint64_t>(std::max<std::int64_t>(delay, 0)));
  // Keep room for data: drop low ranges if the frame would take more than a quarter of the packet.
  while (ack.ranges.size() > 1 && frame_size(ack) > w.remaining() / 4) ack.ranges.pop_back();
  if (frame_size(ack) > w.remaining()) return;
  write_frame(w, ack);
  sp.acked_up_to = ack.largest();
  clear_ack_state();
}

inline void Connection::write_control(detail::Writer& w, SentPacket& sp) {
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

inline bool Connection::write_stream_control(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s) {
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

inline void Connection::write_streams(detail::Writer& w, SentPacket& sp) {
  // Lowest stream id first: streams opened earlier (the control stream, the earliest chunk asked
  // for) finish first instead of all crawling along together; a stream that cannot send yields.
  while (!send_queue_.empty() && w.remaining() > 8) {
    const StreamId id{*send_queue_.begin()};
    auto it = streams_.find(to_u64(id));
    if (it == streams_.end()) {
      send_queue_.erase(send_queue_.begin());
      continue;
    }
    Stream& s = it->second;
    if (!write_stream_frame(w, sp, id, s)) return;  // no room left: the stream keeps its turn
    send_queue_.erase(send_queue_.begin());
    s.in_send_queue = false;
    if (s.send.wants_to_send(connection_credit())) {
      s.in_send_queue = true;
      send_queue_.insert(to_u64(id));
    } else if (s.send.sendable(UINT64_MAX) > 0 && connection_credit() == 0) {
      connection_blocked_ = true;  // MAX_DATA will queue it again
    }
  }
}

inline bool Connection::write_stream_frame(detail::Writer& w, SentPacket& sp, StreamId id, Stream& s) {
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

inline bool Connection::send_lost_range(const SendStream& send, std::uint64_t& offset, std::uint64_t& available) {
  if (!send.has_lost()) return false;
  const auto& iv = send.first_lost();
  offset = iv.start;
  available = iv.size();
  return true;
}

inline std::size_t Connection::finish_packet(TimePoint now, std::span<std::uint8_t> out, detail::Writer& w,
                                             SentPacket&& sp, bool eliciting) {
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
    events_.push_back(ConnectionClosed{CloseReason::local_error,
                                       static_cast<std::uint64_t>(TransportError::internal_error),
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

}  // namespace pdtp::rudp
