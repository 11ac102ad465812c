// dstream's command line: flags override the config file; the result is validated settings or an exit code.
#pragma once

#include <optional>
#include <ostream>

#include "settings.hpp"

namespace pdtp::server {

struct CliOutcome {
  std::optional<ServerSettings> settings;  // set = run the server with these
  int exit_code = 0;  // when no settings: 0 after --help/--version, 2 after an error (one line on err)
};

// file_root in the result exists, is a directory, and is canonical.
CliOutcome parse_dstream_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace pdtp::server
