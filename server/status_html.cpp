#include <string>

#include "status.hpp"
#include "status_text.hpp"

namespace pdtp::server {

namespace {

constexpr std::size_t max_table_rows = 500;  // a page stays readable; /status.json has everything

constexpr const char* style = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:1.5em 2em;color:#1d2430;background:#f6f7f9}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.6em 0 .5em}
.meta{color:#5b6575;margin:0}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin-top:1.2em}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.6em 1em;min-width:9em}
.card .label{display:block;color:#5b6575;font-size:.85em}.card .value{font-size:1.4em;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7}
th,td{text-align:left;padding:.35em .7em;border-bottom:1px solid #eceff3;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.id{word-break:break-all;max-width:28em}code{font-size:.95em;word-break:break-all}.empty,.more{color:#5b6575;font-style:italic}
.gone{color:#a33}footer{margin-top:2em;color:#5b6575;font-size:.85em}
)css";

class Html {
 public:
  void raw(std::string_view s) { out_ += s; }
  void text(std::string_view s) { out_ += html_escape(s); }
  void cell(std::string_view s, std::string_view cls = {}, std::string_view title = {}) {
    out_ += cls.empty() ? "<td" : "<td class=\"" + std::string(cls) + "\"";
    if (!title.empty()) {
      out_ += " title=\"";
      text(title);
      out_ += '"';
    }
    out_ += '>';
    text(s);
    out_ += "</td>";
  }
  void num(std::string_view s) { cell(s, "num"); }
  void card(std::string_view id, std::string_view label, std::string_view value, std::string_view title = {}) {
    out_ += "<div class=\"card\"><span class=\"label\">";
    text(label);
    out_ += "</span><span class=\"value\" id=\"";
    out_ += id;
    out_ += '"';
    if (!title.empty()) {
      out_ += " title=\"";
      text(title);
      out_ += '"';
    }
    out_ += '>';
    text(value);
    out_ += "</span></div>";
  }
  // Opens a table with the given header cells; names ending in '#' are numeric columns.
  void table(std::string_view id, std::initializer_list<std::string_view> headers) {
    out_ += "<table id=\"";
    out_ += id;
    out_ += "\"><thead><tr>";
    for (std::string_view h : headers) {
      const bool numeric = !h.empty() && h.back() == '#';
      out_ += numeric ? "<th class=\"num\">" : "<th>";
      text(numeric ? h.substr(0, h.size() - 1) : h);
      out_ += "</th>";
    }
    out_ += "</tr></thead><tbody>";
  }
  void note_row(std::size_t columns, std::string_view cls, std::string_view message) {
    out_ += "<tr><td class=\"" + std::string(cls) + "\" colspan=\"" + std::to_string(columns) + "\">";
    text(message);
    out_ += "</td></tr>";
  }
  void end_table(std::size_t columns, std::size_t total, std::string_view empty_message) {
    if (total == 0) note_row(columns, "empty", empty_message);
    if (total > max_table_rows) {
      note_row(columns, "more", "and " + std::to_string(total - max_table_rows) + " more (see /status.json)");
    }
    out_ += "</tbody></table>\n";
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string chunk_count(std::uint64_t size, std::uint64_t chunk_size) {
  return chunk_size == 0 ? "?" : std::to_string((size + chunk_size - 1) / chunk_size);
}

}  // namespace

std::string render_status_html(const pdtp::core::ServerSnapshot& snapshot, const StatusInfo& info) {
  const auto files = merge_file_rows(snapshot, info);
  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"2\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>dstream status</title><style>");
  h.raw(style);
  h.raw("</style></head>\n<body>\n<header><h1>dstream status</h1><p class=\"meta\">version ");
  h.text(info.version);
  if (!info.vhost.empty()) {
    h.raw(" &middot; vhost ");
    h.text(info.vhost);
  }
  h.raw(" &middot; control port ");
  h.text(std::to_string(info.port));
  h.raw(" &middot; HTTP port ");
  h.text(std::to_string(info.http_port));
  if (!info.transports.empty()) {
    h.raw(" &middot; transports <span id=\"transports\">");
    h.text(info.transports);
    h.raw("</span>");
  }
  h.raw(" &middot; up <span id=\"uptime\">");
  h.text(human_duration(info.uptime_seconds));
  h.raw("</span></p>\n");
  if (!info.public_key.empty()) {
    // People copy the key from here to pin it, so the page shows the whole command.
    const std::string host = info.vhost.empty() ? std::string("HOST") : info.vhost;
    h.raw("<p class=\"meta\">server key <code id=\"server-key\">");
    h.text(info.public_key);
    h.raw("</code> &middot; pin it: <code id=\"server-key-hint\">");
    h.text("dsclient --server-key " + info.public_key + " pdtp://" + host + ":" + std::to_string(info.port) + "/PATH");
    h.raw("</code></p>\n");
  }
  h.raw("</header>\n<section class=\"cards\">");
  h.card("client-count", "Connected clients", std::to_string(snapshot.clients));
  h.card("file-count", "Files", std::to_string(files.size()));
  h.card("transfer-count", "Active transfers", std::to_string(snapshot.transfers.size()));
  h.card("share-from-peers", "Share from peers", percent(share_from_peers(snapshot)));
  h.card("bytes-from-peers", "From peers", human_bytes(snapshot.bytes_from_peers),
         std::to_string(snapshot.bytes_from_peers) + " bytes, " + human_rate(snapshot.rate_from_peers) + " now");
  h.card("bytes-from-server", "From server", human_bytes(snapshot.bytes_from_server),
         std::to_string(snapshot.bytes_from_server) + " bytes, " + human_rate(snapshot.rate_from_server) + " now");
  h.card("hash-failures", "Hash failures", std::to_string(snapshot.hash_failures));
  h.card("transfers-failed", "Failed transfers", std::to_string(snapshot.transfers_failed));
  h.card("protocol-errors", "Protocol errors", std::to_string(snapshot.protocol_errors));
  h.raw("</section>\n");

  h.raw("<h2>Files</h2>\n");
  h.table("files", {"Path", "Size#", "Chunk size#", "Chunks#", "Downloaders#", "Uploaders#"});
  for (std::size_t i = 0; i < files.size() && i < max_table_rows; ++i) {
    const FileRow& f = files[i];
    h.raw("<tr>");
    h.cell(f.on_disk ? f.path : f.path + " (no longer on disk)", f.on_disk ? "id" : "id gone");
    h.num(human_bytes(f.size));
    h.num(human_bytes(f.chunk_size));
    h.num(chunk_count(f.size, f.chunk_size));
    h.num(std::to_string(f.downloaders));
    h.num(std::to_string(f.uploaders));
    h.raw("</tr>");
  }
  h.end_table(6, files.size(), "no files under the root");

  h.raw("<h2>Peers</h2>\n");
  h.table("peers", {"Client id", "Address", "Listen port#", "Transport", "Key", "Uploads#", "Downloads#",
                    "Bytes up#", "Bytes down#", "Rate up#", "Rate down#"});
  for (std::size_t i = 0; i < snapshot.peers.size() && i < max_table_rows; ++i) {
    const auto& p = snapshot.peers[i];
    h.raw("<tr>");
    h.cell(p.id, "id");
    h.cell(p.address);
    h.num(std::to_string(p.listen_port));
    h.cell(pdtp::core::to_string(p.transport));
    h.cell(p.public_key.empty() ? std::string("-") : key_fingerprint(p.public_key), "id", p.public_key);
    h.num(std::to_string(p.uploads));
    h.num(std::to_string(p.downloads));
    h.num(human_bytes(p.bytes_up));
    h.num(human_bytes(p.bytes_down));
    h.num(human_rate(p.rate_up));
    h.num(human_rate(p.rate_down));
    h.raw("</tr>");
  }
  h.end_table(11, snapshot.peers.size(), "no peers connected");

  h.raw("<h2>Active transfers</h2>\n");
  h.table("transfers", {"Taker", "Giver", "File", "Bytes", "Size#", "Age#"});
  for (std::size_t i = 0; i < snapshot.transfers.size() && i < max_table_rows; ++i) {
    const auto& t = snapshot.transfers[i];
    h.raw("<tr>");
    h.cell(t.taker, "id");
    h.cell(t.giver == server_peer_id ? std::string("server (file service)") : t.giver, "id");
    h.cell(t.path, "id");
    h.cell(std::to_string(t.range.min) + "-" + std::to_string(t.range.max));
    h.num(human_bytes(t.range.max >= t.range.min ? t.range.size() : 0));
    h.num(human_duration(t.age_seconds));
    h.raw("</tr>");
  }
  h.end_table(6, snapshot.transfers.size(), "no transfers in flight");

  h.raw("<footer>Refreshes every 2 seconds. The same data: <a href=\"/status.json\">/status.json</a>, "
        "<a href=\"/metrics\">/metrics</a>.</footer>\n</body></html>\n");
  return h.take();
}

}  // namespace pdtp::server
