// Batched datagram I/O on one non-blocking UDP socket: recvmmsg with GRO, sendmmsg with GSO
// (consecutive datagrams to one address and of one size leave as one super-datagram), falling back
// to plain batches where the kernel lacks them. No protocol here: bytes and addresses only.
#pragma once

#include <time.h>  // linux/errqueue.h uses struct timespec without declaring it

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include <asio.hpp>

namespace pdtp::transport {

struct OutDatagram {
  asio::ip::udp::endpoint to;
  std::vector<std::uint8_t> bytes;
};

class BatchedUdpSocket {
 public:
  static constexpr std::size_t batch = 32;
  static constexpr std::size_t max_gso_segments = 44;  // 44 x 1452 stays below 64 kB
  static constexpr std::size_t receive_buffer = 65536;  // one GRO super-datagram

  explicit BatchedUdpSocket(asio::io_context& io) : socket_(io) {}

  // Opens and binds; large kernel buffers; GRO on where available. Throws asio::system_error.
  void bind(const asio::ip::udp::endpoint& at, int buffer_bytes) {
    socket_.open(at.protocol());
    socket_.non_blocking(true);
    asio::error_code ig;
    socket_.set_option(asio::socket_base::receive_buffer_size(buffer_bytes), ig);
    socket_.set_option(asio::socket_base::send_buffer_size(buffer_bytes), ig);
    const int fd = socket_.native_handle();
    int one = 1;
    if (::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0) gro_ = true;
    if (at.protocol() == asio::ip::udp::v4()) {
      ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
      // ICMP errors (e.g. port unreachable) are queued for us to read: a connect to a closed port
      // can fail at once instead of after every retry.
      ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
      // Don't fragment, and don't cut our datagrams to a cached path MTU either: a path MTU probe
      // that is too big must be lost (or refused here with EMSGSIZE), not fragmented.
      int probe = IP_PMTUDISC_PROBE;
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof probe);
    } else {
      // The same for IPv6; the IPv4 options too, where the kernel takes them, for the IPv4 peers
      // of a dual-stack socket (their errors are still read as IPV6_RECVERR, see drain_errors).
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
      ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
      ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
      int probe = IPV6_PMTUDISC_PROBE;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe, sizeof probe);
      int probe4 = IP_PMTUDISC_PROBE;  // a dual-stack socket's IPv4 peers too
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe4, sizeof probe4);
    }
    socket_.bind(at);
    rx_.assign(batch * receive_buffer, 0);
  }

  bool is_open() const { return socket_.is_open(); }
  asio::ip::udp::socket& socket() { return socket_; }
  asio::ip::udp::endpoint local_endpoint() const {
    asio::error_code ec;
    return socket_.local_endpoint(ec);
  }
  void close() {
    asio::error_code ig;
    socket_.close(ig);
  }

  // Reads what is queued (up to one batch) and calls on(from, local_address, bytes) per datagram;
  // GRO super-datagrams are split back into their segments. Returns false when nothing was queued.
  // An IPv4 peer of a dual-stack socket is reported as plain IPv4 (never ::ffff:a.b.c.d), as an
  // IPv4 socket reports it; so is our address it reached.
  template <class Fn>
  bool receive_batch(Fn&& on) {
    mmsghdr msgs[batch];
    iovec iov[batch];
    sockaddr_storage from[batch];
    alignas(cmsghdr) char control[batch][128];
    for (std::size_t i = 0; i < batch; ++i) {
      iov[i] = {rx_.data() + i * receive_buffer, receive_buffer};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = sizeof control[i];
    }
    const int n = ::recvmmsg(socket_.native_handle(), msgs, batch, MSG_DONTWAIT, nullptr);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return drain_errors();
    if (n <= 0) return false;
    for (int i = 0; i < n; ++i) {
      const asio::ip::udp::endpoint ep = endpoint_of(from[i], msgs[i].msg_hdr.msg_namelen);
      std::size_t segment = msgs[i].msg_len;
      asio::ip::address local;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int s = 0;
          std::memcpy(&s, CMSG_DATA(c), sizeof s);
          if (s > 0) segment = static_cast<std::size_t>(s);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          asio::ip::address_v4::bytes_type b;
          std::memcpy(b.data(), &info.ipi_addr, 4);
          local = asio::ip::address_v4(b);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), &info.ipi6_addr, 16);
          // A link-local address needs its interface, as the peer's address carries it.
          const asio::ip::address_v6 a(b, IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr) ? info.ipi6_ifindex : 0);
          local = unmapped(a);
        }
      }
      const std::uint8_t* base = rx_.data() + static_cast<std::size_t>(i) * receive_buffer;
      for (std::size_t off = 0; off < msgs[i].msg_len; off += segment)
        on(ep, local, std::span<const std::uint8_t>(base + off, std::min(segment, msgs[i].msg_len - off)));
    }
    return true;
  }

  // Sends datagrams from the front of `queue`, erasing what left; stops at EAGAIN (returns false:
  // wait for the socket to be writable). Errors other than EAGAIN drop the datagram (UDP is lossy).
  bool send_some(std::vector<OutDatagram>& queue, std::size_t& head) {
    while (head < queue.size()) {
      mmsghdr msgs[batch];
      iovec iov[batch * max_gso_segments];
      alignas(cmsghdr) char control[batch][CMSG_SPACE(sizeof(std::uint16_t))];
      std::size_t consumed[batch];
      std::size_t nmsg = 0, niov = 0, i = head;
      while (i < queue.size() && nmsg < batch) {
        // A run to one address, all of the first one's size (the last may be shorter).
        const std::size_t size = queue[i].bytes.size();
        std::size_t run = 1;
        // One UDP datagram carries at most 65507 bytes, and the kernel segments at most 64 at once.
        const std::size_t max_run = std::min<std::size_t>(max_gso_segments, size > 0 ? 65000 / size : 1);
        if (gso_ && !send_alone_) {
          while (i + run < queue.size() && run < max_run && queue[i + run].to == queue[i].to &&
                 queue[i + run].bytes.size() <= size && queue[i + run - 1].bytes.size() == size)
            ++run;
        }
        std::memset(&msgs[nmsg], 0, sizeof msgs[nmsg]);
        msghdr& h = msgs[nmsg].msg_hdr;
        h.msg_name = const_cast<void*>(static_cast<const void*>(queue[i].to.data()));
        h.msg_namelen = static_cast<socklen_t>(queue[i].to.size());
        h.msg_iov = &iov[niov];
        h.msg_iovlen = run;
        for (std::size_t k = 0; k < run; ++k) iov[niov++] = {queue[i + k].bytes.data(), queue[i + k].bytes.size()};
        if (run > 1) {
          h.msg_control = control[nmsg];
          h.msg_controllen = sizeof control[nmsg];
          cmsghdr* c = CMSG_FIRSTHDR(&h);
          c->cmsg_level = SOL_UDP;
          c->cmsg_type = UDP_SEGMENT;
          c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
          const std::uint16_t seg = static_cast<std::uint16_t>(size);
          std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
        }
        consumed[nmsg++] = run;
        i += run;
      }
      const int sent = ::sendmmsg(socket_.native_handle(), msgs, static_cast<unsigned>(nmsg), MSG_DONTWAIT);
      send_alone_ = false;
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return false;
        if (gso_ && (errno == EIO || errno == EINVAL) && consumed[0] > 1) {
          // Segments larger than the interface's MTU (a path MTU probe leading a run) are refused
          // like a kernel without GSO: if smaller segments went out batched before, send this
          // first datagram alone (it is lost, as a too-big probe should be); otherwise stop GSO.
          if (queue[head].bytes.size() > gso_segment_ok_ && gso_segment_ok_ > 0) send_alone_ = true;
          else gso_ = false;
          continue;
        }
        head += consumed[0];  // e.g. unreachable address, or too big (EMSGSIZE): drop it, keep going
        if (errno == EMSGSIZE) drain_errors();  // the refusal is queued as an error too
        continue;
      }
      for (int k = 0; k < sent; ++k) {
        if (consumed[k] > 1) gso_segment_ok_ = std::max(gso_segment_ok_, queue[head].bytes.size());
        head += consumed[k];
      }
    }
    return true;
  }

  bool gso() const noexcept { return gso_; }

  // Destinations the network said are unreachable (ICMP), collected since the last take.
  std::vector<asio::ip::udp::endpoint> take_unreachable() { return std::exchange(unreachable_, {}); }

 private:
  // ::ffff:a.b.c.d (an IPv4 peer as a dual-stack socket names it) as a.b.c.d; other addresses as given.
  static asio::ip::address unmapped(const asio::ip::address_v6& a) {
    if (a.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a);
    return a;
  }

  // The address the kernel wrote (len bytes of it), with a v4-mapped IPv6 address unmapped.
  static asio::ip::udp::endpoint endpoint_of(const sockaddr_storage& s, socklen_t len) {
    asio::ip::udp::endpoint ep;
    const auto n = std::min<std::size_t>({static_cast<std::size_t>(len), sizeof s, ep.capacity()});
    std::memcpy(ep.data(), &s, n);
    ep.resize(n);
    if (s.ss_family == AF_INET6 && n >= sizeof(sockaddr_in6)) ep.address(unmapped(ep.address().to_v6()));
    return ep;
  }

  // Reads the socket's error queue empty: each entry names the destination of a datagram that
  // bounced, or a send refused here (EMSGSIZE: a path MTU probe too big for our own interface).
  // Entries count against the receive buffer, so none may be left behind.
  bool drain_errors() {
    for (;;) {
      sockaddr_storage dest{};
      char data[64];
      alignas(cmsghdr) char control[512];
      iovec iov{data, sizeof data};
      msghdr h{};
      h.msg_name = &dest;
      h.msg_namelen = sizeof dest;
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      h.msg_control = control;
      h.msg_controllen = sizeof control;
      if (::recvmsg(socket_.native_handle(), &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        // An IPv6 socket reports every error as IPV6_RECVERR, an IPv4 peer's with an ICMP origin.
        const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
        const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6) continue;
        sock_extended_err err;
        std::memcpy(&err, CMSG_DATA(c), sizeof err);
        const bool icmp = err.ee_origin == SO_EE_ORIGIN_ICMP || (v6 && err.ee_origin == SO_EE_ORIGIN_ICMP6);
        if (!icmp || err.ee_errno != ECONNREFUSED) continue;
        if (unreachable_.size() < 256) unreachable_.push_back(endpoint_of(dest, h.msg_namelen));
      }
    }
    return true;  // the caller reads again: data may be queued behind the error
  }

  asio::ip::udp::socket socket_;
  std::vector<asio::ip::udp::endpoint> unreachable_;
  std::vector<std::uint8_t> rx_;
  bool gro_ = false;
  bool gso_ = true;
  bool send_alone_ = false;           // the next message carries one datagram (see send_some)
  std::size_t gso_segment_ok_ = 0;    // the largest segment size a batched send has carried
};

}  // namespace pdtp::transport
