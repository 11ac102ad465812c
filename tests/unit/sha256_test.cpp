// SHA-256 via OpenSSL EVP, checked against the FIPS 180-2 vectors.
#include <catch2/catch.hpp>

#include <string>

#include "pdtp/core/sha256.hpp"

using namespace pdtp;

TEST_CASE("sha256 of the empty string is the known vector") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("sha256 of abc is the known vector") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256 of the two-block message is the known vector") {
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("incremental updates give the same digest as one update") {
  Sha256 h;
  h.update("a");
  h.update(std::string_view("bc"));
  const char tail[] = "";
  h.update(tail, 0);
  CHECK(h.final_hex() == sha256_hex("abc"));
}

TEST_CASE("a hasher is reusable after final_hex") {
  Sha256 h;
  h.update("something else");
  (void)h.final_hex();
  h.update("abc");
  CHECK(h.final_hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(h.final_hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("a million a's hash to the known vector") {
  Sha256 h;
  const std::string block(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(block);
  CHECK(h.final_hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("a moved hasher keeps its state") {
  Sha256 a;
  a.update("ab");
  Sha256 b(std::move(a));
  b.update("c");
  CHECK(b.final_hex() == sha256_hex("abc"));
  Sha256 c;
  c = std::move(b);
  c.update("abc");
  CHECK(c.final_hex() == sha256_hex("abc"));
}
