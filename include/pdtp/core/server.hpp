// The PDTP server as a pure state machine: bytes, connection events and the time go in;
// frames to send, connections to close, and the next wake-up time come out.
// It holds peers, files, request sets, provide sets, transfers and verification; the
// scheduler (scheduler.hpp) decides who gives which chunk to whom.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "pdtp/core/catalog.hpp"
#include "pdtp/core/link.hpp"
#include "pdtp/core/rate.hpp"
#include "pdtp/core/scheduler.hpp"
#include "pdtp/core/swarm.hpp"
#include "pdtp/core/time.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::core {

using ConnId = std::uint64_t;

struct ServerConfig {
  std::uint16_t file_service_port = 6087;    // HTTP port of the server's own file service
  std::size_t max_client_id_bytes = 4095;    // register with a longer id -> protocol_error
  unsigned peer_upload_slots = 4;            // concurrent uploads per peer
  unsigned peer_download_slots = 8;          // concurrent downloads per peer
  unsigned file_service_slots = 64;          // concurrent transfers from the file service in total
  std::chrono::milliseconds transfer_timeout{30000};  // a transfer not completed by then is dropped
  std::uint64_t seed = 1;                    // seeds the scheduler's tie-breaking (the core has no RNG of its own)
  std::uint16_t udp_file_service_port = 0;   // where udp peers reach the file service; 0 = udp peers get peers only
  bool require_encryption = false;           // refuse register over tcp
  std::string server_public_key;             // base64url; sent as peer_key in file-service transfers to udp peers
  // File-service chunks for a udp peer are pushed on its control connection (PushChunk) instead of
  // a `transfer` it must answer with a GET: a round trip less per chunk. Needs udp_file_service_port.
  bool push_to_udp = true;
};

// Outputs, in the order they must be carried out.
struct SendFrame {
  ConnId conn;
  std::string bytes;  // a complete frame: u16 length + JSON body
};
struct CloseConn {
  ConnId conn;  // close after the frames queued before this one are written
};
// Send this chunk of the file service to the udp peer on control connection `conn`: a PUT on a new
// stream of that connection (spec/pdtp.md section 16). Report a failure with on_push_failed; success
// is the peer's `completed`, as for any transfer.
struct PushChunk {
  ConnId conn;
  std::string path;   // the file's normalized path (the path of the peer's url)
  ByteRange range;    // exactly one chunk
  std::optional<Sha256Hex> hash;  // the chunk's SHA-256, for the peer to check on arrival
};
using ServerAction = std::variant<SendFrame, CloseConn, PushChunk>;

enum class FileServiceVerdict { ok, unknown_peer, not_authorized, unknown_file, bad_range };

// For the status page, /status.json and /metrics.
struct PeerStatus {
  PeerId id;
  std::string address;        // ip
  std::uint16_t listen_port = 0;
  LinkTransport transport = LinkTransport::tcp;  // of its control connection
  std::string public_key;     // udp: its authenticated static key (base64url); tcp: empty
  unsigned uploads = 0;       // active transfers where this peer gives
  unsigned downloads = 0;     // active transfers where this peer takes
  std::uint64_t bytes_up = 0;     // verified bytes this peer gave
  std::uint64_t bytes_down = 0;   // verified bytes this peer received
  double rate_up = 0;         // bytes/s over the recent window
  double rate_down = 0;
};
struct FileStatus {
  std::string path;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  unsigned downloaders = 0;   // peers with a non-empty request set for this file
  unsigned uploaders = 0;     // peers that provide at least one chunk of it
};
struct TransferStatus {
  PeerId taker;
  PeerId giver;               // server_peer_id for the file service
  std::string path;
  ByteRange range;
  double age_seconds = 0;
};
struct ServerSnapshot {
  std::size_t clients = 0;    // connected (registered) peers
  std::vector<PeerStatus> peers;
  std::vector<FileStatus> files;
  std::vector<TransferStatus> transfers;
  std::uint64_t bytes_from_peers = 0;    // verified bytes delivered peer-to-peer
  std::uint64_t bytes_from_server = 0;   // verified bytes delivered by the file service
  std::uint64_t chunks_from_peers = 0;
  std::uint64_t chunks_from_server = 0;
  std::uint64_t hash_failures = 0;
  std::uint64_t transfers_failed = 0;    // completed without hash, timed out, or peer left
  std::uint64_t protocol_errors = 0;
  double rate_from_peers = 0;            // bytes/s, recent window
  double rate_from_server = 0;
};

class Server {
 public:
  Server(ServerConfig config, FileCatalog& catalog);

  // A control connection was accepted. remote_ip = the client's address; local_ip = our address on
  // that connection (handed out as the file service's host in `transfer`); link = its transport and,
  // over udp, the key the handshake authenticated (the peer's transport and key once it registers).
  void on_connect(ConnId conn, std::string remote_ip, std::string local_ip, TimePoint now, PeerLink link = {});
  // Bytes arrived on a control connection (any split: partial frames, many frames).
  void on_data(ConnId conn, std::string_view bytes, TimePoint now);
  // The connection closed (by the peer or after a CloseConn). Its transfers are rescheduled.
  void on_disconnect(ConnId conn, TimePoint now);
  // A PushChunk could not be delivered (the stream failed or the peer refused it): the transfer
  // ends unverified and the chunk is scheduled again.
  void on_push_failed(ConnId conn, std::string_view path, ByteRange range, TimePoint now);
  // Call when now >= next_timeout(): expires transfers, reschedules.
  void on_timeout(TimePoint now);
  std::optional<TimePoint> next_timeout() const;

  // Pop the next action; false when there is none.
  bool poll_action(ServerAction& out);

  // The server's own HTTP file service received a GET from `peer_id` for `path`/`range`:
  // ok iff that peer is registered, the server scheduled exactly this transfer to it, (when
  // `remote_ip` is given) the request comes from the address the peer registered from, and the
  // request's link matches the peer's: `remote_key` (the key of a udp connection, empty over tcp)
  // equals the key it registered with (a udp peer), or is empty (a tcp peer).
  FileServiceVerdict authorize_file_service(std::string_view peer_id, std::string_view path, ByteRange range,
                                            TimePoint now, std::string_view remote_ip = {},
                                            std::string_view remote_key = {});

  ServerSnapshot snapshot(TimePoint now) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  static constexpr PeerSlot no_peer = file_service;  // a connection that has not registered

  struct Conn {
    std::string remote_ip;
    std::string local_ip;
    PeerLink link;
    FrameDecoder decoder;
    std::size_t fed = 0;      // bytes fed since the decoder was last replaced (bounds its idle capacity)
    bool closed = false;      // CloseConn was issued: further data is ignored
    PeerSlot peer = no_peer;  // set by register
  };
  struct PeerRecord {  // what the swarm does not need: identity, address, accounting
    PeerId id;
    ConnId conn = 0;
    std::string ip;
    std::string local_ip;
    PeerLink link;
    std::uint64_t bytes_up = 0;
    std::uint64_t bytes_down = 0;
    RateWindow up;
    RateWindow down;
  };
  // A wire url resolved to a file of the swarm, or the reason it could not be.
  struct Resolved {
    std::optional<FileSlot> file;
    std::string reason;
    bool bad_path = false;  // the url itself is invalid (not merely an unknown file)
  };
  static constexpr std::size_t url_cache_limit = 4096;  // raw urls remembered; cleared when full
  static constexpr std::size_t url_cache_key_limit = 512;  // longer urls are not cached (bounds its memory)

  // Message handlers; `c.peer` is a registered peer for all but register.
  void handle(ConnId id, Conn& c, Message& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Register& m, TimePoint now);
  void on_message(ConnId id, Conn& c, AskInfo& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Request& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Unrequest& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Provide& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Unprovide& m, TimePoint now);
  void on_message(ConnId id, Conn& c, AskVerify& m, TimePoint now);
  void on_message(ConnId id, Conn& c, Completed& m, TimePoint now);

  void fatal(ConnId id, Conn& c, std::string message);
  void remove_peer(PeerSlot p, std::optional<TimePoint> now = std::nullopt);
  bool complete_orphan(ConnId id, Conn& c, Completed& m, FileSlot f, TimePoint now);
  bool complete_orphan(ConnId id, Conn& c, Completed& m, FileSlot f, ChunkIndex chunk, TimePoint now);
  void transfer_failed(const SwarmTransfer& tr, TimePoint now);
  void schedule(TimePoint now);
  void send(ConnId id, const Message& m);
  void send_transfer(TransferSlot t);

  Resolved resolve(std::string_view url, bool ask_catalog);
  struct SetTarget {  // what a request/unrequest/provide/unprovide names
    FileSlot file;
    ChunkSpan span;
  };
  std::optional<SetTarget> target_or_error(ConnId id, const std::string& url, const std::optional<ByteRange>& range,
                                          bool widen = false);
  std::optional<PeerSlot> peer_by_id(std::string_view id) const;
  bool key_matches(PeerSlot p, std::string_view key) const;
  const std::string& peer_name(PeerSlot p) const;

  ServerConfig config_;
  FileCatalog& catalog_;
  Swarm swarm_;
  Scheduler scheduler_;
  std::unordered_map<ConnId, Conn> conns_;
  std::vector<PeerRecord> records_;  // by PeerSlot
  std::unordered_map<std::string, PeerSlot, StringHash, std::equal_to<>> peers_by_id_;
  std::unordered_map<std::string, FileSlot, StringHash, std::equal_to<>> url_cache_;  // raw url -> known file
  std::vector<ServerAction> actions_;  // pending, from actions_head_ on
  std::size_t actions_head_ = 0;
  std::vector<TransferSlot> started_;     // scratch for the scheduler
  std::vector<SwarmTransfer> dropped_;    // scratch for peer removal
  std::vector<TransferSlot> expired_;     // scratch for timeouts
  // Transfers whose giver left while they ran: the bytes may have reached the taker already, so its
  // `completed` is still judged (and counted) for a while instead of being an unknown transfer.
  struct Orphan {
    PeerSlot taker;
    std::uint32_t taker_generation;
    PeerId giver;
    FileSlot file;
    ChunkIndex chunk;
    TimePoint until;
  };
  static constexpr std::size_t max_orphans = 1024;
  std::deque<Orphan> orphans_;

  std::uint64_t bytes_from_peers_ = 0;
  std::uint64_t bytes_from_server_ = 0;
  std::uint64_t chunks_from_peers_ = 0;
  std::uint64_t chunks_from_server_ = 0;
  std::uint64_t hash_failures_ = 0;
  std::uint64_t transfers_failed_ = 0;
  std::uint64_t protocol_errors_ = 0;
  RateWindow rate_from_peers_;
  RateWindow rate_from_server_;
};

}  // namespace pdtp::core

#include "pdtp/core/detail/server_impl.hpp"
