// Fuzzes dstream's YAML config parser: it must never throw or crash; every error is one line
// naming the source; an accepted config holds only valid values and survives a round trip
// (emit the settings as YAML, parse again, compare).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "config.hpp"
#include "setting_values.hpp"

namespace {

using pdtp::server::ServerSettings;

void check(bool ok) {
  if (!ok) std::abort();
}

bool same(const ServerSettings& a, const ServerSettings& b) {
  return a.vhost == b.vhost && a.host == b.host && a.port == b.port && a.quiet == b.quiet &&
         a.file_root == b.file_root && a.chunk_size == b.chunk_size && a.streaming == b.streaming &&
         a.peer_upload_slots == b.peer_upload_slots && a.peer_download_slots == b.peer_download_slots &&
         a.file_service_slots == b.file_service_slots && a.transfer_timeout_ms == b.transfer_timeout_ms &&
         a.transport == b.transport && a.require_encryption == b.require_encryption && a.key_file == b.key_file;
}

// The settings as a YAML document; empty if yaml-cpp cannot emit them.
std::string emit(const ServerSettings& s) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "vhost" << YAML::Value << YAML::DoubleQuoted << s.vhost;
  out << YAML::Key << "host" << YAML::Value << YAML::DoubleQuoted << s.host;
  out << YAML::Key << "port" << YAML::Value << s.port;
  out << YAML::Key << "quiet" << YAML::Value << s.quiet;
  if (!s.file_root.empty()) out << YAML::Key << "file_root" << YAML::Value << YAML::DoubleQuoted << s.file_root.string();
  out << YAML::Key << "chunk_size" << YAML::Value << s.chunk_size;
  out << YAML::Key << "streaming" << YAML::Value << s.streaming;
  out << YAML::Key << "peer_upload_slots" << YAML::Value << s.peer_upload_slots;
  out << YAML::Key << "peer_download_slots" << YAML::Value << s.peer_download_slots;
  out << YAML::Key << "file_service_slots" << YAML::Value << s.file_service_slots;
  out << YAML::Key << "transfer_timeout_ms" << YAML::Value << s.transfer_timeout_ms;
  out << YAML::Key << "transport" << YAML::Value << std::string(pdtp::server::transport_name(s.transport));
  out << YAML::Key << "require_encryption" << YAML::Value << s.require_encryption;
  if (!s.key_file.empty()) out << YAML::Key << "key_file" << YAML::Value << YAML::DoubleQuoted << s.key_file.string();
  out << YAML::EndMap;
  return out.good() ? std::string(out.c_str(), out.size()) : std::string();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = pdtp::server::parse_config_yaml(text, "fuzz.yml");
  if (!parsed) {
    const std::string& msg = parsed.error().message;
    check(parsed.error().code == pdtp::Errc::bad_config);
    check(msg.rfind("fuzz.yml: ", 0) == 0);
    check(msg.find('\n') == std::string::npos);
    return 0;
  }
  const ServerSettings& s = *parsed;
  check(s.port >= 1 && s.port <= pdtp::server::max_port);
  check(s.chunk_size >= pdtp::server::min_chunk_size && s.chunk_size <= pdtp::server::max_chunk_size);
  check(s.peer_upload_slots >= 1 && s.peer_download_slots >= 1 && s.file_service_slots >= 1);
  check(s.transfer_timeout_ms >= 1);
  check(!s.host.empty());
  check(!(s.require_encryption && s.transport == pdtp::server::TransportMode::tcp));

  // Round trip, for ASCII strings: yaml-cpp's reader rewrites some code points (invalid UTF-8,
  // noncharacters such as U+FFFF become U+FFFD), which is its business, not ours.
  for (const std::string& str : {s.vhost, s.host, s.file_root.string(), s.key_file.string()}) {
    for (unsigned char c : str) {
      if (c >= 0x80) return 0;
    }
  }
  const std::string again_text = emit(s);
  check(!again_text.empty());
  const auto again = pdtp::server::parse_config_yaml(again_text, "fuzz.yml");
  check(again.ok());
  check(same(s, *again));
  return 0;
}
