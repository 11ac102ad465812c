// Key pairs, the text form of public keys, fingerprints.
#include <catch2/catch.hpp>

#include "pdtp/secure/keys.hpp"
#include "secure_test_support.hpp"

using namespace pdtp::secure;
using secure_test::hex;
using secure_test::secret;

TEST_CASE("a key pair derives the published X25519 public key from its secret") {
  // RFC 7748 section 6.1: Alice's private and public keys.
  const KeyPair kp = keypair_from_secret(secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  CHECK(to_hex(kp.public_key) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST_CASE("a public key round-trips through base64url, which is 43 URL-safe characters") {
  const KeyPair kp = generate_keypair(secure_test::random_source(7));
  const std::string text = to_text(kp.public_key);
  CHECK(text.size() == 43);
  CHECK(text.find_first_of("+/=") == std::string::npos);
  auto back = parse_public_key(text);
  REQUIRE(back.ok());
  CHECK(*back == kp.public_key);
}

TEST_CASE("a public key parses from hex and from padded standard base64 too") {
  const KeyPair kp = generate_keypair(secure_test::random_source(8));
  auto from_hex = parse_public_key(to_hex(kp.public_key));
  REQUIRE(from_hex.ok());
  CHECK(*from_hex == kp.public_key);
  // RFC 7748 Alice's public key in standard base64 with padding, as WireGuard would print it.
  auto b64 = parse_public_key("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
  REQUIRE(b64.ok());
  CHECK(to_hex(*b64) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST_CASE("malformed public key text is rejected with a message naming the problem") {
  auto short_key = parse_public_key("abc");
  REQUIRE_FALSE(short_key.ok());
  CHECK(short_key.error().code == pdtp::Errc::bad_key);
  CHECK_THAT(short_key.error().message, Catch::Contains("3 characters"));

  auto bad_hex = parse_public_key(std::string(63, 'a') + "g");
  REQUIRE_FALSE(bad_hex.ok());
  CHECK_THAT(bad_hex.error().message, Catch::Contains("not valid hex"));

  auto bad_b64 = parse_public_key(std::string(42, 'A') + "*");
  REQUIRE_FALSE(bad_b64.ok());
  CHECK(bad_b64.error().code == pdtp::Errc::bad_key);

  auto zero = parse_public_key(std::string(64, '0'));
  REQUIRE_FALSE(zero.ok());
  CHECK_THAT(zero.error().message, Catch::Contains("all zero"));
}

TEST_CASE("base64url text with non-canonical trailing bits is rejected") {
  const KeyPair kp = generate_keypair(secure_test::random_source(9));
  std::string text = to_text(kp.public_key);
  // The last character carries 4 unused bits; set them so decoding would be ambiguous.
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto v = alphabet.find(text.back());
  text.back() = alphabet[(v & ~std::size_t{15}) | 1];
  CHECK_FALSE(parse_public_key(text).ok());
}

TEST_CASE("a fingerprint is eight groups of four hex digits from SHA-256 of the key") {
  const KeyPair kp = keypair_from_secret(secret("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const std::string fp = fingerprint_text(kp.public_key);
  CHECK(fp.size() == 39);
  CHECK(fp[4] == '-');
  const auto digest = fingerprint(kp.public_key);
  CHECK(fp.substr(0, 4) == pdtp::secure::detail::to_hex(ByteView(digest.data(), 2)));
  const KeyPair other = generate_keypair(secure_test::random_source(10));
  CHECK(fingerprint_text(other.public_key) != fp);
}
