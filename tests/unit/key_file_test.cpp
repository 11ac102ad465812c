// dstream's key file: created once with mode 0600, loaded the same every time, refused when loose or broken,
// never overwritten; and the start-up line that shows the public key.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "identity.hpp"
#include "key_file.hpp"
#include "pdtp/secure/keys.hpp"
#include "temp_dir.hpp"

using pdtp::Errc;
using pdtp::server::load_or_create_key;
namespace fs = std::filesystem;
namespace secure = pdtp::secure;

namespace {

struct TempDir : pdtp_test::TempDir {
  TempDir() : pdtp_test::TempDir("pdtp-key-file-test-") {}
};

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path write_key_file(const TempDir& dir, const std::string& name, const std::string& text, unsigned mode) {
  const fs::path p = dir.write(name, text);
  REQUIRE(::chmod(p.c_str(), mode) == 0);
  return p;
}

std::string error_of(const fs::path& file) {
  bool created = true;
  auto r = load_or_create_key(file, created);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(created);
  CHECK(r.error().code == Errc::bad_key);
  CHECK(r.error().message.find(file.string()) != std::string::npos);
  return r.error().message;
}

// Sets an environment variable for one scope and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Everything written to a FILE*, as a string.
struct CapturedLog {
  char* data = nullptr;
  std::size_t size = 0;
  std::FILE* file = open_memstream(&data, &size);
  ~CapturedLog() {
    if (file != nullptr) std::fclose(file);
    std::free(data);
  }
  std::string text() {
    std::fflush(file);
    return std::string(data, size);
  }
};

const std::string valid_key_line = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";  // bytes 1..32

}  // namespace

TEST_CASE("a missing key file is created with mode 0600, a comment line and the key") {
  TempDir dir;
  const fs::path file = dir.path / "dstream.key";
  bool created = false;
  auto r = load_or_create_key(file, created);
  REQUIRE(r.ok());
  CHECK(created);
  CHECK(mode_of(file) == 0600);
  const std::string text = read_text(file);
  CHECK(text.rfind("# dstream private key: keep secret\n", 0) == 0);
  CHECK(text.size() == std::string("# dstream private key: keep secret\n").size() + 43 + 1);
  CHECK(text.back() == '\n');
  CHECK_FALSE(secure::detail::all_zero(r->public_key.view()));
}

TEST_CASE("the key written to the file reads back as the same key") {
  TempDir dir;
  const fs::path file = dir.path / "dstream.key";
  bool created = false;
  auto made = load_or_create_key(file, created);
  REQUIRE(made.ok());
  auto parsed = pdtp::server::parse_key_file_text(read_text(file), file);
  REQUIRE(parsed.ok());
  CHECK(secure::detail::equal_ct(parsed->view(), made->secret.view()));
  CHECK(secure::keypair_from_secret(*parsed).public_key == made->public_key);
}

TEST_CASE("a second load gives the same key and does not create anything") {
  TempDir dir;
  const fs::path file = dir.path / "dstream.key";
  bool created = false;
  auto first = load_or_create_key(file, created);
  REQUIRE(first.ok());
  const std::string text = read_text(file);
  auto second = load_or_create_key(file, created);
  REQUIRE(second.ok());
  CHECK_FALSE(created);
  CHECK(second->public_key == first->public_key);
  CHECK(read_text(file) == text);
}

TEST_CASE("two key files get different keys") {
  TempDir dir;
  bool created = false;
  auto a = load_or_create_key(dir.path / "a.key", created);
  auto b = load_or_create_key(dir.path / "b.key", created);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK_FALSE(a->public_key == b->public_key);
}

TEST_CASE("missing parent directories are created with mode 0700") {
  TempDir dir;
  const fs::path file = dir.path / "config" / "distribustream" / "dstream.key";
  bool created = false;
  REQUIRE(load_or_create_key(file, created).ok());
  CHECK(created);
  CHECK(mode_of(dir.path / "config") == 0700);
  CHECK(mode_of(dir.path / "config" / "distribustream") == 0700);
  CHECK(mode_of(file) == 0600);
}

TEST_CASE("a key file other users can read is refused with the chmod to fix it") {
  TempDir dir;
  const fs::path file = write_key_file(dir, "open.key", "# c\n" + valid_key_line + "\n", 0644);
  CHECK(error_of(file) ==
        "permissions 0644 for " + file.string() + " are too open; chmod 600 " + file.string());
  REQUIRE(::chmod(file.c_str(), 0640) == 0);
  CHECK(error_of(file).find("permissions 0640") == 0);
  REQUIRE(::chmod(file.c_str(), 0604) == 0);
  CHECK(error_of(file).find("permissions 0604") == 0);
  REQUIRE(::chmod(file.c_str(), 0400) == 0);
  bool created = true;
  CHECK(load_or_create_key(file, created).ok());
}

TEST_CASE("a key file with garbage is refused, and left as it was") {
  TempDir dir;
  const std::string garbage = "hello, this is not a key\n";
  const fs::path file = write_key_file(dir, "garbage.key", garbage, 0600);
  CHECK(error_of(file) == "key file " + file.string() + ": line 1 is not a private key (expected 43 base64url characters)");
  CHECK(read_text(file) == garbage);
  CHECK(mode_of(file) == 0600);
}

TEST_CASE("a key line that is the wrong length or not base64url names its line, not its content") {
  TempDir dir;
  const fs::path file = dir.path / "k";
  for (const std::string& bad : {valid_key_line.substr(1), valid_key_line + "A", std::string(43, '*'),
                                 valid_key_line.substr(0, 42) + "="}) {
    auto r = pdtp::server::parse_key_file_text("# comment\n\n" + bad + "\n", file);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("line 3 is not a private key") != std::string::npos);
    CHECK(r.error().message.find(bad) == std::string::npos);
  }
}

TEST_CASE("an empty key file, one with only comments, or one with two keys is refused") {
  TempDir dir;
  CHECK(error_of(write_key_file(dir, "empty.key", "", 0600)).find("holds no key") != std::string::npos);
  CHECK(error_of(write_key_file(dir, "comments.key", "# a\n\n# b\n", 0600)).find("holds no key") != std::string::npos);
  CHECK(error_of(write_key_file(dir, "two.key", valid_key_line + "\n" + valid_key_line + "\n", 0600))
            .find("line 2: a second key") != std::string::npos);
}

TEST_CASE("an all-zero key is refused") {
  TempDir dir;
  const fs::path file = write_key_file(dir, "zero.key", std::string(43, 'A') + "\n", 0600);
  CHECK(error_of(file).find("all zero") != std::string::npos);
}

TEST_CASE("a key file with CRLF line ends and no final newline is read") {
  auto r = pdtp::server::parse_key_file_text("# dstream private key: keep secret\r\n  " + valid_key_line + "\r", "k");
  REQUIRE(r.ok());
  CHECK(r->data()[0] == 1);
  CHECK(r->data()[31] == 32);
}

TEST_CASE("key_file_text and parse_key_file_text round-trip") {
  secure::SecretKey secret;
  for (std::size_t i = 0; i < secret.size(); ++i) secret.data()[i] = static_cast<std::uint8_t>(i + 1);
  const std::string text = pdtp::server::key_file_text(secret);
  CHECK(text == "# dstream private key: keep secret\n" + valid_key_line + "\n");
  auto parsed = pdtp::server::parse_key_file_text(text, "k");
  REQUIRE(parsed.ok());
  CHECK(secure::detail::equal_ct(parsed->view(), secret.view()));
}

TEST_CASE("a directory or a fifo where the key file should be is refused") {
  TempDir dir;
  fs::create_directories(dir.path / "adir");
  CHECK(error_of(dir.path / "adir") == "key file " + (dir.path / "adir").string() + " is not a regular file");
  const fs::path fifo = dir.path / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(error_of(fifo).find("is not a regular file") != std::string::npos);
}

TEST_CASE("an oversized key file is refused without parsing") {
  TempDir dir;
  const fs::path file = write_key_file(dir, "big.key", std::string(pdtp::server::max_key_file_bytes + 1, '#'), 0600);
  CHECK(error_of(file).find("is larger than") != std::string::npos);
}

TEST_CASE("a key file that cannot be opened or created names the file") {
  TempDir dir;
  dir.write("plain", "x");
  const fs::path file = dir.path / "plain" / "dstream.key";  // a parent that is a file
  CHECK(error_of(file) == "cannot open key file " + file.string() + ": Not a directory");
  const fs::path deeper = dir.path / "plain" / "sub" / "dstream.key";
  CHECK(error_of(deeper).find("cannot ") == 0);
  CHECK(fs::is_regular_file(dir.path / "plain"));
  bool created = true;
  CHECK_FALSE(load_or_create_key(fs::path(), created).ok());
}

TEST_CASE("a dangling symbolic link is not followed to create a key") {
  TempDir dir;
  const fs::path link = dir.path / "link.key";
  fs::create_symlink(dir.path / "target.key", link);
  error_of(link);
  CHECK_FALSE(fs::exists(dir.path / "target.key"));
}

TEST_CASE("the default key file is under XDG_CONFIG_HOME, else HOME/.config") {
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "/xdg/conf");
    ScopedEnv home("HOME", "/home/someone");
    CHECK(pdtp::server::default_key_file() == fs::path("/xdg/conf/distribustream/dstream.key"));
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
    ScopedEnv home("HOME", "/home/someone");
    CHECK(pdtp::server::default_key_file() == fs::path("/home/someone/.config/distribustream/dstream.key"));
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", "relative/conf");  // not absolute: ignored, as the XDG spec says
    ScopedEnv home("HOME", "/home/someone");
    CHECK(pdtp::server::default_key_file() == fs::path("/home/someone/.config/distribustream/dstream.key"));
  }
  {
    ScopedEnv xdg("XDG_CONFIG_HOME", nullptr);
    ScopedEnv home("HOME", nullptr);
    CHECK(pdtp::server::default_key_file().empty());
  }
}

TEST_CASE("server_identity prints the key and whether it was created or read") {
  TempDir dir;
  pdtp::server::ServerSettings s;
  s.key_file = dir.path / "id" / "dstream.key";
  CapturedLog first;
  auto made = pdtp::server::server_identity(s, first.file);
  REQUIRE(made.ok());
  const std::string key = secure::to_text(made->public_key);
  CHECK(first.text() == "  key:    " + key + "  (created " + s.key_file.string() + ")\n");
  CapturedLog second;
  auto loaded = pdtp::server::server_identity(s, second.file);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key == made->public_key);
  CHECK(second.text() == "  key:    " + key + "  (from " + s.key_file.string() + ")\n");
}

TEST_CASE("server_identity uses the default key file when key_file is empty") {
  TempDir dir;
  ScopedEnv xdg("XDG_CONFIG_HOME", dir.path.c_str());
  pdtp::server::ServerSettings s;
  CHECK(pdtp::server::effective_key_file(s) == dir.path / "distribustream" / "dstream.key");
  REQUIRE(pdtp::server::server_identity(s, nullptr).ok());
  CHECK(mode_of(dir.path / "distribustream" / "dstream.key") == 0600);
  CHECK(mode_of(dir.path / "distribustream") == 0700);
}

TEST_CASE("server_identity with transport tcp reads, creates and prints nothing") {
  TempDir dir;
  pdtp::server::ServerSettings s;
  s.transport = pdtp::server::TransportMode::tcp;
  s.key_file = dir.path / "dstream.key";
  CapturedLog log;
  auto r = pdtp::server::server_identity(s, log.file);
  REQUIRE(r.ok());
  CHECK(secure::detail::all_zero(r->public_key.view()));
  CHECK(log.text().empty());
  CHECK_FALSE(fs::exists(s.key_file));
}

TEST_CASE("server_identity passes a refused key file on") {
  TempDir dir;
  pdtp::server::ServerSettings s;
  s.key_file = write_key_file(dir, "open.key", valid_key_line + "\n", 0644);
  CapturedLog log;
  auto r = pdtp::server::server_identity(s, log.file);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("too open") != std::string::npos);
  CHECK(log.text().empty());
}
