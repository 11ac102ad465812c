// Whole transfers over the simulated network: byte-exact delivery through loss, reordering,
// duplication, corruption and blackouts; congestion response; flow control against a slow reader.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <vector>

#include "rudp_sim.hpp"

using namespace pdtp::rudp;
using namespace rudp_sim;

namespace {
double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

template <class Probe>
bool run_transfer(Sim& sim, BulkTransfer& t, Duration limit, Probe&& probe) {
  t.start(sim);
  return sim.run([&](int side, const auto& e) { t.on_event(sim, side, e); },
                 [&] {
                   probe();
                   return t.complete();
                 },
                 limit);
}
bool run_transfer(Sim& sim, BulkTransfer& t, Duration limit) {
  return run_transfer(sim, t, limit, [] {});
}
}  // namespace

TEST_CASE("a 1 MB stream arrives byte-exact over a clean link") {
  Config cfg;
  Sim sim(cfg, cfg, LinkConfig{}, LinkConfig{}, 1);
  BulkTransfer t(1 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  CHECK_FALSE(t.mismatch);
  CHECK(t.received == t.total);
}

TEST_CASE("the sender's stats say where its time went: held by the window or the pacer, not idle") {
  LinkConfig link;
  link.rate = 2.5e6;  // 1 MB takes 0.4 s at best: the sender is limited by the path, not the data
  Config cfg;
  Sim sim(cfg, cfg, link, LinkConfig{}, 11);
  BulkTransfer t(1 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  const auto& st = sim.client.connection(t.client_conn)->stats();
  const Duration limited = st.time_window_limited + st.time_pacing_limited;
  CHECK(limited > 200ms);
  CHECK(limited <= sim.now - sim.start());
  CHECK(st.time_idle < limited);
}

TEST_CASE("50 MB arrive byte-exact through 5% loss, reordering, duplication, 1% corruption and a 2 s blackout",
          "[rudp][long]") {
  LinkConfig link;
  link.loss = 0.05;
  link.reorder = 0.05;
  link.duplicate = 0.02;
  link.corrupt = 0.01;
  link.blackouts = {{1s, 3s}};
  Config cfg;
  Sim sim(cfg, cfg, link, link, 50);
  BulkTransfer t(50ull << 20);
  REQUIRE(run_transfer(sim, t, 600s));
  CHECK_FALSE(t.mismatch);
  CHECK(t.received == t.total);
  // Every impairment really happened, and corrupted datagrams were caught, not delivered.
  CHECK(sim.uplink().lost > 1000);
  CHECK(sim.uplink().duplicated > 100);
  CHECK(sim.uplink().corrupted > 100);
  CHECK(sim.uplink().blackout_drops > 0);
  CHECK(sim.server.connection(t.server_conn)->stats().packets_dropped > 0);
  CHECK(sim.server.connection(t.server_conn)->stats().duplicates > 0);
}

TEST_CASE("random loss alone does not collapse the default (BBR) sending rate") {
  LinkConfig link;  // 12.5 MB/s
  link.loss = 0.05;
  Config cfg;
  Sim sim(cfg, cfg, link, link, 3);
  BulkTransfer t(20 << 20);
  REQUIRE(run_transfer(sim, t, 120s));
  CHECK_FALSE(t.mismatch);
  // Virtual time, so this is a property of the algorithm, not of the machine running the test.
  const double goodput = static_cast<double>(t.total) / seconds(sim.now - sim.start());
  CHECK(goodput > 0.7 * link.rate);
  CHECK(sim.client.connection(t.client_conn)->pacing_rate() > 0.7 * link.rate);
}

TEST_CASE("NewReno's window backs off when the bottleneck queue overflows") {
  LinkConfig link;
  link.rate = 2.5e6;
  link.queue_bytes = 40 * 1024;
  Config cfg;
  cfg.congestion = CongestionAlgorithm::new_reno;
  Sim sim(cfg, cfg, link, LinkConfig{}, 4);
  BulkTransfer t(8 << 20);
  std::uint64_t peak = 0;
  bool backed_off = false;
  REQUIRE(run_transfer(sim, t, 120s, [&] {
    auto* c = sim.client.connection(t.client_conn);
    if (c == nullptr) return;
    const std::uint64_t w = c->congestion_window();
    if (w > peak) peak = w;
    if (peak > 0 && w <= peak / 2 + 2 * cfg.max_datagram_size) backed_off = true;
  }));
  CHECK_FALSE(t.mismatch);
  CHECK(sim.uplink().queue_drops > 0);
  CHECK(backed_off);
}

TEST_CASE("after a long blackout the window collapses to the minimum, then the transfer completes") {
  LinkConfig link;
  link.blackouts = {{500ms, 3500ms}};
  Config cfg;
  Sim sim(cfg, cfg, link, link, 5);
  BulkTransfer t(20 << 20);
  std::uint64_t before = 0;
  std::uint64_t after = UINT64_MAX;
  REQUIRE(run_transfer(sim, t, 120s, [&] {
    auto* c = sim.client.connection(t.client_conn);
    if (c == nullptr) return;
    if (sim.now - sim.start() < 500ms) before = std::max(before, c->congestion_window());
    if (c->recovery().persistent_congestion_events() > 0) after = std::min(after, c->congestion_window());
  }));
  CHECK_FALSE(t.mismatch);
  CHECK(sim.client.connection(t.client_conn)->recovery().persistent_congestion_events() > 0);
  // The window restarts from the minimum; the first ACK after the blackout adds what it acknowledged.
  CHECK(after < before / 2);
}

TEST_CASE("LEDBAT mode moves data and keeps the queue near its delay target") {
  LinkConfig link;
  link.rate = 2.5e6;
  link.queue_bytes = 4 << 20;  // deep enough for 1.6 s of queueing
  Config cfg;
  cfg.congestion = CongestionAlgorithm::ledbat;
  cfg.ledbat_target = 50ms;
  Sim sim(cfg, cfg, link, LinkConfig{}, 6);
  BulkTransfer t(8 << 20);
  Duration worst{};
  REQUIRE(run_transfer(sim, t, 120s, [&] {
    auto* c = sim.client.connection(t.client_conn);
    if (c != nullptr && sim.now - sim.start() > 2s) worst = std::max(worst, c->rtt().smoothed() - c->rtt().min());
  }));
  CHECK_FALSE(t.mismatch);
  CHECK(sim.uplink().queue_drops == 0);
  // Smoothed queueing delay stays within a few targets (a loss-based sender would fill the 1.6 s queue).
  CHECK(worst < 200ms);
}

TEST_CASE("1452-byte datagrams are used when configured, and never exceeded") {
  Config cfg;
  cfg.max_datagram_size = 1452;
  Sim sim(cfg, cfg, LinkConfig{}, LinkConfig{}, 7);
  BulkTransfer t(2 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  CHECK_FALSE(t.mismatch);
  const auto& s = sim.client.connection(t.client_conn)->stats();
  // Average datagram size close to the maximum proves large datagrams were used.
  CHECK(static_cast<double>(s.bytes_sent) / static_cast<double>(s.packets_sent) > 1300);
  CHECK(sim.uplink().bytes <= sim.uplink().sent * 1452);
}

TEST_CASE("a slow reader is never overrun: the receive buffer stays within the window and the writer is blocked") {
  Config cfg;
  cfg.stream_receive_window = 64 * 1024;
  cfg.connection_receive_window = 256 * 1024;
  cfg.stream_send_buffer = 64 * 1024;
  Sim sim(cfg, cfg, LinkConfig{}, LinkConfig{}, 8);
  BulkTransfer t(4 << 20);
  t.reading = false;  // the reader stalls for the first ten seconds, then reads 1 KiB per event
  t.read_chunk = 1024;
  std::uint64_t max_buffered = 0;
  std::size_t max_memory = 0;
  bool resumed = false;
  sim.app_wake = sim.now + 10s + 1ms;
  REQUIRE(run_transfer(sim, t, 600s, [&] {
    auto* server = sim.server.connection(t.server_conn);
    if (server == nullptr || !t.stream) return;
    max_buffered = std::max(max_buffered, server->receive_buffered(*t.stream));
    max_memory = std::max(max_memory, server->buffer_memory());
    if (!resumed && sim.now - sim.start() > 10s) {
      resumed = true;
      t.reading = true;
      t.drain(sim);
    } else if (resumed) {
      t.drain(sim);
    }
  }));
  CHECK_FALSE(t.mismatch);
  CHECK(t.short_writes > 0);
  CHECK(max_buffered <= 64 * 1024);
  CHECK(max_memory <= 2 * 64 * 1024 + 64 * 1024);
  CHECK(sim.client.connection(t.client_conn)->send_buffered(*t.stream) <= 64 * 1024);
}

TEST_CASE("a LEDBAT connection yields to a NewReno or BBR connection sharing the bottleneck") {
  LinkConfig link;
  link.rate = 1.25e6;
  link.queue_bytes = 1 << 20;  // deep: a loss-based flow builds a long queue before any drop
  Config foreground;
  foreground.congestion = GENERATE(CongestionAlgorithm::new_reno, CongestionAlgorithm::bbr);
  Config background;
  background.congestion = CongestionAlgorithm::ledbat;
  background.ledbat_target = 50ms;
  Sim sim(foreground, foreground, link, LinkConfig{}, 9);
  BulkTransfer fg(400 << 20, ConnectionId{1});
  BulkTransfer bg(400 << 20, ConnectionId{2});
  fg.start(sim);
  bg.start(sim, background);
  // Both run for 20 s of virtual time (neither finishes).
  sim.run(
      [&](int side, const auto& e) {
        fg.on_event(sim, side, e);
        bg.on_event(sim, side, e);
      },
      [] { return false; }, 20s);
  CHECK_FALSE(fg.mismatch);
  CHECK_FALSE(bg.mismatch);
  CHECK(fg.received > 0);
  CHECK(bg.received > 0);
  CHECK(bg.received * 3 < fg.received);
  // The link was still used fully between the two.
  CHECK(static_cast<double>(fg.received + bg.received) > 0.8 * link.rate * 20);
}

TEST_CASE("BBR settles under a shallow bottleneck queue instead of overflowing it for the whole transfer") {
  LinkConfig link;  // 12.5 MB/s, 20 ms one way: a BDP of 500 kB in front of a queue of a fifth of that
  link.delay = 20ms;
  link.queue_bytes = 100 * 1024;
  Config cfg;
  Sim sim(cfg, cfg, link, LinkConfig{}, 6);
  BulkTransfer t(40 << 20);
  REQUIRE(run_transfer(sim, t, 120s));
  CHECK_FALSE(t.mismatch);
  const auto& up = sim.uplink();
  INFO("queue drops " << up.queue_drops << " of " << up.sent);
  // Startup overshoots once; after that the estimate must stay at what the bottleneck delivers.
  CHECK(static_cast<double>(up.queue_drops) < 0.03 * static_cast<double>(up.sent));
  const double goodput = static_cast<double>(t.total) / seconds(sim.now - sim.start());
  CHECK(goodput > 0.8 * link.rate);
}

TEST_CASE("a path MTU probe that is acknowledged raises the datagram size") {
  LinkConfig link;
  link.mtu = 1472;  // Ethernet less the IPv4 and UDP headers
  Config cfg;
  cfg.probe_datagram_size = 1452;
  Sim sim(cfg, cfg, link, link, 12);
  BulkTransfer t(4 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  CHECK_FALSE(t.mismatch);
  const auto* c = sim.client.connection(t.client_conn);
  CHECK(c->datagram_size() == 1452);
  CHECK(sim.uplink().largest == 1452);
  CHECK(sim.uplink().too_big == 0);
  CHECK(c->stats().mtu_probes_lost == 0);
  // Most of the data went in the larger datagrams: far fewer packets than 1200-byte ones would take.
  CHECK(c->stats().packets_sent < (4 << 20) / 1300);
}

namespace {
// Send times of the client's path MTU probes (its only 1452-byte datagrams), seen on the uplink.
struct ProbeLog {
  std::vector<TimePoint> sent;
  bool operator()(TimePoint now, std::span<const std::uint8_t> d) {
    if (d.size() == 1452) sent.push_back(now);
    return false;
  }
};

// A 1280-byte path whose uplink notes every 1452-byte probe in `log`, and a config that probes 1452.
struct SmallMtuPath {
  std::shared_ptr<ProbeLog> log = std::make_shared<ProbeLog>();
  Config cfg;
  LinkConfig up, down;
  SmallMtuPath() {
    cfg.probe_datagram_size = 1452;
    up.mtu = 1280;
    down = up;  // the log is for the client's probes
    up.drop_if = [log = log](TimePoint t, std::span<const std::uint8_t> d) { return (*log)(t, d); };
  }
};
}  // namespace

TEST_CASE("a path MTU probe the path drops is tried three times, then the size stays; no congestion is seen") {
  SmallMtuPath path;
  auto& log = path.log;
  const Config& cfg = path.cfg;
  Sim sim(cfg, cfg, path.up, path.down, 13);
  BulkTransfer t(4 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  CHECK_FALSE(t.mismatch);
  const auto* c = sim.client.connection(t.client_conn);
  // The retries wait for their timers: let them run out.
  REQUIRE(sim.run([](int, const auto&) {}, [&] { return c->mtu_probe().searches_given_up() == 1; }, 20s));
  CHECK(c->datagram_size() == cfg.max_datagram_size);
  CHECK(sim.uplink().too_big == 3);
  CHECK(log->sent.size() == 3);
  CHECK(c->stats().mtu_probes_lost == 3);
  CHECK(c->stats().packets_lost == 0);
  CHECK(c->recovery().persistent_congestion_events() == 0);
}

TEST_CASE("a lost path MTU probe is retried after a probe timer that grows, not at once") {
  SmallMtuPath path;
  auto& log = path.log;
  const Config& cfg = path.cfg;
  Sim sim(cfg, cfg, path.up, path.down, 14);
  BulkTransfer t(4 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  const auto* c = sim.client.connection(t.client_conn);
  REQUIRE(sim.run([](int, const auto&) {}, [&] { return log->sent.size() == 3; }, 20s));
  // A loss is found about a round trip after the probe; a retry at once would follow within about
  // one more. The probe timer (two probe timeouts, doubling) keeps the retries well apart.
  const Duration rtt = c->rtt().min();
  REQUIRE(rtt > 20ms);  // 2 x 10 ms propagation
  const Duration first_gap = log->sent[1] - log->sent[0];
  const Duration second_gap = log->sent[2] - log->sent[1];
  CHECK(first_gap > 3 * rtt);
  CHECK(second_gap > first_gap + 2 * rtt);
}

TEST_CASE("a path MTU probe lost with ordinary packets is congestion, not a failed try: probing goes on to 1452") {
  // Each of the first four probes goes into a full queue: it and the datagrams right behind it are
  // lost together, as a bottleneck overflowing in slow start would lose them.
  struct Congestion {
    int probes_dropped = 0;
    int burst = 0;
    bool operator()(TimePoint, std::span<const std::uint8_t> d) {
      if (d.size() == 1452 && probes_dropped < 4) {
        ++probes_dropped;
        burst = 8;
        return true;
      }
      if (burst > 0) {
        --burst;
        return true;
      }
      return false;
    }
  };
  auto congestion = std::make_shared<Congestion>();
  LinkConfig link;
  link.mtu = 1472;
  link.rate = 2.5e6;  // 20 Mbit/s: the transfer outlasts the retries
  link.drop_if = [congestion](TimePoint t, std::span<const std::uint8_t> d) { return (*congestion)(t, d); };
  Config cfg;
  cfg.probe_datagram_size = 1452;
  Sim sim(cfg, cfg, link, LinkConfig{}, 15);
  BulkTransfer t(8 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  CHECK_FALSE(t.mismatch);
  const auto* c = sim.client.connection(t.client_conn);
  CHECK(congestion->probes_dropped == 4);
  CHECK(c->stats().mtu_probes_lost == 4);
  CHECK(c->stats().packets_lost >= 4);
  CHECK(c->mtu_probe().probes_sent() == 5);
  CHECK(c->mtu_probe().searches_given_up() == 0);
  CHECK(c->datagram_size() == 1452);
  CHECK(sim.uplink().largest == 1452);
}

TEST_CASE("a path MTU search that gave up starts again after the raise timer (10 minutes)") {
  SmallMtuPath path;
  auto& log = path.log;
  Config& cfg = path.cfg;
  cfg.keep_alive_interval = 5s;  // the connection lives on, quiet, for the whole wait
  Sim sim(cfg, cfg, path.up, path.down, 16);
  BulkTransfer t(1 << 20);
  REQUIRE(run_transfer(sim, t, 60s));
  const auto* c = sim.client.connection(t.client_conn);
  REQUIRE(sim.run([](int, const auto&) {}, [&] { return c->mtu_probe().searches_given_up() == 1; }, 20s));
  const TimePoint gave_up = sim.now;
  REQUIRE(log->sent.size() == 3);
  REQUIRE(sim.run([](int, const auto&) {}, [&] { return log->sent.size() == 4; }, 700s));
  CHECK(log->sent[3] - gave_up >= mtu_raise_interval);
  CHECK(log->sent[3] - gave_up < mtu_raise_interval + 10s);
  CHECK(c->datagram_size() == cfg.max_datagram_size);
  CHECK_FALSE(c->is_closed());
}
