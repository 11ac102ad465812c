// The replay window: duplicates refused, late packets inside the window accepted once, sliding forward.
#include <catch2/catch.hpp>

#include "pdtp/secure/replay.hpp"

using pdtp::secure::ReplayWindow;

TEST_CASE("a replayed packet number is rejected") {
  ReplayWindow w;
  CHECK(w.accept(0));
  CHECK_FALSE(w.accept(0));
  CHECK(w.accept(1));
  CHECK_FALSE(w.may_accept(1));
  CHECK_FALSE(w.accept(1));
}

TEST_CASE("an old packet inside the window is accepted exactly once") {
  ReplayWindow w;
  CHECK(w.accept(100));
  CHECK(w.accept(5000));
  CHECK(w.may_accept(200));
  CHECK(w.accept(200));   // late, but within 8128 of the highest
  CHECK_FALSE(w.accept(200));
  CHECK_FALSE(w.accept(100));
  CHECK(w.accept(4999));
}

TEST_CASE("packets older than the window are rejected and the window slides forward") {
  ReplayWindow w;
  CHECK(w.accept(10));
  CHECK(w.accept(10 + ReplayWindow::window_size));  // now 10 is exactly window_size behind
  CHECK_FALSE(w.may_accept(10));
  CHECK_FALSE(w.accept(10));
  CHECK(w.accept(11));  // window_size - 1 behind: still inside
  CHECK(w.highest() == 10 + ReplayWindow::window_size);
}

TEST_CASE("a jump far ahead clears the ring so old bits do not block new numbers") {
  ReplayWindow w;
  for (std::uint64_t pn = 0; pn < 8192; ++pn) REQUIRE(w.accept(pn));
  const std::uint64_t far = 1'000'000;
  CHECK(w.accept(far));
  // Numbers just behind the new highest map onto ring slots that held old packets: must be free now.
  for (std::uint64_t pn = far - 8000; pn < far; ++pn) REQUIRE(w.accept(pn));
  CHECK_FALSE(w.accept(far - 500));
  CHECK_FALSE(w.accept(0));
}

TEST_CASE("the window agrees with a simple set model under reordering") {
  ReplayWindow w;
  std::vector<bool> seen(40000, false);
  std::uint64_t highest = 0;
  bool any = false;
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 200000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    // Mostly advancing, with reordering and duplicates up to ~10000 back.
    const std::uint64_t base = static_cast<std::uint64_t>(i) / 6;
    const std::uint64_t back = x % 10000;
    const std::uint64_t pn = base > back ? base - back : base;
    const bool expect = !seen[pn] && (!any || pn > highest || highest - pn < ReplayWindow::window_size);
    REQUIRE(w.may_accept(pn) == expect);
    REQUIRE(w.accept(pn) == expect);
    if (expect) {
      seen[pn] = true;
      if (!any || pn > highest) highest = pn;
      any = true;
    }
  }
}
