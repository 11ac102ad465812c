// The server's status for people and machines: an HTML page (/status/), JSON (/status.json) and
// Prometheus metrics (/metrics), all rendered from the core's snapshot plus a little runtime info.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pdtp/core/catalog.hpp"
#include "pdtp/core/server.hpp"

namespace pdtp::server {

struct StatusInfo {
  std::string version;
  double uptime_seconds = 0;
  std::string vhost;
  std::uint16_t port = 0;
  std::uint16_t http_port = 0;
  std::vector<pdtp::core::FileInfo> files_on_disk;  // shown even when no peer touches them
  std::string public_key;  // the server's key as base64url text (what --server-key takes); empty without udp
  std::string transports;  // what listens on the control port number: "tcp", "udp" or "tcp+udp"
};

// Self-contained page (inline CSS, no scripts), refreshing every 2 s. Stable element ids:
// client-count, file-count, transfer-count, share-from-peers, bytes-from-peers, bytes-from-server,
// hash-failures, transfers-failed, protocol-errors, transports, server-key (only with a public key);
// tables files, peers (with each peer's transport and key fingerprint), transfers.
std::string render_status_html(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info);

// Keys: server{version, uptime_seconds, vhost, port, http_port, public_key, transports}, clients,
// peers[] (each with transport, public_key, key_fingerprint), files[], transfers[],
// totals{bytes_from_peers, bytes_from_server, share_from_peers (0..1), ...}.
std::string render_status_json(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info);

// Prometheus text exposition format 0.0.4; every name starts with pdtp_.
std::string render_metrics(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info);

// ---- shared by the three renderers ----

// One row of the file table: the files on disk merged with the files the core knows about.
struct FileRow {
  std::string path;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  unsigned downloaders = 0;
  unsigned uploaders = 0;
  bool on_disk = false;  // false: the core still tracks it but it is gone from the directory
};
std::vector<FileRow> merge_file_rows(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info);

// Fraction (0..1) of verified bytes that came from peers rather than the file service; 0 if none yet.
double share_from_peers(const pdtp::core::ServerSnapshot& snapshot);

// The short fingerprint of a peer's key text (see secure::fingerprint_text); empty for an empty key,
// the text itself, cut short, if it is not a key.
std::string key_fingerprint(std::string_view public_key_text);

}  // namespace pdtp::server
