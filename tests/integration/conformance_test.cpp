// PDTP v2 conformance over raw frames: a test client that speaks bytes, against a real dstream.
#include <catch2/catch.hpp>

#include "pdtp/core/sha256.hpp"
#include "process.hpp"

using namespace pdtp_test;

namespace {

std::string file_bytes(std::size_t n) {
  std::string s(n, '\0');
  std::mt19937 gen(42);
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

const std::string kData = file_bytes(10000);  // chunks of 4096: [0,4095] [4096,8191] [8192,9999]
const std::uint64_t kChunk = 4096;

json range(std::uint64_t min, std::uint64_t max) { return {{"min", min}, {"max", max}}; }

std::string url(const Dstream&, const std::string& path = "/a.bin") { return "http://127.0.0.1" + path; }

void register_as(RawClient& c, const std::string& id) { c.send("register", {{"client_id", id}, {"listen_port", 0}}); }

// A second client that must keep being served while another misbehaves.
void still_serves(RawClient& other, const Dstream& d) {
  other.send("ask_info", {{"url", url(d)}});
  json info = other.recv_type("tell_info");
  REQUIRE(info.is_array());
  CHECK(info[1]["size"] == kData.size());
}

HttpReply get_chunk(const Dstream& d, const std::string& peer_id, std::uint64_t min, std::uint64_t max) {
  return http_exchange(d.http_port(), "GET /a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=" + std::to_string(min) +
                                          "-" + std::to_string(max) + "\r\nX-PDTP-Peer-Id: " + peer_id + "\r\n\r\n");
}

}  // namespace

TEST_CASE("register, ask_info, request, GET from the file service and completed are answered as the spec says") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-1");
  c.send("ask_info", {{"url", url(d)}});
  json info = c.recv();
  REQUIRE(info[0] == "tell_info");
  CHECK(info[1]["url"] == url(d));
  CHECK(info[1]["size"] == 10000);
  CHECK(info[1]["chunk_size"] == kChunk);
  CHECK(info[1]["streaming"].is_boolean());

  c.send("request", {{"url", url(d)}, {"range", range(4096, 8191)}});
  json t = c.recv();
  REQUIRE(t[0] == "transfer");
  CHECK(t[1]["method"] == "get");
  CHECK(t[1]["host"] == "127.0.0.1");
  CHECK(t[1]["port"] == d.http_port());
  CHECK(t[1]["range"] == range(4096, 8191));
  std::string giver = t[1]["peer_id"];

  HttpReply r = get_chunk(d, "conformance-1", 4096, 8191);
  REQUIRE(r.status == 206);
  CHECK(r.head.find("Content-Range: bytes 4096-8191/10000") != std::string::npos);
  CHECK(r.body == kData.substr(4096, 4096));

  c.send("completed", {{"peer", "127.0.0.1"}, {"url", url(d)}, {"range", range(4096, 8191)}, {"peer_id", giver},
                       {"hash", sha256_hex(r.body)}});
  json v = c.recv_type("hash_verify");
  REQUIRE(v.is_array());
  CHECK(v[1]["hash_ok"] == true);
  CHECK(v[1]["range"] == range(4096, 8191));
}

TEST_CASE("a completed with the wrong hash gets hash_verify false, and the chunk is offered again") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-2");
  c.send("request", {{"url", url(d)}, {"range", range(8192, 9999)}});
  json t = c.recv_type("transfer");
  REQUIRE(t.is_array());
  CHECK(t[1]["range"] == range(8192, 9999));
  c.send("completed", {{"peer", "127.0.0.1"}, {"url", url(d)}, {"range", range(8192, 9999)},
                       {"peer_id", t[1]["peer_id"]}, {"hash", std::string(64, '0')}});
  json v = c.recv_type("hash_verify");
  REQUIRE(v.is_array());
  CHECK(v[1]["hash_ok"] == false);
  json again = c.recv_type("transfer");
  REQUIRE(again.is_array());
  CHECK(again[1]["range"] == range(8192, 9999));
}

TEST_CASE("the file service refuses a range that was not scheduled for the asking peer") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-3");
  c.send("ask_info", {{"url", url(d)}});
  REQUIRE(c.recv()[0] == "tell_info");
  CHECK(get_chunk(d, "conformance-3", 0, 4095).status == 403);
  CHECK(get_chunk(d, "nobody", 0, 4095).status == 403);
}

TEST_CASE("unknown files get tell_info with an error, and paths escaping the root are never served") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-4");
  for (std::string path : {"/nope.bin", "/../etc/passwd", "/%2e%2e/etc/passwd", "/a/%2E%2e/%2e%2E/etc/passwd"}) {
    c.send("ask_info", {{"url", "http://127.0.0.1" + path}});
    json info = c.recv_type("tell_info");
    REQUIRE(info.is_array());
    CHECK(info[1].contains("error"));
    CHECK(info[1].value("size", 0) == 0);
  }
  c.send("request", {{"url", "http://127.0.0.1/../etc/passwd"}});
  json e = c.recv();
  REQUIRE(e.is_array());
  CHECK(e[0] == "error");
  HttpReply r = http_exchange(d.http_port(),
                              "GET /../etc/passwd HTTP/1.1\r\nHost: x\r\nRange: bytes=0-10\r\nX-PDTP-Peer-Id: "
                              "conformance-4\r\n\r\n");
  CHECK(r.status >= 400);
  CHECK(r.body.find("root:") == std::string::npos);
  still_serves(c, d);
}

TEST_CASE("an unaligned range gets a non-fatal error and the connection stays") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-5");
  c.send("provide", {{"url", url(d)}, {"range", range(100, 4095)}});
  json e = c.recv();
  REQUIRE(e.is_array());
  CHECK(e[0] == "error");
  still_serves(c, d);
}

TEST_CASE("an unaligned request (our extension) is widened to the chunks it touches, each transfer naming its hash") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient c(d.port);
  register_as(c, "conformance-6");
  c.send("request", {{"url", url(d)}, {"range", range(0, 0)}});
  json t = c.recv();
  REQUIRE(t.is_array());
  REQUIRE(t[0] == "transfer");
  CHECK(t[1]["range"] == range(0, kChunk - 1));
  CHECK(t[1]["hash"] == pdtp::sha256_hex(std::string_view(kData).substr(0, kChunk)));
}

TEST_CASE("fatal protocol violations close only the offending connection") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient good(d.port, "127.0.0.2");
  register_as(good, "good-peer");
  still_serves(good, d);

  struct Case {
    const char* name;
    std::function<void(RawClient&)> act;
  };
  std::vector<Case> cases = {
      {"message before register", [&](RawClient& c) { c.send("ask_info", {{"url", url(d)}}); }},
      {"duplicate client_id", [](RawClient& c) { register_as(c, "good-peer"); }},
      {"oversize client_id", [](RawClient& c) { register_as(c, std::string(5000, 'x')); }},
      {"invalid JSON", [](RawClient& c) { c.send_body("[\"register\", {"); }},
      {"wrong array shape", [](RawClient& c) { c.send_body("[\"register\", {\"client_id\": \"x\"}, 3]"); }},
      {"not an array", [](RawClient& c) { c.send_body("{\"register\": 1}"); }},
      {"unknown type", [](RawClient& c) { c.send("frobnicate", json::object()); }},
  };
  for (auto& k : cases) {
    SECTION(k.name) {
      RawClient bad(d.port, "127.0.0.3");
      k.act(bad);
      json m = bad.recv();
      REQUIRE(m.is_array());
      CHECK(m[0] == "protocol_error");
      CHECK(m[1]["message"].is_string());
      CHECK(bad.closed_by_server());
      still_serves(good, d);
    }
  }
}

TEST_CASE("a truncated frame followed by a close does not disturb other clients") {
  Dstream d({{"a.bin", kData}}, kChunk);
  RawClient good(d.port);
  register_as(good, "good-peer-2");
  {
    RawClient bad(d.port, "127.0.0.3");
    bad.send_raw(std::string("\x00\x40[\"regis", 9));
    bad.close();
  }
  still_serves(good, d);
  CHECK(d.alive());
}
