// Stream halves and their building blocks: interval sets, the byte ring, send and receive buffers.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "pdtp/rudp/detail/byte_ring.hpp"
#include "pdtp/rudp/detail/range_set.hpp"
#include "pdtp/rudp/stream.hpp"

using namespace pdtp::rudp;
using pdtp::rudp::detail::ByteRing;
using pdtp::rudp::detail::Interval;
using pdtp::rudp::detail::RangeSet;

namespace {
std::vector<std::uint8_t> iota_bytes(std::size_t n, std::uint8_t start = 0) {
  std::vector<std::uint8_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
}  // namespace

TEST_CASE("a range set merges touching and overlapping intervals") {
  RangeSet s;
  s.insert(10, 20);
  s.insert(30, 40);
  s.insert(20, 30);
  REQUIRE(s.intervals() == 1);
  CHECK(s.front() == Interval{10, 40});
  s.insert(5, 12);
  CHECK(s.front() == Interval{5, 40});
  CHECK(s.covers(5, 40));
  CHECK_FALSE(s.covers(4, 6));
}

TEST_CASE("erasing from the middle of a range splits it") {
  RangeSet s;
  s.insert(0, 100);
  s.erase(40, 60);
  REQUIRE(s.intervals() == 2);
  CHECK(s.items()[0] == Interval{0, 40});
  CHECK(s.items()[1] == Interval{60, 100});
  CHECK_FALSE(s.contains(50));
  s.erase_below(70);
  REQUIRE(s.intervals() == 1);
  CHECK(s.front() == Interval{70, 100});
}

TEST_CASE("the byte ring keeps bytes across growth and wrap-around") {
  ByteRing r(1 << 20);
  auto a = iota_bytes(3000);
  REQUIRE(r.write(0, a));
  r.advance(2000);
  auto b = iota_bytes(10000, 7);  // forces growth past the first 4 KiB
  REQUIRE(r.write(3000, b));
  std::vector<std::uint8_t> out(1000);
  r.read(2000, out);
  CHECK(std::equal(out.begin(), out.end(), a.begin() + 2000));
  std::vector<std::uint8_t> out2(10000);
  r.read(3000, out2);
  CHECK(out2 == b);
}

TEST_CASE("the byte ring refuses writes outside its window") {
  ByteRing r(4096);
  auto a = iota_bytes(100);
  CHECK_FALSE(r.write(4000, a));  // ends past base + limit
  r.advance(100);
  CHECK_FALSE(r.write(50, a));  // starts below the base
  CHECK(r.write(100, a));
}

TEST_CASE("a send stream accepts only what its buffer holds, and frees space as acks arrive") {
  SendStream s(4096, 1 << 20);
  auto data = iota_bytes(5000);
  CHECK(s.write(data) == 4096);
  CHECK(s.space() == 0);
  CHECK(s.sendable(UINT64_MAX) == 4096);
  s.on_sent(0, 1000, false);
  s.on_sent(1000, 1000, false);
  CHECK_FALSE(s.on_acked(1000, 1000, false));  // a gap at the base frees nothing yet
  CHECK(s.on_acked(0, 1000, false));
  CHECK(s.acked_base() == 2000);
  CHECK(s.space() == 2000);
}

TEST_CASE("lost ranges are resent, minus anything acknowledged meanwhile") {
  SendStream s(1 << 16, 1 << 20);
  auto data = iota_bytes(3000);
  REQUIRE(s.write(data) == 3000);
  s.on_sent(0, 3000, false);
  s.on_acked(1000, 500, false);
  s.on_lost(0, 3000, false);
  REQUIRE(s.has_lost());
  CHECK(s.first_lost().start == 0);
  CHECK(s.first_lost().end == 1000);
  s.on_sent(0, 1000, false);
  CHECK(s.first_lost().start == 1500);
  std::vector<std::uint8_t> out(10);
  s.copy_out(1500, out);
  CHECK(out[0] == data[1500]);
}

TEST_CASE("the peer's stream credit and the connection credit bound new data") {
  SendStream s(1 << 16, 1000);
  auto data = iota_bytes(3000);
  REQUIRE(s.write(data) == 3000);
  CHECK(s.sendable(UINT64_MAX) == 1000);
  CHECK(s.sendable(200) == 200);
  s.on_sent(0, 1000, false);
  CHECK(s.blocked_by_stream_credit());
  s.on_max_data(2500);
  CHECK(s.sendable(UINT64_MAX) == 1500);
}

TEST_CASE("a FIN alone is sent, and resent if lost") {
  SendStream s(4096, 1 << 20);
  s.finish();
  CHECK(s.fin_to_send());
  s.on_sent(0, 0, true);
  CHECK_FALSE(s.fin_to_send());
  s.on_lost(0, 0, true);
  CHECK(s.fin_to_send());
  s.on_sent(0, 0, true);
  s.on_acked(0, 0, true);
  CHECK(s.all_acked());
  CHECK(s.done());
}

TEST_CASE("a receive stream reorders data and hands it out in order") {
  RecvStream r(1 << 16, 1 << 16);
  StreamFault fault;
  auto data = iota_bytes(300);
  REQUIRE(r.on_data(100, std::span(data).subspan(100, 200), false, fault).ok());
  CHECK(r.readable_bytes() == 0);
  REQUIRE(r.on_data(0, std::span(data).first(100), false, fault).ok());
  CHECK(r.readable_bytes() == 300);
  std::vector<std::uint8_t> out(300);
  bool fin = false;
  CHECK(r.read(out, fin) == 300);
  CHECK(out == data);
  CHECK_FALSE(fin);
}

TEST_CASE("duplicate and overlapping data is stored once") {
  RecvStream r(1 << 16, 1 << 16);
  StreamFault fault;
  auto data = iota_bytes(100);
  REQUIRE(r.on_data(0, std::span(data).first(60), false, fault).ok());
  auto growth = r.on_data(40, std::span(data).subspan(40, 60), true, fault);
  REQUIRE(growth.ok());
  CHECK(*growth == 40);
  std::vector<std::uint8_t> out(200);
  bool fin = false;
  CHECK(r.read(out, fin) == 100);
  CHECK(fin);
  CHECK(std::equal(data.begin(), data.end(), out.begin()));
}

TEST_CASE("data past the credit, or past the final size, is a fault") {
  RecvStream r(65536, 65536);
  StreamFault fault;
  std::vector<std::uint8_t> byte(1);
  CHECK_FALSE(r.on_data(65536, byte, false, fault).ok());
  CHECK(fault.code == TransportError::flow_control_error);
  REQUIRE(r.on_data(0, byte, true, fault).ok());
  CHECK_FALSE(r.on_data(1, byte, false, fault).ok());
  CHECK(fault.code == TransportError::final_size_error);
}

TEST_CASE("a reset whose final size is below data received is a fault") {
  RecvStream r(65536, 65536);
  StreamFault fault;
  auto data = iota_bytes(50);
  REQUIRE(r.on_data(0, data, false, fault).ok());
  CHECK_FALSE(r.on_reset(3, 10, fault).ok());
  CHECK(fault.code == TransportError::final_size_error);
  auto ok = r.on_reset(3, 80, fault);
  REQUIRE(ok.ok());
  CHECK(*ok == 30);
  CHECK(r.is_reset());
  CHECK(r.done());
}

TEST_CASE("reading frees credit, announced once an eighth of the window is free") {
  RecvStream r(8000, 8000);
  StreamFault fault;
  auto data = iota_bytes(8000);
  REQUIRE(r.on_data(0, data, false, fault).ok());
  std::vector<std::uint8_t> out(900);
  bool fin = false;
  r.read(out, fin);
  CHECK_FALSE(r.credit_update().has_value());
  r.read(std::span(out).first(100), fin);
  auto credit = r.credit_update();
  REQUIRE(credit.has_value());
  CHECK(*credit == 9000);
}
