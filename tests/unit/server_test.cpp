// The server state machine, driven through frames as a client would send them.
#include <catch2/catch.hpp>

#include <set>

#include "server_harness.hpp"

using namespace pdtp;
using pdtp::test::Harness;

namespace {

constexpr std::uint64_t kChunk = 1000;
const std::string kUrl = "http://example.org/a.bin";  // 9,500 bytes: chunks 0..8 of 1000, chunk 9 of 500

ByteRange chunk_range(ChunkIndex c, std::uint64_t size = 9500) { return ChunkLayout{size, kChunk}.chunk_range(c); }

ChunkIndex chunk_of(const Transfer& t) { return t.range.min / kChunk; }

void add_files(Harness& h) {
  h.catalog.add("/a.bin", 9500, kChunk);
  h.catalog.add("/big.bin", 64 * kChunk, kChunk, false, 1);
  h.catalog.add("/live.ts", 9500, kChunk, true, 2);
}

Sha256Hex hash_of(Harness& h, const std::string& path, ChunkIndex c) { return *h.catalog.chunk_hash(path, c); }

// The taker reports a chunk of /a.bin with the right hash.
void complete_ok(Harness& h, core::ConnId taker, const Transfer& t, const std::string& path = "/a.bin") {
  h.send(taker, Completed{t.host, t.url, t.range, t.peer_id, hash_of(h, path, chunk_of(t))});
}

}  // namespace

TEST_CASE("register then ask_info gets tell_info with the file's size, chunk size and streaming flag") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, AskInfo{kUrl});
  auto info = h.one<TellInfo>(1);
  CHECK(info.url == kUrl);
  CHECK(info.size == 9500);
  CHECK(info.chunk_size == kChunk);
  CHECK_FALSE(info.streaming);
  CHECK_FALSE(info.error);
  CHECK(h.closed.empty());

  h.send(1, AskInfo{"/live.ts"});
  CHECK(h.one<TellInfo>(1).streaming);
}

TEST_CASE("ask_info for an unknown file gets tell_info with size 0 and an error") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, AskInfo{"http://example.org/nope.bin"});
  auto info = h.one<TellInfo>(1);
  CHECK(info.url == "http://example.org/nope.bin");
  CHECK(info.size == 0);
  CHECK(info.chunk_size == 0);
  REQUIRE(info.error);
  CHECK(*info.error == "unknown file");
  CHECK(h.closed.empty());
}

TEST_CASE("a path escaping the root gets an error reply and the connection stays") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, AskInfo{"http://example.org/../etc/passwd"});
  auto info = h.one<TellInfo>(1);
  REQUIRE(info.error);
  CHECK(info.error->find("path_escapes_root") != std::string::npos);

  h.send(1, Request{"http://example.org/x/%2e%2e/%2e%2e/secret", std::nullopt});
  auto err = h.one<ErrorMessage>(1);
  CHECK(err.reason.find("path_escapes_root") != std::string::npos);
  CHECK(err.url == "http://example.org/x/%2e%2e/%2e%2e/secret");
  CHECK(h.closed.empty());
  CHECK(h.take<Transfer>(1).empty());
}

TEST_CASE("a request gets a transfer from the file service with its host, port, range and peer id") {
  core::ServerConfig cfg;
  cfg.file_service_port = 6087;
  Harness h(cfg);
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(3)});
  auto t = h.one<Transfer>(1);
  CHECK(t.host == h.local_ip);  // our address on the taker's connection
  CHECK(t.port == 6087);
  CHECK(t.method == TransferMethod::get);
  CHECK(t.url == kUrl);
  CHECK(t.range == chunk_range(3));
  CHECK(t.peer_id == server_peer_id);
  CHECK(h.server.next_timeout() == h.now + cfg.transfer_timeout);
}

TEST_CASE("a request without a range asks for the whole file, up to the download slots at once") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, std::nullopt});
  auto ts = h.take<Transfer>(1);
  REQUIRE(ts.size() == 8);
  std::set<ChunkIndex> chunks;
  for (auto& t : ts) {
    CHECK(t.range == chunk_range(chunk_of(t)));
    chunks.insert(chunk_of(t));
  }
  CHECK(chunks.size() == 8);  // never two transfers of one chunk to one taker
}

TEST_CASE("authorize_file_service accepts exactly the scheduled transfer") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.join(2, "b");
  h.send(1, Request{kUrl, chunk_range(9)});
  auto t = h.one<Transfer>(1);
  CHECK(t.range == chunk_range(9));  // the short tail chunk
  using V = core::FileServiceVerdict;
  CHECK(h.server.authorize_file_service("a", "/a.bin", chunk_range(9), h.now) == V::ok);
  CHECK(h.server.authorize_file_service("b", "/a.bin", chunk_range(9), h.now) == V::not_authorized);
  CHECK(h.server.authorize_file_service("a", "/a.bin", chunk_range(2), h.now) == V::not_authorized);
  CHECK(h.server.authorize_file_service("zed", "/a.bin", chunk_range(9), h.now) == V::unknown_peer);
  CHECK(h.server.authorize_file_service("a", "/nope.bin", chunk_range(9), h.now) == V::unknown_file);
  CHECK(h.server.authorize_file_service("a", "/a.bin", ByteRange{0, 20000}, h.now) == V::bad_range);
  // A peer id is not a credential: the request must come from the address the peer registered from.
  CHECK(h.server.authorize_file_service("a", "/a.bin", chunk_range(9), h.now, h.ip_of(1)) == V::ok);
  CHECK(h.server.authorize_file_service("a", "/a.bin", chunk_range(9), h.now, h.ip_of(2)) == V::not_authorized);
  CHECK(h.server.authorize_file_service("a", "/a.bin", ByteRange{5, 999}, h.now) == V::bad_range);
  // Once completed, the transfer is no longer authorized.
  complete_ok(h, 1, t);
  CHECK(h.server.authorize_file_service("a", "/a.bin", chunk_range(9), h.now) == V::not_authorized);
}

TEST_CASE("completed with the right hash gets hash_verify true and counts in the stats") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(9)});
  auto t = h.one<Transfer>(1);
  complete_ok(h, 1, t);
  auto v = h.one<HashVerify>(1);
  CHECK(v.hash_ok);
  CHECK(v.url == kUrl);
  CHECK(v.range == chunk_range(9));
  auto s = h.snap();
  CHECK(s.bytes_from_server == 500);
  CHECK(s.chunks_from_server == 1);
  CHECK(s.bytes_from_peers == 0);
  CHECK(s.rate_from_server == Approx(50.0));  // 500 bytes over a 10 s window
  REQUIRE(s.peers.size() == 1);
  CHECK(s.peers[0].bytes_down == 500);
  CHECK(s.peers[0].downloads == 0);
  CHECK(s.transfers.empty());
  CHECK_FALSE(h.server.next_timeout());
  CHECK(h.take<Transfer>(1).empty());  // nothing else requested
}

TEST_CASE("an uppercase hash is accepted") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(0)});
  auto t = h.one<Transfer>(1);
  std::string upper = hash_of(h, "/a.bin", 0);
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  h.send(1, Completed{t.host, t.url, t.range, t.peer_id, upper});
  CHECK(h.one<HashVerify>(1).hash_ok);
}

TEST_CASE("completed with a wrong hash gets hash_verify false and the chunk is scheduled again") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(4)});
  auto t = h.one<Transfer>(1);
  h.send(1, Completed{t.host, t.url, t.range, t.peer_id, std::string(64, '0')});
  CHECK_FALSE(h.one<HashVerify>(1).hash_ok);
  auto again = h.one<Transfer>(1);
  CHECK(again.range == chunk_range(4));
  auto s = h.snap();
  CHECK(s.hash_failures == 1);
  CHECK(s.chunks_from_server == 0);
}

TEST_CASE("completed without a hash is a failed transfer: counted and scheduled again") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(4)});
  auto t = h.one<Transfer>(1);
  h.send(1, Completed{t.host, t.url, t.range, t.peer_id, std::nullopt});
  CHECK(h.take<HashVerify>(1).empty());
  CHECK(h.one<Transfer>(1).range == chunk_range(4));
  CHECK(h.snap().transfers_failed == 1);
}

TEST_CASE("completed for a transfer that was never scheduled gets a non-fatal error") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Completed{"10.0.0.9", kUrl, chunk_range(1), "nobody", std::string(64, 'a')});
  auto e = h.one<ErrorMessage>(1);
  CHECK(e.reason == "unknown transfer");
  CHECK(e.url == kUrl);
  CHECK(e.range == chunk_range(1));
  CHECK(h.closed.empty());
}

TEST_CASE("a second client gets transfers from the first once it holds chunks, not from the server") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Request{kUrl, chunk_range(0)});
  complete_ok(h, 1, h.one<Transfer>(1));
  CHECK(h.one<HashVerify>(1).hash_ok);

  h.join(2, "b", 7002);
  h.send(2, Request{kUrl, chunk_range(0)});
  auto t = h.one<Transfer>(2);
  CHECK(t.peer_id == "a");
  CHECK(t.host == Harness::ip_of(1));
  CHECK(t.port == 7001);
  CHECK(t.range == chunk_range(0));

  complete_ok(h, 2, t);
  CHECK(h.one<HashVerify>(2).hash_ok);
  auto s = h.snap();
  CHECK(s.chunks_from_peers == 1);
  CHECK(s.bytes_from_peers == kChunk);
  CHECK(s.chunks_from_server == 1);
  for (auto& p : s.peers) {
    if (p.id == "a") CHECK(p.bytes_up == kChunk);
    if (p.id == "b") CHECK(p.bytes_down == kChunk);
  }
}

TEST_CASE("a giver's own completed report is ignored") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b", 7002);
  h.send(2, Request{kUrl, chunk_range(2)});
  auto t = h.one<Transfer>(2);
  REQUIRE(t.peer_id == "a");
  h.send(1, Completed{Harness::ip_of(2), kUrl, t.range, "b", hash_of(h, "/a.bin", 2)});
  CHECK(h.inbox[1].empty());  // no hash_verify, no error
  REQUIRE(h.snap().transfers.size() == 1);  // still waiting for the taker's report
  complete_ok(h, 2, t);
  CHECK(h.one<HashVerify>(2).hash_ok);
}

TEST_CASE("ask_verify is authorized for a scheduled peer transfer and not otherwise") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b", 7002);
  h.send(2, Request{kUrl, chunk_range(5)});
  auto t = h.one<Transfer>(2);
  REQUIRE(t.peer_id == "a");

  // The giver asks about the incoming GET from b.
  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(5), "b"});
  auto v = h.one<TellVerify>(1);
  CHECK(v.authorized);
  CHECK(v.peer == Harness::ip_of(2));
  CHECK(v.peer_id == "b");
  CHECK(v.range == chunk_range(5));
  CHECK(v.url == kUrl);

  // The taker may ask too (either role).
  h.send(2, AskVerify{Harness::ip_of(1), "/a.bin", chunk_range(5), "a"});
  CHECK(h.one<TellVerify>(2).authorized);

  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(6), "b"});  // another chunk
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{"10.9.9.9", kUrl, chunk_range(5), "b"});  // claimed id from the wrong address
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.join(3, "c", 7003);
  h.send(1, AskVerify{Harness::ip_of(3), kUrl, chunk_range(5), "c"});  // a peer with no transfer
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{Harness::ip_of(2), "/other.bin", chunk_range(5), "b"});
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{"10.0.0.4", kUrl, chunk_range(5), "ghost"});
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
}

TEST_CASE("a message before register gets protocol_error and the connection closes") {
  Harness h;
  add_files(h);
  h.connect(1, "10.0.0.1");
  h.send(1, AskInfo{kUrl});
  auto e = h.one<ProtocolError>(1);
  CHECK(e.message.find("register") != std::string::npos);
  CHECK(h.closed.count(1));
  CHECK(h.snap().protocol_errors == 1);
  // Data after the close is ignored.
  h.send(1, Register{"a", 1});
  CHECK(h.inbox[1].empty());
  CHECK(h.snap().clients == 0);
}

TEST_CASE("a duplicate client_id gets protocol_error and the first peer stays and is still served") {
  Harness h;
  add_files(h);
  h.join(1, "same");
  h.join(2, "same");
  CHECK(h.one<ProtocolError>(2).message.find("already in use") != std::string::npos);
  CHECK(h.closed.count(2));
  CHECK_FALSE(h.closed.count(1));
  h.disconnect(2);
  auto s = h.snap();
  CHECK(s.clients == 1);
  CHECK(s.protocol_errors == 1);
  h.send(1, Request{kUrl, chunk_range(1)});
  CHECK(h.one<Transfer>(1).range == chunk_range(1));
}

TEST_CASE("an oversize client_id gets protocol_error") {
  core::ServerConfig cfg;
  cfg.max_client_id_bytes = 16;
  Harness h(cfg);
  h.connect(1, "10.0.0.1");
  h.send(1, Register{std::string(17, 'x'), 1});
  CHECK(h.one<ProtocolError>(1).message.find("longer than 16") != std::string::npos);
  CHECK(h.closed.count(1));
  h.connect(2, "10.0.0.2");
  h.send(2, Register{std::string(16, 'x'), 1});
  CHECK(h.inbox[2].empty());
  CHECK(h.snap().clients == 1);
}

TEST_CASE("an empty client_id and the server's own id are refused") {
  Harness h;
  h.connect(1, "10.0.0.1");
  h.send(1, Register{"", 1});
  CHECK(h.one<ProtocolError>(1).message.find("empty") != std::string::npos);
  h.connect(2, "10.0.0.2");
  h.send(2, Register{server_peer_id, 1});
  CHECK(h.one<ProtocolError>(2).message.find("reserved") != std::string::npos);
  CHECK(h.closed.size() == 2);
  CHECK(h.snap().clients == 0);
}

TEST_CASE("a second register on one connection is fatal and removes the peer") {
  Harness h;
  h.join(1, "a");
  h.send(1, Register{"b", 1});
  CHECK(h.one<ProtocolError>(1).message.find("twice") != std::string::npos);
  CHECK(h.closed.count(1));
  CHECK(h.snap().clients == 0);
  h.join(2, "a");  // the id is free again
  CHECK(h.inbox[2].empty());
  CHECK(h.snap().clients == 1);
}

TEST_CASE("invalid JSON gets protocol_error") {
  Harness h;
  h.join(1, "a");
  h.raw(1, test::frame_of_body("[\"ask_info\", {\"url\": "));
  CHECK(h.one<ProtocolError>(1).message.find("invalid_json") != std::string::npos);
  CHECK(h.closed.count(1));
  CHECK(h.snap().clients == 0);
}

TEST_CASE("a body of the wrong array shape gets protocol_error") {
  for (std::string body : {R"(["ask_info"])", R"(["ask_info", {"url": "/a"}, 3])", R"({"type": "ask_info"})",
                           R"([{"url": "/a"}, "ask_info"])"}) {
    Harness h;
    h.join(1, "a");
    h.raw(1, test::frame_of_body(body));
    INFO(body);
    CHECK(h.one<ProtocolError>(1).message.find("bad_shape") != std::string::npos);
    CHECK(h.closed.count(1));
  }
}

TEST_CASE("an unknown message type gets protocol_error") {
  Harness h;
  h.join(1, "a");
  h.raw(1, test::frame_of_body(R"(["steal_file", {"url": "/a"}])"));
  CHECK(h.one<ProtocolError>(1).message.find("unknown_type") != std::string::npos);
  CHECK(h.closed.count(1));
}

TEST_CASE("a missing or mistyped field gets protocol_error") {
  for (std::string body : {R"(["ask_info", {}])", R"(["request", {"url": 5}])",
                           R"(["register", {"client_id": "x", "listen_port": "80"}])"}) {
    Harness h;
    h.join(1, "a");
    h.raw(1, test::frame_of_body(body));
    INFO(body);
    REQUIRE(h.take<ProtocolError>(1).size() == 1);
    CHECK(h.closed.count(1));
  }
}

TEST_CASE("a server-to-client message sent by a client gets protocol_error") {
  Harness h;
  h.join(1, "a");
  h.send(1, Transfer{"1.2.3.4", 80, TransferMethod::get, kUrl, chunk_range(0), "x"});
  CHECK(h.one<ProtocolError>(1).message.find("server-to-client") != std::string::npos);
  CHECK(h.closed.count(1));
}

TEST_CASE("a zero-length frame gets protocol_error") {
  Harness h;
  h.join(1, "a");
  h.raw(1, std::string("\0\0", 2));
  CHECK(h.one<ProtocolError>(1).message.find("empty_frame") != std::string::npos);
  CHECK(h.closed.count(1));
}

TEST_CASE("frames split across reads and several frames in one read are handled in order") {
  Harness h;
  add_files(h);
  h.connect(1, "10.0.0.1");
  std::string bytes = test::frame_of(Register{"a", 7001}) + test::frame_of(AskInfo{kUrl}) +
                      test::frame_of(AskInfo{"/nope"}) + test::frame_of(AskInfo{"/live.ts"});
  for (char ch : bytes) h.raw(1, std::string_view(&ch, 1));
  auto infos = h.take<TellInfo>(1);
  REQUIRE(infos.size() == 3);
  CHECK(infos[0].size == 9500);
  CHECK(infos[1].error);
  CHECK(infos[2].streaming);
  h.raw(1, bytes.substr(test::frame_of(Register{"a", 7001}).size()));  // three at once
  CHECK(h.take<TellInfo>(1).size() == 3);
}

TEST_CASE("an unaligned range gets a non-fatal error and the connection stays") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Provide{kUrl, ByteRange{500, 1499}});
  auto e = h.one<ErrorMessage>(1);
  CHECK(e.reason.find("unaligned_range") != std::string::npos);
  CHECK(e.url == kUrl);
  CHECK(e.range == ByteRange{500, 1499});
  h.send(1, Provide{kUrl, ByteRange{0, 20000}});  // beyond the end
  CHECK(h.one<ErrorMessage>(1).reason.find("bad_range") != std::string::npos);
  h.send(1, Unrequest{"/missing.bin", std::nullopt});
  CHECK(h.one<ErrorMessage>(1).reason == "unknown file");
  CHECK(h.closed.empty());
  CHECK(h.take<Transfer>(1).empty());
  h.send(1, Request{kUrl, chunk_range(2)});
  CHECK(h.one<Transfer>(1).range == chunk_range(2));
}

TEST_CASE("an unaligned request means the chunks it touches, clipped to the file's end") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, ByteRange{0, 0}});  // a pipe's first flight: the chunk holding byte 0
  CHECK(h.take<ErrorMessage>(1).empty());
  auto first = h.take<Transfer>(1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].range == chunk_range(0));
  h.join(2, "b");
  h.send(2, Request{kUrl, ByteRange{8500, 20000}});  // touches chunks 8 and 9, and runs past the end
  CHECK(h.take<ErrorMessage>(2).empty());
  std::vector<ByteRange> got;
  for (const Transfer& t : h.take<Transfer>(2)) got.push_back(t.range);
  CHECK_THAT(got, Catch::Matchers::UnorderedEquals(std::vector<ByteRange>{chunk_range(8), chunk_range(9)}));
  h.send(2, Request{kUrl, ByteRange{9500, 9999}});  // starts beyond the end: nothing to widen
  CHECK(h.one<ErrorMessage>(2).reason.find("bad_range") != std::string::npos);
  h.send(2, Unrequest{kUrl, ByteRange{500, 1499}});  // only request is lenient
  CHECK(h.one<ErrorMessage>(2).reason.find("unaligned_range") != std::string::npos);
}

TEST_CASE("a transfer names the chunk's hash, so the taker can check it on arrival") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(3)});
  auto t = h.one<Transfer>(1);
  REQUIRE(t.hash);
  CHECK(*t.hash == hash_of(h, "/a.bin", 3));
  complete_ok(h, 1, t);  // hash_verify still answers every completed
  CHECK(h.one<HashVerify>(1).hash_ok);
}

TEST_CASE("a multi-chunk aligned range is requested chunk by chunk") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, ByteRange{2000, 4999}});
  auto ts = h.take<Transfer>(1);
  std::set<ChunkIndex> chunks;
  for (auto& t : ts) chunks.insert(chunk_of(t));
  CHECK(chunks == std::set<ChunkIndex>{2, 3, 4});
}

TEST_CASE("a truncated frame followed by a disconnect leaves no trace") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  std::string f = test::frame_of(Request{kUrl, chunk_range(0)});
  h.raw(1, f.substr(0, f.size() - 3));
  CHECK(h.inbox[1].empty());
  h.disconnect(1);
  auto s = h.snap();
  CHECK(s.clients == 0);
  CHECK(s.transfers.empty());
  CHECK(s.protocol_errors == 0);
  h.join(1, "a");  // the id and the connection id are free again
  CHECK(h.inbox[1].empty());
}

TEST_CASE("unrequest removes chunks from the request set") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, ByteRange{0, 9499}});
  CHECK(h.take<Transfer>(1).size() == 8);
  h.send(1, Unrequest{kUrl, std::nullopt});
  auto s = h.snap();
  REQUIRE(s.files.size() == 1);
  CHECK(s.files[0].downloaders == 0);
  // The transfers in flight finish, but nothing new is scheduled.
  for (auto& tr : s.transfers) h.send(1, Completed{"x", kUrl, tr.range, server_peer_id, std::nullopt});
  CHECK(h.take<Transfer>(1).empty());
  CHECK(h.snap().transfers.empty());
}

TEST_CASE("providing a chunk removes it from the request set") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Provide{kUrl, ByteRange{0, 7999}});
  h.send(1, Request{kUrl, std::nullopt});
  auto ts = h.take<Transfer>(1);
  std::set<ChunkIndex> chunks;
  for (auto& t : ts) chunks.insert(chunk_of(t));
  CHECK(chunks == std::set<ChunkIndex>{8, 9});
  auto s = h.snap();
  CHECK(s.files[0].uploaders == 1);
  CHECK(s.files[0].downloaders == 1);
}

TEST_CASE("a peer leaving mid-transfer: its taker gets the chunk from someone else") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.join(3, "c", 7003);
  h.send(1, Provide{kUrl, std::nullopt});
  h.send(3, Provide{kUrl, std::nullopt});
  h.join(2, "b", 7002);
  h.send(2, Request{kUrl, chunk_range(7)});
  auto t = h.one<Transfer>(2);
  REQUIRE((t.peer_id == "a" || t.peer_id == "c"));
  const core::ConnId leaving = t.peer_id == "a" ? 1 : 3;
  const std::string other = t.peer_id == "a" ? "c" : "a";
  h.disconnect(leaving);
  auto again = h.one<Transfer>(2);
  CHECK(again.peer_id == other);
  CHECK(again.range == chunk_range(7));
  auto s = h.snap();
  CHECK(s.transfers_failed == 1);
  CHECK(s.clients == 2);
  CHECK(s.files[0].uploaders == 1);
}

TEST_CASE("a taker leaving frees its giver's upload slot for another taker") {
  core::ServerConfig cfg;
  cfg.peer_upload_slots = 1;
  cfg.file_service_slots = 0;  // only peers can give
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b");
  h.join(3, "c");
  h.send(2, Request{kUrl, chunk_range(0)});
  h.send(3, Request{kUrl, chunk_range(1)});
  CHECK(h.one<Transfer>(2).peer_id == "a");
  CHECK(h.take<Transfer>(3).empty());  // a's only slot is busy
  h.disconnect(2);
  auto t = h.one<Transfer>(3);
  CHECK(t.peer_id == "a");
  CHECK(t.range == chunk_range(1));
}

TEST_CASE("a transfer that times out is dropped and scheduled again, from another giver") {
  core::ServerConfig cfg;
  cfg.transfer_timeout = std::chrono::seconds(10);
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b", 7002);
  h.send(2, Request{kUrl, chunk_range(3)});
  CHECK(h.one<Transfer>(2).peer_id == "a");
  REQUIRE(h.server.next_timeout() == h.now + std::chrono::seconds(10));

  h.now += std::chrono::seconds(9);
  h.timeout();  // too early: nothing happens
  CHECK(h.take<Transfer>(2).empty());

  h.now += std::chrono::seconds(1);
  h.timeout();
  auto t = h.one<Transfer>(2);
  CHECK(t.range == chunk_range(3));
  CHECK(t.peer_id == server_peer_id);  // a failed for this chunk recently
  CHECK(h.snap().transfers_failed == 1);
  CHECK(h.server.next_timeout() == h.now + std::chrono::seconds(10));
}

TEST_CASE("upload and download slot limits are respected") {
  core::ServerConfig cfg;
  cfg.peer_upload_slots = 2;
  cfg.peer_download_slots = 3;
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b");
  h.join(3, "c");
  h.send(2, Request{kUrl, std::nullopt});
  h.send(3, Request{kUrl, std::nullopt});
  auto tb = h.take<Transfer>(2);
  auto tc = h.take<Transfer>(3);
  CHECK(tb.size() == 3);
  CHECK(tc.size() == 3);
  auto from_a = [](const std::vector<Transfer>& ts) {
    return std::count_if(ts.begin(), ts.end(), [](const Transfer& t) { return t.peer_id == "a"; });
  };
  CHECK(from_a(tb) + from_a(tc) == 2);  // a's two upload slots, the rest from the file service
  auto s = h.snap();
  for (auto& p : s.peers) {
    CHECK(p.uploads <= 2);
    CHECK(p.downloads <= 3);
  }
  // b completes one: it gets exactly one new transfer.
  complete_ok(h, 2, tb[0]);
  CHECK(h.take<Transfer>(2).size() == 1);
}

TEST_CASE("the file service's slot limit holds, and a waiting taker gets the freed slot") {
  core::ServerConfig cfg;
  cfg.file_service_slots = 2;
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 0);  // a cannot give what it receives, so only the file service can serve b
  h.join(2, "b");
  h.send(1, Request{kUrl, std::nullopt});
  h.send(2, Request{kUrl, std::nullopt});
  auto ta = h.take<Transfer>(1);
  CHECK(ta.size() == 2);
  CHECK(h.take<Transfer>(2).empty());
  complete_ok(h, 1, ta[0]);
  CHECK(h.take<Transfer>(2).size() == 1);  // the waiting taker goes first
  CHECK(h.take<Transfer>(1).empty());
}

TEST_CASE("three takers starting together get different first chunks from the server") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.join(2, "b");
  h.join(3, "c");
  for (core::ConnId c = 1; c <= 3; ++c) h.send(c, Request{"/big.bin", std::nullopt});
  std::set<ChunkIndex> firsts, all;
  std::size_t total = 0;
  for (core::ConnId c = 1; c <= 3; ++c) {
    auto ts = h.take<Transfer>(c);
    REQUIRE(ts.size() == 8);
    firsts.insert(chunk_of(ts[0]));
    for (auto& t : ts) {
      CHECK(t.peer_id == server_peer_id);
      all.insert(chunk_of(t));
    }
    total += ts.size();
  }
  CHECK(firsts.size() == 3);
  CHECK(all.size() == total);  // nobody got a chunk another got: they can trade
}

TEST_CASE("the server's choice of chunks depends on the configured seed only") {
  auto firsts = [](std::uint64_t seed) {
    core::ServerConfig cfg;
    cfg.seed = seed;
    Harness h(cfg);
    add_files(h);
    h.join(1, "a");
    h.send(1, Request{"/big.bin", std::nullopt});
    std::vector<ChunkIndex> out;
    for (auto& t : h.take<Transfer>(1)) out.push_back(chunk_of(t));
    return out;
  };
  CHECK(firsts(7) == firsts(7));
  CHECK(firsts(7) != firsts(8));
}

TEST_CASE("a streaming file is served lowest chunk first") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{"/live.ts", std::nullopt});
  auto ts = h.take<Transfer>(1);
  REQUIRE(ts.size() == 8);
  for (std::size_t i = 0; i < ts.size(); ++i) CHECK(chunk_of(ts[i]) == i);
}

TEST_CASE("a streaming file's lowest missing chunk comes from the server when no peer has it") {
  core::ServerConfig cfg;
  cfg.peer_download_slots = 1;
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{"/live.ts", ByteRange{5000, 5999}});
  h.join(2, "b");
  h.send(2, Request{"/live.ts", std::nullopt});
  auto t = h.one<Transfer>(2);
  CHECK(chunk_of(t) == 0);
  CHECK(t.peer_id == server_peer_id);
}

TEST_CASE("a peer with repeated bad hashes is no longer chosen as a giver") {
  Harness h;
  add_files(h);
  h.join(1, "bad", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  const std::string wrong(64, 'f');
  for (core::ConnId taker = 2; taker <= 3; ++taker) {
    h.join(taker, "t" + std::to_string(taker));
    h.send(taker, Request{kUrl, chunk_range(taker)});
    auto t = h.one<Transfer>(taker);
    REQUIRE(t.peer_id == "bad");
    h.send(taker, Completed{t.host, t.url, t.range, t.peer_id, wrong});
    CHECK_FALSE(h.one<HashVerify>(taker).hash_ok);
    CHECK(h.one<Transfer>(taker).peer_id == server_peer_id);  // not the same giver again
  }
  h.join(4, "fresh");
  h.send(4, Request{kUrl, chunk_range(6)});
  CHECK(h.one<Transfer>(4).peer_id == server_peer_id);
  CHECK(h.snap().hash_failures == 2);
}

TEST_CASE("a peer that listens on no port is never a giver") {
  Harness h;
  add_files(h);
  h.join(1, "a", 0);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "b");
  h.send(2, Request{kUrl, chunk_range(0)});
  CHECK(h.one<Transfer>(2).peer_id == server_peer_id);
}

TEST_CASE("among peer givers the least busy is chosen") {
  core::ServerConfig cfg;
  cfg.peer_download_slots = 1;
  Harness h(cfg);
  add_files(h);
  h.join(1, "a", 7001);
  h.join(2, "b", 7002);
  h.send(1, Provide{kUrl, std::nullopt});
  h.send(2, Provide{kUrl, std::nullopt});
  std::map<std::string, int> load;
  for (core::ConnId c = 3; c < 7; ++c) {
    h.join(c, "t" + std::to_string(c));
    h.send(c, Request{kUrl, chunk_range(0)});
    ++load[h.one<Transfer>(c).peer_id];
  }
  CHECK(load["a"] == 2);
  CHECK(load["b"] == 2);
}

TEST_CASE("the snapshot lists peers, files and transfers") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Request{kUrl, chunk_range(0)});
  auto t = h.one<Transfer>(1);
  h.now += std::chrono::seconds(2);
  auto s = h.snap();
  CHECK(s.clients == 1);
  REQUIRE(s.peers.size() == 1);
  CHECK(s.peers[0].id == "a");
  CHECK(s.peers[0].address == "10.0.0.1");
  CHECK(s.peers[0].listen_port == 7001);
  CHECK(s.peers[0].downloads == 1);
  REQUIRE(s.files.size() == 1);
  CHECK(s.files[0].path == "/a.bin");
  CHECK(s.files[0].size == 9500);
  CHECK(s.files[0].chunk_size == kChunk);
  CHECK(s.files[0].downloaders == 1);
  REQUIRE(s.transfers.size() == 1);
  CHECK(s.transfers[0].taker == "a");
  CHECK(s.transfers[0].giver == server_peer_id);
  CHECK(s.transfers[0].path == "/a.bin");
  CHECK(s.transfers[0].range == t.range);
  CHECK(s.transfers[0].age_seconds == Approx(2.0));
}

TEST_CASE("rates count only the last ten seconds") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  h.send(1, Request{kUrl, chunk_range(0)});
  complete_ok(h, 1, h.one<Transfer>(1));
  CHECK(h.snap().rate_from_server == Approx(100.0));
  h.now += std::chrono::seconds(11);
  CHECK(h.snap().rate_from_server == 0.0);
  CHECK(h.snap().bytes_from_server == kChunk);
}

TEST_CASE("file metadata is looked up once and then cached") {
  Harness h;
  add_files(h);
  h.join(1, "a");
  for (int i = 0; i < 5; ++i) h.send(1, AskInfo{kUrl});
  CHECK(h.take<TellInfo>(1).size() == 5);
  CHECK(h.catalog.lookups == 1);
}

TEST_CASE("urls that differ in host or spelling name the same file; transfers echo the taker's url") {
  Harness h;
  add_files(h);
  h.join(1, "a", 7001);
  h.send(1, Provide{"http://10.1.2.3:6086/./a.bin", std::nullopt});
  h.join(2, "b");
  h.send(2, Request{"http://Example.org//a.bin", chunk_range(1)});
  auto t = h.one<Transfer>(2);
  CHECK(t.peer_id == "a");
  CHECK(t.url == "http://Example.org//a.bin");
  h.send(2, Completed{t.host, "/a.bin", t.range, t.peer_id, hash_of(h, "/a.bin", 1)});  // a third spelling
  CHECK(h.one<HashVerify>(2).hash_ok);
  auto s = h.snap();
  REQUIRE(s.files.size() == 1);
  CHECK(s.files[0].uploaders == 2);
}

// ---- transports and keys ----

namespace {

// Static keys as the udp layer writes them (base64url, 43 characters).
const std::string kKeyU1 = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo";
const std::string kKeyU2 = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";
const std::string kServerKey = "ZXhhbXBsZS1zZXJ2ZXIta2V5LTMyLWJ5dGVzLWxvbmc";

core::ServerConfig mixed_config() {
  core::ServerConfig cfg;
  cfg.file_service_port = 6087;
  cfg.udp_file_service_port = 6088;
  cfg.server_public_key = kServerKey;
  cfg.push_to_udp = false;  // file-service chunks as `transfer`s, as for tcp (pushes: tests below)
  return cfg;
}

// A mixed swarm: udp seed u1 (conn 1) and tcp seed t3 (conn 3) hold all of /a.bin.
void mixed_seeds(Harness& h) {
  add_files(h);
  h.join_udp(1, "u1", kKeyU1, 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(3, "t3", 7003);
  h.send(3, Provide{kUrl, std::nullopt});
}

}  // namespace

TEST_CASE("a udp taker is paired with udp givers only, a tcp taker with tcp givers only") {
  Harness h(mixed_config());
  mixed_seeds(h);
  h.join_udp(2, "u2", kKeyU2, 7002);
  h.send(2, Request{kUrl, std::nullopt});
  h.join(4, "t4", 7004);
  h.send(4, Request{kUrl, std::nullopt});

  auto udp_ts = h.take<Transfer>(2);
  REQUIRE(udp_ts.size() == 8);
  int from_u1 = 0;
  for (const auto& t : udp_ts) {
    INFO(t.peer_id);
    CHECK((t.peer_id == "u1" || t.peer_id == server_peer_id));
    if (t.peer_id == "u1") ++from_u1;
  }
  CHECK(from_u1 == 4);  // all of u1's upload slots; the rest from the file service

  auto tcp_ts = h.take<Transfer>(4);
  REQUIRE(tcp_ts.size() == 8);
  int from_t3 = 0;
  for (const auto& t : tcp_ts) {
    INFO(t.peer_id);
    CHECK((t.peer_id == "t3" || t.peer_id == server_peer_id));
    if (t.peer_id == "t3") ++from_t3;
  }
  CHECK(from_t3 == 4);
  for (const auto& tr : h.snap().transfers) {
    const bool udp_taker = tr.taker == "u2";
    CHECK((tr.giver == server_peer_id || (tr.giver == "u1") == udp_taker));
  }
}

TEST_CASE("each transport gets file-service transfers on its own port") {
  Harness h(mixed_config());
  add_files(h);
  h.join_udp(1, "u1", kKeyU1);
  h.join(2, "t2");
  h.send(1, Request{kUrl, chunk_range(0)});
  h.send(2, Request{kUrl, chunk_range(0)});
  auto u = h.one<Transfer>(1);
  CHECK(u.peer_id == server_peer_id);
  CHECK(u.host == h.local_ip);
  CHECK(u.port == 6088);
  auto t = h.one<Transfer>(2);
  CHECK(t.peer_id == server_peer_id);
  CHECK(t.host == h.local_ip);
  CHECK(t.port == 6087);
}

TEST_CASE("a transfer to a udp taker carries the listening side's key; one to a tcp taker carries none") {
  Harness h(mixed_config());
  mixed_seeds(h);
  h.join_udp(2, "u2", kKeyU2);
  h.send(2, Request{kUrl, std::nullopt});
  h.join(4, "t4");
  h.send(4, Request{kUrl, std::nullopt});
  for (const auto& t : h.take<Transfer>(2)) {
    REQUIRE(t.peer_key);
    CHECK(*t.peer_key == (t.peer_id == "u1" ? kKeyU1 : kServerKey));
  }
  for (const auto& t : h.take<Transfer>(4)) CHECK_FALSE(t.peer_key);
}

TEST_CASE("without a udp file service udp peers get transfers from udp peers only") {
  core::ServerConfig cfg = mixed_config();
  cfg.udp_file_service_port = 0;
  Harness h(cfg);
  add_files(h);
  h.join_udp(1, "u1", kKeyU1);
  h.send(1, Request{kUrl, std::nullopt});
  CHECK(h.take<Transfer>(1).empty());
  h.join(4, "t4");  // tcp peers still get the file service
  h.send(4, Request{kUrl, chunk_range(0)});
  CHECK(h.one<Transfer>(4).port == 6087);
  h.join(3, "t3", 7003);  // a tcp seed does not help u1
  h.send(3, Provide{kUrl, std::nullopt});
  CHECK(h.take<Transfer>(1).empty());
  h.join_udp(2, "u2", kKeyU2, 7002);  // a udp seed does
  h.send(2, Provide{kUrl, chunk_range(3)});
  auto t = h.one<Transfer>(1);
  CHECK(t.peer_id == "u2");
  CHECK(t.range == chunk_range(3));
  CHECK(t.peer_key == std::optional<std::string>(kKeyU2));
}

TEST_CASE("ask_verify from a udp peer is authorized only with the claimed peer's registered key") {
  Harness h(mixed_config());
  mixed_seeds(h);
  h.join_udp(2, "u2", kKeyU2, 7002);
  h.send(2, Request{kUrl, chunk_range(5)});
  auto t = h.one<Transfer>(2);
  REQUIRE(t.peer_id == "u1");

  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(5), "u2", kKeyU2});
  auto ok = h.one<TellVerify>(1);
  CHECK(ok.authorized);
  CHECK(ok.peer_id == "u2");
  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(5), "u2", std::nullopt});  // no key
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(5), "u2", kKeyU1});  // someone else's key
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(5), "u2", std::string()});
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  // The other checks still apply with the right key.
  h.send(1, AskVerify{Harness::ip_of(2), kUrl, chunk_range(6), "u2", kKeyU2});
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
  h.send(1, AskVerify{"10.9.9.9", kUrl, chunk_range(5), "u2", kKeyU2});
  CHECK_FALSE(h.one<TellVerify>(1).authorized);
}

TEST_CASE("ask_verify from a tcp peer is judged as before; a peer_key in it changes nothing") {
  Harness h(mixed_config());
  mixed_seeds(h);
  h.join(4, "t4", 7004);
  h.send(4, Request{kUrl, chunk_range(5)});
  REQUIRE(h.one<Transfer>(4).peer_id == "t3");
  h.send(3, AskVerify{Harness::ip_of(4), kUrl, chunk_range(5), "t4", std::nullopt});
  CHECK(h.one<TellVerify>(3).authorized);
  h.send(3, AskVerify{Harness::ip_of(4), kUrl, chunk_range(5), "t4", kKeyU1});
  CHECK(h.one<TellVerify>(3).authorized);
}

TEST_CASE("authorize_file_service needs a udp peer's own key, and no key from a tcp peer") {
  Harness h(mixed_config());
  add_files(h);
  h.join_udp(1, "u1", kKeyU1);
  h.join_udp(2, "u2", kKeyU2);
  h.join(3, "t3");
  h.send(1, Request{kUrl, chunk_range(4)});
  h.send(3, Request{kUrl, chunk_range(4)});
  REQUIRE(h.one<Transfer>(1).port == 6088);
  REQUIRE(h.one<Transfer>(3).port == 6087);
  using V = core::FileServiceVerdict;
  const ByteRange r = chunk_range(4);
  CHECK(h.server.authorize_file_service("u1", "/a.bin", r, h.now, h.ip_of(1), kKeyU1) == V::ok);
  CHECK(h.server.authorize_file_service("u1", "/a.bin", r, h.now, {}, kKeyU1) == V::ok);
  CHECK(h.server.authorize_file_service("u1", "/a.bin", r, h.now, h.ip_of(1), kKeyU2) == V::not_authorized);
  CHECK(h.server.authorize_file_service("u1", "/a.bin", r, h.now, h.ip_of(1)) == V::not_authorized);  // over tcp
  CHECK(h.server.authorize_file_service("u1", "/a.bin", r, h.now) == V::not_authorized);
  CHECK(h.server.authorize_file_service("t3", "/a.bin", r, h.now, h.ip_of(3)) == V::ok);
  CHECK(h.server.authorize_file_service("t3", "/a.bin", r, h.now, h.ip_of(3), kKeyU1) == V::not_authorized);
  CHECK(h.server.authorize_file_service("u2", "/a.bin", r, h.now, h.ip_of(2), kKeyU2) == V::not_authorized);
}

TEST_CASE("require_encryption refuses register over tcp and accepts it over udp") {
  core::ServerConfig cfg = mixed_config();
  cfg.require_encryption = true;
  Harness h(cfg);
  add_files(h);
  h.join(1, "t1");
  auto e = h.one<ProtocolError>(1);
  CHECK(e.message == "this server requires encryption: connect over udp (dsclient --transport udp)");
  CHECK(h.closed.count(1));
  h.join_udp(2, "u2", kKeyU2);
  CHECK(h.inbox[2].empty());
  CHECK_FALSE(h.closed.count(2));
  auto s = h.snap();
  CHECK(s.clients == 1);
  CHECK(s.protocol_errors == 1);
  h.send(2, Request{kUrl, chunk_range(0)});
  CHECK(h.one<Transfer>(2).port == 6088);
}

TEST_CASE("the snapshot shows each peer's transport and key") {
  Harness h(mixed_config());
  h.join_udp(1, "u1", kKeyU1);
  h.join(2, "t2");
  auto s = h.snap();
  REQUIRE(s.peers.size() == 2);
  for (const auto& p : s.peers) {
    if (p.id == "u1") {
      CHECK(p.transport == core::LinkTransport::udp);
      CHECK(p.public_key == kKeyU1);
    } else {
      CHECK(p.transport == core::LinkTransport::tcp);
      CHECK(p.public_key.empty());
    }
  }
  CHECK(core::to_string(core::LinkTransport::tcp) == "tcp");
  CHECK(core::to_string(core::LinkTransport::udp) == "udp");
}

TEST_CASE("register, ask_info and a request in one read: tell_info first, then the transfers") {
  // dsclient writing to a file sends all three in its first flight: its transfers come a round trip sooner.
  core::ServerConfig cfg;
  cfg.file_service_port = 6087;
  Harness h(cfg);
  add_files(h);
  h.connect(1, Harness::ip_of(1));
  h.raw(1, test::frame_of(Register{"a", 7000}) + test::frame_of(AskInfo{kUrl}) +
               test::frame_of(Request{kUrl, std::nullopt}));
  const auto& box = h.inbox[1];
  REQUIRE(box.size() > 1);
  CHECK(std::holds_alternative<TellInfo>(box[0]));
  for (std::size_t i = 1; i < box.size(); ++i) CHECK(std::holds_alternative<Transfer>(box[i]));
}

TEST_CASE("a completed for a transfer whose giver has left is still judged and counted, once") {
  core::ServerConfig cfg;
  cfg.file_service_slots = 0;  // peers only
  Harness h(cfg);
  add_files(h);
  h.join(1, "giver", 7001);
  h.send(1, Provide{kUrl, std::nullopt});
  h.join(2, "taker", 7002);
  h.send(2, Request{kUrl, chunk_range(3)});
  auto t = h.one<Transfer>(2);
  REQUIRE(t.peer_id == "giver");
  h.server.on_disconnect(1, h.now);  // the giver is gone; the bytes may have reached the taker already
  h.pump();
  complete_ok(h, 2, t);
  CHECK(h.one<HashVerify>(2).hash_ok);
  CHECK(h.take<ErrorMessage>(2).empty());
  CHECK(h.snap().bytes_from_peers == 1000);
  complete_ok(h, 2, t);  // used up
  CHECK(h.one<ErrorMessage>(2).reason == "unknown transfer");
  CHECK(h.snap().bytes_from_peers == 1000);
}

namespace {
core::ServerConfig push_config() {
  core::ServerConfig cfg = mixed_config();
  cfg.push_to_udp = true;
  return cfg;
}

// Udp peer u1 (conn 1) requests chunk 3 of /a.bin, which only the file service holds: one push.
core::PushChunk push_chunk_3(Harness& h) {
  add_files(h);
  h.join_udp(1, "u1", kKeyU1);
  h.send(1, Request{kUrl, chunk_range(3)});
  REQUIRE(h.pushes[1].size() == 1);
  return h.pushes[1][0];
}
}  // namespace

TEST_CASE("with push, a udp taker's file-service chunks come as pushes with their hash; peers' chunks and tcp takers keep transfers") {
  Harness h(push_config());
  mixed_seeds(h);
  h.join_udp(2, "u2", kKeyU2, 7002);
  h.send(2, Request{kUrl, std::nullopt});
  auto pushed = h.pushes[2];
  auto ts = h.take<Transfer>(2);
  REQUIRE(pushed.size() == 4);  // 8 download slots: u1's 4 upload slots, the rest from the file service
  REQUIRE(ts.size() == 4);
  for (const auto& t : ts) CHECK(t.peer_id == "u1");
  for (const auto& p : pushed) {
    CHECK(p.path == "/a.bin");
    REQUIRE(p.hash);
    CHECK(*p.hash == hash_of(h, "/a.bin", p.range.min / kChunk));
  }
  h.join(4, "t4", 7004);
  h.send(4, Request{kUrl, std::nullopt});
  CHECK(h.pushes[4].empty());
  CHECK(h.take<Transfer>(4).size() == 8);
}

TEST_CASE("a pushed chunk is completed like a file-service transfer") {
  Harness h(push_config());
  const core::PushChunk p = push_chunk_3(h);
  CHECK(p.range == chunk_range(3));
  h.send(1, Completed{h.local_ip, kUrl, p.range, server_peer_id, *p.hash});
  CHECK(h.one<HashVerify>(1).hash_ok);
  CHECK(h.snap().bytes_from_server == 1000);
  CHECK(h.snap().transfers.empty());
}

TEST_CASE("a push that fails ends its transfer, and the chunk is pushed again") {
  Harness h(push_config());
  const core::PushChunk p = push_chunk_3(h);
  h.pushes[1].clear();
  h.server.on_push_failed(1, p.path, p.range, h.now);
  h.pump();
  CHECK(h.snap().transfers_failed == 1);
  // The file service is the only giver, so the chunk goes to it again at once.
  REQUIRE(h.pushes[1].size() == 1);
  CHECK(h.pushes[1][0].range == chunk_range(3));
  CHECK(h.snap().transfers.size() == 1);
  h.server.on_push_failed(1, "/nope.bin", p.range, h.now);  // unknown pushes change nothing
  h.server.on_push_failed(9, p.path, p.range, h.now);
  h.pump();
  CHECK(h.snap().transfers_failed == 1);
}
