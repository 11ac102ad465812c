// Bytes per second over a sliding window of whole seconds, from passed-in time.
#include <catch2/catch.hpp>

#include "pdtp/core/rate.hpp"

using namespace std::chrono_literals;
using pdtp::core::RateWindow;
using pdtp::core::TimePoint;

TEST_CASE("rate window: bytes in the last ten seconds averaged per second") {
  RateWindow r;
  const TimePoint t0{1000s};
  CHECK(r.per_second(t0) == 0.0);
  r.add(t0, 1000);
  r.add(t0 + 500ms, 1000);
  CHECK(r.per_second(t0) == Approx(200.0));
  r.add(t0 + 5s, 3000);
  CHECK(r.per_second(t0 + 5s) == Approx(500.0));
  CHECK(r.per_second(t0 + 9s) == Approx(500.0));
  CHECK(r.per_second(t0 + 10s) == Approx(300.0));  // the first second fell out
  CHECK(r.per_second(t0 + 15s) == 0.0);
}

TEST_CASE("rate window: a long silence clears old buckets before new bytes land") {
  RateWindow r;
  const TimePoint t0{50s};
  r.add(t0, 7000);
  r.add(t0 + 100s, 10);
  CHECK(r.per_second(t0 + 100s) == Approx(1.0));
}

TEST_CASE("rate window: time going backwards neither crashes nor counts stale bytes") {
  RateWindow r;
  const TimePoint t0{100s};
  r.add(t0, 100);
  r.add(t0 - 3s, 100);   // still inside the window
  r.add(t0 - 30s, 100);  // far outside: dropped
  CHECK(r.per_second(t0) == Approx(20.0));
  CHECK(r.per_second(t0 - 3s) == Approx(10.0));  // the bytes at t0 lie after that moment
}
