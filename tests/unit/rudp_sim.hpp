// A deterministic simulated network for rudp tests: a virtual clock, two endpoints joined by two
// one-way links with rate, delay, loss, reordering, duplication, corruption and blackouts, all
// driven by a seeded PRNG. Nothing here reads a real clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "pdtp/rudp/endpoint.hpp"

namespace rudp_sim {

using namespace std::chrono_literals;
using pdtp::rudp::Duration;
using pdtp::rudp::TimePoint;

// xoshiro256** seeded through splitmix64: small, fast, and the same on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return p > 0 && uniform() < p; }
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

struct LinkConfig {
  double rate = 12.5e6;               // bytes per second (100 Mbit/s)
  Duration delay = 10ms;              // one-way propagation delay
  std::size_t queue_bytes = 1 << 20;  // drop-tail queue in front of the link
  double loss = 0;                    // probability a datagram vanishes
  double reorder = 0;                 // probability a datagram is held back ...
  Duration reorder_delay = 10ms;      // ... by up to this long
  double duplicate = 0;               // probability a datagram arrives twice
  double corrupt = 0;                 // probability one bit of a datagram flips
  std::vector<std::pair<Duration, Duration>> blackouts;  // [from, to) after the start: nothing gets through
  std::size_t mtu = 0;                // datagrams larger than this are dropped (0: no limit)
  // The test's own loss rule, asked first about every datagram sent: true drops it (counted as lost).
  std::function<bool(TimePoint, std::span<const std::uint8_t>)> drop_if;
};

struct LinkStats {
  std::uint64_t sent = 0, delivered = 0, lost = 0, queue_drops = 0, blackout_drops = 0, duplicated = 0,
                corrupted = 0, bytes = 0, too_big = 0, largest = 0;
};

struct Arrival {
  TimePoint at;
  std::uint64_t seq;
  int to;
  std::vector<std::uint8_t> bytes;
  bool operator>(const Arrival& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class Link {
 public:
  Link(LinkConfig cfg, TimePoint start) : cfg_(std::move(cfg)), start_(start), busy_until_(start) {}

  void send(TimePoint now, std::vector<std::uint8_t> bytes, int to, Rng& rng, std::uint64_t& seq,
            std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>>& q) {
    ++stats.sent;
    stats.largest = std::max<std::uint64_t>(stats.largest, bytes.size());
    if (cfg_.drop_if && cfg_.drop_if(now, bytes)) {
      ++stats.lost;
      return;
    }
    if (cfg_.mtu != 0 && bytes.size() > cfg_.mtu) {
      ++stats.too_big;
      return;
    }
    for (const auto& [from, until] : cfg_.blackouts)
      if (now >= start_ + from && now < start_ + until) {
        ++stats.blackout_drops;
        return;
      }
    if (rng.chance(cfg_.loss)) {
      ++stats.lost;
      return;
    }
    const TimePoint begin = std::max(now, busy_until_);
    const double queued = std::chrono::duration<double>(begin - now).count() * cfg_.rate;
    if (queued + static_cast<double>(bytes.size()) > static_cast<double>(cfg_.queue_bytes)) {
      ++stats.queue_drops;
      return;
    }
    busy_until_ = begin + std::chrono::duration_cast<Duration>(
                              std::chrono::duration<double>(static_cast<double>(bytes.size()) / cfg_.rate));
    TimePoint at = busy_until_ + cfg_.delay;
    if (rng.chance(cfg_.reorder))
      at += std::chrono::duration_cast<Duration>(cfg_.reorder_delay * rng.uniform());
    if (rng.chance(cfg_.corrupt) && !bytes.empty()) {
      ++stats.corrupted;
      bytes[rng.below(bytes.size())] ^= static_cast<std::uint8_t>(1u << rng.below(8));
    }
    stats.bytes += bytes.size();
    if (rng.chance(cfg_.duplicate)) {
      ++stats.duplicated;
      q.push(Arrival{at + std::chrono::microseconds(1 + rng.below(2000)), seq++, to, bytes});
    }
    q.push(Arrival{at, seq++, to, std::move(bytes)});
  }

  LinkStats stats;

 private:
  LinkConfig cfg_;
  TimePoint start_;
  TimePoint busy_until_;
};

// Endpoint 0 is the client (address 0), endpoint 1 the server (address 1, accepts test connects).
class Sim {
 public:
  using Ep = pdtp::rudp::Endpoint<int>;

  Sim(const pdtp::rudp::Config& client_cfg, const pdtp::rudp::Config& server_cfg, LinkConfig up, LinkConfig down,
      std::uint64_t seed)
      : now(TimePoint{} + 1000s),
        client(client_cfg, options(false)),
        server(server_cfg, options(true)),
        up_(std::move(up), now),
        down_(std::move(down), now),
        rng_(seed) {}

  Ep& endpoint(int side) { return side == 0 ? client : server; }
  const LinkStats& uplink() const { return up_.stats; }
  const LinkStats& downlink() const { return down_.stats; }
  TimePoint start() const { return TimePoint{} + 1000s; }

  // Runs until done() or until `limit` of virtual time passes; on_event(side, event) sees every
  // event. Returns done().
  template <class OnEvent, class Done>
  bool run(OnEvent&& on_event, Done&& done, Duration limit) {
    const TimePoint deadline = now + limit;
    for (std::uint64_t guard = 0; guard < 200'000'000; ++guard) {
      bool busy = true;
      while (busy) {
        busy = false;
        for (int side = 0; side < 2; ++side)
          while (auto e = endpoint(side).poll_event()) {
            busy = true;
            on_event(side, *e);
          }
        if (done()) return true;
        for (int side = 0; side < 2; ++side)
          while (auto t = endpoint(side).poll_transmit(now)) {
            busy = true;
            (side == 0 ? up_ : down_).send(now, std::move(t->bytes), 1 - side, rng_, seq_, queue_);
          }
      }
      std::optional<TimePoint> next;
      auto take = [&next](std::optional<TimePoint> t) {
        if (t && (!next || *t < *next)) next = t;
      };
      if (!queue_.empty()) take(queue_.top().at);
      if (app_wake && *app_wake > now) take(app_wake);
      take(client.next_timeout());
      take(server.next_timeout());
      if (!next || *next > deadline) return done();
      if (*next > now) now = *next;
      while (!queue_.empty() && queue_.top().at <= now) {
        Arrival a = queue_.top();
        queue_.pop();
        endpoint(a.to).on_datagram(now, 1 - a.to, a.bytes);
      }
      for (int side = 0; side < 2; ++side)
        if (auto t = endpoint(side).next_timeout(); t && *t <= now) endpoint(side).on_timeout(now);
    }
    return false;
  }

  TimePoint now;
  Ep client;
  Ep server;
  std::optional<TimePoint> app_wake;  // the test's own timer: run() stops there so done() can act

 private:
  static pdtp::rudp::EndpointOptions options(bool server) {
    pdtp::rudp::EndpointOptions o;
    o.accept_test_connections = server;
    o.first_test_id = 1000;
    return o;
  }

  Link up_;
  Link down_;
  Rng rng_;
  std::uint64_t seq_ = 0;
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> queue_;
};

// The byte at `offset` of a test stream: cheap to compute, so no test keeps a copy of what it sent.
inline std::uint8_t pattern(std::uint64_t stream_seed, std::uint64_t offset) {
  std::uint64_t x = (offset / 8) * 0x9E3779B97F4A7C15ull + stream_seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x >> (8 * (offset % 8)));
}

}  // namespace rudp_sim

namespace rudp_sim {

// One stream from the client to the server carrying `total` pattern bytes, checked on arrival.
struct BulkTransfer {
  using Ep = Sim::Ep;
  std::uint64_t total = 0;
  std::uint64_t seed = 7;
  pdtp::rudp::ConnectionId client_conn{};
  pdtp::rudp::ConnectionId server_conn{};
  std::optional<pdtp::rudp::StreamId> stream;
  std::uint64_t written = 0;
  std::uint64_t received = 0;
  bool fin = false;
  bool mismatch = false;
  std::uint64_t short_writes = 0;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(64 * 1024);
  std::uint64_t buf_start = 0;
  std::size_t buf_len = 0;
  std::size_t read_chunk = 64 * 1024;  // a slow reader reads less per event
  bool reading = true;                 // a stalled reader reads nothing until told
  std::vector<pdtp::rudp::Event> client_events, server_events;
  pdtp::rudp::ConnectionId local_id;

  // `local` is the client's connection id, so several transfers can share one simulation.
  explicit BulkTransfer(std::uint64_t bytes, pdtp::rudp::ConnectionId local = pdtp::rudp::ConnectionId{1})
      : total(bytes), local_id(local) {}

  void start(Sim& sim) { (void)sim.client.connect(sim.now, 1, local_id); }
  void start(Sim& sim, const pdtp::rudp::Config& cfg) { (void)sim.client.connect(sim.now, 1, local_id, cfg); }

  void on_event(Sim& sim, int side, const Ep::EndpointEvent& e) {
    if (auto* c = std::get_if<Ep::Connected>(&e); c && side == 0) {
      if (c->connection != local_id) return;
      client_conn = c->connection;
      auto* conn = sim.client.connection(client_conn);
      auto id = conn->open_stream();
      if (id) stream = *id;
      pump_write(*conn);
    } else if (auto* n = std::get_if<Ep::NewConnection>(&e); n && side == 1) {
      if (sim.server.connection(n->connection)->peer_id() == local_id) server_conn = n->connection;
    } else if (auto* ce = std::get_if<Ep::ConnectionEvent>(&e)) {
      if (ce->connection != (side == 0 ? client_conn : server_conn)) return;
      (side == 0 ? client_events : server_events).push_back(ce->event);
      if (side == 0 && std::holds_alternative<pdtp::rudp::StreamWritable>(ce->event)) {
        if (auto* conn = sim.client.connection(client_conn)) pump_write(*conn);
      }
      if (side == 1 && std::holds_alternative<pdtp::rudp::StreamReadable>(ce->event)) drain(sim);
    }
  }

  void pump_write(pdtp::rudp::Connection& conn) {
    if (!stream) return;
    while (written < total) {
      // buf holds the pattern for [buf_start, buf_start + buf_len); refill only when written leaves it.
      if (written < buf_start || written >= buf_start + buf_len) {
        buf_start = written;
        buf_len = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), total - written));
        for (std::size_t i = 0; i < buf_len; ++i) buf[i] = pattern(seed, buf_start + i);
      }
      const std::size_t at = static_cast<std::size_t>(written - buf_start);
      const std::size_t n = buf_len - at;
      auto w = conn.write(*stream, std::span(buf.data() + at, n));
      if (!w) return;
      written += *w;
      if (*w < n) {
        ++short_writes;
        return;
      }
    }
    (void)conn.finish(*stream);
  }

  void drain(Sim& sim) {
    if (!reading || !stream) return;
    auto* conn = sim.server.connection(server_conn);
    if (conn == nullptr) return;
    std::vector<std::uint8_t> in(read_chunk);
    for (;;) {
      auto r = conn->read(*stream, in);
      if (!r) return;
      for (std::size_t i = 0; i < r->bytes; ++i)
        if (in[i] != pattern(seed, received + i)) mismatch = true;
      received += r->bytes;
      if (r->fin) fin = true;
      if (r->bytes == 0 || r->fin || read_chunk < buf.size()) return;
    }
  }

  bool complete() const { return fin && received == total; }
};

}  // namespace rudp_sim
