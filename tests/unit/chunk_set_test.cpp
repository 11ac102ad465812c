// The chunk bitset behind request, provide and in-flight sets.
#include <catch2/catch.hpp>

#include <vector>

#include "pdtp/core/chunk_set.hpp"

using pdtp::ChunkIndex;
using pdtp::ChunkSpan;
using pdtp::core::ChunkSet;

TEST_CASE("chunk set: insert, erase and test count members") {
  ChunkSet s(130);
  CHECK(s.empty());
  CHECK(s.insert(0));
  CHECK(s.insert(129));
  CHECK_FALSE(s.insert(129));
  CHECK_FALSE(s.insert(130));  // beyond capacity: ignored
  CHECK(s.count() == 2);
  CHECK(s.test(129));
  CHECK_FALSE(s.test(64));
  CHECK_FALSE(s.test(5000));
  CHECK(s.erase(0));
  CHECK_FALSE(s.erase(0));
  CHECK(s.count() == 1);
}

TEST_CASE("chunk set: span operations cross word boundaries and clip to capacity") {
  ChunkSet except(200);
  except.insert(70);
  ChunkSet s(200);
  CHECK(s.insert_except({60, 140}, except) == 80);
  CHECK_FALSE(s.test(70));
  CHECK(s.test(60));
  CHECK(s.test(140));
  CHECK_FALSE(s.test(141));
  CHECK(s.insert_except({190, 500}, except) == 10);  // clipped at 199
  CHECK(s.count() == 90);
  CHECK(s.erase_span({64, 127}) == 63);
  CHECK(s.count() == 27);
  CHECK(s.erase_span({300, 400}) == 0);
  std::vector<ChunkIndex> seen;
  s.for_each_in({0, 199}, [&](ChunkIndex i) { seen.push_back(i); });
  CHECK(seen.size() == 27);
  CHECK(seen.front() == 60);
  CHECK(seen.back() == 199);
}

TEST_CASE("chunk set: next and next_not_in find the lowest match within bounds") {
  ChunkSet a(300), minus(300), also(300);
  for (ChunkIndex i : {5, 64, 65, 250}) a.insert(i);
  minus.insert(64);
  also.insert(250);
  also.insert(65);
  CHECK(a.next(0) == 5u);
  CHECK(a.next(6) == 64u);
  CHECK(a.next(251) == std::nullopt);
  CHECK(a.next_not_in(6, minus) == 65u);
  CHECK(a.next_not_in(0, minus, &also) == 65u);
  CHECK(a.next_not_in(66, minus, &also) == 250u);
  CHECK(a.next_not_in(66, minus, &also, 249) == std::nullopt);
  CHECK(a.next_not_in(0, minus, nullptr, 4) == std::nullopt);
  CHECK(a.next(299) == std::nullopt);
  CHECK(a.next(1000) == std::nullopt);
}

TEST_CASE("chunk set: an empty set allocates nothing and a zero-capacity set stays empty") {
  ChunkSet none;
  CHECK_FALSE(none.insert(0));
  CHECK(none.erase_span({0, 10}) == 0);
  CHECK(none.next(0) == std::nullopt);
  ChunkSet s(1u << 20);
  CHECK(s.next_not_in(0, none) == std::nullopt);
  s.insert(1u << 19);
  CHECK(s.next(0) == (1u << 19));
  s.clear();
  CHECK(s.empty());
  CHECK(s.next(0) == std::nullopt);
}

TEST_CASE("chunk set: scan_not_in visits members outside `minus` in order and stops when told") {
  ChunkSet a(200), minus(200);
  for (ChunkIndex i : {3, 63, 64, 65, 130, 199}) a.insert(i);
  minus.insert(64);
  std::vector<ChunkIndex> seen;
  a.scan_not_in(4, minus, [&](ChunkIndex i) {
    seen.push_back(i);
    return true;
  });
  CHECK(seen == std::vector<ChunkIndex>{63, 65, 130, 199});
  seen.clear();
  a.scan_not_in(0, minus, [&](ChunkIndex i) {
    seen.push_back(i);
    return seen.size() < 2;
  });
  CHECK(seen == std::vector<ChunkIndex>{3, 63});
  seen.clear();
  a.scan_not_in(200, minus, [&](ChunkIndex i) {
    seen.push_back(i);
    return true;
  });
  CHECK(seen.empty());
}
