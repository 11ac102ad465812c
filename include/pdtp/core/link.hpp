// What the server knows about the link a peer's control connection came over: its transport and,
// over udp, the static public key the Noise handshake authenticated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pdtp::core {

enum class LinkTransport : std::uint8_t { tcp, udp };

constexpr std::string_view to_string(LinkTransport t) noexcept {
  switch (t) {
    case LinkTransport::tcp: return "tcp";
    case LinkTransport::udp: return "udp";
  }
  return "unknown";
}

struct PeerLink {
  LinkTransport transport = LinkTransport::tcp;
  std::string public_key;  // udp: the peer's authenticated static key as base64url text; tcp: empty
};

}  // namespace pdtp::core
