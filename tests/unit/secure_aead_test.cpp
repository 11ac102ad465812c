// Packet protection: AEAD per packet with the packet number as nonce, replay window, key limits.
#include <catch2/catch.hpp>

#include <vector>

#include "pdtp/secure/aead.hpp"
#include "secure_test_support.hpp"

using namespace pdtp::secure;
using namespace std::chrono_literals;
using secure_test::bytes;

namespace {

AeadKey key_of(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return AeadKey(a);
}

std::vector<Suite> suites_here() {
  std::vector<Suite> s{Suite::chacha20_poly1305};
  if (aes256gcm_available()) s.push_back(Suite::aes256_gcm);
  return s;
}

// Two ends of a session: a's send key is b's receive key and vice versa.
std::pair<PacketProtector, PacketProtector> pair_for(Suite s, KeyLimits limits = {}) {
  auto a = PacketProtector::create(s, key_of(1), key_of(2), limits);
  auto b = PacketProtector::create(s, key_of(2), key_of(1), limits);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  return {std::move(*a), std::move(*b)};
}

Bytes sealed(PacketProtector& p, std::uint64_t pn, const Bytes& header, const Bytes& payload) {
  Bytes buf = payload;
  buf.resize(payload.size() + PacketProtector::overhead());
  REQUIRE(p.seal(pn, header, buf).ok());
  return buf;
}

}  // namespace

TEST_CASE("a sealed packet opens to the same bytes, in place, with either suite") {
  for (Suite s : suites_here()) {
    INFO(suite_name(s));
    auto [a, b] = pair_for(s);
    const Bytes header = bytes("\x04hdr-13-bytes");
    const Bytes payload = bytes("stream frame bytes");
    Bytes buf = sealed(a, 7, header, payload);
    CHECK(buf.size() == payload.size() + 16);
    CHECK(Bytes(buf.begin(), buf.begin() + static_cast<long>(payload.size())) != payload);
    auto n = b.open(7, header, buf);
    REQUIRE(n.ok());
    CHECK(Bytes(buf.begin(), buf.begin() + static_cast<long>(*n)) == payload);
  }
}

TEST_CASE("ChaCha20-Poly1305 packet protection is Noise's transport encryption at nonce = packet number") {
  auto key = PacketKey::create(Suite::chacha20_poly1305, key_of(9));
  REQUIRE(key.ok());
  CipherState noise(key_of(9));
  noise.set_nonce(12345);
  const Bytes header = bytes("header"), payload = bytes("payload");
  CHECK(key->seal(12345, header, payload) == *noise.encrypt_with_ad(header, payload));
}

TEST_CASE("AES-256-GCM with the precomputed key schedule matches the one-shot API and a big-endian nonce") {
  if (!aes256gcm_available()) return;  // nothing to compare on a CPU without AES-NI
  auto key = PacketKey::create(Suite::aes256_gcm, key_of(5));
  REQUIRE(key.ok());
  const Bytes header = bytes("h"), payload = bytes("some payload");
  const std::uint64_t pn = 0x0102030405060708ULL;
  std::array<std::uint8_t, 12> nonce{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  Bytes expect(payload.size() + 16);
  unsigned long long len = 0;
  const AeadKey k = key_of(5);
  crypto_aead_aes256gcm_encrypt(expect.data(), &len, payload.data(), payload.size(), header.data(), header.size(),
                                nullptr, nonce.data(), k.data());
  CHECK(key->seal(pn, header, payload) == expect);
}

TEST_CASE("a tampered data packet is rejected: payload, tag, header or packet number") {
  for (Suite s : suites_here()) {
    INFO(suite_name(s));
    auto [a, b] = pair_for(s);
    const Bytes header = bytes("header-bytes!");
    const Bytes good = sealed(a, 3, header, bytes("hello world"));
    for (std::size_t i = 0; i < good.size(); ++i) {
      Bytes bad = good;
      bad[i] ^= 0x20;
      CHECK(b.open(3, header, bad).error().code == pdtp::Errc::decrypt_failed);
    }
    Bytes bad_header = header;
    bad_header[0] ^= 1;
    Bytes copy = good;
    CHECK(b.open(3, bad_header, copy).error().code == pdtp::Errc::decrypt_failed);
    copy = good;
    CHECK(b.open(4, header, copy).error().code == pdtp::Errc::decrypt_failed);
    // None of the failures left a trace: the genuine packet still opens.
    copy = good;
    CHECK(b.open(3, header, copy).ok());
  }
}

TEST_CASE("a packet shorter than the tag is rejected") {
  auto [a, b] = pair_for(Suite::chacha20_poly1305);
  Bytes tiny(10, 0);
  CHECK(b.open(0, {}, tiny).error().code == pdtp::Errc::decrypt_failed);
  CHECK(a.seal(0, {}, tiny).error().code == pdtp::Errc::bad_field);
}

TEST_CASE("a replayed data packet is rejected after it authenticates; a late one inside the window is accepted once") {
  auto [a, b] = pair_for(Suite::chacha20_poly1305);
  const Bytes header = bytes("h");
  std::vector<Bytes> packets;
  for (std::uint64_t pn = 0; pn < 100; ++pn) packets.push_back(sealed(a, pn, header, bytes("p")));
  Bytes p99 = packets[99];
  REQUIRE(b.open(99, header, p99).ok());
  Bytes p50 = packets[50];
  REQUIRE(b.open(50, header, p50).ok());  // late, inside the window
  p50 = packets[50];
  auto again = b.open(50, header, p50);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == pdtp::Errc::replayed);
}

TEST_CASE("a forged packet does not move the replay window") {
  auto [a, b] = pair_for(Suite::chacha20_poly1305);
  const Bytes header = bytes("h");
  Bytes p1 = sealed(a, 1, header, bytes("one"));
  Bytes forged(40, 0xAA);
  CHECK_FALSE(b.open(1'000'000, header, forged).ok());  // would push 1 out of the window if it counted
  CHECK(b.window().empty());
  CHECK(b.open(1, header, p1).ok());
}

TEST_CASE("sealing refuses a packet number that does not increase") {
  auto [a, b] = pair_for(Suite::chacha20_poly1305);
  Bytes buf(20);
  CHECK(a.seal(5, {}, buf).ok());
  Bytes buf2(20);
  CHECK(a.seal(5, {}, buf2).error().code == pdtp::Errc::bad_state);
  CHECK(a.seal(4, {}, buf2).error().code == pdtp::Errc::bad_state);
  CHECK(a.seal(6, {}, buf2).ok());
  CHECK(a.next_send_number() == 7);
}

TEST_CASE("packet numbers at the reject-after-messages limit are refused both ways") {
  KeyLimits l;
  l.reject_after_messages = 100;
  auto [a, b] = pair_for(Suite::chacha20_poly1305, l);
  Bytes buf(20);
  CHECK(a.seal(99, {}, buf).ok());
  Bytes buf2(20);
  CHECK(a.seal(100, {}, buf2).error().code == pdtp::Errc::key_expired);
  CHECK(b.open(100, {}, buf2).error().code == pdtp::Errc::key_expired);
}

TEST_CASE("negotiation picks AES-256-GCM only when both ends have it") {
  const SuiteSet chacha = static_cast<SuiteSet>(Suite::chacha20_poly1305);
  const SuiteSet both = chacha | static_cast<SuiteSet>(Suite::aes256_gcm);
  CHECK(*choose_suite(both, both) == Suite::aes256_gcm);
  CHECK(*choose_suite(chacha, both) == Suite::chacha20_poly1305);
  CHECK(*choose_suite(both, chacha) == Suite::chacha20_poly1305);
  CHECK(choose_suite(static_cast<SuiteSet>(Suite::aes256_gcm), chacha).error().code == pdtp::Errc::unsupported);
  CHECK((local_suites() & chacha) != 0);
}
