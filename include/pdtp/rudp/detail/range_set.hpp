// A set of byte offsets kept as sorted, disjoint, non-touching half-open intervals [start, end).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace pdtp::rudp::detail {

struct Interval {
  std::uint64_t start = 0;
  std::uint64_t end = 0;  // exclusive
  std::uint64_t size() const noexcept { return end - start; }
  friend bool operator==(const Interval&, const Interval&) = default;
};

class RangeSet {
 public:
  void insert(std::uint64_t start, std::uint64_t end) {
    if (start >= end) return;
    // First interval that ends at or after `start` (touching counts: they merge).
    auto it = std::lower_bound(v_.begin(), v_.end(), start,
                               [](const Interval& i, std::uint64_t s) { return i.end < s; });
    auto last = it;
    while (last != v_.end() && last->start <= end) {
      start = std::min(start, last->start);
      end = std::max(end, last->end);
      ++last;
    }
    it = v_.erase(it, last);
    v_.insert(it, Interval{start, end});
  }

  void erase(std::uint64_t start, std::uint64_t end) {
    if (start >= end) return;
    auto it = std::lower_bound(v_.begin(), v_.end(), start,
                               [](const Interval& i, std::uint64_t s) { return i.end <= s; });
    while (it != v_.end() && it->start < end) {
      if (it->start < start && it->end > end) {  // split
        const Interval tail{end, it->end};
        it->end = start;
        v_.insert(it + 1, tail);
        return;
      }
      if (it->start < start) {
        it->end = start;
        ++it;
      } else if (it->end > end) {
        it->start = end;
        return;
      } else {
        it = v_.erase(it);
      }
    }
  }

  // Removes everything below `offset`.
  void erase_below(std::uint64_t offset) {
    if (v_.empty() || v_.front().start >= offset) return;
    erase(0, offset);
  }

  bool contains(std::uint64_t offset) const noexcept {
    auto it = std::upper_bound(v_.begin(), v_.end(), offset,
                               [](std::uint64_t o, const Interval& i) { return o < i.start; });
    return it != v_.begin() && std::prev(it)->end > offset;
  }

  // True if every offset in [start, end) is in the set.
  bool covers(std::uint64_t start, std::uint64_t end) const noexcept {
    if (start >= end) return true;
    auto it = std::upper_bound(v_.begin(), v_.end(), start,
                               [](std::uint64_t o, const Interval& i) { return o < i.start; });
    return it != v_.begin() && std::prev(it)->end >= end;
  }

  // True if [start, end) overlaps or touches an interval (inserting it would not add one).
  bool touches(std::uint64_t start, std::uint64_t end) const noexcept {
    auto it = std::lower_bound(v_.begin(), v_.end(), start,
                               [](const Interval& i, std::uint64_t s) { return i.end < s; });
    return it != v_.end() && it->start <= end;
  }

  bool empty() const noexcept { return v_.empty(); }
  std::size_t intervals() const noexcept { return v_.size(); }
  const Interval& front() const noexcept { return v_.front(); }
  const Interval& back() const noexcept { return v_.back(); }
  const std::vector<Interval>& items() const noexcept { return v_; }
  void clear() noexcept { v_.clear(); }

 private:
  std::vector<Interval> v_;
};

}  // namespace pdtp::rudp::detail
