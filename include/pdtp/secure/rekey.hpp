// Key lifetime: when a session's keys should be replaced by a fresh handshake, and when they must
// no longer be used at all. Limits as in WireGuard: rekey after 2^60 messages or 120 s, refuse after
// 2^64 - 2^13 - 1 messages or 180 s. Time comes in as an argument; nothing here reads a clock.
// Only the session's initiator rekeys on time, so the two ends never race to start handshakes.
#pragma once

#include <chrono>
#include <cstdint>

#include "pdtp/core/time.hpp"

namespace pdtp::secure {

using core::Duration;
using core::TimePoint;

struct KeyLimits {
  std::uint64_t rekey_after_messages = std::uint64_t{1} << 60;
  std::uint64_t reject_after_messages = ~std::uint64_t{0} - (std::uint64_t{1} << 13);  // 2^64 - 2^13 - 1
  Duration rekey_after_time = std::chrono::seconds(120);
  Duration reject_after_time = std::chrono::seconds(180);
  // A quiet initiator that only receives still rekeys before the hard limit (180 - 10 - 5 s, as WireGuard).
  Duration rekey_on_receive_after_time = std::chrono::seconds(165);
};

enum class KeyStatus : std::uint8_t {
  fresh,      // use the keys
  rekey_due,  // keep using them, and start a new handshake now
  expired,    // do not seal or open another packet with them
};

class KeyLifetime {
 public:
  KeyLifetime(TimePoint established, bool initiator, KeyLimits limits = {}) noexcept
      : established_(established), initiator_(initiator), limits_(limits) {}

  // Before sealing packet number `pn` at `now`.
  KeyStatus send_status(TimePoint now, std::uint64_t pn) const noexcept {
    const Duration age = now - established_;
    if (pn >= limits_.reject_after_messages || age >= limits_.reject_after_time) return KeyStatus::expired;
    if (pn >= limits_.rekey_after_messages || (initiator_ && age >= limits_.rekey_after_time))
      return KeyStatus::rekey_due;
    return KeyStatus::fresh;
  }

  // Before opening a packet numbered `pn` received at `now`.
  KeyStatus receive_status(TimePoint now, std::uint64_t pn) const noexcept {
    const Duration age = now - established_;
    if (pn >= limits_.reject_after_messages || age >= limits_.reject_after_time) return KeyStatus::expired;
    if (initiator_ && age >= limits_.rekey_on_receive_after_time) return KeyStatus::rekey_due;
    return KeyStatus::fresh;
  }

  TimePoint established() const noexcept { return established_; }
  // When the keys expire by age: a runtime arms a timer for it.
  TimePoint expires_at() const noexcept { return established_ + limits_.reject_after_time; }
  const KeyLimits& limits() const noexcept { return limits_; }

 private:
  TimePoint established_;
  bool initiator_;
  KeyLimits limits_;
};

}  // namespace pdtp::secure
