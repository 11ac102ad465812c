// Connection, streams: the application's stream calls, the fate of frames we sent (acked or lost),
// stream lifetimes, and closing on errors.
// Part of connection.hpp (which includes this at its end); not meant to be included alone.
#pragma once

#include "pdtp/rudp/connection.hpp"

namespace pdtp::rudp {

inline Result<StreamId> Connection::open_stream() {
  if (!accepting_app_calls()) return Error{Errc::bad_state, "connection is closing"};
  if (opened_local_ >= peer_max_streams_) {
    streams_blocked_ = true;
    return Error{Errc::would_block, "peer allows " + std::to_string(peer_max_streams_) + " streams"};
  }
  const StreamId id = nth_stream(role_, opened_local_++);
  create_stream(id);
  return id;
}

inline Result<std::size_t> Connection::write(StreamId id, std::span<const std::uint8_t> data) {
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

inline Status Connection::finish(StreamId id) {
  auto s = app_stream(id, "finish");
  if (!s) return s.error();
  Stream& st = **s;
  if (st.send.is_reset()) return Error{Errc::bad_state, "stream " + std::to_string(to_u64(id)) + " is reset"};
  st.send.finish();
  enqueue_send(id, st);
  return Ok{};
}

inline Result<ReadResult> Connection::read(StreamId id, std::span<std::uint8_t> out) {
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

inline Status Connection::reset(StreamId id, std::uint64_t code) {
  auto it = streams_.find(to_u64(id));
  if (it == streams_.end() || state_ != ConnectionState::open)
    return Error{Errc::bad_state, "reset: stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
  if (code > max_varint) return Error{Errc::bad_field, "reset: code " + std::to_string(code) + " exceeds 2^62-1"};
  Stream& st = it->second;
  reset_send(id, st, code);
  stop_receiving(id, st, code);
  maybe_remove(id);
  return Ok{};
}

inline Status Connection::stop_sending(StreamId id, std::uint64_t code) {
  auto it = streams_.find(to_u64(id));
  if (it == streams_.end() || state_ != ConnectionState::open)
    return Error{Errc::bad_state, "stop_sending: stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
  if (code > max_varint)
    return Error{Errc::bad_field, "stop_sending: code " + std::to_string(code) + " exceeds 2^62-1"};
  stop_receiving(id, it->second, code);
  maybe_remove(id);
  return Ok{};
}

inline void Connection::on_packet_acked(const SentPacket& p) {
  if (p.acked_up_to) received_.forget_below(*p.acked_up_to + 1);
  if (p.mtu_probe) {  // the path carries datagrams of this size
    mtu_probe_.on_acked();
    send_size_ = std::max<std::size_t>(send_size_, p.size);
  }
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

inline void Connection::on_packet_lost(TimePoint now, const SentPacket& p) {
  if (p.mtu_probe) {
    ++stats_.mtu_probes_lost;
    mtu_probe_.on_lost(now, recovery_.pto_base());
    return;
  }
  ++stats_.packets_lost;
  if (p.in_flight()) mtu_probe_.on_other_lost(p.time_sent, recovery_.rtt().smoothed());
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

inline Result<Connection::Stream*> Connection::app_stream(StreamId id, const char* what) {
  if (!accepting_app_calls()) return Error{Errc::bad_state, std::string(what) + ": connection is closing"};
  auto it = streams_.find(to_u64(id));
  if (it == streams_.end())
    return Error{Errc::bad_state,
                 std::string(what) + ": stream " + std::to_string(to_u64(id)) + " is unknown or closed"};
  return &it->second;
}

inline void Connection::reset_send(StreamId id, Stream& s, std::uint64_t code) {
  if (s.send.is_reset() || s.send.all_acked()) return;
  unsent_bytes_ -= s.send.write_end() - s.send.next_offset();
  (void)s.send.reset(code);
  enqueue_control(id, s);
}

inline void Connection::stop_receiving(StreamId id, Stream& s, std::uint64_t code) {
  if (s.recv.done() || s.recv.stopped()) return;
  consume(s.recv.unread_beyond(s.recv.highest()));
  s.recv.stop();
  if (s.recv.done()) return;  // everything up to the final size is here: nothing to stop
  s.stop_pending = true;
  s.stop_code = code;
  enqueue_control(id, s);
}

inline void Connection::maybe_remove(StreamId id) {
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

inline void Connection::fail(TimePoint now, TransportError code, std::string message) {
  if (state_ != ConnectionState::open) return;
  if (message.size() > max_close_reason) message.resize(max_close_reason);
  enter_closing(now, CloseFrame{false, static_cast<std::uint64_t>(code), message}, CloseReason::local_error);
}

inline void Connection::enter_closing(TimePoint now, CloseFrame frame, CloseReason reason) {
  state_ = ConnectionState::closing;
  close_deadline_ = now + 3 * recovery_.pto_base();
  events_.push_back(ConnectionClosed{reason, frame.code, frame.reason});
  close_frame_ = std::move(frame);
  close_resend_ = true;
  drop_streams();
}

}  // namespace pdtp::rudp
