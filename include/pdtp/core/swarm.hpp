// The state the scheduler works on: peers, the files they request and hold, and the active
// transfers between them (the server's file service is the giver `file_service`). It keeps its
// indexes consistent (holders per chunk, in-flight counts, slot counts, deadlines); it knows
// nothing about the wire.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pdtp/core/catalog.hpp"
#include "pdtp/core/chunk_set.hpp"
#include "pdtp/core/link.hpp"
#include "pdtp/core/time.hpp"
#include "pdtp/wire/range.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::core {

using PeerSlot = std::uint32_t;      // index of a peer in the swarm (reused after it leaves)
using FileSlot = std::uint32_t;      // index of a file in the swarm (never reused)
using TransferSlot = std::uint32_t;  // index of a transfer in the swarm (reused after it ends)

// The server's own file service, as a giver that holds every chunk.
inline constexpr PeerSlot file_service = std::numeric_limits<PeerSlot>::max();

struct SwarmLimits {
  unsigned peer_upload_slots = 4;
  unsigned peer_download_slots = 8;
  unsigned file_service_slots = 64;
  Duration transfer_timeout = std::chrono::seconds(30);
  Duration failure_memory = std::chrono::seconds(30);  // a failed giver is avoided this long for that chunk+taker
  unsigned distrust_after_bad_hashes = 2;               // a peer that sent this many bad chunks gives no more
  std::size_t failures_remembered = 16;                 // per taker; the oldest is forgotten first
};

// One peer's view of one file.
struct PeerFile {
  FileSlot file = 0;
  std::string url;       // the url the peer used for this file (echoed in `transfer`)
  ChunkSet requested;    // its request set (never overlaps `held`)
  ChunkSet held;         // chunks it provides or received verified
  ChunkSet in_flight;    // chunks with an active transfer to it
  ChunkIndex low = 0;    // no requested chunk lies below this (a hint for scans)
  std::uint32_t ready_pos = not_ready;  // index in SwarmFile::ready_givers, or not_ready
  static constexpr std::uint32_t not_ready = std::numeric_limits<std::uint32_t>::max();
};

struct RecentFailure {
  PeerSlot giver;
  std::uint32_t giver_generation;
  FileSlot file;
  ChunkIndex chunk;
  TimePoint until;
};

struct SwarmPeer {
  bool active = false;
  std::uint32_t generation = 0;  // bumped when the slot is reused, so stale references can be told apart
  std::uint16_t listen_port = 0;
  LinkTransport transport = LinkTransport::tcp;  // peers exchange chunks only with peers of the same transport
  bool reaches_file_service = true;              // the file service may give to it
  unsigned uploads = 0;
  unsigned downloads = 0;
  unsigned bad_hashes = 0;
  std::vector<PeerFile> files;             // usually one
  std::vector<TransferSlot> transfers;     // active ones, either role
  std::vector<RecentFailure> failures;     // givers to avoid for a while
};

struct SwarmFile {
  FileInfo info;
  ChunkLayout layout;
  ChunkIndex chunks = 0;
  std::vector<std::vector<PeerSlot>> holders;  // per chunk; allocated on the first provide
  std::vector<std::uint16_t> in_flight;        // active transfers per chunk; allocated on the first transfer
  unsigned downloaders = 0;                    // peers with a non-empty request set
  unsigned uploaders = 0;                      // peers holding at least one chunk
  std::vector<PeerSlot> ready_givers;          // holders that can give now (listening, trusted, a free slot)
};

struct SwarmTransfer {
  bool active = false;
  std::uint32_t generation = 0;
  PeerSlot taker = 0;
  PeerSlot giver = 0;  // or file_service
  FileSlot file = 0;
  ChunkIndex chunk = 0;
  TimePoint started{};
  TimePoint deadline{};
};

class Swarm {
 public:
  explicit Swarm(SwarmLimits limits) : limits_(limits) {}

  const SwarmLimits& limits() const noexcept { return limits_; }

  // ---- peers ----
  PeerSlot add_peer(std::uint16_t listen_port, LinkTransport transport = LinkTransport::tcp,
                    bool reaches_file_service = true) {
    PeerSlot p;
    if (!free_peers_.empty()) {
      p = free_peers_.back();
      free_peers_.pop_back();
    } else {
      p = static_cast<PeerSlot>(peers_.size());
      peers_.emplace_back();
    }
    SwarmPeer& peer = peers_[p];
    peer.active = true;
    peer.listen_port = listen_port;
    peer.transport = transport;
    peer.reaches_file_service = reaches_file_service;
    ++active_peers_;
    return p;
  }

  // Ends the peer's transfers (appended to `dropped`), forgets what it requests and holds.
  void remove_peer(PeerSlot p, std::vector<SwarmTransfer>& dropped) {
    SwarmPeer& peer = peers_[p];
    while (!peer.transfers.empty()) dropped.push_back(end_transfer(peer.transfers.back()));
    for (PeerFile& pf : peer.files) {
      SwarmFile& f = files_[pf.file];
      set_ready(p, pf, false);
      pf.held.for_each_in({0, f.chunks ? f.chunks - 1 : 0}, [&](ChunkIndex c) { drop_holder(f, c, p); });
      if (!pf.held.empty()) --f.uploaders;
      if (!pf.requested.empty()) --f.downloaders;
    }
    const std::uint32_t next_generation = peer.generation + 1;
    peer = SwarmPeer{};
    peer.generation = next_generation;
    free_peers_.push_back(p);
    --active_peers_;
  }

  bool valid_peer(PeerSlot p) const noexcept { return p < peers_.size() && peers_[p].active; }
  const SwarmPeer& peer(PeerSlot p) const { return peers_[p]; }
  std::size_t peer_slots() const noexcept { return peers_.size(); }
  std::size_t active_peers() const noexcept { return active_peers_; }

  bool trusted(PeerSlot p) const noexcept { return peers_[p].bad_hashes < limits_.distrust_after_bad_hashes; }
  void penalize(PeerSlot p) {
    ++peers_[p].bad_hashes;
    refresh_ready(p);
  }

  unsigned free_upload_slots(PeerSlot p) const noexcept {
    if (p == file_service)
      return limits_.file_service_slots > fs_uploads_ ? limits_.file_service_slots - fs_uploads_ : 0;
    const SwarmPeer& g = peers_[p];
    return limits_.peer_upload_slots > g.uploads ? limits_.peer_upload_slots - g.uploads : 0;
  }
  unsigned free_download_slots(PeerSlot p) const noexcept {
    const SwarmPeer& t = peers_[p];
    return limits_.peer_download_slots > t.downloads ? limits_.peer_download_slots - t.downloads : 0;
  }
  // Can `p` give anything at all right now: listening, trusted, with a free upload slot.
  bool can_give(PeerSlot p) const noexcept {
    if (p == file_service) return free_upload_slots(p) > 0;
    const SwarmPeer& g = peers_[p];
    return g.active && g.listen_port != 0 && trusted(p) && free_upload_slots(p) > 0;
  }

  // May `giver` (a peer or file_service) give to `taker` at all? A connection between two peers
  // needs a transport both speak; the file service needs a port on the taker's transport.
  bool may_give_to(PeerSlot giver, PeerSlot taker) const noexcept {
    if (giver == file_service) return peers_[taker].reaches_file_service;
    return peers_[giver].transport == peers_[taker].transport;
  }

  // ---- files ----
  std::optional<FileSlot> find_file(std::string_view path) const {
    auto it = file_by_path_.find(path);
    if (it == file_by_path_.end()) return std::nullopt;
    return it->second;
  }
  FileSlot add_file(FileInfo info) {
    auto existing = find_file(info.path);
    if (existing) return *existing;
    const FileSlot f = static_cast<FileSlot>(files_.size());
    SwarmFile file;
    file.layout = ChunkLayout{info.size, info.chunk_size};
    file.chunks = file.layout.chunk_count();
    file.info = std::move(info);
    file_by_path_.emplace(file.info.path, f);
    files_.push_back(std::move(file));
    return f;
  }
  const SwarmFile& file(FileSlot f) const { return files_[f]; }
  std::size_t file_count() const noexcept { return files_.size(); }

  // Holders of a chunk plus transfers of it in flight: how widely it is (about to be) spread.
  std::size_t availability(FileSlot f, ChunkIndex c) const noexcept {
    const SwarmFile& file = files_[f];
    std::size_t n = 0;
    if (!file.holders.empty()) n += file.holders[c].size();
    if (!file.in_flight.empty()) n += file.in_flight[c];
    return n;
  }

  // ---- what a peer requests and holds ----
  PeerFile* find_peer_file(PeerSlot p, FileSlot f) noexcept {
    for (PeerFile& pf : peers_[p].files)
      if (pf.file == f) return &pf;
    return nullptr;
  }
  const PeerFile* find_peer_file(PeerSlot p, FileSlot f) const noexcept {
    for (const PeerFile& pf : peers_[p].files)
      if (pf.file == f) return &pf;
    return nullptr;
  }
  PeerFile& peer_file(PeerSlot p, FileSlot f) {
    if (PeerFile* pf = find_peer_file(p, f)) return *pf;
    const ChunkIndex n = files_[f].chunks;
    PeerFile pf;
    pf.file = f;
    pf.requested = ChunkSet(n);
    pf.held = ChunkSet(n);
    pf.in_flight = ChunkSet(n);
    pf.low = n;
    return peers_[p].files.emplace_back(std::move(pf));
  }
  // Mutable access for the scheduler's scan hint only.
  PeerFile* scan_state(PeerSlot p, FileSlot f) noexcept { return find_peer_file(p, f); }

  // Adds the chunks of `span` it does not hold to its request set; returns how many were added.
  ChunkIndex request(PeerSlot p, FileSlot f, ChunkSpan span) {
    PeerFile& pf = peer_file(p, f);
    const bool was_empty = pf.requested.empty();
    const ChunkIndex added = pf.requested.insert_except(span, pf.held);
    if (added) {
      pf.low = std::min(pf.low, span.first);
      if (was_empty) ++files_[f].downloaders;
    }
    return added;
  }
  void unrequest(PeerSlot p, FileSlot f, ChunkSpan span) {
    PeerFile* pf = find_peer_file(p, f);
    if (!pf || pf->requested.empty()) return;
    pf->requested.erase_span(span);
    if (pf->requested.empty()) --files_[f].downloaders;
  }
  // Marks the chunks of `span` as held (and no longer requested); returns how many are newly held.
  ChunkIndex provide(PeerSlot p, FileSlot f, ChunkSpan span) {
    PeerFile& pf = peer_file(p, f);
    unrequest(p, f, span);
    SwarmFile& file = files_[f];
    const bool was_empty = pf.held.empty();
    ChunkIndex added = 0;
    if (span.last >= file.chunks) span.last = file.chunks - 1;
    for (ChunkIndex c = span.first; file.chunks && c <= span.last; ++c) {
      if (pf.held.insert(c)) {
        add_holder(file, c, p);
        ++added;
      }
    }
    if (was_empty && added) {
      ++file.uploaders;
      set_ready(p, pf, can_give(p));
    }
    return added;
  }
  void unprovide(PeerSlot p, FileSlot f, ChunkSpan span) {
    PeerFile* pf = find_peer_file(p, f);
    if (!pf || pf->held.empty()) return;
    SwarmFile& file = files_[f];
    pf->held.for_each_in(span, [&](ChunkIndex c) { drop_holder(file, c, p); });
    pf->held.erase_span(span);
    if (pf->held.empty()) {
      --file.uploaders;
      set_ready(p, *pf, false);
    }
  }

  // ---- transfers ----
  TransferSlot start_transfer(PeerSlot taker, PeerSlot giver, FileSlot f, ChunkIndex chunk, TimePoint now) {
    TransferSlot t;
    if (!free_transfers_.empty()) {
      t = free_transfers_.back();
      free_transfers_.pop_back();
    } else {
      t = static_cast<TransferSlot>(transfers_.size());
      transfers_.emplace_back();
    }
    SwarmTransfer& tr = transfers_[t];
    tr.active = true;
    tr.taker = taker;
    tr.giver = giver;
    tr.file = f;
    tr.chunk = chunk;
    tr.started = now;
    // Deadlines stay in start order so the earliest is always at the front of the queue.
    tr.deadline = now + limits_.transfer_timeout;
    if (!deadlines_.empty() && deadlines_.back().deadline > tr.deadline) tr.deadline = deadlines_.back().deadline;
    deadlines_.push_back({tr.deadline, t, tr.generation});
    ++active_transfers_;

    SwarmPeer& tp = peers_[taker];
    ++tp.downloads;
    tp.transfers.push_back(t);
    peer_file(taker, f).in_flight.insert(chunk);
    if (giver == file_service) {
      ++fs_uploads_;
    } else {
      ++peers_[giver].uploads;
      peers_[giver].transfers.push_back(t);
      refresh_ready(giver);
    }
    SwarmFile& file = files_[f];
    if (file.in_flight.empty()) file.in_flight.assign(static_cast<std::size_t>(file.chunks), 0);
    if (file.in_flight[chunk] < std::numeric_limits<std::uint16_t>::max()) ++file.in_flight[chunk];
    return t;
  }

  // Ends an active transfer and returns what it was.
  SwarmTransfer end_transfer(TransferSlot t) {
    SwarmTransfer tr = transfers_[t];
    SwarmTransfer& slot = transfers_[t];
    slot.active = false;
    ++slot.generation;
    free_transfers_.push_back(t);
    --active_transfers_;

    SwarmPeer& tp = peers_[tr.taker];
    --tp.downloads;
    std::erase(tp.transfers, t);
    if (PeerFile* pf = find_peer_file(tr.taker, tr.file)) pf->in_flight.erase(tr.chunk);
    if (tr.giver == file_service) {
      --fs_uploads_;
    } else {
      --peers_[tr.giver].uploads;
      std::erase(peers_[tr.giver].transfers, t);
      refresh_ready(tr.giver);
    }
    SwarmFile& file = files_[tr.file];
    if (file.in_flight[tr.chunk] > 0) --file.in_flight[tr.chunk];
    prune_deadlines();
    return tr;
  }

  bool valid_transfer(TransferSlot t) const noexcept { return t < transfers_.size() && transfers_[t].active; }
  const SwarmTransfer& transfer(TransferSlot t) const { return transfers_[t]; }
  std::size_t transfer_slots() const noexcept { return transfers_.size(); }
  std::size_t active_transfers() const noexcept { return active_transfers_; }
  unsigned file_service_uploads() const noexcept { return fs_uploads_; }

  // The active transfer of `chunk` of `f` from `giver` to `taker`, if any.
  std::optional<TransferSlot> find_transfer(PeerSlot taker, PeerSlot giver, FileSlot f, ChunkIndex chunk) const {
    for (TransferSlot t : peers_[taker].transfers) {
      const SwarmTransfer& tr = transfers_[t];
      if (tr.taker == taker && tr.giver == giver && tr.file == f && tr.chunk == chunk) return t;
    }
    return std::nullopt;
  }

  // A verified chunk arrived: the taker holds it now. Returns true if it is newly held.
  bool receive(PeerSlot taker, FileSlot f, ChunkIndex chunk) {
    return provide(taker, f, {chunk, chunk}) > 0;
  }

  // ---- failures and time ----
  void remember_failure(PeerSlot taker, PeerSlot giver, FileSlot f, ChunkIndex chunk, TimePoint now) {
    auto& fails = peers_[taker].failures;
    std::erase_if(fails, [&](const RecentFailure& r) { return r.until <= now; });
    if (fails.size() >= limits_.failures_remembered && !fails.empty()) fails.erase(fails.begin());
    const std::uint32_t gen = giver == file_service ? 0 : peers_[giver].generation;
    fails.push_back({giver, gen, f, chunk, now + limits_.failure_memory});
  }
  bool recently_failed(PeerSlot taker, PeerSlot giver, FileSlot f, ChunkIndex chunk, TimePoint now) const {
    const std::uint32_t gen = giver == file_service ? 0 : peers_[giver].generation;
    for (const RecentFailure& r : peers_[taker].failures)
      if (r.giver == giver && r.giver_generation == gen && r.file == f && r.chunk == chunk && r.until > now)
        return true;
    return false;
  }

  std::optional<TimePoint> next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.front().deadline;
  }
  // Active transfers whose deadline is <= now, earliest first (they stay active until ended).
  void expired(TimePoint now, std::vector<TransferSlot>& out) const {
    for (const Deadline& d : deadlines_) {
      if (d.deadline > now) break;
      if (transfers_[d.transfer].active && transfers_[d.transfer].generation == d.generation)
        out.push_back(d.transfer);
    }
  }

 private:
  struct Deadline {
    TimePoint deadline;
    TransferSlot transfer;
    std::uint32_t generation;
  };
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  static void add_holder(SwarmFile& f, ChunkIndex c, PeerSlot p) {
    if (f.holders.empty()) f.holders.resize(static_cast<std::size_t>(f.chunks));
    f.holders[c].push_back(p);
  }
  static void drop_holder(SwarmFile& f, ChunkIndex c, PeerSlot p) {
    if (f.holders.empty()) return;
    auto& h = f.holders[c];
    auto it = std::find(h.begin(), h.end(), p);
    if (it == h.end()) return;
    *it = h.back();
    h.pop_back();
  }

  // Keeps `p` in the ready-giver list of exactly the files it holds while it can give.
  void refresh_ready(PeerSlot p) {
    const bool ready = can_give(p);
    for (PeerFile& pf : peers_[p].files) set_ready(p, pf, ready && !pf.held.empty());
  }
  void set_ready(PeerSlot p, PeerFile& pf, bool ready) {
    std::vector<PeerSlot>& list = files_[pf.file].ready_givers;
    if (ready && pf.ready_pos == PeerFile::not_ready) {
      pf.ready_pos = static_cast<std::uint32_t>(list.size());
      list.push_back(p);
    } else if (!ready && pf.ready_pos != PeerFile::not_ready) {
      const PeerSlot moved = list.back();
      list[pf.ready_pos] = moved;
      list.pop_back();
      if (moved != p) find_peer_file(moved, pf.file)->ready_pos = pf.ready_pos;
      pf.ready_pos = PeerFile::not_ready;
    }
  }

  // Keeps the front of the deadline queue a live transfer, so next_deadline() is exact.
  void prune_deadlines() {
    while (!deadlines_.empty()) {
      const Deadline& d = deadlines_.front();
      if (transfers_[d.transfer].active && transfers_[d.transfer].generation == d.generation) break;
      deadlines_.pop_front();
    }
  }

  SwarmLimits limits_;
  std::vector<SwarmPeer> peers_;
  std::vector<PeerSlot> free_peers_;
  std::size_t active_peers_ = 0;
  std::vector<SwarmFile> files_;
  std::unordered_map<std::string, FileSlot, PathHash, std::equal_to<>> file_by_path_;
  std::vector<SwarmTransfer> transfers_;
  std::vector<TransferSlot> free_transfers_;
  std::size_t active_transfers_ = 0;
  std::deque<Deadline> deadlines_;
  unsigned fs_uploads_ = 0;
};

}  // namespace pdtp::core
