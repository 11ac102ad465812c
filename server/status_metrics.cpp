#include <string>

#include "status.hpp"
#include "status_text.hpp"

namespace pdtp::server {

namespace {

class MetricsWriter {
 public:
  // One metric family: # HELP and # TYPE, then its samples via sample().
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own constant text: no backslashes or newlines to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, {}, std::to_string(value));
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, {}, number_text(value));
  }
  void gauge(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "gauge", help);
    sample(name, {}, std::to_string(value));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view name, std::string_view value) {
  return std::string(name) + "=\"" + prometheus_label_escape(value) + "\"";
}

}  // namespace

// Per-peer series are left out on purpose: client ids are chosen by clients, so they would give
// the scraper unbounded label cardinality. /status.json has the per-peer figures.
std::string render_metrics(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info) {
  MetricsWriter m;
  m.family("pdtp_build_info", "gauge", "dstream version (value is always 1).");
  m.sample("pdtp_build_info", label("version", info.version), "1");
  m.gauge("pdtp_uptime_seconds", "Seconds since dstream started.", info.uptime_seconds);
  m.gauge("pdtp_clients", "Connected, registered clients.", static_cast<std::uint64_t>(snapshot.clients));
  std::uint64_t over_udp = 0;
  for (const auto& p : snapshot.peers) over_udp += p.transport == pdtp::core::LinkTransport::udp ? 1 : 0;
  m.family("pdtp_peers", "gauge", "Registered peers by the transport of their control connection.");
  m.sample("pdtp_peers", label("transport", "tcp"), std::to_string(snapshot.peers.size() - over_udp));
  m.sample("pdtp_peers", label("transport", "udp"), std::to_string(over_udp));
  const auto rows = merge_file_rows(snapshot, info);
  m.gauge("pdtp_files", "Files served (on disk or known to the server).", static_cast<std::uint64_t>(rows.size()));
  m.gauge("pdtp_active_transfers", "Transfers scheduled and not yet completed.",
          static_cast<std::uint64_t>(snapshot.transfers.size()));
  m.counter("pdtp_bytes_from_peers_total", "Verified bytes delivered peer to peer.", snapshot.bytes_from_peers);
  m.counter("pdtp_bytes_from_server_total", "Verified bytes delivered by the server's file service.",
            snapshot.bytes_from_server);
  m.counter("pdtp_chunks_from_peers_total", "Verified chunks delivered peer to peer.", snapshot.chunks_from_peers);
  m.counter("pdtp_chunks_from_server_total", "Verified chunks delivered by the server's file service.",
            snapshot.chunks_from_server);
  m.gauge("pdtp_share_from_peers_ratio", "Fraction of verified bytes that came from peers (0..1).",
          share_from_peers(snapshot));
  m.counter("pdtp_hash_failures_total", "Chunks whose SHA-256 did not match.", snapshot.hash_failures);
  m.counter("pdtp_transfers_failed_total", "Transfers that failed, timed out or lost a peer.",
            snapshot.transfers_failed);
  m.counter("pdtp_protocol_errors_total", "Control connections closed for a protocol error.",
            snapshot.protocol_errors);
  m.gauge("pdtp_rate_from_peers_bytes_per_second", "Recent peer-to-peer throughput.", snapshot.rate_from_peers);
  m.gauge("pdtp_rate_from_server_bytes_per_second", "Recent file service throughput.", snapshot.rate_from_server);

  m.family("pdtp_file_downloaders", "gauge", "Peers requesting chunks of a file.");
  for (const auto& f : snapshot.files) m.sample("pdtp_file_downloaders", label("path", f.path), std::to_string(f.downloaders));
  m.family("pdtp_file_uploaders", "gauge", "Peers providing chunks of a file.");
  for (const auto& f : snapshot.files) m.sample("pdtp_file_uploaders", label("path", f.path), std::to_string(f.uploaders));
  return m.take();
}

}  // namespace pdtp::server
