// dstream's YAML config: both key spellings, defaults kept, one-line errors naming file and key.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "config.hpp"
#include "temp_dir.hpp"

using pdtp::Errc;
using pdtp::server::load_config_file;
using pdtp::server::parse_config_yaml;
using pdtp::server::ServerSettings;
namespace fs = std::filesystem;

namespace {

struct TempDir : pdtp_test::TempDir {
  TempDir() : pdtp_test::TempDir("pdtp-config-test-") {}
};

std::string error_of(std::string_view text, std::string_view source = "conf/x.yml") {
  auto r = parse_config_yaml(text, source);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_config);
  CHECK(r.error().message.find('\n') == std::string::npos);
  return r.error().message;
}

std::string error_of_base(std::string_view text, ServerSettings base) {
  auto r = parse_config_yaml(text, "conf/x.yml", std::move(base));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_config);
  return r.error().message;
}

}  // namespace

TEST_CASE("plain keys set every setting") {
  auto r = parse_config_yaml(
      "vhost: example.org\nhost: 127.0.0.1\nport: 7000\nquiet: false\nfile_root: /srv/files\n"
      "chunk_size: 5000\nstreaming: true\npeer_upload_slots: 2\npeer_download_slots: 3\n"
      "file_service_slots: 5\ntransfer_timeout_ms: 1500\n",
      "conf/x.yml");
  REQUIRE(r.ok());
  CHECK(r->vhost == "example.org");
  CHECK(r->host == "127.0.0.1");
  CHECK(r->port == 7000);
  CHECK(r->http_port() == 7001);
  CHECK_FALSE(r->quiet);
  CHECK(r->file_root == fs::path("/srv/files"));
  CHECK(r->chunk_size == 5000);
  CHECK(r->streaming);
  CHECK(r->peer_upload_slots == 2);
  CHECK(r->peer_download_slots == 3);
  CHECK(r->file_service_slots == 5);
  CHECK(r->transfer_timeout_ms == 1500);
}

TEST_CASE("the original Ruby-symbol spelling :key: is accepted") {
  auto r = parse_config_yaml(":port: 6100\n:quiet: false\n:chunk_size: 250000\n:vhost: a.example\n", "conf/debug.yml");
  REQUIRE(r.ok());
  CHECK(r->port == 6100);
  CHECK_FALSE(r->quiet);
  CHECK(r->chunk_size == 250000);
  CHECK(r->vhost == "a.example");
}

TEST_CASE("keys not in the file keep the base values") {
  ServerSettings base;
  base.port = 9000;
  base.host = "10.0.0.1";
  auto r = parse_config_yaml("chunk_size: 4096\n", "conf/x.yml", base);
  REQUIRE(r.ok());
  CHECK(r->port == 9000);
  CHECK(r->host == "10.0.0.1");
  CHECK(r->chunk_size == 4096);
}

TEST_CASE("an empty file or only comments changes nothing") {
  for (const char* text : {"", "# nothing here\n", "---\n"}) {
    auto r = parse_config_yaml(text, "conf/x.yml");
    REQUIRE(r.ok());
    CHECK(r->port == 6086);
    CHECK(r->chunk_size == 250000);
  }
}

TEST_CASE("booleans accept true/false, yes/no, on/off") {
  CHECK_FALSE(parse_config_yaml("quiet: no", "x")->quiet);
  CHECK_FALSE(parse_config_yaml("quiet: Off", "x")->quiet);
  CHECK(parse_config_yaml("streaming: YES", "x")->streaming);
  CHECK(parse_config_yaml("streaming: on", "x")->streaming);
}

TEST_CASE("a port that is not an integer names the file, the key and the value") {
  CHECK(error_of("port: abc\n") == "conf/x.yml: key 'port': expected an integer 1..65534, got 'abc'");
}

TEST_CASE("ports outside 1..65534 are rejected because port + 1 must fit") {
  CHECK(error_of("port: 0").find("key 'port'") != std::string::npos);
  CHECK(error_of("port: 65535").find("got '65535'") != std::string::npos);
  CHECK(error_of("port: -1").find("key 'port'") != std::string::npos);
  CHECK(error_of("port: 99999999999999999999999").find("key 'port'") != std::string::npos);
  CHECK(parse_config_yaml("port: 65534", "x")->port == 65534);
}

TEST_CASE("chunk_size must be within 1024 bytes .. 16 MiB") {
  CHECK(error_of("chunk_size: 1023") ==
        "conf/x.yml: key 'chunk_size': expected an integer 1024..16777216 (bytes), got '1023'");
  CHECK(error_of("chunk_size: 16777217").find("key 'chunk_size'") != std::string::npos);
  CHECK(error_of("chunk_size: 2.5e5").find("key 'chunk_size'") != std::string::npos);
  CHECK(parse_config_yaml("chunk_size: 16777216", "x")->chunk_size == 16777216);
  CHECK(parse_config_yaml("chunk_size: 1024", "x")->chunk_size == 1024);
}

TEST_CASE("slots and timeouts must be at least 1") {
  CHECK(error_of("peer_upload_slots: 0").find("conf/x.yml: key 'peer_upload_slots': ") == 0);
  CHECK(error_of("peer_download_slots: 0").find("conf/x.yml: key 'peer_download_slots': ") == 0);
  CHECK(error_of("file_service_slots: 0").find("conf/x.yml: key 'file_service_slots': ") == 0);
  CHECK(error_of("transfer_timeout_ms: 0").find("conf/x.yml: key 'transfer_timeout_ms': ") == 0);
}

TEST_CASE("a boolean key with another word is rejected") {
  CHECK(error_of("quiet: maybe") == "conf/x.yml: key 'quiet': expected true or false, got 'maybe'");
  CHECK(error_of(":streaming: 1") == "conf/x.yml: key ':streaming': expected true or false, got '1'");
}

TEST_CASE("a list or map where a scalar belongs is rejected with the key") {
  CHECK(error_of("port: [1, 2]") == "conf/x.yml: key 'port': expected an integer 1..65534, got a list");
  CHECK(error_of("host: {a: b}") == "conf/x.yml: key 'host': expected a host name or address, got a map");
  CHECK(error_of("file_root:\n") == "conf/x.yml: key 'file_root': expected a directory, got nothing");
  CHECK(error_of("host: 'a b'").find("key 'host'") != std::string::npos);
}

TEST_CASE("an unknown key is an error that lists the valid keys") {
  const std::string msg = error_of("prot: 6086\n");
  CHECK(msg.find("conf/x.yml: unknown key 'prot' (valid keys: vhost, host, port,") == 0);
  CHECK(msg.find("transfer_timeout_ms") != std::string::npos);
  CHECK(error_of(":chunksize: 5000").find("unknown key ':chunksize'") != std::string::npos);
}

TEST_CASE("a key given twice, in either spelling, is an error") {
  CHECK(error_of("port: 1\n:port: 2\n") == "conf/x.yml: key ':port': given more than once");
}

TEST_CASE("a document that is not a map is rejected") {
  CHECK(error_of("- port\n- 6086\n") == "conf/x.yml: expected a map of settings (key: value), got a list");
  CHECK(error_of("just words").find("got a scalar") != std::string::npos);
  CHECK(error_of("port: 1\n---\nport: 2\n") ==
        "conf/x.yml: line 2, column 1: expected one YAML document, found another one here");
}

TEST_CASE("stray tokens that make yaml-cpp's LoadAll loop forever are an error") {
  CHECK(error_of("\n,\n    ").find("conf/x.yml: ") == 0);
  CHECK(error_of("port: 6086\n,\n").find("conf/x.yml: ") == 0);
}

TEST_CASE("a YAML syntax error reports line and column") {
  const std::string msg = error_of("port: 6086\nhost: [unclosed\n");
  CHECK(msg.find("conf/x.yml: line ") == 0);
  CHECK(msg.find(", column ") != std::string::npos);
  CHECK(msg.find("YAML syntax error") != std::string::npos);
  CHECK(error_of("port: 6086\n  bad: indent\n").find("conf/x.yml: line 2, column") == 0);
}

TEST_CASE("hostile values are quoted on one line and cut short") {
  const std::string msg = error_of("port: \"a\\nb\\u0001" + std::string(500, 'x') + "\"");
  CHECK(msg.find("\\x0a") != std::string::npos);
  CHECK(msg.find("\\x01") != std::string::npos);
  CHECK(msg.size() < 200);
}

TEST_CASE("a relative file_root is resolved against the config file's directory") {
  CHECK(parse_config_yaml("file_root: ../demo", "conf/example.yml")->file_root == fs::path("conf/../demo"));
  CHECK(parse_config_yaml("file_root: /abs", "conf/example.yml")->file_root == fs::path("/abs"));
  TempDir dir;
  const fs::path conf = dir.write("conf/a.yml", "file_root: ../demo\n");
  auto r = load_config_file(conf);
  REQUIRE(r.ok());
  CHECK(r->file_root == conf.parent_path() / "../demo");
  CHECK(r->file_root.is_absolute());
  CHECK(r->config_file == conf);
}

TEST_CASE("a base file_root is not re-resolved against the config file") {
  ServerSettings base;
  base.file_root = "relative/root";
  CHECK(parse_config_yaml("port: 7000", "conf/x.yml", base)->file_root == fs::path("relative/root"));
}

TEST_CASE("loading a missing file or a directory names the file") {
  TempDir dir;
  auto missing = load_config_file(dir.path / "nope.yml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message == (dir.path / "nope.yml").string() + ": no such file");
  auto directory = load_config_file(dir.path);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().message.find(dir.path.string() + ": ") == 0);
}

TEST_CASE("errors from a loaded file carry its path") {
  TempDir dir;
  const fs::path conf = dir.write("bad.yml", "port: 70000\n");
  auto r = load_config_file(conf);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == conf.string() + ": key 'port': expected an integer 1..65534, got '70000'");
}

TEST_CASE("an oversized config text is refused without parsing") {
  const std::string huge(pdtp::server::max_config_bytes + 1, '#');
  CHECK(error_of(huge).find("conf/x.yml: larger than") == 0);
}

TEST_CASE("the shipped conf files parse") {
  const fs::path conf_dir = fs::path(__FILE__).parent_path() / "../../conf";
  auto example = load_config_file(conf_dir / "example.yml");
  REQUIRE(example.ok());
  CHECK(example->chunk_size == 5000);
  CHECK(example->quiet);
  CHECK(example->file_root.filename() == "demo");
  auto debug = load_config_file(conf_dir / "debug.yml");
  REQUIRE(debug.ok());
  CHECK(debug->chunk_size == 5000);
  CHECK_FALSE(debug->quiet);
  auto big = load_config_file(conf_dir / "bigchunk.yml");
  REQUIRE(big.ok());
  CHECK(big->chunk_size == 250000);
}

TEST_CASE("transport, require_encryption and key_file default to both, off and empty") {
  auto r = parse_config_yaml("port: 7000\n", "conf/x.yml");
  REQUIRE(r.ok());
  CHECK(r->transport == pdtp::server::TransportMode::both);
  CHECK_FALSE(r->require_encryption);
  CHECK(r->key_file.empty());
}

TEST_CASE("transport, require_encryption and key_file are read in both spellings") {
  auto plain = parse_config_yaml("transport: udp\nrequire_encryption: true\nkey_file: /etc/dstream.key\n", "x.yml");
  REQUIRE(plain.ok());
  CHECK(plain->transport == pdtp::server::TransportMode::udp);
  CHECK(plain->require_encryption);
  CHECK(plain->key_file == fs::path("/etc/dstream.key"));
  auto ruby = parse_config_yaml(":transport: TCP\n:require_encryption: no\n:key_file: /k\n", "x.yml");
  REQUIRE(ruby.ok());
  CHECK(ruby->transport == pdtp::server::TransportMode::tcp);
  CHECK_FALSE(ruby->require_encryption);
  CHECK(ruby->key_file == fs::path("/k"));
  CHECK(parse_config_yaml("transport: both", "x")->transport == pdtp::server::TransportMode::both);
}

TEST_CASE("a bad transport, require_encryption or key_file names the file, the key and the value") {
  CHECK(error_of("transport: quic") == "conf/x.yml: key 'transport': expected tcp, udp or both, got 'quic'");
  CHECK(error_of(":transport: ''") == "conf/x.yml: key ':transport': expected tcp, udp or both, got ''");
  CHECK(error_of("require_encryption: always") ==
        "conf/x.yml: key 'require_encryption': expected true or false, got 'always'");
  CHECK(error_of("key_file: ''") == "conf/x.yml: key 'key_file': expected a file name, got ''");
  CHECK(error_of("key_file: [a]") == "conf/x.yml: key 'key_file': expected a file name, got a list");
}

TEST_CASE("require_encryption with transport tcp is a config error") {
  CHECK(error_of("transport: tcp\nrequire_encryption: true\n") ==
        "conf/x.yml: key 'require_encryption': require_encryption needs udp, but transport is tcp");
  ServerSettings base;
  base.require_encryption = true;
  CHECK(error_of_base("transport: tcp\n", base).find("require_encryption needs udp") != std::string::npos);
  CHECK(parse_config_yaml("transport: udp\nrequire_encryption: true\n", "x").ok());
  CHECK(parse_config_yaml("require_encryption: true\n", "x").ok());  // the default transport is both
}

TEST_CASE("a relative key_file is resolved against the config file's directory") {
  CHECK(parse_config_yaml("key_file: keys/d.key", "conf/example.yml")->key_file == fs::path("conf/keys/d.key"));
  CHECK(parse_config_yaml("key_file: /abs/d.key", "conf/example.yml")->key_file == fs::path("/abs/d.key"));
  TempDir dir;
  const fs::path conf = dir.write("conf/a.yml", "key_file: ../keys/d.key\n");
  auto r = load_config_file(conf);
  REQUIRE(r.ok());
  CHECK(r->key_file == conf.parent_path() / "../keys/d.key");
  CHECK(r->key_file.is_absolute());
}

TEST_CASE("udp_datagram_size defaults to 1200 and is read in both spellings") {
  auto none = parse_config_yaml("port: 7000\n", "x.yml");
  REQUIRE(none.ok());
  CHECK(none->udp_datagram_size == 1200);
  auto plain = parse_config_yaml("udp_datagram_size: 1452\n", "x.yml");
  REQUIRE(plain.ok());
  CHECK(plain->udp_datagram_size == 1452);
  auto ruby = parse_config_yaml(":udp_datagram_size: 9000\n", "x.yml");
  REQUIRE(ruby.ok());
  CHECK(ruby->udp_datagram_size == 9000);
  CHECK(parse_config_yaml("udp_datagram_size: 1200", "x")->udp_datagram_size == 1200);
  CHECK(parse_config_yaml("udp_datagram_size: 65527", "x")->udp_datagram_size == 65527);
}

TEST_CASE("a udp_datagram_size outside 1200..65527 names the file, the key and the range") {
  CHECK(error_of("udp_datagram_size: 1199") ==
        "conf/x.yml: key 'udp_datagram_size': expected an integer 1200..65527 (bytes), got '1199'");
  CHECK(error_of(":udp_datagram_size: 65528") ==
        "conf/x.yml: key ':udp_datagram_size': expected an integer 1200..65527 (bytes), got '65528'");
  CHECK(error_of("udp_datagram_size: 1.5k").find("key 'udp_datagram_size'") != std::string::npos);
  CHECK(error_of("udp_datagram_size: [1452]") ==
        "conf/x.yml: key 'udp_datagram_size': expected an integer 1200..65527 (bytes), got a list");
  CHECK(error_of("udp_datagram_size: 1452\n:udp_datagram_size: 1500\n") ==
        "conf/x.yml: key ':udp_datagram_size': given more than once");
}
