// The files dstream serves: every regular file below one directory, looked up on demand (files
// added later are found without a restart), with SHA-256 of each chunk computed lazily and cached.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pdtp/core/catalog.hpp"
#include "pdtp/transport/buffer.hpp"

namespace pdtp::server {

// An open, read-only regular file; closes its descriptor when destroyed.
struct OpenedFile {
  int fd = -1;
  std::uint64_t size = 0;

  OpenedFile(int fd_, std::uint64_t size_) noexcept : fd(fd_), size(size_) {}
  OpenedFile(OpenedFile&& other) noexcept;
  OpenedFile& operator=(OpenedFile&& other) noexcept;
  OpenedFile(const OpenedFile&) = delete;
  OpenedFile& operator=(const OpenedFile&) = delete;
  ~OpenedFile();
};

// Bounds on the hash cache (whole files are evicted, least recently used first).
struct HashCacheLimits {
  std::size_t max_files = 256;
  std::size_t max_hashes = 256 * 1024;  // ~20 MB; at 250 kB chunks that covers 64 GB of files
};

// Not thread-safe: the runtime uses it from its one io_context thread.
class DirectoryCatalog final : public pdtp::core::FileCatalog {
 public:
  DirectoryCatalog(std::filesystem::path root, std::uint64_t chunk_size, bool streaming,
                   HashCacheLimits limits = {});

  // `path` is normalized ("/a/b.mkv"). Served iff it names a regular file (after following
  // symlinks) whose real path lies inside the real root.
  std::optional<pdtp::core::FileInfo> lookup(std::string_view path) override;
  // Lowercase hex SHA-256 of chunk `chunk`; cached until the file's size, mtime, ctime or inode change.
  std::optional<Sha256Hex> chunk_hash(std::string_view path, ChunkIndex chunk) override;

  // The same rules as lookup; for the file service (pread/sendfile on fd).
  std::optional<OpenedFile> open(std::string_view path);

  // Every servable regular file below the root, sorted by path, at most max_files of them.
  // Directories reached through symlinks are not walked (their files are still served by lookup).
  std::vector<pdtp::core::FileInfo> list(std::size_t max_files = 10000);

  const std::filesystem::path& root() const noexcept { return root_; }
  std::size_t cached_hash_count() const noexcept { return cached_hashes_; }

 private:
  // What identifies one version of a file's contents.
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  struct Resolved {
    std::filesystem::path real;  // canonical path, inside root_
    Stamp stamp;
  };
  using Digest = std::array<unsigned char, 32>;
  struct CacheEntry {
    Stamp stamp;
    std::unordered_map<ChunkIndex, Digest> hashes;
    std::list<std::string>::iterator lru_pos;
  };

  std::optional<Resolved> resolve(std::string_view path) const;
  bool inside_root(const std::filesystem::path& real) const;
  CacheEntry& cache_entry(const std::string& path, const Stamp& stamp);
  void drop_entry(const std::string& path);
  void enforce_limits(const std::string& keep);
  std::optional<Digest> hash_chunk(const Resolved& file, ChunkIndex chunk);

  std::filesystem::path root_;
  std::uint64_t chunk_size_;
  bool streaming_;
  HashCacheLimits limits_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // front = most recently used
  std::size_t cached_hashes_ = 0;
  pdtp::transport::AlignedBuffer buffer_;  // one chunk, page-aligned (4K aliasing makes misaligned reads slow)
};

}  // namespace pdtp::server
