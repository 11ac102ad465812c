// PDTP v2 framing: each frame is a 16-bit big-endian body length followed by that many body bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pdtp/result.hpp"

namespace pdtp {

inline constexpr std::size_t frame_header_size = 2;
inline constexpr std::size_t max_frame_body = 65535;

// Appends one frame (header + body) to `out`; on error `out` is left unchanged.
inline Status append_frame(std::string& out, std::string_view body) {
  if (body.empty()) return Error{Errc::empty_frame, "frame body is empty"};
  if (body.size() > max_frame_body)
    return Error{Errc::frame_too_large,
                 "frame body of " + std::to_string(body.size()) + " bytes exceeds 65535"};
  out.push_back(static_cast<char>((body.size() >> 8) & 0xFFu));
  out.push_back(static_cast<char>(body.size() & 0xFFu));
  out.append(body);
  return Ok{};
}

inline Result<std::string> encode_frame(std::string_view body) {
  std::string out;
  out.reserve(frame_header_size + body.size());
  if (auto st = append_frame(out, body); !st) return st.error();
  return out;
}

// Incremental decoder: feed bytes as they arrive, then call next() until it says incomplete.
// Buffered bytes stay below one frame plus the last feed as long as the caller drains after each feed.
class FrameDecoder {
 public:
  void feed(std::string_view bytes) {
    compact();
    buf_.append(bytes);
  }

  // The next whole frame body, or Errc::incomplete when no whole frame is buffered yet.
  // Errc::empty_frame for a zero-length body (its header is consumed; it is a protocol error).
  // The view stays valid until the next call to feed().
  Result<std::string_view> next_view() {
    const std::size_t avail = buf_.size() - off_;
    if (avail < frame_header_size) return Error{Errc::incomplete, "need a frame header"};
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + off_);
    const std::size_t len = (std::size_t{p[0]} << 8) | std::size_t{p[1]};
    if (len == 0) {
      off_ += frame_header_size;
      return Error{Errc::empty_frame, "zero-length frame"};
    }
    if (avail - frame_header_size < len) return Error{Errc::incomplete, "need the rest of the frame body"};
    std::string_view body(buf_.data() + off_ + frame_header_size, len);
    off_ += frame_header_size + len;
    return body;
  }

  Result<std::string> next() {
    auto body = next_view();
    if (!body) return body.error();
    return std::string(*body);
  }

  // Bytes received but not yet returned as frames.
  std::size_t buffered() const noexcept { return buf_.size() - off_; }

 private:
  // Drop consumed bytes in bulk (not per frame) so decoding stays linear in the input size.
  void compact() {
    if (off_ == 0) return;
    if (off_ == buf_.size()) {
      buf_.clear();
      off_ = 0;
    } else if (off_ >= 4096 && off_ * 2 >= buf_.size()) {
      buf_.erase(0, off_);
      off_ = 0;
    }
  }

  std::string buf_;
  std::size_t off_ = 0;  // start of the first unconsumed byte in buf_
};

}  // namespace pdtp
