// SecureEndpoint: handshakes, encrypted streams, rekeying and the rules for unproven addresses,
// between endpoints joined by an in-memory network with a virtual clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
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
  Node(std::string name, std::uint8_t key_byte, bool accept = true)
      : addr(std::move(name)),
        keys(secure::keypair_from_secret(secure_test::secret_filled(key_byte))),
        ep(options(keys, accept), secure_test::CountingRandom{key_byte * 7919ull},
           [](const Addr& a) { return Bytes(a.begin(), a.end()); }) {}
  static secure::SecureEndpointOptions options(const secure::KeyPair& k, bool accept) {
    secure::SecureEndpointOptions o;
    o.local_static = k;
    o.accept_incoming = accept;
    o.config.keep_alive_interval = 5s;
    return o;
  }
  Addr addr;
  secure::KeyPair keys;
  Ep ep;
  std::vector<Ep::Event> events;
};

struct Net {
  core::TimePoint now = core::TimePoint{} + 1000s;
  std::vector<Node*> nodes;
  // Called on every datagram in flight; return false to drop it.
  std::function<bool(const Addr& from, const Addr& to, Bytes&)> filter;
  std::vector<std::pair<Addr, Bytes>> wire;  // every datagram sent: (to, bytes)

  Node* find(const Addr& a) {
    for (auto* n : nodes)
      if (n->addr == a) return n;
    return nullptr;
  }
  // Delivers everything pending (zero delay) and drains events; returns when quiet.
  void pump() {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      for (auto* n : nodes) {
        while (auto t = n->ep.poll_transmit(now)) {
          moved = true;
          wire.emplace_back(t->to, t->bytes);
          Bytes b = t->bytes;
          if (filter && !filter(n->addr, t->to, b)) continue;
          if (Node* dst = find(t->to)) dst->ep.on_datagram(now, n->addr, b);
        }
        while (auto e = n->ep.poll_event()) n->events.push_back(std::move(*e));
      }
      if (!moved) return;
    }
  }
  // Advances the clock to each node's next timeout, up to `limit` later.
  void run_for(core::Duration limit, std::function<bool()> done = [] { return false; }) {
    const auto end = now + limit;
    pump();
    while (now < end && !done()) {
      auto next = end;
      for (auto* n : nodes)
        if (auto t = n->ep.next_timeout(); t && *t < next) next = std::max(*t, now);
      now = std::max(now + 1ms, next);
      for (auto* n : nodes) n->ep.on_timeout(now);
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

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Writes `data` on a new stream of `h` at `from` and reads it all at `to`; returns what arrived.
Bytes send_stream(Net& net, Node& from, Ep::Handle h, Node& to, const Bytes& data) {
  auto* c = from.ep.connection(h);
  REQUIRE(c != nullptr);
  auto sid = c->open_stream();
  REQUIRE(sid.ok());
  std::size_t written = 0;
  Bytes got;
  bool fin = false;
  for (int i = 0; i < 100000 && !fin; ++i) {
    if (written < data.size()) {
      auto n = from.ep.connection(h)->write(*sid, std::span(data).subspan(written));
      REQUIRE(n.ok());
      written += *n;
      if (written == data.size()) REQUIRE(from.ep.connection(h)->finish(*sid).ok());
    }
    net.run_for(50ms);
    for (auto& e : to.events) {
      auto* ce = std::get_if<Ep::ConnectionEvent>(&e);
      if (!ce) continue;
      if (auto* r = std::get_if<rudp::StreamReadable>(&ce->event)) {
        auto* tc = to.ep.connection(ce->id);
        if (!tc) continue;
        std::uint8_t buf[65536];
        for (;;) {
          auto rr = tc->read(r->stream, buf);
          if (!rr) break;
          got.insert(got.end(), buf, buf + rr->bytes);
          if (rr->fin) fin = true;
          if (rr->bytes < sizeof buf) break;
        }
      }
    }
    to.events.clear();
  }
  return got;
}

}  // namespace

TEST_CASE("an IK connect to the right key completes and carries an encrypted stream") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  auto h = client.ep.connect(net.now, server.addr, server.keys.public_key, text("hello"));
  REQUIRE(h.ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  auto* connected = find_event<Ep::Connected>(client);
  REQUIRE(connected != nullptr);
  CHECK(connected->peer_key == server.keys.public_key);
  auto* accepted = find_event<Ep::Accepted>(server);
  REQUIRE(accepted != nullptr);
  CHECK(accepted->peer_key == client.keys.public_key);
  CHECK(accepted->payload == text("hello"));

  Bytes data;
  for (int i = 0; i < 20000; ++i) data.push_back(static_cast<std::uint8_t>(i * 31));
  auto marker = text("SECRET-MARKER-SECRET");
  data.insert(data.end(), marker.begin(), marker.end());
  client.events.clear();
  server.events.clear();
  CHECK(send_stream(net, client, *h, server, data) == data);
  for (const auto& [to, bytes] : net.wire)
    CHECK(std::search(bytes.begin(), bytes.end(), marker.begin(), marker.end()) == bytes.end());
}

TEST_CASE("an XX connect learns the responder's key") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  auto h = client.ep.connect(net.now, server.addr, std::nullopt);
  REQUIRE(h.ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  auto* connected = find_event<Ep::Connected>(client);
  REQUIRE(connected != nullptr);
  CHECK(connected->peer_key == server.keys.public_key);
  client.events.clear();
  server.events.clear();
  CHECK(send_stream(net, client, *h, server, text("over xx")) == text("over xx"));
}

TEST_CASE("an IK connect to a server holding another key fails without an answer") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  const auto other = secure::keypair_from_secret(secure_test::secret_filled(0x33)).public_key;
  auto h = client.ep.connect(net.now, server.addr, other);
  REQUIRE(h.ok());
  net.run_for(30s, [&] { return find_event<Ep::ConnectFailed>(client) != nullptr; });
  REQUIRE(find_event<Ep::ConnectFailed>(client) != nullptr);
  CHECK(find_event<Ep::Accepted>(server) == nullptr);
  CHECK(server.ep.responder_stats().dropped_bad_mac > 0);
  CHECK(server.ep.connection_count() == 0);
}

TEST_CASE("a connection outlives its keys' lifetime by rekeying") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  auto h = client.ep.connect(net.now, server.addr, server.keys.public_key);
  REQUIRE(h.ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  REQUIRE(find_event<Ep::Connected>(client) != nullptr);
  // Keep-alives every 5 s hold the connection open well past the 180 s hard limit of one key set.
  net.run_for(400s);
  REQUIRE(client.ep.connection(*h) != nullptr);
  CHECK(client.ep.stats().rekeys >= 2);
  CHECK(server.ep.stats().rekeys >= 2);
  client.events.clear();
  server.events.clear();
  CHECK(send_stream(net, client, *h, server, text("after rekey")) == text("after rekey"));
}

TEST_CASE("tampered and replayed datagrams are dropped and the stream still arrives exactly") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  auto h = client.ep.connect(net.now, server.addr, server.keys.public_key);
  REQUIRE(h.ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  std::vector<Bytes> seen;
  int tampered = 0, replayed = 0;
  net.filter = [&](const Addr&, const Addr& to, Bytes& b) {
    if (to != server.addr || b.empty() || b[0] != 0x04) return true;
    seen.push_back(b);
    if (seen.size() % 7 == 0) {
      b[b.size() / 2] ^= 0x40;
      ++tampered;
    } else if (seen.size() % 11 == 0) {
      server.ep.on_datagram(net.now, client.addr, seen[seen.size() / 2]);  // an old one again
      ++replayed;
    }
    return true;
  };
  Bytes data(200000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i ^ (i >> 8));
  server.events.clear();
  CHECK(send_stream(net, client, *h, server, data) == data);
  CHECK(tampered > 0);
  CHECK(replayed > 0);
}

TEST_CASE("a flood of handshake initiations from a spoofed address gets at most 3x its bytes back") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  // Capture 250 genuine initiations (IK and XX), then send them, and copies of them, as "victim:9".
  std::vector<Bytes> captured;
  net.filter = [&](const Addr&, const Addr&, Bytes& b) {
    if (b[0] == 0x01) captured.push_back(b);
    return false;
  };
  for (int i = 0; i < 250; ++i)
    REQUIRE(client.ep.connect(net.now, server.addr, i % 2 ? std::optional(server.keys.public_key) : std::nullopt).ok());
  net.pump();
  REQUIRE(captured.size() == 250);
  net.filter = nullptr;
  std::uint64_t in = 0, out = 0;
  for (int i = 0; i < 500; ++i) {
    const Bytes& d = captured[static_cast<std::size_t>(i) % captured.size()];
    server.ep.on_datagram(net.now, "victim:9", d);
    in += d.size();
    if (i % 50 == 0) {
      net.now += 1s;
      server.ep.on_timeout(net.now);
    }
    while (auto t = server.ep.poll_transmit(net.now)) {
      CHECK(t->to == "victim:9");
      out += t->bytes.size();
    }
  }
  // Let every connection the replays created try to send until they give up.
  for (int i = 0; i < 200; ++i) {
    net.now += 1s;
    server.ep.on_timeout(net.now);
    while (auto t = server.ep.poll_transmit(net.now)) out += t->bytes.size();
  }
  INFO("in " << in << " out " << out);
  CHECK(out <= 3 * in);
  CHECK(server.ep.responder_stats().cookie_replies > 0);
}

TEST_CASE("a late rekey response does not split the two ends onto different keys") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  auto h = client.ep.connect(net.now, server.addr, server.keys.public_key);
  REQUIRE(h.ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  REQUIRE(find_event<Ep::Connected>(client) != nullptr);
  // The first rekey response is held back; when the server answers the initiator's resend, the held
  // one arrives in its place (late, as on a slow path). Both ends must still agree on the keys.
  int dropped = 0;
  Bytes held;
  const auto rekey_time = net.now + 100s;
  net.filter = [&](const Addr& from, const Addr&, Bytes& b) {
    if (from != server.addr || b[0] != 0x02 || net.now <= rekey_time) return true;
    if (dropped == 0) {
      ++dropped;
      held = b;
      return false;
    }
    if (!held.empty()) {
      b = held;
      held.clear();
    }
    return true;
  };
  net.run_for(400s);
  CHECK(dropped == 1);
  CHECK(held.empty());
  REQUIRE(client.ep.connection(*h) != nullptr);
  CHECK(client.ep.stats().rekeys >= 2);
  client.events.clear();
  server.events.clear();
  CHECK(send_stream(net, client, *h, server, text("still talking")) == text("still talking"));
}

TEST_CASE("a copy of an initiation is answered with the same response and opens no second connection") {
  secure::ensure_sodium();
  Net net;
  Node client("client:1", 0x11, false), server("server:1", 0x22);
  net.nodes = {&client, &server};
  std::vector<Bytes> initiations, responses;
  net.filter = [&](const Addr& from, const Addr&, Bytes& b) {
    if (b[0] == 0x01) initiations.push_back(b);
    if (from == server.addr && b[0] == 0x02) responses.push_back(b);
    return true;
  };
  REQUIRE(client.ep.connect(net.now, server.addr, server.keys.public_key).ok());
  net.run_for(1s, [&] { return find_event<Ep::Connected>(client) != nullptr; });
  REQUIRE(initiations.size() == 1);
  REQUIRE(responses.size() == 1);
  // The same initiation again from the same address: the same answer, no new connection.
  server.ep.on_datagram(net.now, client.addr, initiations[0]);
  auto again = server.ep.poll_transmit(net.now);
  REQUIRE(again);
  CHECK(again->bytes == responses[0]);
  // From another address: no answer at all.
  server.ep.on_datagram(net.now, "elsewhere:7", initiations[0]);
  CHECK(!server.ep.poll_transmit(net.now));
  net.pump();
  int accepted = 0;
  for (const auto& e : server.events) accepted += std::holds_alternative<Ep::Accepted>(e) ? 1 : 0;
  CHECK(accepted == 1);
  CHECK(server.ep.connection_count() == 1);
}

TEST_CASE("an initiation the responder cannot take gets no answer, so the initiator sees no connection") {
  secure::ensure_sodium();
  Net net;
  Node a("client:1", 0x11, false), b("client:2", 0x12, false);
  const auto server_keys = secure::keypair_from_secret(secure_test::secret_filled(0x22));
  secure::SecureEndpointOptions o;
  o.local_static = server_keys;
  o.max_connections = 1;  // room for one connection only
  Ep ep(o, secure_test::CountingRandom{5}, [](const Addr& x) { return Bytes(x.begin(), x.end()); });
  std::vector<Bytes> to_b;
  auto deliver = [&](Node& from) {
    while (auto t = from.ep.poll_transmit(net.now)) ep.on_datagram(net.now, from.addr, t->bytes);
    while (auto t = ep.poll_transmit(net.now)) {
      if (t->to == a.addr) a.ep.on_datagram(net.now, "server:1", t->bytes);
      if (t->to == b.addr) to_b.push_back(t->bytes);
    }
    while (auto e = from.ep.poll_event()) from.events.push_back(std::move(*e));
  };
  REQUIRE(a.ep.connect(net.now, "server:1", server_keys.public_key).ok());
  deliver(a);
  REQUIRE(find_event<Ep::Connected>(a) != nullptr);
  REQUIRE(b.ep.connect(net.now, "server:1", server_keys.public_key).ok());
  deliver(b);
  CHECK(to_b.empty());
  CHECK(ep.connection_count() == 1);
}
