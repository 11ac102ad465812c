#include "status.hpp"

#include <map>

#include "pdtp/secure/keys.hpp"

namespace pdtp::server {

std::vector<FileRow> merge_file_rows(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info) {
  std::map<std::string, FileRow> rows;  // sorted by path
  for (const auto& f : info.files_on_disk) {
    rows[f.path] = FileRow{f.path, f.size, f.chunk_size, 0, 0, true};
  }
  for (const auto& f : snapshot.files) {
    auto [it, inserted] = rows.try_emplace(f.path, FileRow{f.path, f.size, f.chunk_size, 0, 0, false});
    it->second.downloaders = f.downloaders;
    it->second.uploaders = f.uploaders;
    if (!inserted) {  // the core's view is what peers are being told
      it->second.size = f.size;
      it->second.chunk_size = f.chunk_size;
    }
  }
  std::vector<FileRow> out;
  out.reserve(rows.size());
  for (auto& [path, row] : rows) out.push_back(std::move(row));
  return out;
}

double share_from_peers(const pdtp::core::ServerSnapshot& snapshot) {
  const double peers = static_cast<double>(snapshot.bytes_from_peers);
  const double total = peers + static_cast<double>(snapshot.bytes_from_server);
  return total > 0 ? peers / total : 0.0;
}

std::string key_fingerprint(std::string_view public_key_text) {
  if (public_key_text.empty()) return {};
  Result<secure::PublicKey> key = secure::parse_public_key(public_key_text);
  if (!key) return std::string(public_key_text.substr(0, 16)) + (public_key_text.size() > 16 ? "..." : "");
  return secure::fingerprint_text(*key);
}

}  // namespace pdtp::server
