// Scheduling v1 on the swarm model directly, without the wire.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "pdtp/core/scheduler.hpp"
#include "pdtp/core/swarm.hpp"

using namespace pdtp;
using namespace pdtp::core;

namespace {

struct World {
  explicit World(SwarmLimits limits = {}, std::uint64_t seed = 1) : swarm(limits), sched(seed) {}

  FileSlot file(std::uint64_t chunks, bool streaming = false) {
    return swarm.add_file(FileInfo{"/f" + std::to_string(swarm.file_count()), chunks * 100, 100, streaming});
  }
  PeerSlot peer(std::uint16_t port = 7000) { return swarm.add_peer(port); }
  PeerSlot udp_peer(bool reaches_file_service = true, std::uint16_t port = 7000) {
    return swarm.add_peer(port, LinkTransport::udp, reaches_file_service);
  }
  void request(PeerSlot p, FileSlot f, ChunkSpan s) {
    if (swarm.request(p, f, s)) sched.taker_changed(p);
  }
  void request_all(PeerSlot p, FileSlot f) { request(p, f, {0, swarm.file(f).chunks - 1}); }
  void provide(PeerSlot p, FileSlot f, ChunkSpan s) {
    if (swarm.provide(p, f, s)) sched.holder_gained(swarm, p, f, s);
  }
  // Runs the scheduler; returns the transfers it started.
  std::vector<SwarmTransfer> run() {
    std::vector<TransferSlot> started;
    sched.run(swarm, now, started);
    std::vector<SwarmTransfer> out;
    for (TransferSlot t : started) out.push_back(swarm.transfer(t));
    return out;
  }
  // Ends the transfer of `chunk` to `taker`; a success makes the taker a holder.
  void finish(const SwarmTransfer& t, bool ok) {
    auto slot = swarm.find_transfer(t.taker, t.giver, t.file, t.chunk);
    REQUIRE(slot);
    swarm.end_transfer(*slot);
    if (ok && swarm.receive(t.taker, t.file, t.chunk)) sched.holder_gained(swarm, t.taker, t.file, {t.chunk, t.chunk});
    if (!ok) swarm.remember_failure(t.taker, t.giver, t.file, t.chunk, now);
    sched.taker_changed(t.taker);
    sched.giver_freed(swarm, t.giver);
  }

  TimePoint now{std::chrono::hours(1)};
  Swarm swarm;
  Scheduler sched;
};

std::size_t count_from(const std::vector<SwarmTransfer>& ts, PeerSlot giver) {
  return static_cast<std::size_t>(
      std::count_if(ts.begin(), ts.end(), [&](const SwarmTransfer& t) { return t.giver == giver; }));
}

}  // namespace

TEST_CASE("scheduler: a taker with nobody else in the swarm is served by the file service") {
  World w;
  auto f = w.file(4);
  auto a = w.peer();
  w.request_all(a, f);
  auto ts = w.run();
  REQUIRE(ts.size() == 4);
  CHECK(count_from(ts, file_service) == 4);
  CHECK(w.swarm.file_service_uploads() == 4);
  CHECK(w.swarm.peer(a).downloads == 4);
  CHECK(w.run().empty());  // nothing new without an event
}

TEST_CASE("scheduler: a peer that holds the chunk is preferred over the file service") {
  World w;
  auto f = w.file(4);
  auto seed = w.peer();
  w.provide(seed, f, {0, 3});
  auto a = w.peer();
  w.request(a, f, {2, 2});
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == seed);
  CHECK(ts[0].chunk == 2);
}

TEST_CASE("scheduler: a peer chunk is chosen before a file-service chunk nearer the playback point") {
  SwarmLimits l;
  l.peer_download_slots = 1;
  World v(l);
  auto f = v.file(10);
  auto seed = v.peer();
  v.provide(seed, f, {6, 6});
  auto a = v.peer();
  v.request_all(a, f);
  auto ts = v.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == seed);
  CHECK(ts[0].chunk == 6);
}

TEST_CASE("scheduler: peer chunks go in playback order") {
  World w;
  auto f = w.file(20);
  auto seed = w.peer();
  w.provide(seed, f, {0, 19});
  auto a = w.peer();
  w.request(a, f, {5, 19});
  auto ts = w.run();
  REQUIRE(ts.size() == 8);
  std::vector<ChunkIndex> chunks;
  for (auto& t : ts) chunks.push_back(t.chunk);
  // seed's 4 upload slots give 5..8; the rest comes from the file service.
  CHECK(std::vector<ChunkIndex>(chunks.begin(), chunks.begin() + 4) == std::vector<ChunkIndex>{5, 6, 7, 8});
  CHECK(count_from(ts, seed) == 4);
}

TEST_CASE("scheduler: the least busy peer giver wins") {
  SwarmLimits l;
  l.peer_download_slots = 1;
  World w(l);
  auto f = w.file(8);
  auto g1 = w.peer(), g2 = w.peer(), g3 = w.peer();
  for (auto g : {g1, g2, g3}) w.provide(g, f, {0, 7});
  std::map<PeerSlot, int> load;
  for (int i = 0; i < 6; ++i) {
    auto t = w.peer();
    w.request(t, f, {static_cast<ChunkIndex>(i), static_cast<ChunkIndex>(i)});
    for (auto& tr : w.run()) ++load[tr.giver];
  }
  CHECK(load[g1] == 2);
  CHECK(load[g2] == 2);
  CHECK(load[g3] == 2);
}

TEST_CASE("scheduler: upload, download and file-service slot limits hold") {
  SwarmLimits l;
  l.peer_upload_slots = 2;
  l.peer_download_slots = 3;
  l.file_service_slots = 4;
  World w(l);
  auto f = w.file(30);
  auto seed = w.peer();
  w.provide(seed, f, {0, 29});
  std::vector<PeerSlot> takers;
  for (int i = 0; i < 5; ++i) {
    takers.push_back(w.peer());
    w.request_all(takers.back(), f);
  }
  auto ts = w.run();
  CHECK(ts.size() == 6);  // 2 from the seed + 4 from the file service
  CHECK(w.swarm.peer(seed).uploads == 2);
  CHECK(w.swarm.file_service_uploads() == 4);
  for (auto t : takers) CHECK(w.swarm.peer(t).downloads <= 3);
  // Someone is left waiting.
  CHECK(std::any_of(takers.begin(), takers.end(), [&](PeerSlot t) { return w.sched.waiting(t); }));
}

TEST_CASE("scheduler: a waiting taker is woken when a peer gains a chunk it wants") {
  SwarmLimits l;
  l.file_service_slots = 0;
  World w(l);
  auto f = w.file(4);
  auto a = w.peer();
  w.request(a, f, {3, 3});
  CHECK(w.run().empty());
  CHECK(w.sched.waiting(a));
  auto b = w.peer();
  w.provide(b, f, {3, 3});
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == b);
  CHECK(ts[0].taker == a);
  CHECK_FALSE(w.sched.waiting(a));
}

TEST_CASE("scheduler: a waiting taker is woken when a busy giver frees a slot") {
  SwarmLimits l;
  l.file_service_slots = 0;
  l.peer_upload_slots = 1;
  World w(l);
  auto f = w.file(4);
  auto g = w.peer();
  w.provide(g, f, {0, 3});
  auto a = w.peer(), b = w.peer();
  w.request(a, f, {0, 0});
  w.request(b, f, {1, 1});
  auto first = w.run();
  REQUIRE(first.size() == 1);
  const PeerSlot waiting = first[0].taker == a ? b : a;
  CHECK(w.sched.waiting(waiting));
  w.finish(first[0], true);
  auto second = w.run();
  REQUIRE(second.size() == 1);
  CHECK(second[0].taker == waiting);
  CHECK(second[0].giver == g);
}

TEST_CASE("scheduler: a giver that failed recently is avoided for that taker and chunk") {
  SwarmLimits l;
  l.failure_memory = std::chrono::seconds(5);
  World w(l);
  auto f = w.file(4);
  auto g = w.peer();
  w.provide(g, f, {0, 3});
  auto a = w.peer();
  w.request(a, f, {1, 1});
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  REQUIRE(ts[0].giver == g);
  w.finish(ts[0], false);
  ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == file_service);
  // After the memory fades, the peer is eligible again.
  w.finish(ts[0], false);
  w.now += std::chrono::seconds(6);
  ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == g);
}

TEST_CASE("scheduler: a distrusted peer and a peer without a listen port give nothing") {
  World w;
  auto f = w.file(4);
  auto bad = w.peer();
  auto shy = w.peer(0);
  w.provide(bad, f, {0, 3});
  w.provide(shy, f, {0, 3});
  w.swarm.penalize(bad);
  w.swarm.penalize(bad);
  CHECK_FALSE(w.swarm.trusted(bad));
  auto a = w.peer();
  w.request_all(a, f);
  auto ts = w.run();
  CHECK(ts.size() == 4);
  CHECK(count_from(ts, file_service) == 4);
}

TEST_CASE("scheduler: a taker is never its own giver and never gets one chunk twice") {
  World w;
  auto f = w.file(3);
  auto a = w.peer();
  w.provide(a, f, {0, 0});
  w.request_all(a, f);  // chunk 0 is held, so only 1 and 2 are requested
  auto ts = w.run();
  REQUIRE(ts.size() == 2);
  std::set<ChunkIndex> chunks;
  for (auto& t : ts) {
    CHECK(t.giver != a);
    chunks.insert(t.chunk);
  }
  CHECK(chunks == std::set<ChunkIndex>{1, 2});
  w.request_all(a, f);
  CHECK(w.run().empty());
}

TEST_CASE("scheduler: takers starting together get disjoint chunks from the file service") {
  World w;
  auto f = w.file(100);
  std::set<ChunkIndex> seen;
  for (int i = 0; i < 5; ++i) {
    auto t = w.peer();
    w.request_all(t, f);
    for (auto& tr : w.run()) CHECK(seen.insert(tr.chunk).second);
  }
  CHECK(seen.size() == 40);
}

TEST_CASE("scheduler: with few wanted chunks left the file service sends the lowest first") {
  // A pipe client asks for a bounded window; once no more than twice its download slots remain
  // unassigned there, the rarest-first draw gives way to playback order, so the window's lowest
  // chunk cannot be left for last while the slots run dry.
  SwarmLimits l;
  l.peer_download_slots = 4;
  World w(l);
  auto f = w.file(100);
  auto a = w.peer();
  w.request(a, f, {10, 17});  // 8 wanted chunks: no more than 2 x 4
  auto ts = w.run();
  REQUIRE(ts.size() == 4);
  for (std::size_t i = 0; i < ts.size(); ++i) {
    CHECK(ts[i].giver == file_service);
    CHECK(ts[i].chunk == 10 + i);
  }
  w.finish(ts[2], true);  // chunk 12 done: the next free slot takes 14, the lowest still unassigned
  auto more = w.run();
  REQUIRE(more.size() == 1);
  CHECK(more[0].chunk == 14);
}

TEST_CASE("scheduler: takers of a whole small file keep the rarest-first draw") {
  // Few chunks, but the request runs to the file's end: not a pipe's window. Two takers starting
  // together get different chunks, so they can trade.
  SwarmLimits l;
  l.peer_download_slots = 4;
  World w(l);
  auto f = w.file(8);
  auto a = w.peer();
  auto b = w.peer();
  w.request_all(a, f);
  w.request_all(b, f);
  std::set<ChunkIndex> seen;
  for (auto& t : w.run()) CHECK(seen.insert(t.chunk).second);
  CHECK(seen.size() == 8);
}

TEST_CASE("scheduler: with many wanted chunks the file service does not go in order") {
  SwarmLimits l;
  l.peer_download_slots = 4;
  World w(l);
  auto f = w.file(100);
  auto a = w.peer();
  w.request(a, f, {0, 63});  // a 64-chunk window, as a pipe client asks for
  std::vector<ChunkIndex> got;
  for (auto& t : w.run()) got.push_back(t.chunk);
  REQUIRE(got.size() == 4);
  CHECK(got != std::vector<ChunkIndex>{0, 1, 2, 3});
}

TEST_CASE("scheduler: a streaming file's chunks go lowest first, from the file service if no peer has them") {
  SwarmLimits l;
  l.peer_download_slots = 3;
  World w(l);
  auto f = w.file(10, true);
  auto g = w.peer();
  w.provide(g, f, {1, 1});
  auto a = w.peer();
  w.request_all(a, f);
  auto ts = w.run();
  REQUIRE(ts.size() == 3);
  CHECK(ts[0].chunk == 0);
  CHECK(ts[0].giver == file_service);
  CHECK(ts[1].chunk == 1);
  CHECK(ts[1].giver == g);
  CHECK(ts[2].chunk == 2);
}

TEST_CASE("scheduler: a taker's files are served round robin") {
  SwarmLimits l;
  l.peer_download_slots = 4;
  World w(l);
  auto f1 = w.file(10, true), f2 = w.file(10, true);
  auto a = w.peer();
  w.request_all(a, f1);
  w.request_all(a, f2);
  auto ts = w.run();
  REQUIRE(ts.size() == 4);
  CHECK(std::count_if(ts.begin(), ts.end(), [&](auto& t) { return t.file == f1; }) == 2);
  CHECK(std::count_if(ts.begin(), ts.end(), [&](auto& t) { return t.file == f2; }) == 2);
}

TEST_CASE("scheduler: a removed giver's takers are rescheduled elsewhere") {
  World w;
  auto f = w.file(4);
  auto g = w.peer();
  w.provide(g, f, {0, 3});
  auto a = w.peer();
  w.request(a, f, {2, 2});
  REQUIRE(w.run().at(0).giver == g);
  std::vector<SwarmTransfer> dropped;
  w.swarm.remove_peer(g, dropped);
  w.sched.peer_removed(g);
  REQUIRE(dropped.size() == 1);
  w.sched.taker_changed(a);
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == file_service);
  CHECK(ts[0].chunk == 2);
  CHECK(w.swarm.file(f).uploaders == 0);
}

TEST_CASE("scheduler: peers give only to peers of their own transport") {
  SwarmLimits l;
  l.file_service_slots = 0;
  World w(l);
  auto f = w.file(8);
  auto tcp_seed = w.peer();
  auto udp_seed = w.udp_peer();
  w.provide(tcp_seed, f, {0, 3});
  w.provide(udp_seed, f, {4, 7});
  auto tcp_taker = w.peer();
  auto udp_taker = w.udp_peer();
  w.request_all(tcp_taker, f);
  w.request_all(udp_taker, f);
  auto ts = w.run();
  REQUIRE(ts.size() == 8);
  for (const auto& t : ts) {
    INFO("taker " << t.taker << " giver " << t.giver << " chunk " << t.chunk);
    if (t.taker == tcp_taker) CHECK((t.giver == tcp_seed && t.chunk <= 3));
    if (t.taker == udp_taker) CHECK((t.giver == udp_seed && t.chunk >= 4));
  }
  CHECK(w.sched.waiting(tcp_taker));  // chunks 4..7 only a udp peer holds
  CHECK(w.sched.waiting(udp_taker));
}

TEST_CASE("scheduler: with many ready givers a taker still finds the one of its transport") {
  World w;
  auto f = w.file(4);
  for (int i = 0; i < 100; ++i) w.provide(w.peer(), f, {0, 3});  // more than giver_scan tcp givers
  auto udp_seed = w.udp_peer();
  w.provide(udp_seed, f, {2, 2});
  auto a = w.udp_peer();
  w.request(a, f, {0, 3});
  auto ts = w.run();
  REQUIRE(ts.size() == 4);
  for (const auto& t : ts) CHECK((t.giver == file_service || t.giver == udp_seed));
  CHECK(count_from(ts, udp_seed) == 1);
}

TEST_CASE("scheduler: a taker the file service cannot reach waits and is woken only by a giver of its transport") {
  World w;
  auto f = w.file(4);
  auto a = w.udp_peer(false);
  w.request_all(a, f);
  CHECK(w.run().empty());
  CHECK(w.sched.waiting(a));
  auto tcp_seed = w.peer();
  w.provide(tcp_seed, f, {0, 3});
  CHECK(w.run().empty());
  auto udp_seed = w.udp_peer(false);
  w.provide(udp_seed, f, {1, 1});
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].giver == udp_seed);
  CHECK(ts[0].chunk == 1);
  CHECK(w.swarm.file_service_uploads() == 0);
  // A tcp taker is still served by the file service and the tcp seed meanwhile.
  auto b = w.peer();
  w.request_all(b, f);
  auto tb = w.run();
  REQUIRE(tb.size() == 4);
  for (const auto& t : tb) CHECK((t.giver == tcp_seed || t.giver == file_service));
}

TEST_CASE("scheduler: a freed upload slot wakes a waiting taker of the giver's transport only") {
  SwarmLimits l;
  l.file_service_slots = 0;
  l.peer_upload_slots = 1;
  World w(l);
  auto f = w.file(4);
  auto g = w.udp_peer();
  w.provide(g, f, {0, 3});
  auto first = w.udp_peer();
  w.request(first, f, {0, 0});
  auto busy = w.run();
  REQUIRE(busy.size() == 1);
  auto tcp_taker = w.peer();
  auto udp_taker = w.udp_peer();
  w.request(tcp_taker, f, {1, 1});
  w.request(udp_taker, f, {2, 2});
  CHECK(w.run().empty());
  w.finish(busy[0], true);
  auto ts = w.run();
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].taker == udp_taker);
  CHECK(ts[0].giver == g);
  CHECK(w.sched.waiting(tcp_taker));
}

TEST_CASE("swarm: transfer deadlines come out earliest first") {
  SwarmLimits l;
  l.transfer_timeout = std::chrono::seconds(10);
  World w(l);
  auto f = w.file(4);
  auto a = w.peer();
  w.request(a, f, {0, 0});
  w.run();
  const TimePoint first = w.now + std::chrono::seconds(10);
  w.now += std::chrono::seconds(3);
  w.request(a, f, {1, 1});
  w.run();
  CHECK(w.swarm.next_deadline() == first);
  std::vector<TransferSlot> out;
  w.swarm.expired(first, out);
  REQUIRE(out.size() == 1);
  CHECK(w.swarm.transfer(out[0]).chunk == 0);
  w.swarm.end_transfer(out[0]);
  CHECK(w.swarm.next_deadline() == w.now + std::chrono::seconds(10));
}
