#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "pdtp/http/range_header.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

Errc range_error(std::string_view value, std::uint64_t size) {
  auto r = parse_range_header(value, size);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

Errc content_range_error(std::string_view value) {
  auto r = parse_content_range(value);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

}  // namespace

// ---- Range ----

TEST_CASE("a closed range inside the file is taken as is") {
  CHECK(*parse_range_header("bytes=0-4999", 12000) == ByteRange{0, 4999});
  CHECK(*parse_range_header("bytes=10000-11999", 12000) == ByteRange{10000, 11999});
  CHECK(*parse_range_header("bytes=7-7", 8) == ByteRange{7, 7});
}

TEST_CASE("the end of a range past the end of the file is clamped to the last byte") {
  CHECK(*parse_range_header("bytes=10000-14999", 12000) == ByteRange{10000, 11999});
}

TEST_CASE("an open range runs to the end of the file") {
  CHECK(*parse_range_header("bytes=5000-", 12000) == ByteRange{5000, 11999});
}

TEST_CASE("a suffix range selects the last N bytes, or the whole of a smaller file") {
  CHECK(*parse_range_header("bytes=-500", 12000) == ByteRange{11500, 11999});
  CHECK(*parse_range_header("bytes=-12000", 12000) == ByteRange{0, 11999});
  CHECK(*parse_range_header("bytes=-500", 3) == ByteRange{0, 2});
  CHECK(*parse_range_header("bytes=-1", 1) == ByteRange{0, 0});
}

TEST_CASE("the unit name is case-insensitive and surrounding whitespace is ignored") {
  CHECK(*parse_range_header("  Bytes=1-2 ", 10) == ByteRange{1, 2});
}

TEST_CASE("a range that ends before it starts is bad_range") {
  CHECK(range_error("bytes=10-9", 100) == Errc::bad_range);
}

TEST_CASE("a range starting at or after the end of the file is bad_range") {
  CHECK(range_error("bytes=100-200", 100) == Errc::bad_range);
  CHECK(range_error("bytes=100-", 100) == Errc::bad_range);
}

TEST_CASE("a suffix of zero bytes is bad_range") {
  CHECK(range_error("bytes=-0", 100) == Errc::bad_range);
}

TEST_CASE("every range of an empty file is bad_range") {
  CHECK(range_error("bytes=0-0", 0) == Errc::bad_range);
  CHECK(range_error("bytes=0-", 0) == Errc::bad_range);
  CHECK(range_error("bytes=-10", 0) == Errc::bad_range);
}

TEST_CASE("several ranges are unsupported, unless one of them is malformed") {
  CHECK(range_error("bytes=0-1,5-6", 100) == Errc::unsupported);
  CHECK(range_error("bytes=0-1, -5", 100) == Errc::unsupported);
  CHECK(range_error("bytes=0-1,x", 100) == Errc::bad_header);
  CHECK(range_error("bytes=0-1,", 100) == Errc::bad_header);
}

TEST_CASE("anything but bytes=A-B, bytes=A- or bytes=-N is bad_header") {
  for (const char* bad : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=1", "bytes=+1-2", "bytes=1-2-3",
                          "bytes= 1-2", "bytes =1-2", "items=1-2", "bytes=0x10-20", "bytes=1 -2", "bytes=-1-2"}) {
    INFO(bad);
    CHECK(range_error(bad, 100) == Errc::bad_header);
  }
}

TEST_CASE("numbers with twenty or more digits neither overflow nor wrap") {
  const std::uint64_t max = UINT64_MAX;
  CHECK(*parse_range_header("bytes=0-99999999999999999999999999", 100) == ByteRange{0, 99});
  CHECK(*parse_range_header("bytes=-99999999999999999999999999", 100) == ByteRange{0, 99});
  CHECK(range_error("bytes=99999999999999999999999999-", 100) == Errc::bad_range);
  CHECK(range_error("bytes=18446744073709551616-18446744073709551617", max) == Errc::bad_range);
  CHECK(*parse_range_header("bytes=18446744073709551614-18446744073709551615", max) ==
        ByteRange{max - 1, max - 1});
  CHECK(*parse_range_header("bytes=00000000000000000000000000007-8", 100) == ByteRange{7, 8});
}

TEST_CASE("a formatted range header parses back to the same range") {
  const ByteRange r{250000, 499999};
  CHECK(format_range_header(r) == "bytes=250000-499999");
  CHECK(*parse_range_header(format_range_header(r), 1000000) == r);
}

// ---- Content-Range ----

TEST_CASE("a Content-Range with a complete length parses") {
  auto c = parse_content_range("bytes 0-4999/12000");
  REQUIRE(c.ok());
  CHECK(c->range == ByteRange{0, 4999});
  CHECK(c->size == std::optional<std::uint64_t>(12000));
}

TEST_CASE("a Content-Range with an unknown length parses without a size") {
  auto c = parse_content_range("bytes 10-19/*");
  REQUIRE(c.ok());
  CHECK(c->range == ByteRange{10, 19});
  CHECK_FALSE(c->size.has_value());
}

TEST_CASE("a Content-Range that ends before it starts or beyond the length is bad_range") {
  CHECK(content_range_error("bytes 5-4/10") == Errc::bad_range);
  CHECK(content_range_error("bytes 0-10/10") == Errc::bad_range);
  CHECK(content_range_error("bytes 0-0/0") == Errc::bad_range);
}

TEST_CASE("a malformed or overflowing Content-Range is bad_header") {
  for (const char* bad : {"", "bytes", "bytes 0-1", "bytes 0/10", "bytes */10", "bytes=0-1/10", "bytes  0-1/10",
                          "bytes -1/10", "bytes 0-/10", "bytes 0-1/", "bytes 0-1/1x", "items 0-1/10",
                          "bytes 0-1/18446744073709551616", "bytes 18446744073709551616-1/*", "bytes 1/2-3"}) {
    INFO(bad);
    CHECK(content_range_error(bad) == Errc::bad_header);
  }
}

TEST_CASE("a formatted Content-Range parses back to the same range and size") {
  CHECK(format_content_range({5000, 9999}, 12000) == "bytes 5000-9999/12000");
  auto c = parse_content_range(format_content_range({UINT64_MAX - 1, UINT64_MAX - 1}, UINT64_MAX));
  REQUIRE(c.ok());
  CHECK(c->range == ByteRange{UINT64_MAX - 1, UINT64_MAX - 1});
  CHECK(c->size == std::optional<std::uint64_t>(UINT64_MAX));
}

// ---- Content-Length ----

TEST_CASE("a Content-Length is a decimal number up to 2^64-1") {
  CHECK(*parse_content_length("0") == 0);
  CHECK(*parse_content_length("5000") == 5000);
  CHECK(*parse_content_length("18446744073709551615") == UINT64_MAX);
}

TEST_CASE("a Content-Length with a sign, a list, letters or too many digits is bad_header") {
  for (const char* bad : {"", "-1", "+1", "5, 5", "1e3", "0x10", "18446744073709551616", "99999999999999999999999"}) {
    INFO(bad);
    auto r = parse_content_length(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_header);
  }
}
