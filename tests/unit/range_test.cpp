// Chunk layout arithmetic and chunk-aligned ranges.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include "pdtp/wire/range.hpp"

using namespace pdtp;

TEST_CASE("chunk_count rounds up and is zero for an empty file or chunk_size 0") {
  CHECK(ChunkLayout{10, 5}.chunk_count() == 2);
  CHECK(ChunkLayout{11, 5}.chunk_count() == 3);
  CHECK(ChunkLayout{1, 5}.chunk_count() == 1);
  CHECK(ChunkLayout{0, 5}.chunk_count() == 0);
  CHECK(ChunkLayout{10, 0}.chunk_count() == 0);
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  CHECK(ChunkLayout{max, 1}.chunk_count() == max);
  CHECK(ChunkLayout{max, max}.chunk_count() == 1);
}

TEST_CASE("chunk_range gives full chunks and a short tail") {
  const ChunkLayout l{12, 5};
  CHECK(l.chunk_range(0) == ByteRange{0, 4});
  CHECK(l.chunk_range(1) == ByteRange{5, 9});
  CHECK(l.chunk_range(2) == ByteRange{10, 11});
  CHECK(ChunkLayout{10, 5}.chunk_range(1) == ByteRange{5, 9});
}

TEST_CASE("chunk_range near the top of the uint64 range does not overflow") {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  const ChunkLayout l{max, max / 2};
  CHECK(l.chunk_count() == 3);
  CHECK(l.chunk_range(2) == ByteRange{2 * (max / 2), max - 1});
}

TEST_CASE("whole is the full range, and nothing for an empty file") {
  CHECK(ChunkLayout{12, 5}.whole() == ByteRange{0, 11});
  CHECK_FALSE(ChunkLayout{0, 5}.whole().has_value());
}

TEST_CASE("chunks_touched widens an unaligned range to whole chunks and clips it to the file") {
  const ChunkLayout l{23, 5};  // chunks 0..3 of 5 bytes, chunk 4 of 3
  CHECK(chunks_touched(l, {0, 0}) == std::optional<ChunkSpan>(ChunkSpan{0, 0}));
  CHECK(chunks_touched(l, {4, 5}) == std::optional<ChunkSpan>(ChunkSpan{0, 1}));
  CHECK(chunks_touched(l, {21, 1000}) == std::optional<ChunkSpan>(ChunkSpan{4, 4}));
  CHECK(chunks_touched(l, {10, 14}) == std::optional<ChunkSpan>(ChunkSpan{2, 2}));
  CHECK_FALSE(chunks_touched(l, {23, 30}));    // starts beyond the end
  CHECK_FALSE(chunks_touched(l, {6, 5}));      // min > max
  CHECK_FALSE(chunks_touched(ChunkLayout{23, 0}, {0, 0}));  // invalid layout
  CHECK_FALSE(chunks_touched(ChunkLayout{0, 5}, {0, 0}));   // empty file
}

TEST_CASE("chunks_of maps one aligned chunk to its index") {
  const ChunkLayout l{12, 5};
  auto s = chunks_of(l, {5, 9});
  REQUIRE(s.ok());
  CHECK(*s == ChunkSpan{1, 1});
  CHECK(s->count() == 1);
}

TEST_CASE("chunks_of accepts the short tail chunk") {
  auto s = chunks_of(ChunkLayout{12, 5}, {10, 11});
  REQUIRE(s.ok());
  CHECK(*s == ChunkSpan{2, 2});
}

TEST_CASE("chunks_of accepts a multi-chunk range and the whole file") {
  const ChunkLayout l{12, 5};
  auto s = chunks_of(l, {0, 9});
  REQUIRE(s.ok());
  CHECK(*s == ChunkSpan{0, 1});
  CHECK(s->count() == 2);
  auto w = chunks_of(l, *l.whole());
  REQUIRE(w.ok());
  CHECK(*w == ChunkSpan{0, 2});
  CHECK(w->count() == 3);
}

TEST_CASE("chunks_of rejects min greater than max as bad_range") {
  auto s = chunks_of(ChunkLayout{12, 5}, {5, 4});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::bad_range);
}

TEST_CASE("chunks_of rejects a range past the end as bad_range") {
  auto s = chunks_of(ChunkLayout{12, 5}, {10, 12});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::bad_range);
  auto e = chunks_of(ChunkLayout{0, 5}, {0, 0});
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == Errc::bad_range);
}

TEST_CASE("chunks_of rejects a start that is not a chunk boundary as unaligned_range") {
  auto s = chunks_of(ChunkLayout{12, 5}, {1, 4});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::unaligned_range);
}

TEST_CASE("chunks_of rejects an end that is neither a chunk end nor the last byte as unaligned_range") {
  auto s = chunks_of(ChunkLayout{12, 5}, {0, 3});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::unaligned_range);
  auto t = chunks_of(ChunkLayout{12, 5}, {5, 10});
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().code == Errc::unaligned_range);
}

TEST_CASE("chunks_of with chunk_size 0 is bad_range and never divides by zero") {
  auto s = chunks_of(ChunkLayout{12, 0}, {0, 11});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code == Errc::bad_range);
}

TEST_CASE("range_of inverts chunks_of") {
  const ChunkLayout l{23, 5};
  for (ChunkIndex first = 0; first < l.chunk_count(); ++first)
    for (ChunkIndex last = first; last < l.chunk_count(); ++last) {
      const ByteRange r = range_of(l, {first, last});
      auto s = chunks_of(l, r);
      REQUIRE(s.ok());
      CHECK(*s == ChunkSpan{first, last});
    }
  CHECK(range_of(l, {4, 4}) == ByteRange{20, 22});
}

TEST_CASE("a file smaller than one chunk is a single chunk") {
  const ChunkLayout l{3, 250000};
  CHECK(l.chunk_count() == 1);
  CHECK(l.chunk_range(0) == ByteRange{0, 2});
  auto s = chunks_of(l, {0, 2});
  REQUIRE(s.ok());
  CHECK(*s == ChunkSpan{0, 0});
}
