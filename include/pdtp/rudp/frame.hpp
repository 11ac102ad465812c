// Frames: the typed units inside a packet's protected payload, and their codec.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "pdtp/result.hpp"
#include "pdtp/rudp/detail/bytes.hpp"
#include "pdtp/rudp/types.hpp"
#include "pdtp/rudp/varint.hpp"

namespace pdtp::rudp {

enum class FrameType : std::uint8_t {
  padding = 0x00,
  ping = 0x01,
  ack = 0x02,
  reset_stream = 0x04,
  stop_sending = 0x05,
  stream = 0x08,      // 0x09 = stream with FIN
  stream_fin = 0x09,
  max_data = 0x10,
  max_stream_data = 0x11,
  max_streams = 0x12,
  close_transport = 0x1c,
  close_application = 0x1d,
};

// Bound on decoded ACK ranges so a hostile frame cannot make us allocate much.
inline constexpr std::size_t max_decoded_ack_ranges = 256;
// Stream ids are varints, so at most 2^61 streams per initiator exist.
inline constexpr std::uint64_t max_stream_count = std::uint64_t{1} << 61;

struct PaddingFrame {
  std::size_t length = 1;  // a run of zero bytes decodes as one frame
  friend bool operator==(const PaddingFrame&, const PaddingFrame&) = default;
};
struct PingFrame {
  friend bool operator==(const PingFrame&, const PingFrame&) = default;
};
struct AckRange {
  PacketNumber smallest = 0;
  PacketNumber largest = 0;  // inclusive
  friend bool operator==(const AckRange&, const AckRange&) = default;
};
struct AckFrame {
  std::uint64_t ack_delay_us = 0;  // time the receiver held the largest packet before acking
  std::vector<AckRange> ranges;    // descending, disjoint, at least one packet apart; never empty
  PacketNumber largest() const noexcept { return ranges.front().largest; }
  friend bool operator==(const AckFrame&, const AckFrame&) = default;
};
struct ResetStreamFrame {
  StreamId stream{};
  std::uint64_t code = 0;
  std::uint64_t final_size = 0;
  friend bool operator==(const ResetStreamFrame&, const ResetStreamFrame&) = default;
};
struct StopSendingFrame {
  StreamId stream{};
  std::uint64_t code = 0;
  friend bool operator==(const StopSendingFrame&, const StopSendingFrame&) = default;
};
struct StreamFrame {
  StreamId stream{};
  std::uint64_t offset = 0;
  bool fin = false;
  std::span<const std::uint8_t> data;  // views the decoded datagram
  friend bool operator==(const StreamFrame& a, const StreamFrame& b) {
    return a.stream == b.stream && a.offset == b.offset && a.fin == b.fin &&
           std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end());
  }
};
struct MaxDataFrame {
  std::uint64_t maximum = 0;
  friend bool operator==(const MaxDataFrame&, const MaxDataFrame&) = default;
};
struct MaxStreamDataFrame {
  StreamId stream{};
  std::uint64_t maximum = 0;
  friend bool operator==(const MaxStreamDataFrame&, const MaxStreamDataFrame&) = default;
};
struct MaxStreamsFrame {
  std::uint64_t maximum = 0;  // cumulative count of streams the peer may open
  friend bool operator==(const MaxStreamsFrame&, const MaxStreamsFrame&) = default;
};
struct CloseFrame {
  bool application = false;  // false: transport error code; true: the application's own code
  std::uint64_t code = 0;
  std::string reason;
  friend bool operator==(const CloseFrame&, const CloseFrame&) = default;
};

using Frame = std::variant<PaddingFrame, PingFrame, AckFrame, ResetStreamFrame, StopSendingFrame, StreamFrame,
                           MaxDataFrame, MaxStreamDataFrame, MaxStreamsFrame, CloseFrame>;

// Frames that oblige the receiver to acknowledge the packet (everything but PADDING, ACK and CLOSE).
inline bool is_ack_eliciting(const Frame& f) noexcept {
  return !std::holds_alternative<PaddingFrame>(f) && !std::holds_alternative<AckFrame>(f) &&
         !std::holds_alternative<CloseFrame>(f);
}

// ---- encoding ----

// Size of a STREAM frame header for these values (type, id, offset, length).
inline std::size_t stream_frame_overhead(StreamId id, std::uint64_t offset, std::size_t len) noexcept {
  return 1 + varint_size(to_u64(id)) + varint_size(offset) + varint_size(len);
}

inline std::size_t ack_frame_size(const AckFrame& f) noexcept {
  std::size_t n = 1 + varint_size(f.largest()) + varint_size(f.ack_delay_us) + varint_size(f.ranges.size() - 1) +
                  varint_size(f.ranges[0].largest - f.ranges[0].smallest);
  for (std::size_t i = 1; i < f.ranges.size(); ++i) {
    n += varint_size(f.ranges[i - 1].smallest - f.ranges[i].largest - 2);
    n += varint_size(f.ranges[i].largest - f.ranges[i].smallest);
  }
  return n;
}

inline std::size_t frame_size(const Frame& frame) noexcept {
  struct Sizer {
    std::size_t operator()(const PaddingFrame& f) const { return f.length; }
    std::size_t operator()(const PingFrame&) const { return 1; }
    std::size_t operator()(const AckFrame& f) const { return ack_frame_size(f); }
    std::size_t operator()(const ResetStreamFrame& f) const {
      return 1 + varint_size(to_u64(f.stream)) + varint_size(f.code) + varint_size(f.final_size);
    }
    std::size_t operator()(const StopSendingFrame& f) const {
      return 1 + varint_size(to_u64(f.stream)) + varint_size(f.code);
    }
    std::size_t operator()(const StreamFrame& f) const {
      return stream_frame_overhead(f.stream, f.offset, f.data.size()) + f.data.size();
    }
    std::size_t operator()(const MaxDataFrame& f) const { return 1 + varint_size(f.maximum); }
    std::size_t operator()(const MaxStreamDataFrame& f) const {
      return 1 + varint_size(to_u64(f.stream)) + varint_size(f.maximum);
    }
    std::size_t operator()(const MaxStreamsFrame& f) const { return 1 + varint_size(f.maximum); }
    std::size_t operator()(const CloseFrame& f) const {
      return 1 + varint_size(f.code) + varint_size(f.reason.size()) + f.reason.size();
    }
  };
  return std::visit(Sizer{}, frame);
}

inline void write_ack_frame(detail::Writer& w, const AckFrame& f) noexcept {
  w.u8(static_cast<std::uint8_t>(FrameType::ack));
  write_varint(w, f.largest());
  write_varint(w, f.ack_delay_us);
  write_varint(w, f.ranges.size() - 1);
  write_varint(w, f.ranges[0].largest - f.ranges[0].smallest);
  for (std::size_t i = 1; i < f.ranges.size(); ++i) {
    write_varint(w, f.ranges[i - 1].smallest - f.ranges[i].largest - 2);
    write_varint(w, f.ranges[i].largest - f.ranges[i].smallest);
  }
}

inline void write_stream_frame_header(detail::Writer& w, StreamId id, std::uint64_t offset, std::size_t len,
                                      bool fin) noexcept {
  w.u8(static_cast<std::uint8_t>(fin ? FrameType::stream_fin : FrameType::stream));
  write_varint(w, to_u64(id));
  write_varint(w, offset);
  write_varint(w, len);
}

// Writes one frame; the caller checked frame_size() against the room left. Values must be valid
// (as decode_frame would produce them).
inline void write_frame(detail::Writer& w, const Frame& frame) noexcept {
  struct Enc {
    detail::Writer& w;
    void operator()(const PaddingFrame& f) const { w.zeros(f.length); }
    void operator()(const PingFrame&) const { w.u8(static_cast<std::uint8_t>(FrameType::ping)); }
    void operator()(const AckFrame& f) const { write_ack_frame(w, f); }
    void operator()(const ResetStreamFrame& f) const {
      w.u8(static_cast<std::uint8_t>(FrameType::reset_stream));
      write_varint(w, to_u64(f.stream));
      write_varint(w, f.code);
      write_varint(w, f.final_size);
    }
    void operator()(const StopSendingFrame& f) const {
      w.u8(static_cast<std::uint8_t>(FrameType::stop_sending));
      write_varint(w, to_u64(f.stream));
      write_varint(w, f.code);
    }
    void operator()(const StreamFrame& f) const {
      write_stream_frame_header(w, f.stream, f.offset, f.data.size(), f.fin);
      w.bytes(f.data);
    }
    void operator()(const MaxDataFrame& f) const {
      w.u8(static_cast<std::uint8_t>(FrameType::max_data));
      write_varint(w, f.maximum);
    }
    void operator()(const MaxStreamDataFrame& f) const {
      w.u8(static_cast<std::uint8_t>(FrameType::max_stream_data));
      write_varint(w, to_u64(f.stream));
      write_varint(w, f.maximum);
    }
    void operator()(const MaxStreamsFrame& f) const {
      w.u8(static_cast<std::uint8_t>(FrameType::max_streams));
      write_varint(w, f.maximum);
    }
    void operator()(const CloseFrame& f) const {
      w.u8(static_cast<std::uint8_t>(f.application ? FrameType::close_application : FrameType::close_transport));
      write_varint(w, f.code);
      write_varint(w, f.reason.size());
      w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(f.reason.data()), f.reason.size()));
    }
  };
  std::visit(Enc{w}, frame);
}

// ---- decoding ----

namespace detail {
#define PDTP_RUDP_TRY_VARINT(var, reader, what)       \
  auto var##_r = read_varint(reader, what);           \
  if (!var##_r) return var##_r.error();               \
  const std::uint64_t var = *var##_r

inline Result<Frame> decode_ack(Reader& r) {
  PDTP_RUDP_TRY_VARINT(largest, r, "ACK largest");
  PDTP_RUDP_TRY_VARINT(delay, r, "ACK delay");
  PDTP_RUDP_TRY_VARINT(count, r, "ACK range count");
  if (count >= max_decoded_ack_ranges)
    return Error{Errc::bad_field, "ACK range count " + std::to_string(count) + " exceeds " +
                                      std::to_string(max_decoded_ack_ranges - 1)};
  PDTP_RUDP_TRY_VARINT(first, r, "ACK first range");
  if (first > largest)
    return Error{Errc::bad_field,
                 "ACK first range " + std::to_string(first) + " exceeds largest " + std::to_string(largest)};
  AckFrame f;
  f.ack_delay_us = delay;
  f.ranges.reserve(static_cast<std::size_t>(count) + 1);
  f.ranges.push_back({largest - first, largest});
  for (std::uint64_t i = 0; i < count; ++i) {
    PDTP_RUDP_TRY_VARINT(gap, r, "ACK gap");
    PDTP_RUDP_TRY_VARINT(len, r, "ACK range length");
    const PacketNumber prev_smallest = f.ranges.back().smallest;
    if (prev_smallest < 2 || gap > prev_smallest - 2)
      return Error{Errc::bad_field, "ACK gap " + std::to_string(gap) + " goes below packet number 0"};
    const PacketNumber hi = prev_smallest - gap - 2;
    if (len > hi)
      return Error{Errc::bad_field, "ACK range length " + std::to_string(len) + " goes below packet number 0"};
    f.ranges.push_back({hi - len, hi});
  }
  return Frame{std::move(f)};
}

inline Result<Frame> decode_stream(Reader& r, bool fin) {
  PDTP_RUDP_TRY_VARINT(id, r, "STREAM stream id");
  PDTP_RUDP_TRY_VARINT(offset, r, "STREAM offset");
  PDTP_RUDP_TRY_VARINT(len, r, "STREAM length");
  if (len > max_varint - offset)
    return Error{Errc::bad_field, "STREAM offset " + std::to_string(offset) + " + length " + std::to_string(len) +
                                      " exceeds 2^62-1"};
  if (len > r.remaining())
    return Error{Errc::incomplete, "STREAM length " + std::to_string(len) + " but " +
                                       std::to_string(r.remaining()) + " bytes left in the packet"};
  StreamFrame f;
  f.stream = StreamId{id};
  f.offset = offset;
  f.fin = fin;
  f.data = *r.bytes(static_cast<std::size_t>(len));
  return Frame{f};
}

inline Result<Frame> decode_close(Reader& r, bool application) {
  PDTP_RUDP_TRY_VARINT(code, r, "CLOSE code");
  PDTP_RUDP_TRY_VARINT(len, r, "CLOSE reason length");
  if (len > r.remaining())
    return Error{Errc::incomplete, "CLOSE reason length " + std::to_string(len) + " but " +
                                       std::to_string(r.remaining()) + " bytes left in the packet"};
  auto bytes = *r.bytes(static_cast<std::size_t>(len));
  CloseFrame f;
  f.application = application;
  f.code = code;
  f.reason.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return Frame{std::move(f)};
}
}  // namespace detail

// Decodes the next frame. Errors: incomplete (the packet ends inside the frame), unknown_type,
// bad_field (a value out of range). Never reads past the reader's end.
inline Result<Frame> decode_frame(detail::Reader& r) {
  // Frame types are single bytes (all below 0x40: a one-byte varint); other encodings are refused
  // so one byte string has one meaning.
  auto type_r = r.u8();
  if (!type_r) return Error{Errc::incomplete, "frame type: missing"};
  const std::uint8_t type = *type_r;
  switch (type) {
    case 0x00: {
      std::size_t n = 1;
      while (r.peek_u8() == std::uint8_t{0}) {
        r.skip(1);
        ++n;
      }
      return Frame{PaddingFrame{n}};
    }
    case 0x01: return Frame{PingFrame{}};
    case 0x02: return detail::decode_ack(r);
    case 0x04: {
      PDTP_RUDP_TRY_VARINT(id, r, "RESET_STREAM stream id");
      PDTP_RUDP_TRY_VARINT(code, r, "RESET_STREAM code");
      PDTP_RUDP_TRY_VARINT(final_size, r, "RESET_STREAM final size");
      return Frame{ResetStreamFrame{StreamId{id}, code, final_size}};
    }
    case 0x05: {
      PDTP_RUDP_TRY_VARINT(id, r, "STOP_SENDING stream id");
      PDTP_RUDP_TRY_VARINT(code, r, "STOP_SENDING code");
      return Frame{StopSendingFrame{StreamId{id}, code}};
    }
    case 0x08: return detail::decode_stream(r, false);
    case 0x09: return detail::decode_stream(r, true);
    case 0x10: {
      PDTP_RUDP_TRY_VARINT(max, r, "MAX_DATA maximum");
      return Frame{MaxDataFrame{max}};
    }
    case 0x11: {
      PDTP_RUDP_TRY_VARINT(id, r, "MAX_STREAM_DATA stream id");
      PDTP_RUDP_TRY_VARINT(max, r, "MAX_STREAM_DATA maximum");
      return Frame{MaxStreamDataFrame{StreamId{id}, max}};
    }
    case 0x12: {
      PDTP_RUDP_TRY_VARINT(max, r, "MAX_STREAMS maximum");
      if (max > max_stream_count)
        return Error{Errc::bad_field, "MAX_STREAMS " + std::to_string(max) + " exceeds 2^61"};
      return Frame{MaxStreamsFrame{max}};
    }
    case 0x1c: return detail::decode_close(r, false);
    case 0x1d: return detail::decode_close(r, true);
    default: return Error{Errc::unknown_type, "frame type " + std::to_string(type) + " is unknown"};
  }
}
#undef PDTP_RUDP_TRY_VARINT

}  // namespace pdtp::rudp
