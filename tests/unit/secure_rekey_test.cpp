// Key lifetime: rekey before the message or age limit, refuse at the hard limits.
#include <catch2/catch.hpp>

#include "pdtp/secure/rekey.hpp"

using namespace pdtp::secure;
using namespace std::chrono_literals;

namespace {
const TimePoint t0 = TimePoint{} + 1000s;
}

TEST_CASE("the limits are WireGuard's") {
  const KeyLimits l;
  CHECK(l.rekey_after_messages == (std::uint64_t{1} << 60));
  CHECK(l.reject_after_messages == 18446744073709543423ULL);  // 2^64 - 2^13 - 1
  CHECK(l.rekey_after_time == 120s);
  CHECK(l.reject_after_time == 180s);
}

TEST_CASE("rekey is due after 2^60 messages, and sending stops at 2^64 - 2^13 - 1") {
  KeyLifetime k(t0, false);
  CHECK(k.send_status(t0, 0) == KeyStatus::fresh);
  CHECK(k.send_status(t0, (std::uint64_t{1} << 60) - 1) == KeyStatus::fresh);
  CHECK(k.send_status(t0, std::uint64_t{1} << 60) == KeyStatus::rekey_due);
  CHECK(k.send_status(t0, 18446744073709543422ULL) == KeyStatus::rekey_due);
  CHECK(k.send_status(t0, 18446744073709543423ULL) == KeyStatus::expired);
  CHECK(k.receive_status(t0, 18446744073709543423ULL) == KeyStatus::expired);
}

TEST_CASE("the initiator rekeys after 120 s; both sides stop using the keys at 180 s") {
  KeyLifetime initiator(t0, true);
  KeyLifetime responder(t0, false);
  CHECK(initiator.send_status(t0 + 119s, 5) == KeyStatus::fresh);
  CHECK(initiator.send_status(t0 + 120s, 5) == KeyStatus::rekey_due);
  CHECK(responder.send_status(t0 + 150s, 5) == KeyStatus::fresh);  // only the initiator rekeys on time
  CHECK(initiator.send_status(t0 + 180s, 5) == KeyStatus::expired);
  CHECK(responder.send_status(t0 + 180s, 5) == KeyStatus::expired);
  CHECK(responder.receive_status(t0 + 180s, 5) == KeyStatus::expired);
  CHECK(initiator.expires_at() == t0 + 180s);
}

TEST_CASE("a receive-only initiator still rekeys before the hard limit") {
  KeyLifetime initiator(t0, true);
  CHECK(initiator.receive_status(t0 + 164s, 1) == KeyStatus::fresh);
  CHECK(initiator.receive_status(t0 + 165s, 1) == KeyStatus::rekey_due);
  KeyLifetime responder(t0, false);
  CHECK(responder.receive_status(t0 + 170s, 1) == KeyStatus::fresh);
}

TEST_CASE("custom limits apply") {
  KeyLimits l;
  l.rekey_after_messages = 10;
  l.reject_after_messages = 20;
  KeyLifetime k(t0, false, l);
  CHECK(k.send_status(t0, 9) == KeyStatus::fresh);
  CHECK(k.send_status(t0, 10) == KeyStatus::rekey_due);
  CHECK(k.send_status(t0, 20) == KeyStatus::expired);
}
