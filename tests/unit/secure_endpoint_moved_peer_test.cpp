// SecureEndpoint when a connection's packets start coming from another address: an on-path attacker
// racing copies of genuine packets from a spoofed source, and a client whose NAT mapping changed.
// The new address gets at most 3x what it sent until a handshake proves it.
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pdtp/secure/endpoint.hpp"
#include "secure_test_support.hpp"

using namespace pdtp;
using namespace std::chrono_literals;
using secure::Bytes;

namespace {

using Addr = std::string;
using Ep = secure::SecureEndpoint<Addr>;

struct Node {
  Node(Addr name, std::uint8_t key_byte, bool accept, core::Duration rekey_after = 120s)
      : addr(std::move(name)),
        keys(secure::keypair_from_secret(secure_test::secret_filled(key_byte))),
        ep(options(keys, accept, rekey_after), secure_test::random_source(key_byte * 7919ull),
           [](const Addr& a) { return Bytes(a.begin(), a.end()); }) {}
  static secure::SecureEndpointOptions options(const secure::KeyPair& k, bool accept, core::Duration rekey_after) {
    secure::SecureEndpointOptions o;
    o.local_static = k;
    o.accept_incoming = accept;
    o.config.keep_alive_interval = 2s;
    o.key_limits.rekey_after_time = rekey_after;
    return o;
  }
  Addr addr;
  secure::KeyPair keys;
  Ep ep;
  std::vector<Ep::Event> events;
};

// Two nodes joined without delay. `route` decides, for each datagram, which source addresses it
// arrives from at the receiver (several: copies; none: lost); by default its real one.
struct Net {
  core::TimePoint now = core::TimePoint{} + 1000s;
  Node* a = nullptr;
  Node* b = nullptr;
  std::function<std::vector<Addr>(const Node& from, const Bytes&)> route;
  std::map<Addr, Node*> at;                    // who receives what is sent to an address
  std::map<Addr, std::uint64_t> sent_to;       // bytes sent to each address
  std::map<Addr, std::uint64_t> received_from; // bytes arriving from each address

  void pump() {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      for (Node* n : {a, b}) {
        while (auto t = n->ep.poll_transmit(now)) {
          moved = true;
          sent_to[t->to] += t->bytes.size();
          auto dst = at.find(t->to);
          if (dst == at.end()) continue;  // e.g. the victim of a spoofed address: it drops it
          const std::vector<Addr> sources = route ? route(*n, t->bytes) : std::vector<Addr>{n->addr};
          for (const Addr& src : sources) {
            received_from[src] += t->bytes.size();
            dst->second->ep.on_datagram(now, src, t->bytes);
          }
        }
        while (auto e = n->ep.poll_event()) n->events.push_back(std::move(*e));
      }
      if (!moved) return;
    }
  }
  void run_for(core::Duration limit, const std::function<bool()>& done) {
    const auto end = now + limit;
    pump();
    while (now < end && !done()) {
      auto next = end;
      for (Node* n : {a, b})
        if (auto t = n->ep.next_timeout(); t && *t < next) next = std::max(*t, now);
      now = std::max(now + 1ms, next);
      for (Node* n : {a, b}) n->ep.on_timeout(now);
      pump();
    }
  }
};

template <class T>
const T* find_event(const Node& n) {
  for (const auto& e : n.events)
    if (auto* p = std::get_if<T>(&e)) return p;
  return nullptr;
}

// Connects `client` to `server` (IK) and returns both handles.
std::pair<Ep::Handle, Ep::Handle> connect(Net& net, Node& client, Node& server) {
  auto h = client.ep.connect(net.now, server.addr, server.keys.public_key);
  REQUIRE(h.ok());
  net.run_for(2s, [&] { return find_event<Ep::Connected>(client) && find_event<Ep::Accepted>(server); });
  REQUIRE(find_event<Ep::Connected>(client) != nullptr);
  auto* accepted = find_event<Ep::Accepted>(server);
  REQUIRE(accepted != nullptr);
  return {*h, accepted->id};
}

// The server writing `size` bytes on one stream to the client, step by step as virtual time passes.
struct ServerStream {
  ServerStream(Node& server, Ep::Handle sh, Node& client, std::size_t size)
      : server(server), sh(sh), client(client), data(size) {
    for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<std::uint8_t>(i * 13);
    auto* sc = server.ep.connection(sh);
    REQUIRE(sc != nullptr);
    auto opened = sc->open_stream();
    REQUIRE(opened.ok());
    sid = *opened;
  }
  // Writes what fits, reads what arrived; true once everything arrived.
  bool step() {
    if (auto* c = server.ep.connection(sh); c && written < data.size()) {
      auto n = c->write(sid, std::span(data).subspan(written));
      if (n.ok()) written += *n;
    }
    for (auto& e : client.events) {
      auto* ce = std::get_if<Ep::ConnectionEvent>(&e);
      if (!ce || !std::holds_alternative<rudp::StreamReadable>(ce->event)) continue;
      auto* cc = client.ep.connection(ce->id);
      if (!cc) continue;
      std::uint8_t buf[65536];
      for (;;) {
        auto r = cc->read(std::get<rudp::StreamReadable>(ce->event).stream, buf);
        if (!r || r->bytes == 0) break;
        received += r->bytes;
      }
    }
    client.events.clear();
    return received >= data.size();
  }
  Node& server;
  Ep::Handle sh;
  Node& client;
  Bytes data;
  rudp::StreamId sid{};
  std::size_t written = 0, received = 0;
};

}  // namespace

TEST_CASE("copies of a client's packets raced from a spoofed address get that address at most 3x their bytes") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22, true);
  net.a = &client;
  net.b = &server;
  net.at = {{client.addr, &client}, {server.addr, &server}};
  auto [ch, sh] = connect(net, client, server);
  (void)ch;
  // An on-path attacker copies every 4th packet of the client and gets its copy there first, from
  // the victim's address; the genuine packet then arrives as a duplicate.
  int count = 0;
  net.route = [&](const Node& from, const Bytes& b) -> std::vector<Addr> {
    if (&from != &client || b.empty() || b[0] != 0x04) return {from.addr};
    if (++count % 4 == 0) return {"victim:9", from.addr};
    return {from.addr};
  };
  ServerStream stream(server, sh, client, 300000);
  net.run_for(120s, [&] { return stream.step(); });
  INFO("sent to the victim " << net.sent_to["victim:9"] << ", received from it " << net.received_from["victim:9"]);
  CHECK(net.received_from["victim:9"] > 0);
  CHECK(net.sent_to["victim:9"] <= 3 * net.received_from["victim:9"]);
  CHECK(stream.received == 300000);  // the genuine client's next packet brings the flow back to its proven address
}

TEST_CASE("a client whose address changed is limited to 3x there until its next rekey proves the new address") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false, 20s), server("server:1", 0x22, true);
  net.a = &client;
  net.b = &server;
  net.at = {{client.addr, &client}, {server.addr, &server}};
  auto [ch, sh] = connect(net, client, server);
  (void)ch;
  // The client's NAT mapping changes: its packets now come from client:2, which reaches it too.
  net.at["client:2"] = &client;
  net.route = [&](const Node& from, const Bytes&) -> std::vector<Addr> {
    return {&from == &client ? Addr("client:2") : from.addr};
  };
  const auto rekeys_before = server.ep.stats().rekeys;
  // Before the client's rekey (20 s after connecting) the server may send client:2 only 3x its bytes.
  ServerStream stream(server, sh, client, 2000000);
  net.run_for(10s, [&] { return stream.step(); });
  CHECK(server.ep.stats().rekeys == rekeys_before);
  CHECK(net.sent_to["client:2"] <= 3 * net.received_from["client:2"]);
  CHECK(net.sent_to["client:2"] > 0);
  // The rekey handshake comes from client:2 and is answered there: the address is proven.
  net.run_for(60s, [&] { return stream.step(); });
  CHECK(server.ep.stats().rekeys > rekeys_before);
  CHECK(stream.received == 2000000);
  CHECK(net.sent_to["client:2"] > 3 * net.received_from["client:2"]);
  CHECK(*server.ep.peer_address(sh) == "client:2");
}
