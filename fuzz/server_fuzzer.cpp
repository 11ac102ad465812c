// Fuzz the server state machine with a script of connection events. Each step is one opcode byte
// and its operands: connect, raw bytes, a well-formed message built from a few bytes (so the fuzzer
// reaches deep states: registered peers, requests, transfers, completions), disconnect, time passing.
// After every step: every frame the server sent must decode, nothing may follow a CloseConn, and the
// snapshot must respect the slot limits. Connections 3..5 come over udp (with keys): transfers to them,
// and only to them, carry peer_key, and no transfer pairs peers of different transports.
// abort() on any violation.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pdtp/core/server.hpp"
#include "pdtp/core/sha256.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"
#include "pdtp/wire/range.hpp"

namespace {

using namespace pdtp;

constexpr std::uint64_t chunk_size = 100;

class Catalog : public core::FileCatalog {
 public:
  std::optional<core::FileInfo> lookup(std::string_view path) override {
    if (path == "/a") return core::FileInfo{"/a", 950, chunk_size, false};
    if (path == "/s") return core::FileInfo{"/s", 400, chunk_size, true};
    if (path == "/e") return core::FileInfo{"/e", 0, chunk_size, false};
    return std::nullopt;
  }
  std::optional<Sha256Hex> chunk_hash(std::string_view path, ChunkIndex c) override {
    if (path == "/e") return std::nullopt;
    return hash_for(c);
  }
  static Sha256Hex hash_for(ChunkIndex c) { return std::string(63, 'a') + static_cast<char>('0' + c % 10); }
};

struct Reader {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::string_view bytes(std::size_t k) {
    if (k > n) k = n;
    std::string_view out(reinterpret_cast<const char*>(p), k);
    p += k;
    n -= k;
    return out;
  }
};

struct Driver {
  Catalog catalog;
  core::ServerConfig config = [] {
    core::ServerConfig c;
    c.peer_upload_slots = 2;
    c.peer_download_slots = 3;
    c.file_service_slots = 4;
    c.max_client_id_bytes = 8;
    c.transfer_timeout = std::chrono::seconds(5);
    c.file_service_port = 6087;
    c.udp_file_service_port = 6088;
    c.server_public_key = "server-key";
    return c;
  }();
  core::Server server{config, catalog};
  core::TimePoint now{std::chrono::hours(1)};
  std::map<core::ConnId, FrameDecoder> decoders;
  std::set<core::ConnId> open, closed;
  std::map<core::ConnId, std::vector<Transfer>> transfers;  // what each connection was told to fetch
  std::vector<core::PushChunk> pushes;  // recent pushes, some of which the driver reports as failed

  void check(bool ok) {
    if (!ok) std::abort();
  }

  static bool udp(core::ConnId conn) { return conn >= 3; }
  static std::string key_of(std::uint8_t n) { return "k" + std::to_string(n); }
  static core::PeerLink link_of(core::ConnId conn) {
    if (!udp(conn)) return {};
    return {core::LinkTransport::udp, key_of(static_cast<std::uint8_t>(conn))};
  }

  void pump() {
    core::ServerAction a;
    while (server.poll_action(a)) {
      if (auto* s = std::get_if<core::SendFrame>(&a)) {
        check(!closed.count(s->conn));
        FrameDecoder& d = decoders[s->conn];
        d.feed(s->bytes);
        for (;;) {
          auto body = d.next();
          if (!body) {
            check(body.error().code == Errc::incomplete);
            break;
          }
          auto m = decode_message(*body);
          check(m.ok());
          if (auto* t = std::get_if<Transfer>(&*m)) {
            check(t->peer_key.has_value() == udp(s->conn));
            if (t->peer_id == server_peer_id) {
              check(t->port == (udp(s->conn) ? config.udp_file_service_port : config.file_service_port));
              if (udp(s->conn)) check(*t->peer_key == config.server_public_key);
            }
            auto& list = transfers[s->conn];
            if (list.size() >= 16) list.erase(list.begin());
            list.push_back(*t);
          }
        }
        check(d.buffered() == 0);  // the server sends whole frames only
      } else if (auto* p = std::get_if<core::PushChunk>(&a)) {
        check(udp(p->conn) && !closed.count(p->conn));  // pushes go to udp peers only
        auto& list = transfers[p->conn];  // completed (or failed) like a transfer from the file service
        if (list.size() >= 16) list.erase(list.begin());
        list.push_back(Transfer{"192.168.0.1", 0, TransferMethod::get, p->path, p->range, server_peer_id});
        pushes.push_back(*p);
        if (pushes.size() > 16) pushes.erase(pushes.begin());
      } else {
        closed.insert(std::get<core::CloseConn>(a).conn);
      }
    }
    const auto snap = server.snapshot(now);
    check(snap.clients == snap.peers.size());
    std::size_t downloads = 0, uploads = 0, from_server = 0;
    for (const auto& p : snap.peers) {
      check(p.uploads <= config.peer_upload_slots);
      check(p.downloads <= config.peer_download_slots);
      downloads += p.downloads;
      uploads += p.uploads;
    }
    std::map<std::string, core::LinkTransport> transport;
    for (const auto& p : snap.peers) transport[p.id] = p.transport;
    for (const auto& t : snap.transfers) {
      from_server += t.giver == server_peer_id;
      if (t.giver != server_peer_id) check(transport.at(t.giver) == transport.at(t.taker));
    }
    check(downloads == snap.transfers.size());
    check(uploads + from_server == snap.transfers.size());
    check(from_server <= config.file_service_slots);
    check(snap.transfers.empty() == !server.next_timeout().has_value());
  }

  std::string url(std::uint8_t b) {
    static constexpr std::array<const char*, 6> urls = {"/a", "http://h/a", "/s", "/e", "/missing", "http://h/../x"};
    return urls[b % urls.size()];
  }
  std::optional<ByteRange> range(std::uint8_t b) {
    if (b < 64) return std::nullopt;
    const std::uint64_t c = b % 12;  // sometimes past the end
    if (b >= 240) return ByteRange{c * chunk_size + 1, c * chunk_size + 50};  // unaligned
    return ByteRange{c * chunk_size, c * chunk_size + chunk_size - 1};
  }

  Message message(core::ConnId conn, Reader& in) {
    const std::uint8_t kind = in.byte(), a = in.byte(), b = in.byte();
    switch (kind % 9) {
      case 0: return Register{a % 16 == 15 ? std::string(9, 'x') : "p" + std::to_string(a % 6), std::uint16_t(b % 3 == 0 ? 0 : 7000 + b)};
      case 1: return AskInfo{url(a)};
      case 2: return Request{url(a), range(b)};
      case 3: return Unrequest{url(a), range(b)};
      case 4: return Provide{url(a), range(b)};
      case 5: return Unprovide{url(a), range(b)};
      case 6: {
        auto r = range(b);
        std::optional<std::string> key;
        if (b % 4 != 0) key = key_of(b % 6);
        return AskVerify{"10.0.0." + std::to_string(a % 8), url(a / 8), r ? *r : ByteRange{0, 99},
                         "p" + std::to_string(a % 6), key};
      }
      case 7: {  // complete one of the transfers this connection was told about
        auto& list = transfers[conn];
        if (list.empty()) return Completed{"x", url(a), ByteRange{0, 99}, "p1", std::nullopt};
        const Transfer t = list[a % list.size()];
        std::optional<Sha256Hex> hash;
        if (b % 3 == 1) hash = Catalog::hash_for(t.range.min / chunk_size);
        if (b % 3 == 2) hash = std::string(64, 'f');
        return Completed{t.host, t.url, t.range, t.peer_id, hash};
      }
      default: return Transfer{"1.2.3.4", 1, TransferMethod::get, url(a), ByteRange{0, 99}, "x"};
    }
  }

  void step(Reader& in) {
    const std::uint8_t op = in.byte();
    const core::ConnId conn = in.byte() % 6;
    switch (op % 7) {
      case 0:
        if (open.count(conn)) break;
        server.on_connect(conn, "10.0.0." + std::to_string(conn), "192.168.0.1", now, link_of(conn));
        open.insert(conn);
        closed.erase(conn);
        decoders.erase(conn);
        transfers.erase(conn);
        break;
      case 1:
        if (open.count(conn)) server.on_data(conn, in.bytes(in.byte()), now);
        break;
      case 2:
      case 3:
        if (open.count(conn)) {
          std::string frame;
          if (!append_message_frame(frame, message(conn, in)).ok()) std::abort();
          const std::size_t cut = op % 7 == 3 ? frame.size() / 2 : frame.size();  // sometimes split in two
          server.on_data(conn, std::string_view(frame).substr(0, cut), now);
          server.on_data(conn, std::string_view(frame).substr(cut), now);
        }
        break;
      case 4:
        if (open.count(conn)) {
          server.on_disconnect(conn, now);
          open.erase(conn);
        }
        break;
      case 5:
        now += std::chrono::milliseconds(in.byte() * 50);
        if (auto t = server.next_timeout(); t && *t <= now) server.on_timeout(now);
        break;
      default: {
        const std::uint8_t b = in.byte();
        if (op % 2 == 0 && b % 4 == 0 && !pushes.empty()) {  // a push that could not be delivered
          const core::PushChunk p = pushes[b % pushes.size()];
          server.on_push_failed(p.conn, p.path, p.range, now);
          break;
        }
        auto r = range(b);
        const std::string key = op % 2 ? key_of(static_cast<std::uint8_t>(conn)) : std::string();
        (void)server.authorize_file_service("p" + std::to_string(conn), url(b), r ? *r : ByteRange{0, 99}, now, {},
                                            key);
        break;
      }
    }
    pump();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Driver d;
  Reader in{data, size};
  for (int steps = 0; !in.empty() && steps < 2000; ++steps) d.step(in);
  return 0;
}
