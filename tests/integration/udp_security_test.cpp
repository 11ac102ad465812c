// Security of the encrypted UDP transport with real dstream and dsclient processes on loopback:
// the server's key is pinned (--server-key) or remembered (known_hosts) and a mismatch is refused;
// a peer the server did not name cannot take chunks from a seeder, not even under a registered
// peer's id; a connect under the wrong key for a seeder gets no answer; a server that requires
// encryption refuses plain TCP clients.
#include <catch2/catch.hpp>

#include <fcntl.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pdtp/secure/keys.hpp"
#include "pdtp/transport/udp.hpp"
#include "udp_test_host.hpp"
#include "process.hpp"

extern char** environ;

using namespace pdtp_test;
using namespace std::chrono_literals;
using pdtp::transport::Udp;
using pdtp::transport::UdpEndpoint;
using pdtp::transport::UdpStream;
namespace secure = pdtp::secure;

namespace {

using Clock = std::chrono::steady_clock;


std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 gen(seed);
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

// Polls `done` every 50 ms until it holds or `limit` passes.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// A scratch directory (removed at the end) that is also the XDG_CONFIG_HOME of every child.
struct Scratch {
  Scratch() {
    std::random_device rd;
    dir = fs::temp_directory_path() / ("pdtp-udp-sec-" + std::to_string(rd()));
    fs::create_directories(dir / "config");
    fs::create_directories(dir / "out");
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path config() const { return dir / "config"; }
  fs::path known_hosts() const { return config() / "distribustream" / "known_hosts"; }
  fs::path out() const { return dir / "out"; }
  fs::path dir;
};

// A child process with stdout and stderr in `log`; SIGTERM (then SIGKILL) when it goes out of scope.
class Child {
 public:
  Child(std::vector<std::string> argv, const fs::path& config_home, const fs::path& log) : log_(log) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::string_view(*e).substr(0, 16) != "XDG_CONFIG_HOME=") env.emplace_back(*e);
    env.push_back("XDG_CONFIG_HOME=" + config_home.string());
    std::vector<char*> args, envp;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execve(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The exit code once it exited within `limit` (128 + signal if killed); nullopt if still running.
  std::optional<int> wait(std::chrono::milliseconds limit) {
    if (status_) return status_;
    eventually([&] {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return true;
    }, limit);
    return status_;
  }
  bool running() { return !wait(0ms); }
  void stop() {
    if (status_ || pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    if (!wait(5000ms)) {
      ::kill(pid_, SIGKILL);
      wait(5000ms);
    }
  }
  std::string output() const { return read_text(log_); }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

bool udp_port_free(std::uint16_t port) {
  asio::io_context io;
  asio::ip::udp::socket s(io);
  asio::error_code ec;
  s.open(asio::ip::udp::v4(), ec);
  s.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

json fetch_status(std::uint16_t http_port) {
  try {
    HttpReply r = http_exchange(http_port, "GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if (r.status != 200) return nullptr;
    return json::parse(r.body);
  } catch (const std::exception&) {
    return nullptr;
  }
}

// dstream on 127.0.0.1 (TCP and UDP on one port), serving `files`, its key in the scratch directory.
class DstreamProcess {
 public:
  DstreamProcess(const Scratch& s, const std::vector<std::pair<std::string, std::string>>& files,
                 std::uint64_t chunk_size, std::vector<std::string> extra = {}) {
    const fs::path root = s.dir / "root";
    for (auto& [name, bytes] : files) {
      fs::create_directories((root / name).parent_path());
      std::ofstream(root / name, std::ios::binary) << bytes;
    }
    std::random_device rd;
    std::mt19937 gen(rd());
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::uint16_t p = 0;
      for (int i = 0; i < 50 && p == 0; ++i) {
        auto c = static_cast<std::uint16_t>(20000 + gen() % 12000);  // below the ephemeral range
        if (port_free(c) && port_free(static_cast<std::uint16_t>(c + 1)) && udp_port_free(c)) p = c;
      }
      if (p == 0) continue;
      std::vector<std::string> argv{DSTREAM_BIN, "--host", "127.0.0.1", "--port", std::to_string(p), "--root",
                                    root.string(), "--chunk-size", std::to_string(chunk_size), "--key-file",
                                    (s.dir / "dstream.key").string(), "-v"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      child_.emplace(argv, s.config(), s.dir / "dstream.log");
      port = p;
      if (eventually([&] { return !child_->running() || !fetch_status(http_port()).is_null(); }, 10s) &&
          child_->running())
        break;
      child_.reset();  // e.g. another process took the port meanwhile
      port = 0;
    }
    if (port == 0) throw std::runtime_error("dstream did not start: " + read_text(s.dir / "dstream.log"));
    const json st = fetch_status(http_port());
    auto key = secure::parse_public_key(st["server"]["public_key"].get<std::string>());
    if (!key) throw std::runtime_error("status.json has no valid server key");
    public_key = *key;
  }
  std::uint16_t http_port() const { return static_cast<std::uint16_t>(port + 1); }
  json status() const { return fetch_status(http_port()); }
  std::string url(const std::string& path) const { return "pdtp://127.0.0.1:" + std::to_string(port) + path; }

  std::uint16_t port = 0;
  secure::PublicKey public_key{};

 private:
  std::optional<Child> child_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs dsclient to completion (at most 60 s) with the scratch directory as XDG_CONFIG_HOME.
RunResult run_dsclient(const Scratch& s, std::vector<std::string> args) {
  std::vector<std::string> argv{DSCLIENT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  static int runs = 0;
  const fs::path log = s.dir / ("dsclient-" + std::to_string(++runs) + ".log");
  Child c(argv, s.config(), log);
  auto rc = c.wait(60s);
  c.stop();
  return {rc.value_or(-1), read_text(log)};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// ---- a UDP peer inside the test process ----

// One UdpHost (its own key, bound to `ip`) on its own io_context, driven from the test thread.
struct UdpPeer {
  explicit UdpPeer(const char* ip) : keys(fresh_keys()) {
    pdtp::transport::UdpOptions o;
    o.identity = keys;
    host.emplace(io, o);
    host->bind({asio::ip::make_address(ip), 0});
  }
  ~UdpPeer() { host->close(); }
  std::uint16_t port() const { return host->local_endpoint().port(); }
  secure::KeyPair keys;
  asio::io_context io;
  std::optional<pdtp::transport::UdpHost> host;
};

// Runs `task` on `owner` while every peer in `all` keeps being served; throws after `limit`.
template <class T>
T run(UdpPeer& owner, const std::vector<UdpPeer*>& all, asio::awaitable<T> task, std::chrono::seconds limit) {
  auto f = asio::co_spawn(owner.io, std::move(task), asio::use_future);
  const auto end = Clock::now() + limit;
  while (f.wait_for(0s) != std::future_status::ready) {
    if (Clock::now() > end) throw std::runtime_error("a UDP exchange did not finish in time");
    for (UdpPeer* p : all) {
      p->io.restart();
      p->io.run_for(2ms);
    }
  }
  return f.get();
}

std::string frame(const json& message) {
  const std::string body = message.dump();
  std::string out;
  out += static_cast<char>(body.size() >> 8);
  out += static_cast<char>(body.size() & 0xff);
  return out + body;
}

// A control stream to the server that has sent `messages`.
asio::awaitable<std::unique_ptr<UdpStream>> open_control(UdpEndpoint server, std::vector<json> messages) {
  auto s = std::make_unique<UdpStream>(co_await Udp::connect(server, std::nullopt));
  std::string bytes;
  for (const auto& m : messages) bytes += frame(m);
  co_await asio::async_write(*s, asio::buffer(bytes), asio::use_awaitable);
  co_return s;
}

// Reads frames from the control stream until a transfer whose giver is `giver` arrives.
asio::awaitable<json> transfer_from(UdpStream& s, std::string& buf, std::string giver) {
  char tmp[16384];
  for (;;) {
    while (buf.size() >= 2) {
      const std::size_t len = (static_cast<unsigned char>(buf[0]) << 8) | static_cast<unsigned char>(buf[1]);
      if (buf.size() < 2 + len) break;
      json m = json::parse(buf.substr(2, len));
      buf.erase(0, 2 + len);
      if (m[0] == "transfer" && m[1]["peer_id"] == giver) co_return m[1];
    }
    std::size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::use_awaitable);
    buf.append(tmp, n);
  }
}

// One HTTP exchange on a new stream to `to`; everything the peer sent until it closed the stream.
asio::awaitable<std::string> http_over_udp(UdpEndpoint to, std::string request) {
  auto s = co_await Udp::connect(to, std::nullopt);
  co_await asio::async_write(s, asio::buffer(request), asio::use_awaitable);
  std::string got;
  char buf[65536];
  for (;;) {
    asio::error_code ec;
    std::size_t n = co_await s.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    got.append(buf, n);
  }
  co_return got;
}

asio::awaitable<std::string> connect_error(UdpEndpoint to) {
  try {
    auto s = co_await Udp::connect(to, std::nullopt);
  } catch (const std::exception& e) {
    co_return std::string(e.what());
  }
  co_return std::string();
}

std::string chunk_request(const std::string& path, std::uint64_t min, std::uint64_t max, const std::string& peer_id) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.2\r\nRange: bytes=" + std::to_string(min) + "-" +
         std::to_string(max) + "\r\nX-PDTP-Peer-Id: " + peer_id + "\r\n\r\n";
}

int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

// dstream and one dsclient seeding the whole file from 127.0.0.2 over udp.
struct SeededSwarm {
  static constexpr std::uint64_t chunk = 65536;
  SeededSwarm() : data(random_bytes(8 * chunk, 11)), server(scratch, {{"f.bin", data}}, chunk) {
    seeder.emplace(std::vector<std::string>{DSCLIENT_BIN, "--seed", "--bind", "127.0.0.2", "-q", "-o",
                                            (scratch.out() / "f.bin").string(), server.url("/f.bin")},
                   scratch.config(), scratch.dir / "seeder.log");
    REQUIRE(eventually([&] { return contains(seeder->output(), "seeding until interrupted") || !seeder->running(); },
                       60s));
    INFO(seeder->output());
    REQUIRE(seeder->running());
    REQUIRE(read_text(scratch.out() / "f.bin") == data);
    const json st = server.status();
    for (const auto& p : st["peers"])
      if (p["transport"] == "udp" && contains(p["address"].get<std::string>(), "127.0.0.2")) seeder_peer = p;
    REQUIRE(seeder_peer.is_object());
    auto key = secure::parse_public_key(seeder_peer["public_key"].get<std::string>());
    REQUIRE(key.ok());
    seeder_key = *key;
    seeder_id = seeder_peer["id"].get<std::string>();
    seeder_port = seeder_peer["listen_port"].get<std::uint16_t>();
  }
  UdpEndpoint server_udp() const { return {asio::ip::make_address("127.0.0.1"), server.port, server.public_key}; }
  UdpEndpoint seeder_udp(std::optional<secure::PublicKey> key) const {
    return {asio::ip::make_address("127.0.0.2"), seeder_port, key};
  }
  std::string wire_url() const { return "http://127.0.0.1/f.bin"; }
  bool registered(const std::string& id) const {
    const json st = server.status();
    for (const auto& p : st["peers"])
      if (p["id"] == id) return true;
    return false;
  }

  Scratch scratch;
  std::string data;
  DstreamProcess server;
  std::optional<Child> seeder;
  json seeder_peer;
  secure::PublicKey seeder_key{};
  std::string seeder_id;
  std::uint16_t seeder_port = 0;
};

}  // namespace

TEST_CASE("udp security: dsclient --server-key with another key refuses the server and names both keys") {
  Scratch s;
  DstreamProcess d(s, {{"f.bin", random_bytes(100000, 1)}}, 16384);
  const std::string other = secure::to_text(fresh_keys().public_key);
  const std::string real = secure::to_text(d.public_key);
  auto r = run_dsclient(s, {"-q", "--server-key", other, "-o", (s.out() / "f.bin").string(), d.url("/f.bin")});
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);
  CHECK(contains(r.output, "has changed"));
  CHECK(contains(r.output, "expected: " + other + "  (--server-key)"));
  CHECK(contains(r.output, "seen:     " + real));
  CHECK(files_in(s.out()) == 0);  // neither the file nor its .part
  CHECK(!fs::exists(s.known_hosts()));  // a pinned key is not remembered
}

TEST_CASE("udp security: a known_hosts line with another key for host:port refuses the server and names the line") {
  Scratch s;
  DstreamProcess d(s, {{"f.bin", random_bytes(100000, 2)}}, 16384);
  const std::string other = secure::to_text(fresh_keys().public_key);
  const std::string real = secure::to_text(d.public_key);
  fs::create_directories(s.known_hosts().parent_path());
  const std::string known = "# servers\n127.0.0.1:" + std::to_string(d.port) + " " + other + "\n";
  std::ofstream(s.known_hosts()) << known;
  auto r = run_dsclient(s, {"-q", "-o", (s.out() / "f.bin").string(), d.url("/f.bin")});
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != -1);
  CHECK(contains(r.output, "the key of 127.0.0.1:" + std::to_string(d.port) + " has changed"));
  CHECK(contains(r.output, "expected: " + other + "  (line 2 of " + s.known_hosts().string() + ")"));
  CHECK(contains(r.output, "seen:     " + real));
  CHECK(contains(r.output, "remove line 2 of " + s.known_hosts().string()));
  CHECK(files_in(s.out()) == 0);
  CHECK(read_text(s.known_hosts()) == known);  // not rewritten
}

TEST_CASE("udp security: the first connection remembers the server's key and the next one matches silently") {
  Scratch s;
  const std::string data = random_bytes(100000, 3);
  DstreamProcess d(s, {{"f.bin", data}}, 16384);
  const std::string line = "127.0.0.1:" + std::to_string(d.port) + " " + secure::to_text(d.public_key);
  auto first = run_dsclient(s, {"-q", "-o", (s.out() / "one.bin").string(), d.url("/f.bin")});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.output, "first connection to 127.0.0.1:" + std::to_string(d.port)));
  CHECK(read_text(s.out() / "one.bin") == data);
  const std::string remembered = read_text(s.known_hosts());
  CHECK(contains(remembered, line + "\n"));

  auto second = run_dsclient(s, {"-q", "-o", (s.out() / "two.bin").string(), d.url("/f.bin")});
  INFO(second.output);
  CHECK(second.exit_code == 0);
  CHECK(second.output.empty());  // -q and a matching key: nothing to say
  CHECK(read_text(s.out() / "two.bin") == data);
  CHECK(read_text(s.known_hosts()) == remembered);
}

TEST_CASE("udp security: a registered peer the server did not name is refused a chunk by a seeder (403)") {
  SeededSwarm swarm;
  UdpPeer rogue("127.0.0.3");
  const std::vector<UdpPeer*> all{&rogue};
  auto control = run(rogue, all,
                     open_control(swarm.server_udp(),
                                  {json::array({"register", {{"client_id", "rogue"}, {"listen_port", rogue.port()}}})}),
                     20s);
  REQUIRE(eventually([&] {
    for (UdpPeer* p : all) p->io.poll();
    return swarm.registered("rogue");
  }, 10s));
  const std::string reply = run(rogue, all,
                                http_over_udp(swarm.seeder_udp(swarm.seeder_key),
                                              chunk_request("/f.bin", 0, SeededSwarm::chunk - 1, "rogue")),
                                30s);
  INFO(reply.substr(0, 300));
  CHECK(status_of(reply) == 403);
  CHECK(reply.size() < 1000);  // an explanation, no chunk
  CHECK(!contains(reply, swarm.data.substr(0, 64)));
}

TEST_CASE("udp security: a peer claiming another registered peer's id, scheduled transfer and address is refused for its key") {
  SeededSwarm swarm;
  UdpPeer victim("127.0.0.3"), rogue("127.0.0.3");
  const std::vector<UdpPeer*> all{&victim, &rogue};
  // The victim registers and requests the file; the server schedules chunks from the seeder to it.
  const json vregister = json::array({"register", {{"client_id", "victim"}, {"listen_port", victim.port()}}});
  const json ask = json::array({"ask_info", {{"url", swarm.wire_url()}}});
  const json request = json::array({"request", {{"url", swarm.wire_url()}}});
  auto control = run(victim, all, open_control(swarm.server_udp(), {vregister, ask, request}), 20s);
  std::string buf;
  const json t = run(victim, all, transfer_from(*control, buf, swarm.seeder_id), 30s);
  INFO(t.dump());
  REQUIRE(t["peer_key"] == secure::to_text(swarm.seeder_key));
  const std::uint64_t min = t["range"]["min"], max = t["range"]["max"];

  // The rogue, from the same address, claims to be the victim for exactly that transfer.
  const std::string req = chunk_request("/f.bin", min, max, "victim");
  const std::string refused = run(rogue, all, http_over_udp(swarm.seeder_udp(swarm.seeder_key), req), 30s);
  INFO(refused.substr(0, 300));
  CHECK(status_of(refused) == 403);
  CHECK(refused.size() < 1000);

  // The same request under the victim's own key is served: only the key made the difference.
  const std::string served = run(victim, all, http_over_udp(swarm.seeder_udp(swarm.seeder_key), req), 30s);
  CHECK(status_of(served) == 206);
  const auto body = served.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  CHECK(served.substr(body + 4) == swarm.data.substr(min, max - min + 1));
}

TEST_CASE("udp security: a connect to a seeder under another key than its own gets no answer") {
  SeededSwarm swarm;
  UdpPeer rogue("127.0.0.3");
  const std::vector<UdpPeer*> all{&rogue};
  const auto wrong = fresh_keys().public_key;
  const std::string error = run(rogue, all, connect_error(swarm.seeder_udp(wrong)), 30s);
  CHECK(contains(error, "no answer from 127.0.0.2:" + std::to_string(swarm.seeder_port)));
  CHECK(rogue.host->endpoint_stats().connects_failed == 1);
  CHECK(rogue.host->stats().bytes_in == 0);  // not even a handshake reply came back
}

TEST_CASE("udp security: a server that requires encryption refuses dsclient over tcp and serves it over udp") {
  Scratch s;
  const std::string data = random_bytes(100000, 5);
  DstreamProcess d(s, {{"f.bin", data}}, 16384, {"--require-encryption"});
  auto tcp = run_dsclient(s, {"-q", "--transport", "tcp", "-o", (s.out() / "tcp.bin").string(), d.url("/f.bin")});
  INFO(tcp.output);
  CHECK(tcp.exit_code != 0);
  CHECK(tcp.exit_code != -1);
  CHECK(contains(tcp.output, "requires encryption"));
  CHECK(contains(tcp.output, "--transport udp"));
  CHECK(files_in(s.out()) == 0);

  auto udp = run_dsclient(s, {"-q", "--transport", "udp", "-o", (s.out() / "udp.bin").string(), d.url("/f.bin")});
  INFO(udp.output);
  CHECK(udp.exit_code == 0);
  CHECK(read_text(s.out() / "udp.bin") == data);
}

// A chunk whose transfer named its hash is kept on arrival, so dsclient may be done before the server
// has read its last `completed` reports: it must still deliver them before it goes.
TEST_CASE("dsclient's last completed reports reach the server before it exits, over udp and over tcp") {
  Scratch s;
  const std::string data = random_bytes(1000000, 6);
  DstreamProcess d(s, {{"f.bin", data}}, 16384);
  std::uint64_t expected = 0;
  for (const char* transport : {"udp", "tcp"}) {
    INFO(transport);
    auto r = run_dsclient(s, {"-q", "--transport", transport, "-o", (s.out() / transport).string(), d.url("/f.bin")});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(read_text(s.out() / transport) == data);
    expected += data.size();
    const json totals = d.status()["totals"];
    CHECK(totals["bytes_from_server"].get<std::uint64_t>() + totals["bytes_from_peers"].get<std::uint64_t>() ==
          expected);
    CHECK(totals["hash_failures"].get<std::uint64_t>() == 0);
  }
}
