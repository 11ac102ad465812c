#include <catch2/catch.hpp>

#include <string>

#include "pdtp/http/head.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

const std::string get_head =
    "GET /movies/big.ogg HTTP/1.1\r\n"
    "Host: example.org\r\n"
    "Range: bytes=0-4999\r\n"
    "X-PDTP-Peer-Id: alice\r\n"
    "\r\n";

// A string literal with an embedded NUL, without the terminating one.
template <std::size_t N>
std::string with_nul(const char (&text)[N]) {
  return std::string(text, N - 1);
}

Errc request_error(const std::string& head, const HttpLimits& limits = {}) {
  auto r = parse_request_head(head, limits);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

Errc response_error(const std::string& head) {
  auto r = parse_response_head(head);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}

}  // namespace

// ---- find_head_end ----

TEST_CASE("the head ends after the blank line, body bytes are not part of it") {
  auto n = find_head_end(get_head + "BODY");
  REQUIRE(n.ok());
  CHECK(*n == get_head.size());
}

TEST_CASE("a head with bare LF line ends is found too") {
  const std::string head = "GET / HTTP/1.1\nHost: a\n\n";
  auto n = find_head_end(head + "xyz");
  REQUIRE(n.ok());
  CHECK(*n == head.size());
}

TEST_CASE("a head not yet complete is incomplete, at every split point") {
  for (std::size_t cut = 0; cut < get_head.size(); ++cut) {
    auto n = find_head_end(std::string_view(get_head).substr(0, cut));
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().code == Errc::incomplete);
  }
}

TEST_CASE("a buffer past the limit without a blank line is head_too_large") {
  HttpLimits limits;
  limits.max_head_bytes = 64;
  std::string big = "GET / HTTP/1.1\r\nX-Filler: " + std::string(100, 'a');
  auto n = find_head_end(big, limits);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().code == Errc::head_too_large);
  auto within = find_head_end(big.substr(0, 64), limits);
  REQUIRE_FALSE(within.ok());
  CHECK(within.error().code == Errc::incomplete);
}

TEST_CASE("a head that ends just past the limit is head_too_large, one that ends at it is found") {
  const std::string head = "GET / HTTP/1.1\r\n\r\n";  // 18 bytes
  HttpLimits exact;
  exact.max_head_bytes = head.size();
  CHECK(*find_head_end(head + "more", exact) == head.size());
  HttpLimits short_by_one;
  short_by_one.max_head_bytes = head.size() - 1;
  auto n = find_head_end(head + "more", short_by_one);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().code == Errc::head_too_large);
}

// ---- parse_request_head ----

TEST_CASE("a PDTP GET request head parses into method, target, version and headers") {
  auto r = parse_request_head(get_head);
  REQUIRE(r.ok());
  CHECK(r->method == "GET");
  CHECK(r->target == "/movies/big.ogg");
  CHECK(r->version_minor == 1);
  REQUIRE(r->headers.size() == 3);
  CHECK(r->headers[0] == Header{"Host", "example.org"});
  CHECK(r->headers[2] == Header{"X-PDTP-Peer-Id", "alice"});
}

TEST_CASE("header lookup ignores case and returns the first match") {
  auto r = parse_request_head("PUT /f HTTP/1.0\r\ncontent-length: 5\r\nCONTENT-LENGTH: 7\r\n\r\n");
  REQUIRE(r.ok());
  CHECK(r->version_minor == 0);
  CHECK(r->header("Content-Length") == std::optional<std::string_view>("5"));
  CHECK_FALSE(r->header("Range").has_value());
}

TEST_CASE("header values lose surrounding whitespace but keep inner whitespace") {
  auto r = parse_request_head("GET / HTTP/1.1\r\nX-A: \t one two \t\r\nX-B:\r\nX-C:x\r\n\r\n");
  REQUIRE(r.ok());
  CHECK(r->header("x-a") == std::optional<std::string_view>("one two"));
  CHECK(r->header("x-b") == std::optional<std::string_view>(""));
  CHECK(r->header("x-c") == std::optional<std::string_view>("x"));
}

TEST_CASE("a request head with bare LF line ends parses like one with CRLF") {
  auto r = parse_request_head("GET /a HTTP/1.1\nHost: h\n\n");
  REQUIRE(r.ok());
  CHECK(r->header("host") == std::optional<std::string_view>("h"));
}

TEST_CASE("an absolute http target is accepted, other targets are bad_request_line") {
  CHECK(parse_request_head("GET http://host:6087/f HTTP/1.1\r\n\r\n").ok());
  CHECK(parse_request_head("GET HTTP://host/f HTTP/1.1\r\n\r\n").ok());
  CHECK(request_error("GET f HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET * HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET ftp://host/f HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET http:// HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
}

TEST_CASE("a method with non-token characters is bad_request_line") {
  CHECK(request_error("G(ET / HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GE\x01T / HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error(" / HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
}

TEST_CASE("a request line with missing or doubled spaces is bad_request_line") {
  CHECK(request_error("GET /\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET  / HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET / HTTP/1.1 \r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET /a b HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("\r\nGET / HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
}

TEST_CASE("a control character in the target is bad_request_line") {
  CHECK(request_error(with_nul("GET /a\0b HTTP/1.1\r\n\r\n")) == Errc::bad_request_line);
  CHECK(request_error("GET /a\tb HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET /a\rb HTTP/1.1\r\n\r\n") == Errc::bad_request_line);
}

TEST_CASE("a malformed version is bad_request_line, another HTTP version is unsupported") {
  CHECK(request_error("GET / HTTP/1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET / http/1.1\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET / HTTP/1.10\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET / HTTP/x.y\r\n\r\n") == Errc::bad_request_line);
  CHECK(request_error("GET / HTTP/2.0\r\n\r\n") == Errc::unsupported);
  CHECK(request_error("GET / HTTP/1.2\r\n\r\n") == Errc::unsupported);
  CHECK(request_error("GET / HTTP/0.9\r\n\r\n") == Errc::unsupported);
}

TEST_CASE("a header line without a colon is bad_header") {
  auto r = parse_request_head("GET / HTTP/1.1\r\nHost example.org\r\n\r\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_header);
  CHECK(r.error().message.find("Host example.org") != std::string::npos);
}

TEST_CASE("obsolete line folding is bad_header") {
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n") == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n") == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == Errc::bad_header);
}

TEST_CASE("a bad header name is bad_header, whitespace before the colon included") {
  CHECK(request_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\n: a\r\n\r\n") == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\nX(y): a\r\n\r\n") == Errc::bad_header);
}

TEST_CASE("CR, NUL or another control character inside a header value is bad_header") {
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n") == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: ab\r\r\n\r\n") == Errc::bad_header);
  CHECK(request_error(with_nul("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n")) == Errc::bad_header);
  CHECK(request_error("GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n") == Errc::bad_header);
}

TEST_CASE("obs-text bytes (UTF-8) in a header value are kept") {
  auto r = parse_request_head("GET / HTTP/1.1\r\nX-PDTP-Peer-Id: b\xc3\xa9la\r\n\r\n");
  REQUIRE(r.ok());
  CHECK(r->header("x-pdtp-peer-id") == std::optional<std::string_view>("b\xc3\xa9la"));
}

TEST_CASE("more header lines than the limit is too_many_headers") {
  HttpLimits limits;
  limits.max_headers = 3;
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 3; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(parse_request_head(head + "\r\n", limits).ok());
  CHECK(request_error(head + "X-3: v\r\n\r\n", limits) == Errc::too_many_headers);
}

TEST_CASE("the default limit allows 32 header lines, not 33") {
  std::string head = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 32; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(parse_request_head(head + "\r\n").ok());
  CHECK(request_error(head + "X-32: v\r\n\r\n") == Errc::too_many_headers);
}

TEST_CASE("a head longer than the limit is head_too_large") {
  const std::string head = "GET / HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n";
  CHECK(request_error(head) == Errc::head_too_large);
  HttpLimits big;
  big.max_head_bytes = 10000;
  CHECK(parse_request_head(head, big).ok());
}

TEST_CASE("a head without its blank line is incomplete") {
  CHECK(request_error("GET / HTTP/1.1\r\nHost: a\r\n") == Errc::incomplete);
  CHECK(request_error("GET / HTTP/1.1") == Errc::incomplete);
  CHECK(request_error("") == Errc::incomplete);
}

TEST_CASE("bytes after the blank line are bad_header: the caller passes exactly the head") {
  CHECK(request_error(get_head + "body") == Errc::bad_header);
}

// ---- parse_response_head ----

TEST_CASE("a 206 response head parses into status, reason and headers") {
  auto r = parse_response_head(
      "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4999/12000\r\nContent-Length: 5000\r\n\r\n");
  REQUIRE(r.ok());
  CHECK(r->status == 206);
  CHECK(r->reason == "Partial Content");
  CHECK(r->version_minor == 1);
  CHECK(r->header("content-length") == std::optional<std::string_view>("5000"));
}

TEST_CASE("a status line with an empty reason, with or without its space, parses") {
  auto a = parse_response_head("HTTP/1.0 404 \r\n\r\n");
  REQUIRE(a.ok());
  CHECK(a->status == 404);
  CHECK(a->reason.empty());
  CHECK(a->version_minor == 0);
  auto b = parse_response_head("HTTP/1.1 201\r\n\r\n");
  REQUIRE(b.ok());
  CHECK(b->status == 201);
  CHECK(b->reason.empty());
}

TEST_CASE("a malformed status line is bad_status_line") {
  CHECK(response_error("HTTP/1.1 20 OK\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("HTTP/1.1 2000 OK\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("HTTP/1.1 099 OK\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("HTTP/1.1 2x0 OK\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("HTTP/1.1\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("HTTP/1.1 200 O\x01K\r\n\r\n") == Errc::bad_status_line);
  CHECK(response_error("ICY 200 OK\r\n\r\n") == Errc::bad_status_line);
}

TEST_CASE("a response in another HTTP version is unsupported") {
  CHECK(response_error("HTTP/2.0 200 OK\r\n\r\n") == Errc::unsupported);
}

TEST_CASE("response headers are checked like request headers") {
  CHECK(response_error("HTTP/1.1 200 OK\r\nbroken\r\n\r\n") == Errc::bad_header);
  CHECK(response_error("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n") == Errc::bad_header);
  CHECK(response_error("HTTP/1.1 200 OK\r\nA: b\r\n") == Errc::incomplete);
}

// ---- writers ----

TEST_CASE("a written request head uses CRLF and parses back to the same head") {
  RequestHead h;
  h.method = "PUT";
  h.target = "/a%20b";
  h.headers = {{"Host", "h"}, {"Content-Length", "3"}};
  auto text = write_request_head(h);
  REQUIRE(text.ok());
  CHECK(*text == "PUT /a%20b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n");
  auto back = parse_request_head(*text);
  REQUIRE(back.ok());
  CHECK(*back == h);
}

TEST_CASE("a written response head parses back to the same head") {
  ResponseHead h;
  h.status = 416;
  h.reason = "Range Not Satisfiable";
  h.version_minor = 0;
  h.headers = {{"Content-Range", "bytes */10"}};
  auto text = write_response_head(h);
  REQUIRE(text.ok());
  CHECK(*text == "HTTP/1.0 416 Range Not Satisfiable\r\nContent-Range: bytes */10\r\n\r\n");
  auto back = parse_response_head(*text);
  REQUIRE(back.ok());
  CHECK(*back == h);
}

TEST_CASE("the writers refuse CR or LF in a header value, so no header can be injected") {
  RequestHead r;
  r.method = "GET";
  r.target = "/";
  r.headers = {{"X-PDTP-Peer-Id", "eve\r\nX-Evil: 1"}};
  auto a = write_request_head(r);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().code == Errc::bad_header);
  ResponseHead s;
  s.headers = {{"X", "a\nb"}};
  auto b = write_response_head(s);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().code == Errc::bad_header);
  s.headers.clear();
  s.reason = "OK\r\nX: y";
  auto c = write_response_head(s);
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == Errc::bad_status_line);
}

TEST_CASE("the writers refuse what the parser would not read back") {
  RequestHead r;
  r.method = "GE T";
  r.target = "/";
  CHECK(write_request_head(r).error().code == Errc::bad_request_line);
  r.method = "GET";
  r.target = "relative";
  CHECK(write_request_head(r).error().code == Errc::bad_request_line);
  r.target = "/";
  r.version_minor = 2;
  CHECK(write_request_head(r).error().code == Errc::unsupported);
  r.version_minor = 1;
  r.headers = {{"Bad Name", "v"}};
  CHECK(write_request_head(r).error().code == Errc::bad_header);
  r.headers = {{"X", " padded"}};
  CHECK(write_request_head(r).error().code == Errc::bad_header);
  ResponseHead s;
  s.status = 99;
  CHECK(write_response_head(s).error().code == Errc::bad_status_line);
  s.status = 1000;
  CHECK(write_response_head(s).error().code == Errc::bad_status_line);
}

TEST_CASE("reason phrases name the statuses the peers send, and a class for others") {
  CHECK(reason_phrase(206) == "Partial Content");
  CHECK(reason_phrase(201) == "Created");
  CHECK(reason_phrase(403) == "Forbidden");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(405) == "Method Not Allowed");
  CHECK(reason_phrase(416) == "Range Not Satisfiable");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(505) == "HTTP Version Not Supported");
  CHECK(reason_phrase(299) == "Success");
  CHECK(reason_phrase(499) == "Client Error");
  CHECK(reason_phrase(42) == "Unknown");
}
