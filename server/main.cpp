// dstream: serve every file under a directory to a PDTP peer-to-peer swarm.
#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <iostream>
#include <string>

#include <asio.hpp>

#include "pdtp/wire/url.hpp"

#include "catalog.hpp"
#include "cli.hpp"
#include "identity.hpp"
#include "runtime.hpp"

int main(int argc, char** argv) {
  using namespace pdtp::server;
  auto cli = parse_dstream_cli(argc, argv, std::cout, std::cerr);
  if (!cli.settings) return cli.exit_code;
  const ServerSettings& settings = *cli.settings;

  // Chunk and stream buffers (hundreds of kB) would otherwise be mmap'ed and unmapped, or trimmed
  // from the heap and faulted in again, for every chunk.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  DirectoryCatalog catalog(settings.file_root, settings.chunk_size, settings.streaming);
  // Printed after the banner below; read first so a bad key file stops us before we listen.
  std::optional<pdtp::transport::UdpHost> udp;
  std::string key_line;
  if (settings.uses_udp()) {
    char* text = nullptr;
    std::size_t len = 0;
    std::FILE* mem = open_memstream(&text, &len);
    auto keys = server_identity(settings, mem);
    std::fclose(mem);
    key_line.assign(text ? text : "", len);
    std::free(text);
    if (!keys) {
      std::fprintf(stderr, "dstream: %s\n", keys.error().message.c_str());
      return 1;
    }
    pdtp::transport::UdpOptions options;
    options.identity = *keys;
    options.config.max_datagram_size = settings.udp_datagram_size;
    pdtp::transport::record_datagrams_from_env(options);
    udp.emplace(io, options);
  }
  ServerRuntime runtime(io, settings, catalog, udp ? &*udp : nullptr);
  try {
    runtime.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dstream: cannot listen on %s port %u (%s) and HTTP port %u: %s\n", settings.host.c_str(),
                 static_cast<unsigned>(settings.port),
                 settings.uses_tcp() && settings.uses_udp() ? "TCP and UDP" : settings.uses_udp() ? "UDP" : "TCP",
                 static_cast<unsigned>(settings.http_port()), e.what());
    return 1;
  }
  // Listening on every interface: show an address that works from this machine.
  std::string shown = settings.host == "0.0.0.0" || settings.host == "::" ? "127.0.0.1" : settings.host;
  if (pdtp::needs_brackets(shown)) shown = "[" + shown + "]";  // an IPv6 address in a URL
  std::fprintf(stderr,
               "dstream %s: serving %s (chunk size %llu bytes)\n"
               "  files:  pdtp://%s:%u/<path below the root>\n"
               "  status: http://%s:%u/status/\n",
               PDTP_VERSION, settings.file_root.string().c_str(), static_cast<unsigned long long>(settings.chunk_size),
               shown.c_str(), static_cast<unsigned>(runtime.control_port()), shown.c_str(),
               static_cast<unsigned>(runtime.http_port()));
  std::fputs(key_line.c_str(), stderr);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    std::fprintf(stderr, "dstream: signal %d, shutting down\n", sig);
    std::signal(SIGINT, SIG_IGN);  // on our way out: a repeated signal must not kill us mid-shutdown
    std::signal(SIGTERM, SIG_IGN);
    runtime.stop();
    if (udp) udp->close();
    io.stop();
  });
  io.run();
  return 0;
}
