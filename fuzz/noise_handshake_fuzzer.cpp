// Feeds arbitrary bytes into every handshake entry point: raw datagrams to a Responder and to IK/XX
// Initiators, and (wrapped in a valid header and mac1, so they get past the cheap check) as the Noise
// body of each message a party reads, plus the handshake payload decoder. Must never crash; a
// responder's reply must never be larger than the datagram it answers; the payload codec round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "pdtp/secure/handshake.hpp"

using namespace pdtp::secure;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

SecretKey filled(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return SecretKey(a);
}

struct Keys {
  KeyPair client = keypair_from_secret(filled(0x41));
  KeyPair server = keypair_from_secret(filled(0x42));
};
const Keys& keys() {
  static const Keys k;
  return k;
}

// Deterministic randomness for the responder (ephemeral keys, cookie secrets, nonces).
RandomBytes counter_random() {
  return [n = std::uint64_t{0}](MutableByteView out) mutable {
    for (auto& b : out) b = static_cast<std::uint8_t>((++n * 0x9E3779B97F4A7C15ull) >> 56);
  };
}

const TimePoint now = TimePoint{} + std::chrono::seconds(1000);
const Bytes address{127, 0, 0, 1, 0x9c, 0x40};

Responder responder() {
  ResponderConfig rc;
  rc.local_static = keys().server;
  rc.max_pending = 8;
  return Responder(rc, counter_random());
}

Initiator initiator(bool ik) {
  InitiatorConfig ic;
  ic.local_static = keys().client;
  if (ik) ic.responder_static = keys().server.public_key;
  auto i = Initiator::create(ic, 1001, filled(0x51), Bytes{'h', 'i'});
  check(i.ok());
  return std::move(*i);
}

void to_responder(Responder& r, ByteView datagram, bool under_load) {
  auto out = r.on_datagram(now, address, datagram, under_load, 2002, Bytes(40, 'r'));
  if (out && out->reply) check(out->reply->size() <= datagram.size());
}

void handshake_payload_round_trip(ByteView data) {
  auto a = decode_handshake_payload(data);
  if (!a) return;
  Bytes again = encode_handshake_payload(a->suites, a->sender_index, a->application, data.size());
  check(again.size() == data.size());
  auto b = decode_handshake_payload(again);
  check(b.ok() && b->suites == a->suites && b->sender_index == a->sender_index && b->application == a->application);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 4096) return 0;
  const std::uint8_t mode = data[0] % 10;
  const bool flag = data[1] & 1;
  const ByteView body(data + 2, size - 2);
  switch (mode) {
    case 0: {  // raw datagram to a responder
      Responder r = responder();
      to_responder(r, body, flag);
      break;
    }
    case 1:
    case 2: {  // body as the Noise message of an IK / XX initiation with a valid mac1
      const bool ik = mode == 1;
      Responder r = responder();
      Bytes d = build_handshake({ik ? HandshakeKind::ik_initiation : HandshakeKind::xx_initiation, 7, 0}, body,
                                mac1_key(ik ? &keys().server.public_key : nullptr));
      to_responder(r, d, flag);
      break;
    }
    case 3:
    case 4: {  // body as the Noise message of a response to an IK / XX initiator
      const bool ik = mode == 3;
      Initiator i = initiator(ik);
      Bytes d = build_handshake({HandshakeKind::response, 2002, 1001}, body,
                                mac1_key(ik ? &keys().client.public_key : nullptr));
      (void)i.on_datagram(now, d);
      break;
    }
    case 5: {  // a genuine XX exchange up to message 3, then body as the finish's Noise message
      Responder r = responder();
      Initiator i = initiator(false);
      auto m2 = r.on_datagram(now, address, i.initiation(now), false, 2002);
      check(m2.ok() && m2->reply.has_value());
      auto done = i.on_datagram(now, *m2->reply);
      check(done.ok() && done->reply.has_value());
      Bytes d = build_handshake({HandshakeKind::finish, 1001, 2002}, body, mac1_key(&keys().server.public_key));
      auto out = r.on_datagram(now, address, d, false, 3003);
      // The genuine finish still completes whatever the forged one did.
      check(r.on_datagram(now, address, *done->reply, false, 3003).ok() || out.ok());
      break;
    }
    case 6: {  // raw datagram to an initiator (cookie replies, responses, junk)
      Initiator i = initiator(flag);
      (void)i.on_datagram(now, body);
      break;
    }
    case 7:
    case 8: {  // body straight into HandshakeState::read_message at each position a party reads
      const Pattern p = mode == 7 ? Pattern::ik : Pattern::xx;
      HandshakeConfig rc{p, Role::responder, {}, keys().server, filled(0x52), std::nullopt};
      auto r = HandshakeState::create(rc);
      check(r.ok());
      (void)r->read_message(body);
      HandshakeConfig ic{p, Role::initiator, {}, keys().client, filled(0x51),
                         p == Pattern::ik ? std::optional<PublicKey>(keys().server.public_key) : std::nullopt};
      auto i = HandshakeState::create(ic);
      check(i.ok());
      auto m1 = i->write_message({});
      check(m1.ok());
      (void)i->read_message(body);
      break;
    }
    case 9:
      handshake_payload_round_trip(body);
      (void)parse_handshake(body);
      break;
  }
  return 0;
}
