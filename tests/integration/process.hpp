// Test support: a dstream child process on loopback with its own scratch file root, and a raw PDTP
// client that speaks bytes (hand-built frames and JSON), independent of the project's codecs.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace pdtp_test {

namespace fs = std::filesystem;
using asio::ip::tcp;
using nlohmann::json;

inline std::string sha256_hex(std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// Sockets here block; SO_RCVTIMEO does not bound Asio's blocking reads, so wait with poll first.
inline bool wait_readable(int fd, int ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

template <class Socket>
inline bool read_exactly(Socket& s, char* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    if (!wait_readable(s.native_handle())) return false;
    asio::error_code ec;
    got += s.read_some(asio::buffer(out + got, n - got), ec);
    if (ec) return false;
  }
  return true;
}

inline bool port_free(std::uint16_t port) {
  asio::io_context io;
  tcp::acceptor a(io);
  asio::error_code ec;
  a.open(tcp::v4(), ec);
  a.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

class Dstream {
 public:
  // Serves `files` (relative name -> bytes) with the given chunk size.
  Dstream(const std::vector<std::pair<std::string, std::string>>& files, std::uint64_t chunk_size) {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("pdtp-conf-" + std::to_string(rd()));
    fs::create_directories(root_ / "root");
    for (auto& [name, bytes] : files) {
      fs::create_directories((root_ / "root" / name).parent_path());
      std::ofstream(root_ / "root" / name, std::ios::binary) << bytes;
    }
    std::mt19937 gen(rd());
    for (int attempt = 0; attempt < 50 && port == 0; ++attempt) {
      auto p = static_cast<std::uint16_t>(20000 + gen() % 12000);  // below the ephemeral range
      if (port_free(p) && port_free(static_cast<std::uint16_t>(p + 1))) port = p;
    }
    if (port == 0) throw std::runtime_error("no free port pair");
    std::string port_s = std::to_string(port), chunk_s = std::to_string(chunk_size), root_s = (root_ / "root").string();
    std::string log = (root_ / "dstream.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      ::execl(DSTREAM_BIN, DSTREAM_BIN, "--host", "127.0.0.1", "--port", port_s.c_str(), "--root", root_s.c_str(),
              "--chunk-size", chunk_s.c_str(), "-v", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 200; ++i) {
      if (!port_free(port) && !port_free(static_cast<std::uint16_t>(port + 1))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ::kill(pid_, SIGTERM);  // leave no orphan behind
    ::waitpid(pid_, nullptr, 0);
    std::error_code ec;
    fs::remove_all(root_, ec);
    throw std::runtime_error("dstream did not start");
  }
  ~Dstream() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  bool alive() const { return ::kill(pid_, 0) == 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::uint16_t port = 0;
  std::uint16_t http_port() const { return static_cast<std::uint16_t>(port + 1); }

 private:
  fs::path root_;
  pid_t pid_ = -1;
};

// A PDTP control connection built from bytes.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port, const char* from = "127.0.0.1") : s_(io_) {
    s_.open(tcp::v4());
    s_.bind({asio::ip::make_address(from), 0});
    s_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send_raw(std::string_view bytes) { asio::write(s_, asio::buffer(bytes.data(), bytes.size())); }
  void send_body(std::string_view body) {
    std::string frame;
    frame += static_cast<char>((body.size() >> 8) & 0xff);
    frame += static_cast<char>(body.size() & 0xff);
    frame += body;
    send_raw(frame);
  }
  void send(const std::string& type, const json& args) { send_body(json::array({type, args}).dump()); }
  // The next message, or a null json if the server closed the connection.
  // A reply that never comes (5 s) fails the test instead of hanging it.
  json recv() {
    unsigned char len[2];
    if (!read_exactly(s_, reinterpret_cast<char*>(len), 2)) return nullptr;
    std::string body((len[0] << 8) | len[1], '\0');
    if (!read_exactly(s_, body.data(), body.size())) return nullptr;
    return json::parse(body);
  }
  // Next message of the given type (skipping others, e.g. transfers), or null json on close.
  json recv_type(const std::string& type) {
    for (int i = 0; i < 100; ++i) {
      json m = recv();
      if (m.is_null() || m[0] == type) return m;
    }
    return nullptr;
  }
  bool closed_by_server() {
    char c;
    asio::error_code ec;
    if (!wait_readable(s_.native_handle())) return false;
    s_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  void close() { s_.close(); }

 private:
  asio::io_context io_;
  tcp::socket s_;
};

struct HttpReply {
  int status = 0;
  std::string head;
  std::string body;
};

// One HTTP/1.1 exchange on a fresh connection; reads until the server closes or Content-Length is met.
inline HttpReply http_exchange(std::uint16_t port, const std::string& request) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(s, asio::buffer(request));
  std::string data;
  HttpReply r;
  for (;;) {
    char buf[65536];
    asio::error_code ec;
    if (!wait_readable(s.native_handle())) break;
    std::size_t n = s.read_some(asio::buffer(buf), ec);
    data.append(buf, n);
    auto end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      r.head = data.substr(0, end + 2);
      auto cl = r.head.find("Content-Length: ");
      if (cl != std::string::npos) {
        std::size_t len = std::stoull(r.head.substr(cl + 16));
        if (data.size() >= end + 4 + len) {
          r.body = data.substr(end + 4, len);
          break;
        }
      }
    }
    if (ec) {
      if (end != std::string::npos) r.body = data.substr(end + 4);
      break;
    }
  }
  if (r.head.size() > 12) r.status = std::stoi(r.head.substr(9, 3));
  return r;
}

}  // namespace pdtp_test
