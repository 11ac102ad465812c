// Many streams at once, and connection lifetime, over the simulated network.
#include <catch2/catch.hpp>

#include <map>

#include "rudp_sim.hpp"

using namespace pdtp::rudp;
using namespace rudp_sim;

namespace {

// The client sends `count` streams of `size` bytes each (as many at once as the server allows);
// the server checks each and finishes its own half so the stream's slot is returned.
struct ManyStreams {
  using Ep = Sim::Ep;
  std::uint64_t count;
  std::uint64_t size;
  ConnectionId client_conn{};
  ConnectionId server_conn{};
  std::uint64_t opened = 0;
  std::uint64_t completed = 0;
  std::uint64_t max_concurrent = 0;
  std::uint64_t would_block = 0;
  bool mismatch = false;
  std::map<std::uint64_t, std::uint64_t> written;   // by stream id
  std::map<std::uint64_t, std::uint64_t> received;  // by stream id
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(16 * 1024);

  ManyStreams(std::uint64_t n, std::uint64_t bytes) : count(n), size(bytes) {}

  void on_event(Sim& sim, int side, const Ep::EndpointEvent& e) {
    if (auto* c = std::get_if<Ep::Connected>(&e)) {
      client_conn = c->connection;
      open_more(sim);
    } else if (auto* n = std::get_if<Ep::NewConnection>(&e)) {
      server_conn = n->connection;
    } else if (auto* ce = std::get_if<Ep::ConnectionEvent>(&e)) {
      if (side == 0) {
        if (std::holds_alternative<StreamsAvailable>(ce->event)) open_more(sim);
        if (auto* w = std::get_if<StreamWritable>(&ce->event)) pump(*sim.client.connection(client_conn), w->stream);
        if (std::holds_alternative<StreamReadable>(ce->event)) {
          // The server's (empty) half: reading its FIN lets the client forget the stream.
          auto* conn = sim.client.connection(client_conn);
          (void)conn->read(std::get<StreamReadable>(ce->event).stream, buf);
        }
      } else if (auto* r = std::get_if<StreamReadable>(&ce->event)) {
        read(*sim.server.connection(server_conn), r->stream);
      }
    }
  }

  void open_more(Sim& sim) {
    auto* conn = sim.client.connection(client_conn);
    while (opened < count) {
      auto id = conn->open_stream();
      if (!id) {
        ++would_block;
        return;
      }
      ++opened;
      written[to_u64(*id)] = 0;
      max_concurrent = std::max<std::uint64_t>(max_concurrent, conn->stream_count());
      pump(*conn, *id);
    }
  }

  void pump(Connection& conn, StreamId id) {
    auto& w = written[to_u64(id)];
    while (w < size) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - w));
      for (std::size_t i = 0; i < n; ++i) buf[i] = pattern(to_u64(id), w + i);
      auto r = conn.write(id, std::span(buf.data(), n));
      if (!r) return;
      w += *r;
      if (*r < n) return;
    }
    (void)conn.finish(id);
  }

  void read(Connection& conn, StreamId id) {
    std::vector<std::uint8_t> in(16 * 1024);
    auto& got = received[to_u64(id)];
    for (;;) {
      auto r = conn.read(id, in);
      if (!r) return;
      for (std::size_t i = 0; i < r->bytes; ++i)
        if (in[i] != pattern(to_u64(id), got + i)) mismatch = true;
      got += r->bytes;
      if (r->fin) {
        if (got == size) ++completed;
        (void)conn.finish(id);
        return;
      }
      if (r->bytes == 0) return;
    }
  }

  bool done() const { return completed == count; }
};

}  // namespace

TEST_CASE("300 streams at once arrive intact through loss, more than the peer allows open at a time") {
  LinkConfig link;
  link.loss = 0.02;
  link.reorder = 0.02;
  Config client_cfg;
  Config server_cfg;
  server_cfg.max_incoming_streams = 64;
  Sim sim(client_cfg, server_cfg, link, link, 21);
  ManyStreams m(300, 20 * 1024);
  (void)sim.client.connect(sim.now, 1, ConnectionId{1});
  REQUIRE(sim.run([&](int side, const auto& e) { m.on_event(sim, side, e); }, [&] { return m.done(); }, 300s));
  CHECK_FALSE(m.mismatch);
  CHECK(m.completed == 300);
  CHECK(m.would_block > 0);
  CHECK(m.max_concurrent <= 64);
  // Every stream was forgotten on both sides once done.
  auto finished = sim.run([&](int side, const auto& e) { m.on_event(sim, side, e); },
                          [&] {
                            return sim.client.connection(m.client_conn)->stream_count() == 0 &&
                                   sim.server.connection(m.server_conn)->stream_count() == 0;
                          },
                          10s);
  CHECK(finished);
}

TEST_CASE("both ends close on the idle timeout when the link dies mid-transfer") {
  LinkConfig link;
  link.blackouts = {{1s, 100000s}};
  Config cfg;
  cfg.idle_timeout = 5s;
  Sim sim(cfg, cfg, link, link, 22);
  BulkTransfer t(100 << 20);
  t.start(sim);
  REQUIRE(sim.run([&](int side, const auto& e) { t.on_event(sim, side, e); },
                  [&] {
                    return t.client_conn != ConnectionId{} && sim.client.connection_count() == 0 &&
                           sim.server.connection_count() == 0;
                  },
                  600s));
  int idle = 0;
  for (const auto* list : {&t.client_events, &t.server_events})
    for (const auto& e : *list)
      if (auto* c = std::get_if<ConnectionClosed>(&e); c && c->reason == CloseReason::idle_timeout) ++idle;
  CHECK(idle == 2);
  CHECK(sim.now - sim.start() >= 6s);
  CHECK(sim.now - sim.start() < 60s);
}

TEST_CASE("graceful close over a lossy link delivers everything before the peer hears CLOSE") {
  LinkConfig link;
  link.loss = 0.05;
  Config cfg;
  Sim sim(cfg, cfg, link, link, 23);
  BulkTransfer t(3 << 20);
  t.start(sim);
  bool closing = false;
  REQUIRE(sim.run(
      [&](int side, const auto& e) {
        t.on_event(sim, side, e);
        // Close as soon as everything is written (without finishing the stream).
        if (!closing && t.written == t.total && side == 0) {
          closing = true;
          sim.client.connection(t.client_conn)->close(7, "all sent");
        }
      },
      [&] {
        for (const auto& e : t.server_events)
          if (std::holds_alternative<ConnectionClosed>(e)) return true;
        return false;
      },
      120s));
  CHECK(t.received == t.total);
  CHECK_FALSE(t.mismatch);
  const ConnectionClosed* seen = nullptr;
  for (const auto& e : t.server_events)
    if (auto* c = std::get_if<ConnectionClosed>(&e)) seen = c;
  REQUIRE(seen != nullptr);
  CHECK(seen->reason == CloseReason::peer);
  CHECK(seen->code == 7);
  CHECK(seen->message == "all sent");
}
