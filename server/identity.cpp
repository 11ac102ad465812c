#include "identity.hpp"

#include "key_file.hpp"

namespace pdtp::server {

std::filesystem::path effective_key_file(const ServerSettings& settings) {
  return settings.key_file.empty() ? default_key_file() : settings.key_file;
}

Result<secure::KeyPair> server_identity(const ServerSettings& settings, std::FILE* log) {
  if (!settings.uses_udp()) return secure::KeyPair{};
  const std::filesystem::path file = effective_key_file(settings);
  bool created = false;
  Result<secure::KeyPair> pair = load_or_create_key(file, created);
  if (!pair) return pair;
  if (log != nullptr) {
    std::fprintf(log, "  key:    %s  (%s %s)\n", secure::to_text(pair->public_key).c_str(), created ? "created" : "from",
                 file.string().c_str());
  }
  return pair;
}

}  // namespace pdtp::server
