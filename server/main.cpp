// dstream: serve every file under a directory to a PDTP peer-to-peer swarm.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include <asio.hpp>

#include "catalog.hpp"
#include "cli.hpp"
#include "runtime.hpp"

int main(int argc, char** argv) {
  using namespace pdtp::server;
  auto cli = parse_dstream_cli(argc, argv, std::cout, std::cerr);
  if (!cli.settings) return cli.exit_code;
  const ServerSettings& settings = *cli.settings;

  // Chunk buffers (hundreds of kB) would otherwise be mmap'ed and unmapped for every chunk.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  DirectoryCatalog catalog(settings.file_root, settings.chunk_size, settings.streaming);
  ServerRuntime<pdtp::transport::Tcp> runtime(io, settings, catalog);
  try {
    runtime.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dstream: cannot listen on %s ports %u and %u: %s\n", settings.host.c_str(),
                 static_cast<unsigned>(settings.port), static_cast<unsigned>(settings.http_port()), e.what());
    return 1;
  }
  // Listening on every interface: show an address that works from this machine.
  const std::string shown = settings.host == "0.0.0.0" || settings.host == "::" ? "127.0.0.1" : settings.host;
  std::fprintf(stderr,
               "dstream %s: serving %s (chunk size %llu bytes)\n"
               "  files:  pdtp://%s:%u/<path below the root>\n"
               "  status: http://%s:%u/status/\n",
               PDTP_VERSION, settings.file_root.string().c_str(), static_cast<unsigned long long>(settings.chunk_size),
               shown.c_str(), static_cast<unsigned>(runtime.control_port()), shown.c_str(),
               static_cast<unsigned>(runtime.http_port()));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    std::fprintf(stderr, "dstream: signal %d, shutting down\n", sig);
    std::signal(SIGINT, SIG_IGN);  // on our way out: a repeated signal must not kill us mid-shutdown
    std::signal(SIGTERM, SIG_IGN);
    runtime.stop();
    io.stop();
  });
  io.run();
  return 0;
}
