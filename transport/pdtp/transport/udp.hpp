// Encrypted reliable UDP transport: one socket per process (UdpHost) carries every connection; each
// connection carries many streams, and each stream is what the runtimes see as a connection (the
// StreamTransport concept, concept.hpp). Connections to the same peer are reused: a second connect()
// to an address and key already connected opens one more stream on that connection.
// The protocol itself is sans-I/O (pdtp/secure/endpoint.hpp); this file adds the socket, the timer
// and Asio-style async stream operations.
#pragma once

#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <asio.hpp>

#include "pdtp/core/time.hpp"
#include "pdtp/secure/endpoint.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/secure/sodium.hpp"
#include "pdtp/transport/udp_socket.hpp"

namespace pdtp::transport {

namespace udp_detail {

// A completion handler of any type, called once through its associated executor.
class PendingOp {
 public:
  virtual ~PendingOp() = default;
  virtual void complete(const asio::error_code& ec, std::size_t n) = 0;
};

template <class Handler, class Executor>
class PendingOpImpl final : public PendingOp {
 public:
  PendingOpImpl(Handler h, const Executor& ex) : handler_(std::move(h)), work_(ex) {}
  void complete(const asio::error_code& ec, std::size_t n) override {
    auto ex = asio::get_associated_executor(handler_, work_.get_executor());
    asio::post(ex, [h = std::move(handler_), ec, n]() mutable { std::move(h)(ec, n); });
    work_.reset();
  }

 private:
  Handler handler_;
  asio::executor_work_guard<Executor> work_;
};

template <class Handler, class Executor>
std::unique_ptr<PendingOp> make_op(Handler&& h, const Executor& ex) {
  return std::make_unique<PendingOpImpl<std::decay_t<Handler>, Executor>>(std::forward<Handler>(h), ex);
}

}  // namespace udp_detail

class UdpHost;
class UdpStream;

// Where to connect: an address, a port, and the static key the peer must prove (nullopt: learn it).
struct UdpEndpoint {
  UdpEndpoint() = default;
  UdpEndpoint(asio::ip::address a, std::uint16_t p, std::optional<secure::PublicKey> k = std::nullopt)
      : address(a), port_(p), key(k) {}
  UdpEndpoint(const asio::ip::tcp::endpoint& e) : address(e.address()), port_(e.port()) {}  // resolver results
  asio::ip::address address;
  std::uint16_t port_ = 0;
  std::optional<secure::PublicKey> key;
  std::uint16_t port() const noexcept { return port_; }
  asio::ip::udp::endpoint udp() const { return {address, port_}; }
};

struct UdpOptions {
  secure::KeyPair identity;
  rudp::Config config = default_config();
  int socket_buffer = 8 << 20;
  std::size_t max_connections = 4096;
  std::chrono::seconds idle_connection{20};  // a connection without streams is closed after this
  // Test hook: every datagram this host sends, as it leaves (see tests/integration, no-plaintext test).
  std::function<void(std::span<const std::uint8_t>)> on_send;

  static rudp::Config default_config() {
    rudp::Config c;
    c.keep_alive_interval = std::chrono::seconds(5);  // control streams may be quiet for minutes
    c.idle_timeout = std::chrono::seconds(15);         // a peer that vanished is noticed after this
    c.probe_datagram_size = 1452;                      // Ethernet's MTU less IPv6 and UDP headers
    return c;
  }
};

// Diagnostics and tests: with PDTP_RECORD_DATAGRAMS=FILE in the environment, every datagram the host
// sends is appended to FILE as a 2-byte big-endian length and the bytes, exactly as they left.
inline void record_datagrams_from_env(UdpOptions& options) {
  const char* path = std::getenv("PDTP_RECORD_DATAGRAMS");
  if (!path || !*path) return;
  std::FILE* f = std::fopen(path, "ab");
  if (!f) {
    std::fprintf(stderr, "PDTP_RECORD_DATAGRAMS: cannot open %s\n", path);
    return;
  }
  auto file = std::shared_ptr<std::FILE>(f, [](std::FILE* p) { std::fclose(p); });
  options.on_send = [file](std::span<const std::uint8_t> d) {
    const unsigned char len[2] = {static_cast<unsigned char>(d.size() >> 8), static_cast<unsigned char>(d.size())};
    std::fwrite(len, 1, 2, file.get());
    std::fwrite(d.data(), 1, d.size(), file.get());
  };
}

struct UdpHostStats {
  std::uint64_t datagrams_in = 0, datagrams_out = 0, bytes_in = 0, bytes_out = 0;
};

class UdpHost {
  struct ConnState;

 public:
  // The application code a STOP_SENDING carries for a stream its owner let go.
  static constexpr std::uint64_t released_stream_code = 0;

  struct StreamState;

  UdpHost(asio::io_context& io, UdpOptions options)
      : io_(io),
        options_(std::move(options)),
        socket_(io),
        timer_(io),
        reaper_(io),
        ep_(endpoint_options(options_), random_source(), address_bytes) {
    registry()[&io] = this;
  }
  ~UdpHost() {
    *alive_ = false;
    auto& r = registry();
    if (auto it = r.find(&io_); it != r.end() && it->second == this) r.erase(it);
  }
  UdpHost(const UdpHost&) = delete;
  UdpHost& operator=(const UdpHost&) = delete;

  // The host serving the io_context behind `ex` (nullptr if none was made for it).
  static UdpHost* of(const asio::any_io_executor& ex) {
    auto& ctx = asio::query(ex, asio::execution::context);
    auto& r = registry();
    auto it = r.find(&ctx);
    return it == r.end() ? nullptr : it->second;
  }

  const secure::PublicKey& public_key() const noexcept { return options_.identity.public_key; }
  const UdpHostStats& stats() const noexcept { return stats_; }
  const secure::SecureEndpointStats& endpoint_stats() const noexcept { return ep_.stats(); }
  // Streams this host's connections still hold (open, or not yet ended both ways). Diagnostics.
  std::size_t open_streams() {
    std::size_t n = 0;
    for (auto& [h, c] : conns_)
      if (auto* rc = ep_.connection(c->handle)) n += rc->stream_count();
    return n;
  }
  // Connections open or opening. Diagnostics.
  std::size_t connection_count() const noexcept { return conns_.size(); }
  asio::io_context& io() noexcept { return io_; }
  bool bound() const { return socket_.is_open(); }
  asio::ip::udp::endpoint local_endpoint() const { return socket_.local_endpoint(); }

  // Binds the one socket (first call only; later calls must name the same port or 0). Throws.
  void bind(const asio::ip::udp::endpoint& at) {
    if (socket_.is_open()) {
      if (at.port() != 0 && at.port() != socket_.local_endpoint().port())
        throw std::runtime_error("this process's UDP socket is already bound to port " +
                                 std::to_string(socket_.local_endpoint().port()));
      return;
    }
    socket_.bind(at, options_.socket_buffer);
    asio::co_spawn(io_, receive_loop(), asio::detached);
    arm_reaper();
  }

  // One line per connection: what it sent, received, lost, and its congestion state (diagnostics:
  // dsclient and dstream print it at exit when PDTP_UDP_DEBUG is set).
  void print_summary(std::FILE* out) {
    auto ms = [](rudp::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    std::fprintf(out, "udp host: datagrams in %llu out %llu, bytes in %llu out %llu\n",
                 static_cast<unsigned long long>(stats_.datagrams_in), static_cast<unsigned long long>(stats_.datagrams_out),
                 static_cast<unsigned long long>(stats_.bytes_in), static_cast<unsigned long long>(stats_.bytes_out));
    for (auto& [h, c] : conns_) {
      auto* rc = ep_.connection(c->handle);
      if (!rc) continue;
      const auto& st = rc->stats();
      std::fprintf(out,
                   "  %s:%u sent %llu recv %llu lost %llu dropped %llu dup %llu retx %llu B; cwnd %llu rtt %.3f ms "
                   "pacing %.0f MB/s, datagrams %zu B, streams %zu; limited by window %.0f ms, pacing %.0f ms, idle %.0f ms\n",
                   c->peer.address().to_string().c_str(), static_cast<unsigned>(c->peer.port()),
                   static_cast<unsigned long long>(st.packets_sent), static_cast<unsigned long long>(st.packets_received),
                   static_cast<unsigned long long>(st.packets_lost), static_cast<unsigned long long>(st.packets_dropped),
                   static_cast<unsigned long long>(st.duplicates),
                   static_cast<unsigned long long>(st.stream_bytes_retransmitted),
                   static_cast<unsigned long long>(rc->congestion_window()),
                   std::chrono::duration<double, std::milli>(rc->rtt().smoothed()).count(), rc->pacing_rate() / 1e6,
                   rc->datagram_size(), rc->stream_count(), ms(st.time_window_limited), ms(st.time_pacing_limited), ms(st.time_idle));
    }
  }

  // Tells every peer we are leaving (CLOSE, sent now, best effort), then stops.
  void close() {
    if (closing_) return;
    if (debug_) print_summary(stderr);
    if (socket_.is_open()) {
      const auto t = now();
      for (auto& [h, c] : conns_)
        if (auto* rc = ep_.connection(c->handle)) rc->abort(t, 0, "shutting down");
      waiting_writable_ = false;
      flush();
    }
    closing_ = true;
    socket_.close();
    timer_.cancel();
    reaper_.cancel();
    for (auto& [h, c] : conns_) fail_connection(*c, asio::error::operation_aborted);
    conns_.clear();
    fail_accepts(asio::error::operation_aborted);
  }

  // ---- used by UdpStream / UdpAcceptor / Udp ----

  asio::awaitable<std::shared_ptr<StreamState>> open_stream(const UdpEndpoint& to,
                                                            std::optional<asio::ip::address> from) {
    if (!socket_.is_open()) {  // an unbound host takes the target's family (any address of it)
      const asio::ip::address any = to.address.is_v6() && !to.address.to_v6().is_v4_mapped()
                                         ? asio::ip::address(asio::ip::address_v6::any())
                                         : asio::ip::address(asio::ip::address_v4::any());
      bind({from ? *from : any, 0});
    }
    std::shared_ptr<ConnState> conn = find_connection(to);
    if (!conn) {
      auto h = ep_.connect(now(), to.udp(), to.key);
      if (!h) throw std::runtime_error(h.error().message);
      conn = std::make_shared<ConnState>(io_, *h, to.udp(), to.key, true);
      conns_[rudp::to_u32(*h)] = conn;
      request_flush();
      conn->ready.expires_at(asio::steady_timer::time_point::max());
      asio::error_code ig;
      co_await conn->ready.async_wait(asio::redirect_error(asio::use_awaitable, ig));
    } else if (!conn->established) {
      asio::error_code ig;
      co_await conn->ready.async_wait(asio::redirect_error(asio::use_awaitable, ig));
    }
    if (!conn->established)
      throw std::runtime_error(conn->failure.empty() ? std::string("connection failed") : conn->failure);
    for (int attempt = 0;; ++attempt) {
      auto* c = ep_.connection(conn->handle);
      if (!c) throw std::runtime_error("connection closed: " + conn->failure);
      auto sid = c->open_stream();
      if (sid) {
        auto st = std::make_shared<StreamState>(this, conn, *sid);
        conn->streams[rudp::to_u64(*sid)] = st;
        conn->last_stream_activity = now();
        co_return st;
      }
      if (sid.error().code != Errc::would_block || attempt > 100) throw std::runtime_error(sid.error().message);
      conn->streams_available.expires_at(asio::steady_timer::time_point::max());
      asio::error_code ig;
      co_await conn->streams_available.async_wait(asio::redirect_error(asio::use_awaitable, ig));
    }
  }

 private:
  friend class UdpStream;
  friend class UdpAcceptor;
  using Ep = secure::SecureEndpoint<asio::ip::udp::endpoint>;

  struct ConnState {
    ConnState(asio::io_context& io, Ep::Handle h, asio::ip::udp::endpoint p, std::optional<secure::PublicKey> k,
              bool outgoing)
        : ready(io), streams_available(io), handle(h), peer(p), outgoing(outgoing) {
      if (k) peer_key = *k;
    }
    asio::steady_timer ready;              // cancelled when the handshake completes or fails
    asio::steady_timer streams_available;  // cancelled when the peer allows more streams
    Ep::Handle handle{};
    asio::ip::udp::endpoint peer;
    asio::ip::address local;               // our address as the peer reached it
    secure::PublicKey peer_key{};
    bool outgoing = false;
    bool established = false;
    bool closed = false;
    std::string failure;
    core::TimePoint last_stream_activity{};
    std::map<std::uint64_t, std::weak_ptr<StreamState>> streams;
  };

 public:
  struct StreamState {
    StreamState(UdpHost* h, std::shared_ptr<ConnState> c, rudp::StreamId id) : host(h), conn(std::move(c)), id(id) {}
    UdpHost* host;
    std::shared_ptr<ConnState> conn;
    rudp::StreamId id;
    bool closed = false;      // closed by us
    bool eof = false;         // the peer finished its half and we read it all
    bool sent_fin = false;
    asio::error_code error;        // the stream or its connection failed
    asio::error_code write_error;  // the peer stopped our sending half (reading goes on)
    std::unique_ptr<udp_detail::PendingOp> read_op;
    asio::mutable_buffer read_buf;
    std::unique_ptr<udp_detail::PendingOp> write_op;
    std::vector<asio::const_buffer> write_bufs;
    std::shared_ptr<bool> host_alive = host->alive_;  // false once the host is gone (process exit)
  };

 private:
  static std::map<asio::execution_context*, UdpHost*>& registry() {
    static std::map<asio::execution_context*, UdpHost*> r;
    return r;
  }
  static secure::SecureEndpointOptions endpoint_options(const UdpOptions& o) {
    secure::SecureEndpointOptions e;
    e.local_static = o.identity;
    e.config = o.config;
    e.max_connections = o.max_connections;
    return e;
  }
  static secure::RandomBytes random_source() {
    secure::ensure_sodium();
    return [](secure::MutableByteView out) { randombytes_buf(out.data(), out.size()); };
  }
  static secure::Bytes address_bytes(const asio::ip::udp::endpoint& e) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(e.data());
    return secure::Bytes(p, p + e.size());
  }
  static core::TimePoint now() { return core::Clock::now(); }

  std::shared_ptr<ConnState> find_connection(const UdpEndpoint& to) {
    const auto udp = to.udp();
    for (auto& [h, c] : conns_) {
      if (c->closed || !(c->peer == udp)) continue;
      if (to.key && !(c->peer_key == *to.key)) continue;
      if (!to.key && !c->outgoing) continue;  // learning a key: only a connection we opened ourselves
      if (!c->established && !c->outgoing) continue;
      return c;
    }
    return nullptr;
  }

  // ---- the event loop ----

  asio::awaitable<void> receive_loop() {
    for (;;) {
      asio::error_code ec;
      co_await socket_.socket().async_wait(asio::socket_base::wait_read, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || closing_) co_return;
      for (int rounds = 0; rounds < 16; ++rounds) {
        const auto t = now();  // fresh per batch: flush() below sends at its own, later, time
        bool any = socket_.receive_batch([&](const asio::ip::udp::endpoint& from, const asio::ip::address& local,
                                            std::span<const std::uint8_t> bytes) {
          ++stats_.datagrams_in;
          stats_.bytes_in += bytes.size();
          if (!bytes.empty() && bytes[0] >= 0x01 && bytes[0] <= 0x03 && !local.is_unspecified())
            handshake_local_[from] = local;
          ep_.on_datagram(t, from, bytes);
        });
        if (!any) break;
        flush();  // acknowledge what this batch brought before reading the next
      }
      for (const auto& ep : socket_.take_unreachable()) refuse_connects_to(ep);
      process();
    }
  }

  void process() {
    drain_events();
    flush();
    arm_timer();
  }

  void request_flush() {
    if (flush_posted_ || closing_) return;
    flush_posted_ = true;
    asio::post(io_, [this] {
      flush_posted_ = false;
      if (!closing_) process();
    });
  }

  void flush() {
    if (waiting_writable_) return;
    const auto t = now();
    for (;;) {
      if (out_head_ >= out_.size()) {
        out_.clear();
        out_head_ = 0;
        for (std::size_t n = 0; n < 256; ++n) {
          auto tx = ep_.poll_transmit(t);
          if (!tx) break;
          ++stats_.datagrams_out;
          stats_.bytes_out += tx->bytes.size();
          if (options_.on_send) options_.on_send(tx->bytes);
          out_.push_back(OutDatagram{tx->to, std::move(tx->bytes)});
        }
        if (out_.empty()) return;
      }
      if (!socket_.send_some(out_, out_head_)) {
        waiting_writable_ = true;
        socket_.socket().async_wait(asio::socket_base::wait_write, [this](const asio::error_code& ec) {
          waiting_writable_ = false;
          if (!ec && !closing_) process();
        });
        return;
      }
    }
  }

  void arm_timer() {
    auto next = ep_.next_timeout();
    if (!next) {
      if (timer_armed_) {
        timer_armed_ = false;
        timer_.cancel();
      }
      return;
    }
    if (timer_armed_ && *next == timer_at_) return;
    timer_armed_ = true;
    timer_at_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait([this, gen = ++timer_gen_](const asio::error_code& ec) {
      if (ec || closing_ || gen != timer_gen_) return;
      timer_armed_ = false;
      ep_.on_timeout(now());
      process();
    });
  }

  void arm_reaper() {
    reaper_.expires_after(debug_ ? std::chrono::seconds(1) : std::chrono::seconds(5));
    reaper_.async_wait([this](const asio::error_code& ec) {
      if (ec || closing_) return;
      const auto t = now();
      for (auto& [h, c] : conns_) {
        prune_streams(*c);
        if (c->established && !c->closed && c->streams.empty() && t - c->last_stream_activity > options_.idle_connection) {
          if (auto* rc = ep_.connection(c->handle)) rc->close(0, "idle");
        }
      }
      if (debug_) print_summary(stderr);
      process();
      arm_reaper();
    });
  }

  static void prune_streams(ConnState& c) {
    for (auto it = c.streams.begin(); it != c.streams.end();) {
      if (it->second.expired()) it = c.streams.erase(it);
      else ++it;
    }
  }

  void drain_events() {
    while (auto e = ep_.poll_event()) {
      std::visit([this](auto& ev) { on_event(ev); }, *e);
    }
  }

  // Nothing listens on that port: connects still in their handshake fail now. (ICMP is not
  // authenticated, so established connections ignore it and rely on their own timeouts.)
  void refuse_connects_to(const asio::ip::udp::endpoint& ep) {
    for (auto it = conns_.begin(); it != conns_.end();) {
      auto conn = it->second;
      if (conn->outgoing && !conn->established && conn->peer == ep) {
        ep_.abandon(conn->handle);
        conn->failure = "connection refused by " + ep.address().to_string() + ": nothing listens on UDP port " +
                        std::to_string(ep.port());
        conn->closed = true;
        it = conns_.erase(it);
        conn->ready.cancel();
      } else {
        ++it;
      }
    }
  }

  void on_event(Ep::Accepted& a) {
    auto conn = std::make_shared<ConnState>(io_, a.id, a.peer, a.peer_key, false);
    conn->established = true;
    conn->last_stream_activity = now();
    if (auto it = handshake_local_.find(a.peer); it != handshake_local_.end()) {
      conn->local = it->second;
      handshake_local_.erase(it);
    }
    if (handshake_local_.size() > 4096) handshake_local_.clear();
    conns_[rudp::to_u32(a.id)] = conn;
  }
  void on_event(Ep::Connected& c) {
    auto it = conns_.find(rudp::to_u32(c.id));
    if (it == conns_.end()) return;
    ConnState& conn = *it->second;
    conn.established = true;
    conn.peer_key = c.peer_key;
    conn.last_stream_activity = now();
    if (auto l = handshake_local_.find(conn.peer); l != handshake_local_.end()) conn.local = l->second;
    conn.ready.cancel();
  }
  void on_event(Ep::ConnectFailed& f) {
    auto it = conns_.find(rudp::to_u32(f.id));
    if (it == conns_.end()) return;
    auto conn = it->second;
    conn->failure = "no answer from " + conn->peer.address().to_string() + ":" + std::to_string(conn->peer.port()) +
                    " (" + f.reason + ")";
    conn->closed = true;
    conns_.erase(it);
    conn->ready.cancel();
  }
  void on_event(Ep::ConnectionEvent& ce) {
    auto it = conns_.find(rudp::to_u32(ce.id));
    if (it == conns_.end()) return;
    auto conn = it->second;
    std::visit([&](auto& ev) { on_stream_event(conn, ev); }, ce.event);
  }

  std::shared_ptr<StreamState> stream_of(ConnState& c, rudp::StreamId id) {
    auto it = c.streams.find(rudp::to_u64(id));
    if (it == c.streams.end()) return nullptr;
    auto st = it->second.lock();
    if (!st) c.streams.erase(it);
    return st;
  }

  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamOpened& e) {
    c->last_stream_activity = now();
    auto st = std::make_shared<StreamState>(this, c, e.stream);
    c->streams[rudp::to_u64(e.stream)] = st;
    if (!accept_open_ || accepted_.size() >= 1024) {
      st->closed = true;
      if (auto* rc = ep_.connection(c->handle)) (void)rc->reset(e.stream, 1);
      return;
    }
    accepted_.push_back(st);
    complete_accepts();
  }
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamReadable& e) {
    if (auto st = stream_of(*c, e.stream)) {
      try_read(*st);
    } else if (auto* rc = ep_.connection(c->handle)) {
      discard_unread(*rc, e.stream);  // its owner let it go (release)
    }
  }

  // Reads and drops what a released stream holds (only FIN, or data of a half not yet stopped).
  static void discard_unread(rudp::Connection& c, rudp::StreamId id) {
    std::array<std::uint8_t, 16384> sink;
    for (;;) {
      auto r = c.read(id, sink);
      if (!r || r->bytes < sink.size()) return;
    }
  }
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamWritable& e) {
    if (auto st = stream_of(*c, e.stream)) try_write(*st);
  }
  void on_stream_event(const std::shared_ptr<ConnState>&, rudp::StreamFinished&) {}
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamReset& e) {
    if (auto st = stream_of(*c, e.stream)) fail_stream(*st, asio::error::connection_reset);
  }
  // Only our sending half ends: the peer may still be sending us a reply, so reads go on.
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamStopped& e) {
    if (auto st = stream_of(*c, e.stream)) {
      if (!st->write_error) st->write_error = asio::error::broken_pipe;
      if (st->write_op) {
        auto op = std::move(st->write_op);
        op->complete(st->write_error, 0);
      }
    }
  }
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::StreamsAvailable&) { c->streams_available.cancel(); }
  void on_stream_event(const std::shared_ptr<ConnState>& c, rudp::ConnectionClosed& e) {
    c->failure = std::string(rudp::to_string(e.reason)) + (e.message.empty() ? "" : ": " + e.message);
    fail_connection(*c, e.reason == rudp::CloseReason::idle_timeout ? asio::error::timed_out
                                                                    : asio::error::connection_aborted);
    conns_.erase(rudp::to_u32(c->handle));
  }

  void fail_connection(ConnState& c, asio::error_code ec) {
    c.closed = true;
    c.ready.cancel();
    c.streams_available.cancel();
    for (auto& [id, w] : c.streams)
      if (auto st = w.lock()) fail_stream(*st, ec);
  }

  void fail_stream(StreamState& st, asio::error_code ec) {
    if (!st.error) st.error = ec;
    if (st.read_op) {
      auto op = std::move(st.read_op);
      op->complete(st.error, 0);
    }
    if (st.write_op) {
      auto op = std::move(st.write_op);
      op->complete(st.error, 0);
    }
  }

  // ---- stream operations ----

  rudp::Connection* live(StreamState& st) {
    if (st.error || st.conn->closed) return nullptr;
    return ep_.connection(st.conn->handle);
  }

  // Completes the pending read if data, the end, or an error is there.
  void try_read(StreamState& st) {
    if (!st.read_op) return;
    if (st.eof) {
      auto op = std::move(st.read_op);
      op->complete(asio::error::eof, 0);
      return;
    }
    auto* c = live(st);
    if (!c) {
      auto op = std::move(st.read_op);
      op->complete(st.error ? st.error : asio::error_code(asio::error::connection_aborted), 0);
      return;
    }
    auto r = c->read(st.id, std::span<std::uint8_t>(static_cast<std::uint8_t*>(st.read_buf.data()), st.read_buf.size()));
    if (!r) {
      st.error = asio::error::connection_reset;
      auto op = std::move(st.read_op);
      op->complete(st.error, 0);
      return;
    }
    if (r->fin) st.eof = true;
    if (r->bytes > 0) {
      auto op = std::move(st.read_op);
      op->complete({}, r->bytes);
      request_flush();  // credit may go back to the peer
      return;
    }
    if (st.eof) {
      auto op = std::move(st.read_op);
      op->complete(asio::error::eof, 0);
    }
  }

  void try_write(StreamState& st) {
    if (!st.write_op) return;
    auto* c = live(st);
    if (!c || st.sent_fin || st.write_error) {
      auto op = std::move(st.write_op);
      op->complete(st.error ? st.error : st.write_error ? st.write_error : asio::error_code(asio::error::broken_pipe), 0);
      return;
    }
    std::size_t total = 0;
    for (const auto& b : st.write_bufs) {
      if (b.size() == 0) continue;
      auto n = c->write(st.id, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(b.data()), b.size()));
      if (!n) {
        st.error = asio::error::broken_pipe;
        auto op = std::move(st.write_op);
        op->complete(st.error, 0);
        return;
      }
      total += *n;
      if (*n < b.size()) break;
    }
    if (total == 0) {
      bool empty = true;
      for (const auto& b : st.write_bufs) empty = empty && b.size() == 0;
      if (!empty) return;  // wait for StreamWritable
    }
    st.conn->last_stream_activity = now();
    auto op = std::move(st.write_op);
    op->complete({}, total);
    request_flush();
  }

  // The stream's owner is done with it: what was written is still delivered, then FIN. (No reset: a
  // reset makes the peer discard what it has received but not yet read, such as a last reply.) What
  // the peer sent is dropped; if its half has not ended, it is asked to stop (STOP_SENDING: it
  // answers RESET_STREAM and its writes fail) rather than sending into the void for ever. Both
  // halves then end, so the stream is forgotten on both sides and the peer's stream credit returns.
  // Done even after a stream error (say, our half stopped): the halves still have to end.
  void release(StreamState& st) {
    st.closed = true;
    auto* c = st.conn->closed ? nullptr : ep_.connection(st.conn->handle);
    if (c) {
      if (!st.sent_fin) (void)c->finish(st.id);  // refused if the peer stopped our half: nothing to end
      st.sent_fin = true;
      discard_unread(*c, st.id);  // a FIN already here ends the half without a stop
      if (c->has_stream(st.id)) (void)c->stop_sending(st.id, released_stream_code);
      st.conn->last_stream_activity = now();
      request_flush();
    }
    st.conn->streams.erase(rudp::to_u64(st.id));
    if (st.read_op) {
      auto op = std::move(st.read_op);
      op->complete(asio::error::operation_aborted, 0);
    }
    if (st.write_op) {
      auto op = std::move(st.write_op);
      op->complete(asio::error::operation_aborted, 0);
    }
  }

  // ---- accepting ----

  struct PendingAccept {
    UdpStream* target;
    std::unique_ptr<udp_detail::PendingOp> op;
  };
  void complete_accepts();
  void fail_accepts(asio::error_code ec) {
    while (!pending_accepts_.empty()) {
      auto p = std::move(pending_accepts_.front());
      pending_accepts_.pop_front();
      p.op->complete(ec, 0);
    }
  }

  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::io_context& io_;
  UdpOptions options_;
  BatchedUdpSocket socket_;
  asio::steady_timer timer_;
  asio::steady_timer reaper_;
  Ep ep_;
  UdpHostStats stats_;
  std::map<std::uint32_t, std::shared_ptr<ConnState>> conns_;
  std::map<asio::ip::udp::endpoint, asio::ip::address> handshake_local_;  // where handshakes arrived
  std::vector<OutDatagram> out_;
  std::size_t out_head_ = 0;
  bool waiting_writable_ = false;
  bool flush_posted_ = false;
  bool closing_ = false;
  bool timer_armed_ = false;
  core::TimePoint timer_at_{};
  std::uint64_t timer_gen_ = 0;
  bool accept_open_ = false;
  bool debug_ = std::getenv("PDTP_UDP_DEBUG") != nullptr;
  std::deque<std::shared_ptr<StreamState>> accepted_;
  std::deque<PendingAccept> pending_accepts_;
};

// One reliable ordered byte stream, with the members of an Asio socket the runtimes use.
class UdpStream {
 public:
  using executor_type = asio::any_io_executor;

  explicit UdpStream(asio::io_context& io) : ex_(io.get_executor()) {}
  UdpStream(const asio::any_io_executor& ex, std::shared_ptr<UdpHost::StreamState> st)
      : ex_(ex), st_(std::move(st)) {}
  UdpStream(UdpStream&&) noexcept = default;
  UdpStream& operator=(UdpStream&& o) noexcept {
    if (this != &o) {
      close();
      ex_ = std::move(o.ex_);
      st_ = std::move(o.st_);
    }
    return *this;
  }
  ~UdpStream() { close(); }

  executor_type get_executor() const { return ex_; }
  bool is_open() const { return usable(); }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const MutableBufferSequence& bufs) {
          auto op = udp_detail::make_op(std::move(handler), ex_);
          if (!usable()) return op->complete(asio::error::bad_descriptor, 0);
          asio::mutable_buffer first;
          for (auto it = asio::buffer_sequence_begin(bufs); it != asio::buffer_sequence_end(bufs); ++it)
            if (asio::mutable_buffer(*it).size() > 0) {
              first = *it;
              break;
            }
          if (first.size() == 0) return op->complete({}, 0);
          st_->read_buf = first;
          st_->read_op = std::move(op);
          st_->host->try_read(*st_);
        },
        token, buffers);
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& bufs) {
          auto op = udp_detail::make_op(std::move(handler), ex_);
          if (!usable()) return op->complete(asio::error::bad_descriptor, 0);
          st_->write_bufs.clear();
          for (auto it = asio::buffer_sequence_begin(bufs); it != asio::buffer_sequence_end(bufs); ++it)
            st_->write_bufs.emplace_back(*it);
          st_->write_op = std::move(op);
          st_->host->try_write(*st_);
        },
        token, buffers);
  }

  void close() {
    if (usable()) st_->host->release(*st_);
  }
  void close(asio::error_code& ec) {
    ec = {};
    close();
  }
  // Ends both directions at once (RESET_STREAM and STOP_SENDING): unlike close(), what was written
  // but not yet delivered is dropped, and the peer's read fails instead of seeing a clean end.
  void abort() {
    if (!usable()) return;
    if (auto* c = st_->host->live(*st_)) (void)c->reset(st_->id, aborted_code);
    st_->sent_fin = true;  // nothing more goes out on it
    st_->host->request_flush();
    close();
  }
  static constexpr std::uint64_t aborted_code = 2;

  // Ends our sending half after what was written (like shutdown(SHUT_WR)); other kinds close.
  void shutdown(asio::socket_base::shutdown_type what, asio::error_code& ec) {
    ec = {};
    if (!usable()) return;
    if (what == asio::socket_base::shutdown_send) {
      if (auto* c = st_->host->live(*st_); c && !st_->sent_fin) {
        (void)c->finish(st_->id);
        st_->sent_fin = true;
        st_->host->request_flush();
      }
      return;
    }
    close();
  }

  // The peer's address, its proven key, and our address as the peer reached it.
  asio::ip::udp::endpoint remote_endpoint() const { return st_ ? st_->conn->peer : asio::ip::udp::endpoint(); }
  const secure::PublicKey* remote_key() const { return st_ ? &st_->conn->peer_key : nullptr; }
  asio::ip::address local_address() const {
    if (!st_) return {};
    if (!st_->conn->local.is_unspecified() || !*st_->host_alive) return st_->conn->local;
    return st_->host->local_endpoint().address();
  }

 private:
  bool usable() const { return st_ && !st_->closed && *st_->host_alive; }
  friend class UdpHost;
  asio::any_io_executor ex_;
  std::shared_ptr<UdpHost::StreamState> st_;
};

// Streams other peers open towards this host (all connections, one queue).
class UdpAcceptor {
 public:
  explicit UdpAcceptor(UdpHost& host) : host_(&host) { host_->accept_open_ = true; }
  UdpAcceptor(UdpAcceptor&& o) noexcept : host_(std::exchange(o.host_, nullptr)) {}
  UdpAcceptor& operator=(UdpAcceptor&& o) noexcept {
    if (this != &o) {
      close();
      host_ = std::exchange(o.host_, nullptr);
    }
    return *this;
  }
  ~UdpAcceptor() { close(); }

  template <class Token>
  auto async_accept(UdpStream& target, Token&& token) {
    return asio::async_initiate<Token, void(asio::error_code)>(
        [this, &target](auto handler) {
          auto ex = host_ ? host_->io().get_executor() : target.get_executor();
          auto adapter = [h = std::move(handler)](asio::error_code ec, std::size_t) mutable { std::move(h)(ec); };
          auto op = udp_detail::make_op(std::move(adapter), ex);
          if (!host_) return op->complete(asio::error::bad_descriptor, 0);
          host_->pending_accepts_.push_back(UdpHost::PendingAccept{&target, std::move(op)});
          host_->complete_accepts();
        },
        token);
  }

  bool is_open() const { return host_ != nullptr; }
  void close() {
    if (!host_) return;
    host_->accept_open_ = false;
    host_->fail_accepts(asio::error::operation_aborted);
    host_ = nullptr;
  }
  void close(asio::error_code& ec) {
    ec = {};
    close();
  }
  asio::ip::udp::endpoint local_endpoint() const { return host_ ? host_->local_endpoint() : asio::ip::udp::endpoint(); }

 private:
  UdpHost* host_;
};

inline void UdpHost::complete_accepts() {
  while (!pending_accepts_.empty() && !accepted_.empty()) {
    auto st = std::move(accepted_.front());
    accepted_.pop_front();
    if (st->closed || st->error) continue;
    auto p = std::move(pending_accepts_.front());
    pending_accepts_.pop_front();
    p.target->close();
    p.target->st_ = std::move(st);
    p.op->complete({}, 0);
  }
}

// The transport traits (concept.hpp). The process's UdpHost must exist (made by main) before use.
struct Udp {
  using stream = UdpStream;
  using acceptor = UdpAcceptor;
  using endpoint = UdpEndpoint;
  static constexpr std::string_view name = "udp";

  static UdpHost& host(const asio::any_io_executor& ex) {
    UdpHost* h = UdpHost::of(ex);
    if (!h) throw std::logic_error("no UdpHost was created for this io_context");
    return *h;
  }

  static acceptor listen(const asio::any_io_executor& ex, const endpoint& at) {
    UdpHost& h = host(ex);
    h.bind(at.udp());
    return acceptor(h);
  }

  static asio::awaitable<stream> connect(endpoint to, std::optional<asio::ip::address> from) {
    auto ex = co_await asio::this_coro::executor;
    auto st = co_await host(ex).open_stream(to, from);
    co_return stream(ex, std::move(st));
  }

  static void prepare_accepted(stream&) {}
  static std::string remote_ip(const stream& s) { return s.remote_endpoint().address().to_string(); }
  static std::string local_ip(const stream& s) { return s.local_address().to_string(); }
  // The peer's proven static key as base64url text ("" if none).
  static std::string remote_key(const stream& s) {
    auto* k = s.remote_key();
    return k ? secure::to_text(*k) : std::string();
  }
};

}  // namespace pdtp::transport
