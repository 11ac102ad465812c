// DirectoryCatalog: which files are served, chunk hashes, and the cache's invalidation.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "catalog.hpp"

using pdtp::server::DirectoryCatalog;
using pdtp::server::HashCacheLimits;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t chunk = 1024;

// A scratch tree under the system temp dir: root/ is served, outside/ is not. Removed at the end.
struct TempTree {
  fs::path base;
  fs::path root;
  TempTree() {
    std::random_device rd;
    base = fs::temp_directory_path() / ("pdtp-catalog-test-" + std::to_string(rd()) + std::to_string(rd()));
    root = base / "root";
    fs::create_directories(root);
    fs::create_directories(base / "outside");
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  fs::path write(const std::string& rel, const std::string& bytes) const {
    const fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    return p;
  }
};

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + i / 251) & 0xff);
  return s;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// Sets a file's mtime to a fixed value, so a rewrite with the same size is told apart only by content.
void set_mtime(const fs::path& p, fs::file_time_type t) { fs::last_write_time(p, t); }

}  // namespace

TEST_CASE("a nested file is found with its size, the chunk size and the streaming flag") {
  TempTree t;
  t.write("video/season 1/a.mkv", pattern(5000, 1));
  DirectoryCatalog cat(t.root, chunk, true);
  auto info = cat.lookup("/video/season 1/a.mkv");
  REQUIRE(info);
  CHECK(info->path == "/video/season 1/a.mkv");
  CHECK(info->size == 5000);
  CHECK(info->chunk_size == chunk);
  CHECK(info->streaming);
}

TEST_CASE("a file added after construction is found without a restart") {
  TempTree t;
  DirectoryCatalog cat(t.root, chunk, false);
  CHECK_FALSE(cat.lookup("/late.bin"));
  t.write("late.bin", "hello");
  auto info = cat.lookup("/late.bin");
  REQUIRE(info);
  CHECK(info->size == 5);
}

TEST_CASE("directories and missing files are not served") {
  TempTree t;
  t.write("dir/file", "x");
  DirectoryCatalog cat(t.root, chunk, false);
  CHECK_FALSE(cat.lookup("/dir"));
  CHECK_FALSE(cat.lookup("/nope"));
  CHECK_FALSE(cat.open("/dir"));
  CHECK_FALSE(cat.chunk_hash("/dir", 0));
}

TEST_CASE("paths that are not normalized are refused") {
  TempTree t;
  t.write("a/b", "x");
  t.write("../outside/secret", "s");  // root/../outside/secret
  DirectoryCatalog cat(t.root, chunk, false);
  CHECK(cat.lookup("/a/b"));
  for (const char* bad : {"", "/", "a/b", "/a//b", "/a/./b", "/a/../a/b", "/../outside/secret", "/a/b/"}) {
    INFO(bad);
    CHECK_FALSE(cat.lookup(bad));
    CHECK_FALSE(cat.open(bad));
  }
  CHECK_FALSE(cat.lookup(std::string_view("/a/b\0c", 6)));
}

TEST_CASE("a symlink to a file inside the root is served under its own path") {
  TempTree t;
  t.write("real/data.bin", pattern(3000, 2));
  fs::create_directory_symlink(t.root / "real", t.root / "alias-dir");
  fs::create_symlink(t.root / "real/data.bin", t.root / "link.bin");
  DirectoryCatalog cat(t.root, chunk, false);
  auto info = cat.lookup("/link.bin");
  REQUIRE(info);
  CHECK(info->path == "/link.bin");
  CHECK(info->size == 3000);
  CHECK(cat.lookup("/alias-dir/data.bin"));
  CHECK(cat.chunk_hash("/link.bin", 0) == cat.chunk_hash("/real/data.bin", 0));
}

TEST_CASE("a symlink that leaves the root is not served") {
  TempTree t;
  std::ofstream(t.base / "outside/secret", std::ios::binary) << "secret";
  fs::create_symlink(t.base / "outside/secret", t.root / "escape");
  fs::create_directory_symlink(t.base / "outside", t.root / "escape-dir");
  fs::create_symlink("../outside/secret", t.root / "relative-escape");
  DirectoryCatalog cat(t.root, chunk, false);
  for (const char* p : {"/escape", "/escape-dir/secret", "/relative-escape"}) {
    INFO(p);
    CHECK_FALSE(cat.lookup(p));
    CHECK_FALSE(cat.open(p));
    CHECK_FALSE(cat.chunk_hash(p, 0));
  }
}

TEST_CASE("a root given through a symlink serves the same files") {
  TempTree t;
  t.write("f", "abc");
  fs::create_directory_symlink(t.root, t.base / "root-link");
  DirectoryCatalog cat(t.base / "root-link", chunk, false);
  CHECK(cat.lookup("/f"));
  CHECK(cat.root() == fs::canonical(t.root));
}

TEST_CASE("the hash of every chunk matches SHA-256 of its bytes, the last chunk short") {
  TempTree t;
  const std::string data = pattern(chunk * 3 + 100, 3);
  t.write("f.bin", data);
  DirectoryCatalog cat(t.root, chunk, false);
  for (pdtp::ChunkIndex i = 0; i < 4; ++i) {
    INFO(i);
    const std::string expected = sha256_hex(std::string_view(data).substr(i * chunk, chunk));
    CHECK(cat.chunk_hash("/f.bin", i) == expected);
  }
  CHECK_FALSE(cat.chunk_hash("/f.bin", 4));
  CHECK_FALSE(cat.chunk_hash("/f.bin", UINT64_MAX));
}

TEST_CASE("an empty file has no chunks to hash") {
  TempTree t;
  t.write("empty", "");
  DirectoryCatalog cat(t.root, chunk, false);
  auto info = cat.lookup("/empty");
  REQUIRE(info);
  CHECK(info->size == 0);
  CHECK_FALSE(cat.chunk_hash("/empty", 0));
}

TEST_CASE("hashes are computed lazily, one chunk at a time, and cached") {
  TempTree t;
  t.write("big.bin", pattern(chunk * 100, 4));
  DirectoryCatalog cat(t.root, chunk, false);
  CHECK(cat.lookup("/big.bin"));
  CHECK(cat.cached_hash_count() == 0);
  const auto first = cat.chunk_hash("/big.bin", 42);
  CHECK(cat.cached_hash_count() == 1);
  CHECK(cat.chunk_hash("/big.bin", 42) == first);
  CHECK(cat.cached_hash_count() == 1);
}

TEST_CASE("a file rewritten with the same size and mtime still gets fresh hashes") {
  TempTree t;
  const fs::path p = t.write("f.bin", pattern(chunk * 2, 5));
  const auto mtime = fs::last_write_time(p);
  DirectoryCatalog cat(t.root, chunk, false);
  const auto before = cat.chunk_hash("/f.bin", 1);
  const std::string changed = pattern(chunk * 2, 6);
  t.write("f.bin", changed);
  set_mtime(p, mtime);  // only ctime tells the versions apart now
  const auto after = cat.chunk_hash("/f.bin", 1);
  CHECK(after != before);
  CHECK(after == sha256_hex(std::string_view(changed).substr(chunk, chunk)));
}

TEST_CASE("a file that grows invalidates the cache and gains chunks") {
  TempTree t;
  t.write("f.bin", pattern(chunk, 7));
  DirectoryCatalog cat(t.root, chunk, false);
  REQUIRE(cat.chunk_hash("/f.bin", 0));
  CHECK_FALSE(cat.chunk_hash("/f.bin", 1));
  const std::string grown = pattern(chunk + 10, 8);
  t.write("f.bin", grown);
  CHECK(cat.chunk_hash("/f.bin", 0) == sha256_hex(std::string_view(grown).substr(0, chunk)));
  CHECK(cat.chunk_hash("/f.bin", 1) == sha256_hex(std::string_view(grown).substr(chunk)));
  CHECK(cat.lookup("/f.bin")->size == chunk + 10);
}

TEST_CASE("a file replaced by another file (new inode) gets fresh hashes") {
  TempTree t;
  const fs::path p = t.write("f.bin", pattern(chunk, 9));
  DirectoryCatalog cat(t.root, chunk, false);
  const auto before = cat.chunk_hash("/f.bin", 0);
  const std::string replacement = pattern(chunk, 10);
  const fs::path tmp = t.write("f.tmp", replacement);
  fs::last_write_time(tmp, fs::last_write_time(p));
  fs::rename(tmp, p);
  CHECK(cat.chunk_hash("/f.bin", 0) == sha256_hex(replacement));
  CHECK(cat.chunk_hash("/f.bin", 0) != before);
}

TEST_CASE("a deleted file is no longer served and its hashes are gone") {
  TempTree t;
  const fs::path p = t.write("f.bin", pattern(chunk, 11));
  DirectoryCatalog cat(t.root, chunk, false);
  REQUIRE(cat.chunk_hash("/f.bin", 0));
  fs::remove(p);
  CHECK_FALSE(cat.lookup("/f.bin"));
  CHECK_FALSE(cat.chunk_hash("/f.bin", 0));
}

TEST_CASE("the hash cache stays within its bounds and stays correct") {
  TempTree t;
  for (int i = 0; i < 5; ++i) t.write("f" + std::to_string(i), pattern(chunk * 4, 20 + i));
  DirectoryCatalog cat(t.root, chunk, false, HashCacheLimits{2, 6});
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 5; ++i) {
      const std::string data = pattern(chunk * 4, 20 + i);
      for (pdtp::ChunkIndex c = 0; c < 4; ++c) {
        CHECK(cat.chunk_hash("/f" + std::to_string(i), c) == sha256_hex(std::string_view(data).substr(c * chunk, chunk)));
        CHECK(cat.cached_hash_count() <= 6);
      }
    }
  }
  DirectoryCatalog tiny(t.root, chunk, false, HashCacheLimits{1, 2});
  for (pdtp::ChunkIndex c = 0; c < 4; ++c) CHECK(tiny.chunk_hash("/f0", c));
  CHECK(tiny.cached_hash_count() <= 2);
}

TEST_CASE("open gives a readable descriptor and the size, under the same rules") {
  TempTree t;
  const std::string data = pattern(3000, 12);
  t.write("sub/f.bin", data);
  DirectoryCatalog cat(t.root, chunk, false);
  auto f = cat.open("/sub/f.bin");
  REQUIRE(f);
  CHECK(f->size == 3000);
  std::string buf(10, '\0');
  REQUIRE(::pread(f->fd, buf.data(), buf.size(), 1000) == 10);
  CHECK(buf == data.substr(1000, 10));
  CHECK_FALSE(cat.open("/sub"));
  CHECK_FALSE(cat.open("/missing"));
}

TEST_CASE("an opened file closes its descriptor when destroyed, and moves keep it open") {
  TempTree t;
  t.write("f", "abc");
  DirectoryCatalog cat(t.root, chunk, false);
  int fd = -1;
  {
    auto f = cat.open("/f");
    REQUIRE(f);
    pdtp::server::OpenedFile moved = std::move(*f);
    fd = moved.fd;
    CHECK(f->fd == -1);
    struct stat st {};
    CHECK(::fstat(fd, &st) == 0);
  }
  struct stat st {};
  CHECK(::fstat(fd, &st) == -1);
}

TEST_CASE("a FIFO or a symlink to a directory is not a file: not served, and open does not block") {
  TempTree t;
  REQUIRE(::mkfifo((t.root / "pipe").c_str(), 0600) == 0);
  fs::create_directories(t.root / "d");
  fs::create_directory_symlink(t.root / "d", t.root / "dir-link");
  DirectoryCatalog cat(t.root, chunk, false);
  for (const char* p : {"/pipe", "/dir-link"}) {
    INFO(p);
    CHECK_FALSE(cat.lookup(p));
    CHECK_FALSE(cat.open(p));
    CHECK_FALSE(cat.chunk_hash(p, 0));
  }
  CHECK(cat.list().empty());
}

TEST_CASE("list finds every servable regular file, recursively and sorted") {
  TempTree t;
  t.write("b.bin", "bb");
  t.write("a/deep/c.bin", "ccc");
  t.write("a/x.bin", "x");
  fs::create_directories(t.root / "empty-dir");
  fs::create_symlink(t.root / "b.bin", t.root / "link-to-b");
  std::ofstream(t.base / "outside/secret") << "s";
  fs::create_symlink(t.base / "outside/secret", t.root / "escape");
  fs::create_directory_symlink(t.base / "outside", t.root / "escape-dir");
  DirectoryCatalog cat(t.root, chunk, true);
  const auto files = cat.list();
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path);
  CHECK(paths == std::vector<std::string>{"/a/deep/c.bin", "/a/x.bin", "/b.bin", "/link-to-b"});
  CHECK(files[0].size == 3);
  CHECK(files[0].chunk_size == chunk);
  CHECK(files[0].streaming);
  CHECK(cat.list(2).size() == 2);
}

TEST_CASE("a catalog over a missing root serves nothing") {
  TempTree t;
  DirectoryCatalog cat(t.base / "no-such-root", chunk, false);
  CHECK_FALSE(cat.lookup("/x"));
  CHECK(cat.list().empty());
}
