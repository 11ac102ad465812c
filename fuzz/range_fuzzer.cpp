// Reads a layout and a range from the input (half the time snapped to chunk boundaries so the
// accepting paths are reached) and checks chunks_of against range_of and chunk_range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "pdtp/wire/range.hpp"

namespace {
std::uint64_t take(const std::uint8_t*& data, std::size_t& size) {
  std::uint64_t v = 0;
  const std::size_t n = size < 8 ? size : 8;
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  ++data;
  --size;
  pdtp::ChunkLayout layout{take(data, size), take(data, size)};
  std::uint64_t a = take(data, size);
  std::uint64_t b = take(data, size);
  if (mode & 4) layout.chunk_size %= 1u << 20;  // realistic sizes as well as extreme ones
  const std::uint64_t count = layout.chunk_count();
  if (count != 0) {
    if (mode & 1) a = layout.chunk_range(a % count).min;
    if (mode & 2) b = layout.chunk_range(b % count).max;
  }
  const pdtp::ByteRange range{a, b};
  auto span = pdtp::chunks_of(layout, range);
  if (!span) {
    const auto code = span.error().code;
    if (code != pdtp::Errc::bad_range && code != pdtp::Errc::unaligned_range) std::abort();
    return 0;
  }
  if (span->first > span->last || span->last >= count) std::abort();
  if (!(pdtp::range_of(layout, *span) == range)) std::abort();
  if (layout.chunk_range(span->first).min != range.min) std::abort();
  if (layout.chunk_range(span->last).max != range.max) std::abort();
  if (span->count() != span->last - span->first + 1) std::abort();
  // Every chunk of the span lies inside the file and touches its neighbour.
  const pdtp::ByteRange first = layout.chunk_range(span->first);
  if (first.min > first.max || first.max >= layout.size) std::abort();
  if (span->last > span->first && layout.chunk_range(span->first + 1).min != first.max + 1) std::abort();
  return 0;
}
