// A set of chunk indices of one file as a bitset: request sets, provide sets and in-flight sets.
// Storage is allocated on the first insertion, so an empty set of a huge file costs nothing.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "pdtp/wire/range.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::core {

class ChunkSet {
 public:
  ChunkSet() = default;
  explicit ChunkSet(ChunkIndex capacity) : capacity_(capacity) {}

  ChunkIndex capacity() const noexcept { return capacity_; }
  ChunkIndex count() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }

  bool test(ChunkIndex i) const noexcept {
    if (i >= capacity_ || words_.empty()) return false;
    return (words_[word(i)] >> bit(i)) & 1u;
  }

  // True if `i` was not in the set before.
  bool insert(ChunkIndex i) {
    if (i >= capacity_) return false;
    allocate();
    std::uint64_t& w = words_[word(i)];
    const std::uint64_t m = std::uint64_t{1} << bit(i);
    if (w & m) return false;
    w |= m;
    ++count_;
    return true;
  }

  // True if `i` was in the set before.
  bool erase(ChunkIndex i) noexcept {
    if (!test(i)) return false;
    words_[word(i)] &= ~(std::uint64_t{1} << bit(i));
    --count_;
    return true;
  }

  // Adds every chunk of `span` that is not in `except`; returns how many were added.
  ChunkIndex insert_except(ChunkSpan span, const ChunkSet& except) {
    if (!clip(span)) return 0;
    allocate();
    ChunkIndex added = 0;
    for_words(span, [&](std::size_t wi, std::uint64_t mask) {
      const std::uint64_t add = mask & ~except.word_at(wi) & ~words_[wi];
      words_[wi] |= add;
      added += static_cast<ChunkIndex>(std::popcount(add));
    });
    count_ += added;
    return added;
  }

  // Removes every chunk of `span`; returns how many were removed.
  ChunkIndex erase_span(ChunkSpan span) noexcept {
    if (words_.empty() || !clip(span)) return 0;
    ChunkIndex removed = 0;
    for_words(span, [&](std::size_t wi, std::uint64_t mask) {
      removed += static_cast<ChunkIndex>(std::popcount(words_[wi] & mask));
      words_[wi] &= ~mask;
    });
    count_ -= removed;
    return removed;
  }

  // Calls f(i) for every member in `span`, ascending.
  template <class F>
  void for_each_in(ChunkSpan span, F&& f) const {
    if (words_.empty() || !clip(span)) return;
    for_words(span, [&](std::size_t wi, std::uint64_t mask) {
      std::uint64_t w = words_[wi] & mask;
      while (w) {
        f(static_cast<ChunkIndex>(wi) * 64 + static_cast<ChunkIndex>(std::countr_zero(w)));
        w &= w - 1;
      }
    });
  }

  // The lowest member in [from, until] that is not in `minus` (and, if given, is in `also`).
  std::optional<ChunkIndex> next_not_in(ChunkIndex from, const ChunkSet& minus, const ChunkSet* also = nullptr,
                                        ChunkIndex until = ~ChunkIndex{0}) const noexcept {
    return next_where(from, until, [&](std::size_t wi) {
      return words_[wi] & ~minus.word_at(wi) & (also ? also->word_at(wi) : ~std::uint64_t{0});
    });
  }

  // Calls f(i) for members i >= from that are not in `minus`, ascending, while f returns true.
  template <class F>
  void scan_not_in(ChunkIndex from, const ChunkSet& minus, F&& f) const {
    if (words_.empty() || from >= capacity_) return;
    std::size_t wi = word(from);
    std::uint64_t w = words_[wi] & ~minus.word_at(wi) & (~std::uint64_t{0} << bit(from));
    for (;;) {
      while (w) {
        if (!f(static_cast<ChunkIndex>(wi) * 64 + static_cast<ChunkIndex>(std::countr_zero(w)))) return;
        w &= w - 1;
      }
      if (++wi >= words_.size()) return;
      w = words_[wi] & ~minus.word_at(wi);
    }
  }

  // The lowest member >= from.
  std::optional<ChunkIndex> next(ChunkIndex from) const noexcept {
    return next_where(from, ~ChunkIndex{0}, [&](std::size_t wi) { return words_[wi]; });
  }

  // Frees the storage.
  void clear() noexcept {
    words_.clear();
    words_.shrink_to_fit();
    count_ = 0;
  }

 private:
  static std::size_t word(ChunkIndex i) noexcept { return static_cast<std::size_t>(i / 64); }
  static unsigned bit(ChunkIndex i) noexcept { return static_cast<unsigned>(i % 64); }
  std::uint64_t word_at(std::size_t wi) const noexcept { return wi < words_.size() ? words_[wi] : 0; }

  template <class WordOf>
  std::optional<ChunkIndex> next_where(ChunkIndex from, ChunkIndex until, WordOf word_of) const noexcept {
    if (words_.empty() || from >= capacity_ || from > until) return std::nullopt;
    const std::size_t last = until >= capacity_ ? words_.size() - 1 : word(until);
    std::size_t wi = word(from);
    std::uint64_t w = word_of(wi) & (~std::uint64_t{0} << bit(from));
    for (;;) {
      if (w) {
        const ChunkIndex i = static_cast<ChunkIndex>(wi) * 64 + static_cast<ChunkIndex>(std::countr_zero(w));
        if (i > until) return std::nullopt;
        return i;
      }
      if (++wi > last) return std::nullopt;
      w = word_of(wi);
    }
  }

  void allocate() {
    if (words_.empty() && capacity_ > 0) words_.assign(static_cast<std::size_t>((capacity_ + 63) / 64), 0);
  }

  // Restricts `span` to the capacity; false if nothing is left.
  bool clip(ChunkSpan& span) const noexcept {
    if (capacity_ == 0 || span.first > span.last || span.first >= capacity_) return false;
    if (span.last >= capacity_) span.last = capacity_ - 1;
    return true;
  }

  // Calls f(word index, mask of the span's bits in that word) for each word the span touches.
  template <class F>
  static void for_words(ChunkSpan span, F&& f) {
    const std::size_t first = word(span.first), last = word(span.last);
    for (std::size_t wi = first; wi <= last; ++wi) {
      std::uint64_t mask = ~std::uint64_t{0};
      if (wi == first) mask &= ~std::uint64_t{0} << bit(span.first);
      if (wi == last && bit(span.last) != 63) mask &= (std::uint64_t{1} << (bit(span.last) + 1)) - 1;
      f(wi, mask);
    }
  }

  std::vector<std::uint64_t> words_;
  ChunkIndex capacity_ = 0;
  ChunkIndex count_ = 0;
};

}  // namespace pdtp::core
