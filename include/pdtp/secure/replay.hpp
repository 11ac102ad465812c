// Replay window in the manner of RFC 6479: a ring of 64-bit blocks (8192 bits). Packet numbers up to
// 8128 behind the highest seen are tracked individually; older ones are refused. Sliding forward
// clears whole blocks, so the cost per packet is constant however far the window jumps.
// Call accept() only after the packet authenticated: otherwise a forger could move the window.
#pragma once

#include <array>
#include <cstdint>

namespace pdtp::secure {

class ReplayWindow {
 public:
  static constexpr std::size_t block_bits = 64;
  static constexpr std::size_t ring_blocks = 128;                                   // 8192 bits in all
  static constexpr std::uint64_t window_size = (ring_blocks - 1) * block_bits;      // 8128 packets

  // Would accept() take this number? No state changes: a cheap check before spending an AEAD open.
  bool may_accept(std::uint64_t pn) const noexcept {
    if (!any_ || pn > highest_) return true;
    if (highest_ - pn >= window_size) return false;
    return (ring_[block_of(pn)] & bit_of(pn)) == 0;
  }

  // Records an authenticated packet number. False if it was seen before or is too old.
  bool accept(std::uint64_t pn) noexcept {
    if (!any_) {
      any_ = true;
      highest_ = pn;
    } else if (pn > highest_) {
      const std::uint64_t from = highest_ / block_bits;
      const std::uint64_t to = pn / block_bits;
      const std::uint64_t clear = to - from < ring_blocks ? to - from : ring_blocks;
      for (std::uint64_t i = 1; i <= clear; ++i) ring_[(from + i) % ring_blocks] = 0;
      highest_ = pn;
    } else if (highest_ - pn >= window_size) {
      return false;
    }
    std::uint64_t& block = ring_[block_of(pn)];
    if (block & bit_of(pn)) return false;
    block |= bit_of(pn);
    return true;
  }

  bool empty() const noexcept { return !any_; }
  std::uint64_t highest() const noexcept { return highest_; }

 private:
  static std::size_t block_of(std::uint64_t pn) noexcept {
    return static_cast<std::size_t>((pn / block_bits) % ring_blocks);
  }
  static std::uint64_t bit_of(std::uint64_t pn) noexcept { return std::uint64_t{1} << (pn % block_bits); }

  std::array<std::uint64_t, ring_blocks> ring_{};
  std::uint64_t highest_ = 0;
  bool any_ = false;
};

}  // namespace pdtp::secure
