// The client state machine driven by server frames; its actions are read back and checked.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pdtp/core/client.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"

using namespace pdtp;
using namespace pdtp::core;

namespace {

const std::string url = "http://files.example/media/a.bin";
constexpr std::uint64_t csize = 100;
constexpr std::uint64_t fsize = 950;  // 10 chunks, the last one 50 bytes
const Sha256Hex hash_a(64, 'a');
const Sha256Hex hash_b(64, 'b');

ByteRange chunk(ChunkIndex c) { return ChunkLayout{fsize, csize}.chunk_range(c); }
ByteRange chunks(ChunkIndex first, ChunkIndex last) { return {chunk(first).min, chunk(last).max}; }

ClientConfig config(bool in_order = false, std::size_t window = 64) {
  ClientConfig c;
  c.client_id = "alice";
  c.listen_port = 60860;
  c.url = url;
  c.in_order = in_order;
  c.window_chunks = window;
  c.max_attempts_per_chunk = 3;
  return c;
}

Transfer get_from(ChunkIndex c, std::string peer_id = "bob", std::string u = url) {
  return Transfer{"10.0.0.2", 60860, TransferMethod::get, std::move(u), chunk(c), std::move(peer_id)};
}

// Drives one Client: feeds it server messages and collects what it does.
struct Harness {
  Client client;
  TimePoint now{};
  std::vector<ClientAction> actions;  // everything polled since the last take()

  explicit Harness(ClientConfig cfg) : client(std::move(cfg)) {}

  void poll() {
    ClientAction a;
    while (client.poll_action(a)) actions.push_back(a);
  }
  void server(const Message& m) {
    auto frame = encode_frame(encode_message(m));
    REQUIRE(frame.ok());
    client.on_control_data(*frame, now);
    poll();
  }
  std::vector<ClientAction> take() {
    poll();
    return std::exchange(actions, {});
  }

  // Start and receive the file's metadata; forget the actions so far.
  Harness& ready(std::uint64_t size = fsize) {
    client.start(now);
    server(TellInfo{url, size, csize, false, std::nullopt});
    take();
    return *this;
  }
  // Start a get transfer for chunk c and return its id.
  TransferId transfer(ChunkIndex c, std::string peer_id = "bob") {
    server(get_from(c, std::move(peer_id)));
    auto starts = of<StartTransfer>(take());
    REQUIRE(starts.size() == 1);
    return starts[0].id;
  }
  // Transfer chunk c from peer_id and have the server accept its hash.
  void deliver(ChunkIndex c, std::string peer_id = "bob") {
    auto id = transfer(c, peer_id);
    client.on_transfer_received(id, hash_a, now);
    server(HashVerify{url, chunk(c), true});
  }

  template <class T>
  static std::vector<T> of(const std::vector<ClientAction>& as) {
    std::vector<T> out;
    for (const auto& a : as)
      if (auto* p = std::get_if<T>(&a)) out.push_back(*p);
    return out;
  }
};

// Every control message in a batch of actions, decoded.
std::vector<Message> sent(const std::vector<ClientAction>& as) {
  std::vector<Message> out;
  for (const auto& s : Harness::of<SendControl>(as)) {
    FrameDecoder d;
    d.feed(s.bytes);
    auto body = d.next();
    REQUIRE(body.ok());
    auto m = decode_message(*body);
    REQUIRE(m.ok());
    out.push_back(*m);
    REQUIRE(d.buffered() == 0);  // one frame per SendControl
  }
  return out;
}

template <class T>
std::vector<T> sent_of(const std::vector<ClientAction>& as) {
  std::vector<T> out;
  for (const auto& m : sent(as))
    if (auto* p = std::get_if<T>(&m)) out.push_back(*p);
  return out;
}

std::vector<ChunkIndex> emitted(const std::vector<ClientAction>& as) {
  std::vector<ChunkIndex> out;
  for (const auto& e : Harness::of<EmitChunk>(as)) out.push_back(e.chunk);
  return out;
}

std::string failure(const std::vector<ClientAction>& as) {
  auto f = Harness::of<DownloadFailed>(as);
  REQUIRE(f.size() == 1);
  return f[0].reason;
}

}  // namespace

// ---- start and metadata ----

TEST_CASE("start sends register with id and port, ask_info for the url, and a request for the whole file") {
  Harness h(config());
  h.client.start(h.now);
  auto msgs = sent(h.take());
  REQUIRE(msgs.size() == 3);
  CHECK(std::get<Register>(msgs[0]) == Register{"alice", 60860});
  CHECK(std::get<AskInfo>(msgs[1]) == AskInfo{url});
  // In the same flight: the server can schedule the first transfers before we know the file's size.
  CHECK(std::get<Request>(msgs[2]) == Request{url, std::nullopt});
  CHECK_FALSE(h.client.has_info());
}

TEST_CASE("a pipe download asks for the chunk holding byte 0 at start, and for its window once it knows the chunk size") {
  Harness h(config(true, 4));
  h.client.start(h.now);
  auto first = sent_of<Request>(h.take());
  REQUIRE(first.size() == 1);
  CHECK(first[0] == Request{url, ByteRange{0, 0}});  // the server widens it to chunk 0
  h.server(TellInfo{url, fsize, csize, false, std::nullopt});
  auto reqs = sent_of<Request>(h.take());
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == Request{url, chunks(0, 3)});
}

TEST_CASE("an unparsable url fails at start naming the url") {
  auto cfg = config();
  cfg.url = "no-path-here";
  Harness h(cfg);
  h.client.start(h.now);
  auto as = h.take();
  CHECK(failure(as).find("no-path-here") != std::string::npos);
  CHECK(sent(as).empty());
}

TEST_CASE("tell_info with an error fails the download with the url and the error") {
  Harness h(config());
  h.client.start(h.now);
  h.server(TellInfo{url, 0, 0, false, std::string("no such file")});
  auto reason = failure(h.take());
  CHECK(reason == "unknown file " + url + ": no such file");
  CHECK_FALSE(h.client.complete());
}

TEST_CASE("an empty file completes at once without requesting anything") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  h.server(TellInfo{url, 0, csize, false, std::nullopt});
  auto as = h.take();
  CHECK(Harness::of<DownloadComplete>(as).size() == 1);
  CHECK(sent(as).empty());
  CHECK(h.client.complete());
  CHECK(h.client.has_info());
  CHECK(h.client.chunk_count() == 0);
}

TEST_CASE("tell_info for another file is ignored; ours is matched by path, not host") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  h.server(TellInfo{"http://files.example/other.bin", fsize, csize, false, std::nullopt});
  CHECK_FALSE(h.client.has_info());
  h.server(TellInfo{"http://127.0.0.1/media/a.bin", fsize, csize, false, std::nullopt});
  CHECK(h.client.has_info());
  CHECK(h.client.file_size() == fsize);
  CHECK(h.client.chunk_size() == csize);
  CHECK(h.client.chunk_count() == 10);
  CHECK(h.client.chunk_range(9) == ByteRange{900, 949});
}

TEST_CASE("tell_info with chunk_size 0 for a non-empty file is bad data from the server") {
  Harness h(config());
  h.client.start(h.now);
  h.server(TellInfo{url, fsize, 0, false, std::nullopt});
  auto reason = failure(h.take());
  CHECK(reason.rfind("bad data from server: ", 0) == 0);
  CHECK(reason.find("chunk_size") != std::string::npos);
}

TEST_CASE("tell_info implying more chunks than the limit fails instead of allocating") {
  Harness h(config());
  h.client.start(h.now);
  h.server(TellInfo{url, std::uint64_t{1} << 50, 1, false, std::nullopt});
  CHECK(failure(h.take()).find("more than the limit") != std::string::npos);
  CHECK_FALSE(h.client.has_info());
}

TEST_CASE("a seekable download requests the whole file without a range, once") {
  Harness h(config());
  h.client.start(h.now);
  auto at_start = sent_of<Request>(h.take());
  REQUIRE(at_start.size() == 1);
  CHECK(at_start[0] == Request{url, std::nullopt});
  h.server(TellInfo{url, fsize, csize, false, std::nullopt});
  CHECK(sent_of<Request>(h.take()).empty());  // asked already
}

// ---- transfers we open ----

TEST_CASE("a transfer get for a missing chunk starts a transfer with the server's details") {
  Harness h(config());
  h.ready();
  h.server(get_from(3, "bob"));
  auto starts = Harness::of<StartTransfer>(h.take());
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].method == TransferMethod::get);
  CHECK(starts[0].host == "10.0.0.2");
  CHECK(starts[0].port == 60860);
  CHECK(starts[0].url == url);
  CHECK(starts[0].range == chunk(3));
  CHECK(starts[0].chunk == 3);
  CHECK(starts[0].peer_id == "bob");
}

TEST_CASE("a transfer's peer_key is passed on in StartTransfer, and is empty when absent") {
  Harness h(config());
  h.ready();
  const std::string key = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo";
  Transfer t = get_from(3, "bob");
  t.peer_key = key;
  h.server(t);
  auto starts = Harness::of<StartTransfer>(h.take());
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].peer_key == key);
  CHECK(starts[0].peer_id == "bob");
  h.server(get_from(4, "bob"));
  auto plain = Harness::of<StartTransfer>(h.take());
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].peer_key.empty());
  // The completed report stays plain v2 either way.
  h.client.on_transfer_received(starts[0].id, hash_a, h.now);
  auto done = sent_of<Completed>(h.take());
  REQUIRE(done.size() == 1);
  CHECK(done[0] == Completed{"10.0.0.2", url, chunk(3), "bob", hash_a});
}

TEST_CASE("a received transfer sends completed with the hash") {
  Harness h(config());
  h.ready();
  auto id = h.transfer(2);
  h.client.on_transfer_received(id, hash_a, h.now);
  auto done = sent_of<Completed>(h.take());
  REQUIRE(done.size() == 1);
  CHECK(done[0] == Completed{"10.0.0.2", url, chunk(2), "bob", hash_a});
  CHECK(h.client.verified_chunks() == 0);  // not before the server says the hash is right
}

TEST_CASE("a good hash verifies the chunk, keeps it servable and provides it") {
  Harness h(config());
  h.ready();
  auto id = h.transfer(9);
  h.client.on_transfer_received(id, hash_a, h.now);
  h.take();
  h.server(HashVerify{url, chunk(9), true});
  auto as = h.take();
  auto verified = Harness::of<ChunkVerified>(as);
  REQUIRE(verified.size() == 1);
  CHECK(verified[0].chunk == 9);
  auto provides = sent_of<Provide>(as);
  REQUIRE(provides.size() == 1);
  CHECK(provides[0] == Provide{url, chunk(9)});
  CHECK(h.client.holds(9));
  CHECK_FALSE(h.client.holds(8));
  CHECK(h.client.verified_chunks() == 1);
  CHECK(h.client.bytes_verified() == 50);
  CHECK(h.client.bytes_from_peers() == 50);
}

TEST_CASE("bytes from the server's file service do not count as bytes from peers") {
  Harness h(config());
  h.ready();
  h.deliver(0, server_peer_id);
  h.deliver(1, "bob");
  CHECK(h.client.bytes_verified() == 200);
  CHECK(h.client.bytes_from_peers() == 100);
}

TEST_CASE("a bad hash rejects the chunk and requests it again") {
  Harness h(config());
  h.ready();
  auto id = h.transfer(4);
  h.client.on_transfer_received(id, hash_a, h.now);
  h.take();
  h.server(HashVerify{url, chunk(4), false});
  auto as = h.take();
  auto rejected = Harness::of<ChunkRejected>(as);
  REQUIRE(rejected.size() == 1);
  CHECK(rejected[0].chunk == 4);
  auto reqs = sent_of<Request>(as);
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == Request{url, chunk(4)});
  CHECK_FALSE(h.client.holds(4));
  CHECK(h.client.verified_chunks() == 0);
  // The chunk is missing again: a new transfer for it is accepted.
  h.transfer(4);
}

TEST_CASE("a transfer naming the chunk's hash is verified on arrival, and the later hash_verify only confirms") {
  Harness h(config(true, 4));
  h.ready();
  Transfer t = get_from(0, server_peer_id);
  t.hash = hash_a;
  h.server(t);
  auto starts = Harness::of<StartTransfer>(h.take());
  REQUIRE(starts.size() == 1);
  h.client.on_transfer_received(starts[0].id, hash_a, h.now);
  auto as = h.take();
  // Without waiting for hash_verify: completed (with the hash, for the server's books), then the chunk
  // is kept, offered to others, and written out.
  auto done = sent_of<Completed>(as);
  REQUIRE(done.size() == 1);
  CHECK(done[0].hash == hash_a);
  REQUIRE(Harness::of<ChunkVerified>(as).size() == 1);
  CHECK(sent_of<Provide>(as).size() == 1);
  CHECK(emitted(as) == std::vector<ChunkIndex>{0});
  CHECK(h.client.verified_chunks() == 1);
  h.server(HashVerify{url, chunk(0), true});
  CHECK(h.take().empty());
  CHECK(h.client.last_server_error().empty());  // the confirmation matched a pending completed
}

TEST_CASE("a chunk not matching the hash its transfer named is rejected and requested again at once") {
  Harness h(config());
  h.ready();
  Transfer t = get_from(4);
  t.hash = hash_b;
  h.server(t);
  auto starts = Harness::of<StartTransfer>(h.take());
  REQUIRE(starts.size() == 1);
  h.client.on_transfer_received(starts[0].id, hash_a, h.now);
  auto as = h.take();
  REQUIRE(Harness::of<ChunkRejected>(as).size() == 1);
  auto reqs = sent_of<Request>(as);
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == Request{url, chunk(4)});
  CHECK_FALSE(h.client.holds(4));
  h.server(HashVerify{url, chunk(4), false});  // the server's own verdict on the same bytes
  CHECK(h.take().empty());
  h.transfer(4);  // missing again: a new transfer for it is accepted
}

TEST_CASE("a chunk failing verification more often than allowed fails the download") {
  Harness h(config());  // max_attempts_per_chunk = 3
  h.ready();
  for (int i = 0; i < 3; ++i) {
    auto id = h.transfer(4);
    h.client.on_transfer_received(id, hash_a, h.now);
    h.server(HashVerify{url, chunk(4), false});
    CHECK(Harness::of<DownloadFailed>(h.take()).empty());
  }
  auto id = h.transfer(4);
  h.client.on_transfer_received(id, hash_a, h.now);
  h.server(HashVerify{url, chunk(4), false});
  CHECK(failure(h.take()) == "chunk 4 failed verification 4 times");
}

TEST_CASE("a failed transfer sends completed without hash and requests the chunk again") {
  Harness h(config());
  h.ready();
  auto id = h.transfer(5);
  h.client.on_transfer_failed(id, "connection refused", h.now);
  auto as = h.take();
  auto done = sent_of<Completed>(as);
  REQUIRE(done.size() == 1);
  CHECK(done[0] == Completed{"10.0.0.2", url, chunk(5), "bob", std::nullopt});
  auto reqs = sent_of<Request>(as);
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == Request{url, chunk(5)});
}

TEST_CASE("a chunk whose transfers keep failing fails the download with the last reason") {
  Harness h(config());
  h.ready();
  for (int i = 0; i < 3; ++i) h.client.on_transfer_failed(h.transfer(5), "timeout", h.now);
  CHECK(Harness::of<DownloadFailed>(h.take()).empty());
  h.client.on_transfer_failed(h.transfer(5), "connection reset", h.now);
  auto reason = failure(h.take());
  CHECK(reason.find("chunk 5") != std::string::npos);
  CHECK(reason.find("connection reset") != std::string::npos);
}

TEST_CASE("a sent put is forgotten and a failed put is not retried") {
  Harness h(config());
  h.ready();
  h.deliver(1);
  h.take();
  Transfer put{"10.0.0.3", 60860, TransferMethod::put, url, chunk(1), "carol"};
  h.server(put);
  auto starts = Harness::of<StartTransfer>(h.take());
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].method == TransferMethod::put);
  h.client.on_transfer_sent(starts[0].id, h.now);
  CHECK(h.take().empty());
  h.server(put);
  auto again = Harness::of<StartTransfer>(h.take());
  REQUIRE(again.size() == 1);
  h.client.on_transfer_failed(again[0].id, "refused", h.now);
  CHECK(h.take().empty());
}

TEST_CASE("a put for a chunk we do not hold is ignored") {
  Harness h(config());
  h.ready();
  h.server(Transfer{"10.0.0.3", 60860, TransferMethod::put, url, chunk(1), "carol"});
  CHECK(h.take().empty());
}

TEST_CASE("a transfer that is not one aligned chunk of our file is declined without starting") {
  Harness h(config());
  h.ready();
  Transfer unaligned{"10.0.0.2", 60860, TransferMethod::get, url, ByteRange{50, 149}, "bob"};
  Transfer two_chunks{"10.0.0.2", 60860, TransferMethod::get, url, chunks(0, 1), "bob"};
  Transfer beyond{"10.0.0.2", 60860, TransferMethod::get, url, ByteRange{900, 999}, "bob"};
  Transfer other_file = get_from(0, "bob", "http://files.example/other.bin");
  for (const auto& t : {unaligned, two_chunks, beyond, other_file}) {
    h.server(t);
    auto as = h.take();
    CHECK(Harness::of<StartTransfer>(as).empty());
    auto done = sent_of<Completed>(as);
    REQUIRE(done.size() == 1);
    CHECK(done[0] == Completed{t.host, t.url, t.range, t.peer_id, std::nullopt});
  }
}

TEST_CASE("a transfer for a chunk already verified is declined") {
  Harness h(config());
  h.ready();
  h.deliver(2);
  h.take();
  h.server(get_from(2, "carol"));
  auto as = h.take();
  CHECK(Harness::of<StartTransfer>(as).empty());
  CHECK(sent_of<Completed>(as) == std::vector<Completed>{{"10.0.0.2", url, chunk(2), "carol", std::nullopt}});
}

TEST_CASE("two transfers of one chunk: the first verified wins and the other is ignored") {
  Harness h(config());
  h.ready();
  auto first = h.transfer(6, "bob");
  auto second = h.transfer(6, "carol");
  CHECK(first != second);
  h.client.on_transfer_received(first, hash_a, h.now);
  h.client.on_transfer_received(second, hash_a, h.now);
  CHECK(sent_of<Completed>(h.take()).size() == 2);
  h.server(HashVerify{url, chunk(6), true});
  h.server(HashVerify{url, chunk(6), true});
  auto as = h.take();
  CHECK(Harness::of<ChunkVerified>(as).size() == 1);
  CHECK(sent_of<Provide>(as).size() == 1);
  CHECK(h.client.verified_chunks() == 1);
  CHECK(h.client.bytes_verified() == 100);
}

TEST_CASE("a second transfer of a chunk failing after the first verified is not retried") {
  Harness h(config());
  h.ready();
  auto first = h.transfer(6, "bob");
  auto second = h.transfer(6, "carol");
  h.client.on_transfer_received(first, hash_a, h.now);
  h.server(HashVerify{url, chunk(6), true});
  h.take();
  h.client.on_transfer_failed(second, "duplicate transfer of chunk 6", h.now);
  auto as = h.take();
  CHECK(sent_of<Completed>(as).size() == 1);
  CHECK(sent_of<Request>(as).empty());
}

TEST_CASE("one of two transfers failing does not re-request while the other is in flight") {
  Harness h(config());
  h.ready();
  auto first = h.transfer(6, "bob");
  auto second = h.transfer(6, "carol");
  h.client.on_transfer_failed(first, "refused", h.now);
  CHECK(sent_of<Request>(h.take()).empty());
  h.client.on_transfer_failed(second, "refused", h.now);
  CHECK(sent_of<Request>(h.take()) == std::vector<Request>{{url, chunk(6)}});
}

TEST_CASE("a hash_verify for a range we never completed is ignored") {
  Harness h(config());
  h.ready();
  h.server(HashVerify{url, chunk(3), true});
  CHECK(h.take().empty());
  CHECK(h.client.verified_chunks() == 0);
  CHECK_FALSE(h.client.last_server_error().empty());
}

TEST_CASE("outcomes for unknown transfer ids are ignored") {
  Harness h(config());
  h.ready();
  h.client.on_transfer_received(42, hash_a, h.now);
  h.client.on_transfer_failed(43, "x", h.now);
  h.client.on_transfer_sent(44, h.now);
  CHECK(h.take().empty());
}

// ---- completion ----

TEST_CASE("DownloadComplete comes exactly once, when the last chunk is verified") {
  Harness h(config());
  h.ready();
  for (ChunkIndex c = 0; c < 9; ++c) h.deliver(c);
  CHECK(Harness::of<DownloadComplete>(h.take()).empty());
  CHECK_FALSE(h.client.complete());
  auto late = h.transfer(9, "carol");
  h.deliver(9);
  CHECK(Harness::of<DownloadComplete>(h.take()).size() == 1);
  CHECK(h.client.complete());
  CHECK(h.client.verified_chunks() == 10);
  CHECK(h.client.bytes_verified() == fsize);
  // A late copy and its verdict change nothing.
  h.client.on_transfer_received(late, hash_a, h.now);
  h.server(HashVerify{url, chunk(9), true});
  h.client.on_control_closed(h.now);
  auto after = h.take();
  CHECK(Harness::of<DownloadComplete>(after).empty());
  CHECK(Harness::of<DownloadFailed>(after).empty());
  CHECK(Harness::of<ChunkVerified>(after).empty());
}

TEST_CASE("the server closing before completion fails the download") {
  Harness h(config());
  h.ready();
  h.deliver(0);
  h.take();
  h.client.on_control_closed(h.now);
  CHECK(failure(h.take()) == "server closed the connection");
  CHECK_FALSE(h.client.complete());
}

TEST_CASE("the server closing after completion is no failure") {
  Harness h(config());
  h.ready();
  for (ChunkIndex c = 0; c < 10; ++c) h.deliver(c);
  h.take();
  h.client.on_control_closed(h.now);
  CHECK(h.take().empty());
  CHECK(h.client.complete());
}

// ---- server errors and bad data ----

TEST_CASE("protocol_error from the server fails the download with its message") {
  Harness h(config());
  h.ready();
  h.server(ProtocolError{"duplicate client_id alice"});
  CHECK(failure(h.take()) == "server refused: duplicate client_id alice");
  h.client.on_control_closed(h.now);  // the close that follows adds nothing
  CHECK(h.take().empty());
}

TEST_CASE("an error about our whole file before tell_info fails with its reason") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  h.server(ErrorMessage{"file not found", url, std::nullopt});
  CHECK(failure(h.take()) == "file not found");
}

TEST_CASE("an error about a range after tell_info is recorded, not fatal") {
  Harness h(config());
  h.ready();
  h.server(ErrorMessage{"invalid transfer", url, chunk(2)});
  CHECK(h.take().empty());
  CHECK(h.client.last_server_error().find("invalid transfer") != std::string::npos);
  h.transfer(2);  // still working
}

TEST_CASE("a frame that is not a message is bad data from the server") {
  Harness h(config());
  h.ready();
  auto frame = encode_frame("{not json");
  REQUIRE(frame.ok());
  h.client.on_control_data(*frame, h.now);
  CHECK(failure(h.take()).rfind("bad data from server: ", 0) == 0);
  // Nothing more is processed afterwards.
  h.server(get_from(1));
  CHECK(h.take().empty());
}

TEST_CASE("a zero-length frame is bad data from the server") {
  Harness h(config());
  h.ready();
  h.client.on_control_data(std::string("\0\0", 2), h.now);
  CHECK(failure(h.take()).rfind("bad data from server: ", 0) == 0);
}

TEST_CASE("frames split across reads and several frames in one read are all handled") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  std::string bytes = *encode_frame(encode_message(TellInfo{url, fsize, csize, false, std::nullopt}));
  bytes += *encode_frame(encode_message(get_from(0)));
  bytes += *encode_frame(encode_message(get_from(1)));
  for (char ch : bytes) h.client.on_control_data(std::string_view(&ch, 1), h.now);
  auto as = h.take();
  CHECK(h.client.has_info());
  CHECK(Harness::of<StartTransfer>(as).size() == 2);
}

TEST_CASE("transfers that arrive in one read start lowest chunk first; separate reads keep their order") {
  Harness h(config(true, 8));
  h.ready();
  std::string bytes;
  for (ChunkIndex c : {5, 2, 7, 0, 3}) bytes += *encode_frame(encode_message(get_from(c)));
  h.client.on_control_data(bytes, h.now);
  std::vector<ChunkIndex> order;
  for (const auto& t : Harness::of<StartTransfer>(h.take())) order.push_back(t.chunk);
  CHECK(order == std::vector<ChunkIndex>{0, 2, 3, 5, 7});

  h.server(get_from(6));
  h.server(get_from(1));
  order.clear();
  for (const auto& t : Harness::of<StartTransfer>(h.take())) order.push_back(t.chunk);
  CHECK(order == std::vector<ChunkIndex>{6, 1});
}

TEST_CASE("ordering a read's transfers leaves the other actions where they were") {
  Harness h(config());
  h.ready();
  h.deliver(4);
  h.take();
  // A transfer for a chunk already verified is declined (a completed without a hash) between two
  // that start; the decline stays between them, the starts swap.
  std::string bytes = *encode_frame(encode_message(get_from(8)));
  bytes += *encode_frame(encode_message(get_from(4)));
  bytes += *encode_frame(encode_message(get_from(1)));
  h.client.on_control_data(bytes, h.now);
  auto as = h.take();
  REQUIRE(as.size() == 3);
  REQUIRE(std::holds_alternative<StartTransfer>(as[0]));
  CHECK(std::get<StartTransfer>(as[0]).chunk == 1);
  CHECK(std::holds_alternative<SendControl>(as[1]));
  REQUIRE(std::holds_alternative<StartTransfer>(as[2]));
  CHECK(std::get<StartTransfer>(as[2]).chunk == 8);
}

TEST_CASE("a transfer before tell_info is declined") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  h.server(get_from(0));
  auto as = h.take();
  CHECK(Harness::of<StartTransfer>(as).empty());
  CHECK(sent_of<Completed>(as).size() == 1);
}

// ---- in order (pipe output) ----

TEST_CASE("a pipe download requests only the chunks of its window as one range") {
  Harness h(config(true, 4));
  h.client.start(h.now);
  h.take();
  h.server(TellInfo{url, fsize, csize, false, std::nullopt});
  auto reqs = sent_of<Request>(h.take());
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0] == Request{url, chunks(0, 3)});
}

TEST_CASE("a pipe window larger than the file requests the whole file as a range") {
  Harness h(config(true, 64));
  h.client.start(h.now);
  h.take();
  h.server(TellInfo{url, fsize, csize, false, std::nullopt});
  CHECK(sent_of<Request>(h.take()) == std::vector<Request>{{url, chunks(0, 9)}});
}

TEST_CASE("chunks verified out of order are emitted strictly ascending, each once") {
  Harness h(config(true, 4));
  h.ready();
  h.deliver(2);
  h.deliver(1);
  CHECK(emitted(h.take()).empty());
  CHECK(h.client.holds(1));
  CHECK(h.client.holds(2));
  h.deliver(0);
  CHECK(emitted(h.take()) == std::vector<ChunkIndex>{0, 1, 2});
  h.deliver(3);
  CHECK(emitted(h.take()) == std::vector<ChunkIndex>{3});
}

TEST_CASE("emitting advances the window and requests the chunks that enter it") {
  Harness h(config(true, 4));
  h.ready();
  h.deliver(1);
  CHECK(sent_of<Request>(h.take()).empty());
  h.deliver(0);
  CHECK(sent_of<Request>(h.take()) == std::vector<Request>{{url, chunks(4, 5)}});
  std::vector<Request> reqs;
  for (ChunkIndex c = 2; c < 10; ++c) {
    h.deliver(c);
    for (const auto& r : sent_of<Request>(h.take())) reqs.push_back(r);
  }
  // One new chunk per emitted chunk, and nothing past the end of the file.
  CHECK(reqs == std::vector<Request>{{url, chunk(6)}, {url, chunk(7)}, {url, chunk(8)}, {url, chunk(9)}});
}

TEST_CASE("emitted chunks are unprovided and no longer held") {
  Harness h(config(true, 4));
  h.ready();
  h.deliver(1);
  h.take();
  h.deliver(0);
  auto as = h.take();
  CHECK(sent_of<Provide>(as) == std::vector<Provide>{{url, chunk(0)}});
  CHECK(sent_of<Unprovide>(as) == std::vector<Unprovide>{{url, chunks(0, 1)}});
  CHECK_FALSE(h.client.holds(0));
  CHECK_FALSE(h.client.holds(1));
  CHECK(h.client.verified_chunks() == 2);
  // Verified, then emitted, then unprovided: the runtime writes the bytes before they may be dropped.
  std::vector<std::string> kinds;
  for (const auto& a : as) {
    if (std::holds_alternative<ChunkVerified>(a)) kinds.push_back("verified");
    if (std::holds_alternative<EmitChunk>(a)) kinds.push_back("emit");
    if (auto* s = std::get_if<SendControl>(&a); s && s->bytes.find("unprovide") != std::string::npos)
      kinds.push_back("unprovide");
  }
  CHECK(kinds == std::vector<std::string>{"verified", "emit", "emit", "unprovide"});
}

TEST_CASE("a pipe download declines transfers outside its window so memory stays bounded") {
  Harness h(config(true, 4));
  h.ready();
  h.server(get_from(4));
  auto as = h.take();
  CHECK(Harness::of<StartTransfer>(as).empty());
  CHECK(sent_of<Completed>(as) == std::vector<Completed>{{"10.0.0.2", url, chunk(4), "bob", std::nullopt}});
  h.transfer(3);  // the window's last chunk is fine
  h.deliver(0);
  h.transfer(4);  // and once the window moved, so is chunk 4
}

TEST_CASE("a pipe download completes after the last chunk is emitted") {
  Harness h(config(true, 3));
  h.ready();
  std::vector<ChunkIndex> all;
  for (ChunkIndex c = 0; c < 10; ++c) {
    h.deliver(c);
    auto as = h.take();
    for (auto e : emitted(as)) all.push_back(e);
    CHECK(Harness::of<DownloadComplete>(as).size() == (c == 9 ? 1u : 0u));
  }
  CHECK(all == std::vector<ChunkIndex>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(h.client.complete());
  CHECK(h.client.bytes_verified() == fsize);
}

TEST_CASE("a late copy of an emitted chunk is dropped and not verified twice") {
  Harness h(config(true, 4));
  h.ready();
  auto late = h.transfer(0, "carol");
  h.deliver(0);
  CHECK(emitted(h.take()) == std::vector<ChunkIndex>{0});
  h.client.on_transfer_received(late, hash_a, h.now);
  auto as = h.take();
  CHECK(sent_of<Completed>(as).size() == 1);  // the server still learns the transfer ended
  CHECK(Harness::of<ChunkRejected>(as).size() == 1);
  h.server(HashVerify{url, chunk(0), true});
  CHECK(h.take().empty());
  CHECK(h.client.verified_chunks() == 1);
}

// ---- transfers other peers open to us ----

TEST_CASE("an incoming GET for a held chunk asks the server and is authorized on tell_verify") {
  Harness h(config());
  h.ready();
  h.deliver(3);
  h.take();
  auto token = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", "/media/a.bin", chunk(3), h.now);
  REQUIRE(token.ok());
  auto asks = sent_of<AskVerify>(h.take());
  REQUIRE(asks.size() == 1);
  CHECK(asks[0] == AskVerify{"10.0.0.9", url, chunk(3), "dave"});
  h.server(TellVerify{"10.0.0.9", url, chunk(3), "dave", true});
  auto decisions = Harness::of<IncomingDecision>(h.take());
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0].token == *token);
  CHECK(decisions[0].authorized);
}

TEST_CASE("an incoming request over udp forwards the connecting peer's key in ask_verify") {
  Harness h(config());
  h.ready();
  h.deliver(3);
  h.take();
  const std::string key = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";
  auto token =
      h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", "/media/a.bin", chunk(3), h.now, key);
  REQUIRE(token.ok());
  auto asks = sent_of<AskVerify>(h.take());
  REQUIRE(asks.size() == 1);
  CHECK(asks[0] == AskVerify{"10.0.0.9", url, chunk(3), "dave", key});
  h.server(TellVerify{"10.0.0.9", url, chunk(3), "dave", false});
  auto decisions = Harness::of<IncomingDecision>(h.take());
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0].token == *token);
  CHECK_FALSE(decisions[0].authorized);
  // Without a key (tcp) the ask_verify carries none.
  REQUIRE(h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, chunk(3), h.now, "").ok());
  auto plain = sent_of<AskVerify>(h.take());
  REQUIRE(plain.size() == 1);
  CHECK_FALSE(plain[0].peer_key);
}

TEST_CASE("tell_verify answers the oldest matching request and a refusal is passed on") {
  Harness h(config());
  h.ready();
  h.deliver(3);
  h.deliver(4);
  h.take();
  auto t1 = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, chunk(3), h.now);
  auto t2 = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, chunk(4), h.now);
  auto t3 = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, chunk(3), h.now);
  REQUIRE((t1.ok() && t2.ok() && t3.ok()));
  h.take();
  h.server(TellVerify{"10.0.0.9", url, chunk(3), "dave", false});
  h.server(TellVerify{"10.0.0.9", url, chunk(3), "dave", true});
  h.server(TellVerify{"10.0.0.9", url, chunk(3), "dave", true});  // nothing left to answer
  auto d = Harness::of<IncomingDecision>(h.take());
  REQUIRE(d.size() == 2);
  CHECK(d[0].token == *t1);
  CHECK_FALSE(d[0].authorized);
  CHECK(d[1].token == *t3);
  CHECK(d[1].authorized);
}

TEST_CASE("an incoming GET for a chunk not held is refused as not_held") {
  Harness h(config());
  h.ready();
  auto r = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", "/media/a.bin", chunk(3), h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("not_held", 0) == 0);
  CHECK(r.error().code != Errc::bad_range);
  CHECK(h.take().empty());  // the server is not asked
}

TEST_CASE("an incoming request for another file is refused as unknown_file") {
  Harness h(config());
  h.ready();
  h.deliver(3);
  h.take();
  auto r = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", "/media/b.bin", chunk(3), h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("unknown_file", 0) == 0);
  CHECK(r.error().message.find("/media/b.bin") != std::string::npos);
  auto bad = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", "garbage", chunk(3), h.now);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("unknown_file", 0) == 0);
  CHECK(h.take().empty());
}

TEST_CASE("an incoming request for more or less than one aligned chunk is refused as bad_range") {
  Harness h(config());
  h.ready();
  h.deliver(3);
  h.deliver(4);
  h.take();
  for (ByteRange r : {ByteRange{300, 349}, chunks(3, 4), ByteRange{300, 5000}, ByteRange{10, 5}}) {
    auto res = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, r, h.now);
    REQUIRE_FALSE(res.ok());
    CHECK(res.error().code == Errc::bad_range);
    CHECK(res.error().message.rfind("bad_range", 0) == 0);
  }
  CHECK(h.take().empty());
}

TEST_CASE("an incoming PUT for a missing chunk is asked, received and verified like a download") {
  Harness h(config());
  h.ready();
  auto token = h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", "erin", url, chunk(8), h.now);
  REQUIRE(token.ok());
  CHECK(sent_of<AskVerify>(h.take()) == std::vector<AskVerify>{{"10.0.0.7", url, chunk(8), "erin"}});
  h.server(TellVerify{"10.0.0.7", url, chunk(8), "erin", true});
  CHECK(Harness::of<IncomingDecision>(h.take()).size() == 1);
  h.client.on_incoming_put_received(*token, hash_a, h.now);
  CHECK(sent_of<Completed>(h.take()) == std::vector<Completed>{{"10.0.0.7", url, chunk(8), "erin", hash_a}});
  h.server(HashVerify{url, chunk(8), true});
  auto as = h.take();
  CHECK(Harness::of<ChunkVerified>(as).size() == 1);
  CHECK(h.client.holds(8));
  CHECK(h.client.bytes_from_peers() == 100);
  // The token is used up.
  h.client.on_incoming_put_received(*token, hash_a, h.now);
  CHECK(h.take().empty());
}

TEST_CASE("a PUT from dstream over the server's own key is a push: authorized at once and checked against its named hash") {
  const std::string server_key = "c2VydmVyLWtleS1mb3ItdGhlLXRlc3RzLTMyLWJ5dGVz";
  Harness h(config(true, 4));
  h.client.set_server_key(server_key);
  h.ready();
  auto token = h.client.on_incoming_request(TransferMethod::put, "10.0.0.1", server_peer_id, url, chunk(0), h.now,
                                            server_key);
  REQUIRE(token.ok());
  auto as = h.take();
  CHECK(sent_of<AskVerify>(as).empty());  // no round trip to ask
  auto decisions = Harness::of<IncomingDecision>(as);
  REQUIRE(decisions.size() == 1);
  CHECK(decisions[0].token == *token);
  CHECK(decisions[0].authorized);
  h.client.on_incoming_put_received(*token, hash_a, h.now, hash_a);
  as = h.take();
  CHECK(sent_of<Completed>(as) == std::vector<Completed>{{"10.0.0.1", url, chunk(0), server_peer_id, hash_a}});
  CHECK(Harness::of<ChunkVerified>(as).size() == 1);  // before hash_verify
  CHECK(emitted(as) == std::vector<ChunkIndex>{0});
  CHECK(h.client.bytes_from_peers() == 0);
  h.server(HashVerify{url, chunk(0), true});
  CHECK(h.take().empty());

  // A push whose bytes do not match the named hash is dropped and asked for again at once.
  auto bad = h.client.on_incoming_request(TransferMethod::put, "10.0.0.1", server_peer_id, url, chunk(1), h.now,
                                          server_key);
  REQUIRE(bad.ok());
  h.take();
  h.client.on_incoming_put_received(*bad, hash_a, h.now, hash_b);
  as = h.take();
  CHECK(Harness::of<ChunkRejected>(as).size() == 1);
  CHECK(sent_of<Request>(as) == std::vector<Request>{{url, chunk(1)}});
}

TEST_CASE("a PUT claiming dstream over another key, or with no server key known, is asked about like any peer's") {
  const std::string server_key = "c2VydmVyLWtleS1mb3ItdGhlLXRlc3RzLTMyLWJ5dGVz";
  Harness h(config());
  h.client.set_server_key(server_key);
  h.ready();
  auto other = h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", server_peer_id, url, chunk(8), h.now,
                                            "b3RoZXIta2V5LW9mLWEtcm9ndWUtcGVlci0zMi1ieXRlcw");
  REQUIRE(other.ok());
  auto as = h.take();
  CHECK(sent_of<AskVerify>(as).size() == 1);
  CHECK(Harness::of<IncomingDecision>(as).empty());
  // The named hash of an unauthenticated push is not taken: hash_verify decides.
  h.server(TellVerify{"10.0.0.7", url, chunk(8), server_peer_id, true});
  h.take();
  h.client.on_incoming_put_received(*other, hash_a, h.now, hash_a);
  CHECK(Harness::of<ChunkVerified>(h.take()).empty());

  Harness tcp(config());  // over tcp there is no server key: a PUT is never a push
  tcp.ready();
  auto plain = tcp.client.on_incoming_request(TransferMethod::put, "10.0.0.1", server_peer_id, url, chunk(2), tcp.now);
  REQUIRE(plain.ok());
  CHECK(sent_of<AskVerify>(tcp.take()).size() == 1);
}

TEST_CASE("an incoming PUT for a verified chunk is refused as not_wanted") {
  Harness h(config());
  h.ready();
  h.deliver(8);
  h.take();
  auto r = h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", "erin", url, chunk(8), h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("not_wanted", 0) == 0);
}

TEST_CASE("a pipe download refuses an incoming PUT beyond its window") {
  Harness h(config(true, 4));
  h.ready();
  auto r = h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", "erin", url, chunk(5), h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("not_wanted", 0) == 0);
  CHECK(h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", "erin", url, chunk(3), h.now).ok());
}

TEST_CASE("an unauthorized incoming PUT delivers nothing") {
  Harness h(config());
  h.ready();
  auto token = h.client.on_incoming_request(TransferMethod::put, "10.0.0.7", "erin", url, chunk(8), h.now);
  REQUIRE(token.ok());
  h.server(TellVerify{"10.0.0.7", url, chunk(8), "erin", false});
  h.take();
  h.client.on_incoming_put_received(*token, hash_a, h.now);
  CHECK(h.take().empty());
}

TEST_CASE("incoming requests before the file's size is known are refused") {
  Harness h(config());
  h.client.start(h.now);
  h.take();
  auto r = h.client.on_incoming_request(TransferMethod::get, "10.0.0.9", "dave", url, chunk(0), h.now);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.rfind("not_held", 0) == 0);
}
