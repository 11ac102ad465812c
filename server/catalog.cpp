#include "catalog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include <openssl/evp.h>

namespace pdtp::server {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_path_bytes = 4096;

std::int64_t to_ns(const timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

// A normalized path: "/" then non-empty components, none of them "." or "..", no NUL.
bool well_formed(std::string_view path) {
  if (path.size() < 2 || path.size() > max_path_bytes || path.front() != '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

std::string to_hex(const std::array<unsigned char, 32>& digest) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : digest) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

}  // namespace

OpenedFile::OpenedFile(OpenedFile&& other) noexcept : fd(other.fd), size(other.size) { other.fd = -1; }

OpenedFile& OpenedFile::operator=(OpenedFile&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    fd = other.fd;
    size = other.size;
    other.fd = -1;
  }
  return *this;
}

OpenedFile::~OpenedFile() {
  if (fd >= 0) ::close(fd);
}

DirectoryCatalog::DirectoryCatalog(fs::path root, std::uint64_t chunk_size, bool streaming, HashCacheLimits limits)
    : chunk_size_(std::max<std::uint64_t>(chunk_size, 1)), streaming_(streaming), limits_(limits) {
  std::error_code ec;
  root_ = fs::canonical(root, ec);
  if (ec) root_ = fs::absolute(root, ec).lexically_normal();  // missing root: nothing resolves inside it
}

bool DirectoryCatalog::inside_root(const fs::path& real) const {
  auto r = root_.begin();
  auto p = real.begin();
  for (; r != root_.end(); ++r, ++p) {
    if (p == real.end() || *p != *r) return false;
  }
  return p != real.end();  // strictly below the root, not the root itself
}

std::optional<DirectoryCatalog::Resolved> DirectoryCatalog::resolve(std::string_view path) const {
  if (!well_formed(path)) return std::nullopt;
  std::error_code ec;
  fs::path real = fs::canonical(root_ / fs::path(std::string(path.substr(1))), ec);
  if (ec || !inside_root(real)) return std::nullopt;
  struct stat st {};
  if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  Stamp stamp{st.st_dev, st.st_ino, static_cast<std::uint64_t>(st.st_size), to_ns(st.st_mtim), to_ns(st.st_ctim)};
  return Resolved{std::move(real), stamp};
}

std::optional<pdtp::core::FileInfo> DirectoryCatalog::lookup(std::string_view path) {
  auto file = resolve(path);
  if (!file) return std::nullopt;
  return pdtp::core::FileInfo{std::string(path), file->stamp.size, chunk_size_, streaming_};
}

std::optional<OpenedFile> DirectoryCatalog::open(std::string_view path) {
  auto file = resolve(path);
  if (!file) return std::nullopt;
  // O_NOFOLLOW: the real path has no symlinks, so one appearing since resolve() is refused.
  // O_NONBLOCK: never hang if a FIFO was swapped in; it has no effect on regular files.
  const int fd = ::open(file->real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  OpenedFile opened(fd, 0);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  opened.size = static_cast<std::uint64_t>(st.st_size);
  return opened;
}

std::optional<Sha256Hex> DirectoryCatalog::chunk_hash(std::string_view path, ChunkIndex chunk) {
  auto file = resolve(path);
  if (!file) return std::nullopt;
  const std::uint64_t chunks = file->stamp.size / chunk_size_ + (file->stamp.size % chunk_size_ != 0 ? 1 : 0);
  if (chunk >= chunks) return std::nullopt;

  const std::string key(path);
  CacheEntry& entry = cache_entry(key, file->stamp);
  if (auto it = entry.hashes.find(chunk); it != entry.hashes.end()) return to_hex(it->second);

  auto digest = hash_chunk(*file, chunk);
  if (!digest) {
    drop_entry(key);  // the file changed or vanished while we read it
    return std::nullopt;
  }
  cache_.at(key).hashes.emplace(chunk, *digest);
  ++cached_hashes_;
  enforce_limits(key);
  return to_hex(*digest);
}

DirectoryCatalog::CacheEntry& DirectoryCatalog::cache_entry(const std::string& path, const Stamp& stamp) {
  auto it = cache_.find(path);
  if (it == cache_.end()) {
    lru_.push_front(path);
    it = cache_.emplace(path, CacheEntry{stamp, {}, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    if (!(it->second.stamp == stamp)) {  // the file changed: every cached hash is stale
      cached_hashes_ -= it->second.hashes.size();
      it->second.hashes.clear();
      it->second.stamp = stamp;
    }
  }
  return it->second;
}

void DirectoryCatalog::drop_entry(const std::string& path) {
  auto it = cache_.find(path);
  if (it == cache_.end()) return;
  cached_hashes_ -= it->second.hashes.size();
  lru_.erase(it->second.lru_pos);
  cache_.erase(it);
}

void DirectoryCatalog::enforce_limits(const std::string& keep) {
  while ((cache_.size() > limits_.max_files || cached_hashes_ > limits_.max_hashes) && lru_.back() != keep) {
    const std::string victim = lru_.back();
    drop_entry(victim);
  }
  if (cached_hashes_ > limits_.max_hashes) {  // one file alone exceeds the bound: start it afresh
    CacheEntry& entry = cache_.at(keep);
    cached_hashes_ -= entry.hashes.size();
    entry.hashes.clear();
  }
}

std::optional<DirectoryCatalog::Digest> DirectoryCatalog::hash_chunk(const Resolved& file, ChunkIndex chunk) {
  const std::uint64_t offset = chunk * chunk_size_;
  const std::size_t length = static_cast<std::size_t>(std::min(chunk_size_, file.stamp.size - offset));

  const int fd = ::open(file.real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  const OpenedFile guard(fd, file.stamp.size);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_dev != file.stamp.dev || st.st_ino != file.stamp.ino) return std::nullopt;

  if (buffer_.size() < chunk_size_) buffer_ = pdtp::transport::AlignedBuffer(static_cast<std::size_t>(chunk_size_));
  std::size_t got = 0;
  while (got < length) {
    const ssize_t n = ::pread(fd, buffer_.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // error, or the file shrank under us
    got += static_cast<std::size_t>(n);
  }
  // A write during the read changes mtime/ctime; then the bytes may be torn, so do not trust them.
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != file.stamp.size ||
      to_ns(st.st_mtim) != file.stamp.mtime_ns || to_ns(st.st_ctim) != file.stamp.ctime_ns) {
    return std::nullopt;
  }

  Digest digest{};
  unsigned int digest_len = 0;
  if (EVP_Digest(buffer_.data(), length, digest.data(), &digest_len, EVP_sha256(), nullptr) != 1 ||
      digest_len != digest.size()) {
    return std::nullopt;
  }
  return digest;
}

std::vector<pdtp::core::FileInfo> DirectoryCatalog::list(std::size_t max_files) {
  std::vector<pdtp::core::FileInfo> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec);
  const fs::recursive_directory_iterator end;
  while (!ec && it != end && out.size() < max_files) {
    std::error_code type_ec;
    const fs::file_status link_status = it->symlink_status(type_ec);
    if (!type_ec && (fs::is_regular_file(link_status) || fs::is_symlink(link_status))) {
      const std::string path = "/" + it->path().lexically_relative(root_).generic_string();
      if (!well_formed(path)) {
        // too long to be looked up: not servable, so not listed
      } else if (fs::is_regular_file(link_status)) {
        // Reached without following any symlink from the real root, so it is inside: skip canonical().
        std::error_code size_ec;
        const std::uint64_t size = it->file_size(size_ec);
        if (!size_ec) out.push_back(pdtp::core::FileInfo{path, size, chunk_size_, streaming_});
      } else if (auto info = lookup(path)) {
        out.push_back(std::move(*info));
      }
    }
    it.increment(ec);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

}  // namespace pdtp::server
