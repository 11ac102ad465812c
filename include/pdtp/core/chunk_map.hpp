// What a downloading client knows about each chunk of its file: missing, verified (bytes kept and
// servable) or emitted (written to a pipe and dropped), plus how often fetching it has failed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pdtp/result.hpp"
#include "pdtp/wire/range.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::core {

enum class ChunkState : std::uint8_t { missing, verified, emitted };

class ChunkMap {
 public:
  // Bounds the per-chunk arrays a server's tell_info can make us allocate (16 Mi chunks).
  static constexpr std::uint64_t max_chunks = std::uint64_t{1} << 24;

  ChunkMap() = default;

  // Errors: bad_field when chunk_size is 0 for a non-empty file or the file has too many chunks.
  static Result<ChunkMap> create(ChunkLayout layout) {
    if (layout.size > 0 && layout.chunk_size == 0)
      return Error{Errc::bad_field, "chunk_size is 0 for a file of " + std::to_string(layout.size) + " bytes"};
    const std::uint64_t count = layout.size == 0 ? 0 : layout.chunk_count();
    if (count > max_chunks)
      return Error{Errc::bad_field, "file of " + std::to_string(layout.size) + " bytes in chunks of " +
                                        std::to_string(layout.chunk_size) + " has " + std::to_string(count) +
                                        " chunks, more than the limit " + std::to_string(max_chunks)};
    ChunkMap m;
    m.layout_ = layout;
    m.count_ = count;
    m.state_.assign(static_cast<std::size_t>(count), ChunkState::missing);
    m.attempts_.assign(static_cast<std::size_t>(count), 0);
    return m;
  }

  const ChunkLayout& layout() const noexcept { return layout_; }
  std::uint64_t count() const noexcept { return count_; }
  bool contains(ChunkIndex c) const noexcept { return c < count_; }

  ByteRange range(ChunkIndex c) const { return contains(c) ? layout_.chunk_range(c) : ByteRange{}; }

  // The chunk a range covers exactly, if it is one aligned chunk of this file.
  Result<ChunkIndex> single_chunk(ByteRange r) const {
    if (count_ == 0) return Error{Errc::bad_range, "the file is empty"};
    auto span = chunks_of(layout_, r);
    if (!span) return span.error();
    if (span->first != span->last)
      return Error{Errc::unaligned_range, "range " + std::to_string(r.min) + "-" + std::to_string(r.max) +
                                              " covers chunks " + std::to_string(span->first) + "-" +
                                              std::to_string(span->last) + ", not one chunk"};
    return span->first;
  }

  ChunkState state(ChunkIndex c) const { return contains(c) ? state_[idx(c)] : ChunkState::missing; }
  bool verified(ChunkIndex c) const { return state(c) != ChunkState::missing; }

  // False if the chunk was already verified (a later copy lost the race).
  bool mark_verified(ChunkIndex c) {
    if (!contains(c) || state_[idx(c)] != ChunkState::missing) return false;
    state_[idx(c)] = ChunkState::verified;
    ++verified_chunks_;
    bytes_verified_ += layout_.chunk_range(c).size();
    return true;
  }

  // Marks the run of verified chunks starting at `from` as emitted; returns it (nullopt if none).
  std::optional<ChunkSpan> emit_run(ChunkIndex from) {
    ChunkIndex c = from;
    while (c < count_ && state_[idx(c)] == ChunkState::verified) {
      state_[idx(c)] = ChunkState::emitted;
      ++c;
    }
    if (c == from) return std::nullopt;
    return ChunkSpan{from, c - 1};
  }

  unsigned attempts(ChunkIndex c) const { return contains(c) ? attempts_[idx(c)] : 0; }
  // Counts one failed fetch of the chunk; returns the new count.
  unsigned add_failure(ChunkIndex c) {
    if (!contains(c)) return 0;
    auto& a = attempts_[idx(c)];
    if (a < UINT32_MAX) ++a;
    return a;
  }

  std::uint64_t verified_chunks() const noexcept { return verified_chunks_; }
  std::uint64_t bytes_verified() const noexcept { return bytes_verified_; }
  bool all_verified() const noexcept { return verified_chunks_ == count_; }

 private:
  static std::size_t idx(ChunkIndex c) noexcept { return static_cast<std::size_t>(c); }

  ChunkLayout layout_{};
  std::uint64_t count_ = 0;
  std::vector<ChunkState> state_;
  std::vector<std::uint32_t> attempts_;
  std::uint64_t verified_chunks_ = 0;
  std::uint64_t bytes_verified_ = 0;
};

}  // namespace pdtp::core
