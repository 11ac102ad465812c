// Everything dstream can be configured with, after the config file and the command line are merged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace pdtp::server {

// Which listeners dstream opens on its control port number: plain TCP (PDTP v2), encrypted UDP, or both.
enum class TransportMode { tcp, udp, both };

struct ServerSettings {
  std::string vhost;                 // host name put into file urls; empty = the address the client used
  std::string host = "0.0.0.0";      // bind address of the control port and the HTTP port
  std::uint16_t port = 6086;         // control port; the HTTP port (status page + file service) is port + 1
  bool quiet = true;                 // false = log every connection and transfer
  std::filesystem::path file_root;   // every regular file below it is served; required
  // 250 kB: 5 kB chunks (the original example.yml) cost a request, a transfer, a completed and a
  // hash_verify per 5 kB, so control traffic and per-chunk HTTP requests dominate; 250 kB amortises
  // them while a streaming client still starts quickly and a bad chunk is cheap to fetch again.
  std::uint64_t chunk_size = 250000;
  bool streaming = false;            // tell clients the files may be played while they arrive
  unsigned peer_upload_slots = 4;    // concurrent uploads per peer
  unsigned peer_download_slots = 8;  // concurrent downloads per peer
  unsigned file_service_slots = 64;  // concurrent transfers from the server's own file service
  unsigned transfer_timeout_ms = 30000;  // a transfer not completed by then is dropped and rescheduled
  std::filesystem::path config_file;     // where these settings came from; empty if from no file
  TransportMode transport = TransportMode::both;  // both listen on the same port number
  bool require_encryption = false;       // true = turn plain (TCP) peers away; needs udp
  // The server's long-term private key; empty = default_key_file() (created on first start).
  std::filesystem::path key_file;
  // Largest UDP datagram dstream sends (receivers take any size): 1200 fits every path.
  std::size_t udp_datagram_size = 1200;

  bool uses_udp() const noexcept { return transport != TransportMode::tcp; }
  bool uses_tcp() const noexcept { return transport != TransportMode::udp; }

  // Validation keeps port <= 65534, so this never wraps.
  std::uint16_t http_port() const noexcept { return static_cast<std::uint16_t>(port + 1); }
};

}  // namespace pdtp::server
