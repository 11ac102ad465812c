// Noise handshakes: published test vectors for IK and XX, and handshakes between two in-memory parties.
#include <catch2/catch.hpp>

#include <vector>

#include "pdtp/secure/noise.hpp"
#include "secure_test_support.hpp"

using namespace pdtp::secure;
using secure_test::bytes;
using secure_test::hex;
using secure_test::secret;
using secure_test::secret_filled;

namespace {

// Test vectors from the cacophony suite as shipped with noise-c: rweather/noise-c, file
// tests/vector/cacophony.txt, entries "Noise_IK_25519_ChaChaPoly_SHA256" and
// "Noise_XX_25519_ChaChaPoly_SHA256". Values copied verbatim (they are test data, not code).
struct VectorMessage {
  const char* payload;
  const char* ciphertext;
};
struct Vector {
  Pattern pattern;
  const char* prologue;
  const char* init_static;
  const char* init_ephemeral;
  const char* resp_static;
  const char* resp_ephemeral;
  std::vector<VectorMessage> messages;
};

const Vector ik_vector{
    Pattern::ik,
    "4a6f686e2047616c74",
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    {
        {"4c756477696720766f6e204d69736573",
         "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944718da798efbcd91528520204f904b9bd6c7413dccd"
         "c214d951e15253e39987f18146e8cd0873654207148333479d4d16c289f0294b29960a72f48e0b7bba2e89083169825e59642148d4"
         "92020664ccf7"},
        {"4d757272617920526f746862617264",
         "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088435361e70b2ed446e6c9ec387d1d6b3b840f194e3739"
         "79d241b203c4acafccf5"},
        {"462e20412e20486179656b", "050e9f3c8fac16b68dbce8f8c4bfbf6617c897f9ada4aa29aa19c8"},
        {"4361726c204d656e676572", "344233a6cabb7141d80f3da2fedc311d9646bbb0f505afe403a667"},
        {"4a65616e2d426170746973746520536179", "62cdeeb172ad7ade7aa7d9e069da5790f12331bfa00177787a1d0810c67dc3b2b4"},
        {"457567656e2042f6686d20766f6e2042617765726b",
         "029bead1b40992327044d409d9a1f3ad8f36c3c452775d557e18bbeb2e8dfcead32d514024"},
    }};

const Vector xx_vector{
    Pattern::xx,
    "4a6f686e2047616c74",
    "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    {
        {"4c756477696720766f6e204d69736573",
         "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
        {"4d757272617920526f746862617264",
         "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aa"
         "a3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d"
         "162c9326ad"},
        {"462e20412e20486179656b",
         "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4"
         "ec82a286427402f113e4b6ae769a1d95941d49b25030"},
        {"4361726c204d656e676572", "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df"},
        {"4a65616e2d426170746973746520536179", "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5"},
        {"457567656e2042f6686d20766f6e2042617765726b",
         "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f"},
    }};

// Runs the vector: handshake messages through HandshakeState, the rest through the split ciphers,
// alternating senders starting with the initiator. Checks both the bytes and the peer's decryption.
void run_vector(const Vector& v) {
  const KeyPair init_static = keypair_from_secret(secret(v.init_static));
  const KeyPair resp_static = keypair_from_secret(secret(v.resp_static));

  HandshakeConfig ic;
  ic.pattern = v.pattern;
  ic.role = Role::initiator;
  ic.prologue = hex(v.prologue);
  ic.local_static = init_static;
  ic.local_ephemeral = secret(v.init_ephemeral);
  if (v.pattern == Pattern::ik) ic.remote_static = resp_static.public_key;

  HandshakeConfig rc;
  rc.pattern = v.pattern;
  rc.role = Role::responder;
  rc.prologue = hex(v.prologue);
  rc.local_static = resp_static;
  rc.local_ephemeral = secret(v.resp_ephemeral);

  auto init = HandshakeState::create(ic);
  auto resp = HandshakeState::create(rc);
  REQUIRE(init.ok());
  REQUIRE(resp.ok());

  std::optional<TransportCiphers> init_t, resp_t;
  for (std::size_t i = 0; i < v.messages.size(); ++i) {
    INFO("message " << i);
    const Bytes payload = hex(v.messages[i].payload);
    const Bytes expected = hex(v.messages[i].ciphertext);
    const bool from_initiator = i % 2 == 0;
    HandshakeState& sender = from_initiator ? *init : *resp;
    HandshakeState& receiver = from_initiator ? *resp : *init;
    if (!sender.finished()) {
      auto ct = sender.write_message(payload);
      REQUIRE(ct.ok());
      CHECK(*ct == expected);
      auto pt = receiver.read_message(expected);
      REQUIRE(pt.ok());
      CHECK(*pt == payload);
      if (init->finished() && !init_t) {
        init_t = *init->split();
        resp_t = *resp->split();
        CHECK(init->handshake_hash() == resp->handshake_hash());
      }
    } else {
      REQUIRE(init_t);
      TransportCiphers& s = from_initiator ? *init_t : *resp_t;
      TransportCiphers& r = from_initiator ? *resp_t : *init_t;
      auto ct = s.send.encrypt_with_ad(ByteView(), payload);
      REQUIRE(ct.ok());
      CHECK(*ct == expected);
      auto pt = r.receive.decrypt_with_ad(ByteView(), expected);
      REQUIRE(pt.ok());
      CHECK(*pt == payload);
    }
  }
  REQUIRE(init->remote_static());
  REQUIRE(resp->remote_static());
  CHECK(*init->remote_static() == resp_static.public_key);
  CHECK(*resp->remote_static() == init_static.public_key);
}

struct Pair {
  HandshakeState initiator;
  HandshakeState responder;
};

Pair make_pair(Pattern p, const KeyPair& is, const KeyPair& rs, std::optional<PublicKey> initiator_knows,
               std::string_view prologue = "pdtp test") {
  HandshakeConfig ic;
  ic.pattern = p;
  ic.role = Role::initiator;
  ic.prologue = bytes(prologue);
  ic.local_static = is;
  ic.local_ephemeral = secret_filled(0x11);
  ic.remote_static = initiator_knows;
  HandshakeConfig rc;
  rc.pattern = p;
  rc.role = Role::responder;
  rc.prologue = bytes(prologue);
  rc.local_static = rs;
  rc.local_ephemeral = secret_filled(0x22);
  auto i = HandshakeState::create(ic);
  auto r = HandshakeState::create(rc);
  REQUIRE(i.ok());
  REQUIRE(r.ok());
  return Pair{*i, *r};
}

// Runs a handshake to the end, each message carrying a small payload. Returns false on the first error.
bool complete(Pair& p, std::string* error = nullptr) {
  while (!p.initiator.finished() || !p.responder.finished()) {
    HandshakeState& s = p.initiator.my_turn() ? p.initiator : p.responder;
    HandshakeState& r = p.initiator.my_turn() ? p.responder : p.initiator;
    auto ct = s.write_message(bytes("hello"));
    if (!ct) {
      if (error) *error = ct.error().message;
      return false;
    }
    auto pt = r.read_message(*ct);
    if (!pt) {
      if (error) *error = pt.error().message;
      return false;
    }
    if (*pt != bytes("hello")) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("Noise IK matches the published cacophony test vector") { run_vector(ik_vector); }

TEST_CASE("Noise XX matches the published cacophony test vector") { run_vector(xx_vector); }

TEST_CASE("a full IK handshake ends with matching split keys and mutual identities") {
  const KeyPair a = keypair_from_secret(secret_filled(1));
  const KeyPair b = keypair_from_secret(secret_filled(2));
  Pair p = make_pair(Pattern::ik, a, b, b.public_key);
  REQUIRE(complete(p));
  auto ti = p.initiator.split();
  auto tr = p.responder.split();
  REQUIRE(ti.ok());
  REQUIRE(tr.ok());
  CHECK(detail::equal_ct(ti->send.key().view(), tr->receive.key().view()));
  CHECK(detail::equal_ct(ti->receive.key().view(), tr->send.key().view()));
  CHECK_FALSE(detail::equal_ct(ti->send.key().view(), ti->receive.key().view()));
  CHECK(*p.initiator.remote_static() == b.public_key);
  CHECK(*p.responder.remote_static() == a.public_key);
  CHECK(p.initiator.handshake_hash() == p.responder.handshake_hash());
}

TEST_CASE("a full XX handshake ends with matching split keys and mutual identities") {
  const KeyPair a = keypair_from_secret(secret_filled(3));
  const KeyPair b = keypair_from_secret(secret_filled(4));
  Pair p = make_pair(Pattern::xx, a, b, std::nullopt);
  REQUIRE(complete(p));
  auto ti = p.initiator.split();
  auto tr = p.responder.split();
  REQUIRE(ti.ok());
  REQUIRE(tr.ok());
  CHECK(detail::equal_ct(ti->send.key().view(), tr->receive.key().view()));
  CHECK(detail::equal_ct(ti->receive.key().view(), tr->send.key().view()));
  CHECK(*p.initiator.remote_static() == b.public_key);
  CHECK(*p.responder.remote_static() == a.public_key);
}

TEST_CASE("an IK initiator with the wrong responder key fails at the responder with a clear error") {
  const KeyPair a = keypair_from_secret(secret_filled(5));
  const KeyPair b = keypair_from_secret(secret_filled(6));
  const KeyPair wrong = keypair_from_secret(secret_filled(7));
  Pair p = make_pair(Pattern::ik, a, b, wrong.public_key);
  auto m1 = p.initiator.write_message(bytes("hi"));
  REQUIRE(m1.ok());
  auto r = p.responder.read_message(*m1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == pdtp::Errc::decrypt_failed);
  CHECK_THAT(r.error().message, Catch::Contains("different responder public key"));
  CHECK(p.responder.failed());
}

TEST_CASE("different prologues make the handshake fail") {
  const KeyPair a = keypair_from_secret(secret_filled(8));
  const KeyPair b = keypair_from_secret(secret_filled(9));
  HandshakeConfig ic{Pattern::xx, Role::initiator, bytes("one"), a, secret_filled(0x31), std::nullopt};
  HandshakeConfig rc{Pattern::xx, Role::responder, bytes("two"), b, secret_filled(0x32), std::nullopt};
  Pair p{*HandshakeState::create(ic), *HandshakeState::create(rc)};
  std::string error;
  CHECK_FALSE(complete(p, &error));
  CHECK_THAT(error, Catch::Contains("does not decrypt"));
}

TEST_CASE("a tampered handshake message is rejected, for every byte position of IK message 1") {
  const KeyPair a = keypair_from_secret(secret_filled(10));
  const KeyPair b = keypair_from_secret(secret_filled(11));
  Pair base = make_pair(Pattern::ik, a, b, b.public_key);
  auto m1 = base.initiator.write_message(bytes("payload"));
  REQUIRE(m1.ok());
  for (std::size_t i = 0; i < m1->size(); ++i) {
    Bytes bad = *m1;
    bad[i] ^= 0x01;
    HandshakeState r = base.responder;
    auto res = r.read_message(bad);
    INFO("flipped byte " << i);
    CHECK_FALSE(res.ok());
  }
}

TEST_CASE("a tampered XX message 2 is rejected by the initiator") {
  const KeyPair a = keypair_from_secret(secret_filled(12));
  const KeyPair b = keypair_from_secret(secret_filled(13));
  Pair p = make_pair(Pattern::xx, a, b, std::nullopt);
  auto m1 = p.initiator.write_message(bytes(""));
  REQUIRE(p.responder.read_message(*m1).ok());
  auto m2 = p.responder.write_message(bytes("server"));
  REQUIRE(m2.ok());
  Bytes bad = *m2;
  bad.back() ^= 0x80;
  HandshakeState copy = p.initiator;
  CHECK(copy.read_message(bad).error().code == pdtp::Errc::decrypt_failed);
  // The untouched copy still accepts the genuine message: forged input costs nothing when callers copy.
  CHECK(p.initiator.read_message(*m2).ok());
}

TEST_CASE("messages out of turn, too short or after the end are refused") {
  const KeyPair a = keypair_from_secret(secret_filled(14));
  const KeyPair b = keypair_from_secret(secret_filled(15));
  Pair p = make_pair(Pattern::ik, a, b, b.public_key);
  CHECK(p.responder.write_message(bytes("x")).error().code == pdtp::Errc::bad_state);
  CHECK(p.initiator.read_message(bytes("x")).error().code == pdtp::Errc::bad_state);
  auto r = p.responder.read_message(Bytes(40, 0));
  CHECK(r.error().code == pdtp::Errc::bad_field);
  CHECK_THAT(r.error().message, Catch::Contains("shorter than the 96 bytes"));
  Pair q = make_pair(Pattern::ik, a, b, b.public_key);
  REQUIRE(complete(q));
  CHECK(q.initiator.write_message(bytes("x")).error().code == pdtp::Errc::bad_state);
}

TEST_CASE("an IK initiator without the responder key is a configuration error") {
  HandshakeConfig ic{Pattern::ik, Role::initiator, {}, keypair_from_secret(secret_filled(1)), secret_filled(2),
                     std::nullopt};
  auto r = HandshakeState::create(ic);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == pdtp::Errc::bad_key);
}

TEST_CASE("a low-order ephemeral key from the peer is rejected") {
  const KeyPair a = keypair_from_secret(secret_filled(16));
  const KeyPair b = keypair_from_secret(secret_filled(17));
  Pair p = make_pair(Pattern::xx, a, b, std::nullopt);
  REQUIRE(p.responder.read_message(Bytes(32, 0)).ok());  // XX message 1 carries only e: no DH yet
  auto m2 = p.responder.write_message(bytes(""));
  REQUIRE_FALSE(m2.ok());  // ee with the all-zero point gives a zero shared secret
  CHECK(m2.error().code == pdtp::Errc::bad_key);
}

TEST_CASE("CipherState rekey changes the key and both sides stay in step") {
  CipherState a(AeadKey(std::array<std::uint8_t, 32>{1, 2, 3}));
  CipherState b = a;
  a.rekey();
  b.rekey();
  CHECK(detail::equal_ct(a.key().view(), b.key().view()));
  CipherState original(AeadKey(std::array<std::uint8_t, 32>{1, 2, 3}));
  CHECK_FALSE(detail::equal_ct(a.key().view(), original.key().view()));
  auto ct = a.encrypt_with_ad(bytes("ad"), bytes("data"));
  REQUIRE(ct.ok());
  auto pt = b.decrypt_with_ad(bytes("ad"), *ct);
  REQUIRE(pt.ok());
  CHECK(*pt == bytes("data"));
}

TEST_CASE("a CipherState at the reserved last nonce refuses to encrypt") {
  CipherState c(AeadKey(std::array<std::uint8_t, 32>{9}));
  c.set_nonce(~std::uint64_t{0});
  CHECK(c.encrypt_with_ad({}, bytes("x")).error().code == pdtp::Errc::key_expired);
}
