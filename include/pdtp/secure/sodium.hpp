// libsodium must be initialised before use. The secure layer does it itself, once, so no caller can
// forget: without sodium_init() libsodium has not probed the CPU, and AES-256-GCM reports itself
// unavailable even where the hardware has it (peers would then disagree about the cipher suite).
#pragma once

#include <sodium.h>

namespace pdtp::secure {

// True when libsodium is ready. Idempotent and thread-safe (a function-local static, and
// sodium_init() itself may be called any number of times). Every secure type calls it on construction.
inline bool ensure_sodium() noexcept {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

}  // namespace pdtp::secure
