#include "key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "pdtp/transport/user_files.hpp"
#include "pdtp/secure/sodium.hpp"

namespace pdtp::server {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view comment_line = "# dstream private key: keep secret\n";
constexpr std::size_t key_text_size = 43;  // 32 bytes as unpadded base64url

Error fail(std::string message) { return Error{Errc::bad_key, std::move(message)}; }

Error os_fail(std::string what, const fs::path& p, int err) {
  return fail(std::move(what) + " " + p.string() + ": " + std::strerror(err));
}

using Fd = transport::UniqueFd;

// A string whose bytes are wiped when it goes away: the key file's text is the secret.
struct WipedString {
  std::string text;
  ~WipedString() {
    if (!text.empty()) sodium_memzero(text.data(), text.size());
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status make_parent_dirs(const fs::path& dir) {
  fs::path failed;
  if (const int err = transport::make_private_dirs(dir, failed); err != 0)
    return os_fail("cannot create directory", failed, err);
  return Ok{};
}

Status write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{Errc::bad_key, std::strerror(n < 0 ? errno : EIO)};
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

Result<secure::KeyPair> load_from(int fd, const fs::path& file) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return os_fail("cannot stat key file", file, errno);
  if (!S_ISREG(st.st_mode)) return fail("key file " + file.string() + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    return fail("permissions " + mode_text(st.st_mode) + " for " + file.string() + " are too open; chmod 600 " +
                file.string());
  }
  WipedString content;
  content.text.resize(max_key_file_bytes + 1);
  std::size_t have = 0;
  while (have < content.text.size()) {
    const ssize_t n = ::read(fd, content.text.data() + have, content.text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_fail("cannot read key file", file, errno);
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (have > max_key_file_bytes) {
    return fail("key file " + file.string() + " is larger than " + std::to_string(max_key_file_bytes) +
                " bytes; not a key file");
  }
  Result<secure::SecretKey> secret = parse_key_file_text(std::string_view(content.text).substr(0, have), file);
  if (!secret) return secret.error();
  return secure::keypair_from_secret(*secret);
}

// Creates the file with a fresh key. `exists` is set when someone else created it first.
Result<secure::KeyPair> create(const fs::path& file, bool& exists) {
  exists = false;
  if (Status dirs = make_parent_dirs(file.parent_path()); !dirs) {
    return fail(dirs.error().message + " (for key file " + file.string() + ")");
  }
  Fd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      exists = true;
      return fail("key file " + file.string() + " appeared while it was being created");
    }
    return os_fail("cannot create key file", file, errno);
  }
  const secure::KeyPair pair = secure::generate_keypair([](secure::MutableByteView out) {
    randombytes_buf(out.data(), out.size());
  });
  WipedString text{key_file_text(pair.secret)};
  Status written = write_all(fd.get(), text.text);
  // The umask may have taken bits away, never added them; 0600 states the intent either way.
  if (written && ::fchmod(fd.get(), 0600) != 0) written = Error{Errc::bad_key, std::strerror(errno)};
  if (written && ::fsync(fd.get()) != 0) written = Error{Errc::bad_key, std::strerror(errno)};
  if (written && ::close(fd.release()) != 0) written = Error{Errc::bad_key, std::strerror(errno)};
  if (!written) {
    ::unlink(file.c_str());  // our own half-written file; a later start must not find a broken key
    return fail("cannot write key file " + file.string() + ": " + written.error().message);
  }
  return pair;
}

}  // namespace

fs::path default_key_file() {
  return transport::user_config_file("dstream.key");
}

std::string key_file_text(const secure::SecretKey& secret) {
  secure::ensure_sodium();
  char buf[sodium_base64_ENCODED_LEN(secure::key_size, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(buf, sizeof buf, secret.data(), secret.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  std::string text(comment_line);
  text.append(buf, key_text_size);
  text.push_back('\n');
  sodium_memzero(buf, sizeof buf);
  return text;
}

Result<secure::SecretKey> parse_key_file_text(std::string_view text, const fs::path& file) {
  secure::ensure_sodium();
  const std::string name = file.string();
  std::optional<secure::SecretKey> found;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    const std::string_view line = trim(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (found) return fail("key file " + name + ": line " + std::to_string(line_no) + ": a second key; expected one");
    secure::SecretKey secret;
    std::size_t decoded = 0;
    const char* end = nullptr;
    const int rc = line.size() != key_text_size
                       ? -1
                       : sodium_base642bin(secret.data(), secret.size(), line.data(), line.size(), nullptr, &decoded,
                                           &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (rc != 0 || decoded != secure::key_size || end != line.data() + line.size()) {
      return fail("key file " + name + ": line " + std::to_string(line_no) +
                  " is not a private key (expected 43 base64url characters)");
    }
    if (secure::detail::all_zero(secret.view())) {
      return fail("key file " + name + ": line " + std::to_string(line_no) + ": the key is all zero");
    }
    found = secret;
  }
  if (!found) return fail("key file " + name + " holds no key");
  return *found;
}

Result<secure::KeyPair> load_or_create_key(const fs::path& file, bool& created) {
  created = false;
  if (file.empty()) return fail("no key file: set key_file, or HOME or XDG_CONFIG_HOME for the default");
  if (!secure::ensure_sodium()) return fail("libsodium cannot be initialised; no key for " + file.string());
  // Two rounds: if another process creates the file between our open and our create, load theirs.
  for (int round = 0; round < 2; ++round) {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() >= 0) return load_from(fd.get(), file);
    if (errno != ENOENT) return os_fail("cannot open key file", file, errno);
    bool exists = false;
    Result<secure::KeyPair> made = create(file, exists);
    if (made) {
      created = true;
      return made;
    }
    if (!exists) return made;
  }
  return fail("cannot open key file " + file.string() + ": it exists but cannot be opened (a dangling symbolic link?)");
}

}  // namespace pdtp::server
