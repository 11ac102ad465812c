// Picks a congestion controller per connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "pdtp/rudp/bbr.hpp"
#include "pdtp/rudp/congestion_controller.hpp"
#include "pdtp/rudp/ledbat.hpp"
#include "pdtp/rudp/new_reno.hpp"

namespace pdtp::rudp {

inline std::unique_ptr<CongestionController> make_congestion_controller(CongestionAlgorithm algorithm,
                                                                        std::uint64_t max_datagram_size,
                                                                        std::uint64_t seed,
                                                                        Duration ledbat_target) {
  switch (algorithm) {
    case CongestionAlgorithm::new_reno: return std::make_unique<NewReno>(max_datagram_size);
    case CongestionAlgorithm::ledbat: return std::make_unique<Ledbat>(max_datagram_size, ledbat_target);
    case CongestionAlgorithm::bbr: break;
  }
  return std::make_unique<Bbr>(max_datagram_size, seed);
}

}  // namespace pdtp::rudp
