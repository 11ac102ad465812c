#include "known_hosts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "pdtp/transport/user_files.hpp"
#include "pdtp/wire/url.hpp"

namespace pdtp::client {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view new_file_header =
    "# dsclient known hosts: \"host:port key\", one server per line. Delete a line to forget a server.\n";

Error fail(std::string message) { return Error{Errc::bad_config, std::move(message)}; }

Error os_fail(std::string what, const fs::path& p, int err) {
  return fail(std::move(what) + " " + p.string() + ": " + std::strerror(err));
}

using Fd = transport::UniqueFd;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
    std::size_t n = 0;
    while (n < line.size() && !is_blank(line[n])) ++n;
    if (n > 0) out.push_back(line.substr(0, n));
    line.remove_prefix(n);
  }
  return out;
}

// The file's text, or nothing when it does not exist.
Result<std::optional<std::string>> read_known_hosts(const fs::path& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return os_fail("cannot open known hosts file", file, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_fail("cannot stat known hosts file", file, errno);
  if (!S_ISREG(st.st_mode)) return fail("known hosts file " + file.string() + " is not a regular file");
  std::string text(max_known_hosts_bytes + 1, '\0');
  std::size_t have = 0;
  while (have < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_fail("cannot read known hosts file", file, errno);
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (have > max_known_hosts_bytes) {
    return fail("known hosts file " + file.string() + " is larger than " + std::to_string(max_known_hosts_bytes) +
                " bytes");
  }
  text.resize(have);
  return std::optional<std::string>(std::move(text));
}

Status make_parent_dirs(const fs::path& dir) {
  fs::path failed;
  if (const int err = transport::make_private_dirs(dir, failed); err != 0)
    return os_fail("cannot create directory", failed, err);
  return Ok{};
}

Status append_text(const fs::path& file, std::string_view text) {
  if (Status dirs = make_parent_dirs(file.parent_path()); !dirs) {
    return fail(dirs.error().message + " (for known hosts file " + file.string() + ")");
  }
  Fd fd(::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600));
  if (fd.get() < 0) return os_fail("cannot write known hosts file", file, errno);
  while (!text.empty()) {
    const ssize_t n = ::write(fd.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return os_fail("cannot write known hosts file", file, n < 0 ? errno : EIO);
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd.release()) != 0) return os_fail("cannot write known hosts file", file, errno);
  return Ok{};
}

std::string mismatch_message(std::string_view host_port, const secure::PublicKey& expected, std::string_view source,
                             const secure::PublicKey& seen, std::string_view fix) {
  std::string m = "dsclient: WARNING: the key of " + std::string(host_port) + " has changed!\n";
  m += "  expected: " + secure::to_text(expected) + "  (" + std::string(source) + ")\n";
  m += "  seen:     " + secure::to_text(seen) + "\n";
  m += "Someone may be intercepting the connection (a man-in-the-middle attack), or the server's key\n";
  m += "was replaced. dsclient refuses to connect.\n";
  m += fix;
  return m;
}

}  // namespace

std::vector<KnownHost> parse_known_hosts(std::string_view text) {
  std::vector<KnownHost> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    const auto w = words(line);
    if (w.empty() || w[0].front() == '#') continue;
    // "host:port KEY", optionally followed by a comment; anything else is skipped, not fatal.
    if (w.size() < 2 || (w.size() > 2 && w[2].front() != '#')) continue;
    Result<secure::PublicKey> key = secure::parse_public_key(w[1]);
    if (!key) continue;
    out.push_back(KnownHost{line_no, std::string(w[0]), *key});
  }
  return out;
}

fs::path default_known_hosts_path() {
  return transport::user_config_file("known_hosts");
}

std::string known_hosts_name(std::string_view host, std::uint16_t port) {
  const bool brackets = needs_brackets(host);
  std::string out;
  if (brackets) out += '[';
  out += host;
  if (brackets) out += ']';
  out += ':' + std::to_string(port);
  return out;
}

Result<ServerKeyCheck> check_server_key(const fs::path& known_hosts, std::string_view host_port,
                                        const secure::PublicKey& seen,
                                        std::optional<secure::PublicKey> pinned_by_flag) {
  const std::string name(host_port);
  if (name.empty() || words(name).size() != 1 || name.find('\n') != std::string::npos || name.front() == '#') {
    return fail("cannot check the key of server '" + name + "': not a host:port name");
  }
  if (pinned_by_flag) {
    if (*pinned_by_flag == seen) {
      return ServerKeyCheck{ServerKeyCheck::match, "dsclient: the key of " + name + " matches --server-key"};
    }
    return ServerKeyCheck{
        ServerKeyCheck::mismatch,
        mismatch_message(name, *pinned_by_flag, "--server-key", seen,
                         "If the server's key really changed, pass its new key with --server-key.")};
  }

  if (known_hosts.empty()) {
    return fail("no known hosts file for the key of " + name + ": set HOME or XDG_CONFIG_HOME, or pass --known-hosts "
                "FILE or --server-key KEY");
  }
  const std::string file = known_hosts.string();
  Result<std::optional<std::string>> text = read_known_hosts(known_hosts);
  if (!text) return text.error();

  const KnownHost* changed = nullptr;
  if (*text) {
    const std::vector<KnownHost> entries = parse_known_hosts(**text);
    for (const KnownHost& e : entries) {
      if (e.name != name) continue;
      if (e.key == seen) {
        return ServerKeyCheck{ServerKeyCheck::match, "dsclient: the key of " + name + " matches line " +
                                                         std::to_string(e.line) + " of " + file};
      }
      if (changed == nullptr) changed = &e;
    }
    if (changed != nullptr) {
      const std::string line = std::to_string(changed->line);
      return ServerKeyCheck{
          ServerKeyCheck::mismatch,
          mismatch_message(name, changed->key, "line " + line + " of " + file, seen,
                           "If you know the server's key changed, remove line " + line + " of " + file +
                               ",\nor pass the new key with --server-key.")};
    }
  }

  std::string append;
  if (!*text || (*text)->empty()) append += new_file_header;
  if (*text && !(*text)->empty() && (*text)->back() != '\n') append += '\n';
  const std::string key_text = secure::to_text(seen);
  append += name + ' ' + key_text + '\n';
  if (Status written = append_text(known_hosts, append); !written) return written.error();
  return ServerKeyCheck{ServerKeyCheck::first_use, "dsclient: first connection to " + name + "; its key " +
                                                       key_text + " is now remembered in " + file};
}

}  // namespace pdtp::client
