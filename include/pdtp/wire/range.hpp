// Chunk arithmetic: a file of `size` bytes cut into chunks of `chunk_size` bytes (the last may be short).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "pdtp/result.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp {

struct ChunkLayout {
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;  // 0 is an invalid layout: it has no chunks

  std::uint64_t chunk_count() const noexcept {
    if (size == 0 || chunk_size == 0) return 0;
    return (size - 1) / chunk_size + 1;  // ceil without overflow
  }

  // Byte range of chunk `i`. Precondition: i < chunk_count().
  ByteRange chunk_range(ChunkIndex i) const noexcept {
    const std::uint64_t start = i * chunk_size;
    const std::uint64_t last = size - 1;
    return {start, last - start < chunk_size - 1 ? last : start + chunk_size - 1};
  }

  // The whole file as one range; nullopt for an empty file (no byte range can name it).
  std::optional<ByteRange> whole() const noexcept {
    if (size == 0) return std::nullopt;
    return ByteRange{0, size - 1};
  }

  friend bool operator==(const ChunkLayout&, const ChunkLayout&) = default;
};

// An inclusive run of chunks [first, last].
struct ChunkSpan {
  ChunkIndex first = 0;
  ChunkIndex last = 0;
  std::uint64_t count() const noexcept { return last - first + 1; }
  friend bool operator==(const ChunkSpan&, const ChunkSpan&) = default;
};

// The chunks a byte range covers exactly. bad_range: invalid layout, min > max, or max beyond the file;
// unaligned_range: min is not a chunk start, or max is neither a chunk end nor the last byte.
inline Result<ChunkSpan> chunks_of(const ChunkLayout& layout, ByteRange r) {
  const auto text = [&] { return "range " + std::to_string(r.min) + "-" + std::to_string(r.max); };
  if (layout.chunk_size == 0) return Error{Errc::bad_range, text() + ": invalid layout with chunk_size 0"};
  if (r.min > r.max) return Error{Errc::bad_range, text() + ": min > max"};
  if (r.max >= layout.size)
    return Error{Errc::bad_range, text() + " is beyond the end of a file of " + std::to_string(layout.size) + " bytes"};
  if (r.min % layout.chunk_size != 0)
    return Error{Errc::unaligned_range,
                 text() + ": min is not a multiple of chunk_size " + std::to_string(layout.chunk_size)};
  if ((r.max + 1) % layout.chunk_size != 0 && r.max != layout.size - 1)
    return Error{Errc::unaligned_range, text() + ": max is neither a chunk end nor the last byte"};
  return ChunkSpan{r.min / layout.chunk_size, r.max / layout.chunk_size};
}

// The chunks a byte range touches, clipped to the file (a lenient reading for `request`, whose
// sender may not know the chunk size yet); nullopt if it touches none (min beyond the end, or
// min > max, or an invalid layout).
inline std::optional<ChunkSpan> chunks_touched(const ChunkLayout& layout, ByteRange r) noexcept {
  if (layout.chunk_size == 0 || r.min > r.max || r.min >= layout.size) return std::nullopt;
  return ChunkSpan{r.min / layout.chunk_size, std::min(r.max, layout.size - 1) / layout.chunk_size};
}

// The byte range of a run of chunks. Precondition: span.first <= span.last < layout.chunk_count().
inline ByteRange range_of(const ChunkLayout& layout, ChunkSpan span) noexcept {
  return {layout.chunk_range(span.first).min, layout.chunk_range(span.last).max};
}

}  // namespace pdtp
