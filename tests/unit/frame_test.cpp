// Framing: u16 big-endian length + body, decoded incrementally.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "pdtp/wire/frame.hpp"

using namespace pdtp;

namespace {
std::string frame_of(std::string_view body) {
  auto f = encode_frame(body);
  REQUIRE(f.ok());
  return *f;
}
}  // namespace

TEST_CASE("a frame is a big-endian 16-bit length followed by the body") {
  auto f = encode_frame("[1]");
  REQUIRE(f.ok());
  CHECK(*f == std::string("\x00\x03[1]", 5));
  const std::string body(300, 'x');
  auto g = encode_frame(body);
  REQUIRE(g.ok());
  CHECK(static_cast<unsigned char>((*g)[0]) == 0x01);
  CHECK(static_cast<unsigned char>((*g)[1]) == 0x2C);
  CHECK(g->substr(2) == body);
}

TEST_CASE("a body of exactly 65535 bytes is framed and one byte more is frame_too_large") {
  const std::string max(max_frame_body, 'a');
  auto f = encode_frame(max);
  REQUIRE(f.ok());
  CHECK(f->size() == max_frame_body + 2);
  CHECK(static_cast<unsigned char>((*f)[0]) == 0xFF);
  CHECK(static_cast<unsigned char>((*f)[1]) == 0xFF);
  auto g = encode_frame(max + "b");
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().code == Errc::frame_too_large);
}

TEST_CASE("an empty body cannot be framed") {
  auto f = encode_frame("");
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().code == Errc::empty_frame);
}

TEST_CASE("append_frame leaves the output unchanged on error") {
  std::string out = "keep";
  CHECK_FALSE(append_frame(out, "").ok());
  CHECK_FALSE(append_frame(out, std::string(max_frame_body + 1, 'x')).ok());
  CHECK(out == "keep");
  CHECK(append_frame(out, "ab").ok());
  CHECK(out == std::string("keep\x00\x02" "ab", 8));
}

TEST_CASE("a decoder with no input reports incomplete") {
  FrameDecoder d;
  auto r = d.next();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::incomplete);
  CHECK(d.buffered() == 0);
}

TEST_CASE("a whole frame fed at once decodes once") {
  FrameDecoder d;
  d.feed(frame_of("hello"));
  auto r = d.next();
  REQUIRE(r.ok());
  CHECK(*r == "hello");
  CHECK(d.next().error().code == Errc::incomplete);
  CHECK(d.buffered() == 0);
}

TEST_CASE("a frame split across two reads decodes once") {
  const std::string f = frame_of("split body");
  for (std::size_t cut = 0; cut <= f.size(); ++cut) {
    FrameDecoder d;
    d.feed(f.substr(0, cut));
    if (cut < f.size()) {
      CHECK(d.next().error().code == Errc::incomplete);
      CHECK(d.buffered() == cut);
    }
    d.feed(f.substr(cut));
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK(*r == "split body");
    CHECK(d.next().error().code == Errc::incomplete);
  }
}

TEST_CASE("a frame fed one byte at a time decodes once") {
  const std::string f = frame_of(std::string(1000, 'q'));
  FrameDecoder d;
  int frames = 0;
  for (char c : f) {
    d.feed(std::string_view(&c, 1));
    while (true) {
      auto r = d.next();
      if (!r) {
        CHECK(r.error().code == Errc::incomplete);
        break;
      }
      CHECK(*r == std::string(1000, 'q'));
      ++frames;
    }
  }
  CHECK(frames == 1);
}

TEST_CASE("many frames in one feed decode in order") {
  std::string all;
  for (int i = 1; i <= 100; ++i) all += frame_of(std::string(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26)));
  FrameDecoder d;
  d.feed(all);
  for (int i = 1; i <= 100; ++i) {
    auto r = d.next();
    REQUIRE(r.ok());
    CHECK(*r == std::string(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26)));
  }
  CHECK(d.next().error().code == Errc::incomplete);
  CHECK(d.buffered() == 0);
}

TEST_CASE("a zero-length frame is an empty_frame error and the stream continues after it") {
  FrameDecoder d;
  d.feed(std::string("\x00\x00", 2) + frame_of("after"));
  auto r = d.next();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::empty_frame);
  auto s = d.next();
  REQUIRE(s.ok());
  CHECK(*s == "after");
}

TEST_CASE("a trailing CRLF inside the body is kept as part of the body") {
  FrameDecoder d;
  d.feed(frame_of("[\"x\",{}]\r\n"));
  auto r = d.next();
  REQUIRE(r.ok());
  CHECK(*r == "[\"x\",{}]\r\n");
}

TEST_CASE("a maximum-size frame arriving in pieces decodes and the buffer drains") {
  const std::string body(max_frame_body, 'z');
  const std::string f = frame_of(body) + frame_of("tail");
  FrameDecoder d;
  std::size_t pos = 0;
  std::vector<std::string> got;
  while (pos < f.size()) {
    const std::size_t n = std::min<std::size_t>(4093, f.size() - pos);
    d.feed(std::string_view(f).substr(pos, n));
    pos += n;
    for (auto r = d.next(); r.ok(); r = d.next()) got.push_back(*r);
    CHECK(d.buffered() <= max_frame_body + 2);
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0] == body);
  CHECK(got[1] == "tail");
  CHECK(d.buffered() == 0);
}

TEST_CASE("next_view returns the body without copying it") {
  FrameDecoder d;
  d.feed(frame_of("abc") + frame_of("de"));
  auto a = d.next_view();
  REQUIRE(a.ok());
  CHECK(*a == "abc");
  auto b = d.next_view();
  REQUIRE(b.ok());
  CHECK(*b == "de");
}
