// The receiver's record of packet numbers: merging, duplicates, the range cap.
#include <catch2/catch.hpp>

#include "pdtp/rudp/ack_ranges.hpp"

using namespace pdtp::rudp;

TEST_CASE("in-order packet numbers collapse into one range") {
  AckRanges a;
  for (PacketNumber pn = 0; pn < 100; ++pn) CHECK(a.insert(pn));
  REQUIRE(a.ranges().size() == 1);
  CHECK(a.ranges()[0] == AckRange{0, 99});
}

TEST_CASE("a packet filling a gap merges the ranges on both sides") {
  AckRanges a;
  a.insert(1);
  a.insert(3);
  REQUIRE(a.ranges().size() == 2);
  CHECK(a.ranges()[0] == AckRange{3, 3});
  a.insert(2);
  REQUIRE(a.ranges().size() == 1);
  CHECK(a.ranges()[0] == AckRange{1, 3});
}

TEST_CASE("a duplicate packet number is reported") {
  AckRanges a;
  CHECK(a.insert(7));
  CHECK_FALSE(a.insert(7));
  CHECK(a.contains(7));
  CHECK_FALSE(a.contains(6));
}

TEST_CASE("ranges beyond the cap forget the lowest") {
  AckRanges a(4);
  for (PacketNumber pn = 0; pn < 20; pn += 2) a.insert(pn);
  REQUIRE(a.ranges().size() == 4);
  CHECK(a.ranges()[0] == AckRange{18, 18});
  CHECK(a.ranges()[3] == AckRange{12, 12});
}

TEST_CASE("forgetting below a packet number trims and drops ranges") {
  AckRanges a;
  for (PacketNumber pn : {1, 2, 3, 6, 7, 10}) a.insert(pn);
  a.forget_below(7);
  REQUIRE(a.ranges().size() == 2);
  CHECK(a.ranges()[1] == AckRange{7, 7});
}

TEST_CASE("the ACK frame lists the ranges highest first") {
  AckRanges a;
  for (PacketNumber pn : {0, 1, 5, 9, 8}) a.insert(pn);
  auto f = a.frame(100);
  REQUIRE(f.ranges.size() == 3);
  CHECK(f.largest() == 9);
  CHECK(f.ranges[2] == AckRange{0, 1});
}
