// Packet numbers received, as a bounded list of ranges: what the next ACK frame reports.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "pdtp/rudp/frame.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

class AckRanges {
 public:
  // At most `max_ranges` ranges are kept; when a new gap would exceed that, the lowest range is forgotten.
  explicit AckRanges(std::size_t max_ranges = 32) : max_ranges_(max_ranges < 1 ? 1 : max_ranges) {
    ranges_.reserve(max_ranges_ + 1);
  }

  // Records `pn`. Returns false if it was already recorded (a duplicate). Packets below the kept
  // ranges cannot be told apart from new ones and count as new.
  bool insert(PacketNumber pn) {
    std::size_t i = 0;
    while (i < ranges_.size() && ranges_[i].smallest > pn) ++i;  // first range with smallest <= pn
    if (i < ranges_.size() && ranges_[i].largest >= pn) return false;
    // pn lies between ranges_[i] (below, if any) and ranges_[i-1] (above, if any).
    const bool joins_below = i < ranges_.size() && ranges_[i].largest + 1 == pn;
    const bool joins_above = i > 0 && ranges_[i - 1].smallest == pn + 1;
    if (joins_below && joins_above) {
      ranges_[i - 1].smallest = ranges_[i].smallest;
      ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (joins_below) {
      ranges_[i].largest = pn;
    } else if (joins_above) {
      ranges_[i - 1].smallest = pn;
    } else {
      ranges_.insert(ranges_.begin() + static_cast<std::ptrdiff_t>(i), AckRange{pn, pn});
      if (ranges_.size() > max_ranges_) ranges_.pop_back();
    }
    return true;
  }

  bool contains(PacketNumber pn) const noexcept {
    for (const auto& r : ranges_) {
      if (r.smallest <= pn) return pn <= r.largest;
    }
    return false;
  }

  // Forgets every packet number below `pn`: the peer has seen an ACK covering them.
  void forget_below(PacketNumber pn) {
    while (!ranges_.empty() && ranges_.back().largest < pn) ranges_.pop_back();
    if (!ranges_.empty() && ranges_.back().smallest < pn) ranges_.back().smallest = pn;
  }

  std::span<const AckRange> ranges() const noexcept { return ranges_; }  // descending
  bool empty() const noexcept { return ranges_.empty(); }
  std::optional<PacketNumber> largest() const noexcept {
    if (ranges_.empty()) return std::nullopt;
    return ranges_.front().largest;
  }
  std::size_t max_ranges() const noexcept { return max_ranges_; }

  // The ACK frame for the current state (callers check !empty()).
  AckFrame frame(std::uint64_t ack_delay_us) const {
    AckFrame f;
    f.ack_delay_us = ack_delay_us;
    f.ranges.assign(ranges_.begin(), ranges_.end());
    return f;
  }

 private:
  std::size_t max_ranges_;
  std::vector<AckRange> ranges_;
};

}  // namespace pdtp::rudp
