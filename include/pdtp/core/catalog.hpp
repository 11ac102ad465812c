// What the server core knows about the files it serves. The runtime implements this over a
// directory (disk I/O lives there); tests implement it in memory.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pdtp/wire/types.hpp"

namespace pdtp::core {

struct FileInfo {
  std::string path;  // normalized path below the root, starting with '/', e.g. "/video/a.mkv"
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  bool streaming = false;
};

class FileCatalog {
 public:
  virtual ~FileCatalog() = default;
  // `path` is already normalized (see wire/url.hpp). nullopt = no such file.
  virtual std::optional<FileInfo> lookup(std::string_view path) = 0;
  // Authoritative SHA-256 (lowercase hex) of one chunk; nullopt if the file or chunk is unknown.
  virtual std::optional<Sha256Hex> chunk_hash(std::string_view path, ChunkIndex chunk) = 0;
};

}  // namespace pdtp::core
