// Handshakes over datagrams: Initiator and Responder, mac1/mac2, cookies, anti-amplification.
#include <catch2/catch.hpp>

#include "pdtp/secure/amplification.hpp"
#include "pdtp/secure/handshake.hpp"
#include "secure_test_support.hpp"

using namespace pdtp::secure;
using namespace std::chrono_literals;
using pdtp::Errc;
using secure_test::bytes;
using secure_test::secret_filled;

namespace {

const TimePoint t0 = TimePoint{} + 100s;
const Bytes client_addr = bytes("127.0.0.1:40000");

Responder make_responder(const KeyPair& server) {
  ResponderConfig rc;
  rc.local_static = server;
  return Responder(rc, secure_test::random_source(99));
}

struct Parties {
  KeyPair client = keypair_from_secret(secret_filled(0x41));
  KeyPair server = keypair_from_secret(secret_filled(0x42));
  Responder responder = make_responder(server);

  Initiator initiator(bool know_server, Bytes payload = bytes("client hello"), std::uint32_t index = 1001,
                      std::optional<PublicKey> server_key = std::nullopt) {
    InitiatorConfig ic;
    ic.local_static = client;
    if (know_server) ic.responder_static = server_key ? *server_key : server.public_key;
    auto i = Initiator::create(ic, index, secret_filled(0x51), std::move(payload));
    REQUIRE(i.ok());
    return std::move(*i);
  }
};

void check_session_pair(const Established& a, const Established& b) {
  CHECK(detail::equal_ct(a.keys.send_key.view(), b.keys.receive_key.view()));
  CHECK(detail::equal_ct(a.keys.receive_key.view(), b.keys.send_key.view()));
  CHECK(a.keys.local_index == b.keys.remote_index);
  CHECK(a.keys.remote_index == b.keys.local_index);
  CHECK(a.keys.suite == b.keys.suite);
  CHECK(a.keys.handshake_hash == b.keys.handshake_hash);
  // Data flows both ways under the negotiated keys.
  auto pa = make_protector(a.keys);
  auto pb = make_protector(b.keys);
  REQUIRE(pa.ok());
  REQUIRE(pb.ok());
  Bytes buf = bytes("ping");
  buf.resize(20);
  REQUIRE(pa->seal(0, bytes("hdr"), buf).ok());
  REQUIRE(pb->open(0, bytes("hdr"), buf).ok());
  Bytes back = bytes("pong");
  back.resize(20);
  REQUIRE(pb->seal(0, bytes("hdr"), back).ok());
  REQUIRE(pa->open(0, bytes("hdr"), back).ok());
}

}  // namespace

TEST_CASE("a full IK handshake over datagrams ends with matching keys, identities and payloads") {
  Parties p;
  Initiator init = p.initiator(true);
  CHECK(init.pattern() == Pattern::ik);
  const Bytes m1 = init.initiation(t0);
  CHECK(m1.size() == 1200);  // padded so the reply may be as large
  auto r = p.responder.on_datagram(t0, client_addr, m1, false, 2002, bytes("server hello"));
  REQUIRE(r.ok());
  REQUIRE(r->reply);
  REQUIRE(r->established);
  CHECK(r->established->peer_payload == bytes("client hello"));
  CHECK(r->established->keys.remote_static == p.client.public_key);
  auto i = init.on_datagram(t0, *r->reply);
  REQUIRE(i.ok());
  REQUIRE(i->established);
  CHECK_FALSE(i->reply);
  CHECK(i->established->peer_payload == bytes("server hello"));
  CHECK(i->established->keys.remote_static == p.server.public_key);
  CHECK(i->established->keys.suite == (aes256gcm_available() ? Suite::aes256_gcm : Suite::chacha20_poly1305));
  check_session_pair(*i->established, *r->established);
  CHECK(init.finished());
  CHECK(p.responder.stats().completed == 1);
}

TEST_CASE("a full XX handshake over datagrams ends with matching keys, identities and payloads") {
  Parties p;
  Initiator init = p.initiator(false);
  CHECK(init.pattern() == Pattern::xx);
  auto r = p.responder.on_datagram(t0, client_addr, init.initiation(t0), false, 2002, bytes("server hello"));
  REQUIRE(r.ok());
  REQUIRE(r->reply);
  CHECK_FALSE(r->established);
  CHECK(p.responder.pending() == 1);
  auto i = init.on_datagram(t0, *r->reply);
  REQUIRE(i.ok());
  REQUIRE(i->reply);  // message 3
  REQUIRE(i->established);
  CHECK(i->established->keys.remote_static == p.server.public_key);  // learned, authenticated
  CHECK(i->established->peer_payload == bytes("server hello"));
  REQUIRE(init.finish());
  auto f = p.responder.on_datagram(t0, client_addr, *i->reply, false, 3003);
  REQUIRE(f.ok());
  REQUIRE(f->established);
  CHECK_FALSE(f->reply);
  CHECK(f->established->keys.remote_static == p.client.public_key);
  CHECK(f->established->peer_payload == bytes("client hello"));
  CHECK(p.responder.pending() == 0);
  check_session_pair(*i->established, *f->established);
}

TEST_CASE("an initiator holding the wrong server key is dropped on mac1 without any DH work") {
  Parties p;
  const KeyPair other = keypair_from_secret(secret_filled(0x77));
  Initiator init = p.initiator(true, bytes("x"), 1001, other.public_key);
  auto r = p.responder.on_datagram(t0, client_addr, init.initiation(t0), false, 2002);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::bad_mac);
  CHECK_THAT(r.error().message, Catch::Contains("wrong server key"));
  CHECK(p.responder.stats().dropped_bad_mac == 1);
  CHECK(p.responder.stats().dh_operations == 0);
}

TEST_CASE("junk and corrupted initiations are dropped on mac1 without any DH work") {
  Parties p;
  Initiator init = p.initiator(true);
  Bytes good = init.initiation(t0);
  for (std::size_t i : {std::size_t{4}, std::size_t{8}, std::size_t{100}, good.size() - 20}) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    auto r = p.responder.on_datagram(t0, client_addr, bad, false, 2002);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::bad_mac);
  }
  Bytes junk(300, 0x5a);
  junk[0] = 0x01;
  junk[1] = 0x01;
  junk[2] = junk[3] = 0;
  CHECK(p.responder.on_datagram(t0, client_addr, junk, false, 2002).error().code == Errc::bad_mac);
  CHECK(p.responder.stats().dh_operations == 0);
  CHECK(p.responder.stats().dropped_bad_mac == 5);
  // The genuine one still works afterwards.
  CHECK(p.responder.on_datagram(t0, client_addr, good, false, 2002).ok());
  CHECK(p.responder.stats().dh_operations > 0);
}

TEST_CASE("under load an initiation gets a cookie reply, and the retry carrying the cookie completes") {
  for (bool ik : {true, false}) {
    INFO((ik ? "IK" : "XX"));
    Parties p;
    Initiator init = p.initiator(ik);
    const Bytes first = init.initiation(t0);
    auto r1 = p.responder.on_datagram(t0, client_addr, first, true, 2002);
    REQUIRE(r1.ok());
    REQUIRE(r1->reply);
    CHECK_FALSE(r1->established);
    CHECK(r1->reply->size() == cookie_reply_size);
    CHECK(p.responder.stats().cookie_replies == 1);
    CHECK(p.responder.stats().dh_operations == 0);

    auto c = init.on_datagram(t0 + 10ms, *r1->reply);
    REQUIRE(c.ok());
    CHECK(c->cookie_received);
    const Bytes retry = init.initiation(t0 + 20ms);
    CHECK(retry != first);  // mac2 now set
    auto r2 = p.responder.on_datagram(t0 + 30ms, client_addr, retry, true, 2002);
    REQUIRE(r2.ok());
    REQUIRE(r2->reply);
    CHECK((*r2->reply)[0] == 0x02);  // a real response this time
    auto done = init.on_datagram(t0 + 40ms, *r2->reply);
    REQUIRE(done.ok());
    CHECK(done->established);
  }
}

TEST_CASE("a cookie is bound to the address it was issued to") {
  Parties p;
  Initiator init = p.initiator(true);
  auto r1 = p.responder.on_datagram(t0, client_addr, init.initiation(t0), true, 2002);
  REQUIRE(init.on_datagram(t0, *r1->reply).ok());
  auto elsewhere = p.responder.on_datagram(t0, bytes("10.9.8.7:1234"), init.initiation(t0), true, 2002);
  REQUIRE(elsewhere.ok());
  CHECK(elsewhere->reply->size() == cookie_reply_size);  // another cookie, no handshake
  CHECK(p.responder.stats().dh_operations == 0);
}

TEST_CASE("cookies stay valid across one secret rotation and expire after two") {
  Parties p;
  Initiator init = p.initiator(true);
  auto r1 = p.responder.on_datagram(t0, client_addr, init.initiation(t0), true, 2002);
  REQUIRE(init.on_datagram(t0, *r1->reply).ok());
  // 119 s later the responder has rotated once (at its next use after 120 s) but keeps the old secret.
  auto later = p.responder.on_datagram(t0 + 119s, client_addr, init.initiation(t0 + 119s), true, 2002);
  REQUIRE(later.ok());
  CHECK((*later->reply)[0] == 0x02);
}

TEST_CASE("a forged cookie reply is rejected and plants no cookie") {
  Parties p;
  Initiator init = p.initiator(true);
  const Bytes first = init.initiation(t0);
  Bytes forged(cookie_reply_size, 0x33);
  forged[0] = 0x03;
  forged[1] = forged[2] = forged[3] = 0;
  detail::put_u32be(forged.data() + 4, 1001);
  auto r = init.on_datagram(t0, forged);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::decrypt_failed);
  CHECK(init.initiation(t0) == first);  // mac2 still zero
}

TEST_CASE("the responder never replies with more bytes than the initiation it answers") {
  Parties p;
  for (std::size_t pad : {std::size_t{0}, std::size_t{200}, std::size_t{1200}}) {
    for (std::size_t reply_len : {std::size_t{0}, std::size_t{100}, std::size_t{1000}}) {
      for (bool ik : {true, false}) {
        InitiatorConfig ic;
        ic.local_static = p.client;
        if (ik) ic.responder_static = p.server.public_key;
        ic.pad_initiation_to = pad;
        auto init = Initiator::create(ic, 77, secret_filled(0x61), {});
        REQUIRE(init.ok());
        const Bytes m1 = init->initiation(t0);
        auto r = p.responder.on_datagram(t0, client_addr, m1, false, static_cast<std::uint32_t>(5000 + pad + reply_len + ik),
                                         Bytes(reply_len, 'r'));
        INFO("pad " << pad << " reply " << reply_len << (ik ? " IK" : " XX") << " initiation " << m1.size());
        if (r.ok()) {
          REQUIRE(r->reply);
          CHECK(r->reply->size() <= m1.size());
        } else {
          CHECK(r.error().code == Errc::overloaded);
          CHECK_THAT(r.error().message, Catch::Contains("amplify"));
        }
        // Under load the answer is a cookie reply, smaller than the smallest initiation.
        auto c = p.responder.on_datagram(t0, client_addr, m1, true, 9);
        REQUIRE(c.ok());
        CHECK(c->reply->size() <= m1.size());
      }
    }
  }
  CHECK(cookie_reply_size < initiation_header_size + 32 + handshake_payload_header + 2 * mac_size);
}

TEST_CASE("the amplification guard never lets the responder send more than 3x the bytes received") {
  AmplificationGuard g;
  CHECK_FALSE(g.can_send(1));
  g.on_received(100);
  CHECK(g.allowance() == 300);
  CHECK(g.try_send(250));
  CHECK_FALSE(g.try_send(51));
  CHECK(g.try_send(50));
  CHECK(g.allowance() == 0);
  // A long random sequence: the invariant holds after every step.
  AmplificationGuard h;
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 100000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    if (x % 3 == 0) h.on_received(x % 1500);
    else h.try_send((x >> 8) % 4000);
    REQUIRE(h.sent() <= 3 * h.received());
  }
  h.mark_validated();
  CHECK(h.try_send(1'000'000'000));
}

TEST_CASE("a tampered response is rejected and the genuine one still completes") {
  Parties p;
  Initiator init = p.initiator(true);
  auto r = p.responder.on_datagram(t0, client_addr, init.initiation(t0), false, 2002);
  REQUIRE(r.ok());
  Bytes bad = *r->reply;
  bad[20] ^= 0x10;
  auto e = init.on_datagram(t0, bad);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().code == Errc::bad_mac);
  // Tamper with the Noise bytes and recompute mac1 the way an attacker could: Noise catches it.
  auto parsed = parse_handshake(*r->reply);
  REQUIRE(parsed.ok());
  Bytes noise(parsed->noise.begin(), parsed->noise.end());
  noise.back() ^= 1;
  Bytes forged = build_handshake({HandshakeKind::response, parsed->sender_index, parsed->receiver_index}, noise,
                                 mac1_key(&p.client.public_key));
  CHECK(init.on_datagram(t0, forged).error().code == Errc::decrypt_failed);
  auto ok = init.on_datagram(t0, *r->reply);
  REQUIRE(ok.ok());
  CHECK(ok->established);
  CHECK(init.on_datagram(t0, *r->reply).error().code == Errc::bad_state);  // already complete
}

TEST_CASE("a changed sender index in a cleartext header is detected") {
  Parties p;
  Initiator init = p.initiator(false);
  auto parsed = parse_handshake(init.initiation(t0));
  REQUIRE(parsed.ok());
  Bytes noise(parsed->noise.begin(), parsed->noise.end());
  Bytes moved = build_handshake({HandshakeKind::xx_initiation, 4242, 0}, noise, mac1_key(nullptr));
  auto r = p.responder.on_datagram(t0, client_addr, moved, false, 2002);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains("differs from the authenticated"));
}

TEST_CASE("a finish for an unknown index, from another address, or replayed is refused") {
  Parties p;
  Initiator init = p.initiator(false);
  auto r = p.responder.on_datagram(t0, client_addr, init.initiation(t0), false, 2002);
  auto i = init.on_datagram(t0, *r->reply);
  REQUIRE(i.ok());
  auto other = p.responder.on_datagram(t0, bytes("6.6.6.6:66"), *i->reply, false, 1);
  CHECK(other.error().code == Errc::bad_state);
  REQUIRE(p.responder.on_datagram(t0, client_addr, *i->reply, false, 1).ok());
  auto replay = p.responder.on_datagram(t0, client_addr, *i->reply, false, 1);
  CHECK(replay.error().code == Errc::bad_state);
  CHECK_THAT(replay.error().message, Catch::Contains("no pending handshake"));
}

TEST_CASE("XX handshakes whose finish never comes are forgotten, and the pending table is bounded") {
  KeyPair server = keypair_from_secret(secret_filled(0x42));
  ResponderConfig rc;
  rc.local_static = server;
  rc.max_pending = 3;
  Responder responder(rc, secure_test::random_source(5));
  InitiatorConfig ic;
  ic.local_static = keypair_from_secret(secret_filled(0x43));
  for (std::uint32_t n = 1; n <= 3; ++n) {
    auto init = Initiator::create(ic, n, secret_filled(static_cast<std::uint8_t>(n)), {});
    REQUIRE(responder.on_datagram(t0, client_addr, init->initiation(t0), false, 100 + n).ok());
  }
  auto init = Initiator::create(ic, 9, secret_filled(9), {});
  auto full = responder.on_datagram(t0, client_addr, init->initiation(t0), false, 109);
  CHECK(full.error().code == Errc::overloaded);
  CHECK(responder.pending() == 3);
  responder.expire(t0 + 15s);
  CHECK(responder.pending() == 0);
  CHECK(responder.on_datagram(t0 + 15s, client_addr, init->initiation(t0), false, 109).ok());
}

TEST_CASE("malformed handshake datagrams are rejected with the field named") {
  CHECK(parse_handshake(Bytes{}).error().code == Errc::unknown_type);
  CHECK(parse_handshake(Bytes{0x04, 0, 0, 0}).error().code == Errc::unknown_type);
  CHECK_THAT(parse_handshake(Bytes{0x01, 1, 0}).error().message, Catch::Contains("8-byte header"));
  Bytes d(200, 0);
  d[0] = 0x01;
  d[1] = 7;
  CHECK_THAT(parse_handshake(d).error().message, Catch::Contains("pattern byte 7"));
  d[1] = 1;
  d[2] = 1;
  CHECK_THAT(parse_handshake(d).error().message, Catch::Contains("reserved"));
  d[2] = 0;
  CHECK_THAT(parse_handshake(d).error().message, Catch::Contains("sender index is 0"));
  d[7] = 1;
  CHECK(parse_handshake(d).ok());
  d.resize(100);
  CHECK_THAT(parse_handshake(d).error().message, Catch::Contains("shorter than the 136"));
  Bytes c(63, 0);
  c[0] = 0x03;
  CHECK_THAT(parse_handshake(c).error().message, Catch::Contains("exactly 64"));
  Bytes rep(200, 0);
  rep[0] = 0x02;
  rep[1] = 2;
  rep[7] = 1;
  CHECK_THAT(parse_handshake(rep).error().message, Catch::Contains("receiver index is 0"));
}

TEST_CASE("a responder refuses responses and cookie replies; an initiator refuses initiations") {
  Parties p;
  Initiator init = p.initiator(true);
  auto r = p.responder.on_datagram(t0, client_addr, init.initiation(t0), false, 2002);
  CHECK(p.responder.on_datagram(t0, client_addr, *r->reply, false, 3).error().code == Errc::bad_state);
  Initiator other = p.initiator(true, {}, 5);
  CHECK(other.on_datagram(t0, init.initiation(t0)).error().code == Errc::bad_state);
  CHECK(other.on_datagram(t0, *r->reply).error().code == Errc::bad_state);  // for index 1001, not 5
}
