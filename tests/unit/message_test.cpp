// Message codec: ["type", {args}] <-> typed structs.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pdtp/wire/message.hpp"

using namespace pdtp;

namespace {
const std::string hash_a(64, 'a');
// Static public keys in their text form (43 characters of base64url).
constexpr const char* peer_key_a = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo";
constexpr const char* peer_key_b = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";

std::vector<Message> one_of_each() {
  return {
      Register{"peer-1", 60860},
      AskInfo{"http://example.org/a.mkv"},
      Request{"http://example.org/a.mkv", std::nullopt},
      Request{"http://example.org/a.mkv", ByteRange{0, 4999}},
      Unrequest{"http://example.org/a.mkv", ByteRange{5000, 9999}},
      Unrequest{"http://example.org/a.mkv", std::nullopt},
      Provide{"http://example.org/a.mkv", std::nullopt},
      Provide{"http://example.org/a.mkv", ByteRange{0, 0}},
      Unprovide{"http://example.org/a.mkv", ByteRange{10, 20}},
      Unprovide{"http://example.org/a.mkv", std::nullopt},
      AskVerify{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2"},
      AskVerify{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2", std::string(peer_key_b)},
      Completed{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2", hash_a},
      Completed{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2", std::nullopt},
      TellInfo{"http://example.org/a.mkv", 123456789012ULL, 250000, true, std::nullopt},
      TellInfo{"http://example.org/missing", 0, 0, false, std::string("no such file")},
      Transfer{"10.0.0.3", 60861, TransferMethod::get, "http://example.org/a.mkv", ByteRange{0, 4999}, "dstream"},
      Transfer{"::1", 1, TransferMethod::put, "http://example.org/a.mkv", ByteRange{5000, 5001}, "peer-3"},
      Transfer{"10.0.0.3", 7000, TransferMethod::get, "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-3",
               std::string(peer_key_a)},
      Transfer{"10.0.0.3", 6086, TransferMethod::get, "http://example.org/a.mkv", ByteRange{0, 4999}, "dstream",
               std::nullopt, hash_a},
      TellVerify{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2", true},
      TellVerify{"10.0.0.2", "http://example.org/a.mkv", ByteRange{0, 4999}, "peer-2", false},
      HashVerify{"http://example.org/a.mkv", ByteRange{0, 4999}, true},
      HashVerify{"http://example.org/a.mkv", ByteRange{0, 4999}, false},
      ProtocolError{"register must come first"},
      ErrorMessage{"unknown url", "http://example.org/nope", std::nullopt},
      ErrorMessage{"invalid transfer", "http://example.org/a.mkv", ByteRange{0, 4999}},
  };
}

Error decode_error(std::string_view body) {
  auto r = decode_message(body);
  INFO(body);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

Message decode_ok(std::string_view body) {
  auto r = decode_message(body);
  INFO(body);
  if (!r) INFO(r.error().message);
  REQUIRE(r.ok());
  return *r;
}
}  // namespace

TEST_CASE("every message type survives an encode/decode round trip") {
  for (const Message& m : one_of_each()) {
    const std::string body = encode_message(m);
    INFO(body);
    auto back = decode_message(body);
    REQUIRE(back.ok());
    CHECK(*back == m);
    CHECK(encode_message(*back) == body);
  }
}

TEST_CASE("message_type gives the wire name of every message") {
  CHECK(message_type(Register{}) == "register");
  CHECK(message_type(AskInfo{}) == "ask_info");
  CHECK(message_type(Request{}) == "request");
  CHECK(message_type(Unrequest{}) == "unrequest");
  CHECK(message_type(Provide{}) == "provide");
  CHECK(message_type(Unprovide{}) == "unprovide");
  CHECK(message_type(AskVerify{}) == "ask_verify");
  CHECK(message_type(Completed{}) == "completed");
  CHECK(message_type(TellInfo{}) == "tell_info");
  CHECK(message_type(Transfer{}) == "transfer");
  CHECK(message_type(TellVerify{}) == "tell_verify");
  CHECK(message_type(HashVerify{}) == "hash_verify");
  CHECK(message_type(ProtocolError{}) == "protocol_error");
  CHECK(message_type(ErrorMessage{}) == "error");
}

TEST_CASE("the encoding is the compact array form with the type first") {
  CHECK(encode_message(Register{"me", 60860}) == R"(["register",{"client_id":"me","listen_port":60860}])");
  CHECK(encode_message(Request{"http://h/f", ByteRange{0, 9}}) ==
        R"(["request",{"url":"http://h/f","range":{"min":0,"max":9}}])");
  CHECK(encode_message(Request{"http://h/f", std::nullopt}) == R"(["request",{"url":"http://h/f"}])");
  CHECK(encode_message(Transfer{"1.2.3.4", 80, TransferMethod::put, "u", ByteRange{1, 2}, "p"}) ==
        R"(["transfer",{"host":"1.2.3.4","port":80,"method":"put","url":"u","range":{"min":1,"max":2},"peer_id":"p"}])");
}

TEST_CASE("peer_key is written after peer_id only when present, so plain v2 messages are unchanged") {
  CHECK(encode_message(Transfer{"1.2.3.4", 80, TransferMethod::get, "u", ByteRange{1, 2}, "p", std::string("K")}) ==
        R"(["transfer",{"host":"1.2.3.4","port":80,"method":"get","url":"u","range":{"min":1,"max":2},"peer_id":"p",)"
        R"("peer_key":"K"}])");
  CHECK(encode_message(AskVerify{"1.2.3.4", "u", ByteRange{1, 2}, "p", std::string("K")}) ==
        R"(["ask_verify",{"peer":"1.2.3.4","url":"u","range":{"min":1,"max":2},"peer_id":"p","peer_key":"K"}])");
  CHECK(encode_message(AskVerify{"1.2.3.4", "u", ByteRange{1, 2}, "p", std::nullopt}) ==
        R"(["ask_verify",{"peer":"1.2.3.4","url":"u","range":{"min":1,"max":2},"peer_id":"p"}])");
}

TEST_CASE("transfer and ask_verify decode with and without peer_key; null means absent") {
  const std::string transfer = R"(["transfer",{"host":"h","port":1,"method":"get","url":"u","range":{"min":0,"max":1},)"
                               R"("peer_id":"i")";
  const std::string ask = R"(["ask_verify",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i")";
  CHECK(std::get<Transfer>(decode_ok(transfer + "}]")).peer_key == std::nullopt);
  CHECK(std::get<Transfer>(decode_ok(transfer + R"(,"peer_key":null}])")).peer_key == std::nullopt);
  CHECK(std::get<Transfer>(decode_ok(transfer + ",\"peer_key\":\"" + peer_key_a + "\"}]")).peer_key ==
        std::optional<std::string>(peer_key_a));
  CHECK(std::get<AskVerify>(decode_ok(ask + "}]")).peer_key == std::nullopt);
  CHECK(std::get<AskVerify>(decode_ok(ask + ",\"peer_key\":\"" + peer_key_b + "\"}]")).peer_key ==
        std::optional<std::string>(peer_key_b));
  // Other messages ignore it like any unknown key.
  CHECK(decode_ok(R"(["ask_info",{"url":"u","peer_key":5}])") == Message{AskInfo{"u"}});
}

TEST_CASE("a peer_key that is not a string, or longer than 128 bytes, is bad_field") {
  const std::string transfer = R"(["transfer",{"host":"h","port":1,"method":"get","url":"u","range":{"min":0,"max":1},)"
                               R"("peer_id":"i","peer_key":)";
  const std::string ask = R"(["ask_verify",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i","peer_key":)";
  for (const std::string& head : {transfer, ask}) {
    for (const char* bad : {"5", "true", "[\"k\"]", "{\"k\":1}"}) {
      const auto e = decode_error(head + bad + "}]");
      CHECK(e.code == Errc::bad_field);
      CHECK(e.message.find("peer_key") != std::string::npos);
    }
    const auto e = decode_error(head + "\"" + std::string(129, 'k') + "\"}]");
    CHECK(e.code == Errc::bad_field);
    CHECK(e.message.find("peer_key") != std::string::npos);
    CHECK(e.message.find("129") != std::string::npos);
    decode_ok(head + "\"" + std::string(128, 'k') + "\"}]");
  }
}

TEST_CASE("a message written by hand with whitespace, a trailing CRLF and reordered keys decodes") {
  auto m = decode_ok(" [ \"transfer\" , { \"peer_id\":\"x\", \"range\" : {\"max\":9,\"min\":0}, \"url\":\"u\",\n"
                     "\"method\":\"get\", \"port\":6087, \"host\":\"127.0.0.1\" } ]\r\n");
  CHECK(m == Message{Transfer{"127.0.0.1", 6087, TransferMethod::get, "u", ByteRange{0, 9}, "x"}});
}

TEST_CASE("unknown extra keys are ignored, however nested") {
  auto m = decode_ok(R"(["register",{"client_id":"a","extra":{"client_id":"evil","x":[1,[2,{"y":null}]]},)"
                     R"("listen_port":1,"more":[true,false,1.5,-3,"s"]}])");
  CHECK(m == Message{Register{"a", 1}});
  auto r = decode_ok(R"(["request",{"url":"u","range":{"min":0,"max":4,"step":{"min":9}}}])");
  CHECK(r == Message{Request{"u", ByteRange{0, 4}}});
}

TEST_CASE("a repeated key takes its last value") {
  auto m = decode_ok(R"(["ask_info",{"url":"first","url":"second"}])");
  CHECK(m == Message{AskInfo{"second"}});
}

TEST_CASE("strings with escapes decode and re-encode with escaping") {
  auto m = decode_ok(R"(["protocol_error",{"message":"a\"b\\c\/d\n\t\u0001\u00e9\ud83d\ude00"}])");
  const std::string expect = "a\"b\\c/d\n\t\x01\xC3\xA9\xF0\x9F\x98\x80";
  CHECK(m == Message{ProtocolError{expect}});
  CHECK(encode_message(m) == "[\"protocol_error\",{\"message\":\"a\\\"b\\\\c/d\\n\\t\\u0001\xC3\xA9\xF0\x9F\x98\x80\"}]");
}

TEST_CASE("every control character and NUL is escaped and round trips") {
  std::string s;
  for (int c = 0; c < 0x20; ++c) s.push_back(static_cast<char>(c));
  s += "\x7f\"\\/";
  const Message m = ProtocolError{s};
  const std::string body = encode_message(m);
  for (char c : body) CHECK(static_cast<unsigned char>(c) >= 0x20);
  CHECK(decode_ok(body) == m);
}

TEST_CASE("invalid UTF-8 in a string is encoded as U+FFFD so the output stays valid JSON") {
  const std::string body = encode_message(ProtocolError{"a\xFF" "b\xC3"});
  CHECK(body == R"(["protocol_error",{"message":"a\ufffdb\ufffd"}])");
  CHECK(decode_ok(body) == Message{ProtocolError{"a\xEF\xBF\xBD" "b\xEF\xBF\xBD"}});
}

TEST_CASE("the type name may itself be written with escapes") {
  CHECK(decode_ok(R"(["\u0061sk_info",{"url":"u"}])") == Message{AskInfo{"u"}});
}

TEST_CASE("a hash is normalised to lowercase") {
  const std::string upper(64, 'A');
  auto m = decode_ok(R"(["completed",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i","hash":")" + upper +
                     "\"}]");
  CHECK(std::get<Completed>(m).hash == std::optional<std::string>(std::string(64, 'a')));
}

TEST_CASE("null for an optional field means absent") {
  CHECK(decode_ok(R"(["request",{"url":"u","range":null}])") == Message{Request{"u", std::nullopt}});
  CHECK(decode_ok(R"(["completed",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i","hash":null}])") ==
        Message{Completed{"p", "u", ByteRange{0, 1}, "i", std::nullopt}});
}

TEST_CASE("tell_info with an error may omit size, chunk_size and streaming") {
  CHECK(decode_ok(R"(["tell_info",{"url":"u","error":"not found"}])") ==
        Message{TellInfo{"u", 0, 0, false, std::string("not found")}});
  CHECK(decode_error(R"(["tell_info",{"url":"u","error":"nf","size":-1}])").code == Errc::bad_field);
}

TEST_CASE("tell_info without an error needs size, chunk_size and streaming") {
  const auto e = decode_error(R"(["tell_info",{"url":"u","size":1,"streaming":false}])");
  CHECK(e.code == Errc::missing_field);
  CHECK(e.message.find("chunk_size") != std::string::npos);
  CHECK(e.message.find("tell_info") != std::string::npos);
}

TEST_CASE("a body that is not JSON is invalid_json") {
  for (const char* b : {"", "   ", "[", "[\"register\",{]", "register", "[\"a\",{}] x", "[\"a\",{}]]", "\x01",
                        "[\"a\",{\"url\":\"\xFF\"}]", "[\"a\",{\"url\":'x'}]", "[\"a\",{},]", "[\"a\" {}]"}) {
    CHECK(decode_error(b).code == Errc::invalid_json);
  }
}

TEST_CASE("a syntax error wins over a shape error seen before it") {
  CHECK(decode_error(R"({"not":"an array")").code == Errc::invalid_json);
}

TEST_CASE("JSON that is not a two-member array with a string and an object is bad_shape") {
  for (const char* b : {R"({"type":"register"})", R"("register")", "42", "null", "[]", R"(["register"])",
                        R"(["register",{},{}])", R"([1,{}])", R"([["register"],{}])", R"(["register",[]])",
                        R"(["register","client_id"])", R"(["register",null])", R"([{},"register"])"}) {
    CHECK(decode_error(b).code == Errc::bad_shape);
  }
}

TEST_CASE("deep nesting is rejected without recursion") {
  const std::string deep = "[\"register\",{\"x\":" + std::string(30000, '[') + std::string(30000, ']') + "}]";
  const auto e = decode_error(deep);
  CHECK(e.code == Errc::bad_shape);
  CHECK(e.message.find("nesting") != std::string::npos);
}

TEST_CASE("nesting up to 16 levels is accepted and 17 is rejected") {
  // The message array and the args object are two levels; the rest are arrays inside an unknown key.
  const auto body = [](std::size_t levels) {
    return "[\"ask_info\",{\"url\":\"u\",\"x\":" + std::string(levels - 2, '[') + std::string(levels - 2, ']') + "}]";
  };
  CHECK(decode_ok(body(16)) == Message{AskInfo{"u"}});
  CHECK(decode_error(body(17)).code == Errc::bad_shape);
  CHECK(wire::detail::decode_message_full(body(16)).ok());
  CHECK(wire::detail::decode_message_full(body(17)).error().code == Errc::bad_shape);
}

TEST_CASE("a body over 65535 bytes is rejected before parsing") {
  const std::string big = "[\"ask_info\",{\"url\":\"" + std::string(70000, 'a') + "\"}]";
  CHECK(decode_error(big).code == Errc::frame_too_large);
}

TEST_CASE("an unknown type is unknown_type and names the type") {
  const auto e = decode_error(R"(["dance",{}])");
  CHECK(e.code == Errc::unknown_type);
  CHECK(e.message.find("dance") != std::string::npos);
  CHECK(decode_error(R"(["Register",{"client_id":"a","listen_port":1}])").code == Errc::unknown_type);
}

TEST_CASE("a missing field is missing_field and names the field and the type") {
  const auto e = decode_error(R"(["register",{"client_id":"a"}])");
  CHECK(e.code == Errc::missing_field);
  CHECK(e.message.find("listen_port") != std::string::npos);
  CHECK(e.message.find("register") != std::string::npos);
  for (const char* b : {R"(["ask_info",{}])", R"(["request",{"range":{"min":0,"max":1}}])",
                        R"(["ask_verify",{"peer":"p","url":"u","peer_id":"i"}])",
                        R"(["completed",{"peer":"p","url":"u","range":{"min":0,"max":1}}])",
                        R"(["transfer",{"host":"h","port":1,"url":"u","range":{"min":0,"max":1},"peer_id":"i"}])",
                        R"(["tell_verify",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i"}])",
                        R"(["hash_verify",{"url":"u","range":{"min":0,"max":1}}])", R"(["protocol_error",{}])",
                        R"(["error",{"url":"u"}])", R"(["request",{"url":"u","range":{"min":0}}])",
                        R"(["request",{"url":"u","range":{"max":0}}])"}) {
    CHECK(decode_error(b).code == Errc::missing_field);
  }
}

TEST_CASE("a range reports which bound is missing") {
  CHECK(decode_error(R"(["request",{"url":"u","range":{"min":0}}])").message.find("range.max") != std::string::npos);
}

TEST_CASE("a field of the wrong type is bad_field and names the field") {
  const auto e = decode_error(R"(["register",{"client_id":7,"listen_port":1}])");
  CHECK(e.code == Errc::bad_field);
  CHECK(e.message.find("client_id") != std::string::npos);
  for (const char* b : {
           R"(["register",{"client_id":"a","listen_port":"80"}])",
           R"(["register",{"client_id":"a","listen_port":80.0}])",
           R"(["register",{"client_id":"a","listen_port":8e1}])",
           R"(["register",{"client_id":null,"listen_port":1}])",
           R"(["register",{"client_id":["a"],"listen_port":1}])",
           R"(["ask_info",{"url":{"u":1}}])",
           R"(["tell_info",{"url":"u","size":1,"chunk_size":1,"streaming":1}])",
           R"(["tell_info",{"url":"u","size":1,"chunk_size":1,"streaming":"true"}])",
           R"(["tell_info",{"url":"u","size":"1","chunk_size":1,"streaming":true}])",
           R"(["tell_info",{"url":"u","size":18446744073709551616,"chunk_size":1,"streaming":true}])",
           R"(["tell_info",{"url":"u","error":5}])",
           R"(["tell_verify",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i","authorized":"yes"}])",
           R"(["hash_verify",{"url":"u","range":{"min":0,"max":1},"hash_ok":0}])",
           R"(["transfer",{"host":"h","port":1,"method":"GET","url":"u","range":{"min":0,"max":1},"peer_id":"i"}])",
           R"(["transfer",{"host":"h","port":1,"method":"post","url":"u","range":{"min":0,"max":1},"peer_id":"i"}])",
           R"(["request",{"url":"u","range":[0,1]}])",
           R"(["request",{"url":"u","range":"0-1"}])",
           R"(["request",{"url":"u","range":{"min":"0","max":1}}])",
           R"(["request",{"url":"u","range":{"min":0,"max":1.5}}])",
           R"(["request",{"url":"u","range":{"min":0,"max":null}}])",
       }) {
    CHECK(decode_error(b).code == Errc::bad_field);
  }
}

TEST_CASE("a port above 65535 is bad_field") {
  CHECK(decode_error(R"(["register",{"client_id":"a","listen_port":70000}])").code == Errc::bad_field);
  CHECK(decode_error(R"(["transfer",{"host":"h","port":65536,"method":"get","url":"u","range":{"min":0,"max":1},)"
                     R"("peer_id":"i"}])")
            .code == Errc::bad_field);
  CHECK(decode_ok(R"(["register",{"client_id":"a","listen_port":65535}])") == Message{Register{"a", 65535}});
  CHECK(decode_ok(R"(["register",{"client_id":"a","listen_port":0}])") == Message{Register{"a", 0}});
}

TEST_CASE("negative numbers are bad_field") {
  CHECK(decode_error(R"(["register",{"client_id":"a","listen_port":-1}])").code == Errc::bad_field);
  CHECK(decode_error(R"(["request",{"url":"u","range":{"min":-1,"max":1}}])").code == Errc::bad_field);
  CHECK(decode_error(R"(["tell_info",{"url":"u","size":-5,"chunk_size":1,"streaming":true}])").code ==
        Errc::bad_field);
  CHECK(decode_error(R"(["register",{"client_id":"a","listen_port":-0}])").code == Errc::bad_field);
}

TEST_CASE("a range with min greater than max is bad_range") {
  const auto e = decode_error(R"(["request",{"url":"u","range":{"min":10,"max":9}}])");
  CHECK(e.code == Errc::bad_range);
  CHECK(decode_error(R"(["completed",{"peer":"p","url":"u","range":{"min":2,"max":1},"peer_id":"i"}])").code ==
        Errc::bad_range);
}

TEST_CASE("ranges use the full unsigned 64-bit span") {
  auto m = decode_ok(R"(["provide",{"url":"u","range":{"min":0,"max":18446744073709551615}}])");
  CHECK(std::get<Provide>(m).range == std::optional<ByteRange>(ByteRange{0, 18446744073709551615ULL}));
}

TEST_CASE("a hash that is not 64 hex digits is bad_field") {
  const std::string head = R"(["completed",{"peer":"p","url":"u","range":{"min":0,"max":1},"peer_id":"i","hash":)";
  CHECK(decode_error(head + "\"" + std::string(63, 'a') + "\"}]").code == Errc::bad_field);
  CHECK(decode_error(head + "\"" + std::string(65, 'a') + "\"}]").code == Errc::bad_field);
  CHECK(decode_error(head + "\"" + std::string(63, 'a') + "g\"}]").code == Errc::bad_field);
  CHECK(decode_error(head + "5}]").code == Errc::bad_field);
}

TEST_CASE("a transfer's hash (our extension) must be 64 hex digits too") {
  const std::string head =
      R"(["transfer",{"host":"h","port":1,"method":"get","url":"u","range":{"min":0,"max":1},"peer_id":"i","hash":)";
  CHECK(decode_error(head + "\"" + std::string(63, 'a') + "\"}]").code == Errc::bad_field);
  CHECK(std::get<Transfer>(decode_ok(head + "\"" + std::string(64, 'A') + "\"}]")).hash == std::string(64, 'a'));
  CHECK_FALSE(std::get<Transfer>(decode_ok(head + "null}]")).hash);
}

TEST_CASE("append_message_frame writes a frame identical to encode_frame of the body") {
  std::string out = "x";
  const Message m = AskInfo{"http://h/f"};
  REQUIRE(append_message_frame(out, m).ok());
  auto f = encode_frame(encode_message(m));
  REQUIRE(f.ok());
  CHECK(out == "x" + *f);
}

TEST_CASE("append_message_frame refuses a message over 65535 bytes and leaves the output alone") {
  std::string out = "keep";
  const auto st = append_message_frame(out, ProtocolError{std::string(70000, 'e')});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().code == Errc::frame_too_large);
  CHECK(out == "keep");
}

TEST_CASE("the fast scanner and nlohmann's parser decode the same messages") {
  std::vector<std::string> bodies;
  for (const Message& m : one_of_each()) bodies.push_back(encode_message(m));
  bodies.push_back(R"( ["register" , {"client_id":"a","listen_port":1,"x":[true,false,null,{"y":[]}]} ] )");
  bodies.push_back(R"(["register",{"client_id":"a","listen_port":70000}])");
  bodies.push_back(R"(["dance",{}])");
  bodies.push_back(R"(["request",{"url":"u","range":{"min":3,"max":1}}])");
  for (const std::string& b : bodies) {
    INFO(b);
    auto fast = wire::detail::decode_message_fast(b);
    REQUIRE(fast.has_value());
    auto full = wire::detail::decode_message_full(b);
    REQUIRE(fast->ok() == full.ok());
    if (full.ok()) {
      CHECK(**fast == *full);
    } else {
      CHECK(fast->error().code == full.error().code);
      CHECK(fast->error().message == full.error().message);
    }
  }
}

TEST_CASE("bodies outside the fast scanner's subset still decode through the full parser") {
  for (const char* b : {R"(["ask_info",{"url":"caf\u00e9"}])", "[\"ask_info\",{\"url\":\"caf\xC3\xA9\"}]",
                        R"(["ask_info",{"url":"u","n":-1.5e3}])", "\xEF\xBB\xBF[\"ask_info\",{\"url\":\"u\"}]"}) {
    INFO(b);
    CHECK_FALSE(wire::detail::decode_message_fast(b).has_value());
    CHECK(decode_message(b).ok());
  }
}
