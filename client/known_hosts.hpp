// dsclient's memory of server keys, as ssh's known_hosts: the first connection to a server remembers
// its key; later connections must see the same key, or dsclient refuses with an explanation.
//
// File format, one server per line: "host:port KEY" (KEY as dstream prints it; any form
// parse_public_key takes). '#' comments and blank lines are allowed; malformed lines are skipped.
// An IPv6 host is written in brackets: "[::1]:6086".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pdtp/result.hpp"
#include "pdtp/secure/keys.hpp"

namespace pdtp::client {

inline constexpr std::size_t max_known_hosts_bytes = 4 * 1024 * 1024;  // refuse to slurp a huge file

// $XDG_CONFIG_HOME/distribustream/known_hosts (when XDG_CONFIG_HOME is an absolute path), else
// $HOME/.config/distribustream/known_hosts; empty when neither variable is usable.
std::filesystem::path default_known_hosts_path();

// The name a server has in the file: "host:port", with brackets around an IPv6 host.
std::string known_hosts_name(std::string_view host, std::uint16_t port);

// One usable line of a known hosts file.
struct KnownHost {
  std::size_t line = 0;  // 1-based line number in the file
  std::string name;      // "host:port" as written
  secure::PublicKey key;
};

// The usable lines of a known hosts file's text, in file order. Comments, blank lines and
// malformed lines (not "NAME KEY [# comment]", or a key parse_public_key refuses) are skipped.
std::vector<KnownHost> parse_known_hosts(std::string_view text);

struct ServerKeyCheck {
  enum Verdict { match, first_use, mismatch } verdict;
  // For people, one or more lines without a final newline: for mismatch an ssh-like refusal (what
  // changed, both keys, that someone may be intercepting, how to fix); for first_use the
  // "now remembered" notice; for match a short confirmation.
  std::string message;
};

// Checks the key `seen` from the server `host_port` (see known_hosts_name).
// With `pinned_by_flag` (--server-key): match or mismatch only, and the file is not touched.
// Otherwise: a line for host_port with this key -> match; lines for host_port with other keys only
// -> mismatch naming the first such line; no line -> first_use, and the line is appended (the
// directory is created with mode 0700 and the file with 0600 as needed).
// Errors (Errc::bad_config, message naming the file): the file cannot be read or written, is not a
// regular file, or is larger than max_known_hosts_bytes; host_port empty or containing whitespace.
Result<ServerKeyCheck> check_server_key(const std::filesystem::path& known_hosts, std::string_view host_port,
                                        const secure::PublicKey& seen,
                                        std::optional<secure::PublicKey> pinned_by_flag);

}  // namespace pdtp::client
