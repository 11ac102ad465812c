// dstream's command line: flags override the config file; --help and --version exit 0; errors exit 2.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config.hpp"
#include "temp_dir.hpp"

using pdtp::server::CliOutcome;
using pdtp::server::parse_dstream_cli;
namespace fs = std::filesystem;

namespace {

// A scratch directory with a files/ folder to serve.
struct TempDir : pdtp_test::TempDir {
  TempDir() : pdtp_test::TempDir("pdtp-cli-test-") { fs::create_directories(path / "files"); }
};

struct Run {
  CliOutcome outcome;
  std::string out;
  std::string err;
};

Run run(std::vector<std::string> args) {
  args.insert(args.begin(), "dstream");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  CliOutcome outcome = parse_dstream_cli(static_cast<int>(argv.size()), argv.data(), out, err);
  return Run{std::move(outcome), out.str(), err.str()};
}

// A failed run: no settings, exit 2, exactly one line on stderr.
std::string failure_line(const Run& r) {
  CHECK_FALSE(r.outcome.settings.has_value());
  CHECK(r.outcome.exit_code == 2);
  CHECK(r.out.empty());
  REQUIRE_FALSE(r.err.empty());
  CHECK(r.err.back() == '\n');
  CHECK(r.err.find('\n') == r.err.size() - 1);
  return r.err;
}

}  // namespace

TEST_CASE("dstream --root alone gives the defaults with a canonical root") {
  TempDir dir;
  auto r = run({"--root", (dir.path / "files/../files").string()});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.exit_code == 0);
  CHECK(r.outcome.settings->file_root == fs::canonical(dir.path / "files"));
  CHECK(r.outcome.settings->port == 6086);
  CHECK(r.outcome.settings->host == "0.0.0.0");
  CHECK(r.outcome.settings->quiet);
  CHECK(r.outcome.settings->config_file.empty());
}

TEST_CASE("flags override the config file") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "port: 7000\nhost: 127.0.0.1\nchunk_size: 5000\nvhost: a.example\n"
                                           "quiet: true\nfile_root: files\npeer_upload_slots: 2\n");
  fs::create_directories(dir.path / "other");
  auto r = run({"--conf", conf.string(), "--port", "7100", "--chunk-size", "4096", "--vhost", "b.example", "-v",
                "--root", (dir.path / "other").string()});
  REQUIRE(r.outcome.settings);
  const auto& s = *r.outcome.settings;
  CHECK(s.port == 7100);
  CHECK(s.http_port() == 7101);
  CHECK(s.host == "127.0.0.1");  // not overridden
  CHECK(s.chunk_size == 4096);
  CHECK(s.vhost == "b.example");
  CHECK_FALSE(s.quiet);
  CHECK(s.peer_upload_slots == 2);
  CHECK(s.file_root == fs::canonical(dir.path / "other"));
  CHECK(s.config_file == conf);
}

TEST_CASE("the config file's relative file_root is used when --root is absent") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "file_root: files\n");
  auto r = run({"--conf", conf.string(), "--host", "::1"});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->file_root == fs::canonical(dir.path / "files"));
  CHECK(r.outcome.settings->host == "::1");
}

TEST_CASE("dstream --quiet sets quiet even when the file says false") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", ":quiet: false\n:file_root: files\n");
  auto r = run({"-c", conf.string(), "-q"});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->quiet);
}

TEST_CASE("dstream --help exits 0 and explains the ports and the status page") {
  auto r = run({"--help"});
  CHECK_FALSE(r.outcome.settings);
  CHECK(r.outcome.exit_code == 0);
  CHECK(r.err.empty());
  for (const char* text : {"/status/", "/status.json", "/metrics", "PORT + 1", "--conf", "--root", "--host",
                           "--port", "--chunk-size", "--vhost", "--quiet", "--verbose", "--version", "Example"}) {
    INFO(text);
    CHECK(r.out.find(text) != std::string::npos);
  }
}

TEST_CASE("dstream --help lists every config key") {
  const auto r = run({"-h"});
  std::string keys(pdtp::server::valid_config_keys());
  std::size_t start = 0;
  while (start < keys.size()) {
    std::size_t end = keys.find(", ", start);
    if (end == std::string::npos) end = keys.size();
    const std::string key = keys.substr(start, end - start);
    INFO(key);
    CHECK(r.out.find(key) != std::string::npos);
    start = end + 2;
  }
}

TEST_CASE("dstream --version exits 0 and prints the version") {
  auto r = run({"--version"});
  CHECK_FALSE(r.outcome.settings);
  CHECK(r.outcome.exit_code == 0);
  CHECK(r.out.rfind("dstream ", 0) == 0);
}

TEST_CASE("no root at all is an error that says how to give one") {
  CHECK(failure_line(run({})) == "dstream: error: no file root: pass --root DIR or --conf FILE\n");
}

TEST_CASE("a config file without file_root and no --root is an error naming the file") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "port: 7000\n");
  CHECK(failure_line(run({"--conf", conf.string()})).find(conf.string()) != std::string::npos);
}

TEST_CASE("a root that does not exist or is not a directory is an error") {
  TempDir dir;
  CHECK(failure_line(run({"--root", (dir.path / "missing").string()})).find("--root: directory '") !=
        std::string::npos);
  const fs::path file = dir.write("plain.txt", "x");
  CHECK(failure_line(run({"--root", file.string()})).find("is not a directory") != std::string::npos);
}

TEST_CASE("a missing file_root directory names the config file and key") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "file_root: nowhere\n");
  CHECK(failure_line(run({"--conf", conf.string()})).find(conf.string() + ": key 'file_root': directory") !=
        std::string::npos);
}

TEST_CASE("a missing or invalid config file is an error naming it") {
  TempDir dir;
  CHECK(failure_line(run({"--conf", (dir.path / "none.yml").string()})).find("none.yml: no such file") !=
        std::string::npos);
  const fs::path conf = dir.write("bad.yml", "port: x\nfile_root: files\n");
  CHECK(failure_line(run({"--conf", conf.string()})) ==
        "dstream: error: " + conf.string() + ": key 'port': expected an integer 1..65534, got 'x'\n");
}

TEST_CASE("bad flag values are errors naming the flag") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  CHECK(failure_line(run({"--root", root, "--port", "abc"})) ==
        "dstream: error: --port: expected an integer 1..65534, got 'abc'\n");
  CHECK(failure_line(run({"--root", root, "--port", "65535"})).find("--port: ") != std::string::npos);
  CHECK(failure_line(run({"--root", root, "--chunk-size", "100"})).find("--chunk-size: ") != std::string::npos);
  CHECK(failure_line(run({"--root", root, "--host", ""})).find("--host: ") != std::string::npos);
}

TEST_CASE("unknown flags, stray arguments and a missing value exit 2") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  CHECK(failure_line(run({"--root", root, "--bogus"})).find("--bogus") != std::string::npos);
  CHECK(failure_line(run({"--root", root, "stray"})).find("stray") != std::string::npos);
  failure_line(run({"--root"}));
}

TEST_CASE("dstream --quiet and --verbose together contradict each other") {
  TempDir dir;
  CHECK(failure_line(run({"--root", (dir.path / "files").string(), "-q", "-v"})).find("contradict") !=
        std::string::npos);
}

TEST_CASE("dstream listens on both transports without encryption required by default") {
  TempDir dir;
  auto r = run({"--root", (dir.path / "files").string()});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->transport == pdtp::server::TransportMode::both);
  CHECK_FALSE(r.outcome.settings->require_encryption);
  CHECK(r.outcome.settings->key_file.empty());
}

TEST_CASE("dstream --transport, --require-encryption and --key-file set the settings") {
  TempDir dir;
  auto r = run({"--root", (dir.path / "files").string(), "--transport", "udp", "--require-encryption", "--key-file",
                "keys/d.key"});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->transport == pdtp::server::TransportMode::udp);
  CHECK(r.outcome.settings->require_encryption);
  CHECK(r.outcome.settings->key_file == fs::path("keys/d.key"));
  auto tcp = run({"--root", (dir.path / "files").string(), "--transport", "tcp"});
  REQUIRE(tcp.outcome.settings);
  CHECK(tcp.outcome.settings->transport == pdtp::server::TransportMode::tcp);
}

TEST_CASE("dstream --transport and --key-file override the config file") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "file_root: files\ntransport: tcp\nkey_file: conf.key\n");
  auto r = run({"--conf", conf.string(), "--transport", "both", "--key-file", "/elsewhere.key"});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->transport == pdtp::server::TransportMode::both);
  CHECK(r.outcome.settings->key_file == fs::path("/elsewhere.key"));
  auto from_file = run({"--conf", conf.string()});
  REQUIRE(from_file.outcome.settings);
  CHECK(from_file.outcome.settings->transport == pdtp::server::TransportMode::tcp);
  CHECK(from_file.outcome.settings->key_file == dir.path / "conf.key");
}

TEST_CASE("bad --transport and --key-file values are errors naming the flag") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  CHECK(failure_line(run({"--root", root, "--transport", "sctp"})) ==
        "dstream: error: --transport: expected tcp, udp or both, got 'sctp'\n");
  CHECK(failure_line(run({"--root", root, "--key-file", ""})) ==
        "dstream: error: --key-file: expected a file name, got ''\n");
}

TEST_CASE("dstream --require-encryption with transport tcp is an error that names both sources") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  CHECK(failure_line(run({"--root", root, "--transport", "tcp", "--require-encryption"})) ==
        "dstream: error: --require-encryption: require_encryption needs udp, but transport is tcp (--transport)\n");
  const fs::path conf = dir.write("a.yml", "file_root: files\nrequire_encryption: true\n");
  const std::string line = failure_line(run({"--conf", conf.string(), "--transport", "tcp"}));
  CHECK(line.find(conf.string() + ": key 'require_encryption': require_encryption needs udp") != std::string::npos);
  const fs::path tcp_conf = dir.write("b.yml", "file_root: files\ntransport: tcp\n");
  const std::string tcp_line = failure_line(run({"--conf", tcp_conf.string(), "--require-encryption"}));
  CHECK(tcp_line.find("(" + tcp_conf.string() + ": key 'transport')") != std::string::npos);
  CHECK(run({"--conf", tcp_conf.string(), "--transport", "udp", "--require-encryption"}).outcome.settings);
}

TEST_CASE("dstream --help explains the transport, encryption and key options") {
  auto r = run({"--help"});
  for (const char* text : {"--transport", "--require-encryption", "--key-file", "0600", "--server-key", "UDP"}) {
    INFO(text);
    CHECK(r.out.find(text) != std::string::npos);
  }
}

TEST_CASE("dstream starts with 1200-byte datagrams unless --datagram-size or the config file says otherwise") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  auto plain = run({"--root", root});
  REQUIRE(plain.outcome.settings);
  CHECK(plain.outcome.settings->udp_datagram_size == 1200);
  auto flag = run({"--root", root, "--datagram-size", "1452"});
  REQUIRE(flag.outcome.settings);
  CHECK(flag.outcome.settings->udp_datagram_size == 1452);
  CHECK(run({"--root", root, "--datagram-size", "65527"}).outcome.settings->udp_datagram_size == 65527);
}

TEST_CASE("dstream --datagram-size overrides the config file's udp_datagram_size") {
  TempDir dir;
  const fs::path conf = dir.write("a.yml", "file_root: files\nudp_datagram_size: 9000\n");
  auto from_file = run({"--conf", conf.string()});
  REQUIRE(from_file.outcome.settings);
  CHECK(from_file.outcome.settings->udp_datagram_size == 9000);
  auto r = run({"--conf", conf.string(), "--datagram-size", "1200"});
  REQUIRE(r.outcome.settings);
  CHECK(r.outcome.settings->udp_datagram_size == 1200);
}

TEST_CASE("a --datagram-size outside 1200..65527 is an error naming the flag and the range") {
  TempDir dir;
  const std::string root = (dir.path / "files").string();
  CHECK(failure_line(run({"--root", root, "--datagram-size", "1199"})) ==
        "dstream: error: --datagram-size: expected an integer 1200..65527 (bytes), got '1199'\n");
  CHECK(failure_line(run({"--root", root, "--datagram-size", "65528"})) ==
        "dstream: error: --datagram-size: expected an integer 1200..65527 (bytes), got '65528'\n");
  CHECK(failure_line(run({"--root", root, "--datagram-size", "jumbo"})).find("--datagram-size: ") !=
        std::string::npos);
  const fs::path conf = dir.write("bad.yml", "file_root: files\nudp_datagram_size: 100\n");
  CHECK(failure_line(run({"--conf", conf.string()})) == "dstream: error: " + conf.string() +
                                                            ": key 'udp_datagram_size': expected an integer "
                                                            "1200..65527 (bytes), got '100'\n");
}

TEST_CASE("dstream --help explains --datagram-size and that receivers take any size") {
  auto r = run({"--help"});
  for (const char* text : {"--datagram-size", "1200..65527", "1452", "udp_datagram_size", "receives"}) {
    INFO(text);
    CHECK(r.out.find(text) != std::string::npos);
  }
}
