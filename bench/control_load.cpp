// Load generator for a running dstream, over real TCP (loopback only in our scripts).
//
//   control_load load --port P --url URL [--host IP] [--conns K] [--depth D] [--seconds S] [--msg ask_info|ask_verify]
//     K registered connections each keep D request frames in flight (pipelined); every reply frame is
//     counted and answered with a new frame. Prints replies per second over the measured interval.
//   control_load idle --port P --url URL [--host IP] [--conns N] [--hold S]
//     Opens N connections, registers each and checks it with one ask_info; prints "ready N" and
//     holds them for S seconds (or until stdin reaches EOF / SIGTERM), for memory measurements.
//
// One thread, epoll, non-blocking sockets; frames are counted by their length prefix only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"

namespace {

using Clock = std::chrono::steady_clock;
volatile std::sig_atomic_t stop_flag = 0;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "control_load: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string url;
  std::size_t conns = 0;
  std::size_t depth = 64;
  double seconds = 5;
  double warmup = 1;
  double hold = 60;
  std::string msg = "ask_info";
};

std::string frame_of(const pdtp::Message& m) {
  std::string out;
  if (!pdtp::append_message_frame(out, m)) die("cannot frame a message");
  return out;
}

void raise_fd_limit(std::size_t need) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur >= need) return;
  rl.rlim_cur = std::min<rlim_t>(std::max<rlim_t>(need, rl.rlim_cur), rl.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
    die("cannot raise RLIMIT_NOFILE to " + std::to_string(need) + " (hard limit " + std::to_string(rl.rlim_max) + ")");
}

int connect_to(const Options& o) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(o.port);
  if (::inet_pton(AF_INET, o.host.c_str(), &a.sin_addr) != 1) die("bad --host " + o.host);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    die("connect " + o.host + ":" + std::to_string(o.port) + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(std::string("write: ") + std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads frames from a connection; counts whole frames, remembers the first one's type.
struct FrameCounter {
  std::string buf;
  std::size_t off = 0;
  std::string last_type;
  // Appends bytes; returns the number of whole frames now consumed.
  std::size_t feed(const char* data, std::size_t n) {
    buf.append(data, n);
    std::size_t frames = 0;
    for (;;) {
      if (buf.size() - off < 2) break;
      const auto* p = reinterpret_cast<const unsigned char*>(buf.data() + off);
      const std::size_t len = (std::size_t{p[0]} << 8) | p[1];
      if (buf.size() - off - 2 < len) break;
      std::string_view body(buf.data() + off + 2, len);
      if (body.size() > 2) last_type = std::string(body.substr(2, body.find('"', 2) - 2));
      off += 2 + len;
      ++frames;
    }
    if (off == buf.size()) {
      buf.clear();
      off = 0;
    } else if (off > 65536) {
      buf.erase(0, off);
      off = 0;
    }
    return frames;
  }
};

struct Conn {
  int fd = -1;
  FrameCounter in;
  std::string out;   // bytes not yet written (socket buffer full)
  std::size_t in_flight = 0;
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Opens n connections and registers each; with `check`, waits for one ask_info reply per connection.
std::vector<Conn> open_registered(const Options& o, std::size_t n, bool check) {
  raise_fd_limit(n + 64);
  std::vector<Conn> conns(n);
  const std::string probe = frame_of(pdtp::AskInfo{o.url});
  const long pid = static_cast<long>(::getpid());
  for (std::size_t i = 0; i < n; ++i) {
    conns[i].fd = connect_to(o);
    std::string hello =
        frame_of(pdtp::Register{"load-" + std::to_string(pid) + "-" + std::to_string(i), 7000});
    if (check) hello += probe;
    write_all(conns[i].fd, hello);
  }
  if (check) {
    char buf[4096];
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t got = 0;
      while (got == 0) {
        ssize_t r = ::read(conns[i].fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) die("connection " + std::to_string(i) + " closed during registration");
        got = conns[i].in.feed(buf, static_cast<std::size_t>(r));
      }
      if (conns[i].in.last_type != "tell_info") die("expected tell_info, got " + conns[i].in.last_type);
    }
  }
  for (auto& c : conns) set_nonblocking(c.fd);
  return conns;
}

int run_load(const Options& o) {
  std::vector<Conn> conns = open_registered(o, o.conns, true);
  std::string one;
  if (o.msg == "ask_info")
    one = frame_of(pdtp::AskInfo{o.url});
  else if (o.msg == "ask_verify")
    one = frame_of(pdtp::AskVerify{"127.0.0.1", o.url, {0, 249999}, "nobody"});
  else
    die("--msg must be ask_info or ask_verify");
  std::string many;
  for (std::size_t k = 0; k < o.depth; ++k) many += one;

  int ep = ::epoll_create1(0);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  auto send = [&](std::size_t i, std::size_t frames) {
    Conn& c = conns[i];
    c.in_flight += frames;
    std::string_view bytes(many.data(), one.size() * frames);
    if (!c.out.empty()) {
      c.out.append(bytes);
      return;
    }
    while (!bytes.empty()) {
      ssize_t n = ::write(c.fd, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c.out.assign(bytes);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = i;
        ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        return;
      }
      if (n <= 0) die(std::string("write: ") + std::strerror(errno));
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  };
  for (std::size_t i = 0; i < conns.size(); ++i) send(i, o.depth);

  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  const auto until = measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::uint64_t measured = 0;
  bool measuring = false;
  Clock::time_point measure_start{};
  std::vector<epoll_event> evs(256);
  std::vector<char> buf(1 << 16);
  for (;;) {
    const auto now = Clock::now();
    if (!measuring && now >= measure_from) {
      measuring = true;
      measure_start = now;
      measured = 0;
    }
    if (now >= until) break;
    int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(std::string("epoll_wait: ") + std::strerror(errno));
    for (int k = 0; k < n; ++k) {
      const std::size_t i = evs[k].data.u64;
      Conn& c = conns[i];
      if (evs[k].events & EPOLLOUT) {
        std::string_view rest = c.out;
        ssize_t w = ::write(c.fd, rest.data(), rest.size());
        if (w > 0) c.out.erase(0, static_cast<std::size_t>(w));
        if (c.out.empty()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = ::read(c.fd, buf.data(), buf.size());
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
          die("the server closed connection " + std::to_string(i) + " (last frame: " + c.in.last_type + ")");
        if (r < 0) continue;
        const std::size_t frames = c.in.feed(buf.data(), static_cast<std::size_t>(r));
        if (frames == 0) continue;
        if (c.in.last_type != "tell_info" && c.in.last_type != "tell_verify")
          die("unexpected reply " + c.in.last_type);
        c.in_flight -= frames;
        if (measuring) measured += frames;
        send(i, frames);
      }
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - measure_start).count();
  std::printf("control_load: %s, %zu connections, %zu in flight each: %llu replies in %.2f s = %.0f msg/s"
              " (target >= 150000)\n",
              o.msg.c_str(), o.conns, o.depth, static_cast<unsigned long long>(measured), secs,
              static_cast<double>(measured) / secs);
  for (auto& c : conns) ::close(c.fd);
  ::close(ep);
  return 0;
}

int run_idle(const Options& o) {
  std::vector<Conn> conns = open_registered(o, o.conns, true);
  std::printf("ready %zu\n", conns.size());
  std::fflush(stdout);
  // Hold until the time is up, stdin closes, or a signal arrives; a server-side close is an error.
  std::vector<pollfd> fds;
  fds.push_back({0, POLLIN, 0});
  for (auto& c : conns) fds.push_back({c.fd, POLLIN, 0});
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.hold));
  bool stdin_open = true;
  while (!stop_flag && Clock::now() < until) {
    fds[0].fd = stdin_open ? 0 : -1;
    int n = ::poll(fds.data(), fds.size(), 200);
    if (n <= 0) continue;
    if (fds[0].revents) {
      char b[256];
      if (::read(0, b, sizeof b) <= 0) break;
    }
    for (std::size_t k = 1; k < fds.size(); ++k)
      if (fds[k].revents) die("the server closed idle connection " + std::to_string(k - 1));
  }
  for (auto& c : conns) ::close(c.fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: control_load load|idle --port P --url URL [--host IP] [--conns N] [--depth D]\n"
                 "                    [--seconds S] [--warmup S] [--hold S] [--msg ask_info|ask_verify]\n");
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) die("missing value for " + std::string(a));
      return argv[++i];
    };
    if (a == "--host") o.host = value();
    else if (a == "--port") o.port = static_cast<std::uint16_t>(std::atoi(value()));
    else if (a == "--url") o.url = value();
    else if (a == "--conns") o.conns = std::strtoull(value(), nullptr, 10);
    else if (a == "--depth") o.depth = std::strtoull(value(), nullptr, 10);
    else if (a == "--seconds") o.seconds = std::strtod(value(), nullptr);
    else if (a == "--warmup") o.warmup = std::strtod(value(), nullptr);
    else if (a == "--hold") o.hold = std::strtod(value(), nullptr);
    else if (a == "--msg") o.msg = value();
    else die("unknown option " + std::string(a));
  }
  if (o.port == 0 || o.url.empty()) die("--port and --url are required");
  std::signal(SIGTERM, [](int) { stop_flag = 1; });
  std::signal(SIGINT, [](int) { stop_flag = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  if (o.mode == "load") {
    if (o.conns == 0) o.conns = 16;
    if (o.depth == 0 || o.depth > 4096) die("--depth must be 1..4096");
    return run_load(o);
  }
  if (o.mode == "idle") {
    if (o.conns == 0) o.conns = 2000;
    return run_idle(o);
  }
  die("mode must be load or idle");
}
