// pdtp:// and http:// URLs and path normalisation.
#include <catch2/catch.hpp>

#include <string>

#include "pdtp/wire/url.hpp"

using namespace pdtp;

namespace {
Errc path_error(std::string_view raw) {
  auto r = normalize_path(raw);
  REQUIRE_FALSE(r.ok());
  return r.error().code;
}
std::string path_ok(std::string_view raw) {
  auto r = normalize_path(raw);
  INFO(raw);
  REQUIRE(r.ok());
  return *r;
}
}  // namespace

TEST_CASE("a pdtp url gives host, default port 6086 and path") {
  auto u = parse_pdtp_url("pdtp://example.org/video/a.mkv");
  REQUIRE(u.ok());
  CHECK(u->host == "example.org");
  CHECK(u->port == 6086);
  CHECK(u->path == "/video/a.mkv");
}

TEST_CASE("a pdtp url with an explicit port uses it") {
  auto u = parse_pdtp_url("pdtp://127.0.0.1:7000/f");
  REQUIRE(u.ok());
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 7000);
  CHECK(u->path == "/f");
}

TEST_CASE("the scheme and host are case-insensitive and the host is lowercased") {
  auto u = parse_pdtp_url("PDTP://Example.ORG:65535/Movie.MKV");
  REQUIRE(u.ok());
  CHECK(u->host == "example.org");
  CHECK(u->port == 65535);
  CHECK(u->path == "/Movie.MKV");
}

TEST_CASE("an IPv6 host in brackets is accepted and stored without brackets") {
  auto u = parse_pdtp_url("pdtp://[::1]:6090/x");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->port == 6090);
  auto v = parse_pdtp_url("pdtp://[fe80::1:2]/x");
  REQUIRE(v.ok());
  CHECK(v->host == "fe80::1:2");
  CHECK(v->port == default_control_port);
}

TEST_CASE("a pdtp url without a path is bad_url") {
  auto u = parse_pdtp_url("pdtp://example.org");
  REQUIRE_FALSE(u.ok());
  CHECK(u.error().code == Errc::bad_url);
}

TEST_CASE("a url whose path is only a slash parses to the root path") {
  auto u = parse_pdtp_url("pdtp://example.org/");
  REQUIRE(u.ok());
  CHECK(u->path == "/");
}

TEST_CASE("bad ports are bad_url") {
  for (const char* url : {"pdtp://h:70000/f", "pdtp://h:0/f", "pdtp://h:/f", "pdtp://h:-1/f", "pdtp://h:12a/f",
                          "pdtp://h:000080/f", "pdtp://[::1]:99999/f"}) {
    INFO(url);
    auto u = parse_pdtp_url(url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == Errc::bad_url);
  }
}

TEST_CASE("malformed authorities and wrong schemes are bad_url") {
  for (const char* url : {"http://h/f", "pdtp:/h/f", "pdtp//h/f", "pdtp:///f", "pdtp://user@h/f", "pdtp://h h/f",
                          "pdtp://[::1/f", "pdtp://[::1]x/f", "pdtp://[zz::1]/f", "pdtp://[]/f", "", "pdtp://",
                          "ftp://h/f"}) {
    INFO(url);
    auto u = parse_pdtp_url(url);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == Errc::bad_url);
  }
}

TEST_CASE("an http url gives host, optional port and path") {
  auto u = parse_http_url("http://files.example.org/a/b.iso");
  REQUIRE(u.ok());
  CHECK(u->host == "files.example.org");
  CHECK_FALSE(u->port.has_value());
  CHECK(u->path == "/a/b.iso");
  auto v = parse_http_url("HTTP://10.0.0.1:6087/a%20b");
  REQUIRE(v.ok());
  CHECK(v->port == std::optional<std::uint16_t>(6087));
  CHECK(v->path == "/a b");
  CHECK_FALSE(parse_http_url("pdtp://h/f").ok());
  CHECK_FALSE(parse_http_url("http://h").ok());
}

TEST_CASE("normalize_path collapses double slashes and dot segments and drops a trailing slash") {
  CHECK(path_ok("/a//b/./c/") == "/a/b/c");
  CHECK(path_ok("/") == "/");
  CHECK(path_ok("//") == "/");
  CHECK(path_ok("/./.") == "/");
  CHECK(path_ok("/a/...") == "/a/...");
  CHECK(path_ok("/.hidden/..x/x..") == "/.hidden/..x/x..");
}

TEST_CASE("normalize_path percent-decodes") {
  CHECK(path_ok("/a%20b/%41%62") == "/a b/Ab");
  CHECK(path_ok("/caf%C3%A9") == "/caf\xC3\xA9");
  CHECK(path_ok("/caf\xC3\xA9") == "/caf\xC3\xA9");
  CHECK(path_ok("/a%2Fb") == "/a/b");
  CHECK(path_ok("/a%2fb%2F") == "/a/b");
}

TEST_CASE("a dot-dot segment escapes the root, also when percent-encoded") {
  for (const char* p : {"/..", "/../etc/passwd", "/a/../b", "/a/..", "/%2e%2e/x", "/%2E%2e", "/.%2E/x", "/%2e./x",
                        "/a%2f..%2fb", "/a/%2E%2E%2F"}) {
    INFO(p);
    CHECK(path_error(p) == Errc::path_escapes_root);
  }
}

TEST_CASE("a backslash escapes the root, also when percent-encoded") {
  CHECK(path_error("/a\\..\\b") == Errc::path_escapes_root);
  CHECK(path_error("/a%5cb") == Errc::path_escapes_root);
  CHECK(path_error("/a%5Cb") == Errc::path_escapes_root);
}

TEST_CASE("a NUL byte is bad_url, raw or encoded") {
  CHECK(path_error(std::string_view("/a\0b", 4)) == Errc::bad_url);
  CHECK(path_error("/a%00b") == Errc::bad_url);
}

TEST_CASE("malformed percent escapes are bad_url") {
  for (const char* p : {"/a%", "/a%2", "/a%zz", "/a%g0", "/%%41"}) {
    INFO(p);
    CHECK(path_error(p) == Errc::bad_url);
  }
}

TEST_CASE("query, fragment, control characters and encoded percent are bad_url") {
  for (const char* p : {"/a?b=1", "/a#frag", "/a%3Fb", "/a%23b", "/a%25b", "/a\tb", "/a%0Ab", "/a%7Fb"}) {
    INFO(p);
    CHECK(path_error(p) == Errc::bad_url);
  }
}

TEST_CASE("invalid UTF-8 after decoding is bad_url") {
  CHECK(path_error("/a%FFb") == Errc::bad_url);
  CHECK(path_error("/a\xC0\xAF") == Errc::bad_url);
  CHECK(path_error("/%ED%A0%80") == Errc::bad_url);
}

TEST_CASE("a path must start with a slash") {
  CHECK(path_error("") == Errc::bad_url);
  CHECK(path_error("a/b") == Errc::bad_url);
  CHECK(path_error("%2Fa") == Errc::bad_url);
}

TEST_CASE("a path longer than the bound is bad_url") {
  CHECK(path_ok("/" + std::string(max_path_length - 1, 'a')).size() == max_path_length);
  CHECK(path_error("/" + std::string(max_path_length, 'a')) == Errc::bad_url);
  CHECK(path_error("/" + std::string(4 * max_path_length, '/')) == Errc::bad_url);
}

TEST_CASE("normalize_path is idempotent") {
  for (const char* p : {"/a//b/./c/", "/a%20b", "/caf%C3%A9/x", "/a%2Fb", "/(x)+[y]&z=1;@:!$'*,~"}) {
    const std::string once = path_ok(p);
    CHECK(path_ok(once) == once);
  }
}

TEST_CASE("file_path_of takes a wire url or a bare path and ignores the host") {
  auto a = file_path_of("http://example.org/video/a.mkv");
  auto b = file_path_of("http://10.1.2.3:6087/video//a.mkv");
  auto c = file_path_of("/video/./a.mkv");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(*a == "/video/a.mkv");
  CHECK(*b == *a);
  CHECK(*c == *a);
}

TEST_CASE("file_path_of rejects other schemes, relative paths and escaping paths") {
  CHECK(file_path_of("pdtp://h/f").error().code == Errc::bad_url);
  CHECK(file_path_of("video/a.mkv").error().code == Errc::bad_url);
  CHECK(file_path_of("").error().code == Errc::bad_url);
  CHECK(file_path_of("http://h/%2e%2e/etc").error().code == Errc::path_escapes_root);
  CHECK(file_path_of("/../etc").error().code == Errc::path_escapes_root);
}

TEST_CASE("wire_url builds an http url and percent-encodes what needs it") {
  CHECK(wire_url("example.org", "/video/a.mkv") == "http://example.org/video/a.mkv");
  CHECK(wire_url("h", "/a b/caf\xC3\xA9") == "http://h/a%20b/caf%C3%A9");
  CHECK(wire_url("h", "/\"<>[]{}^`|") == "http://h/%22%3C%3E%5B%5D%7B%7D%5E%60%7C");
  CHECK(wire_url("::1", "/f") == "http://[::1]/f");
  CHECK(wire_url("h:6087", "/f") == "http://h:6087/f");
}

TEST_CASE("file_path_of inverts wire_url for normalised paths") {
  for (const char* p : {"/video/a.mkv", "/a b/caf\xC3\xA9", "/\"<>[]{}^`|", "/", "/x=1&y;z"}) {
    const std::string url = wire_url("example.org", p);
    auto back = file_path_of(url);
    INFO(url);
    REQUIRE(back.ok());
    CHECK(*back == p);
  }
}

TEST_CASE("a pdtp url turns into the wire url of the same file") {
  auto u = parse_pdtp_url("pdtp://Example.org:7000/dir/My%20File.mkv");
  REQUIRE(u.ok());
  CHECK(wire_url(u->host, u->path) == "http://example.org/dir/My%20File.mkv");
}

TEST_CASE("IPv6 hosts must be well-formed addresses") {
  for (const char* ok : {"pdtp://[::]/f", "pdtp://[1:2:3:4:5:6:7:8]/f", "pdtp://[1::]/f", "pdtp://[::ffff:1.2.3.4]/f",
                         "pdtp://[1:2:3:4:5:6:1.2.3.4]/f", "pdtp://[FE80::A]/f"}) {
    INFO(ok);
    CHECK(parse_pdtp_url(ok).ok());
  }
  for (const char* bad : {"pdtp://[:]/f", "pdtp://[1:2]/f", "pdtp://[1::2::3]/f", "pdtp://[12345::]/f",
                          "pdtp://[1:2:3:4:5:6:7:8:9]/f", "pdtp://[::1.2.3.256]/f", "pdtp://[1.2.3.4]/f",
                          "pdtp://[1:]/f", "pdtp://[:1]/f", "pdtp://[::1%25eth0]/f", "pdtp://[1:2:3:4:5:6:7::8:9]/f"}) {
    INFO(bad);
    auto u = parse_pdtp_url(bad);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().code == Errc::bad_url);
  }
  CHECK(parse_pdtp_url("pdtp://[FE80::A]/f")->host == "fe80::a");
}
