// Where a download's verified bytes go. A seekable output is written at chunk offsets into
// "<name>.part" and renamed when complete, so a failed download never looks complete. A pipe
// gets the chunks strictly in order, through a bounded window of chunks held in memory.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "pdtp/transport/buffer.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::client {

using transport::AlignedBuffer;

// true if `fd` refers to something we can pwrite at offsets (a regular file).
inline bool is_seekable(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

class PartFile {
 public:
  // Opens "<final>.part" for writing; error text names the file.
  static std::optional<PartFile> create(const std::filesystem::path& final_path, std::uint64_t size, std::string& err) {
    PartFile f;
    f.final_ = final_path;
    f.part_ = final_path;
    f.part_ += ".part";
    f.fd_ = ::open(f.part_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd_ < 0) {
      err = "cannot create " + f.part_.string() + ": " + std::strerror(errno);
      return std::nullopt;
    }
    if (::ftruncate(f.fd_, static_cast<off_t>(size)) != 0) {
      err = "cannot size " + f.part_.string() + ": " + std::strerror(errno);
      f.remove();
      return std::nullopt;
    }
    return f;
  }
  PartFile() = default;
  PartFile(PartFile&& o) noexcept { *this = std::move(o); }
  PartFile& operator=(PartFile&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(part_, o.part_);
    std::swap(final_, o.final_);
    return *this;
  }
  ~PartFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool write_at(std::uint64_t offset, const char* data, std::size_t n, std::string& err) {
    std::size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd_, data + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        err = "cannot write " + part_.string() + ": " + std::strerror(errno);
        return false;
      }
      done += static_cast<std::size_t>(w);
    }
    return true;
  }
  bool read_at(std::uint64_t offset, char* out, std::size_t n) const {
    std::size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      done += static_cast<std::size_t>(r);
    }
    return true;
  }
  // Make the download visible under its final name.
  bool finish(std::string& err) {
    if (::fsync(fd_) != 0 || ::rename(part_.c_str(), final_.c_str()) != 0) {
      err = "cannot finish " + final_.string() + ": " + std::strerror(errno);
      return false;
    }
    done_ = true;
    return true;
  }
  // Remove the partial file (failed download).
  void remove() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!done_ && !part_.empty()) ::unlink(part_.c_str());
  }
  const std::filesystem::path& final_path() const { return final_; }

 private:
  int fd_ = -1;
  std::filesystem::path part_, final_;
  bool done_ = false;
};

}  // namespace pdtp::client
