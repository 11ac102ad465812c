// The secure layer's implementation of rudp's PacketProtection interface.
#include <catch2/catch.hpp>

#include "pdtp/secure/rudp_protection.hpp"
#include "secure_test_support.hpp"

using namespace pdtp::secure;
using namespace std::chrono_literals;
using secure_test::bytes;

namespace {

AeadKey key_of(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return AeadKey(a);
}

SessionKeys session(Role role, std::uint8_t send, std::uint8_t receive) {
  SessionKeys k;
  k.role = role;
  k.suite = Suite::chacha20_poly1305;
  k.send_key = key_of(send);
  k.receive_key = key_of(receive);
  return k;
}
}  // namespace

TEST_CASE("the rudp adapter seals and opens through the PacketProtection interface") {
  const TimePoint t0 = TimePoint{} + 10s;
  auto a = AeadProtection::create(session(Role::initiator, 1, 2), t0);
  auto b = AeadProtection::create(session(Role::responder, 2, 1), t0);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  pdtp::rudp::PacketProtection& pa = **a;
  pdtp::rudp::PacketProtection& pb = **b;
  CHECK(pa.overhead() == 16);
  const Bytes header = bytes("0123456789abc");
  Bytes buf = bytes("frames");
  buf.resize(buf.size() + 16);
  REQUIRE(pa.seal(0, header, buf));
  CHECK_FALSE((*b)->confirmed());
  auto plain = pb.open(0, header, buf);
  REQUIRE(plain);
  CHECK(Bytes(plain->begin(), plain->end()) == bytes("frames"));
  CHECK((*b)->confirmed());
  CHECK_FALSE(pb.open(0, header, buf));  // replay (and the buffer now holds plaintext anyway)
}

TEST_CASE("the rudp adapter asks for a rekey at 120 s and stops at 180 s") {
  const TimePoint t0 = TimePoint{} + 10s;
  auto a = AeadProtection::create(session(Role::initiator, 1, 2), t0);
  auto b = AeadProtection::create(session(Role::responder, 2, 1), t0);
  REQUIRE(a.ok());
  CHECK_FALSE((*a)->rekey_due(t0 + 119s));
  CHECK((*a)->rekey_due(t0 + 120s));
  CHECK_FALSE((*b)->rekey_due(t0 + 170s));
  CHECK((*a)->expires_at() == t0 + 180s);
  Bytes buf(32);
  (*a)->advance(t0 + 179s);
  CHECK((*a)->seal(0, {}, buf));
  (*a)->advance(t0 + 180s);
  CHECK((*a)->expired(t0 + 180s));
  Bytes buf2(32);
  CHECK_FALSE((*a)->seal(1, {}, buf2));
  (*b)->advance(t0 + 180s);
  CHECK_FALSE((*b)->open(0, {}, buf));
}
