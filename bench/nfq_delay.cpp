// nfq_delay: holds every packet that iptables sends to an NFQUEUE for a fixed time, then accepts it.
// It is the one-way delay of the emulated path in bench/lossy_path.sh (this kernel has no netem).
//   nfq_delay --queue N --delay-ms D [--max-held PACKETS] [--rcvbuf BYTES]
// Packets leave in arrival order (a time-ordered FIFO); when PACKETS are held, a new one is dropped
// and counted. Fail-open is off, so when the kernel's queue is full it drops too, never bypasses.
// Counters go to stdout on SIGUSR1 and at exit (SIGINT/SIGTERM); "ready" is printed once bound.
// glibc's <netinet/in.h> (via arpa/inet.h) must come before the kernel's <linux/in.h>.
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

struct Options {
  std::uint16_t queue = 0;
  Nanos delay{0};
  std::size_t max_held = 100000;
  int rcvbuf = 64 << 20;
};

struct Counters {
  std::uint64_t received = 0;
  std::uint64_t accepted = 0;
  std::uint64_t dropped_full = 0;  // our FIFO was at --max-held
  std::uint64_t flushed_at_exit = 0;
  std::uint64_t socket_overflows = 0;  // ENOBUFS: the kernel dropped messages it could not deliver
  std::uint64_t netlink_errors = 0;    // error replies (e.g. a verdict for an unknown id)
  std::uint64_t send_failures = 0;     // verdict batches that had to be sent again
  std::size_t held_peak = 0;
  Nanos late_max{0};
  Nanos late_sum{0};
};

struct Held {
  Clock::time_point due;
  std::uint32_t id;
};

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_report = 0;
extern "C" void on_stop(int) { g_stop = 1; }
extern "C" void on_report(int) { g_report = 1; }

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "nfq_delay: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: nfq_delay --queue N --delay-ms D [--max-held PACKETS] [--rcvbuf BYTES]\n"
               "  --queue N           NFQUEUE number, 0..65535 (iptables -j NFQUEUE --queue-num N)\n"
               "  --delay-ms D        hold each packet this long, 0..60000 (decimals allowed)\n"
               "  --max-held PACKETS  packets held at most; more are dropped and counted (default 100000)\n"
               "  --rcvbuf BYTES      netlink socket receive buffer (default 67108864)\n"
               "Counters are printed on SIGUSR1 and on exit (SIGINT, SIGTERM).\n");
  std::exit(code);
}

template <class T>
std::optional<T> parse_int(std::string_view s, T lo, T hi) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<Nanos> parse_ms(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  const double ms = std::strtod(s.c_str(), &end);
  if (s.empty() || errno != 0 || *end != '\0' || !(ms >= 0.0 && ms <= 60000.0)) return std::nullopt;
  return Nanos(static_cast<std::int64_t>(ms * 1e6));
}

Options parse_args(int argc, char** argv) {
  Options o;
  bool have_queue = false, have_delay = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") usage(0);
    if (i + 1 >= argc) usage(2);
    const std::string v = argv[++i];
    if (a == "--queue") {
      const auto q = parse_int<std::uint16_t>(v, 0, 65535);
      if (!q) fail("--queue: '" + v + "' is not a number in 0..65535");
      o.queue = *q;
      have_queue = true;
    } else if (a == "--delay-ms") {
      const auto d = parse_ms(v);
      if (!d) fail("--delay-ms: '" + v + "' is not a number of milliseconds in 0..60000");
      o.delay = *d;
      have_delay = true;
    } else if (a == "--max-held") {
      const auto m = parse_int<std::size_t>(v, 1, 10000000);
      if (!m) fail("--max-held: '" + v + "' is not a number in 1..10000000");
      o.max_held = *m;
    } else if (a == "--rcvbuf") {
      const auto r = parse_int<int>(v, 65536, 1 << 30);
      if (!r) fail("--rcvbuf: '" + v + "' is not a number of bytes in 65536..1073741824");
      o.rcvbuf = *r;
    } else {
      usage(2);
    }
  }
  if (!have_queue || !have_delay) usage(2);
  return o;
}

double ms(Nanos n) { return std::chrono::duration<double, std::milli>(n).count(); }

// The kernel's own counters for one queue, from /proc/net/netfilter/nfnetlink_queue (this namespace).
std::string kernel_counters(std::uint16_t queue) {
  std::ifstream in("/proc/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    unsigned long long num = 0, portid = 0, total = 0, mode = 0, range = 0, qdropped = 0, udropped = 0;
    if (f >> num >> portid >> total >> mode >> range >> qdropped >> udropped && num == queue) {
      return "kernel: waiting " + std::to_string(total) + ", dropped (queue full) " + std::to_string(qdropped) +
             ", dropped (socket full) " + std::to_string(udropped);
    }
  }
  return "kernel: no counters for this queue";
}

class Queue {
 public:
  explicit Queue(const Options& o) : opt_(o), rx_(0xffff + (MNL_SOCKET_BUFFER_SIZE / 2)), tx_(1 << 16) {}
  ~Queue() {
    if (nl_ != nullptr) mnl_socket_close(nl_);
  }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void open() {
    nl_ = mnl_socket_open(NETLINK_NETFILTER);
    if (nl_ == nullptr) fail(std::string("netlink socket: ") + std::strerror(errno));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) fail(std::string("netlink bind: ") + std::strerror(errno));
    const int fd = mnl_socket_get_fd(nl_);
    // FORCE lifts the rmem_max cap (root); a plain SO_RCVBUF is the fallback.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &opt_.rcvbuf, sizeof opt_.rcvbuf) != 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt_.rcvbuf, sizeof opt_.rcvbuf);
    }
    configure_bind();
    configure_queue();
  }

  int fd() const { return mnl_socket_get_fd(nl_); }

  // Reads what is waiting (at most `budget` datagrams); every packet gets its due time.
  void receive(Counters& c, std::size_t budget) {
    for (std::size_t i = 0; i < budget; ++i) {
      const ssize_t n = recv(fd(), rx_.data(), rx_.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == ENOBUFS) {
          ++c.socket_overflows;
          continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        fail(std::string("netlink recv: ") + std::strerror(errno));
      }
      const Clock::time_point now = Clock::now();
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        on_message(nlh, now, c);
      }
    }
  }

  // Accepts every packet whose time has come, oldest first.
  void release_due(Clock::time_point now, Counters& c) {
    std::size_t n = 0;
    while (n < held_.size() && held_[n].due <= now) ++n;
    release(n, now, c, false);
  }

  // At exit every held packet goes at once (the queue is torn down right after).
  void release_all(Counters& c) { release(held_.size(), Clock::now(), c, true); }

  std::optional<Clock::time_point> next_due() const {
    if (held_.empty()) return std::nullopt;
    return held_.front().due;
  }

  void unbind() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, opt_.queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
    mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len);
  }

  std::size_t held() const { return held_.size(); }

 private:
  void send_config(nlmsghdr* nlh, const char* what) {
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) fail(std::string(what) + ": " + std::strerror(errno));
    std::vector<char> reply(MNL_SOCKET_BUFFER_SIZE);
    const ssize_t n = mnl_socket_recvfrom(nl_, reply.data(), reply.size());
    if (n < 0) fail(std::string(what) + ": " + std::strerror(errno));
    if (mnl_cb_run(reply.data(), static_cast<size_t>(n), 0, 0, nullptr, nullptr) < 0) {
      fail(std::string(what) + ": " + std::strerror(errno) +
           (errno == EBUSY ? " (another program has this queue)" : ""));
    }
  }

  void configure_bind() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, opt_.queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
    send_config(nlh, "bind queue");
  }

  void configure_queue() {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = nfq_nlmsg_put(buf.data(), NFQNL_MSG_CONFIG, opt_.queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_META, 0);  // only the id is needed, not the payload
    // Room for everything we hold plus a backlog not yet read; beyond it the kernel drops.
    const std::size_t maxlen = std::min<std::size_t>(opt_.max_held + 65536, 0x7fffffff);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, static_cast<std::uint32_t>(maxlen));
    // Fail-open off: a full queue drops instead of letting packets skip the delay. GSO packets are
    // queued whole (nothing is copied, so there is nothing to segment).
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO));
    send_config(nlh, "configure queue");
  }

  void on_message(const nlmsghdr* nlh, Clock::time_point now, Counters& c) {
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) ++c.netlink_errors;
      return;
    }
    if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) return;
    nlattr* attr[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) {
      ++c.netlink_errors;
      return;
    }
    const auto* ph = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
    const std::uint32_t id = ntohl(ph->packet_id);
    ++c.received;
    if (held_.size() >= opt_.max_held) {
      ++c.dropped_full;
      verdicts_.push_back({id, NF_DROP});
      flush_verdicts(c);
      return;
    }
    held_.push_back({now + opt_.delay, id});
    c.held_peak = std::max(c.held_peak, held_.size());
  }

  // Sends verdicts for the first n held packets; they leave the FIFO only once the kernel took them.
  void release(std::size_t n, Clock::time_point now, Counters& c, bool at_exit) {
    if (n == 0) return;
    for (std::size_t i = 0; i < n; ++i) verdicts_.push_back({held_[i].id, NF_ACCEPT});
    if (!flush_verdicts(c)) {
      verdicts_.clear();  // kept in the FIFO; tried again on the next round
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!at_exit) {
        const Nanos late = std::max(Nanos(0), std::chrono::duration_cast<Nanos>(now - held_.front().due));
        c.late_max = std::max(c.late_max, late);
        c.late_sum += late;
      }
      held_.pop_front();
    }
    (at_exit ? c.flushed_at_exit : c.accepted) += n;
  }

  struct Verdict {
    std::uint32_t id;
    int verdict;
  };

  // Packs the pending verdicts into as few datagrams as fit the buffer (several messages each).
  bool flush_verdicts(Counters& c) {
    bool ok = true;
    std::size_t off = 0;
    auto send = [&] {
      if (off == 0) return;
      if (mnl_socket_sendto(nl_, tx_.data(), off) < 0) {
        ++c.send_failures;
        ok = false;
      }
      off = 0;
    };
    constexpr std::size_t per_message = 64;  // a verdict message is 32 bytes; room to spare
    for (const Verdict& v : verdicts_) {
      if (off + per_message > tx_.size()) send();
      nlmsghdr* nlh = nfq_nlmsg_put(tx_.data() + off, NFQNL_MSG_VERDICT, opt_.queue);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(v.id), v.verdict);
      off += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    send();
    verdicts_.clear();
    return ok;
  }

  Options opt_;
  mnl_socket* nl_ = nullptr;
  std::vector<char> rx_;
  std::vector<char> tx_;
  std::deque<Held> held_;
  std::vector<Verdict> verdicts_;
};

void print_counters(const Options& o, const Counters& c, std::size_t held_now) {
  const double late_mean = c.accepted == 0 ? 0.0 : ms(c.late_sum) / static_cast<double>(c.accepted);
  std::printf(
      "nfq_delay: queue %u, delay %.3f ms: received %llu, accepted %llu, held now %zu (at most %zu), "
      "dropped (held %zu already) %llu, flushed at exit %llu, late by at most %.3f ms (mean %.3f ms), "
      "socket overflows %llu, netlink errors %llu, verdict resends %llu; %s\n",
      static_cast<unsigned>(o.queue), ms(o.delay), static_cast<unsigned long long>(c.received),
      static_cast<unsigned long long>(c.accepted), held_now, c.held_peak, o.max_held,
      static_cast<unsigned long long>(c.dropped_full), static_cast<unsigned long long>(c.flushed_at_exit), ms(c.late_max),
      late_mean, static_cast<unsigned long long>(c.socket_overflows), static_cast<unsigned long long>(c.netlink_errors),
      static_cast<unsigned long long>(c.send_failures), kernel_counters(o.queue).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);

  // The signals stay blocked except inside ppoll, so a flag is never missed between checks.
  sigset_t blocked, during_wait;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR1);
  sigprocmask(SIG_BLOCK, &blocked, &during_wait);
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = on_report;
  sigaction(SIGUSR1, &sa, nullptr);

  Queue q(opt);
  q.open();
  Counters c;
  std::printf("nfq_delay: queue %u, delay %.3f ms, at most %zu held: ready\n", static_cast<unsigned>(opt.queue),
              ms(opt.delay), opt.max_held);
  std::fflush(stdout);

  constexpr std::size_t read_budget = 1024;  // datagrams read before due packets are released again
  while (g_stop == 0) {
    timespec wait{};
    timespec* timeout = nullptr;
    if (const auto due = q.next_due()) {
      const auto left = std::max(Nanos(0), std::chrono::duration_cast<Nanos>(*due - Clock::now()));
      wait.tv_sec = static_cast<time_t>(left.count() / 1000000000);
      wait.tv_nsec = static_cast<long>(left.count() % 1000000000);
      timeout = &wait;
    }
    pollfd pfd{q.fd(), POLLIN, 0};
    const int r = ppoll(&pfd, 1, timeout, &during_wait);
    if (r < 0 && errno != EINTR) fail(std::string("ppoll: ") + std::strerror(errno));
    if (r > 0) q.receive(c, read_budget);
    q.release_due(Clock::now(), c);
    if (g_report != 0) {
      g_report = 0;
      print_counters(opt, c, q.held());
    }
  }
  q.release_all(c);
  print_counters(opt, c, q.held());  // before unbinding: the kernel's counters go with the queue
  q.unbind();
  return 0;
}
