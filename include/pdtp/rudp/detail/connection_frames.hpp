// Connection, input side: authenticating received packets and acting on each frame they carry.
// Part of connection.hpp (which includes this at its end); not meant to be included alone.
#pragma once

#include "pdtp/rudp/connection.hpp"

namespace pdtp::rudp {

inline void Connection::on_datagram(TimePoint now, std::span<const std::uint8_t> datagram) {
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
    // The peer missed our CLOSE: say it again, a bounded number of times.
    if (close_repeats_ < 16) close_resend_ = true;
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
    if (drop_packet_) {
      // Left unacknowledged on purpose: frames already handled are harmless to see again.
      drop_packet_ = false;
      ++stats_.packets_dropped;
      return;
    }
  }
  record_received(now, pn, eliciting);
}

inline void Connection::record_received(TimePoint now, PacketNumber pn, bool eliciting) {
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

inline void Connection::on_frame(TimePoint now, const AckFrame& f) {
  RecoveryHandler h{*this, now};
  if (auto st = recovery_.on_ack(now, f, h); !st) fail(now, TransportError::protocol_violation, st.error().message);
}

inline void Connection::on_frame(TimePoint now, const StreamFrame& f) {
  Stream* s = stream_for_frame(now, f.stream, "STREAM");
  if (s == nullptr) return;
  if (s->recv.too_fragmented(f.offset, f.offset + f.data.size())) {
    drop_packet_ = true;
    return;
  }
  StreamFault fault;
  auto growth = s->recv.on_data(f.offset, f.data, f.fin, fault);
  if (!growth) return fail(now, fault.code, "stream " + std::to_string(to_u64(f.stream)) + ": " + fault.message);
  if (!add_received(now, *growth)) return;
  if (s->recv.stopped()) {
    consume(*growth);
    maybe_remove(f.stream);  // the peer sent up to its FIN instead of resetting: the half is done
    return;
  }
  notify_readable(f.stream, *s);
}

inline void Connection::on_frame(TimePoint now, const ResetStreamFrame& f) {
  Stream* s = stream_for_frame(now, f.stream, "RESET_STREAM");
  if (s == nullptr) return;
  if (s->recv.done() && !s->recv.stopped() && !s->recv.is_reset()) {
    // Everything was already read: only check the final size agrees.
    if (s->recv.final_size() && f.final_size != *s->recv.final_size())
      fail(now, TransportError::final_size_error,
           "stream " + std::to_string(to_u64(f.stream)) + ": reset final size " + std::to_string(f.final_size) +
               " differs from " + std::to_string(*s->recv.final_size()));
    return;
  }
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

inline void Connection::on_frame(TimePoint now, const StopSendingFrame& f) {
  Stream* s = stream_for_frame(now, f.stream, "STOP_SENDING");
  if (s == nullptr) return;
  if (s->send.is_reset() || s->send.all_acked()) return;
  reset_send(f.stream, *s, f.code);
  events_.push_back(StreamStopped{f.stream, f.code});
  maybe_remove(f.stream);
}

inline void Connection::on_frame(TimePoint, const MaxDataFrame& f) {
  if (f.maximum <= peer_max_data_) return;
  peer_max_data_ = f.maximum;
  if (!connection_blocked_) return;
  connection_blocked_ = false;
  for (auto& [id, s] : streams_) enqueue_send(StreamId{id}, s);
}

inline void Connection::on_frame(TimePoint now, const MaxStreamDataFrame& f) {
  Stream* s = stream_for_frame(now, f.stream, "MAX_STREAM_DATA");
  if (s == nullptr) return;
  s->send.on_max_data(f.maximum);
  enqueue_send(f.stream, *s);
}

inline void Connection::on_frame(TimePoint, const MaxStreamsFrame& f) {
  if (f.maximum <= peer_max_streams_) return;
  peer_max_streams_ = f.maximum;
  if (streams_blocked_) {
    streams_blocked_ = false;
    events_.push_back(StreamsAvailable{});
  }
}

inline void Connection::on_frame(TimePoint now, const CloseFrame& f) {
  state_ = ConnectionState::draining;
  close_deadline_ = now + 3 * recovery_.pto_base();
  drop_streams();
  events_.push_back(ConnectionClosed{f.application ? CloseReason::peer : CloseReason::peer_error, f.code, f.reason});
}

inline bool Connection::add_received(TimePoint now, std::uint64_t growth) {
  data_received_ += growth;
  if (data_received_ <= max_data_advertised_) return true;
  fail(now, TransportError::flow_control_error,
       "peer sent " + std::to_string(data_received_) + " bytes, credit was " + std::to_string(max_data_advertised_));
  return false;
}

inline Connection::Stream* Connection::stream_for_frame(TimePoint now, StreamId id, const char* frame) {
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

inline void Connection::create_stream(StreamId id) {
  auto [it, inserted] = streams_.try_emplace(to_u64(id), cfg_.stream_send_buffer, cfg_.stream_receive_window);
  Stream& s = it->second;
  if (cfg_.stream_receive_window > initial_max_stream_data) {
    s.recv.on_credit_sent(cfg_.stream_receive_window);
    s.max_data_pending = true;
    enqueue_control(id, s);
  }
}

inline void Connection::notify_readable(StreamId id, Stream& s) {
  if (s.recv.readable_notified || !s.recv.readable()) return;
  s.recv.readable_notified = true;
  events_.push_back(StreamReadable{id});
}

inline void Connection::consume(std::uint64_t n) {
  data_consumed_ += n;
  const std::uint64_t next = data_consumed_ + cfg_.connection_receive_window;
  if (next > max_data_advertised_ && next - max_data_advertised_ >= cfg_.connection_receive_window / 8) {
    max_data_advertised_ = next;
    max_data_pending_ = true;
  }
}

}  // namespace pdtp::rudp
