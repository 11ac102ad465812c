// A page-aligned byte buffer for chunk data: copies between buffers whose addresses differ by a
// small amount modulo 4096 run up to 16x slower on these CPUs (4K aliasing).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace pdtp::transport {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t size) : size_(size) {
    if (size == 0) return;
    std::size_t rounded = (size + 4095) / 4096 * 4096;
    data_.reset(static_cast<char*>(std::aligned_alloc(4096, rounded)));
    if (!data_) throw std::bad_alloc();
  }
  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  struct Free {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<char, Free> data_;
  std::size_t size_ = 0;
};

}  // namespace pdtp::transport
