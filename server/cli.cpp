#include "cli.hpp"

#include <filesystem>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "config.hpp"
#include "setting_values.hpp"

#ifndef PDTP_VERSION
#define PDTP_VERSION "unknown"
#endif

namespace pdtp::server {

namespace {

constexpr int exit_usage = 2;

struct RawArgs {
  std::string conf, host, port, root, chunk_size, vhost, transport, key_file, datagram_size;
  bool quiet = false, verbose = false, version = false, require_encryption = false;
};

constexpr const char* help_footer =
    "Ports:\n"
    "  PORT      control port; dsclient connects here. Default 6086. With --transport both\n"
    "            (the default) it is open twice: TCP (plain PDTP v2) and UDP (encrypted).\n"
    "  PORT + 1  HTTP port, default 6087. It serves:\n"
    "              /status/       a status page that refreshes itself (/status redirects here)\n"
    "              /status.json   the same data as JSON\n"
    "              /metrics       Prometheus text format\n"
    "              any file path  the server's own file service: peers GET chunks the\n"
    "                             server assigned them, with Range and X-PDTP-Peer-Id\n"
    "\n"
    "Config file (YAML): one `key: value` per line; the original `:key: value` spelling works too.\n"
    "  Keys: vhost, host, port, quiet, file_root, chunk_size, streaming,\n"
    "        peer_upload_slots, peer_download_slots, file_service_slots, transfer_timeout_ms,\n"
    "        transport, require_encryption, key_file, udp_datagram_size\n"
    "  A relative file_root or key_file is relative to the config file's directory.\n"
    "  Flags override the file.\n"
    "\n"
    "Server key (for UDP): a private key kept in the key file, created with mode 0600 on first\n"
    "start (default $XDG_CONFIG_HOME/distribustream/dstream.key, else\n"
    "~/.config/distribustream/dstream.key). Its public key is printed at start-up and shown on\n"
    "the status page; clients pin it with dsclient --server-key KEY, or remember it on first use.\n"
    "\n"
    "Datagram size (for UDP): --datagram-size limits only what dstream sends; every peer receives\n"
    "datagrams of any size, so each side may pick its own (dsclient has the same flag).\n"
    "\n"
    "Examples:\n"
    "  dstream --root ./demo\n"
    "  dstream --conf conf/example.yml --port 7000 --verbose\n";

CliOutcome usage_error(std::ostream& err, const std::string& message) {
  err << "dstream: error: " << message << "\n";
  return CliOutcome{std::nullopt, exit_usage};
}

// Applies one flag's text with its value parser; false (and an error line) when it is invalid.
template <class T, class Parse, class Store>
bool apply_flag(std::string_view flag, const std::string& text, Parse parse, Store store, std::string& error) {
  Result<T> v = parse(text);
  if (!v) {
    error = std::string(flag) + ": " + v.error().message;
    return false;
  }
  store(std::move(*v));
  return true;
}

// Checks the root exists and is a directory; `origin` names where it came from for the message.
bool check_root(ServerSettings& s, const std::string& origin, std::string& error) {
  std::error_code ec;
  const auto status = std::filesystem::status(s.file_root, ec);
  if (ec || !std::filesystem::exists(status)) {
    error = origin + ": directory " + quote_for_message(s.file_root.string()) + " does not exist";
    return false;
  }
  if (!std::filesystem::is_directory(status)) {
    error = origin + ": " + quote_for_message(s.file_root.string()) + " is not a directory";
    return false;
  }
  const auto canonical = std::filesystem::canonical(s.file_root, ec);
  if (ec) {
    error = origin + ": cannot resolve " + quote_for_message(s.file_root.string()) + ": " + ec.message();
    return false;
  }
  s.file_root = canonical;
  return true;
}

}  // namespace

CliOutcome parse_dstream_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  RawArgs raw;
  CLI::App app{"dstream: the DistribuStream server. It serves every file below a directory to dsclient\n"
               "peers and tells peers to pass chunks to each other, so most bytes come from peers.",
               "dstream"};
  app.add_option("-c,--conf", raw.conf, "YAML config file (see below); flags given too override it")
      ->type_name("FILE");
  app.add_option("--root", raw.root, "directory whose files are served (config key file_root)")->type_name("DIR");
  app.add_option("--host", raw.host, "address to listen on (default 0.0.0.0)")->type_name("ADDR");
  app.add_option("-p,--port", raw.port, "control port, 1..65534 (default 6086); HTTP is PORT + 1")
      ->type_name("PORT");
  app.add_option("--chunk-size", raw.chunk_size, "chunk size in bytes, 1024..16777216 (default 250000)")
      ->type_name("BYTES");
  app.add_option("--vhost", raw.vhost, "host name clients use in pdtp:// urls (default: any)")->type_name("NAME");
  app.add_option("--transport", raw.transport,
                 "tcp (plain PDTP v2), udp (encrypted) or both on the same port number (default both)")
      ->type_name("tcp|udp|both");
  app.add_flag("--require-encryption", raw.require_encryption,
               "turn plain (TCP) peers away with an error; needs udp (config key require_encryption)");
  app.add_option("--key-file", raw.key_file,
                 "the server's private key, created 0600 if missing (default: see below)")
      ->type_name("FILE");
  app.add_option("--datagram-size", raw.datagram_size,
                 "UDP datagram size dstream starts each connection with, 1200..65527 (default 1200); below 1452\n"
                 "each connection probes once whether the path carries 1452 and then uses it. Larger only\n"
                 "where the path carries it; config key udp_datagram_size")
      ->type_name("BYTES");
  app.add_flag("-q,--quiet", raw.quiet, "log only errors (the default)");
  app.add_flag("-v,--verbose", raw.verbose, "log connections and transfers");
  app.add_flag("--version", raw.version, "print the version and exit");
  app.footer(help_footer);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return CliOutcome{std::nullopt, 0};
  } catch (const CLI::ParseError& e) {
    return usage_error(err, std::string(e.what()) + " (see dstream --help)");
  }
  if (raw.version) {
    out << "dstream " << PDTP_VERSION << "\n";
    return CliOutcome{std::nullopt, 0};
  }

  ServerSettings s;
  if (app.count("--conf") != 0) {
    if (raw.conf.empty()) return usage_error(err, "--conf: expected a file name, got ''");
    Result<ServerSettings> loaded = load_config_file(raw.conf, s);
    if (!loaded) return usage_error(err, loaded.error().message);
    s = std::move(*loaded);
  }

  std::string error;
  bool ok = true;
  if (ok && app.count("--host") != 0) {
    ok = apply_flag<std::string>("--host", raw.host, parse_host_value, [&](std::string v) { s.host = std::move(v); }, error);
  }
  if (ok && app.count("--port") != 0) {
    ok = apply_flag<std::uint16_t>("--port", raw.port, parse_port_value, [&](std::uint16_t v) { s.port = v; }, error);
  }
  if (ok && app.count("--chunk-size") != 0) {
    ok = apply_flag<std::uint64_t>("--chunk-size", raw.chunk_size, parse_chunk_size_value,
                                   [&](std::uint64_t v) { s.chunk_size = v; }, error);
  }
  if (ok && app.count("--vhost") != 0) {
    ok = apply_flag<std::string>("--vhost", raw.vhost, parse_vhost_value, [&](std::string v) { s.vhost = std::move(v); }, error);
  }
  if (ok && app.count("--transport") != 0) {
    ok = apply_flag<TransportMode>("--transport", raw.transport, parse_transport_value,
                                   [&](TransportMode v) { s.transport = v; }, error);
  }
  if (ok && app.count("--key-file") != 0) {
    ok = apply_flag<std::filesystem::path>("--key-file", raw.key_file, parse_file_value,
                                           [&](std::filesystem::path v) { s.key_file = std::move(v); }, error);
  }
  if (ok && app.count("--datagram-size") != 0) {
    ok = apply_flag<std::size_t>("--datagram-size", raw.datagram_size, parse_udp_datagram_size_value,
                                 [&](std::size_t v) { s.udp_datagram_size = v; }, error);
  }
  if (!ok) return usage_error(err, error);
  if (raw.require_encryption) s.require_encryption = true;
  if (s.require_encryption && !s.uses_udp()) {
    const std::string file = s.config_file.string();
    const std::string what = raw.require_encryption ? "--require-encryption" : file + ": key 'require_encryption'";
    const std::string why = app.count("--transport") != 0 ? "--transport" : file + ": key 'transport'";
    return usage_error(err, what + ": require_encryption needs udp, but transport is tcp (" + why + ")");
  }
  if (raw.quiet && raw.verbose) return usage_error(err, "-q/--quiet and -v/--verbose contradict each other");
  if (raw.quiet) s.quiet = true;
  if (raw.verbose) s.quiet = false;

  std::string root_origin;
  if (app.count("--root") != 0) {
    if (raw.root.empty()) return usage_error(err, "--root: expected a directory, got ''");
    s.file_root = raw.root;
    root_origin = "--root";
  } else if (!s.file_root.empty()) {
    root_origin = s.config_file.string() + ": key 'file_root'";
  } else if (!s.config_file.empty()) {
    return usage_error(err, "no file root: pass --root DIR or set file_root in " + s.config_file.string());
  } else {
    return usage_error(err, "no file root: pass --root DIR or --conf FILE");
  }
  if (!check_root(s, root_origin, error)) return usage_error(err, error);
  return CliOutcome{std::move(s), 0};
}

}  // namespace pdtp::server
