// A whole server SecureEndpoint (fixed key, deterministic randomness, virtual clock) fed a script of
// datagrams from three source addresses. After each datagram its transmits and events are drained and
// its timers fired; readable streams are echoed back, so established connections send data too.
// Must never crash, and no address the server never sent a handshake response to may receive more than
// three times the bytes it sent (the anti-amplification rule, counted here from outside): only a
// response can give the keys that prove an address (a connection accepted from it, or a rekey from
// it). Also: an Accepted event names the key its connection reports. abort() on any violation.
//
// Input: records of [selector][len: u16 big-endian][len bytes]. selector & 3 picks the source address
// (3 means the first); selector >> 2 is how far the clock moves first: 0..47 -> that many times 10 ms,
// 48..63 -> (that - 47) times 5 s. An empty record only moves the clock and fires timers.
// The seed corpus holds genuine IK and XX connections (with stream data, and one living through
// rekeys) made by a client with key 0x11 against this server key.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "pdtp/secure/endpoint.hpp"

namespace {

using namespace pdtp;
using namespace std::chrono_literals;
using Addr = std::string;
using Ep = secure::SecureEndpoint<Addr>;

constexpr std::size_t address_count = 3;
const std::array<Addr, address_count> addresses{"192.0.2.1:4001", "192.0.2.2:4002", "198.51.100.7:4003"};
constexpr std::uint8_t server_key_byte = 0x22;
constexpr std::size_t max_input = 64 * 1024;
constexpr int max_drain_rounds = 64;
constexpr int max_transmits_per_record = 20000;

secure::SecretKey filled(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return secure::SecretKey(a);
}

// splitmix64: the same stream on every run, so seeds replay exactly.
secure::RandomBytes fixed_random(std::uint64_t seed) {
  return [state = seed](secure::MutableByteView out) mutable {
    for (auto& b : out) {
      state += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      b = static_cast<std::uint8_t>(z ^ (z >> 31));
    }
  };
}

const secure::KeyPair& server_keys() {
  static const secure::KeyPair k = secure::keypair_from_secret(filled(server_key_byte));
  return k;
}

// Small windows and limits keep each run fast; ChaCha20 only, so seeds replay the same on any CPU.
secure::SecureEndpointOptions server_options() {
  secure::SecureEndpointOptions o;
  o.local_static = server_keys();
  o.accept_incoming = true;
  o.max_connections = 8;
  o.cookie_threshold = 3;
  o.suites = static_cast<secure::SuiteSet>(secure::Suite::chacha20_poly1305);
  o.config.stream_receive_window = 64 * 1024;
  o.config.connection_receive_window = 256 * 1024;
  o.config.stream_send_buffer = 16 * 1024;
  o.config.max_incoming_streams = 16;
  o.config.max_tracked_packets = 256;
  o.config.probe_datagram_size = 1452;
  return o;
}

core::Duration clock_step(std::uint8_t selector) {
  const unsigned code = selector >> 2;
  if (code < 48) return code * 10ms;
  return (code - 47) * 5s;
}

std::size_t address_index(const Addr& a) {
  for (std::size_t i = 0; i < address_count; ++i)
    if (addresses[i] == a) return i;
  std::fprintf(stderr, "the server sent to %s, which never sent it anything\n", a.c_str());
  std::abort();
}

// The server under test plus what the invariants need: bytes each way per address, and which
// addresses were sent a handshake response.
class Harness {
 public:
  Harness()
      : ep_(server_options(), fixed_random(0x5eed), [](const Addr& a) { return secure::Bytes(a.begin(), a.end()); }) {}

  core::TimePoint now() const { return now_; }
  std::optional<core::TimePoint> next_timeout() const { return ep_.next_timeout(); }

  // One record: the clock moves, due timers fire, the datagram (if any) arrives, all output is drained.
  // Every datagram the server sends is appended to `sent` when given (the seed generator uses it).
  void feed(std::uint8_t selector, std::span<const std::uint8_t> datagram,
            std::vector<Ep::Transmit>* sent = nullptr) {
    now_ += clock_step(selector);
    const std::size_t from = (selector & 3u) % address_count;
    ep_.on_timeout(now_);
    if (!datagram.empty()) {
      received_[from] += datagram.size();
      ep_.on_datagram(now_, addresses[from], datagram);
    }
    drain(sent);
    check();
  }

 private:
  void drain(std::vector<Ep::Transmit>* sent) {
    int transmits = 0;
    for (int round = 0; round < max_drain_rounds; ++round) {
      bool busy = false;
      while (auto e = ep_.poll_event()) {
        busy = true;
        on_event(*e);
      }
      while (transmits < max_transmits_per_record) {
        auto t = ep_.poll_transmit(now_);
        if (!t) break;
        busy = true;
        ++transmits;
        const std::size_t to = address_index(t->to);
        sent_[to] += t->bytes.size();
        if (auto hs = secure::parse_handshake(t->bytes); hs && hs->kind == secure::HandshakeKind::response)
          answered_[to] = true;
        if (sent) sent->push_back(std::move(*t));
      }
      if (auto due = ep_.next_timeout(); due && *due <= now_) {
        ep_.on_timeout(now_);
        busy = true;
      }
      if (!busy) return;
    }
  }

  void on_event(const Ep::Event& e) {
    if (auto* a = std::get_if<Ep::Accepted>(&e)) {
      (void)address_index(a->peer);
      if (!(ep_.peer_key(a->id) && *ep_.peer_key(a->id) == a->peer_key)) {
        std::fprintf(stderr, "an Accepted event's key differs from its connection's\n");
        std::abort();
      }
      return;
    }
    if (std::holds_alternative<Ep::Connected>(e) || std::holds_alternative<Ep::ConnectFailed>(e)) {
      std::fprintf(stderr, "a server that never connects reported a connect outcome\n");
      std::abort();
    }
    const auto& ce = std::get<Ep::ConnectionEvent>(e);
    if (auto* r = std::get_if<rudp::StreamReadable>(&ce.event)) echo(ce.id, r->stream);
  }

  // Reads what arrived and writes it back (as much as the send buffer takes), finishing on FIN.
  void echo(Ep::Handle h, rudp::StreamId stream) {
    rudp::Connection* c = ep_.connection(h);
    if (!c) return;
    std::array<std::uint8_t, 4096> buf;
    for (int i = 0; i < 64; ++i) {
      auto r = c->read(stream, buf);
      if (!r) return;
      if (r->bytes > 0) (void)c->write(stream, std::span<const std::uint8_t>(buf.data(), r->bytes));
      if (r->fin) {
        (void)c->finish(stream);
        return;
      }
      if (r->bytes == 0) return;
    }
  }

  void check() const {
    for (std::size_t i = 0; i < address_count; ++i) {
      if (answered_[i] || sent_[i] <= 3 * received_[i]) continue;
      std::fprintf(stderr, "amplification: %s, never sent a handshake response, was sent %llu bytes for %llu received\n",
                   addresses[i].c_str(), static_cast<unsigned long long>(sent_[i]),
                   static_cast<unsigned long long>(received_[i]));
      std::abort();
    }
  }

  Ep ep_;
  core::TimePoint now_ = core::TimePoint{} + 1000s;
  std::array<std::uint64_t, address_count> received_{};
  std::array<std::uint64_t, address_count> sent_{};
  std::array<bool, address_count> answered_{};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > max_input) return 0;
  Harness h;
  std::size_t pos = 0;
  while (pos + 3 <= size) {
    const std::uint8_t selector = data[pos];
    const std::size_t len = std::min<std::size_t>((std::size_t{data[pos + 1]} << 8) | data[pos + 2], size - pos - 3);
    h.feed(selector, std::span<const std::uint8_t>(data + pos + 3, len));
    pos += 3 + len;
  }
  return 0;
}
