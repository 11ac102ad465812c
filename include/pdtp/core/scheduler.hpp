// Scheduling v1: who gives which chunk to whom. It works incrementally: events name the takers
// that may have work (their requests grew, a download slot freed) or the waiting takers a new
// holder or a freed upload slot may help, and run() fills only their free download slots.
// Every scan is bounded, so no event costs O(peers^2).
//
// Policy: peers are preferred over the file service (the origin's share falls as the swarm
// grows); among peer givers the least busy wins; chunks nearest the taker's playback point (its
// lowest wanted chunk) come first. When the file service must be used for a non-streaming file it
// sends the rarest chunk among those scanned, ties broken by a seeded generator, so takers that
// start together receive different chunks and can trade; when a taker's request stops short of the
// file's end (a pipe client's window) and only a few wanted chunks remain to choose from (twice the
// download slots), it sends the lowest, so the window keeps moving. For a streaming file the lowest wanted
// chunk comes from the file service when no peer can give it, so playback never stalls on peers.
// Pairing: a peer gives only to peers of its own transport (Swarm::may_give_to), and the file
// service only to peers that can reach it over theirs; a taker it cannot reach waits for peers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "pdtp/core/swarm.hpp"
#include "pdtp/core/time.hpp"

namespace pdtp::core {

struct SchedulerBounds {
  unsigned candidate_chunks = 256;  // wanted chunks inspected per free slot
  unsigned holder_checks = 64;      // holders inspected per candidate chunk
  unsigned holder_budget = 2048;    // holders inspected per free slot in all
  unsigned giver_scan = 64;         // up to this many ready givers, search from the givers' side
  ChunkIndex peer_window = 4096;    // chunks past the playback point a giver-side search looks at
  unsigned waiter_checks = 256;     // waiting takers inspected per wake-up event
  ChunkIndex wake_window = 512;     // chunks past a waiter's playback point a wake-up looks at
};

// A small, seeded pseudo-random generator (splitmix64): deterministic for a given seed.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept { return mix(state_ += 0x9E3779B97F4A7C15ull); }
  // The splitmix64 finalizer: a bijection that scatters nearby inputs.
  static constexpr std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for tie-breaking; n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return next() % n; }

 private:
  std::uint64_t state_;
};

class Scheduler {
 public:
  explicit Scheduler(std::uint64_t seed, SchedulerBounds bounds = {}) : rng_(seed), bounds_(bounds) {}

  // The taker's request set grew or one of its download slots freed.
  void taker_changed(PeerSlot t) {
    PeerState& s = state(t);
    if (s.queued) return;
    s.queued = true;
    dirty_.push_back(t);
  }

  // `giver` now holds the chunks of `span` of file `f`: wake waiting takers that want one of them.
  void holder_gained(const Swarm& swarm, PeerSlot giver, FileSlot f, ChunkSpan span) {
    if (!swarm.can_give(giver)) return;
    wake_waiters(swarm, giver, f, swarm.free_upload_slots(giver), [&](const PeerFile& w) {
      const ChunkIndex from = std::max(span.first, w.low);
      const ChunkIndex until = std::min(span.last, from + bounds_.wake_window);
      return w.requested.next_not_in(from, w.in_flight, nullptr, until).has_value();
    });
  }

  // One of `giver`'s upload slots freed: wake waiting takers that want something it holds.
  // (A freed file-service slot needs no call: run() hands it to the longest waiting taker.)
  void giver_freed(const Swarm& swarm, PeerSlot giver) {
    if (giver == file_service || !swarm.can_give(giver)) return;
    for (const PeerFile& held : swarm.peer(giver).files) {
      if (held.held.empty()) continue;
      wake_waiters(swarm, giver, held.file, swarm.free_upload_slots(giver), [&](const PeerFile& w) {
        const ChunkIndex until = w.low + bounds_.wake_window;
        return w.requested.next_not_in(w.low, w.in_flight, &held.held, until).has_value();
      });
    }
  }

  // The peer left (its slot may be reused by a new peer).
  void peer_removed(PeerSlot p) {
    PeerState& s = state(p);
    const std::uint32_t episode = s.episode + 1;
    s = PeerState{};
    s.episode = episode;
  }

  // Fill the free download slots of every taker that may have work; appends the started transfers.
  void run(Swarm& swarm, TimePoint now, std::vector<TransferSlot>& started) {
    // A taker with news goes behind the others waiting: a taker that was just served must not
    // take the file-service slot it freed from those still waiting for their first.
    for (PeerSlot t : dirty_) {
      PeerState& s = state(t);
      if (s.queued && s.waiting) {
        s.waiting = false;
        ++s.episode;
      }
    }
    serve_file_service_waiters(swarm, now, started);  // the longest waiting go first
    while (!dirty_.empty()) {
      std::vector<PeerSlot> batch;
      batch.swap(dirty_);
      for (PeerSlot t : batch) {
        PeerState& s = state(t);
        if (!s.queued) continue;
        s.queued = false;
        if (swarm.valid_peer(t)) fill(swarm, t, now, started);
      }
    }
    serve_file_service_waiters(swarm, now, started);
  }

  bool waiting(PeerSlot t) const noexcept { return t < peers_.size() && peers_[t].waiting; }

 private:
  struct PeerState {
    bool queued = false;         // in dirty_
    bool waiting = false;        // has wanted chunks and free slots but no giver could take them
    std::uint32_t episode = 0;   // tells current waiting entries from stale ones
    std::size_t file_cursor = 0; // round-robin over the taker's files
  };
  struct Waiter {
    PeerSlot peer;
    std::uint32_t episode;
  };
  struct Pick {
    PeerSlot giver = file_service;
    FileSlot file = 0;
    ChunkIndex chunk = 0;
  };
  struct Choice {
    std::optional<Pick> pick;
    bool saw_wanted = false;  // some wanted chunk exists, even if no giver could take it now
  };

  PeerState& state(PeerSlot p) {
    if (p >= peers_.size()) peers_.resize(static_cast<std::size_t>(p) + 1);
    return peers_[p];
  }
  bool live(const Waiter& w) const noexcept {
    return w.peer < peers_.size() && peers_[w.peer].waiting && peers_[w.peer].episode == w.episode;
  }

  void fill(Swarm& swarm, PeerSlot t, TimePoint now, std::vector<TransferSlot>& started) {
    bool wants_more = false;
    while (swarm.free_download_slots(t) > 0) {
      Choice c = choose(swarm, t, now);
      if (!c.pick) {
        wants_more = c.saw_wanted;
        break;
      }
      started.push_back(swarm.start_transfer(t, c.pick->giver, c.pick->file, c.pick->chunk, now));
    }
    set_waiting(swarm, t, wants_more);
  }

  void set_waiting(const Swarm& swarm, PeerSlot t, bool wait) {
    PeerState& s = state(t);
    if (!wait) {
      if (s.waiting) {
        s.waiting = false;
        ++s.episode;  // its queued entries go stale
      }
      return;
    }
    if (s.waiting) return;
    s.waiting = true;
    ++s.episode;
    if (swarm.may_give_to(file_service, t)) {  // others wait for peers only
      fs_waiters_.push_back({t, s.episode});
      compact_if_large(fs_waiters_, fs_compact_at_);
    }
    for (const PeerFile& pf : swarm.peer(t).files) {
      if (pf.requested.empty()) continue;
      if (pf.file >= file_waiters_.size()) file_waiters_.resize(static_cast<std::size_t>(pf.file) + 1);
      FileWaiters& fw = file_waiters_[pf.file];
      fw.list.push_back({t, s.episode});
      compact_if_large(fw.list, fw.compact_at);
    }
  }

  // Stale entries are dropped lazily; this keeps them from piling up between scans (amortised O(1)).
  template <class List>
  void compact_if_large(List& list, std::size_t& compact_at) {
    if (list.size() < compact_at) return;
    std::erase_if(list, [this](const Waiter& w) { return !live(w); });
    compact_at = std::max<std::size_t>(64, 2 * list.size());
  }

  // Queues up to `budget` live waiters of file `f` that `giver` may give to and for which
  // `wants(peer_file)` holds.
  template <class Wants>
  void wake_waiters(const Swarm& swarm, PeerSlot giver, FileSlot f, unsigned budget, Wants wants) {
    if (f >= file_waiters_.size() || budget == 0) return;
    FileWaiters& fw = file_waiters_[f];
    std::size_t inspected = 0;
    while (!fw.list.empty() && inspected < bounds_.waiter_checks && budget > 0) {
      if (fw.cursor >= fw.list.size()) fw.cursor = 0;
      const Waiter w = fw.list[fw.cursor];
      ++inspected;
      if (!live(w) || !swarm.valid_peer(w.peer)) {
        fw.list[fw.cursor] = fw.list.back();  // drop the stale entry
        fw.list.pop_back();
        continue;
      }
      ++fw.cursor;
      const PeerFile* pf = swarm.find_peer_file(w.peer, f);
      if (!pf || peers_[w.peer].queued || !swarm.may_give_to(giver, w.peer) || !wants(*pf)) continue;
      taker_changed(w.peer);
      --budget;
    }
  }

  // While the file service has free slots, give them to waiting takers in arrival order.
  void serve_file_service_waiters(Swarm& swarm, TimePoint now, std::vector<TransferSlot>& started) {
    while (!fs_waiters_.empty() && swarm.free_upload_slots(file_service) > 0) {
      const Waiter w = fs_waiters_.front();
      fs_waiters_.pop_front();
      if (!live(w) || !swarm.valid_peer(w.peer)) continue;
      peers_[w.peer].waiting = false;  // fill() decides again; a new entry goes to the back
      ++peers_[w.peer].episode;
      fill(swarm, w.peer, now, started);
    }
  }

  // The next transfer for one free download slot of taker `t`: files in round-robin order.
  Choice choose(Swarm& swarm, PeerSlot t, TimePoint now) {
    Choice out;
    const std::size_t n = swarm.peer(t).files.size();
    PeerState& s = state(t);
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t idx = (s.file_cursor + k) % n;
      const FileSlot f = swarm.peer(t).files[idx].file;
      Choice c = choose_in_file(swarm, t, f, now);
      out.saw_wanted = out.saw_wanted || c.saw_wanted;
      if (c.pick) {
        s.file_cursor = idx + 1;
        out.pick = c.pick;
        return out;
      }
    }
    return out;
  }

  Choice choose_in_file(Swarm& swarm, PeerSlot t, FileSlot f, TimePoint now) {
    Choice out;
    PeerFile* pf = swarm.scan_state(t, f);
    if (!pf || pf->requested.empty()) return out;
    const SwarmFile& file = swarm.file(f);
    // Advance the playback-point hint past chunks no longer requested.
    if (auto low = pf->requested.next(pf->low < file.chunks ? pf->low : 0)) pf->low = *low;
    const auto first = pf->requested.next_not_in(pf->low, pf->in_flight);
    if (!first) return out;
    out.saw_wanted = true;
    const bool fs_free = swarm.free_upload_slots(file_service) > 0 && swarm.may_give_to(file_service, t);

    // 1. A peer that can give now, for the wanted chunk nearest the playback point.
    std::optional<Pick> peer;
    if (!file.ready_givers.empty()) {
      peer = file.ready_givers.size() <= bounds_.giver_scan ? search_givers(swarm, t, *pf, now)
                                                            : search_chunks(swarm, t, *pf, now);
    }
    if (peer && !(file.info.streaming && peer->chunk != *first && fs_free)) {
      out.pick = peer;
      return out;
    }
    if (!fs_free) return out;
    // 2. The file service. Streaming: the lowest wanted chunk, so playback never stalls on peers.
    if (file.info.streaming) {
      out.pick = Pick{file_service, f, *first};
      return out;
    }
    // Otherwise the rarest of the first wanted chunks, so the swarm holds diverse chunks to trade.
    // Ties go to the chunk with the smallest salted hash: a uniform choice for one random draw.
    const std::uint64_t salt = rng_.next();
    ChunkIndex rarest = *first;
    std::size_t rarest_avail = 0;
    std::uint64_t rarest_key = 0;
    unsigned scanned = 0;
    pf->requested.scan_not_in(*first, pf->in_flight, [&](ChunkIndex c) {
      const std::size_t avail = swarm.availability(f, c);
      const std::uint64_t key = SplitMix64::mix(c ^ salt);
      if (scanned == 0 || avail < rarest_avail || (avail == rarest_avail && key < rarest_key)) {
        rarest = c;
        rarest_avail = avail;
        rarest_key = key;
      }
      return ++scanned < bounds_.candidate_chunks;
    });
    // A bounded window (a pipe client's request stops short of the file's end) with few wanted
    // chunks left to choose from: the lowest one now. Otherwise a playback point left to the luck of
    // the draw can hold the taker's window shut while its slots run dry. A taker of the whole file
    // keeps the rarest-first draw to the end, so takers that start together still trade.
    const bool bounded = file.chunks > 0 && !pf->requested.test(file.chunks - 1);
    if (bounded && scanned <= 2 * swarm.limits().peer_download_slots) rarest = *first;
    out.pick = Pick{file_service, f, rarest};
    return out;
  }

  // Few ready givers: for each, its lowest chunk the taker wants (one bitset scan per giver).
  // The lowest chunk wins; among givers of that chunk the least busy.
  std::optional<Pick> search_givers(const Swarm& swarm, PeerSlot t, const PeerFile& pf, TimePoint now) {
    std::optional<Pick> best;
    unsigned best_uploads = 0;
    const ChunkIndex window_end = pf.low + bounds_.peer_window;
    for (PeerSlot g : swarm.file(pf.file).ready_givers) {
      if (g == t || !swarm.can_give(g) || !swarm.may_give_to(g, t)) continue;
      const PeerFile* gf = swarm.find_peer_file(g, pf.file);
      if (!gf) continue;
      const unsigned uploads = swarm.peer(g).uploads;
      // Only a lower chunk, or the same chunk from a less busy giver, can beat the best so far.
      ChunkIndex until = window_end;
      if (best) until = uploads < best_uploads ? best->chunk : best->chunk - (best->chunk > 0 ? 1 : 0);
      if (best && best->chunk == 0 && uploads >= best_uploads) continue;
      ChunkIndex from = pf.low;
      for (int tries = 0; tries < 4; ++tries) {  // skip a few chunks this giver recently failed
        auto c = pf.requested.next_not_in(from, pf.in_flight, &gf->held, until);
        if (!c) break;
        if (swarm.recently_failed(t, g, pf.file, *c, now)) {
          from = *c + 1;
          continue;
        }
        best = Pick{g, pf.file, *c};
        best_uploads = uploads;
        break;
      }
    }
    return best;
  }

  // Many ready givers: walk the wanted chunks from the playback point and ask their holders.
  std::optional<Pick> search_chunks(const Swarm& swarm, PeerSlot t, const PeerFile& pf, TimePoint now) {
    unsigned budget = bounds_.holder_budget;
    unsigned scanned = 0;
    std::optional<Pick> pick;
    pf.requested.scan_not_in(pf.low, pf.in_flight, [&](ChunkIndex c) {
      if (auto g = best_peer_giver(swarm, t, pf.file, c, now, budget)) pick = Pick{*g, pf.file, c};
      return !pick && ++scanned < bounds_.candidate_chunks && budget > 0;
    });
    return pick;
  }

  // The least busy eligible peer that holds chunk `c` and may give it to `t` now.
  std::optional<PeerSlot> best_peer_giver(const Swarm& swarm, PeerSlot t, FileSlot f, ChunkIndex c, TimePoint now,
                                          unsigned& budget) {
    const SwarmFile& file = swarm.file(f);
    if (file.holders.empty()) return std::nullopt;
    const std::vector<PeerSlot>& h = file.holders[c];
    if (h.empty()) return std::nullopt;
    const std::size_t n = h.size();
    std::size_t checks = n < bounds_.holder_checks ? n : bounds_.holder_checks;
    if (checks > budget) checks = budget;
    budget -= static_cast<unsigned>(checks);
    const std::size_t start = n > checks ? static_cast<std::size_t>(rng_.below(n)) : 0;  // spread over many holders
    std::optional<PeerSlot> best;
    unsigned best_uploads = 0;
    for (std::size_t k = 0; k < checks; ++k) {
      const PeerSlot g = h[(start + k) % n];
      if (g == t || !swarm.can_give(g) || !swarm.may_give_to(g, t) || swarm.recently_failed(t, g, f, c, now))
        continue;
      const unsigned uploads = swarm.peer(g).uploads;
      if (!best || uploads < best_uploads) {
        best = g;
        best_uploads = uploads;
        if (uploads == 0) break;
      }
    }
    return best;
  }

  struct FileWaiters {
    std::vector<Waiter> list;
    std::size_t cursor = 0;
    std::size_t compact_at = 64;
  };

  SplitMix64 rng_;
  SchedulerBounds bounds_;
  std::vector<PeerState> peers_;           // by PeerSlot
  std::vector<PeerSlot> dirty_;            // takers that may have work
  std::deque<Waiter> fs_waiters_;          // waiting takers, oldest first
  std::size_t fs_compact_at_ = 64;
  std::vector<FileWaiters> file_waiters_;  // waiting takers by the files they request
};

}  // namespace pdtp::core
