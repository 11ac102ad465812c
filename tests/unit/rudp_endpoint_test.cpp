// The endpoint: routing by receiver id, the test handshake, limits, and dropping closed connections.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "pdtp/rudp/endpoint.hpp"

using namespace pdtp;
using namespace pdtp::rudp;
using namespace std::chrono_literals;

namespace {
using Ep = Endpoint<int>;
const TimePoint t0 = TimePoint{} + 1000s;

EndpointOptions server_options(std::size_t max_connections = 16) {
  EndpointOptions o;
  o.accept_test_connections = true;
  o.first_test_id = 500;
  o.max_connections = max_connections;
  return o;
}

std::vector<Ep::Transmit> drain(Ep& e, TimePoint now) {
  std::vector<Ep::Transmit> out;
  while (auto t = e.poll_transmit(now)) out.push_back(std::move(*t));
  return out;
}

std::vector<Ep::EndpointEvent> events(Ep& e) {
  std::vector<Ep::EndpointEvent> out;
  while (auto ev = e.poll_event()) out.push_back(std::move(*ev));
  return out;
}

// Delivers everything between two endpoints (addresses 0 and 1) until both are quiet.
void exchange(Ep& a, Ep& b, TimePoint now) {
  for (int i = 0; i < 1000; ++i) {
    auto from_a = drain(a, now);
    auto from_b = drain(b, now);
    if (from_a.empty() && from_b.empty()) return;
    for (auto& t : from_a) b.on_datagram(now, 0, t.bytes);
    for (auto& t : from_b) a.on_datagram(now, 1, t.bytes);
  }
}
}  // namespace

TEST_CASE("the test handshake creates a connection on both sides") {
  Ep client;
  Ep server({}, server_options());
  REQUIRE(client.connect(t0, 1, ConnectionId{7}).ok());
  exchange(client, server, t0);
  auto es = events(server);
  REQUIRE(es.size() == 1);
  auto* accepted = std::get_if<Ep::NewConnection>(&es[0]);
  REQUIRE(accepted != nullptr);
  CHECK(accepted->connection == ConnectionId{500});
  CHECK(accepted->peer == 0);
  auto ec = events(client);
  REQUIRE(ec.size() == 1);
  REQUIRE(std::holds_alternative<Ep::Connected>(ec[0]));
  Connection* c = client.connection(ConnectionId{7});
  REQUIRE(c != nullptr);
  CHECK(c->peer_id() == ConnectionId{500});
  CHECK(server.connection(ConnectionId{500})->peer_id() == ConnectionId{7});
}

TEST_CASE("a lost CONNECT is retried, and a repeated CONNECT gets the same connection") {
  Ep client;
  Ep server({}, server_options());
  REQUIRE(client.connect(t0, 1, ConnectionId{7}).ok());
  auto first = drain(client, t0);
  REQUIRE(first.size() == 1);
  CHECK(first[0].bytes.size() == 1200);  // padded, so the answer is never larger
  CHECK(drain(client, t0).empty());
  auto when = client.next_timeout();
  REQUIRE(when.has_value());
  auto second = drain(client, *when);
  REQUIRE(second.size() == 1);
  CHECK(server.on_datagram(*when, 0, first[0].bytes) == Receipt::accepted);
  CHECK(server.on_datagram(*when, 0, second[0].bytes) == Receipt::delivered);
  CHECK(server.connection_count() == 1);
  auto answers = drain(server, *when);
  int accepts = 0;
  for (auto& t : answers)
    if (t.bytes[0] == static_cast<std::uint8_t>(PacketType::test_accept)) ++accepts;
  CHECK(accepts == 2);
}

TEST_CASE("connect gives up after its attempts and reports the connection closed") {
  EndpointOptions o;
  o.test_connect_attempts = 3;
  Ep client({}, o);
  REQUIRE(client.connect(t0, 1, ConnectionId{7}).ok());
  TimePoint now = t0;
  int sent = 0;
  for (int i = 0; i < 10; ++i) {
    sent += static_cast<int>(drain(client, now).size());
    auto t = client.next_timeout();
    if (!t) break;
    now = *t;
    client.on_timeout(now);
  }
  CHECK(sent == 3);
  auto es = events(client);
  REQUIRE(es.size() == 1);
  auto* ce = std::get_if<Ep::ConnectionEvent>(&es[0]);
  REQUIRE(ce != nullptr);
  CHECK(std::get<ConnectionClosed>(ce->event).reason == CloseReason::idle_timeout);
}

TEST_CASE("without the test option, CONNECT is dropped") {
  Ep client;
  Ep server;
  REQUIRE(client.connect(t0, 1, ConnectionId{7}).ok());
  auto out = drain(client, t0);
  CHECK(server.on_datagram(t0, 0, out[0].bytes) == Receipt::dropped);
  CHECK(server.connection_count() == 0);
}

TEST_CASE("datagrams are routed by receiver id; unknown ids and other protocols are reported") {
  Ep a;
  Ep b;
  REQUIRE(a.insert(t0, ConnectionId{1}, ConnectionId{2}, Role::client, 1, std::make_unique<NullProtection>()).ok());
  REQUIRE(b.insert(t0, ConnectionId{2}, ConnectionId{1}, Role::server, 0, std::make_unique<NullProtection>()).ok());
  auto* conn = a.connection(ConnectionId{1});
  auto s = conn->open_stream();
  REQUIRE(s.ok());
  const std::uint8_t hello[] = {'h', 'i'};
  REQUIRE(conn->write(*s, hello).ok());
  auto out = drain(a, t0);
  REQUIRE_FALSE(out.empty());
  CHECK(out[0].to == 1);
  CHECK(b.on_datagram(t0, 0, out[0].bytes) == Receipt::delivered);

  auto stray = out[0].bytes;
  stray[4] ^= 0x55;  // another receiver id
  CHECK(b.on_datagram(t0, 0, stray) == Receipt::unknown_connection);
  const std::uint8_t handshake[] = {0x01, 0, 0, 0, 0};
  CHECK(b.on_datagram(t0, 0, handshake) == Receipt::not_rudp);
  const std::uint8_t short_data[] = {0x04, 0, 0};
  CHECK(b.on_datagram(t0, 0, short_data) == Receipt::dropped);
}

TEST_CASE("insert refuses id 0, a taken id, and more than the connection limit") {
  EndpointOptions o;
  o.max_connections = 2;
  Ep e({}, o);
  CHECK(e.insert(t0, ConnectionId{0}, ConnectionId{2}, Role::client, 1, nullptr).error().code == Errc::bad_field);
  REQUIRE(e.insert(t0, ConnectionId{1}, ConnectionId{2}, Role::client, 1, nullptr).ok());
  CHECK(e.insert(t0, ConnectionId{1}, ConnectionId{3}, Role::client, 1, nullptr).error().code == Errc::bad_field);
  REQUIRE(e.insert(t0, ConnectionId{2}, ConnectionId{3}, Role::client, 1, nullptr).ok());
  CHECK(e.insert(t0, ConnectionId{3}, ConnectionId{4}, Role::client, 1, nullptr).error().code == Errc::overloaded);
}

TEST_CASE("test connections beyond the limit are refused") {
  Ep server({}, server_options(1));
  for (std::uint32_t id = 1; id <= 2; ++id) {
    Ep client;
    REQUIRE(client.connect(t0, 1, ConnectionId{id}).ok());
    auto out = drain(client, t0);
    (void)server.on_datagram(t0, static_cast<int>(id), out[0].bytes);
  }
  CHECK(server.connection_count() == 1);
}

TEST_CASE("a closed connection is dropped once its events are drained") {
  Ep client;
  Ep server({}, server_options());
  REQUIRE(client.connect(t0, 1, ConnectionId{7}).ok());
  exchange(client, server, t0);
  events(client);
  events(server);
  client.connection(ConnectionId{7})->abort(t0, 1, "done");
  exchange(client, server, t0);
  TimePoint now = t0;
  for (int i = 0; i < 20 && (client.connection_count() > 0 || server.connection_count() > 0); ++i) {
    events(client);
    events(server);
    auto t = client.next_timeout();
    if (auto ts = server.next_timeout(); ts && (!t || *ts < *t)) t = ts;
    if (!t) break;
    now = std::max(now, *t);
    client.on_timeout(now);
    server.on_timeout(now);
  }
  CHECK(client.connection_count() == 0);
  CHECK(server.connection_count() == 0);
}

TEST_CASE("rekeying moves a connection to new ids and keys; the old id works until its keys are dropped") {
  Ep a;
  Ep b;
  REQUIRE(a.insert(t0, ConnectionId{1}, ConnectionId{2}, Role::client, 1, std::make_unique<NullProtection>()).ok());
  REQUIRE(b.insert(t0, ConnectionId{2}, ConnectionId{1}, Role::server, 0, std::make_unique<NullProtection>()).ok());
  auto* conn = a.connection(ConnectionId{1});
  auto s = *conn->open_stream();
  const std::uint8_t one[] = {1, 2, 3};
  REQUIRE(conn->write(s, one).ok());
  auto before = drain(a, t0);  // sealed under the old keys, addressed to id 2
  REQUIRE_FALSE(before.empty());

  REQUIRE(a.rekey(ConnectionId{1}, ConnectionId{11}, ConnectionId{12}, std::make_unique<NullProtection>()).ok());
  REQUIRE(b.rekey(ConnectionId{2}, ConnectionId{12}, ConnectionId{11}, std::make_unique<NullProtection>()).ok());
  CHECK(a.connection(ConnectionId{1}) == nullptr);
  conn = a.connection(ConnectionId{11});
  REQUIRE(conn != nullptr);
  const std::uint8_t two[] = {4, 5};
  REQUIRE(conn->write(s, two).ok());
  auto after = drain(a, t0);
  REQUIRE_FALSE(after.empty());
  CHECK(decode_header(after[0].bytes)->receiver == ConnectionId{12});

  // Late packets under the old keys still arrive; new ones too.
  for (auto& t : before) CHECK(b.on_datagram(t0, 0, t.bytes) == Receipt::delivered);
  for (auto& t : after) CHECK(b.on_datagram(t0, 0, t.bytes) == Receipt::delivered);
  std::vector<std::uint8_t> buf(16);
  auto r = b.connection(ConnectionId{12})->read(s, buf);
  REQUIRE(r.ok());
  CHECK(r->bytes == 5);

  b.drop_previous_keys(ConnectionId{12});
  CHECK(b.on_datagram(t0, 0, before[0].bytes) == Receipt::unknown_connection);
  CHECK(b.rekey(ConnectionId{99}, ConnectionId{5}, ConnectionId{6}, std::make_unique<NullProtection>()).error().code ==
        Errc::bad_state);
}
