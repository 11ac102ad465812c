// Vocabulary of the reliable-UDP core: ids, packet numbers, roles, time.
#pragma once

#include <compare>
#include <cstdint>

#include "pdtp/core/time.hpp"

namespace pdtp::rudp {

using TimePoint = core::TimePoint;
using Duration = core::Duration;

// The receiver index that names a connection at one end; 0 means "none" and is never assigned.
enum class ConnectionId : std::uint32_t {};
inline constexpr ConnectionId no_connection{0};
constexpr std::uint32_t to_u32(ConnectionId id) noexcept { return static_cast<std::uint32_t>(id); }

// Stream ids: bit 0 says who opened it (0 = client, 1 = server); streams are bidirectional.
enum class StreamId : std::uint64_t {};
constexpr std::uint64_t to_u64(StreamId id) noexcept { return static_cast<std::uint64_t>(id); }

// Packet numbers count up from 0 in each direction and are never reused (they are the AEAD nonce).
using PacketNumber = std::uint64_t;

enum class Role : std::uint8_t { client = 0, server = 1 };

constexpr bool opened_by(StreamId id, Role role) noexcept {
  return (to_u64(id) & 1u) == static_cast<std::uint64_t>(role);
}
// The n-th (0-based) stream opened by `role`.
constexpr StreamId nth_stream(Role role, std::uint64_t n) noexcept {
  return StreamId{n * 2 + static_cast<std::uint64_t>(role)};
}
constexpr std::uint64_t stream_index(StreamId id) noexcept { return to_u64(id) >> 1; }

}  // namespace pdtp::rudp
