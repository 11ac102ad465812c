// Whole transfers over the simulated network: byte-exact delivery through loss, reordering,
// duplication, corruption and blackouts.
#include <catch2/catch.hpp>

#include "rudp_sim.hpp"

using namespace pdtp::rudp;
using namespace rudp_sim;

TEST_CASE("a 1 MB stream arrives byte-exact over a clean link") {
  Config cfg;
  Sim sim(cfg, cfg, LinkConfig{}, LinkConfig{}, 1);
  BulkTransfer t(1 << 20);
  t.start(sim);
  const bool ok = sim.run([&](int side, const auto& e) { t.on_event(sim, side, e); }, [&] { return t.complete(); },
                          60s);
  CHECK(ok);
  CHECK_FALSE(t.mismatch);
  CHECK(t.received == t.total);
}
