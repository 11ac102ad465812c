// Status rendering: HTML escaping of hostile strings, JSON shape, Prometheus exposition format.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "status.hpp"
#include "pdtp/secure/keys.hpp"
#include "status_text.hpp"

using namespace pdtp::server;
using pdtp::core::LinkTransport;
using pdtp::core::ServerSnapshot;

namespace {

const std::string hostile = "<script>alert('x')</script>\"&";
const std::string peer_key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";  // bytes 1..32
const std::string server_key = "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA";  // 32 spaces

ServerSnapshot busy_snapshot() {
  ServerSnapshot s;
  s.clients = 2;
  s.peers.push_back({hostile, "127.0.0.2", 60860, LinkTransport::tcp, "", 1, 2, 5000, 250000, 1200.5, 3000});
  s.peers.push_back({"peer-two", "127.0.0.3", 60861, LinkTransport::udp, peer_key, 0, 1, 0, 10000, 0, 0});
  s.files.push_back({"/video/a<b>.mkv", 1000000, 250000, 2, 1});
  s.transfers.push_back({hostile, "peer-two", "/video/a<b>.mkv", {0, 249999}, 1.5});
  s.transfers.push_back({"peer-two", pdtp::server_peer_id, "/video/a<b>.mkv", {250000, 499999}, 0.2});
  s.bytes_from_peers = 750000;
  s.bytes_from_server = 250000;
  s.chunks_from_peers = 3;
  s.chunks_from_server = 1;
  s.hash_failures = 4;
  s.transfers_failed = 5;
  s.protocol_errors = 6;
  s.rate_from_peers = 1234.5;
  s.rate_from_server = 10;
  return s;
}

StatusInfo info_with_disk_files() {
  StatusInfo info;
  info.version = "0.1.0";
  info.uptime_seconds = 3725;
  info.vhost = "demo<host>";
  info.port = 6086;
  info.http_port = 6087;
  info.public_key = server_key;
  info.transports = "tcp+udp";
  info.files_on_disk.push_back({"/idle.txt", 12, 250000, false});
  info.files_on_disk.push_back({"/video/a<b>.mkv", 1000000, 250000, false});
  return info;
}

// The text of the element with this id, e.g. <span id="client-count">2</span> -> "2".
std::string element_text(const std::string& html, const std::string& id) {
  const std::string marker = "id=\"" + id + "\"";
  const auto at = html.find(marker);
  if (at == std::string::npos) return "<missing>";
  const auto open_end = html.find('>', at);
  const auto close = html.find('<', open_end);
  return html.substr(open_end + 1, close - open_end - 1);
}

}  // namespace

TEST_CASE("the HTML page escapes a hostile client id, file name and vhost") {
  const std::string html = render_status_html(busy_snapshot(), info_with_disk_files());
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;") != std::string::npos);
  CHECK(html.find("a&lt;b&gt;.mkv") != std::string::npos);
  CHECK(html.find("demo&lt;host&gt;") != std::string::npos);
}

TEST_CASE("the HTML page is self-contained and refreshes every 2 seconds") {
  const std::string html = render_status_html(busy_snapshot(), info_with_disk_files());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<meta http-equiv=\"refresh\" content=\"2\">") != std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("</html>") != std::string::npos);
}

TEST_CASE("the HTML page shows counts and totals under stable ids") {
  const std::string html = render_status_html(busy_snapshot(), info_with_disk_files());
  CHECK(element_text(html, "client-count") == "2");
  CHECK(element_text(html, "file-count") == "2");  // one active, one idle on disk, merged by path
  CHECK(element_text(html, "transfer-count") == "2");
  CHECK(element_text(html, "share-from-peers") == "75.0%");
  CHECK(element_text(html, "bytes-from-peers") == "750 kB");
  CHECK(element_text(html, "bytes-from-server") == "250 kB");
  CHECK(element_text(html, "hash-failures") == "4");
  CHECK(element_text(html, "transfers-failed") == "5");
  CHECK(element_text(html, "protocol-errors") == "6");
  CHECK(element_text(html, "uptime") == "1 h 02 m");
  for (const char* id : {"id=\"files\"", "id=\"peers\"", "id=\"transfers\""}) {
    CHECK(html.find(id) != std::string::npos);
  }
  CHECK(html.find("/idle.txt") != std::string::npos);
  CHECK(html.find("server (file service)") != std::string::npos);
  CHECK(html.find(">1.2 kB/s<") != std::string::npos);  // peer rate_up 1200.5
}

TEST_CASE("the HTML page of an idle server says so instead of empty tables") {
  StatusInfo info;
  info.version = "0.1.0";
  const std::string html = render_status_html(ServerSnapshot{}, info);
  CHECK(element_text(html, "client-count") == "0");
  CHECK(element_text(html, "share-from-peers") == "0.0%");
  CHECK(html.find("no peers connected") != std::string::npos);
  CHECK(html.find("no transfers in flight") != std::string::npos);
  CHECK(html.find("no files under the root") != std::string::npos);
}

TEST_CASE("the HTML page cuts long tables and points to the JSON") {
  ServerSnapshot s;
  for (int i = 0; i < 700; ++i) {
    s.peers.push_back({"p" + std::to_string(i), "127.0.0.1", 1, LinkTransport::tcp, "", 0, 0, 0, 0, 0, 0});
  }
  s.clients = s.peers.size();
  const std::string html = render_status_html(s, StatusInfo{});
  CHECK(html.find("and 200 more") != std::string::npos);
  CHECK(html.find(">p499<") != std::string::npos);
  CHECK(html.find(">p500<") == std::string::npos);
}

TEST_CASE("the JSON parses and has every documented key") {
  const auto doc = nlohmann::json::parse(render_status_json(busy_snapshot(), info_with_disk_files()));
  CHECK(doc["clients"] == 2);
  CHECK(doc["server"]["version"] == "0.1.0");
  CHECK(doc["server"]["uptime_seconds"] == 3725.0);
  CHECK(doc["server"]["port"] == 6086);
  CHECK(doc["server"]["http_port"] == 6087);
  CHECK(doc["server"]["vhost"] == "demo<host>");
  REQUIRE(doc["peers"].size() == 2);
  CHECK(doc["peers"][0]["id"] == hostile);
  CHECK(doc["peers"][0]["listen_port"] == 60860);
  CHECK(doc["peers"][0]["bytes_down"] == 250000);
  CHECK(doc["peers"][0]["rate_up"] == 1200.5);
  REQUIRE(doc["files"].size() == 2);
  CHECK(doc["files"][0]["path"] == "/idle.txt");
  CHECK(doc["files"][0]["downloaders"] == 0);
  CHECK(doc["files"][1]["downloaders"] == 2);
  CHECK(doc["files"][1]["chunks"] == 4);
  CHECK(doc["files"][1]["on_disk"] == true);
  REQUIRE(doc["transfers"].size() == 2);
  CHECK(doc["transfers"][1]["giver"] == pdtp::server_peer_id);
  CHECK(doc["transfers"][1]["range"]["min"] == 250000);
  CHECK(doc["transfers"][1]["range"]["max"] == 499999);
  const auto& totals = doc["totals"];
  CHECK(totals["bytes_from_peers"] == 750000);
  CHECK(totals["bytes_from_server"] == 250000);
  CHECK(totals["share_from_peers"] == 0.75);
  for (const char* key : {"chunks_from_peers", "chunks_from_server", "hash_failures", "transfers_failed",
                          "protocol_errors", "active_transfers", "rate_from_peers", "rate_from_server"}) {
    INFO(key);
    CHECK(totals.contains(key));
  }
}

TEST_CASE("the JSON survives client ids that are not valid UTF-8") {
  ServerSnapshot s;
  s.peers.push_back({std::string("bad\xff\xfe id"), "127.0.0.1", 1, LinkTransport::tcp, "", 0, 0, 0, 0, 0, 0});
  const auto doc = nlohmann::json::parse(render_status_json(s, StatusInfo{}));
  CHECK(doc["peers"][0]["id"] == "bad\xEF\xBF\xBD\xEF\xBF\xBD id");
}

TEST_CASE("a file the core still tracks but that left the disk is marked") {
  ServerSnapshot s;
  s.files.push_back({"/gone.bin", 10, 1024, 1, 0});
  const auto doc = nlohmann::json::parse(render_status_json(s, StatusInfo{}));
  CHECK(doc["files"][0]["on_disk"] == false);
  CHECK(render_status_html(s, StatusInfo{}).find("no longer on disk") != std::string::npos);
}

TEST_CASE("the HTML page shows the server key and how to pin it") {
  const std::string html = render_status_html(busy_snapshot(), info_with_disk_files());
  CHECK(element_text(html, "server-key") == server_key);
  CHECK(element_text(html, "server-key-hint") ==
        "dsclient --server-key " + server_key + " pdtp://demo&lt;host&gt;:6086/PATH");
  CHECK(element_text(html, "transports") == "tcp+udp");
  StatusInfo plain;
  plain.transports = "tcp";
  const std::string tcp_only = render_status_html(ServerSnapshot{}, plain);
  CHECK(tcp_only.find("server-key") == std::string::npos);
  CHECK(element_text(tcp_only, "transports") == "tcp");
}

TEST_CASE("the HTML peer table shows each peer's transport and key fingerprint") {
  const std::string html = render_status_html(busy_snapshot(), info_with_disk_files());
  auto key = pdtp::secure::parse_public_key(peer_key);
  REQUIRE(key.ok());
  const std::string fp = pdtp::secure::fingerprint_text(*key);
  CHECK(html.find("<td class=\"id\" title=\"" + peer_key + "\">" + fp + "</td>") != std::string::npos);
  CHECK(html.find("<td>udp</td>") != std::string::npos);
  CHECK(html.find("<td>tcp</td>") != std::string::npos);
  CHECK(html.find("<th>Transport</th><th>Key</th>") != std::string::npos);
}

TEST_CASE("the JSON has the server's key and transports, and each peer's transport and key") {
  const auto doc = nlohmann::json::parse(render_status_json(busy_snapshot(), info_with_disk_files()));
  CHECK(doc["server"]["public_key"] == server_key);
  CHECK(doc["server"]["transports"] == "tcp+udp");
  CHECK(doc["peers"][0]["transport"] == "tcp");
  CHECK(doc["peers"][0]["public_key"] == "");
  CHECK(doc["peers"][0]["key_fingerprint"] == "");
  CHECK(doc["peers"][1]["transport"] == "udp");
  CHECK(doc["peers"][1]["public_key"] == peer_key);
  CHECK(doc["peers"][1]["key_fingerprint"] == pdtp::server::key_fingerprint(peer_key));
  const auto idle = nlohmann::json::parse(render_status_json(ServerSnapshot{}, StatusInfo{}));
  CHECK(idle["server"]["public_key"] == "");
}

TEST_CASE("a key fingerprint is the short form, and odd text is cut instead") {
  const std::string fp = pdtp::server::key_fingerprint(peer_key);
  CHECK(fp.size() == 39);  // 16 bytes as hex in groups of four
  CHECK(std::count(fp.begin(), fp.end(), '-') == 7);
  CHECK(pdtp::server::key_fingerprint("").empty());
  CHECK(pdtp::server::key_fingerprint("not a key at all, much too long") == "not a key at all...");
}

TEST_CASE("metrics count peers by transport") {
  const std::string text = render_metrics(busy_snapshot(), info_with_disk_files());
  CHECK(text.find("pdtp_peers{transport=\"tcp\"} 1\n") != std::string::npos);
  CHECK(text.find("pdtp_peers{transport=\"udp\"} 1\n") != std::string::npos);
}

TEST_CASE("every metrics line is a comment or a well-formed sample of a declared family") {
  ServerSnapshot s = busy_snapshot();
  s.files.push_back({"/we\"ird\\na\nme", 1, 1024, 0, 1});
  const std::string text = render_metrics(s, info_with_disk_files());
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const std::regex help(R"(# HELP (pdtp_[a-z_]+) [^\n]+)");
  const std::regex type(R"(# TYPE (pdtp_[a-z_]+) (counter|gauge))");
  const std::regex sample(R"((pdtp_[a-z_]+)(\{[a-z_]+="([^"\\\n]|\\["\\n])*"\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf))");
  std::set<std::string> typed;
  std::istringstream lines(text);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    std::smatch m;
    if (std::regex_match(line, m, help)) continue;
    if (std::regex_match(line, m, type)) {
      CHECK(typed.insert(m[1]).second);  // each family declared once
      if (m[2] == "counter") CHECK(std::string(m[1]).size() > 6);
      if (m[2] == "counter") CHECK(std::string(m[1]).substr(std::string(m[1]).size() - 6) == "_total");
      continue;
    }
    REQUIRE(std::regex_match(line, m, sample));
    CHECK(typed.count(m[1]) == 1);
    ++samples;
  }
  CHECK(samples > 15);
  CHECK(text.find("pdtp_clients 2\n") != std::string::npos);
  CHECK(text.find("pdtp_bytes_from_peers_total 750000\n") != std::string::npos);
  CHECK(text.find("pdtp_share_from_peers_ratio 0.75\n") != std::string::npos);
  CHECK(text.find("pdtp_build_info{version=\"0.1.0\"} 1\n") != std::string::npos);
  CHECK(text.find("pdtp_file_uploaders{path=\"/we\\\"ird\\\\na\\nme\"} 1\n") != std::string::npos);
}

TEST_CASE("sizes, rates and durations read like a person would write them") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(999) == "999 B");
  CHECK(human_bytes(5000) == "5 kB");
  CHECK(human_bytes(250000) == "250 kB");
  CHECK(human_bytes(1234567) == "1.23 MB");
  CHECK(human_bytes(999999) == "1 MB");
  CHECK(human_bytes(UINT64_MAX) == "18.4 EB");
  CHECK(human_rate(-5) == "0 B/s");
  CHECK(human_rate(1.0 / 0.0) == "0 B/s");
  CHECK(human_rate(2500) == "2.5 kB/s");
  CHECK(human_duration(0.25) == "0.2 s");
  CHECK(human_duration(42.9) == "42 s");
  CHECK(human_duration(187) == "3 m 07 s");
  CHECK(human_duration(90000) == "1 d 01 h");
  CHECK(percent(0.375) == "37.5%");
  CHECK(number_text(0.0 / 0.0) == "NaN");
  CHECK(number_text(-1.0 / 0.0) == "-Inf");
  CHECK(number_text(0.5) == "0.5");
}

TEST_CASE("escaping replaces invalid UTF-8 and control characters") {
  CHECK(valid_utf8("ok \xC3\xA9") == "ok \xC3\xA9");
  CHECK(valid_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");         // overlong
  CHECK(valid_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  CHECK(valid_utf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");
  CHECK(valid_utf8("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // cut short
  CHECK(html_escape(std::string("a\x01z", 3)) == "a\xEF\xBF\xBDz");
  CHECK(prometheus_label_escape("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
}
