// Drives the client state machine with a script of server messages, raw server bytes, transfer
// outcomes and incoming requests read from the input, and checks its promises after every step:
// EmitChunk strictly ascending and each once, DownloadComplete at most once and only when every
// chunk is verified, counters within the file, every frame sent a valid client message, and (pipe
// mode) never more chunks held than the window.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "pdtp/core/client.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"

using namespace pdtp;
using namespace pdtp::core;

namespace {

const std::string url = "http://files.example/a.bin";

struct Script {
  const std::uint8_t* p;
  std::size_t n;
  bool done() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

void check(bool ok) {
  if (!ok) std::abort();
}

struct Driver {
  Client client;
  ClientConfig cfg;
  TimePoint now{};
  std::vector<TransferId> transfers;
  std::vector<RequestToken> tokens;
  std::uint64_t size = 0, chunk_size = 1;
  bool completed = false, failed = false;
  bool any_emitted = false;
  ChunkIndex last_emitted = 0;

  explicit Driver(ClientConfig c) : client(c), cfg(std::move(c)) {}

  ByteRange range_for(Script& s) {
    const std::uint8_t k = s.byte();
    const std::uint64_t cs = chunk_size == 0 ? 1 : chunk_size;
    if (k & 0x80) return ByteRange{s.byte(), s.byte()};  // arbitrary, often invalid
    const std::uint64_t min = (k % 64) * cs;
    std::uint64_t max = min + cs - 1;
    if (size > 0 && max >= size && min < size) max = size - 1;
    return ByteRange{min, max};
  }

  void server(const Message& m) {
    auto frame = encode_frame(encode_message(m));
    if (frame) client.on_control_data(*frame, now);
  }

  void drain() {
    ClientAction a;
    while (client.poll_action(a)) {
      if (auto* s = std::get_if<SendControl>(&a)) {
        FrameDecoder d;
        d.feed(s->bytes);
        auto body = d.next();
        check(body.ok() && d.buffered() == 0);
        auto m = decode_message(*body);
        check(m.ok());
        check(std::holds_alternative<Register>(*m) || std::holds_alternative<AskInfo>(*m) ||
              std::holds_alternative<Request>(*m) || std::holds_alternative<Provide>(*m) ||
              std::holds_alternative<Unprovide>(*m) || std::holds_alternative<AskVerify>(*m) ||
              std::holds_alternative<Completed>(*m));
      } else if (auto* t = std::get_if<StartTransfer>(&a)) {
        check(client.has_info() && t->chunk < client.chunk_count());
        check(t->range == client.chunk_range(t->chunk));
        if (t->method == TransferMethod::put) check(client.holds(t->chunk));
        transfers.push_back(t->id);
      } else if (auto* e = std::get_if<EmitChunk>(&a)) {
        check(cfg.in_order);
        check(any_emitted ? e->chunk == last_emitted + 1 : e->chunk == 0);
        any_emitted = true;
        last_emitted = e->chunk;
      } else if (std::holds_alternative<DownloadComplete>(a)) {
        check(!completed && !failed);
        completed = true;
      } else if (std::holds_alternative<DownloadFailed>(a)) {
        check(!failed && !completed);
        failed = true;
      }
    }
    check(client.verified_chunks() <= client.chunk_count());
    check(client.bytes_verified() <= client.file_size());
    check(client.bytes_from_peers() <= client.bytes_verified());
    check(client.complete() == completed);
    if (completed) check(client.verified_chunks() == client.chunk_count());
    if (cfg.in_order && client.has_info()) {
      std::uint64_t held = 0;
      for (ChunkIndex c = 0; c < client.chunk_count(); ++c) held += client.holds(c) ? 1 : 0;
      check(held <= cfg.window_chunks);
    }
  }

  void step(Script& s) {
    const std::uint8_t op = s.byte() % 13;
    const std::string peer = (s.byte() & 1) ? "bob" : std::string(server_peer_id);
    switch (op) {
      case 0: {
        const std::uint8_t e = s.byte();
        size = std::uint64_t{s.byte()} * 7 + (e & 7);
        chunk_size = s.byte() % 16;
        server(TellInfo{url, size, chunk_size, false,
                        (e & 0x80) ? std::optional<std::string>("gone") : std::nullopt});
        break;
      }
      case 1:
      case 2: {
        const bool other = s.byte() == 0xFF;
        server(Transfer{"10.0.0.2", 6000, op == 1 ? TransferMethod::get : TransferMethod::put,
                        other ? "http://files.example/b.bin" : url, range_for(s), peer});
        break;
      }
      case 3: {
        auto r = range_for(s);
        server(HashVerify{url, r, (s.byte() & 1) != 0});
        break;
      }
      case 4:
      case 5:
      case 6: {
        const std::uint8_t k = s.byte();
        const TransferId id = transfers.empty() || k == 0xFF ? k : transfers[k % transfers.size()];
        if (op == 4) client.on_transfer_received(id, Sha256Hex(64, 'a'), now);
        if (op == 5) client.on_transfer_failed(id, "refused", now);
        if (op == 6) client.on_transfer_sent(id, now);
        break;
      }
      case 7: {
        const std::uint8_t k = s.byte();
        auto r = range_for(s);
        auto t = client.on_incoming_request((k & 1) ? TransferMethod::put : TransferMethod::get, "10.0.0.9", peer,
                                            (k & 2) ? "/a.bin" : ((k & 4) ? "/b.bin" : url), r, now);
        if (t) tokens.push_back(*t);
        break;
      }
      case 8: {
        auto r = range_for(s);
        server(TellVerify{"10.0.0.9", url, r, peer, (s.byte() & 1) != 0});
        break;
      }
      case 9: {
        const std::uint8_t k = s.byte();
        const RequestToken t = tokens.empty() ? k : tokens[k % tokens.size()];
        client.on_incoming_put_received(t, Sha256Hex(64, 'b'), now);
        break;
      }
      case 10: {
        std::string raw;
        for (std::uint8_t len = s.byte(); len > 0 && !s.done(); --len) raw.push_back(static_cast<char>(s.byte()));
        client.on_control_data(raw, now);
        break;
      }
      case 11: {
        const std::uint8_t k = s.byte();
        if (k & 1)
          server(ProtocolError{"no"});
        else
          server(ErrorMessage{"oops", url, (k & 2) ? std::optional<ByteRange>(range_for(s)) : std::nullopt});
        break;
      }
      case 12:
        client.on_control_closed(now);
        break;
    }
    drain();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Script s{data, size};
  const std::uint8_t flags = s.byte();
  ClientConfig cfg;
  cfg.client_id = "alice";
  cfg.listen_port = 6001;
  cfg.url = url;
  cfg.in_order = (flags & 1) != 0;
  cfg.window_chunks = (flags >> 1) % 8;  // 0 is treated as 1
  cfg.max_attempts_per_chunk = (flags >> 4) % 4;
  Driver d(cfg);
  if (d.cfg.window_chunks == 0) d.cfg.window_chunks = 1;
  d.client.start(d.now);
  d.drain();
  for (int steps = 0; !s.done() && steps < 4096; ++steps) d.step(s);
  return 0;
}
