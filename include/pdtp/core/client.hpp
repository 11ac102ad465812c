// One download (and the uploads it serves) as a pure state machine. It speaks the control
// protocol, keeps the chunk map and the streaming window, and tells the runtime which transfers
// to open and when a chunk may be written out. Chunk bytes never pass through it: the runtime
// stores them, hashes them, and reports the hash.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pdtp/core/chunk_map.hpp"
#include "pdtp/core/time.hpp"
#include "pdtp/result.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"
#include "pdtp/wire/range.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::core {

using TransferId = std::uint64_t;
using RequestToken = std::uint64_t;

struct ClientConfig {
  std::string client_id;
  std::uint16_t listen_port = 0;
  std::string url;                   // wire name of the file: http://host/path
  bool in_order = false;             // output is a pipe: request and emit within a bounded window
  std::size_t window_chunks = 64;    // in_order: chunks at or after the write position that may be held
  unsigned max_attempts_per_chunk = 20;  // then the download fails
  bool seed = false;                 // keep serving after the download is complete
};

// Actions for the runtime.
struct SendControl {
  std::string bytes;  // one complete frame for the server connection
};
struct StartTransfer {  // the server told us to open a connection to another peer
  TransferId id;
  TransferMethod method;  // get: fetch range into our storage; put: send range from our storage
  std::string host;
  std::uint16_t port = 0;
  std::string url;
  ByteRange range;
  ChunkIndex chunk = 0;
  PeerId peer_id;         // the listening peer (server_peer_id for the file service)
  std::string peer_key;   // udp: the key the listening side must authenticate with (transfer.peer_key); else empty
};
struct ChunkVerified {  // the server confirmed the hash: keep the bytes, they may be served now
  ChunkIndex chunk;
};
struct ChunkRejected {  // the hash did not match: drop the bytes, the chunk will be fetched again
  ChunkIndex chunk;
};
struct EmitChunk {      // in_order only: write this chunk to the output now (strictly ascending);
  ChunkIndex chunk;     // afterwards the bytes may be dropped (it is unprovided)
};
struct IncomingDecision {  // answer to on_incoming_request once the server replied tell_verify
  RequestToken token;
  bool authorized;
};
struct DownloadComplete {};  // every chunk verified (and, in_order, emitted)
struct DownloadFailed {      // fatal: unknown file, protocol_error, server closed, too many failures
  std::string reason;
};
using ClientAction = std::variant<SendControl, StartTransfer, ChunkVerified, ChunkRejected, EmitChunk,
                                  IncomingDecision, DownloadComplete, DownloadFailed>;

enum class IncomingError { unknown_file, not_held, bad_range, not_wanted };

// on_incoming_request's errors start with this name ("not_held: chunk 3 is not held here"); the
// code is bad_url for unknown_file, bad_range for bad_range, unsupported for the other two.
inline constexpr std::string_view to_string(IncomingError e) noexcept {
  switch (e) {
    case IncomingError::unknown_file: return "unknown_file";
    case IncomingError::not_held: return "not_held";
    case IncomingError::bad_range: return "bad_range";
    case IncomingError::not_wanted: return "not_wanted";
  }
  return "unknown";
}

class Client {
 public:
  explicit Client(ClientConfig config);

  // Queue register + ask_info.
  void start(TimePoint now);
  // Bytes from the server's control connection.
  void on_control_data(std::string_view bytes, TimePoint now);
  // The server connection closed: DownloadFailed unless complete (a seeding client just stops).
  void on_control_closed(TimePoint now);

  // Outcome of a StartTransfer. get: the runtime stored the bytes and reports their SHA-256.
  void on_transfer_received(TransferId id, Sha256Hex hash, TimePoint now);
  // put: the bytes were sent.
  void on_transfer_sent(TransferId id, TimePoint now);
  // Either method: connection refused, bad status, short body, timeout... The chunk is retried.
  void on_transfer_failed(TransferId id, std::string reason, TimePoint now);

  // Another peer connected to our listen port: GET (it wants bytes we hold) or PUT (it sends us
  // bytes we want). Checks what we can, then asks the server (ask_verify); the answer comes as
  // IncomingDecision. Error -> the runtime answers 404/416/403 at once. peer_key: over udp, the
  // connecting peer's authenticated static key (base64url), forwarded in ask_verify; empty over tcp.
  Result<RequestToken> on_incoming_request(TransferMethod method, std::string peer_ip, PeerId peer_id,
                                           std::string_view url_or_path, ByteRange range, TimePoint now,
                                           std::string peer_key = {});
  // An authorized incoming PUT delivered its body; the runtime stored it and reports the hash, and
  // the hash the sender named for it (a push from the server), which is checked at once.
  void on_incoming_put_received(RequestToken token, Sha256Hex hash, TimePoint now,
                                std::optional<Sha256Hex> named = std::nullopt);
  // Over udp: the key the control connection's handshake proved. A PUT from `dstream` over a link
  // with that key is the server pushing a chunk (spec/pdtp.md section 16): authorized at once.
  void set_server_key(std::string key) { server_key_ = std::move(key); }

  void on_timeout(TimePoint now);
  std::optional<TimePoint> next_timeout() const;

  bool poll_action(ClientAction& out);

  // Queries for the runtime and the progress display.
  bool has_info() const;
  std::uint64_t file_size() const;
  std::uint64_t chunk_size() const;
  std::uint64_t chunk_count() const;
  ByteRange chunk_range(ChunkIndex chunk) const;
  bool holds(ChunkIndex chunk) const;      // verified and still stored (servable)
  std::uint64_t verified_chunks() const;
  std::uint64_t bytes_verified() const;
  std::uint64_t bytes_from_peers() const;  // verified bytes whose giver was not the server
  bool complete() const;

  // The last non-fatal `error` the server sent (or a fatal one after completion), for diagnostics.
  const std::string& last_server_error() const { return last_server_error_; }

 private:
  struct OutTransfer {  // a StartTransfer the runtime is carrying out
    TransferMethod method;
    ChunkIndex chunk;
    Transfer order;  // the server's message, echoed in `completed`
  };
  struct PendingVerify {  // a `completed` with hash awaiting its hash_verify
    ChunkIndex chunk;
    ByteRange range;
    PeerId giver;
    bool surplus;  // the chunk was already verified when these bytes arrived: drop them
    bool settled = false;  // checked against the hash in `transfer`: hash_verify only confirms
  };
  struct PendingAsk {  // an incoming transfer awaiting tell_verify
    RequestToken token;
    TransferMethod method;
    std::string peer_ip;
    PeerId peer_id;
    ByteRange range;
    ChunkIndex chunk;
    bool push = false;  // the server's own PUT over its authenticated link
  };

  // Bound what peers connecting to us can make us remember.
  static constexpr std::size_t max_pending_asks = 1024;
  static constexpr std::size_t max_authorized_puts = 1024;

  template <class M>
  void on_message(const M& m) {  // client -> server types: a confused server; note and go on
    last_server_error_ = "unexpected " + std::string(message_type(Message{m})) + " from the server";
  }
  void on_message(const TellInfo& m);
  void on_message(const Transfer& m);
  void on_message(const TellVerify& m);
  void on_message(const HashVerify& m);
  void on_message(const ProtocolError& m);
  void on_message(const ErrorMessage& m);

  void send(const Message& m);
  void fail(std::string reason);
  bool is_our_url(std::string_view url) const;
  bool in_window(ChunkIndex c) const;
  ByteRange span_range(ChunkSpan span) const { return range_of(chunks_.layout(), span); }
  void request_window();
  void decline(const Transfer& t);
  void chunk_failed(ChunkIndex c, const std::string& message);
  bool chunk_busy(ChunkIndex c) const;
  void await_verify(ChunkIndex c, ByteRange range, PeerId giver, std::optional<bool> checked = std::nullopt);
  void settle(const PendingVerify& v, bool hash_ok);
  void emit_ready();
  void check_complete();
  void order_new_transfers(std::size_t first_new);
  static Error incoming_error(IncomingError kind, std::string detail);

  ClientConfig config_;
  std::string path_;  // normalized path of config_.url: how we recognise our file in messages
  FrameDecoder decoder_;
  std::deque<ClientAction> actions_;
  bool started_ = false;
  bool has_info_ = false;
  bool complete_ = false;
  bool failed_ = false;  // terminal: the server connection is unusable or the download cannot finish
  ChunkMap chunks_;
  ChunkIndex next_emit_ = 0;      // in_order: the next chunk to write out
  ChunkIndex requested_end_ = 0;  // in_order: chunks below this have been requested
  std::map<TransferId, OutTransfer> transfers_;
  TransferId next_transfer_id_ = 1;
  std::deque<PendingVerify> verifies_;
  std::deque<PendingAsk> asks_;
  std::deque<PendingAsk> puts_;  // authorized incoming PUTs whose body has not been reported yet
  RequestToken next_token_ = 1;
  std::uint64_t bytes_from_peers_ = 0;
  std::string last_server_error_;
  std::string server_key_;  // empty over tcp: no pushes
};

}  // namespace pdtp::core

#include "pdtp/core/detail/client_impl.hpp"
