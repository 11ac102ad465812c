// One connection pair joined directly (no simulated link): stream semantics, protocol errors,
// timers and closing.
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "pdtp/rudp/connection.hpp"

using namespace pdtp;
using namespace pdtp::rudp;
using namespace std::chrono_literals;

namespace {

struct Pair {
  explicit Pair(Config cfg = {}, Config server_cfg = {})
      : a(ConnectionId{1}, ConnectionId{2}, Role::client, std::make_unique<NullProtection>(), cfg, now),
        b(ConnectionId{2}, ConnectionId{1}, Role::server, std::make_unique<NullProtection>(), server_cfg, now) {}

  // Moves datagrams both ways until neither side has anything to send; counts what went a -> b.
  void flush() {
    for (int round = 0; round < 100000; ++round) {
      bool moved = false;
      while (auto d = a.poll_transmit(now)) {
        moved = true;
        ++a_to_b;
        max_size = std::max(max_size, d->bytes.size());
        b.on_datagram(now, d->bytes);
      }
      while (auto d = b.poll_transmit(now)) {
        moved = true;
        max_size = std::max(max_size, d->bytes.size());
        a.on_datagram(now, d->bytes);
      }
      if (!moved) return;
    }
  }
  // Advances time to the earlier timer and fires it, then flushes.
  void tick() {
    std::optional<TimePoint> t = a.next_timeout();
    if (auto tb = b.next_timeout(); tb && (!t || *tb < *t)) t = tb;
    if (!t) return;
    if (*t > now) now = *t;
    if (auto ta = a.next_timeout(); ta && *ta <= now) a.on_timeout(now);
    if (auto tb = b.next_timeout(); tb && *tb <= now) b.on_timeout(now);
    flush();
  }
  // Flushes and lets time pass (pacing, delayed ACKs) until `done()` or `limit` of virtual time.
  template <class Done>
  bool run(Done&& done, Duration limit = 60s) {
    const TimePoint end = now + limit;
    flush();
    while (!done() && now < end) tick();
    return done();
  }

  TimePoint now = TimePoint{} + 1000s;
  Connection a;
  Connection b;
  std::size_t a_to_b = 0;
  std::size_t max_size = 0;
};

std::vector<Event> events(Connection& c) {
  std::vector<Event> out;
  while (auto e = c.poll_event()) out.push_back(std::move(*e));
  return out;
}

template <class T>
const T* find_event(const std::vector<Event>& es) {
  for (const auto& e : es)
    if (auto* p = std::get_if<T>(&e)) return p;
  return nullptr;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string read_all(Connection& c, StreamId id, bool* fin = nullptr) {
  std::string out;
  std::vector<std::uint8_t> buf(4096);
  for (;;) {
    auto r = c.read(id, buf);
    REQUIRE(r.ok());
    out.append(reinterpret_cast<const char*>(buf.data()), r->bytes);
    if (fin != nullptr && r->fin) *fin = true;
    if (r->bytes == 0 || r->fin) return out;
  }
}

// A protected data packet carrying `frames`, as a misbehaving peer would build it.
std::vector<std::uint8_t> raw_packet(ConnectionId to, PacketNumber pn, const std::vector<Frame>& frames) {
  std::size_t size = 0;
  for (const auto& f : frames) size += frame_size(f);
  NullProtection np;
  std::vector<std::uint8_t> out(header_size + size + np.overhead());
  const auto h = encode_header({PacketType::data, to, pn});
  std::copy(h.begin(), h.end(), out.begin());
  detail::Writer w(std::span<std::uint8_t>(out).subspan(header_size, size));
  for (const auto& f : frames) write_frame(w, f);
  REQUIRE(np.seal(pn, std::span(out).first(header_size), std::span(out).subspan(header_size)));
  return out;
}

void check_local_error(Connection& c, TransportError code) {
  auto es = events(c);
  auto* closed = find_event<ConnectionClosed>(es);
  REQUIRE(closed != nullptr);
  CHECK(closed->reason == CloseReason::local_error);
  CHECK(closed->code == static_cast<std::uint64_t>(code));
  CHECK(c.state() == ConnectionState::closing);
}

}  // namespace

TEST_CASE("a stream carries data both ways and is forgotten once both halves finish") {
  Pair p;
  auto s = p.a.open_stream();
  REQUIRE(s.ok());
  CHECK(*s == StreamId{0});
  CHECK(*p.a.write(*s, bytes_of("hello")) == 5);
  REQUIRE(p.a.finish(*s).ok());
  p.flush();

  auto eb = events(p.b);
  REQUIRE(find_event<StreamOpened>(eb) != nullptr);
  CHECK(find_event<StreamOpened>(eb)->stream == *s);
  REQUIRE(find_event<StreamReadable>(eb) != nullptr);
  bool fin = false;
  CHECK(read_all(p.b, *s, &fin) == "hello");
  CHECK(fin);

  CHECK(*p.b.write(*s, bytes_of("world")) == 5);
  REQUIRE(p.b.finish(*s).ok());
  p.flush();
  fin = false;
  CHECK(read_all(p.a, *s, &fin) == "world");
  CHECK(fin);
  p.flush();
  CHECK(find_event<StreamFinished>(events(p.a)) != nullptr);
  CHECK(find_event<StreamFinished>(events(p.b)) != nullptr);
  CHECK(p.a.stream_count() == 0);
  CHECK(p.b.stream_count() == 0);
}

TEST_CASE("the server opens odd-numbered streams") {
  Pair p;
  auto s = p.b.open_stream();
  REQUIRE(s.ok());
  CHECK(*s == StreamId{1});
  CHECK(*p.b.open_stream() == StreamId{3});
}

TEST_CASE("an empty stream with only a FIN is delivered as the end of the stream") {
  Pair p;
  auto s = *p.a.open_stream();
  REQUIRE(p.a.finish(s).ok());
  p.flush();
  bool fin = false;
  CHECK(read_all(p.b, s, &fin).empty());
  CHECK(fin);
}

TEST_CASE("stream data beyond the stream credit is a flow-control error, and the peer learns it") {
  Pair p;
  const std::uint8_t data[10] = {};
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{0}, 1 << 20, false, data}}));
  check_local_error(p.b, TransportError::flow_control_error);
  p.flush();
  auto ea = events(p.a);
  auto* closed = find_event<ConnectionClosed>(ea);
  REQUIRE(closed != nullptr);
  CHECK(closed->reason == CloseReason::peer_error);
  CHECK(closed->code == static_cast<std::uint64_t>(TransportError::flow_control_error));
  CHECK(p.a.state() == ConnectionState::draining);
}

TEST_CASE("data beyond the connection credit is a flow-control error") {
  Config server;
  server.connection_receive_window = 256 * 1024;
  server.stream_receive_window = 4 << 20;
  Pair p({}, server);
  const std::uint8_t data[10] = {};
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{0}, 300 * 1024, false, data}}));
  check_local_error(p.b, TransportError::flow_control_error);
}

TEST_CASE("an ACK for a packet never sent is a protocol violation") {
  Pair p;
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {AckFrame{0, {{5, 9}}}}));
  check_local_error(p.b, TransportError::protocol_violation);
}

TEST_CASE("a frame for a stream we never opened is a stream-state error") {
  Pair p;
  const std::uint8_t data[3] = {1, 2, 3};
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{1}, 0, false, data}}));
  check_local_error(p.b, TransportError::stream_state_error);
}

TEST_CASE("opening a stream beyond the limit we granted is a stream-limit error") {
  Pair p;
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{nth_stream(Role::client, 100), 0, true, {}}}));
  check_local_error(p.b, TransportError::stream_limit_error);
}

TEST_CASE("a frame for stream n opens every lower stream of that peer") {
  Pair p;
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{nth_stream(Role::client, 3), 0, false, {}}}));
  auto es = events(p.b);
  int opened = 0;
  for (const auto& e : es) opened += std::holds_alternative<StreamOpened>(e) ? 1 : 0;
  CHECK(opened == 4);
  CHECK(p.b.stream_count() == 4);
}

TEST_CASE("a changed final size is a final-size error") {
  Pair p;
  const std::uint8_t data[6] = {1, 2, 3, 4, 5, 6};
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{0}, 0, true, std::span(data, 5)}}));
  CHECK(p.b.state() == ConnectionState::open);
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 1, {StreamFrame{StreamId{0}, 0, true, std::span(data, 6)}}));
  check_local_error(p.b, TransportError::final_size_error);
}

TEST_CASE("an undecodable frame closes the connection with a frame-encoding error") {
  Pair p;
  auto pkt = raw_packet(ConnectionId{2}, 0, {PingFrame{}});
  // Replace the PING with an unknown frame type and re-seal.
  pkt[header_size] = 0x3f;
  NullProtection np;
  REQUIRE(np.seal(0, std::span(pkt).first(header_size), std::span(pkt).subspan(header_size)));
  p.b.on_datagram(p.now, pkt);
  check_local_error(p.b, TransportError::frame_encoding_error);
}

TEST_CASE("a packet with no frames is a protocol violation") {
  Pair p;
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {}));
  check_local_error(p.b, TransportError::protocol_violation);
}

TEST_CASE("a corrupted packet is dropped and counted, and changes nothing") {
  Pair p;
  p.flush();  // the opening credit announcements
  const auto received = p.b.stats().packets_received;
  auto pkt = raw_packet(ConnectionId{2}, 1000, {PingFrame{}});
  pkt[header_size] ^= 0x40;
  p.b.on_datagram(p.now, pkt);
  CHECK(p.b.stats().packets_dropped == 1);
  CHECK(p.b.stats().packets_received == received);
  CHECK(events(p.b).empty());
  CHECK_FALSE(p.b.poll_transmit(p.now).has_value());
}

TEST_CASE("a packet for another connection id, or of another type, is dropped") {
  Pair p;
  p.b.on_datagram(p.now, raw_packet(ConnectionId{9}, 0, {PingFrame{}}));
  auto other = raw_packet(ConnectionId{2}, 0, {PingFrame{}});
  other[0] = 0x01;  // a handshake type
  p.b.on_datagram(p.now, other);
  const std::uint8_t tiny[3] = {4, 0, 0};
  p.b.on_datagram(p.now, tiny);
  CHECK(p.b.stats().packets_dropped == 3);
  CHECK(p.b.state() == ConnectionState::open);
}

TEST_CASE("a duplicate packet is counted and ignored") {
  Pair p;
  const std::uint8_t data[3] = {1, 2, 3};
  auto pkt = raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{0}, 0, false, data}});
  p.b.on_datagram(p.now, pkt);
  p.b.on_datagram(p.now, pkt);
  CHECK(p.b.stats().duplicates == 1);
  CHECK(p.b.receive_buffered(StreamId{0}) == 3);
}

TEST_CASE("writes after finish, and calls on unknown streams, are refused with bad_state") {
  Pair p;
  auto s = *p.a.open_stream();
  REQUIRE(p.a.finish(s).ok());
  auto w = p.a.write(s, bytes_of("x"));
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().code == Errc::bad_state);
  std::vector<std::uint8_t> buf(8);
  CHECK(p.a.read(StreamId{40}, buf).error().code == Errc::bad_state);
  CHECK(p.a.write(StreamId{40}, bytes_of("x")).error().code == Errc::bad_state);
  CHECK(p.a.reset(StreamId{40}, 1).error().code == Errc::bad_state);
}

TEST_CASE("streams beyond the peer's limit would block until the peer grants more") {
  Config server;
  server.max_incoming_streams = 16;
  Pair p({}, server);
  std::vector<StreamId> ids;
  for (int i = 0; i < 16; ++i) ids.push_back(*p.a.open_stream());
  auto blocked = p.a.open_stream();
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().code == Errc::would_block);
  // Close one stream completely: the server then grants one more.
  REQUIRE(p.a.finish(ids[0]).ok());
  p.flush();
  bool fin = false;
  read_all(p.b, ids[0], &fin);
  REQUIRE(fin);
  REQUIRE(p.b.finish(ids[0]).ok());
  p.flush();
  read_all(p.a, ids[0], &fin);
  p.flush();
  CHECK(find_event<StreamsAvailable>(events(p.a)) != nullptr);
  CHECK(p.a.open_stream().ok());
}

TEST_CASE("no datagram exceeds the configured maximum size") {
  for (std::size_t max : {std::size_t{1200}, std::size_t{1452}}) {
    Config cfg;
    cfg.max_datagram_size = max;
    Pair p(cfg, cfg);
    auto s = *p.a.open_stream();
    std::vector<std::uint8_t> data(200 * 1024, 7);
    std::size_t written = 0;
    while (written < data.size()) {
      written += *p.a.write(s, std::span(data).subspan(written));
      p.flush();
      read_all(p.b, s);
    }
    CHECK(p.max_size == max);
  }
}

TEST_CASE("reset abandons both halves: the peer sees reset and stop, and both forget the stream") {
  Pair p;
  auto s = *p.a.open_stream();
  CHECK(*p.a.write(s, bytes_of("some data")) == 9);
  p.flush();
  events(p.b);
  REQUIRE(p.b.write(s, bytes_of("reply")).ok());
  p.flush();
  REQUIRE(p.a.reset(s, 77).ok());
  p.flush();
  auto eb = events(p.b);
  REQUIRE(find_event<StreamReset>(eb) != nullptr);
  CHECK(find_event<StreamReset>(eb)->code == 77);
  REQUIRE(find_event<StreamStopped>(eb) != nullptr);
  CHECK(find_event<StreamStopped>(eb)->code == 77);
  std::vector<std::uint8_t> buf(16);
  CHECK(p.b.read(s, buf).error().code == Errc::bad_state);
  CHECK(p.run([&] { return p.a.stream_count() == 0 && p.b.stream_count() == 0; }));
}

TEST_CASE("stop_sending abandons only our receiving half: the peer's writes end, our reply and FIN still arrive") {
  Pair p;
  auto s = *p.a.open_stream();
  CHECK(*p.a.write(s, bytes_of("request")) == 7);
  p.flush();
  events(p.b);
  CHECK(read_all(p.b, s) == "request");
  REQUIRE(p.b.write(s, bytes_of("the reply")).ok());
  REQUIRE(p.b.finish(s).ok());
  REQUIRE(p.b.stop_sending(s, 5).ok());
  p.flush();
  auto ea = events(p.a);
  REQUIRE(find_event<StreamStopped>(ea) != nullptr);
  CHECK(find_event<StreamStopped>(ea)->code == 5);
  CHECK(find_event<StreamReset>(ea) == nullptr);
  CHECK(p.a.write(s, bytes_of("more")).error().code == Errc::bad_state);
  bool fin = false;
  CHECK(read_all(p.a, s, &fin) == "the reply");
  CHECK(fin);
  CHECK(p.run([&] { return p.a.stream_count() == 0 && p.b.stream_count() == 0; }));
  // The RESET_STREAM that answered the stop is no news to b, which let that half go itself.
  CHECK(find_event<StreamReset>(events(p.b)) == nullptr);
}

TEST_CASE("a stopped stream ends when the peer's data reaches its FIN instead of a reset") {
  Pair p;
  auto s = *p.a.open_stream();
  CHECK(*p.a.write(s, bytes_of("x")) == 1);
  p.flush();
  events(p.b);
  CHECK(read_all(p.b, s) == "x");
  REQUIRE(p.b.finish(s).ok());
  p.flush();  // b's half is finished and acknowledged
  bool fin = false;
  read_all(p.a, s, &fin);
  CHECK(fin);
  // a's last data and FIN cross b's STOP_SENDING on the way.
  REQUIRE(p.a.write(s, bytes_of("last words")).ok());
  REQUIRE(p.a.finish(s).ok());
  std::vector<Datagram> from_a;
  while (auto d = p.a.poll_transmit(p.now)) from_a.push_back(std::move(*d));
  REQUIRE(p.b.stop_sending(s, 9).ok());
  std::vector<Datagram> from_b;
  while (auto d = p.b.poll_transmit(p.now)) from_b.push_back(std::move(*d));
  for (auto& d : from_a) p.b.on_datagram(p.now, d.bytes);
  CHECK(p.b.stream_count() == 0);  // nothing more can come: forgotten without waiting for a reset
  for (auto& d : from_b) p.a.on_datagram(p.now, d.bytes);
  CHECK(p.run([&] { return p.a.stream_count() == 0; }));
}

TEST_CASE("stop_sending on an unknown stream or with an oversized code is refused") {
  Pair p;
  CHECK(p.a.stop_sending(StreamId{0}, 1).error().code == Errc::bad_state);
  auto s = *p.a.open_stream();
  CHECK(p.a.stop_sending(s, max_varint + 1).error().code == Errc::bad_field);
}

TEST_CASE("graceful close delivers written data first, then both sides report the close") {
  Pair p;
  auto s = *p.a.open_stream();
  std::vector<std::uint8_t> data(150 * 1024, 3);
  std::size_t written = *p.a.write(s, data);
  REQUIRE(written == data.size());
  p.a.close(5, "bye");
  CHECK(p.a.write(s, data).error().code == Errc::bad_state);
  CHECK(p.a.open_stream().error().code == Errc::bad_state);
  std::size_t received = 0;
  std::vector<Event> ea;
  std::vector<Event> eb;
  p.run([&] {
    std::vector<std::uint8_t> buf(64 * 1024);
    while (auto r = p.b.read(s, buf)) {
      if (r->bytes == 0) break;
      received += r->bytes;
    }
    for (auto& e : events(p.a)) ea.push_back(e);
    for (auto& e : events(p.b)) eb.push_back(e);
    return p.b.state() != ConnectionState::open;
  });
  CHECK(received == data.size());
  auto* local = find_event<ConnectionClosed>(ea);
  REQUIRE(local != nullptr);
  CHECK(local->reason == CloseReason::local);
  auto* remote = find_event<ConnectionClosed>(eb);
  REQUIRE(remote != nullptr);
  CHECK(remote->reason == CloseReason::peer);
  CHECK(remote->code == 5);
  CHECK(remote->message == "bye");
  // Both linger for three probe timeouts, then are closed.
  for (int i = 0; i < 10 && !(p.a.is_closed() && p.b.is_closed()); ++i) p.tick();
  CHECK(p.a.is_closed());
  CHECK(p.b.is_closed());
}

TEST_CASE("abort sends CLOSE at once, dropping unsent data") {
  Pair p;
  auto s = *p.a.open_stream();
  std::vector<std::uint8_t> data(100 * 1024, 1);
  REQUIRE(p.a.write(s, data).ok());
  p.a.abort(p.now, 9, "gone");
  p.flush();
  auto eb = events(p.b);
  auto* closed = find_event<ConnectionClosed>(eb);
  REQUIRE(closed != nullptr);
  CHECK(closed->code == 9);
  CHECK(closed->reason == CloseReason::peer);
  CHECK(p.a_to_b == 1);
}

TEST_CASE("the idle timeout closes a connection that hears nothing") {
  Config cfg;
  cfg.idle_timeout = 5s;
  Pair p(cfg, cfg);
  const TimePoint start = p.now;
  // Nothing is delivered: time passes until a's timers run out.
  while (!p.a.is_closed()) {
    auto t = p.a.next_timeout();
    REQUIRE(t.has_value());
    p.now = std::max(p.now, *t);
    p.a.on_timeout(p.now);
    while (p.a.poll_transmit(p.now)) {
    }
  }
  auto ea = events(p.a);
  auto* closed = find_event<ConnectionClosed>(ea);
  REQUIRE(closed != nullptr);
  CHECK(closed->reason == CloseReason::idle_timeout);
  CHECK(p.now - start >= 5s);
}

TEST_CASE("keep-alive PINGs hold a quiet connection open past the idle timeout") {
  Config cfg;
  cfg.idle_timeout = 5s;
  cfg.keep_alive_interval = 2s;
  Pair p(cfg, cfg);
  const TimePoint end = p.now + 60s;
  while (p.now < end) p.tick();
  CHECK(p.a.state() == ConnectionState::open);
  CHECK(p.b.state() == ConnectionState::open);
  CHECK(events(p.a).empty());
}

TEST_CASE("a lone ack-eliciting packet is acknowledged within the maximum ack delay") {
  Pair p;
  auto s = *p.a.open_stream();
  REQUIRE(p.a.write(s, bytes_of("x")).ok());
  // Let the stream's opening (and the credit it announces) settle.
  REQUIRE(p.run([&] { return p.a.bytes_in_flight() == 0 && p.b.bytes_in_flight() == 0; }));
  read_all(p.b, s);
  REQUIRE(p.a.write(s, bytes_of("y")).ok());
  auto d = p.a.poll_transmit(p.now);
  REQUIRE(d.has_value());
  p.b.on_datagram(p.now, d->bytes);
  CHECK_FALSE(p.b.poll_transmit(p.now).has_value());  // held back ...
  auto t = p.b.next_timeout();
  REQUIRE(t.has_value());
  CHECK(*t <= p.now + max_ack_delay);  // ... for at most max_ack_delay
  p.now = *t;
  p.b.on_timeout(p.now);
  auto ack = p.b.poll_transmit(p.now);
  REQUIRE(ack.has_value());
  p.a.on_datagram(p.now, ack->bytes);
  CHECK(p.a.bytes_in_flight() == 0);
}

TEST_CASE("packet numbers count up by one and are never reused") {
  Pair p;
  auto s = *p.a.open_stream();
  std::vector<std::uint8_t> data(20 * 1024, 5);
  REQUIRE(p.a.write(s, data).ok());
  PacketNumber expect = 0;
  while (auto d = p.a.poll_transmit(p.now)) {
    auto h = decode_header(d->bytes);
    REQUIRE(h.ok());
    CHECK(h->number == expect++);
    CHECK(h->receiver == ConnectionId{2});
  }
  CHECK(expect >= 10);  // the initial window's worth
}

TEST_CASE("a reset arriving after the whole stream was read changes nothing, unless its final size differs") {
  Pair p;
  const std::uint8_t data[4] = {1, 2, 3, 4};
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 0, {StreamFrame{StreamId{0}, 0, true, data}}));
  bool fin = false;
  CHECK(read_all(p.b, StreamId{0}, &fin).size() == 4);
  REQUIRE(fin);
  events(p.b);
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 1, {ResetStreamFrame{StreamId{0}, 5, 4}}));
  CHECK(find_event<StreamReset>(events(p.b)) == nullptr);
  CHECK(p.b.state() == ConnectionState::open);
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, 2, {ResetStreamFrame{StreamId{0}, 5, 9}}));
  check_local_error(p.b, TransportError::final_size_error);
}

TEST_CASE("scattered tiny frames beyond the fragment limit are dropped unacknowledged, not stored") {
  Config server;
  server.stream_receive_window = 1 << 20;
  Pair p({}, server);
  const std::uint8_t byte[1] = {7};
  PacketNumber pn = 0;
  for (std::size_t i = 0; i < max_receive_fragments; ++i)
    p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, pn++, {StreamFrame{StreamId{0}, 2 * i + 1, false, byte}}));
  CHECK(p.b.stats().packets_dropped == 0);
  // One more separate piece is refused; one that extends an existing piece is still taken.
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, pn++, {StreamFrame{StreamId{0}, 100000, false, byte}}));
  CHECK(p.b.stats().packets_dropped == 1);
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, pn++, {StreamFrame{StreamId{0}, 2, false, byte}}));
  CHECK(p.b.stats().packets_dropped == 1);
  CHECK(p.b.state() == ConnectionState::open);
  // The gap at offset 0 fills: everything in order becomes readable.
  p.b.on_datagram(p.now, raw_packet(ConnectionId{2}, pn++, {StreamFrame{StreamId{0}, 0, false, byte}}));
  std::vector<std::uint8_t> out(16);
  auto r = p.b.read(StreamId{0}, out);
  REQUIRE(r.ok());
  CHECK(r->bytes == 4);
}
