// dstream's YAML config file: the keys of the original (also in its Ruby-symbol spelling `:port:`)
// plus the scheduler limits. Every error is one line naming the file and the key.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

#include "pdtp/result.hpp"
#include "settings.hpp"

namespace pdtp::server {

inline constexpr std::size_t max_config_bytes = 1024 * 1024;  // a config is a few lines; refuse megabytes

// Parses `text` over `base` (keys not in the text keep base's values). `source_name` is used in
// error messages; a relative file_root or key_file is taken relative to source_name's directory.
// Never throws; every error is Errc::bad_config (YAML syntax, unknown key, bad value, and
// require_encryption with transport tcp when the text sets either).
Result<ServerSettings> parse_config_yaml(std::string_view text, std::string_view source_name,
                                         ServerSettings base = {});

// Reads and parses `path`; a relative file_root or key_file becomes absolute, relative to the file's directory.
// Sets config_file = path.
Result<ServerSettings> load_config_file(const std::filesystem::path& path, ServerSettings base = {});

// The keys parse_config_yaml accepts, comma separated, for messages.
std::string_view valid_config_keys();

}  // namespace pdtp::server
