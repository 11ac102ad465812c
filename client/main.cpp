// dsclient: download a file from a PDTP swarm, to a file or in order into a pipe.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <CLI/CLI.hpp>
#include <sodium.h>
#include <asio.hpp>

#include "known_hosts.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/transport/tcp.hpp"
#include "pdtp/transport/udp.hpp"
#include "pdtp/wire/url.hpp"
#include "runtime.hpp"

namespace {

std::string random_client_id() {
  std::random_device rd;
  std::uniform_int_distribution<unsigned long long> dist;
  char id[40];
  std::snprintf(id, sizeof id, "dsclient-%016llx", dist(rd));
  return id;
}

template <class Transport>
int run_client(asio::io_context& io, const pdtp::client::ClientOptions& opt) {
  pdtp::client::ClientRuntime<Transport> runtime(io, opt, random_client_id());
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int) {
    if (ec) return;
    // We are on our way out: a second copy of the signal (e.g. `timeout` forwarding it to its
    // process group as well) must not kill us after the handler is gone.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    runtime.stop();
  });
  return runtime.run();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pdtp;
  CLI::App app{
      "dsclient: download a file from a DistribuStream (PDTP) server and its swarm of peers.\n"
      "Peers fetch chunks from each other as the server directs; the server checks every chunk's\n"
      "SHA-256. The output is written as NAME.part and renamed when every chunk is verified.\n\n"
      "Examples:\n"
      "  dsclient pdtp://example.org/video.mkv\n"
      "  dsclient -o - pdtp://example.org:6086/video.mkv | mpv -\n"
      "  dsclient --server-key KEY pdtp://example.org/video.mkv\n\n"
      "Server keys (udp): dstream prints its key at start-up and on its status page. Without\n"
      "--server-key, the first connection to a server remembers its key in the known hosts file;\n"
      "a later connection that sees another key is refused, as ssh does.\n",
      "dsclient"};
  std::string url_text;
  client::ClientOptions opt;
  std::string bind_text;
  std::string server_key_text;
  std::string known_hosts_text;
  std::size_t datagram_size = transport::UdpOptions::default_config().max_datagram_size;
  app.add_option("url", url_text, "pdtp://host[:port]/path of the file (port defaults to 6086)")->required();
  app.add_option("-o,--output", opt.output,
                 "where to write: a file name, or - for standard output (in order; works into a pipe).\n"
                 "Default: the last part of the path, in the current directory");
  app.add_option("--listen-port", opt.listen_port, "port to serve other peers on (0 = any free port)")
      ->capture_default_str();
  app.add_option("--bind", bind_text, "local address for every connection (default: chosen by the system)");
  app.add_option("--window", opt.window_chunks, "with -o -: chunks held ahead of the output (bounds memory)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{2}, std::size_t{4096}));
  app.add_option("--transport", opt.transport, "udp (encrypted, the default) or tcp (plain PDTP v2)")
      ->type_name("udp|tcp");
  app.add_option("--server-key", server_key_text,
                 "the server's public key, as dstream prints it; refuse any other (the known hosts file\n"
                 "is then neither read nor written)")
      ->type_name("KEY");
  app.add_option("--known-hosts", known_hosts_text,
                 "where server keys are remembered on first use\n"
                 "(default: $XDG_CONFIG_HOME/distribustream/known_hosts, else ~/.config/distribustream/known_hosts)")
      ->type_name("FILE");
  app.add_option("--datagram-size", datagram_size,
                 "UDP datagram size dsclient starts each connection with, 1200..65527 (default 1200); below\n"
                 "1452 each connection probes once whether the path carries 1452 and then uses it. Larger only\n"
                 "where the path carries it. Only the sender's setting matters: everyone receives any size")
      ->type_name("BYTES")
      ->check(CLI::Range(rudp::min_datagram_size, rudp::max_udp_payload));
  app.add_flag("--seed", opt.seed, "keep serving the file to other peers after the download, until interrupted");
  app.add_flag("-q,--quiet", opt.quiet, "no progress display");
  app.set_version_flag("--version", std::string("dsclient ") + PDTP_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  auto url = parse_pdtp_url(url_text);
  if (!url) {
    std::fprintf(stderr, "dsclient: bad url '%s': %s (expected pdtp://host[:port]/path)\n", url_text.c_str(),
                 url.error().message.c_str());
    return 2;
  }
  if (url->path == "/") {
    std::fprintf(stderr, "dsclient: bad url '%s': no file path\n", url_text.c_str());
    return 2;
  }
  if (!bind_text.empty()) {
    asio::error_code ec;
    opt.bind = asio::ip::make_address(bind_text, ec);
    if (ec) {
      std::fprintf(stderr, "dsclient: bad --bind address '%s'\n", bind_text.c_str());
      return 2;
    }
  }
  if (opt.transport != "udp" && opt.transport != "tcp") {
    std::fprintf(stderr, "dsclient: bad --transport '%s': expected udp or tcp\n", opt.transport.c_str());
    return 2;
  }
  if (app.count("--server-key") != 0) {
    auto key = secure::parse_public_key(server_key_text);
    if (!key) {
      std::fprintf(stderr, "dsclient: bad --server-key: %s\n", key.error().message.c_str());
      return 2;
    }
    opt.server_key = *key;
  }
  if (app.count("--known-hosts") != 0) {
    if (known_hosts_text.empty()) {
      std::fprintf(stderr, "dsclient: bad --known-hosts '': expected a file name\n");
      return 2;
    }
    opt.known_hosts = known_hosts_text;
  } else {
    opt.known_hosts = client::default_known_hosts_path();
  }
  opt.server_host = url->host;
  opt.server_port = url->port;
  opt.path = url->path;
  opt.url = wire_url(url->host, url->path);
  if (opt.output.empty()) opt.output = std::filesystem::path(url->path).filename().string();
  if (opt.output != "-") {
    // Never rename a .part file over a device or a pipe (-o /dev/null must leave /dev/null alone):
    // such an output is written in order, as standard output is.
    std::error_code fs_ec;
    const auto status = std::filesystem::status(opt.output, fs_ec);
    if (!fs_ec && std::filesystem::is_directory(status)) {
      std::fprintf(stderr, "dsclient: bad --output '%s': it is a directory\n", opt.output.c_str());
      return 2;
    }
    if (!fs_ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      const int fd = ::open(opt.output.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0) {
        std::fprintf(stderr, "dsclient: cannot open --output '%s': %s\n", opt.output.c_str(), std::strerror(errno));
        return 2;
      }
      ::close(fd);
      opt.output = "-";
    }
  }

  // Chunk and stream buffers (hundreds of kB) would otherwise be mmap'ed and unmapped, or trimmed
  // from the heap and faulted in again, for every chunk.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  if (opt.transport == "tcp") return run_client<transport::Tcp>(io, opt);
  // A fresh key per run: peers and the server know this client by it for this run only.
  secure::ensure_sodium();
  transport::UdpOptions udp;
  udp.identity = secure::generate_keypair([](secure::MutableByteView out) { randombytes_buf(out.data(), out.size()); });
  udp.config.max_datagram_size = datagram_size;
  transport::record_datagrams_from_env(udp);
  transport::UdpHost host(io, udp);
  return run_client<transport::Udp>(io, opt);
}
