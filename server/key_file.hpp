// dstream's long-term private key on disk: created once (mode 0600, never overwritten), refused when
// other users could read it, as ssh refuses a private key with loose permissions.
//
// File format: '#' comment lines and blank lines, and one line with the 32-byte X25519 secret key as
// 43 characters of unpadded base64url (the same alphabet as the public key's text form).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "pdtp/result.hpp"
#include "pdtp/secure/keys.hpp"

namespace pdtp::server {

inline constexpr std::size_t max_key_file_bytes = 4096;  // a key file is two short lines

// $XDG_CONFIG_HOME/distribustream/dstream.key (when XDG_CONFIG_HOME is an absolute path), else
// $HOME/.config/distribustream/dstream.key; empty when neither variable is usable.
std::filesystem::path default_key_file();

// Loads the key pair from `file`, or, when no such file exists, creates it (missing parent
// directories with mode 0700, the file with O_CREAT|O_EXCL and mode 0600) holding a fresh random key.
// `created` tells which happened. Errors are Errc::bad_key with a message naming the file: readable
// by group or others, not a regular file, unreadable, larger than max_key_file_bytes, or content
// that is not exactly one key. An existing file is never written to.
Result<secure::KeyPair> load_or_create_key(const std::filesystem::path& file, bool& created);

// The key file's text for `secret`: the comment line and the key line. Exposed for tests.
std::string key_file_text(const secure::SecretKey& secret);

// Parses a key file's text (comments, blank lines, one key line); `file` names it in errors.
Result<secure::SecretKey> parse_key_file_text(std::string_view text, const std::filesystem::path& file);

}  // namespace pdtp::server
