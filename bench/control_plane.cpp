// Control-plane throughput of the server core on one core: frame decode, JSON decode, dispatch,
// scheduling and reply encode, through core::Server::on_data and poll_action, with no sockets.
// Client frames are built before the clock starts; only the server's work (and draining its
// actions, as the runtime does after every read) is timed. Prints messages per second per mix.
//
//   control_plane [--conns N] [--scale X] [--only MIX]
#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pdtp/core/server.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"

namespace {

using namespace pdtp;
using core::ConnId;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t chunk_size = 250000;
const Sha256Hex chunk_hash = "4bcc7d082f405265cbc9a9ba11988cd3178a654c5251a99ac098ad6970ac110f";
const std::string host = "bench.example";

std::string url_of(std::string_view path) { return "http://" + host + std::string(path); }
ByteRange chunk_range(ChunkIndex c) { return {c * chunk_size, c * chunk_size + chunk_size - 1}; }
std::string peer_ip(std::size_t i) {
  return "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}
std::string peer_name(std::size_t i) { return "bench-peer-" + std::to_string(i); }

// Files held in memory: every chunk has the same (fixed) hash, so clients can report it.
class MemoryCatalog final : public core::FileCatalog {
 public:
  void add(std::string path, ChunkIndex chunks) {
    files_[path] = core::FileInfo{path, chunks * chunk_size, chunk_size, false};
  }
  std::optional<core::FileInfo> lookup(std::string_view path) override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<Sha256Hex> chunk_hash(std::string_view path, ChunkIndex chunk) override {
    auto it = files_.find(std::string(path));
    if (it == files_.end() || chunk * chunk_size >= it->second.size) return std::nullopt;
    return ::chunk_hash;
  }

 private:
  std::unordered_map<std::string, core::FileInfo> files_;
};

std::string frame(const Message& m) {
  std::string out;
  if (!append_message_frame(out, m)) {
    std::fprintf(stderr, "control_plane: cannot frame a message\n");
    std::exit(1);
  }
  return out;
}

// The wire type of a frame the server sent: ["type",...
std::string_view frame_type(std::string_view f) {
  if (f.size() < 5) return {};
  std::string_view body = f.substr(frame_header_size + 2);
  return body.substr(0, body.find('"'));
}

struct Tally {
  std::uint64_t in = 0;            // client messages fed
  std::uint64_t out = 0;           // frames the server sent
  std::uint64_t closes = 0;        // CloseConn actions (must stay 0)
  std::map<std::string, std::uint64_t, std::less<>> by_type;
  double seconds = 0;              // wall time spent feeding the server and draining it
  double cpu_seconds = 0;          // this thread's CPU time over the same spans
};

double thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Times one span of reads (frames are built before it starts): wall clock and thread CPU time.
class Span {
 public:
  explicit Span(Tally& t) : t_(t), wall_(Clock::now()), cpu_(thread_cpu_now()) {}
  ~Span() {
    t_.seconds += std::chrono::duration<double>(Clock::now() - wall_).count();
    t_.cpu_seconds += thread_cpu_now() - cpu_;
  }
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

 private:
  Tally& t_;
  Clock::time_point wall_;
  double cpu_;
};

class Harness {
 public:
  Harness(std::size_t conns, unsigned file_service_slots) : server_(config(file_service_slots), catalog_) {
    conns_ = conns;
  }
  MemoryCatalog& catalog() { return catalog_; }

  // Connect and register every connection (not timed).
  void register_all() {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < conns_; ++i) {
      server_.on_connect(conn(i), peer_ip(i), "10.255.0.1", now);
      server_.on_data(conn(i), frame(Register{peer_name(i), 7000}), now);
    }
    Tally ignore;
    drain(ignore, nullptr);
    if (ignore.closes) fail("register was refused");
  }

  static ConnId conn(std::size_t i) { return static_cast<ConnId>(i + 1); }
  std::size_t conns() const { return conns_; }

  // One read: feed `bytes` (holding `msgs` messages) to connection i and drain, as the runtime does.
  // With `collect`, the frames sent are kept per connection.
  // Not timed here: callers time whole spans of reads (see Span).
  void read(std::size_t i, std::string_view bytes, std::uint64_t msgs, Tally& t,
            std::vector<std::vector<std::string>>* collect = nullptr) {
    server_.on_data(conn(i), bytes, Clock::now());
    drain(t, collect);
    t.in += msgs;
  }

  core::Server& server() { return server_; }

  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "control_plane: %s\n", what);
    std::exit(1);
  }

 private:
  static core::ServerConfig config(unsigned file_service_slots) {
    core::ServerConfig c;
    c.file_service_slots = file_service_slots;
    c.seed = 42;
    return c;
  }

  void drain(Tally& t, std::vector<std::vector<std::string>>* collect) {
    core::ServerAction a;
    while (server_.poll_action(a)) {
      if (auto* s = std::get_if<core::SendFrame>(&a)) {
        ++t.out;
        auto type = frame_type(s->bytes);
        auto it = t.by_type.find(type);
        if (it == t.by_type.end()) it = t.by_type.emplace(std::string(type), 0).first;
        ++it->second;
        if (collect) (*collect)[s->conn - 1].push_back(std::move(s->bytes));
      } else if (std::holds_alternative<core::CloseConn>(a)) {
        ++t.closes;
      }
    }
  }

  MemoryCatalog catalog_;
  core::Server server_;
  std::size_t conns_ = 0;
};

// msg/s by wall clock, and by this thread's CPU time (what one dedicated core would do; the
// difference is time the thread spent descheduled on a busy machine).
void report(const char* mix, const Tally& t) {
  const double rate = t.seconds > 0 ? static_cast<double>(t.in) / t.seconds : 0;
  const double cpu_rate = t.cpu_seconds > 0 ? static_cast<double>(t.in) / t.cpu_seconds : 0;
  std::string replies;
  for (const auto& [type, n] : t.by_type) replies += " " + type + "=" + std::to_string(n);
  std::printf("%-46s %8llu msgs  wall %6.3f s %8.0f msg/s  cpu %6.3f s %8.0f msg/s %5.0f ns/msg  replies:%s%s\n",
              mix, static_cast<unsigned long long>(t.in), t.seconds, rate, t.cpu_seconds, cpu_rate,
              cpu_rate > 0 ? 1e9 / cpu_rate : 0.0, replies.c_str(),
              t.closes ? "  (CONNECTIONS CLOSED: protocol errors)" : "");
  std::fflush(stdout);
}

// ask_info for a known file, one frame per read.
Tally ask_info_single(std::size_t conns, std::size_t rounds) {
  Harness h(conns, 64);
  h.catalog().add("/a.bin", 40);
  h.register_all();
  const std::string f = frame(AskInfo{url_of("/a.bin")});
  Tally t;
  Span span(t);
  for (std::size_t r = 0; r < rounds; ++r)
    for (std::size_t i = 0; i < conns; ++i) h.read(i, f, 1, t);
  return t;
}

// ask_info, `per_read` frames pipelined in each read.
Tally ask_info_batched(std::size_t conns, std::size_t rounds, std::size_t per_read) {
  Harness h(conns, 64);
  h.catalog().add("/a.bin", 40);
  h.register_all();
  std::string batch;
  for (std::size_t k = 0; k < per_read; ++k) batch += frame(AskInfo{url_of("/a.bin")});
  Tally t;
  {
    Span span(t);
    for (std::size_t r = 0; r < rounds; ++r)
      for (std::size_t i = 0; i < conns; ++i) h.read(i, batch, per_read, t);
  }
  return t;
}

// What one chunk's download costs the server: request it (-> transfer from the file service),
// report it completed with its hash (-> hash_verify). Each peer has its own file, so every chunk
// comes from the file service; one frame per read.
Tally request_completed(std::size_t conns, std::size_t rounds) {
  Harness h(conns, static_cast<unsigned>(conns));
  for (std::size_t i = 0; i < conns; ++i) h.catalog().add("/f" + std::to_string(i), rounds);
  h.register_all();
  std::vector<std::string> urls;
  for (std::size_t i = 0; i < conns; ++i) urls.push_back(url_of("/f" + std::to_string(i)));
  Tally t;
  std::vector<std::string> req(conns), done(conns);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < conns; ++i) {
      req[i] = frame(Request{urls[i], chunk_range(r)});
      done[i] = frame(Completed{"10.255.0.1", urls[i], chunk_range(r), server_peer_id, chunk_hash});
    }
    Span span(t);
    for (std::size_t i = 0; i < conns; ++i) h.read(i, req[i], 1, t);
    for (std::size_t i = 0; i < conns; ++i) h.read(i, done[i], 1, t);
  }
  const auto s = h.server().snapshot(Clock::now());
  if (s.chunks_from_server != conns * rounds) Harness::fail("request/completed: not every chunk was verified");
  return t;
}

// A downloading peer's whole conversation per chunk: ask_info, request, completed, provide and an
// ask_verify about another peer; one frame per read.
Tally download_mix(std::size_t conns, std::size_t rounds) {
  Harness h(conns, static_cast<unsigned>(conns));
  for (std::size_t i = 0; i < conns; ++i) h.catalog().add("/f" + std::to_string(i), rounds);
  h.register_all();
  Tally t;
  std::vector<std::string> urls;
  for (std::size_t i = 0; i < conns; ++i) urls.push_back(url_of("/f" + std::to_string(i)));
  std::vector<std::array<std::string, 5>> frames(conns);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < conns; ++i) {
      const std::size_t other = (i + 1) % conns;
      frames[i] = {frame(AskInfo{urls[i]}), frame(Request{urls[i], chunk_range(r)}),
                   frame(Completed{"10.255.0.1", urls[i], chunk_range(r), server_peer_id, chunk_hash}),
                   frame(Provide{urls[i], chunk_range(r)}),
                   frame(AskVerify{peer_ip(other), urls[i], chunk_range(r), peer_name(other)})};
    }
    Span span(t);
    for (std::size_t k = 0; k < 5; ++k)
      for (std::size_t i = 0; i < conns; ++i) h.read(i, frames[i][k], 1, t);
  }
  return t;
}

// A real swarm: every peer requests the whole of one file; the server schedules transfers from the
// file service and between peers; each transfer is reported completed (one frame per read) until
// every peer holds every chunk. Replies are decoded outside the clock to build the next frames.
Tally swarm(std::size_t conns, ChunkIndex chunks) {
  Harness h(conns, 64);
  h.catalog().add("/swarm.bin", chunks);
  h.register_all();
  const std::string url = url_of("/swarm.bin");
  Tally t;
  std::vector<std::vector<std::string>> sent(conns);
  const std::string req = frame(Request{url, std::nullopt});
  {
    Span span(t);
    for (std::size_t i = 0; i < conns; ++i) h.read(i, req, 1, t, &sent);
  }
  std::uint64_t transfers = 0;
  for (;;) {
    std::vector<std::vector<std::string>> todo(conns);
    std::size_t pending = 0;
    for (std::size_t i = 0; i < conns; ++i) {
      for (const std::string& f : sent[i]) {
        auto m = decode_message(std::string_view(f).substr(frame_header_size));
        if (!m) Harness::fail("swarm: the server sent an undecodable frame");
        if (auto* tr = std::get_if<Transfer>(&*m)) {
          todo[i].push_back(frame(Completed{tr->host, tr->url, tr->range, tr->peer_id, chunk_hash}));
          ++pending;
          ++transfers;
        }
      }
      sent[i].clear();
    }
    if (pending == 0) break;
    Span span(t);
    for (std::size_t i = 0; i < conns; ++i)
      for (const std::string& f : todo[i]) h.read(i, f, 1, t, &sent);
  }
  const auto s = h.server().snapshot(Clock::now());
  if (s.chunks_from_server + s.chunks_from_peers != conns * chunks)
    Harness::fail("swarm: not every peer received every chunk");
  std::printf("  swarm: %llu transfers, %llu chunks from the file service, %llu from peers\n",
              static_cast<unsigned long long>(transfers), static_cast<unsigned long long>(s.chunks_from_server),
              static_cast<unsigned long long>(s.chunks_from_peers));
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t conns = 1000;
  double scale = 1.0;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--conns" && i + 1 < argc) {
      conns = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--scale" && i + 1 < argc) {
      scale = std::strtod(argv[++i], nullptr);
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: control_plane [--conns N] [--scale X] [--only ask_info|batched|request|mix|swarm]\n");
      return 2;
    }
  }
  if (conns < 2 || scale <= 0) {
    std::fprintf(stderr, "control_plane: need --conns >= 2 and --scale > 0\n");
    return 2;
  }
  auto rounds = [&](double base) { return static_cast<std::size_t>(std::max(1.0, base * scale)); };
  const auto want = [&](std::string_view mix) { return only.empty() || only == mix; };

  std::printf("server core, one thread, %zu registered connections (target >= 500000 msg/s)\n", conns);
  if (want("ask_info")) report("ask_info, 1 frame per read", ask_info_single(conns, rounds(1'000'000.0 / conns)));
  if (want("batched"))
    report("ask_info, 32 frames per read", ask_info_batched(conns, rounds(32'000.0 / conns), 32));
  if (want("request"))
    report("request + completed (file service), 1/read", request_completed(conns, rounds(400'000.0 / conns)));
  if (want("mix"))
    report("ask_info+request+completed+provide+ask_verify", download_mix(conns, rounds(200'000.0 / conns)));
  if (want("swarm")) {
    const std::size_t peers = std::min<std::size_t>(conns, 200);
    report("swarm: request whole file, completed per chunk", swarm(peers, static_cast<ChunkIndex>(rounds(2000))));
  }
  return 0;
}
