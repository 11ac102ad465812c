// The core never reads a clock: callers pass the current time in as a TimePoint.
#pragma once

#include <chrono>

namespace pdtp::core {
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;
}  // namespace pdtp::core
