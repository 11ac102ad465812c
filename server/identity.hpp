// dstream's identity at start-up: the long-term key the UDP transport authenticates with.
#pragma once

#include <cstdio>

#include "pdtp/result.hpp"
#include "pdtp/secure/keys.hpp"
#include "settings.hpp"

namespace pdtp::server {

// The key file dstream uses: settings.key_file, or default_key_file() when that is empty.
std::filesystem::path effective_key_file(const ServerSettings& settings);

// With transport udp or both: loads the key pair from effective_key_file(settings), creating it on
// first start, and prints "  key:    KEY  (created FILE)" or "  key:    KEY  (from FILE)" to `log`
// (when not null). With transport tcp no key is needed: nothing is read or printed, and the pair
// returned is all zero (check settings.uses_udp() before using it).
Result<secure::KeyPair> server_identity(const ServerSettings& settings, std::FILE* log);

}  // namespace pdtp::server
