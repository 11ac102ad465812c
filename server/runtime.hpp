// dstream's network runtime, written once over the transport concept: control connections drive
// the pure server core; the HTTP port serves the status page and the server's own file service.
// Plain TCP (control port + HTTP port) and encrypted UDP (one socket on the control port number,
// carrying control and file-service streams alike) feed the same core, so one swarm mixes both.
#pragma once

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <asio.hpp>

#include "catalog.hpp"
#include "pdtp/core/server.hpp"
#include "pdtp/http/peer.hpp"
#include "pdtp/http/range_header.hpp"
#include "pdtp/transport/buffer.hpp"
#include "pdtp/transport/concept.hpp"
#include "pdtp/transport/stream_io.hpp"
#include "pdtp/transport/tcp.hpp"
#include "pdtp/transport/udp.hpp"
#include "setting_values.hpp"
#include "settings.hpp"
#include "status.hpp"

namespace pdtp::server {

// Log lines go to stderr; `quiet` keeps only start-up and errors.
class Log {
 public:
  explicit Log(bool quiet) : quiet_(quiet) {}
  template <class... A>
  void info(const char* fmt, A... a) const {
    if (!quiet_) line(fmt, a...);
  }
  template <class... A>
  void always(const char* fmt, A... a) const {
    line(fmt, a...);
  }

 private:
  template <class... A>
  static void line(const char* fmt, A... a) {
    std::fprintf(stderr, "dstream: ");
    if constexpr (sizeof...(A) == 0)
      std::fputs(fmt, stderr);
    else
      std::fprintf(stderr, fmt, a...);
    std::fputc('\n', stderr);
  }
  bool quiet_;
};

class ServerRuntime {
 public:
  // `udp`: the process's UDP host (its key is the server's identity), or nullptr for TCP only.
  ServerRuntime(asio::io_context& io, const ServerSettings& settings, DirectoryCatalog& catalog,
                transport::UdpHost* udp = nullptr)
      : io_(io),
        settings_(settings),
        catalog_(catalog),
        udp_(udp),
        core_(make_core_config(settings, udp), catalog),
        timer_(io),
        log_(settings.quiet),
        started_(std::chrono::steady_clock::now()) {}

  // Bind both ports (throws asio::system_error naming nothing; the caller reports it) and start serving.
  void start() {
    auto addr = asio::ip::make_address(settings_.host);
    if (settings_.uses_tcp()) {
      control_ = std::make_unique<asio::ip::tcp::acceptor>(transport::Tcp::listen(io_.get_executor(), {addr, settings_.port}));
      asio::co_spawn(io_, accept_control(), asio::detached);
    }
    if (udp_) {
      udp_control_.emplace(transport::Udp::listen(io_.get_executor(), {addr, settings_.port}));
      asio::co_spawn(io_, accept_udp(), asio::detached);
    }
    http_ = std::make_unique<asio::ip::tcp::acceptor>(
        transport::Tcp::listen(io_.get_executor(), {addr, settings_.http_port()}));
    asio::co_spawn(io_, accept_http(), asio::detached);
  }

  std::uint16_t control_port() const {
    return control_ ? control_->local_endpoint().port() : udp_control_->local_endpoint().port();
  }
  std::uint16_t http_port() const { return http_->local_endpoint().port(); }
  void stop() {
    asio::error_code ec;
    if (control_) control_->close(ec);
    if (udp_control_) udp_control_->close(ec);
    if (http_) http_->close(ec);
    for (auto& [id, c] : conns_) c->close();
    timer_.cancel();
  }

 private:
  // A control connection over either transport: what drain() and the read loop need of it.
  struct ControlConn {
    virtual ~ControlConn() = default;
    virtual void push(std::string_view bytes) = 0;
    virtual void close_after_flush() = 0;
    virtual void close() = 0;
    virtual std::size_t queued_bytes() const = 0;
    // Over udp: where the peer's connection is, and its key (pushes open a stream there).
    virtual std::optional<transport::UdpEndpoint> udp_peer() const { return std::nullopt; }
    std::string remote;
    bool closed = false;
  };
  template <class Stream>
  struct ControlConnOver final : ControlConn {
    explicit ControlConnOver(Stream s) : stream(std::move(s)) {}
    void push(std::string_view bytes) override { out->push(bytes); }
    void close_after_flush() override { out->close_after_flush(); }
    void close() override {
      asio::error_code ig;
      stream.close(ig);
    }
    std::size_t queued_bytes() const override { return out->queued_bytes(); }
    std::optional<transport::UdpEndpoint> udp_peer() const override {
      if constexpr (std::is_same_v<Stream, transport::UdpStream>) {
        const auto* key = stream.remote_key();
        if (!key) return std::nullopt;
        const auto at = stream.remote_endpoint();
        return transport::UdpEndpoint(at.address(), at.port(), *key);
      } else {
        return std::nullopt;
      }
    }
    Stream stream;
    std::shared_ptr<transport::Outbox<Stream>> out;
  };

  static core::ServerConfig make_core_config(const ServerSettings& s, transport::UdpHost* udp) {
    core::ServerConfig c;
    c.file_service_port = s.uses_tcp() ? s.http_port() : 0;
    if (udp) {
      c.udp_file_service_port = s.port;  // the UDP socket serves files too (see accept_udp)
      c.server_public_key = secure::to_text(udp->public_key());
    }
    c.require_encryption = s.require_encryption;
    c.peer_upload_slots = s.peer_upload_slots;
    c.peer_download_slots = s.peer_download_slots;
    c.file_service_slots = s.file_service_slots;
    c.transfer_timeout = std::chrono::milliseconds(s.transfer_timeout_ms);
    c.seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return c;
  }

  static core::TimePoint now() { return core::Clock::now(); }
  static constexpr std::chrono::seconds kFirstFrameTimeout{30};
  static constexpr std::size_t kMaxQueuedReplyBytes = 4 << 20;

  asio::awaitable<void> accept_control() {
    for (;;) {
      asio::error_code ec;
      asio::ip::tcp::socket s(io_);
      co_await control_->async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !control_->is_open()) co_return;
        log_.info("accept failed: %s", ec.message().c_str());
        co_await pause_after_accept_error();
        continue;
      }
      transport::Tcp::prepare_accepted(s);
      start_control<transport::Tcp>(std::move(s), core::PeerLink{}, {});
    }
  }

  // Streams opened over UDP carry either PDTP control frames (a 2-byte length: its first byte is below
  // 'A' for any frame under 16 kB, and the first frame, register, is far shorter) or peer HTTP (a
  // request: its first byte is a method's capital letter).
  asio::awaitable<void> accept_udp() {
    for (;;) {
      asio::error_code ec;
      transport::UdpStream s(io_);
      co_await udp_control_->async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !udp_control_->is_open()) co_return;
        continue;
      }
      asio::co_spawn(io_, sort_udp_stream(std::move(s)), asio::detached);
    }
  }

  asio::awaitable<void> sort_udp_stream(transport::UdpStream s) {
    char first[4096];
    asio::error_code ec;
    std::size_t n = 0;
    {
      transport::Watchdog dog(io_.get_executor(), kFirstFrameTimeout, [&s] {
        asio::error_code ig;
        s.close(ig);
      });
      n = co_await s.async_read_some(asio::buffer(first), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec || n == 0) co_return;
    std::string initial(first, n);
    if (static_cast<unsigned char>(first[0]) >= 'A') {
      co_await http_session(std::move(s), std::move(initial));
      co_return;
    }
    core::PeerLink link{core::LinkTransport::udp, transport::Udp::remote_key(s)};
    start_control<transport::Udp>(std::move(s), std::move(link), std::move(initial));
  }

  template <class T>
  void start_control(typename T::stream s, core::PeerLink link, std::string initial) {
    using Stream = typename T::stream;
    auto conn = std::make_shared<ControlConnOver<Stream>>(std::move(s));
    conn->out = std::make_shared<transport::Outbox<Stream>>(conn->stream, std::weak_ptr<void>(conn));
    conn->remote = T::remote_ip(conn->stream);
    core::ConnId id = next_conn_++;
    conns_.emplace(id, conn);
    log_.info("control connection %llu from %s over %s", static_cast<unsigned long long>(id), conn->remote.c_str(),
              std::string(T::name).c_str());
    core_.on_connect(id, conn->remote, T::local_ip(conn->stream), now(), std::move(link));
    drain();
    asio::co_spawn(io_, read_control<Stream>(id, conn, std::move(initial)), asio::detached);
  }

  // Out of file descriptors (or similar): wait a little instead of spinning on accept.
  asio::awaitable<void> pause_after_accept_error() {
    asio::steady_timer t(io_, std::chrono::milliseconds(100));
    asio::error_code ig;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ig));
  }

  template <class Stream>
  asio::awaitable<void> read_control(core::ConnId id, std::shared_ptr<ControlConnOver<Stream>> conn,
                                     std::string initial) {
    char buf[16384];
    if (!initial.empty()) {
      core_.on_data(id, initial, now());
      drain();
    }
    // A connection that says nothing is closed; once it has spoken it may stay idle for ever.
    std::optional<transport::Watchdog> silent;
    if (initial.empty())
      silent.emplace(io_.get_executor(), kFirstFrameTimeout, [conn] {
        asio::error_code ig;
        conn->stream.close(ig);
      });
    for (;;) {
      asio::error_code ec;
      std::size_t n =
          co_await conn->stream.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec || conn->closed) break;
      silent.reset();
      core_.on_data(id, std::string_view(buf, n), now());
      drain();
      if (conn->out->queued_bytes() > kMaxQueuedReplyBytes) {
        log_.always("closing control connection %llu (%s): it does not read its replies",
                    static_cast<unsigned long long>(id), conn->remote.c_str());
        break;
      }
    }
    if (conns_.erase(id)) {
      log_.info("control connection %llu from %s closed", static_cast<unsigned long long>(id), conn->remote.c_str());
      core_.on_disconnect(id, now());
      drain();
    }
    // Whatever is still queued goes out first, then the close (a client that half-closed waits for
    // it); a peer that never reads what is queued is cut off after a grace period.
    if (conn->out->queued_bytes() == 0) {
      asio::error_code ig;
      conn->stream.close(ig);
    } else {
      conn->out->close_after_flush();
      auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(10));
      grace->async_wait([conn, grace](const asio::error_code&) {
        asio::error_code ig;
        conn->stream.close(ig);
      });
    }
  }

  // Carry out what the core asked for, then re-arm its timer.
  void drain() {
    core::ServerAction action;
    while (core_.poll_action(action)) {
      if (auto* send = std::get_if<core::SendFrame>(&action)) {
        auto it = conns_.find(send->conn);
        if (it != conns_.end()) it->second->push(send->bytes);
      } else if (auto* close = std::get_if<core::CloseConn>(&action)) {
        auto it = conns_.find(close->conn);
        if (it != conns_.end()) {
          log_.info("closing control connection %llu (%s)", static_cast<unsigned long long>(close->conn),
                    it->second->remote.c_str());
          it->second->closed = true;
          it->second->close_after_flush();
        }
      } else if (auto* push = std::get_if<core::PushChunk>(&action)) {
        auto it = conns_.find(push->conn);
        std::optional<transport::UdpEndpoint> to;
        if (it != conns_.end()) to = it->second->udp_peer();
        if (to)
          asio::co_spawn(io_, push_chunk(std::move(*push), *to), asio::detached);
        else
          failed_pushes_.push_back(std::move(*push));  // reported below, outside this loop
      }
    }
    // A push to a connection that is gone or not udp: its transfer fails, which may reschedule.
    if (!failed_pushes_.empty()) {
      for (auto& f : std::exchange(failed_pushes_, {})) core_.on_push_failed(f.conn, f.path, f.range, now());
      drain();
      return;
    }
    rearm_timer();
  }

  // The file service pushing a chunk to a udp peer (core::PushChunk): a PUT on a new stream of the
  // connection the peer's control stream runs on, so the peer need not ask for it (spec/pdtp.md 16).
  asio::awaitable<void> push_chunk(core::PushChunk p, transport::UdpEndpoint to) {
    std::string why;
    const bool ok = co_await push_chunk_once(p, to, why);
    if (ok) co_return;
    log_.info("push of %s bytes %llu-%llu to %s failed: %s", p.path.c_str(), static_cast<unsigned long long>(p.range.min),
              static_cast<unsigned long long>(p.range.max), to.address.to_string().c_str(), why.c_str());
    core_.on_push_failed(p.conn, p.path, p.range, now());
    drain();
  }

  asio::awaitable<bool> push_chunk_once(const core::PushChunk& p, const transport::UdpEndpoint& to, std::string& why) {
    auto file = catalog_.open(p.path);
    if (!file || p.range.max >= file->size) {
      why = "the file changed";
      co_return false;
    }
    std::optional<transport::UdpStream> s;
    try {
      s.emplace(co_await transport::Udp::connect(to, std::nullopt));
    } catch (const std::exception& e) {
      why = e.what();
      co_return false;
    }
    transport::Watchdog dog(io_.get_executor(), kFirstFrameTimeout, [&s] {
      asio::error_code ig;
      s->close(ig);
    });
    std::string head = http::make_peer_request(TransferMethod::put, to.address.to_string(), p.path, p.range,
                                               server_peer_id, p.range.size());
    if (p.hash) head.insert(head.size() - 2, std::string(http::chunk_hash_header) + ": " + *p.hash + "\r\n");
    asio::error_code ec;
    if (!co_await transport::write_all(*s, asio::buffer(head), ec) || !co_await send_file_range(*s, file->fd, p.range)) {
      why = ec ? ec.message() : "send failed";
      co_return false;
    }
    std::string buf;
    auto reply = co_await transport::read_head(*s, buf, http::HttpLimits{}, ec);
    if (!reply) {
      why = reply.error().message;
      co_return false;
    }
    auto status = http::parse_response_head(std::string_view(buf).substr(0, *reply));
    if (!status || status->status / 100 != 2) {
      why = status ? "the peer answered " + std::to_string(status->status) : status.error().message;
      co_return false;
    }
    asio::error_code ig;
    s->close(ig);
    co_return true;
  }

  void rearm_timer() {
    auto next = core_.next_timeout();
    if (!next) return;
    if (timer_armed_ && armed_for_ <= *next) return;
    timer_armed_ = true;
    armed_for_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      timer_armed_ = false;
      core_.on_timeout(now());
      drain();
    });
  }

  // ---- HTTP: status page and the file service ----

  asio::awaitable<void> accept_http() {
    for (;;) {
      asio::error_code ec;
      asio::ip::tcp::socket s(io_);
      co_await http_->async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !http_->is_open()) co_return;
        co_await pause_after_accept_error();
        continue;
      }
      transport::Tcp::prepare_accepted(s);
      asio::co_spawn(io_, http_session(std::move(s), std::string()), asio::detached);
    }
  }

  // Writes a whole response; true if the connection may carry another request. An error status
  // ends the connection (whatever the client sent after its head is not trusted as a next request).
  template <class S>
  static asio::awaitable<bool> respond(S& s, int status, std::string_view content_type, std::string_view body,
                                       std::string_view extra_headers = {}, bool head_only = false) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
                       "\r\nContent-Type: " + std::string(content_type) +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\n" +
                       std::string(extra_headers) + (status >= 400 ? "Connection: close\r\n\r\n" : "\r\n");
    if (head_only) body = {};
    asio::error_code ec;
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body.data(), body.size())};
    bool written = co_await transport::write_all(s, bufs, ec);
    co_return written && status < 400;
  }

  StatusInfo status_info() {
    StatusInfo info;
    info.version = PDTP_VERSION;
    info.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    info.vhost = settings_.vhost;
    info.port = settings_.port;
    info.http_port = settings_.http_port();
    info.files_on_disk = catalog_.list();
    info.public_key = udp_ ? secure::to_text(udp_->public_key()) : std::string();
    info.transports = std::string(transports_text(settings_.transport));
    return info;
  }

  // `buf`: bytes already read from the stream (the start of its first request).
  template <class S>
  asio::awaitable<void> http_session(S s, std::string buf) {
    const http::HttpLimits limits;
    transport::Watchdog dog(s.get_executor(), std::chrono::seconds(30), [&s] {
      asio::error_code ig;
      s.close(ig);
    });
    for (;;) {
      asio::error_code ec;
      auto head_len = co_await transport::read_head(s, buf, limits, ec);
      if (!head_len) {
        if (!ec && head_len.error().code != Errc::incomplete) {
          int st = http::status_for(head_len.error());
          co_await respond(s, st, "text/plain", std::string(head_len.error().message) + "\n");
        }
        co_return;
      }
      dog.arm();
      auto head = http::parse_request_head(std::string_view(buf).substr(0, *head_len), limits);
      buf.erase(0, *head_len);
      if (!head) {
        co_await respond(s, http::status_for(head.error()), "text/plain", head.error().message + "\n");
        co_return;
      }
      // Keep-alive for HTTP/1.1 requests without a body (a body we did not read must not be taken
      // for the next request) unless the client asked to close.
      bool keep = head->version_minor >= 1 && !head->header("Content-Length") && !head->header("Transfer-Encoding");
      if (auto c = head->header("Connection")) {
        std::string v(*c);
        for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        keep = keep && v.find("close") == std::string::npos;
      }
      bool ok = co_await route(s, *head, buf);
      if (!ok || !keep) co_return;
    }
  }

  template <class S>
  asio::awaitable<bool> route(S& s, const http::RequestHead& head, std::string& buf) {
    const std::string& t = head.target;
    if (head.method == "GET" || head.method == "HEAD") {
      const bool head_only = head.method == "HEAD";
      if (t == "/" || t == "/status")
        co_return co_await respond(s, 301, "text/plain", "see /status/\n", "Location: /status/\r\n", head_only);
      if (t == "/status/" || t == "/status/index.html")
        co_return co_await respond(s, 200, "text/html; charset=utf-8",
                                   render_status_html(core_.snapshot(now()), status_info()), {}, head_only);
      if (t == "/status.json")
        co_return co_await respond(s, 200, "application/json", render_status_json(core_.snapshot(now()), status_info()),
                                   {}, head_only);
      if (t == "/metrics")
        co_return co_await respond(s, 200, "text/plain; version=0.0.4",
                                   render_metrics(core_.snapshot(now()), status_info()), {}, head_only);
    }
    co_return co_await file_service(s, head, buf);
  }

  // The server as a peer that holds every file: GET with Range, authorized by the core.
  template <class S>
  asio::awaitable<bool> file_service(S& s, const http::RequestHead& head, std::string& buf) {
    auto req = http::interpret_peer_request(head);
    if (!req) co_return co_await respond(s, http::status_for(req.error()), "text/plain", req.error().message + "\n");
    if (req->method != TransferMethod::get)
      co_return co_await respond(s, 405, "text/plain", "the file service only answers GET\n", "Allow: GET\r\n");
    (void)buf;
    auto file = catalog_.open(req->path);
    if (!file) co_return co_await respond(s, 404, "text/plain", "no such file: " + req->path + "\n");
    if (!req->range_header) co_return co_await respond(s, 416, "text/plain", "a Range header is required\n");
    auto range = http::parse_range_header(*req->range_header, file->size);
    if (!range) co_return co_await respond(s, http::status_for(range.error()), "text/plain", range.error().message + "\n");
    auto verdict = core_.authorize_file_service(req->peer_id, req->path, *range, now(), remote_ip_of(s), remote_key_of(s));
    switch (verdict) {
      case core::FileServiceVerdict::ok: break;
      case core::FileServiceVerdict::unknown_file:
        co_return co_await respond(s, 404, "text/plain", "no such file: " + req->path + "\n");
      case core::FileServiceVerdict::bad_range:
        co_return co_await respond(s, 416, "text/plain", "range not servable\n");
      default:
        log_.info("file service refused %s %s to peer '%s'", req->path.c_str(), req->range_header->c_str(),
                  req->peer_id.c_str());
        co_return co_await respond(s, 403, "text/plain", "no transfer of this range was scheduled for this peer\n");
    }
    std::string out = http::make_response(206, server_peer_id, std::make_pair(*range, file->size), range->size());
    asio::error_code ec;
    if (!co_await transport::write_all(s, asio::buffer(out), ec)) co_return false;
    co_return co_await send_file_range(s, file->fd, *range);
  }

  static std::string remote_ip_of(const asio::ip::tcp::socket& s) { return transport::Tcp::remote_ip(s); }
  static std::string remote_ip_of(const transport::UdpStream& s) { return transport::Udp::remote_ip(s); }
  static std::string remote_key_of(const asio::ip::tcp::socket&) { return {}; }
  static std::string remote_key_of(const transport::UdpStream& s) { return transport::Udp::remote_key(s); }

  // Over an encrypted stream the bytes pass through user space to be sealed: read, then write.
  static asio::awaitable<bool> send_file_range(transport::UdpStream& s, int fd, ByteRange range) {
    std::vector<char> buf(std::min<std::uint64_t>(range.size(), 256 * 1024));
    std::uint64_t offset = range.min;
    std::uint64_t left = range.size();
    while (left > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
      ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) co_return false;  // the file shrank under us
      asio::error_code ec;
      if (!co_await transport::write_all(s, asio::buffer(buf.data(), static_cast<std::size_t>(n)), ec)) co_return false;
      offset += static_cast<std::uint64_t>(n);
      left -= static_cast<std::uint64_t>(n);
    }
    co_return true;
  }

  // The body straight from the page cache to the socket (sendfile), as static file servers do.
  static asio::awaitable<bool> send_file_range(asio::ip::tcp::socket& s, int fd, ByteRange range) {
    off_t offset = static_cast<off_t>(range.min);
    std::uint64_t left = range.size();
    asio::error_code nb;
    s.native_non_blocking(true, nb);
    if (nb) co_return false;
    while (left > 0) {
      ssize_t n = ::sendfile(s.native_handle(), fd, &offset, static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 << 30)));
      if (n > 0) {
        left -= static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        asio::error_code ec;
        co_await s.async_wait(asio::socket_base::wait_write, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return false;
        continue;
      }
      co_return false;  // the file shrank under us, or the peer went away
    }
    co_return true;
  }

  asio::io_context& io_;
  ServerSettings settings_;
  DirectoryCatalog& catalog_;
  std::vector<core::PushChunk> failed_pushes_;  // scratch for drain()
  transport::UdpHost* udp_;
  core::Server core_;
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  core::TimePoint armed_for_{};
  Log log_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<asio::ip::tcp::acceptor> control_;
  std::optional<transport::UdpAcceptor> udp_control_;
  std::unique_ptr<asio::ip::tcp::acceptor> http_;
  std::unordered_map<core::ConnId, std::shared_ptr<ControlConn>> conns_;
  core::ConnId next_conn_ = 1;
};

}  // namespace pdtp::server
