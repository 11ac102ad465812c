// Test support for the server core: an in-memory catalog and a harness that feeds frames to a
// Server and decodes the frames it sends, per connection.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pdtp/core/server.hpp"
#include "pdtp/core/sha256.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"
#include "pdtp/wire/range.hpp"

namespace pdtp::test {

class MemoryCatalog : public core::FileCatalog {
 public:
  // A file of made-up bytes; `salt` makes files with the same size differ.
  void add(const std::string& path, std::uint64_t size, std::uint64_t chunk_size, bool streaming = false,
           unsigned salt = 0) {
    std::string data(static_cast<std::size_t>(size), '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 131 + salt * 7 + i / 251) & 0xFF);
    files_[path] = File{core::FileInfo{path, size, chunk_size, streaming}, std::move(data)};
  }
  std::optional<core::FileInfo> lookup(std::string_view path) override {
    ++lookups;
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return std::nullopt;
    return it->second.info;
  }
  std::optional<Sha256Hex> chunk_hash(std::string_view path, ChunkIndex chunk) override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return std::nullopt;
    const ChunkLayout layout{it->second.info.size, it->second.info.chunk_size};
    if (chunk >= layout.chunk_count()) return std::nullopt;
    const ByteRange r = layout.chunk_range(chunk);
    return sha256_hex(std::string_view(it->second.data).substr(r.min, r.size()));
  }
  int lookups = 0;

 private:
  struct File {
    core::FileInfo info;
    std::string data;
  };
  std::map<std::string, File> files_;
};

inline std::string frame_of(const Message& m) {
  std::string out;
  REQUIRE(append_frame(out, encode_message(m)).ok());
  return out;
}
inline std::string frame_of_body(std::string_view body) {
  std::string out;
  REQUIRE(append_frame(out, body).ok());
  return out;
}

struct Harness {
  explicit Harness(core::ServerConfig config = {}) : server(config, catalog) {}

  void connect(core::ConnId c, std::string ip, core::PeerLink link = {}) {
    server.on_connect(c, std::move(ip), local_ip, now, std::move(link));
    pump();
  }
  void raw(core::ConnId c, std::string_view bytes) {
    server.on_data(c, bytes, now);
    pump();
  }
  void send(core::ConnId c, const Message& m) { raw(c, frame_of(m)); }
  void disconnect(core::ConnId c) {
    server.on_disconnect(c, now);
    pump();
  }
  void timeout() {
    server.on_timeout(now);
    pump();
  }
  // Connect and register a peer; conn N gets ip 10.0.0.N.
  void join(core::ConnId c, const std::string& id, std::uint16_t listen_port = 7000) {
    connect(c, ip_of(c));
    send(c, Register{id, listen_port});
  }
  // The same over udp, where the handshake authenticated `key`.
  void join_udp(core::ConnId c, const std::string& id, const std::string& key, std::uint16_t listen_port = 7000) {
    connect(c, ip_of(c), core::PeerLink{core::LinkTransport::udp, key});
    send(c, Register{id, listen_port});
  }
  static std::string ip_of(core::ConnId c) { return "10.0.0." + std::to_string(c); }

  // Carry out the server's actions: decode every frame it sent, note every close.
  void pump() {
    core::ServerAction a;
    while (server.poll_action(a)) {
      if (auto* s = std::get_if<core::SendFrame>(&a)) {
        REQUIRE_FALSE(closed.count(s->conn));  // nothing may follow a CloseConn
        FrameDecoder& d = decoders[s->conn];
        d.feed(s->bytes);
        for (;;) {
          auto body = d.next();
          if (!body) {
            REQUIRE(body.error().code == Errc::incomplete);
            break;
          }
          auto m = decode_message(*body);
          REQUIRE(m.ok());
          inbox[s->conn].push_back(*m);
        }
      } else if (auto* p = std::get_if<core::PushChunk>(&a)) {
        REQUIRE_FALSE(closed.count(p->conn));
        pushes[p->conn].push_back(*p);
      } else {
        closed.insert(std::get<core::CloseConn>(a).conn);
      }
    }
  }

  // Removes and returns every message of type T received on `c`.
  template <class T>
  std::vector<T> take(core::ConnId c) {
    std::vector<T> out;
    auto& box = inbox[c];
    for (auto it = box.begin(); it != box.end();) {
      if (auto* m = std::get_if<T>(&*it)) {
        out.push_back(*m);
        it = box.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }
  // Exactly one message of type T must be waiting on `c`.
  template <class T>
  T one(core::ConnId c) {
    auto all = take<T>(c);
    REQUIRE(all.size() == 1);
    return all.front();
  }

  core::ServerSnapshot snap() const { return server.snapshot(now); }

  std::string local_ip = "192.168.0.1";
  core::TimePoint now{std::chrono::hours(1)};
  MemoryCatalog catalog;
  core::Server server;
  std::map<core::ConnId, FrameDecoder> decoders;
  std::map<core::ConnId, std::vector<Message>> inbox;
  std::set<core::ConnId> closed;
  std::map<core::ConnId, std::vector<core::PushChunk>> pushes;  // file-service chunks pushed to udp peers
};

}  // namespace pdtp::test
