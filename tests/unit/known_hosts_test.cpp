// dsclient's known hosts: the first key of a server is remembered, later keys must match, --server-key
// overrides the file without touching it, and a mismatch explains itself as ssh does.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "known_hosts.hpp"
#include "pdtp/secure/keys.hpp"
#include "temp_dir.hpp"

using pdtp::client::check_server_key;
using pdtp::client::ServerKeyCheck;
namespace fs = std::filesystem;
namespace secure = pdtp::secure;

namespace {

struct TempDir : pdtp_test::TempDir {
  TempDir() : pdtp_test::TempDir("pdtp-known-hosts-test-") {}
};

secure::PublicKey key_of(std::uint8_t fill) {
  secure::SecretKey secret;
  for (std::size_t i = 0; i < secret.size(); ++i) secret.data()[i] = static_cast<std::uint8_t>(fill + i);
  return secure::keypair_from_secret(secret).public_key;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

ServerKeyCheck check(const fs::path& file, std::string_view host_port, const secure::PublicKey& seen,
                     std::optional<secure::PublicKey> pinned = std::nullopt) {
  auto r = check_server_key(file, host_port, seen, pinned);
  REQUIRE(r.ok());
  return *r;
}

const secure::PublicKey key_a = key_of(1);
const secure::PublicKey key_b = key_of(100);

}  // namespace

TEST_CASE("the first connection to a server appends its key and says so") {
  TempDir dir;
  const fs::path file = dir.path / "known_hosts";
  const auto r = check(file, "127.0.0.1:6086", key_a);
  CHECK(r.verdict == ServerKeyCheck::first_use);
  CHECK(r.message == "dsclient: first connection to 127.0.0.1:6086; its key " + secure::to_text(key_a) +
                         " is now remembered in " + file.string());
  const std::string text = read_text(file);
  CHECK(text.front() == '#');
  CHECK(text.find("\n127.0.0.1:6086 " + secure::to_text(key_a) + "\n") != std::string::npos);
  CHECK(mode_of(file) == 0600);
}

TEST_CASE("a remembered key that matches is accepted and the file is left alone") {
  TempDir dir;
  const fs::path file = dir.path / "known_hosts";
  check(file, "example.org:6086", key_a);
  const std::string before = read_text(file);
  const auto r = check(file, "example.org:6086", key_a);
  CHECK(r.verdict == ServerKeyCheck::match);
  CHECK(r.message.find("matches line 2 of " + file.string()) != std::string::npos);
  CHECK(read_text(file) == before);
}

TEST_CASE("a changed key is a mismatch that names both keys, the line and the fix") {
  TempDir dir;
  const fs::path file = dir.write("known_hosts", "# mine\n\nexample.org:6086 " + secure::to_text(key_a) + "\n");
  const std::string before = read_text(file);
  const auto r = check(file, "example.org:6086", key_b);
  CHECK(r.verdict == ServerKeyCheck::mismatch);
  CHECK(r.message.find("the key of example.org:6086 has changed") != std::string::npos);
  CHECK(r.message.find("expected: " + secure::to_text(key_a) + "  (line 3 of " + file.string() + ")") !=
        std::string::npos);
  CHECK(r.message.find("seen:     " + secure::to_text(key_b)) != std::string::npos);
  CHECK(r.message.find("intercepting") != std::string::npos);
  CHECK(r.message.find("remove line 3 of " + file.string()) != std::string::npos);
  CHECK(r.message.find("--server-key") != std::string::npos);
  CHECK(std::count(r.message.begin(), r.message.end(), '\n') >= 4);
  CHECK(r.message.back() != '\n');
  CHECK(read_text(file) == before);
}

TEST_CASE("other servers' lines and other ports do not count") {
  TempDir dir;
  const fs::path file = dir.write("known_hosts", "example.org:7000 " + secure::to_text(key_a) + "\n" +
                                                     "other.org:6086 " + secure::to_text(key_a) + "\n");
  CHECK(check(file, "example.org:6086", key_b).verdict == ServerKeyCheck::first_use);
  CHECK(check(file, "example.org:6086", key_b).verdict == ServerKeyCheck::match);
  CHECK(check(file, "example.org:7000", key_a).verdict == ServerKeyCheck::match);
  CHECK(check(file, "other.org:6086", key_b).verdict == ServerKeyCheck::mismatch);
}

TEST_CASE("a server with several lines matches any of them") {
  TempDir dir;
  const fs::path file = dir.write("known_hosts", "h:1 " + secure::to_text(key_a) + "\nh:1 " +
                                                     secure::to_text(key_b) + "\n");
  const auto r = check(file, "h:1", key_b);
  CHECK(r.verdict == ServerKeyCheck::match);
  CHECK(r.message.find("line 2") != std::string::npos);
}

TEST_CASE("a pinned --server-key decides alone and leaves the file untouched") {
  TempDir dir;
  const fs::path file = dir.write("known_hosts", "h:1 " + secure::to_text(key_a) + "\n");
  const std::string before = read_text(file);
  CHECK(check(file, "h:1", key_b, key_b).verdict == ServerKeyCheck::match);  // the file's line does not matter
  const auto bad = check(file, "h:1", key_a, key_b);
  CHECK(bad.verdict == ServerKeyCheck::mismatch);
  CHECK(bad.message.find("expected: " + secure::to_text(key_b) + "  (--server-key)") != std::string::npos);
  CHECK(bad.message.find("seen:     " + secure::to_text(key_a)) != std::string::npos);
  CHECK(check(file, "new:2", key_a, key_a).verdict == ServerKeyCheck::match);
  CHECK(read_text(file) == before);
  const fs::path absent = dir.path / "none" / "known_hosts";
  CHECK(check(absent, "h:1", key_a, key_a).verdict == ServerKeyCheck::match);
  CHECK(check(absent, "h:1", key_a, key_b).verdict == ServerKeyCheck::mismatch);
  CHECK_FALSE(fs::exists(absent.parent_path()));
}

TEST_CASE("malformed lines are skipped, not fatal, and kept") {
  TempDir dir;
  const std::string text = "garbage\nh:1 not-a-key\nh:1\n\t# indented comment\nh:1 " + secure::to_text(key_a) +
                           " extra words\n   \nh:1 " + secure::to_text(key_a) + "   # a trailing comment";
  const fs::path file = dir.write("known_hosts", text);
  const auto r = check(file, "h:1", key_a);
  CHECK(r.verdict == ServerKeyCheck::match);
  CHECK(r.message.find("line 7") != std::string::npos);
  CHECK(check(file, "garbage", key_a).verdict == ServerKeyCheck::first_use);
  const std::string after = read_text(file);
  CHECK(after.rfind(text + "\n", 0) == 0);  // a missing final newline is added before the new line
  CHECK(after.substr(text.size() + 1) == "garbage " + secure::to_text(key_a) + "\n");
}

TEST_CASE("keys in hex or padded base64 in the file are understood") {
  TempDir dir;
  const fs::path file = dir.write("known_hosts", "h:1 " + secure::to_hex(key_a) + "\n");
  CHECK(check(file, "h:1", key_a).verdict == ServerKeyCheck::match);
  CHECK(check(file, "h:1", key_b).verdict == ServerKeyCheck::mismatch);
}

TEST_CASE("a missing directory is created with mode 0700") {
  TempDir dir;
  const fs::path file = dir.path / "config" / "distribustream" / "known_hosts";
  CHECK(check(file, "[::1]:6086", key_a).verdict == ServerKeyCheck::first_use);
  CHECK(mode_of(dir.path / "config") == 0700);
  CHECK(mode_of(dir.path / "config" / "distribustream") == 0700);
  CHECK(mode_of(file) == 0600);
  CHECK(check(file, "[::1]:6086", key_a).verdict == ServerKeyCheck::match);
}

TEST_CASE("known_hosts_name brackets IPv6 hosts") {
  CHECK(pdtp::client::known_hosts_name("127.0.0.1", 6086) == "127.0.0.1:6086");
  CHECK(pdtp::client::known_hosts_name("::1", 6086) == "[::1]:6086");
  CHECK(pdtp::client::known_hosts_name("example.org", 7000) == "example.org:7000");
}

TEST_CASE("a host_port that would corrupt the file is refused") {
  TempDir dir;
  const fs::path file = dir.path / "known_hosts";
  for (std::string_view bad : {"", "a b:1", "h:1\nx", "#h:1"}) {
    auto r = check_server_key(file, bad, key_a, std::nullopt);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == pdtp::Errc::bad_config);
  }
  CHECK_FALSE(fs::exists(file));
}

TEST_CASE("a known hosts file that is a directory or cannot be created names the file") {
  TempDir dir;
  fs::create_directories(dir.path / "adir");
  auto r = check_server_key(dir.path / "adir", "h:1", key_a, std::nullopt);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "known hosts file " + (dir.path / "adir").string() + " is not a regular file");
  dir.write("plain", "x");
  auto blocked = check_server_key(dir.path / "plain" / "known_hosts", "h:1", key_a, std::nullopt);
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().message.find((dir.path / "plain").string()) != std::string::npos);
  auto none = check_server_key(fs::path(), "h:1", key_a, std::nullopt);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("--server-key") != std::string::npos);
}

TEST_CASE("the default known hosts file is under XDG_CONFIG_HOME, else HOME/.config") {
  const char* old_xdg = std::getenv("XDG_CONFIG_HOME");
  const std::optional<std::string> saved_xdg = old_xdg ? std::optional<std::string>(old_xdg) : std::nullopt;
  const char* old_home = std::getenv("HOME");
  const std::optional<std::string> saved_home = old_home ? std::optional<std::string>(old_home) : std::nullopt;
  ::setenv("XDG_CONFIG_HOME", "/xdg", 1);
  CHECK(pdtp::client::default_known_hosts_path() == fs::path("/xdg/distribustream/known_hosts"));
  ::unsetenv("XDG_CONFIG_HOME");
  ::setenv("HOME", "/home/u", 1);
  CHECK(pdtp::client::default_known_hosts_path() == fs::path("/home/u/.config/distribustream/known_hosts"));
  ::unsetenv("HOME");
  CHECK(pdtp::client::default_known_hosts_path().empty());
  if (saved_xdg) ::setenv("XDG_CONFIG_HOME", saved_xdg->c_str(), 1);
  if (saved_home) ::setenv("HOME", saved_home->c_str(), 1);
}

TEST_CASE("parse_known_hosts keeps usable lines with their line numbers") {
  const std::string a = secure::to_text(key_a);
  const auto hosts = pdtp::client::parse_known_hosts("# c\r\nh:1 " + a + "\r\nbad\n[::1]:2\t" + a + " # note\nx:3 " +
                                                     a + " y\n");
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].line == 2);
  CHECK(hosts[0].name == "h:1");
  CHECK(hosts[0].key == key_a);
  CHECK(hosts[1].line == 4);
  CHECK(hosts[1].name == "[::1]:2");
  CHECK(pdtp::client::parse_known_hosts("").empty());
  CHECK(pdtp::client::parse_known_hosts(std::string("h:1 \0", 5) + a).empty());
}
