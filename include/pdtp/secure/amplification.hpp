// Anti-amplification: until an address has proven it can receive what we send (it answered with
// something only a receiver could produce), we send it at most 3 bytes for every byte it sent us.
// Otherwise a spoofed source address would turn us into a traffic amplifier against a victim.
#pragma once

#include <cstdint>
#include <limits>

namespace pdtp::secure {

class AmplificationGuard {
 public:
  static constexpr std::uint64_t factor = 3;

  void on_received(std::uint64_t bytes) noexcept {
    received_ = received_ > max_ - bytes ? max_ : received_ + bytes;
  }

  // Bytes that may still be sent before more arrive (unbounded once validated).
  std::uint64_t allowance() const noexcept {
    if (validated_) return max_;
    const std::uint64_t budget = received_ > max_ / factor ? max_ : received_ * factor;
    return budget > sent_ ? budget - sent_ : 0;
  }

  bool can_send(std::uint64_t bytes) const noexcept { return bytes <= allowance(); }

  // Records a send if it fits; false (and nothing recorded) if it would exceed the allowance.
  bool try_send(std::uint64_t bytes) noexcept {
    if (!can_send(bytes)) return false;
    sent_ = sent_ > max_ - bytes ? max_ : sent_ + bytes;
    return true;
  }

  // The address proved itself (e.g. a packet authenticated under the new session keys arrived).
  void mark_validated() noexcept { validated_ = true; }
  bool validated() const noexcept { return validated_; }
  std::uint64_t received() const noexcept { return received_; }
  std::uint64_t sent() const noexcept { return sent_; }

 private:
  static constexpr std::uint64_t max_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t received_ = 0;
  std::uint64_t sent_ = 0;
  bool validated_ = false;
};

}  // namespace pdtp::secure
