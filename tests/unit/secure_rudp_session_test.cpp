// End to end without sockets: a handshake over datagrams, then two rudp connections protected by the
// negotiated keys carry a stream; tampered and replayed datagrams on the way are dropped.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>

#include "pdtp/rudp/connection.hpp"
#include "pdtp/secure/handshake.hpp"
#include "pdtp/secure/rudp_protection.hpp"
#include "secure_test_support.hpp"

using namespace pdtp;
using namespace std::chrono_literals;
using secure::Bytes;
using secure_test::bytes;
using secure_test::secret_filled;

namespace {

struct Session {
  secure::Established established;
  rudp::Connection connection;
};

rudp::Connection connect(const secure::Established& e, rudp::Role role, core::TimePoint now) {
  auto prot = secure::AeadProtection::create(e.keys, now);
  REQUIRE(prot.ok());
  return rudp::Connection(rudp::ConnectionId{e.keys.local_index}, rudp::ConnectionId{e.keys.remote_index}, role,
                          std::move(*prot), rudp::Config{}, now);
}

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

}  // namespace

TEST_CASE("a handshake then an encrypted rudp stream delivers bytes exactly, dropping tampered and replayed datagrams") {
  core::TimePoint now = core::TimePoint{} + 1000s;
  const auto client_keys = secure::keypair_from_secret(secret_filled(0x0c));
  const auto server_keys = secure::keypair_from_secret(secret_filled(0x05));

  secure::ResponderConfig rc;
  rc.local_static = server_keys;
  secure::Responder responder(rc, secure_test::random_source(3));
  secure::InitiatorConfig ic;
  ic.local_static = client_keys;
  ic.responder_static = server_keys.public_key;
  auto init = secure::Initiator::create(ic, 11, secret_filled(0x0e), bytes("dsclient"));
  REQUIRE(init.ok());

  auto r = responder.on_datagram(now, bytes("127.0.0.1:5000"), init->initiation(now), false, 22, bytes("dstream"));
  REQUIRE(r.ok());
  auto i = init->on_datagram(now, *r->reply);
  REQUIRE(i.ok());
  REQUIRE(i->established);
  REQUIRE(r->established);

  rudp::Connection client = connect(*i->established, rudp::Role::client, now);
  rudp::Connection server = connect(*r->established, rudp::Role::server, now);

  // The marker repeats through the payload so we can check it never crosses the wire in clear.
  const Bytes marker = bytes("PLAINTEXT-MARKER");
  Bytes payload;
  while (payload.size() < 200'000) payload.insert(payload.end(), marker.begin(), marker.end());
  auto stream = client.open_stream();
  REQUIRE(stream.ok());
  std::size_t written = 0;
  bool finished = false;

  Bytes received;
  bool fin = false;
  int tampered = 0, replayed = 0;
  for (int step = 0; step < 20000 && !fin; ++step) {
    if (written < payload.size()) {
      auto n = client.write(*stream, std::span(payload).subspan(written));
      REQUIRE(n.ok());
      written += *n;
    }
    if (written == payload.size() && !finished) {
      REQUIRE(client.finish(*stream).ok());
      finished = true;
    }
    for (auto [from, to] : {std::pair{&client, &server}, std::pair{&server, &client}}) {
      while (auto d = from->poll_transmit(now)) {
        CHECK_FALSE(contains(d->bytes, marker));
        if (step % 7 == 3 && d->bytes.size() > 40) {  // a corrupted copy first: must be dropped
          Bytes bad = d->bytes;
          bad[30] ^= 0x01;
          to->on_datagram(now, bad);
          ++tampered;
        }
        to->on_datagram(now, d->bytes);
        if (step % 11 == 5 || replayed == 0) {  // and a replay afterwards: must be dropped too
          to->on_datagram(now, d->bytes);
          ++replayed;
        }
      }
    }
    while (auto e = server.poll_event()) {
      rudp::StreamId id{};
      if (auto* o = std::get_if<rudp::StreamOpened>(&*e)) id = o->stream;
      else if (auto* rd = std::get_if<rudp::StreamReadable>(&*e)) id = rd->stream;
      else continue;
      std::array<std::uint8_t, 16384> buf;
      for (;;) {
        auto res = server.read(id, buf);
        if (!res.ok()) break;
        received.insert(received.end(), buf.begin(), buf.begin() + static_cast<long>(res->bytes));
        if (res->fin) fin = true;
        if (res->bytes == 0) break;
      }
    }
    while (client.poll_event()) {
    }
    now += 1ms;
    if (auto t = client.next_timeout(); t && *t <= now) client.on_timeout(now);
    if (auto t = server.next_timeout(); t && *t <= now) server.on_timeout(now);
  }
  REQUIRE(fin);
  CHECK(received == payload);
  CHECK(tampered > 0);
  CHECK(replayed > 0);
  CHECK(server.stats().packets_dropped + client.stats().packets_dropped >=
        static_cast<std::uint64_t>(tampered + replayed));
}
