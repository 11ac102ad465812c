// First 8 bytes: a file size (big-endian); the rest: a header value. A Range accepted against that size lies
// inside the file and formats back to itself; an accepted Content-Range or Content-Length does too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/http/range_header.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t file_size = 0;
  for (std::size_t i = 0; i < 8; ++i) file_size = (file_size << 8) | data[i];
  const std::string_view value(reinterpret_cast<const char*>(data) + 8, size - 8);

  auto range = parse_range_header(value, file_size);
  if (range) {
    check(range->min <= range->max && range->max < file_size);
    auto again = parse_range_header(format_range_header(*range), file_size);
    check(again.ok() && *again == *range);
  } else {
    const Errc c = range.error().code;
    check(c == Errc::bad_range || c == Errc::bad_header || c == Errc::unsupported);
  }

  auto content = parse_content_range(value);
  if (content) {
    check(content->range.min <= content->range.max);
    check(!content->size || content->range.max < *content->size);
    const std::string text = content->size ? format_content_range(content->range, *content->size)
                                           : "bytes " + std::to_string(content->range.min) + "-" +
                                                 std::to_string(content->range.max) + "/*";
    auto again = parse_content_range(text);
    check(again.ok() && *again == *content);
  }

  auto length = parse_content_length(value);
  if (length) {
    auto again = parse_content_length(std::to_string(*length));
    check(again.ok() && *again == *length);
  }
  return 0;
}
