// The path MTU probing policy alone (mtu_probe.hpp), fed by hand: when a probe may go, which losses
// count as failed tries, and when a search gives up and starts again.
#include <catch2/catch.hpp>

#include "pdtp/rudp/mtu_probe.hpp"

using namespace pdtp::rudp;
using namespace std::chrono_literals;

namespace {
const TimePoint t0 = TimePoint{} + 1000s;
constexpr Duration pto = 100ms;
constexpr Duration rtt = 50ms;

// Sends the due probe at `at`, loses it at `at` + 60 ms and runs the retry timer out; returns when
// the timer fired.
TimePoint lose_probe(MtuProbe& p, TimePoint at, bool with_ordinary_loss) {
  REQUIRE(p.wants_to_send());
  p.on_sent(at);
  REQUIRE_FALSE(p.wants_to_send());
  if (with_ordinary_loss) p.on_other_lost(at + 2ms, rtt);
  p.on_lost(at + 60ms, pto);
  REQUIRE(p.timer());
  const TimePoint fire = *p.timer();
  p.on_timeout(fire);
  return fire;
}
}  // namespace

TEST_CASE("mtu probe: off when the size is 0, due at once otherwise") {
  CHECK_FALSE(MtuProbe(0).wants_to_send());
  CHECK_FALSE(MtuProbe().timer());
  MtuProbe p(1452);
  CHECK(p.wants_to_send());
  CHECK(p.size() == 1452);
}

TEST_CASE("mtu probe: an acknowledged probe confirms its size and probing stops") {
  MtuProbe p(1452);
  p.on_sent(t0);
  CHECK(p.on_acked() == 1452);
  CHECK(p.size() == 0);
  CHECK_FALSE(p.wants_to_send());
  CHECK_FALSE(p.timer());
}

TEST_CASE("mtu probe: a retry waits two probe timeouts after the loss, doubling with each loss") {
  MtuProbe p(1452);
  p.on_sent(t0);
  p.on_lost(t0 + 60ms, pto);
  CHECK_FALSE(p.wants_to_send());
  REQUIRE(p.timer());
  CHECK(*p.timer() == t0 + 60ms + 2 * pto);
  p.on_timeout(*p.timer() - 1ms);  // early: nothing yet
  CHECK_FALSE(p.wants_to_send());
  p.on_timeout(t0 + 60ms + 2 * pto);
  CHECK(p.wants_to_send());
  const TimePoint t1 = t0 + 1s;
  p.on_sent(t1);
  p.on_lost(t1 + 60ms, pto);
  REQUIRE(p.timer());
  CHECK(*p.timer() == t1 + 60ms + 4 * pto);
}

TEST_CASE("mtu probe: a probe lost alone is a failed try; three of them give the search up for 10 minutes") {
  MtuProbe p(1452);
  TimePoint t = t0;
  t = lose_probe(p, t, false);
  CHECK(p.failures() == 1);
  t = lose_probe(p, t, false);
  CHECK(p.failures() == 2);
  t = lose_probe(p, t, false);
  CHECK(p.searches_given_up() == 1);
  CHECK_FALSE(p.wants_to_send());
  REQUIRE(p.timer());
  CHECK(*p.timer() == t + mtu_raise_interval);
  p.on_timeout(t + mtu_raise_interval);
  CHECK(p.wants_to_send());
  CHECK(p.size() == 1452);
  CHECK(p.failures() == 0);
}

TEST_CASE("mtu probe: a probe lost with ordinary packets sent within an RTT of it is not a failed try") {
  MtuProbe p(1452);
  TimePoint t = t0;
  for (int i = 0; i < 6; ++i) t = lose_probe(p, t, true);
  CHECK(p.failures() == 0);
  CHECK(p.searches_given_up() == 0);
  CHECK(p.wants_to_send());
  CHECK(p.probes_sent() == 6);
}

TEST_CASE("mtu probe: an ordinary loss found after the probe's own still counts until the verdict") {
  MtuProbe p(1452);
  p.on_sent(t0);
  p.on_lost(t0 + 60ms, pto);
  p.on_other_lost(t0 + 30ms, rtt);  // sent after the probe, found lost later
  p.on_timeout(*p.timer());
  CHECK(p.failures() == 0);
}

TEST_CASE("mtu probe: ordinary losses more than an RTT from the probe do not excuse it") {
  MtuProbe p(1452);
  p.on_other_lost(t0, rtt);  // no probe out: ignored
  p.on_sent(t0 + 1s);
  p.on_other_lost(t0 + 1s - rtt - 1ms, rtt);
  p.on_other_lost(t0 + 1s + rtt + 1ms, rtt);
  p.on_lost(t0 + 1s + 60ms, pto);
  p.on_timeout(*p.timer());
  CHECK(p.failures() == 1);
}

TEST_CASE("mtu probe: a loss report for a probe not in flight changes nothing") {
  MtuProbe p(1452);
  p.on_lost(t0, pto);
  CHECK(p.wants_to_send());
  CHECK_FALSE(p.timer());
}
