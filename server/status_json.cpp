#include <nlohmann/json.hpp>

#include "status.hpp"

namespace pdtp::server {

std::string render_status_json(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info) {
  using nlohmann::json;
  json doc;
  doc["server"] = {{"version", info.version},
                   {"uptime_seconds", info.uptime_seconds},
                   {"vhost", info.vhost},
                   {"port", info.port},
                   {"http_port", info.http_port},
                   {"public_key", info.public_key},
                   {"transports", info.transports}};
  doc["clients"] = snapshot.clients;

  json peers = json::array();
  for (const auto& p : snapshot.peers) {
    peers.push_back({{"id", p.id},
                     {"address", p.address},
                     {"listen_port", p.listen_port},
                     {"transport", pdtp::core::to_string(p.transport)},
                     {"public_key", p.public_key},
                     {"key_fingerprint", key_fingerprint(p.public_key)},
                     {"uploads", p.uploads},
                     {"downloads", p.downloads},
                     {"bytes_up", p.bytes_up},
                     {"bytes_down", p.bytes_down},
                     {"rate_up", p.rate_up},
                     {"rate_down", p.rate_down}});
  }
  doc["peers"] = std::move(peers);

  json files = json::array();
  for (const auto& f : merge_file_rows(snapshot, info)) {
    const std::uint64_t chunks = f.chunk_size == 0 ? 0 : (f.size + f.chunk_size - 1) / f.chunk_size;
    files.push_back({{"path", f.path},
                     {"size", f.size},
                     {"chunk_size", f.chunk_size},
                     {"chunks", chunks},
                     {"downloaders", f.downloaders},
                     {"uploaders", f.uploaders},
                     {"on_disk", f.on_disk}});
  }
  doc["files"] = std::move(files);

  json transfers = json::array();
  for (const auto& t : snapshot.transfers) {
    transfers.push_back({{"taker", t.taker},
                         {"giver", t.giver},
                         {"path", t.path},
                         {"range", {{"min", t.range.min}, {"max", t.range.max}}},
                         {"age_seconds", t.age_seconds}});
  }
  doc["transfers"] = std::move(transfers);

  doc["totals"] = {{"bytes_from_peers", snapshot.bytes_from_peers},
                   {"bytes_from_server", snapshot.bytes_from_server},
                   {"share_from_peers", share_from_peers(snapshot)},
                   {"chunks_from_peers", snapshot.chunks_from_peers},
                   {"chunks_from_server", snapshot.chunks_from_server},
                   {"hash_failures", snapshot.hash_failures},
                   {"transfers_failed", snapshot.transfers_failed},
                   {"protocol_errors", snapshot.protocol_errors},
                   {"active_transfers", snapshot.transfers.size()},
                   {"rate_from_peers", snapshot.rate_from_peers},
                   {"rate_from_server", snapshot.rate_from_server}};
  // Client ids and file names are arbitrary bytes: replace invalid UTF-8 instead of throwing.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace pdtp::server
