// Varints, packet headers and frames: encode/decode round trips and typed errors on bad input.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "pdtp/rudp/frame.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/rudp/varint.hpp"

using namespace pdtp;
using namespace pdtp::rudp;

namespace {
std::vector<std::uint8_t> encode(const Frame& f) {
  std::vector<std::uint8_t> out(frame_size(f));
  detail::Writer w(out);
  write_frame(w, f);
  REQUIRE_FALSE(w.overflowed());
  REQUIRE(w.size() == out.size());
  return out;
}
Frame decode_one(const std::vector<std::uint8_t>& bytes) {
  detail::Reader r(bytes);
  auto f = decode_frame(r);
  REQUIRE(f.ok());
  REQUIRE(r.empty());
  return *f;
}
}  // namespace

TEST_CASE("varints use 1, 2, 4 or 8 bytes and round trip at every boundary") {
  const std::uint64_t values[] = {0, 63, 64, 16383, 16384, (1u << 30) - 1, 1u << 30, max_varint};
  const std::size_t sizes[] = {1, 1, 2, 2, 4, 4, 8, 8};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    std::array<std::uint8_t, 8> buf{};
    detail::Writer w(buf);
    write_varint(w, values[i]);
    CHECK(w.size() == sizes[i]);
    detail::Reader r(w.written());
    auto v = read_varint(r, "test");
    REQUIRE(v.ok());
    CHECK(*v == values[i]);
  }
}

TEST_CASE("a varint cut short is incomplete and names the field") {
  const std::uint8_t bytes[] = {0x80, 0x01};  // claims 4 bytes, has 2
  detail::Reader r(bytes);
  auto v = read_varint(r, "STREAM offset");
  REQUIRE_FALSE(v.ok());
  CHECK(v.error().code == Errc::incomplete);
  CHECK(v.error().message.find("STREAM offset") != std::string::npos);
}

TEST_CASE("a non-shortest varint is accepted") {
  const std::uint8_t bytes[] = {0x40, 0x05};
  detail::Reader r(bytes);
  auto v = read_varint(r, "x");
  REQUIRE(v.ok());
  CHECK(*v == 5);
}

TEST_CASE("a packet header round trips and is 13 bytes") {
  PacketHeader h{PacketType::data, ConnectionId{0xDEADBEEF}, 0x0102030405060708ull};
  auto bytes = encode_header(h);
  CHECK(bytes[0] == 0x04);
  CHECK(bytes[1] == 0xDE);
  CHECK(bytes[12] == 0x08);
  auto back = decode_header(bytes);
  REQUIRE(back.ok());
  CHECK(*back == h);
}

TEST_CASE("a short datagram, an unknown packet type and a huge packet number are refused") {
  std::array<std::uint8_t, 12> short_bytes{};
  short_bytes[0] = 0x04;
  CHECK(decode_header(short_bytes).error().code == Errc::incomplete);

  auto bytes = encode_header({PacketType::data, ConnectionId{1}, 1});
  bytes[0] = 0x01;  // a handshake type: not ours
  CHECK(decode_header(bytes).error().code == Errc::unknown_type);

  auto huge = encode_header({PacketType::data, ConnectionId{1}, max_varint + 1});
  CHECK(decode_header(huge).error().code == Errc::bad_field);
}

TEST_CASE("every frame type round trips") {
  const std::uint8_t payload[] = {1, 2, 3, 4, 5};
  const std::vector<Frame> frames = {
      PaddingFrame{3},
      PingFrame{},
      AckFrame{25000, {{100, 120}, {90, 97}, {0, 10}}},
      ResetStreamFrame{StreamId{4}, 7, 123456},
      StopSendingFrame{StreamId{5}, 9},
      StreamFrame{StreamId{8}, 1u << 20, true, payload},
      StreamFrame{StreamId{1}, 0, false, {}},
      MaxDataFrame{1ull << 40},
      MaxStreamDataFrame{StreamId{2}, 65536},
      MaxStreamsFrame{100},
      CloseFrame{true, 42, "bye"},
      CloseFrame{false, 7, ""},
  };
  for (const auto& f : frames) {
    auto bytes = encode(f);
    CHECK(decode_one(bytes) == f);
  }
}

TEST_CASE("padding bytes decode as one frame of that length") {
  std::vector<std::uint8_t> bytes(40, 0);
  bytes.push_back(0x01);  // PING after the padding
  detail::Reader r(bytes);
  auto pad = decode_frame(r);
  REQUIRE(pad.ok());
  CHECK(std::get<PaddingFrame>(*pad).length == 40);
  auto ping = decode_frame(r);
  REQUIRE(ping.ok());
  CHECK(std::holds_alternative<PingFrame>(*ping));
}

TEST_CASE("an ACK whose ranges go below zero is refused") {
  // largest 5, first range 6: below zero.
  const std::uint8_t a[] = {0x02, 5, 0, 0, 6};
  detail::Reader ra(a);
  CHECK(decode_frame(ra).error().code == Errc::bad_field);
  // largest 5, first range 2 (smallest 3), gap 2 would put the next range's top at -1.
  const std::uint8_t b[] = {0x02, 5, 0, 1, 2, 2, 0};
  detail::Reader rb(b);
  CHECK(decode_frame(rb).error().code == Errc::bad_field);
  // range length longer than the room below.
  const std::uint8_t c[] = {0x02, 10, 0, 1, 0, 0, 9};
  detail::Reader rc(c);
  CHECK(decode_frame(rc).error().code == Errc::bad_field);
}

TEST_CASE("an ACK with too many ranges is refused before allocating") {
  std::vector<std::uint8_t> bytes = {0x02, 0x40, 0xFF, 0, 0x41, 0x00, 0};  // count 256
  detail::Reader r(bytes);
  auto f = decode_frame(r);
  REQUIRE_FALSE(f.ok());
  CHECK(f.error().code == Errc::bad_field);
}

TEST_CASE("a STREAM frame longer than the packet is incomplete, and one past 2^62 is bad") {
  const std::uint8_t a[] = {0x08, 0, 0, 10, 1, 2, 3};
  detail::Reader ra(a);
  CHECK(decode_frame(ra).error().code == Errc::incomplete);
  std::vector<std::uint8_t> b = {0x08, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 1, 2};
  detail::Reader rb(b);
  CHECK(decode_frame(rb).error().code == Errc::bad_field);
}

TEST_CASE("an unknown frame type is refused") {
  const std::uint8_t a[] = {0x3F};
  detail::Reader r(a);
  CHECK(decode_frame(r).error().code == Errc::unknown_type);
}

TEST_CASE("a CLOSE reason longer than the packet is incomplete") {
  const std::uint8_t a[] = {0x1d, 0, 5, 'a', 'b'};
  detail::Reader r(a);
  CHECK(decode_frame(r).error().code == Errc::incomplete);
}

TEST_CASE("MAX_STREAMS above 2^61 is refused") {
  std::vector<std::uint8_t> a = {0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  detail::Reader r(a);
  CHECK(decode_frame(r).error().code == Errc::bad_field);
}

TEST_CASE("only PADDING, ACK and CLOSE do not elicit an acknowledgement") {
  CHECK_FALSE(is_ack_eliciting(PaddingFrame{}));
  CHECK_FALSE(is_ack_eliciting(AckFrame{0, {{0, 0}}}));
  CHECK_FALSE(is_ack_eliciting(CloseFrame{}));
  CHECK(is_ack_eliciting(PingFrame{}));
  CHECK(is_ack_eliciting(MaxDataFrame{}));
}
