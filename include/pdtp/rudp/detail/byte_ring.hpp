// Bytes for a sliding window of stream offsets [base, base + limit), stored in a power-of-two ring
// that grows on demand up to the limit. Which offsets hold valid data is tracked by the caller.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace pdtp::rudp::detail {

// Storage that is not zero-filled when allocated: a ring only reads bytes it wrote, and a stream per
// chunk would otherwise clear (and fault in) every buffer it grows through.
class RawBytes {
 public:
  RawBytes() = default;
  explicit RawBytes(std::size_t n) : p_(n != 0 ? new std::uint8_t[n] : nullptr), n_(n) {}
  std::uint8_t* data() noexcept { return p_.get(); }
  const std::uint8_t* data() const noexcept { return p_.get(); }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  void swap(RawBytes& o) noexcept {
    p_.swap(o.p_);
    std::swap(n_, o.n_);
  }

 private:
  std::unique_ptr<std::uint8_t[]> p_;
  std::size_t n_ = 0;
};

class ByteRing {
 public:
  explicit ByteRing(std::uint64_t limit = 0) noexcept : limit_(limit) {}

  std::uint64_t base() const noexcept { return base_; }
  std::uint64_t limit() const noexcept { return limit_; }
  std::size_t allocated() const noexcept { return buf_.size(); }

  // Copies `data` to stream offset `offset`. The caller guarantees base <= offset and
  // offset + size <= base + limit; returns false (and stores nothing) otherwise.
  bool write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (offset < base_ || data.size() > limit_ || offset - base_ > limit_ - data.size()) return false;
    if (data.empty()) return true;
    reserve(offset + data.size() - base_);
    copy_in(offset, data);
    return true;
  }

  // Copies bytes at [offset, offset + out.size()) out; the range must lie in what was written.
  void read(std::uint64_t offset, std::span<std::uint8_t> out) const noexcept {
    const std::size_t mask = buf_.size() - 1;
    std::size_t done = 0;
    while (done < out.size()) {
      const std::size_t at = static_cast<std::size_t>(offset + done) & mask;
      const std::size_t n = std::min(out.size() - done, buf_.size() - at);
      std::memcpy(out.data() + done, buf_.data() + at, n);
      done += n;
    }
  }

  // Forgets everything below `offset` (it slides the window forward).
  void advance(std::uint64_t offset) noexcept {
    if (offset > base_) base_ = offset;
  }

  // Releases the storage (for finished or reset streams).
  void release() noexcept {
    RawBytes().swap(buf_);
  }

 private:
  void reserve(std::uint64_t span) {
    if (span <= buf_.size()) return;
    std::size_t cap = buf_.empty() ? first_allocation : buf_.size();
    while (cap < span) cap *= 2;
    RawBytes next(cap);
    if (!buf_.empty()) {
      // Re-home the old window's bytes at their positions under the new mask.
      const std::size_t old = buf_.size();
      const std::size_t mask = cap - 1;
      for (std::size_t done = 0; done < old;) {
        const std::uint64_t off = base_ + done;
        const std::size_t from = static_cast<std::size_t>(off) & (old - 1);
        const std::size_t to = static_cast<std::size_t>(off) & mask;
        const std::size_t n = std::min({old - done, old - from, cap - to});
        std::memcpy(next.data() + to, buf_.data() + from, n);
        done += n;
      }
    }
    buf_.swap(next);
  }

  void copy_in(std::uint64_t offset, std::span<const std::uint8_t> data) noexcept {
    const std::size_t mask = buf_.size() - 1;
    std::size_t done = 0;
    while (done < data.size()) {
      const std::size_t at = static_cast<std::size_t>(offset + done) & mask;
      const std::size_t n = std::min(data.size() - done, buf_.size() - at);
      std::memcpy(buf_.data() + at, data.data() + done, n);
      done += n;
    }
  }

  // The first allocation: small, for the many idle control streams of a busy server.
  static constexpr std::size_t first_allocation = 4096;

  std::uint64_t limit_;
  std::uint64_t base_ = 0;
  RawBytes buf_;
};

}  // namespace pdtp::rudp::detail
