#include <catch2/catch.hpp>

#include <string>

#include "pdtp/http/peer.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

RequestHead request(std::string method, std::string target, std::vector<Header> headers) {
  RequestHead h;
  h.method = std::move(method);
  h.target = std::move(target);
  h.headers = std::move(headers);
  return h;
}

Error interpret_error(const RequestHead& h) {
  auto r = interpret_peer_request(h);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

// ---- make_peer_request ----

TEST_CASE("a GET request carries path, Host, Range and the peer's own id, and no body length") {
  const std::string text =
      make_peer_request(TransferMethod::get, "tv.example.org", "/video/a.mkv", {250000, 499999}, "alice", 1234);
  CHECK(text ==
        "GET /video/a.mkv HTTP/1.1\r\n"
        "Host: tv.example.org\r\n"
        "Range: bytes=250000-499999\r\n"
        "X-PDTP-Peer-Id: alice\r\n"
        "\r\n");
}

TEST_CASE("a PUT request carries Content-Length for its body") {
  const std::string text = make_peer_request(TransferMethod::put, "h", "/f", {0, 4999}, "bob", 5000);
  auto head = parse_request_head(text);
  REQUIRE(head.ok());
  CHECK(head->method == "PUT");
  CHECK(head->header("content-length") == std::optional<std::string_view>("5000"));
}

TEST_CASE("a written peer request reads back to the same method, path, range, id and length") {
  const std::string text =
      make_peer_request(TransferMethod::put, "10.0.0.1", "/dir/b\xc3\xa9 f.ogg", {5000, 9999}, "carol", 5000);
  CHECK(text.find("PUT /dir/b%C3%A9%20f.ogg HTTP/1.1\r\n") == 0);
  auto head = parse_request_head(text);
  REQUIRE(head.ok());
  auto req = interpret_peer_request(*head);
  REQUIRE(req.ok());
  CHECK(req->method == TransferMethod::put);
  CHECK(req->path == "/dir/b\xc3\xa9 f.ogg");
  CHECK(req->range_header == std::optional<std::string>("bytes=5000-9999"));
  CHECK(*parse_range_header(*req->range_header, 20000) == ByteRange{5000, 9999});
  CHECK(req->peer_id == "carol");
  CHECK(req->content_length == std::optional<std::uint64_t>(5000));
}

TEST_CASE("an IPv6 host is bracketed in the Host header") {
  const std::string text = make_peer_request(TransferMethod::get, "::1", "/f", {0, 0}, "a", 0);
  CHECK(text.find("\r\nHost: [::1]\r\n") != std::string::npos);
}

TEST_CASE("a peer id with CR LF cannot inject a header into the request") {
  const std::string text = make_peer_request(TransferMethod::get, "h", "/f", {0, 9}, "eve\r\nX-Evil: 1", 0);
  auto head = parse_request_head(text);
  REQUIRE(head.ok());
  CHECK_FALSE(head->header("X-Evil").has_value());
  CHECK(head->headers.size() == 3);
}

// ---- interpret_peer_request ----

TEST_CASE("a GET with an absolute http target names the normalised path") {
  auto r = interpret_peer_request(
      request("GET", "http://tv.example.org:6087/video//./a%20b.mkv", {{"x-pdtp-peer-id", "alice"}}));
  REQUIRE(r.ok());
  CHECK(r->method == TransferMethod::get);
  CHECK(r->path == "/video/a b.mkv");
  CHECK_FALSE(r->range_header.has_value());
  CHECK_FALSE(r->content_length.has_value());
}

TEST_CASE("the Range header is handed over raw") {
  auto r = interpret_peer_request(request("GET", "/f", {{"Range", "bytes=-5"}, {"X-PDTP-Peer-Id", "a"}}));
  REQUIRE(r.ok());
  CHECK(r->range_header == std::optional<std::string>("bytes=-5"));
}

TEST_CASE("a method other than GET or PUT is unsupported and answered 405") {
  for (const char* m : {"POST", "HEAD", "DELETE", "get"}) {
    INFO(m);
    auto e = interpret_error(request(m, "/f", {{"X-PDTP-Peer-Id", "a"}}));
    CHECK(e.code == Errc::unsupported);
    CHECK(status_for(e) == 405);
  }
}

TEST_CASE("a request without X-PDTP-Peer-Id, or with an empty one, is bad_header") {
  auto e = interpret_error(request("GET", "/f", {{"Range", "bytes=0-1"}}));
  CHECK(e.code == Errc::bad_header);
  CHECK(e.message.find("X-PDTP-Peer-Id") != std::string::npos);
  CHECK(status_for(e) == 400);
  CHECK(interpret_error(request("GET", "/f", {{"X-PDTP-Peer-Id", ""}})).code == Errc::bad_header);
}

TEST_CASE("a PUT without Content-Length is bad_header") {
  auto e = interpret_error(request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Range", "bytes=0-1"}}));
  CHECK(e.code == Errc::bad_header);
  CHECK(status_for(e) == 400);
}

TEST_CASE("a malformed Content-Length is bad_header") {
  CHECK(interpret_error(request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "-1"}})).code ==
        Errc::bad_header);
  CHECK(interpret_error(request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "99999999999999999999"}}))
            .code == Errc::bad_header);
}

TEST_CASE("two different Content-Length headers are bad_header, two equal ones are fine") {
  CHECK(interpret_error(request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "5"},
                                              {"content-length", "6"}}))
            .code == Errc::bad_header);
  auto r = interpret_peer_request(
      request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "5"}, {"content-length", "5"}}));
  REQUIRE(r.ok());
  CHECK(r->content_length == std::optional<std::uint64_t>(5));
}

TEST_CASE("a GET with a body is bad_header, a GET with Content-Length 0 is fine") {
  CHECK(interpret_error(request("GET", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "3"}})).code ==
        Errc::bad_header);
  CHECK(interpret_peer_request(request("GET", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Content-Length", "0"}})).ok());
}

TEST_CASE("a Transfer-Encoding is unsupported and answered 501") {
  auto e = interpret_error(
      request("PUT", "/f", {{"X-PDTP-Peer-Id", "a"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}));
  CHECK(e.code == Errc::unsupported);
  CHECK(status_for(e) == 501);
}

TEST_CASE("a target escaping the root is path_escapes_root and answered 403") {
  for (const char* t : {"/../etc/passwd", "/a/%2e%2e/b", "http://h/../x", "/a\\b"}) {
    INFO(t);
    auto e = interpret_error(request("GET", t, {{"X-PDTP-Peer-Id", "a"}}));
    CHECK(e.code == Errc::path_escapes_root);
    CHECK(status_for(e) == 403);
  }
}

TEST_CASE("a malformed target is bad_url and answered 400") {
  for (const char* t : {"/a%zz", "/a?x=1", "/a%00", "http://", "http://h"}) {
    INFO(t);
    auto e = interpret_error(request("GET", t, {{"X-PDTP-Peer-Id", "a"}}));
    CHECK(e.code == Errc::bad_url);
    CHECK(status_for(e) == 400);
  }
}

// ---- status_for ----

TEST_CASE("errors from the head parser map to 400, 431 and 505") {
  HttpLimits tiny;
  tiny.max_headers = 1;
  CHECK(status_for(parse_request_head("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", tiny).error()) == 431);
  CHECK(status_for(find_head_end(std::string(9000, 'a')).error()) == 431);
  CHECK(status_for(parse_request_head("GET / HTTP/2.0\r\n\r\n").error()) == 505);
  CHECK(status_for(parse_request_head("GET / HTTP/1.1\r\nbad\r\n\r\n").error()) == 400);
  CHECK(status_for(parse_request_head("GET\r\n\r\n").error()) == 400);
}

TEST_CASE("errors from the Range header map to 416 or 400") {
  CHECK(status_for(parse_range_header("bytes=50-", 10).error()) == 416);
  CHECK(status_for(parse_range_header("bytes=0-0", 0).error()) == 416);
  CHECK(status_for(parse_range_header("bytes=0-1,3-4", 10).error()) == 416);
  CHECK(status_for(parse_range_header("lines=0-1", 10).error()) == 400);
  CHECK(status_for(Error{Errc::unaligned_range, "x"}) == 416);
}

// ---- make_response ----

TEST_CASE("a 206 response names the range, the file size, the length and the answering peer") {
  const std::string text = make_response(206, "dstream", std::make_pair(ByteRange{250000, 499999}, 600000), 250000);
  CHECK(text ==
        "HTTP/1.1 206 Partial Content\r\n"
        "Content-Range: bytes 250000-499999/600000\r\n"
        "Content-Length: 250000\r\n"
        "X-PDTP-Peer-Id: dstream\r\n"
        "\r\n");
  auto head = parse_response_head(text);
  REQUIRE(head.ok());
  auto cr = parse_content_range(*head->header("content-range"));
  REQUIRE(cr.ok());
  CHECK(cr->range == ByteRange{250000, 499999});
  CHECK(cr->size == std::optional<std::uint64_t>(600000));
}

TEST_CASE("a response without range or peer id has only Content-Length") {
  const std::string text = make_response(201, "", std::nullopt, 0);
  CHECK(text == "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  CHECK(parse_response_head(text).ok());
}

TEST_CASE("a response never carries an injected header or a status that is not three digits") {
  auto head = parse_response_head(make_response(42, "x\r\nSet-Cookie: a", std::nullopt, 0));
  REQUIRE(head.ok());
  CHECK(head->status == 500);
  CHECK_FALSE(head->header("Set-Cookie").has_value());
}
