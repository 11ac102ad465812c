// Vocabulary types shared by the wire codecs and the state machines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pdtp {

using ChunkIndex = std::uint64_t;  // 0-based chunk number within a file
using PeerId = std::string;        // a client's self-chosen client_id (< 4 KB)
using Sha256Hex = std::string;     // 64 lowercase hex digits

// Hex digests compare case-insensitively: a peer may send uppercase.
inline bool same_hex(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'F') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'F') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// An inclusive byte range [min, max] within a file, as on the PDTP wire.
struct ByteRange {
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::uint64_t size() const noexcept { return max - min + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

enum class TransferMethod { get, put };

// The peer_id the server uses for its own file service in `transfer` messages.
inline constexpr const char* server_peer_id = "dstream";

}  // namespace pdtp
