// The client's per-chunk bookkeeping: limits, single-chunk ranges, verification and emission runs.
#include <catch2/catch.hpp>

#include "pdtp/core/chunk_map.hpp"

using namespace pdtp;
using namespace pdtp::core;

TEST_CASE("a chunk map refuses chunk_size 0 and more chunks than its limit") {
  auto zero = ChunkMap::create(ChunkLayout{10, 0});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().code == Errc::bad_field);
  CHECK(zero.error().message.find("chunk_size") != std::string::npos);
  auto huge = ChunkMap::create(ChunkLayout{ChunkMap::max_chunks + 1, 1});
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code == Errc::bad_field);
  auto empty = ChunkMap::create(ChunkLayout{0, 0});
  REQUIRE(empty.ok());
  CHECK(empty->count() == 0);
  CHECK(empty->all_verified());
}

TEST_CASE("single_chunk accepts exactly one aligned chunk, including the short last one") {
  auto m = ChunkMap::create(ChunkLayout{250, 100});
  REQUIRE(m.ok());
  CHECK(*m->single_chunk(ByteRange{100, 199}) == 1);
  CHECK(*m->single_chunk(ByteRange{200, 249}) == 2);
  CHECK(m->single_chunk(ByteRange{0, 199}).error().code == Errc::unaligned_range);  // two chunks
  CHECK(m->single_chunk(ByteRange{50, 149}).error().code == Errc::unaligned_range);
  CHECK(m->single_chunk(ByteRange{200, 299}).error().code == Errc::bad_range);       // past the end
  CHECK(m->single_chunk(ByteRange{9, 3}).error().code == Errc::bad_range);
}

TEST_CASE("a chunk is verified once and counted once") {
  auto m = ChunkMap::create(ChunkLayout{250, 100});
  REQUIRE(m.ok());
  CHECK(m->mark_verified(2));
  CHECK_FALSE(m->mark_verified(2));
  CHECK_FALSE(m->mark_verified(3));  // beyond the file
  CHECK(m->verified_chunks() == 1);
  CHECK(m->bytes_verified() == 50);
  CHECK(m->state(2) == ChunkState::verified);
  CHECK(m->state(99) == ChunkState::missing);
}

TEST_CASE("emit_run takes the consecutive verified chunks from a position and marks them emitted") {
  auto m = ChunkMap::create(ChunkLayout{500, 100});
  REQUIRE(m.ok());
  m->mark_verified(1);
  m->mark_verified(2);
  m->mark_verified(4);
  CHECK_FALSE(m->emit_run(0).has_value());
  m->mark_verified(0);
  auto run = m->emit_run(0);
  REQUIRE(run.has_value());
  CHECK(*run == ChunkSpan{0, 2});
  CHECK(m->state(1) == ChunkState::emitted);
  CHECK(m->verified(1));
  CHECK(m->state(4) == ChunkState::verified);
  CHECK_FALSE(m->emit_run(3).has_value());
  CHECK_FALSE(m->emit_run(7).has_value());  // past the end is harmless
}

TEST_CASE("failures are counted per chunk") {
  auto m = ChunkMap::create(ChunkLayout{300, 100});
  REQUIRE(m.ok());
  CHECK(m->add_failure(1) == 1);
  CHECK(m->add_failure(1) == 2);
  CHECK(m->attempts(0) == 0);
  CHECK(m->add_failure(9) == 0);  // beyond the file: ignored
}
