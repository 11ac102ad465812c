// dsclient's network runtime, written once over the transport concept. It drives the pure client
// core: one control connection to the server, outgoing transfers to peers, a listener that serves
// other peers, and the output (a .part file, or an in-order pipe).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <asio.hpp>

#include "output.hpp"
#include "pdtp/core/client.hpp"
#include "pdtp/core/sha256.hpp"
#include "pdtp/http/head.hpp"
#include "pdtp/http/peer.hpp"
#include "pdtp/http/range_header.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/transport/buffer.hpp"
#include "pdtp/transport/concept.hpp"
#include "pdtp/transport/stream_io.hpp"
#include "pdtp/transport/udp.hpp"
#include "known_hosts.hpp"
#include "pdtp/wire/url.hpp"
#include "progress.hpp"

namespace pdtp::client {

struct ClientOptions {
  std::string server_host;
  std::uint16_t server_port = 6086;
  std::string url;                        // wire name: http://host/path
  std::string path;                       // normalized path
  std::string output;                     // file name, or "-" for stdout
  std::optional<asio::ip::address> bind;  // local address for every socket
  std::uint16_t listen_port = 0;
  std::size_t window_chunks = 32;  // 8 MB ahead at the default chunk size; 64 took dsclient over 64 MB over udp
  bool seed = false;
  bool quiet = false;
  std::chrono::milliseconds io_timeout{30000};
  std::string transport = "udp";                     // "udp" (encrypted) or "tcp" (plain PDTP v2)
  std::optional<pdtp::secure::PublicKey> server_key;  // --server-key: pinned; else known_hosts decides
  std::filesystem::path known_hosts;                  // trust-on-first-use memory of server keys
};

template <transport::StreamTransport Transport>
class ClientRuntime {
  using Stream = typename Transport::stream;

 public:
  ClientRuntime(asio::io_context& io, ClientOptions opt, std::string client_id)
      : io_(io), opt_(std::move(opt)), client_id_(std::move(client_id)), core_(make_config()), timer_(io), linger_timer_(io),
        progress_(io, opt_.quiet) {}

  // Runs until the download completes (or, seeding, until stop()). Returns the process exit code.
  int run() {
    asio::co_spawn(io_, main_task(), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          fail(std::string("internal error: ") + ex.what());
        }
      }
    });
    io_.run();
    return exit_code_;
  }

  void stop() {
    if (finished_ && exit_code_ == 0) {
      shutdown();
      return;
    }
    fail("interrupted");
  }

 private:
  core::ClientConfig make_config() {
    core::ClientConfig c;
    c.client_id = client_id_;
    c.url = opt_.url;
    c.in_order = opt_.output == "-";
    c.window_chunks = opt_.window_chunks;
    c.seed = opt_.seed;
    in_order_ = c.in_order;
    return c;
  }
  static core::TimePoint now() { return core::Clock::now(); }
  // Any IPv4 address; any IPv6 address (which takes IPv4 peers too) for a server named by an IPv6
  // address: over UDP the listening socket is the one every connection sends from.
  asio::ip::address default_listen_address() const {
    asio::error_code ec;
    const auto server = asio::ip::make_address(opt_.server_host, ec);
    if (!ec && server.is_v6()) return asio::ip::address_v6::any();
    return asio::ip::address_v4::any();
  }

  asio::awaitable<void> main_task() {
    // Listen first: register carries our port.
    try {
      asio::ip::address listen_addr = opt_.bind ? *opt_.bind : default_listen_address();
      acceptor_.emplace(Transport::listen(io_.get_executor(), {listen_addr, opt_.listen_port}));
    } catch (const std::exception& e) {
      fail("cannot listen on port " + std::to_string(opt_.listen_port) + ": " + e.what());
      co_return;
    }
    listen_port_ = acceptor_->local_endpoint().port();
    asio::co_spawn(io_, accept_peers(), asio::detached);

    asio::error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    auto results = co_await resolver.async_resolve(opt_.server_host, std::to_string(opt_.server_port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      fail("cannot resolve server " + opt_.server_host + ": " + ec.message());
      co_return;
    }
    std::string last_error = "no address";
    for (const auto& r : results) {
      try {
        control_.emplace(co_await Transport::connect(r.endpoint(), opt_.bind));
        break;
      } catch (const std::exception& e) {
        last_error = e.what();
      }
    }
    if (!control_) {
      fail("cannot connect to server " + opt_.server_host + ":" + std::to_string(opt_.server_port) + ": " +
           last_error);
      co_return;
    }
    if constexpr (std::is_same_v<Transport, transport::Udp>) {
      if (!check_server_identity()) co_return;
    }
    verbose("connected to the server");
    control_owner_ = std::make_shared<int>(0);  // the control stream lives as long as this runtime
    out_ = std::make_shared<transport::Outbox<Stream>>(*control_, std::weak_ptr<void>(control_owner_));
    core_config_listen_port();
    if constexpr (std::is_same_v<Transport, transport::Udp>)
      core_.set_server_key(Transport::remote_key(*control_));  // the server's pushes come over this key
    core_.start(now());
    drain();
    progress_.start([this] { return progress_snapshot(); });

    char buf[16384];
    for (;;) {
      std::size_t n =
          co_await control_->async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      core_.on_control_data(std::string_view(buf, n), now());
      if (debug_ && core_.last_server_error() != last_error_seen_) {
        last_error_seen_ = core_.last_server_error();
        verbose("server says: %s", last_error_seen_.c_str());
      }
      drain();
      if (done_) co_return;
    }
    if (lingering_) {  // the server closed its side after our last reports
      shutdown();
      co_return;
    }
    if (!done_) {
      core_.on_control_closed(now());
      drain();
    }
    if (!done_ && finished_) {  // seeding, and the server is gone: nobody can be sent to us any more
      std::fprintf(stderr, "dsclient: server closed the connection; stopping\n");
      shutdown();
    }
  }

  // Over UDP the handshake proved the server's key: it must be the pinned one (--server-key), or the
  // one remembered for this server (trust on first use, as ssh does).
  bool check_server_identity() {
    const secure::PublicKey* seen = control_->remote_key();
    if (!seen) {
      fail("the server's key is unknown after the handshake");
      return false;
    }
    const std::string name = known_hosts_name(opt_.server_host, opt_.server_port);
    if (!opt_.server_key && opt_.known_hosts.empty()) {
      std::fprintf(stderr, "dsclient: warning: no known hosts file (HOME unset) and no --server-key: %s's key %s is "
                           "not checked\n", name.c_str(), secure::to_text(*seen).c_str());
      return true;
    }
    auto check = check_server_key(opt_.known_hosts, name, *seen, opt_.server_key);
    if (!check) {
      fail(check.error().message);
      return false;
    }
    if (check->verdict == ServerKeyCheck::mismatch) {
      std::string_view m = check->message;
      if (m.substr(0, 10) == "dsclient: ") m.remove_prefix(10);  // fail() says who speaks
      fail(std::string(m));
      return false;
    }
    if (check->verdict == ServerKeyCheck::first_use) std::fprintf(stderr, "%s\n", check->message.c_str());
    return true;
  }

  void core_config_listen_port() {
    // The core was built before we knew our port; rebuild its config with the bound port.
    core::ClientConfig c = make_config();
    c.listen_port = listen_port_;
    core_ = core::Client(c);
  }

  // ---- carrying out the core's actions ----

  void drain() {
    core::ClientAction a;
    while (!done_ && core_.poll_action(a)) {
      std::visit([this](auto& act) { handle(act); }, a);
    }
    rearm_timer();
  }

  void handle(core::SendControl& a) {
    if (out_) out_->push(a.bytes);
  }
  void handle(core::StartTransfer& a) {
    verbose("transfer %s chunk %llu with %s", a.method == TransferMethod::get ? "get" : "put",
            static_cast<unsigned long long>(a.chunk), a.peer_id.c_str());
    // Backpressure: while the pipe's reader is behind by a whole window, fetch nothing new.
    if (a.method == TransferMethod::get && in_order_ && stdout_queue_.size() >= opt_.window_chunks) {
      deferred_.push_back(std::move(a));
      return;
    }
    if (a.method == TransferMethod::get)
      asio::co_spawn(io_, run_get(std::move(a)), asio::detached);
    else
      asio::co_spawn(io_, run_put(std::move(a)), asio::detached);
  }
  void handle(core::ChunkVerified& a) {
    verbose("chunk %llu verified", static_cast<unsigned long long>(a.chunk));
    auto it = pending_.find(a.chunk);
    if (it == pending_.end()) return;
    if (in_order_) {
      held_[a.chunk] = std::move(it->second);
    } else {
      std::string err;
      auto r = core_.chunk_range(a.chunk);
      ensure_part();  // a chunk pushed by the server may come before any transfer of ours
      if (!part_ || !part_->write_at(r.min, it->second.data(), it->second.size(), err)) {
        pending_.erase(it);
        fail(err.empty() ? "no output file" : err);
        return;
      }
    }
    pending_.erase(a.chunk);
  }
  void handle(core::ChunkRejected& a) { pending_.erase(a.chunk); }
  void handle(core::EmitChunk& a) {
    auto it = held_.find(a.chunk);
    if (it == held_.end()) {
      fail("internal error: chunk " + std::to_string(a.chunk) + " to write is not held");
      return;
    }
    verbose("chunk %llu to standard output", static_cast<unsigned long long>(a.chunk));
    stdout_queue_.push_back(std::move(it->second));
    held_.erase(it);
    write_stdout();
  }
  void handle(core::IncomingDecision& a) {
    auto it = decisions_.find(a.token);
    if (it == decisions_.end()) return;
    it->second->authorized = a.authorized;
    it->second->timer.cancel();
  }
  void handle(core::DownloadComplete&) {
    finished_ = true;
    idle_.clear();  // nothing more to fetch
    idle_count_ = 0;
    if (!in_order_) {
      std::string err;
      if (core_.file_size() == 0 && !part_) ensure_part();
      if (part_ && !part_->finish(err)) {
        fail(err);
        return;
      }
    }
    maybe_exit();
  }
  void handle(core::DownloadFailed& a) { fail(a.reason); }

  void ensure_part() {
    if (part_ || in_order_ || !core_.has_info()) return;
    std::string err;
    part_ = PartFile::create(opt_.output, core_.file_size(), err);
    if (!part_) fail(err);
  }

  void rearm_timer() {
    auto next = core_.next_timeout();
    if (!next || done_) return;
    timer_.expires_at(*next);
    timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || done_) return;
      core_.on_timeout(now());
      drain();
    });
  }

  // ---- outgoing transfers ----

  asio::awaitable<void> run_get(core::StartTransfer t) {
    ensure_part();
    std::string reason;
    transport::AlignedBuffer data;
    Sha256Hex hash;
    bool ok = co_await fetch(t, data, hash, reason);
    if (done_) co_return;
    if (ok && (pending_.count(t.chunk) || core_.holds(t.chunk))) {
      ok = false;
      reason = "duplicate transfer of chunk " + std::to_string(t.chunk);
    }
    if (ok) {
      verbose("chunk %llu received from %s", static_cast<unsigned long long>(t.chunk), t.peer_id.c_str());
      pending_.emplace(t.chunk, std::move(data));
      if (t.peer_id == server_peer_id) bytes_from_server_ += t.range.size();
      core_.on_transfer_received(t.id, std::move(hash), now());
    } else {
      verbose("transfer of chunk %llu from %s failed: %s", static_cast<unsigned long long>(t.chunk),
              t.peer_id.c_str(), reason.c_str());
      core_.on_transfer_failed(t.id, reason, now());
    }
    drain();
  }

  // How one GET on one connection ended.
  enum class Fetched { kept_alive, closed, failed, stale };

  asio::awaitable<bool> fetch(const core::StartTransfer& t, transport::AlignedBuffer& data, Sha256Hex& hash,
                              std::string& reason) {
    PeerKey key{t.host, t.port};
    // Over UDP a stream costs nothing to open and streams go out lowest id first, so each GET gets a
    // fresh stream: the chunks then arrive in the order they were asked for. (A kept stream would
    // carry its old, low id and jump the queue.) Over TCP a kept connection saves a handshake.
    constexpr bool keep_streams = !std::is_same_v<Transport, transport::Udp>;
    for (;;) {
      std::optional<Stream> s;
      if constexpr (keep_streams) s = take_idle(key);
      const bool reused = s.has_value();
      if (!reused) s = co_await connect_peer(t, reason);
      if (!s) co_return false;
      switch (co_await fetch_on(*s, t, data, hash, reason)) {
        case Fetched::kept_alive:
          if constexpr (keep_streams) give_back(key, std::move(*s));
          co_return true;
        case Fetched::closed: co_return true;
        case Fetched::stale:
          if (reused) continue;  // the peer had closed the kept connection: ask again on another one
          co_return false;
        case Fetched::failed: co_return false;
      }
    }
  }

  // One GET on `s`: the body into `data`, hashed as it arrives.
  asio::awaitable<Fetched> fetch_on(Stream& s, const core::StartTransfer& t, transport::AlignedBuffer& data,
                                    Sha256Hex& hash, std::string& reason) {
    transport::Watchdog dog(io_.get_executor(), opt_.io_timeout, [&s] {
      asio::error_code ig;
      s.close(ig);
    });
    asio::error_code ec;
    std::string req = http::make_peer_request(TransferMethod::get, url_host(t.url), opt_.path, t.range, client_id_, 0);
    if (!co_await transport::write_all(s, asio::buffer(req), ec)) {
      reason = "send failed: " + ec.message();
      co_return Fetched::stale;
    }
    std::string buf;
    auto head_len = co_await transport::read_head(s, buf, http::HttpLimits{}, ec);
    if (!head_len) {
      reason = dog.fired() ? "timed out" : head_len.error().message;
      co_return buf.empty() && !dog.fired() ? Fetched::stale : Fetched::failed;
    }
    auto head = http::parse_response_head(std::string_view(buf).substr(0, *head_len));
    buf.erase(0, *head_len);
    if (!head) {
      reason = "bad response: " + head.error().message;
      co_return Fetched::failed;
    }
    if (head->status != 206 && head->status != 200) {
      reason = "peer answered " + std::to_string(head->status) + " " + head->reason;
      co_return Fetched::failed;
    }
    if (auto cr = head->header("Content-Range")) {
      auto parsed = http::parse_content_range(*cr);
      if (!parsed || parsed->range != t.range) {
        reason = "peer sent the wrong range (" + std::string(*cr) + ")";
        co_return Fetched::failed;
      }
    }
    auto cl = head->header("Content-Length");
    auto length = cl ? http::parse_content_length(*cl) : Result<std::uint64_t>(Errc::missing_field, "no length");
    if (!length || *length != t.range.size()) {
      reason = "peer sent a body of the wrong length";
      co_return Fetched::failed;
    }
    data = transport::AlignedBuffer(t.range.size());
    dog.arm();
    Sha256 hasher;
    auto hash_piece = [&hasher](const char* p, std::size_t n) { hasher.update(p, n); };
    if (!co_await transport::read_exact_each(s, buf, data.data(), data.size(), ec, hash_piece)) {
      reason = dog.fired() ? "timed out" : "connection lost: " + ec.message();
      co_return Fetched::failed;
    }
    hash = hasher.final_hex();
    dog.disarm();
    bool keep = head->version_minor >= 1 && buf.empty() && !dog.fired();
    if (auto c = head->header("Connection")) keep = keep && c->find("close") == std::string_view::npos;
    co_return keep ? Fetched::kept_alive : Fetched::closed;
  }

  // ---- kept-alive connections for GETs (the file service answers many requests on one) ----

  using PeerKey = std::pair<std::string, std::uint16_t>;  // address, port
  struct IdleConn {
    Stream stream;
    std::chrono::steady_clock::time_point since;
  };
  static constexpr std::size_t max_idle_per_peer = 8;  // the server's peer_download_slots
  static constexpr std::size_t max_idle_total = 32;
  static constexpr std::chrono::seconds max_idle_for{5};  // well before the file service drops it (30 s)

  std::optional<Stream> take_idle(const PeerKey& key) {
    drop_expired_idle();
    auto it = idle_.find(key);
    if (it == idle_.end()) return std::nullopt;
    std::optional<Stream> s(std::move(it->second.back().stream));
    it->second.pop_back();
    --idle_count_;
    if (it->second.empty()) idle_.erase(it);
    return s;
  }

  void give_back(const PeerKey& key, Stream s) {
    if (done_ || finished_) return;
    drop_expired_idle();
    auto& list = idle_[key];
    if (list.size() >= max_idle_per_peer || idle_count_ >= max_idle_total) return;  // closed as `s` goes
    list.push_back(IdleConn{std::move(s), std::chrono::steady_clock::now()});
    ++idle_count_;
  }

  void drop_expired_idle() {
    const auto oldest = std::chrono::steady_clock::now() - max_idle_for;
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& list = it->second;
      while (!list.empty() && list.front().since < oldest) {
        list.pop_front();
        --idle_count_;
      }
      it = list.empty() ? idle_.erase(it) : std::next(it);
    }
  }

  asio::awaitable<void> run_put(core::StartTransfer t) {
    std::string reason;
    bool ok = co_await push(t, reason);
    if (done_) co_return;
    if (ok)
      core_.on_transfer_sent(t.id, now());
    else
      core_.on_transfer_failed(t.id, reason, now());
    drain();
  }

  asio::awaitable<bool> push(const core::StartTransfer& t, std::string& reason) {
    transport::AlignedBuffer data(t.range.size());
    if (!read_held(t.chunk, t.range, data)) {
      reason = "chunk " + std::to_string(t.chunk) + " is not held";
      co_return false;
    }
    auto s = co_await connect_peer(t, reason);
    if (!s) co_return false;
    transport::Watchdog dog(io_.get_executor(), opt_.io_timeout, [&s] {
      asio::error_code ig;
      s->close(ig);
    });
    asio::error_code ec;
    std::string req =
        http::make_peer_request(TransferMethod::put, url_host(t.url), opt_.path, t.range, client_id_, data.size());
    std::array<asio::const_buffer, 2> bufs{asio::buffer(req), asio::buffer(data.data(), data.size())};
    if (!co_await transport::write_all(*s, bufs, ec)) {
      reason = "send failed: " + ec.message();
      co_return false;
    }
    std::string buf;
    auto head_len = co_await transport::read_head(*s, buf, http::HttpLimits{}, ec);
    if (!head_len) {
      reason = head_len.error().message;
      co_return false;
    }
    auto head = http::parse_response_head(std::string_view(buf).substr(0, *head_len));
    if (!head || head->status / 100 != 2) {
      reason = head ? "peer answered " + std::to_string(head->status) : head.error().message;
      co_return false;
    }
    co_return true;
  }

  asio::awaitable<std::optional<Stream>> connect_peer(const core::StartTransfer& t, std::string& reason) {
    asio::error_code ec;
    auto addr = asio::ip::make_address(t.host, ec);
    if (ec) {
      reason = "bad peer address '" + t.host + "'";
      co_return std::nullopt;
    }
    try {
      if constexpr (std::is_same_v<Transport, transport::Udp>) {
        // Only the peer the server named may answer: its key comes with the transfer.
        auto key = secure::parse_public_key(t.peer_key);
        if (!key) {
          reason = "the server named no valid key for peer " + t.peer_id;
          co_return std::nullopt;
        }
        co_return co_await Transport::connect(transport::UdpEndpoint(addr, t.port, *key), opt_.bind);
      } else {
        co_return co_await Transport::connect({addr, t.port}, opt_.bind);
      }
    } catch (const std::exception& e) {
      reason = "cannot connect to " + t.host + ":" + std::to_string(t.port) + ": " + e.what();
      co_return std::nullopt;
    }
  }

  static std::string url_host(std::string_view url) {
    auto u = parse_http_url(url);
    return u ? u->host : std::string();
  }

  // Bytes of a chunk we hold: from memory (pipe window) or from the .part file.
  bool read_held(ChunkIndex chunk, ByteRange r, transport::AlignedBuffer& out) {
    if (!core_.holds(chunk)) return false;
    if (in_order_) {
      auto it = held_.find(chunk);
      if (it == held_.end() || it->second.size() != out.size()) return false;
      std::memcpy(out.data(), it->second.data(), out.size());
      return true;
    }
    return part_ && part_->read_at(r.min, out.data(), out.size());
  }

  // ---- serving other peers ----

  struct Decision {
    explicit Decision(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::optional<bool> authorized;
  };

  asio::awaitable<void> accept_peers() {
    for (;;) {
      asio::error_code ec;
      Stream s(io_);
      co_await acceptor_->async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_->is_open()) co_return;
        continue;
      }
      Transport::prepare_accepted(s);
      asio::co_spawn(io_, serve_peer(std::move(s)), asio::detached);
    }
  }

  template <class S>
  static asio::awaitable<void> reply(S& s, int status, std::string_view text) {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) +
                       "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(text.size()) +
                       "\r\nConnection: close\r\n\r\n" + std::string(text);
    asio::error_code ec;
    co_await transport::write_all(s, asio::buffer(head), ec);
  }

  // Ends a stream so that what we wrote but the peer has not received is dropped, not delivered.
  static void abort_stream(Stream& s) {
    if constexpr (std::is_same_v<Transport, transport::Udp>) {
      s.abort();
    } else {
      asio::error_code ig;
      s.set_option(asio::socket_base::linger(true, 0), ig);  // close with RST: unsent bytes go
      s.close(ig);
    }
  }

  asio::awaitable<void> serve_peer(Stream s) {
    transport::Watchdog dog(io_.get_executor(), opt_.io_timeout, [&s] {
      asio::error_code ig;
      s.close(ig);
    });
    // linger() cuts every exchange with a peer: the server forgets our transfers once we are gone.
    const std::uint64_t serving_id = next_serving_id_++;
    serving_.emplace(serving_id, [&s] { abort_stream(s); });
    struct Unregister {  // the frame may outlive the runtime (io_context teardown): check first
      std::weak_ptr<int> life;
      std::map<std::uint64_t, std::function<void()>>& m;
      std::uint64_t id;
      ~Unregister() {
        if (!life.expired()) m.erase(id);
      }
    } unregister{life_, serving_, serving_id};
    std::string buf;
    asio::error_code ec;
    auto head_len = co_await transport::read_head(s, buf, http::HttpLimits{}, ec);
    if (!head_len) {
      if (!ec && head_len.error().code != Errc::incomplete)
        co_await reply(s, http::status_for(head_len.error()), head_len.error().message + "\n");
      co_return;
    }
    auto head = http::parse_request_head(std::string_view(buf).substr(0, *head_len));
    buf.erase(0, *head_len);
    if (!head) {
      co_await reply(s, http::status_for(head.error()), head.error().message + "\n");
      co_return;
    }
    auto req = http::interpret_peer_request(*head);
    if (!req) {
      co_await reply(s, http::status_for(req.error()), req.error().message + "\n");
      co_return;
    }
    if (!core_.has_info() || req->path != opt_.path) {
      co_await reply(s, 404, "this peer does not serve " + req->path + "\n");
      co_return;
    }
    if (!req->range_header) {
      co_await reply(s, 416, "a Range header is required\n");
      co_return;
    }
    auto range = http::parse_range_header(*req->range_header, core_.file_size());
    if (!range) {
      co_await reply(s, http::status_for(range.error()), range.error().message + "\n");
      co_return;
    }
    std::string peer_ip = Transport::remote_ip(s);
    std::string peer_key;
    if constexpr (std::is_same_v<Transport, transport::Udp>) peer_key = Transport::remote_key(s);
    verbose("incoming %s of bytes %llu-%llu from %s", req->method == TransferMethod::put ? "PUT" : "GET",
            static_cast<unsigned long long>(range->min), static_cast<unsigned long long>(range->max), req->peer_id.c_str());
    auto token = core_.on_incoming_request(req->method, peer_ip, req->peer_id, req->path, *range, now(), peer_key);
    if (!token) {
      int st = token.error().message.empty() ? 404 : 404;
      switch (token.error().code) {
        case Errc::bad_range:
        case Errc::unaligned_range: st = 416; break;
        default: st = 404;
      }
      co_await reply(s, st, token.error().message + "\n");
      co_return;
    }
    auto decision = std::make_shared<Decision>(io_);
    decisions_.emplace(*token, decision);
    drain();
    if (!decision->authorized) {  // a push from the server is decided at once; others ask it
      decision->timer.expires_after(opt_.io_timeout);
      co_await decision->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    decisions_.erase(*token);
    if (done_) co_return;
    dog.arm();  // the wait for the server's answer does not count against the transfer
    if (!decision->authorized || !*decision->authorized) {
      co_await reply(s, 403, "the server did not authorize this transfer\n");
      co_return;
    }
    ChunkIndex chunk = range->min / core_.chunk_size();
    if (req->method == TransferMethod::get) {
      transport::AlignedBuffer data(range->size());
      if (!read_held(chunk, *range, data)) {
        co_await reply(s, 404, "chunk no longer held\n");
        co_return;
      }
      std::string out = http::make_response(206, client_id_, std::make_pair(*range, core_.file_size()), data.size());
      out.insert(out.size() - 2, "Connection: close\r\n");  // one request per connection here
      std::array<asio::const_buffer, 2> bufs{asio::buffer(out), asio::buffer(data.data(), data.size())};
      co_await transport::write_all(s, bufs, ec);
      co_return;
    }
    // PUT: another peer pushes a chunk we want.
    if (!req->content_length || *req->content_length != range->size()) {
      co_await reply(s, 400, "Content-Length must equal the range size\n");
      co_return;
    }
    // A pipe whose reader is a whole window behind takes no more bodies: the sender waits on the
    // stream's flow control, as a GET would wait to be started (handle(StartTransfer)).
    while (in_order_ && !done_ && stdout_queue_.size() >= opt_.window_chunks) {
      auto wait = std::make_shared<asio::steady_timer>(io_, opt_.io_timeout);
      output_waiters_.push_back(wait);
      co_await wait->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      dog.arm();
    }
    if (done_) co_return;
    transport::AlignedBuffer data(range->size());
    dog.arm();
    Sha256 hasher;
    auto hash_piece = [&hasher](const char* p, std::size_t n) { hasher.update(p, n); };
    if (!co_await transport::read_exact_each(s, buf, data.data(), data.size(), ec, hash_piece)) co_return;
    if (done_) co_return;
    if (pending_.count(chunk) || core_.holds(chunk)) {
      co_await reply(s, 409, "chunk already received\n");
      co_return;
    }
    Sha256Hex hash = hasher.final_hex();
    // The body is in: if this chunk completes the download, linger() must not cut our 201 (the
    // sender would take the push for failed, and the server would drop a transfer we report).
    serving_.erase(serving_id);
    pending_.emplace(chunk, std::move(data));
    std::optional<Sha256Hex> named;  // the core takes it only from the server's own push
    if (auto h = head->header(http::chunk_hash_header)) named = std::string(*h);
    core_.on_incoming_put_received(*token, std::move(hash), now(), std::move(named));
    drain();
    co_await reply(s, 201, "stored\n");
  }

  // ---- stdout (pipe) ----

  void wake_output_waiters() {
    for (auto& w : std::exchange(output_waiters_, {})) w->cancel();
  }

  void write_stdout() {
    while (!deferred_.empty() && stdout_queue_.size() < opt_.window_chunks) {
      asio::co_spawn(io_, run_get(std::move(deferred_.front())), asio::detached);
      deferred_.pop_front();
    }
    if (!stdout_busy_ && !stdout_queue_.empty() && is_seekable(STDOUT_FILENO)) {
      // A regular file cannot be polled: write it directly.
      while (!stdout_queue_.empty()) {
        auto& b = stdout_queue_.front();
        std::size_t done = 0;
        while (done < b.size()) {
          ssize_t w = ::write(STDOUT_FILENO, b.data() + done, b.size() - done);
          if (w < 0 && errno == EINTR) continue;
          if (w <= 0) {
            fail(std::string("cannot write to standard output: ") + std::strerror(errno));
            return;
          }
          done += static_cast<std::size_t>(w);
        }
        bytes_written_ += b.size();
        stdout_queue_.pop_front();
      }
      wake_output_waiters();
    }
    if (stdout_busy_ || stdout_queue_.empty()) {
      if (!stdout_busy_ && stdout_queue_.empty()) maybe_exit();
      return;
    }
    stdout_busy_ = true;
    if (!stdout_) {
      stdout_.emplace(io_);
      asio::error_code ec;
      // Asio makes the descriptor non-blocking, and that flag is shared with whoever else writes
      // to the same pipe or terminal: put it back when we are done (shutdown()).
      stdout_flags_ = ::fcntl(STDOUT_FILENO, F_GETFL);
      stdout_->assign(::dup(STDOUT_FILENO), ec);
      if (ec) {
        fail("cannot write to standard output: " + ec.message());
        return;
      }
    }
    asio::async_write(*stdout_, asio::buffer(stdout_queue_.front().data(), stdout_queue_.front().size()),
                      [this](const asio::error_code& ec, std::size_t n) {
                        stdout_busy_ = false;
                        if (ec) {
                          fail("cannot write to standard output: " + ec.message());
                          return;
                        }
                        bytes_written_ += n;
                        stdout_queue_.pop_front();
                        wake_output_waiters();
                        write_stdout();
                      });
  }

  // ---- ending ----

  void maybe_exit() {
    if (!finished_ || done_) return;
    if (in_order_ && (stdout_busy_ || !stdout_queue_.empty())) return;
    if (opt_.seed) {
      if (!announced_seed_) {
        announced_seed_ = true;
        progress_.finish(summary());
        std::fprintf(stderr, "dsclient: download complete; seeding until interrupted\n");
      }
      return;
    }
    progress_.finish(summary());
    linger();
  }

  // Done: the output's reader gets its end of file now. Our last `completed` reports (the server
  // credits their givers by them) must still reach the server: half-close the control connection
  // after them and stop when the server closes its side, or after linger_limit at most.
  void linger() {
    if (lingering_ || done_) return;
    lingering_ = true;
    release_stdout();
    // Serve no peer any more: once our control connection ends the server drops the transfers we
    // give, so a taker must fail now and fetch elsewhere rather than finish a transfer nobody counts.
    asio::error_code ig;
    if (acceptor_) acceptor_->close(ig);
    auto serving = std::exchange(serving_, {});
    for (auto& [id, cut] : serving) cut();
    if (!out_ || !control_) {
      shutdown();
      return;
    }
    out_->shutdown_after_flush();
    linger_timer_.expires_after(linger_limit);
    linger_timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec) shutdown();
    });
  }

  // Our copy of standard output is closed and fd 1 points at /dev/null, so a pipe's reader sees its
  // end of file while we linger.
  void release_stdout() {
    if (!in_order_) return;
    if (stdout_flags_ >= 0) ::fcntl(STDOUT_FILENO, F_SETFL, stdout_flags_);
    stdout_flags_ = -1;
    asio::error_code ig;
    if (stdout_) stdout_->close(ig);
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, STDOUT_FILENO);
      ::close(null);
    }
  }

  std::string summary() {
    const double total = static_cast<double>(core_.file_size());
    const double peers = static_cast<double>(core_.bytes_from_peers());
    char line[256];
    std::snprintf(line, sizeof line, "%s: %llu bytes, %.0f%% from peers",
                  opt_.output == "-" ? "stdout" : opt_.output.c_str(),
                  static_cast<unsigned long long>(core_.file_size()), total > 0 ? 100.0 * peers / total : 0.0);
    return line;
  }

  Progress::Snapshot progress_snapshot() const {
    return {core_.has_info() ? core_.file_size() : 0, core_.bytes_verified(), core_.bytes_from_peers()};
  }

  void fail(const std::string& reason) {
    if (done_) return;
    progress_.abort();
    std::fprintf(stderr, "dsclient: %s\n", reason.c_str());
    if (part_) part_->remove();
    exit_code_ = 1;
    shutdown();
  }

  void shutdown() {
    done_ = true;
    if (stdout_flags_ >= 0) ::fcntl(STDOUT_FILENO, F_SETFL, stdout_flags_);
    asio::error_code ig;
    if (acceptor_) acceptor_->close(ig);
    if (control_) control_->close(ig);
    timer_.cancel();
    linger_timer_.cancel();
    wake_output_waiters();
    progress_.stop();
    for (auto& [t, d] : decisions_) d->timer.cancel();
    if constexpr (std::is_same_v<Transport, transport::Udp>) {
      if (auto* host = transport::UdpHost::of(io_.get_executor())) host->close();
    }
    io_.stop();
  }

  template <class... A>
  void verbose(const char* fmt, A... a) {
    if (debug_) {
      const double ms = std::chrono::duration<double, std::milli>(core::Clock::now() - started_).count();
      std::fprintf(stderr, "dsclient: %9.1f ms: ", ms);
      std::fprintf(stderr, fmt, a...);
      std::fputc('\n', stderr);
    }
  }

  const bool debug_ = std::getenv("DSCLIENT_DEBUG") != nullptr;  // a timed trace of events on stderr
  std::string last_error_seen_;  // the trace shows each new non-fatal error from the server
  const core::TimePoint started_ = core::Clock::now();
  asio::io_context& io_;
  ClientOptions opt_;
  std::string client_id_;
  bool in_order_ = false;
  core::Client core_;
  asio::steady_timer timer_;
  asio::steady_timer linger_timer_;  // bounds the wait for the server's close at the end
  static constexpr std::chrono::seconds linger_limit{2};
  bool lingering_ = false;
  Progress progress_;
  std::optional<typename Transport::acceptor> acceptor_;
  std::uint16_t listen_port_ = 0;
  std::optional<Stream> control_;
  std::shared_ptr<void> control_owner_;
  std::shared_ptr<transport::Outbox<Stream>> out_;
  std::optional<PartFile> part_;
  std::unordered_map<ChunkIndex, transport::AlignedBuffer> pending_;  // received, awaiting hash_verify
  std::map<std::uint64_t, std::function<void()>> serving_;  // exchanges with peers in progress: how to cut each
  std::uint64_t next_serving_id_ = 1;
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // expires with the runtime
  std::vector<std::shared_ptr<asio::steady_timer>> output_waiters_;  // PUT bodies held back by a full pipe
  std::map<ChunkIndex, transport::AlignedBuffer> held_;               // pipe: verified, not yet written
  std::deque<transport::AlignedBuffer> stdout_queue_;
  std::deque<core::StartTransfer> deferred_;
  std::optional<asio::posix::stream_descriptor> stdout_;
  bool stdout_busy_ = false;
  int stdout_flags_ = -1;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t bytes_from_server_ = 0;
  std::unordered_map<core::RequestToken, std::shared_ptr<Decision>> decisions_;
  std::map<PeerKey, std::deque<IdleConn>> idle_;  // kept-alive GET connections, newest at the back
  std::size_t idle_count_ = 0;
  bool finished_ = false;
  bool announced_seed_ = false;
  bool done_ = false;
  int exit_code_ = 0;
};

}  // namespace pdtp::client
