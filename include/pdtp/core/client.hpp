// One download (and the uploads it serves) as a pure state machine. It speaks the control
// protocol, keeps the chunk map and the streaming window, and tells the runtime which transfers
// to open and when a chunk may be written out. Chunk bytes never pass through it: the runtime
// stores them, hashes them, and reports the hash.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pdtp/core/time.hpp"
#include "pdtp/result.hpp"
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
  // IncomingDecision. Error -> the runtime answers 404/416/403 at once.
  Result<RequestToken> on_incoming_request(TransferMethod method, std::string peer_ip, PeerId peer_id,
                                           std::string_view url_or_path, ByteRange range, TimePoint now);
  // An authorized incoming PUT delivered its body; the runtime stored it and reports the hash.
  void on_incoming_put_received(RequestToken token, Sha256Hex hash, TimePoint now);

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

 private:
  // implementation
};

}  // namespace pdtp::core
