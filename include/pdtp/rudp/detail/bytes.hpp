// Bounds-checked cursor over received bytes and a bounded writer into a caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

namespace pdtp::rudp::detail {

// Reads never go past the end: every getter returns nullopt/false instead.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  std::size_t remaining() const noexcept { return bytes_.size() - pos_; }
  bool empty() const noexcept { return pos_ == bytes_.size(); }
  std::size_t position() const noexcept { return pos_; }

  std::optional<std::uint8_t> peek_u8() const noexcept {
    if (empty()) return std::nullopt;
    return bytes_[pos_];
  }
  std::optional<std::uint8_t> u8() noexcept {
    if (empty()) return std::nullopt;
    return bytes_[pos_++];
  }
  std::optional<std::uint32_t> u32be() noexcept {
    if (remaining() < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | bytes_[pos_++];
    return v;
  }
  std::optional<std::uint64_t> u64be() noexcept {
    if (remaining() < 8) return std::nullopt;
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | bytes_[pos_++];
    return v;
  }
  std::optional<std::span<const std::uint8_t>> bytes(std::size_t n) noexcept {
    if (remaining() < n) return std::nullopt;
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  std::span<const std::uint8_t> rest() const noexcept { return bytes_.subspan(pos_); }
  void skip(std::size_t n) noexcept { pos_ += n <= remaining() ? n : remaining(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

// Writes stop at the buffer's end and latch `overflowed()`; callers size frames first, so it stays false.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) noexcept : out_(out) {}

  std::size_t size() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return out_.size() - pos_; }
  bool overflowed() const noexcept { return overflow_; }
  std::span<std::uint8_t> written() const noexcept { return out_.first(pos_); }

  void u8(std::uint8_t v) noexcept {
    if (!room(1)) return;
    out_[pos_++] = v;
  }
  void u32be(std::uint32_t v) noexcept {
    if (!room(4)) return;
    for (int i = 3; i >= 0; --i) out_[pos_++] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void u64be(std::uint64_t v) noexcept {
    if (!room(8)) return;
    for (int i = 7; i >= 0; --i) out_[pos_++] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void bytes(std::span<const std::uint8_t> b) noexcept {
    if (!room(b.size())) return;
    if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  // Hands out the next n bytes for the caller to fill (empty span and overflow if they do not fit).
  std::span<std::uint8_t> reserve(std::size_t n) noexcept {
    if (!room(n)) return {};
    auto out = out_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  void zeros(std::size_t n) noexcept {
    if (!room(n)) return;
    if (n != 0) std::memset(out_.data() + pos_, 0, n);
    pos_ += n;
  }

 private:
  bool room(std::size_t n) noexcept {
    if (overflow_ || remaining() < n) {
      overflow_ = true;
      return false;
    }
    return true;
  }
  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  bool overflow_ = false;
};

}  // namespace pdtp::rudp::detail
