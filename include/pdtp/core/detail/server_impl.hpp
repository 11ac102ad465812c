// Definitions of pdtp::core::Server (included at the end of pdtp/core/server.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <type_traits>
#include <utility>

#include "pdtp/core/server.hpp"
#include "pdtp/wire/range.hpp"
#include "pdtp/wire/url.hpp"

namespace pdtp::core {

namespace detail {

// Files with more chunks than this are refused: per-chunk tables must stay bounded.
inline constexpr ChunkIndex max_server_chunks = ChunkIndex{1} << 24;

template <class T>
inline constexpr bool is_client_message =
    std::is_same_v<T, Register> || std::is_same_v<T, AskInfo> || std::is_same_v<T, Request> ||
    std::is_same_v<T, Unrequest> || std::is_same_v<T, Provide> || std::is_same_v<T, Unprovide> ||
    std::is_same_v<T, AskVerify> || std::is_same_v<T, Completed>;

inline std::string describe(const Error& e) { return std::string(to_string(e.code)) + ": " + e.message; }

// A client-chosen string quoted in our own messages, cut so replies stay small.
inline std::string quoted(std::string_view s) {
  constexpr std::size_t keep = 64;
  return "\"" + std::string(s.substr(0, keep)) + (s.size() > keep ? "...\"" : "\"");
}

inline SwarmLimits swarm_limits(const ServerConfig& c) {
  SwarmLimits l;
  l.peer_upload_slots = c.peer_upload_slots;
  l.peer_download_slots = c.peer_download_slots;
  l.file_service_slots = c.file_service_slots;
  l.transfer_timeout = std::chrono::duration_cast<Duration>(c.transfer_timeout);
  l.failure_memory = l.transfer_timeout;
  return l;
}

}  // namespace detail

inline Server::Server(ServerConfig config, FileCatalog& catalog)
    : config_(config), catalog_(catalog), swarm_(detail::swarm_limits(config)), scheduler_(config.seed) {}

// ---- connection events ----

inline void Server::on_connect(ConnId conn, std::string remote_ip, std::string local_ip, TimePoint now,
                               PeerLink link) {
  if (conns_.count(conn)) on_disconnect(conn, now);  // a reused id: the old connection is gone
  Conn c;
  c.remote_ip = std::move(remote_ip);
  c.local_ip = std::move(local_ip);
  c.link = std::move(link);
  conns_.emplace(conn, std::move(c));
}

inline void Server::on_data(ConnId conn, std::string_view bytes, TimePoint now) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.closed) return;
  Conn& c = it->second;
  c.decoder.feed(bytes);
  c.fed += bytes.size();
  while (!c.closed) {
    auto body = c.decoder.next_view();
    if (!body) {
      if (body.error().code != Errc::incomplete) fatal(conn, c, detail::describe(body.error()));
      break;
    }
    auto msg = decode_message(*body);
    if (!msg) {
      fatal(conn, c, detail::describe(msg.error()));
      break;
    }
    handle(conn, c, *msg, now);
  }
  // Release the buffer of a closed connection, or one that may have grown: idle peers stay small.
  if (c.closed || (c.decoder.buffered() == 0 && c.fed > 4096)) {
    c.decoder = FrameDecoder{};
    c.fed = 0;
  }
}

inline void Server::on_disconnect(ConnId conn, TimePoint now) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  if (it->second.peer != no_peer) remove_peer(it->second.peer, now);
  conns_.erase(it);
  schedule(now);
}

inline void Server::on_timeout(TimePoint now) {
  expired_.clear();
  swarm_.expired(now, expired_);
  for (TransferSlot t : expired_) {
    if (!swarm_.valid_transfer(t)) continue;
    transfer_failed(swarm_.end_transfer(t), now);
  }
  schedule(now);
}

inline std::optional<TimePoint> Server::next_timeout() const { return swarm_.next_deadline(); }

inline bool Server::poll_action(ServerAction& out) {
  if (actions_head_ >= actions_.size()) return false;
  out = std::move(actions_[actions_head_++]);
  if (actions_head_ == actions_.size()) {
    actions_.clear();
    actions_head_ = 0;
  }
  return true;
}

// ---- messages ----

inline void Server::handle(ConnId id, Conn& c, Message& m, TimePoint now) {
  if (c.peer == no_peer && !std::holds_alternative<Register>(m)) {
    fatal(id, c, "the first message must be register, not " + std::string(message_type(m)));
    return;
  }
  std::visit(
      [&](auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (detail::is_client_message<T>) {
          on_message(id, c, msg, now);
        } else {
          fatal(id, c, std::string(message_type(m)) + " is a server-to-client message");
        }
      },
      m);
  schedule(now);
}

inline void Server::on_message(ConnId id, Conn& c, Register& m, TimePoint) {
  if (c.peer != no_peer) return fatal(id, c, "register sent twice on one connection");
  if (config_.require_encryption && c.link.transport != LinkTransport::udp)
    return fatal(id, c, "this server requires encryption: connect over udp (dsclient --transport udp)");
  if (m.client_id.empty()) return fatal(id, c, "register: client_id is empty");
  if (m.client_id.size() > config_.max_client_id_bytes)
    return fatal(id, c,
                 "register: client_id of " + std::to_string(m.client_id.size()) + " bytes is longer than " +
                     std::to_string(config_.max_client_id_bytes));
  if (m.client_id == server_peer_id)
    return fatal(id, c, "register: client_id " + detail::quoted(m.client_id) + " is reserved for the server");
  if (peers_by_id_.count(m.client_id))
    return fatal(id, c, "register: client_id " + detail::quoted(m.client_id) + " is already in use");
  const bool udp = c.link.transport == LinkTransport::udp;
  const PeerSlot p = swarm_.add_peer(m.listen_port, c.link.transport, !udp || config_.udp_file_service_port != 0);
  if (p >= records_.size()) records_.resize(static_cast<std::size_t>(p) + 1);
  PeerRecord& r = records_[p];
  r = PeerRecord{};
  r.id = m.client_id;
  r.conn = id;
  r.ip = c.remote_ip;
  r.local_ip = c.local_ip;
  r.link = c.link;
  peers_by_id_.emplace(std::move(m.client_id), p);
  c.peer = p;
}

inline void Server::on_message(ConnId id, Conn&, AskInfo& m, TimePoint) {
  TellInfo r;
  Resolved res = resolve(m.url, true);
  r.url = std::move(m.url);
  if (res.file) {
    const FileInfo& info = swarm_.file(*res.file).info;
    r.size = info.size;
    r.chunk_size = info.chunk_size;
    r.streaming = info.streaming;
  } else {
    r.error = std::move(res.reason);
  }
  send(id, std::move(r));
}

inline void Server::on_message(ConnId id, Conn& c, Request& m, TimePoint) {
  auto target = target_or_error(id, m.url, m.range, true);
  if (!target) return;
  PeerFile& pf = swarm_.peer_file(c.peer, target->file);
  if (pf.url != m.url) pf.url = std::move(m.url);
  if (swarm_.request(c.peer, target->file, target->span)) scheduler_.taker_changed(c.peer);
}

inline void Server::on_message(ConnId id, Conn& c, Unrequest& m, TimePoint) {
  auto target = target_or_error(id, m.url, m.range);
  if (!target) return;
  swarm_.unrequest(c.peer, target->file, target->span);
}

inline void Server::on_message(ConnId id, Conn& c, Provide& m, TimePoint) {
  auto target = target_or_error(id, m.url, m.range);
  if (!target) return;
  PeerFile& pf = swarm_.peer_file(c.peer, target->file);
  if (pf.url.empty()) pf.url = std::move(m.url);
  if (swarm_.provide(c.peer, target->file, target->span))
    scheduler_.holder_gained(swarm_, c.peer, target->file, target->span);
}

inline void Server::on_message(ConnId id, Conn& c, Unprovide& m, TimePoint) {
  auto target = target_or_error(id, m.url, m.range);
  if (!target) return;
  swarm_.unprovide(c.peer, target->file, target->span);
}

inline void Server::on_message(ConnId id, Conn& c, AskVerify& m, TimePoint) {
  TellVerify r;
  const auto other = peer_by_id(m.peer_id);
  // Over udp the key the listening peer's handshake authenticated must be the claimed peer's.
  const bool key_ok = records_[c.peer].link.transport != LinkTransport::udp ||
                      (other && m.peer_key && key_matches(*other, *m.peer_key));
  if (other && key_ok && records_[*other].ip == m.peer) {
    const auto f = resolve(m.url, false).file;
    if (f) {
      const SwarmFile& file = swarm_.file(*f);
      for (TransferSlot t : swarm_.peer(c.peer).transfers) {
        const SwarmTransfer& tr = swarm_.transfer(t);
        const bool pair = (tr.taker == c.peer && tr.giver == *other) || (tr.giver == c.peer && tr.taker == *other);
        if (pair && tr.file == *f && file.layout.chunk_range(tr.chunk) == m.range) {
          r.authorized = true;
          break;
        }
      }
    }
  }
  r.peer = std::move(m.peer);
  r.url = std::move(m.url);
  r.range = m.range;
  r.peer_id = std::move(m.peer_id);
  send(id, std::move(r));
}

inline void Server::on_message(ConnId id, Conn& c, Completed& m, TimePoint now) {
  Resolved res = resolve(m.url, false);
  if (res.bad_path) return send(id, ErrorMessage{std::move(res.reason), std::move(m.url), m.range});
  const auto f = res.file;
  const auto giver = m.peer_id == server_peer_id ? std::optional<PeerSlot>(file_service) : peer_by_id(m.peer_id);
  std::optional<TransferSlot> t;
  ChunkIndex chunk = 0;
  if (f && giver) {
    auto span = chunks_of(swarm_.file(*f).layout, m.range);
    if (span && span->first == span->last) {  // transfers are single chunks
      chunk = span->first;
      t = swarm_.find_transfer(c.peer, *giver, *f, chunk);
      // Old clients report both sides; the giver's report says nothing the taker's does not.
      if (!t && *giver != file_service && swarm_.find_transfer(*giver, c.peer, *f, chunk)) return;
    }
  }
  if (!t && f && !giver && complete_orphan(id, c, m, *f, now)) return;
  if (!t) return send(id, ErrorMessage{"unknown transfer", std::move(m.url), m.range});

  const SwarmTransfer tr = swarm_.end_transfer(*t);
  if (!m.hash) return transfer_failed(tr, now);

  const auto expected = catalog_.chunk_hash(swarm_.file(*f).info.path, chunk);
  const bool ok = expected && same_hex(*m.hash, *expected);
  send(id, HashVerify{std::move(m.url), m.range, ok});
  if (ok) {
    const std::uint64_t bytes = m.range.size();
    PeerRecord& taker = records_[c.peer];
    taker.bytes_down += bytes;
    taker.down.add(now, bytes);
    if (tr.giver == file_service) {
      bytes_from_server_ += bytes;
      ++chunks_from_server_;
      rate_from_server_.add(now, bytes);
    } else {
      bytes_from_peers_ += bytes;
      ++chunks_from_peers_;
      rate_from_peers_.add(now, bytes);
      records_[tr.giver].bytes_up += bytes;
      records_[tr.giver].up.add(now, bytes);
    }
    if (swarm_.receive(c.peer, *f, chunk)) scheduler_.holder_gained(swarm_, c.peer, *f, {chunk, chunk});
  } else {
    ++hash_failures_;
    // Only a real mismatch counts against the giver (not a hash the catalog could not produce).
    if (expected && tr.giver != file_service) swarm_.penalize(tr.giver);
    swarm_.remember_failure(c.peer, tr.giver, *f, chunk, now);
  }
  scheduler_.taker_changed(tr.taker);
  scheduler_.giver_freed(swarm_, tr.giver);
}

// A `completed` for a transfer whose giver left (see orphans_): judged like any other, but with no
// giver to credit or blame. True if it matched one.
inline bool Server::complete_orphan(ConnId id, Conn& c, Completed& m, FileSlot f, TimePoint now) {
  auto span = chunks_of(swarm_.file(f).layout, m.range);
  if (!span || span->first != span->last) return false;
  const ChunkIndex chunk = span->first;
  auto it = std::find_if(orphans_.begin(), orphans_.end(), [&](const Orphan& o) {
    return o.taker == c.peer && o.taker_generation == swarm_.peer(c.peer).generation && o.giver == m.peer_id &&
           o.file == f && o.chunk == chunk && o.until > now;
  });
  if (it == orphans_.end()) return false;
  orphans_.erase(it);
  if (!m.hash) return true;  // its failure was counted when the giver left
  const auto expected = catalog_.chunk_hash(swarm_.file(f).info.path, chunk);
  const bool ok = expected && same_hex(*m.hash, *expected);
  send(id, HashVerify{std::move(m.url), m.range, ok});
  if (!ok) {
    ++hash_failures_;
    return true;
  }
  const std::uint64_t bytes = m.range.size();
  PeerRecord& taker = records_[c.peer];
  taker.bytes_down += bytes;
  taker.down.add(now, bytes);
  bytes_from_peers_ += bytes;
  ++chunks_from_peers_;
  rate_from_peers_.add(now, bytes);
  if (swarm_.receive(c.peer, f, chunk)) scheduler_.holder_gained(swarm_, c.peer, f, {chunk, chunk});
  scheduler_.taker_changed(c.peer);
  return true;
}

// ---- helpers ----

inline void Server::fatal(ConnId id, Conn& c, std::string message) {
  ++protocol_errors_;
  send(id, ProtocolError{std::move(message)});
  actions_.push_back(CloseConn{id});
  c.closed = true;
  if (c.peer != no_peer) {
    const PeerSlot p = c.peer;
    c.peer = no_peer;
    remove_peer(p);
  }
}

inline void Server::remove_peer(PeerSlot p, std::optional<TimePoint> now) {
  dropped_.clear();
  swarm_.remove_peer(p, dropped_);
  if (now) {  // a peer that left (not one thrown out): what it was giving may have arrived
    std::erase_if(orphans_, [&](const Orphan& o) { return o.until <= *now; });
    for (const SwarmTransfer& tr : dropped_) {
      if (tr.giver != p || tr.taker == p) continue;
      if (orphans_.size() >= max_orphans) orphans_.pop_front();
      orphans_.push_back({tr.taker, swarm_.peer(tr.taker).generation, records_[p].id, tr.file, tr.chunk,
                          *now + config_.transfer_timeout});
    }
  }
  scheduler_.peer_removed(p);
  for (const SwarmTransfer& tr : dropped_) {
    ++transfers_failed_;
    if (tr.taker != p) scheduler_.taker_changed(tr.taker);  // its chunk goes to someone else
    if (tr.giver != p) scheduler_.giver_freed(swarm_, tr.giver);
  }
  peers_by_id_.erase(records_[p].id);
  records_[p] = PeerRecord{};
}

// A transfer ended without a verified chunk: count it, avoid that giver for a while, reschedule.
inline void Server::transfer_failed(const SwarmTransfer& tr, TimePoint now) {
  ++transfers_failed_;
  swarm_.remember_failure(tr.taker, tr.giver, tr.file, tr.chunk, now);
  scheduler_.taker_changed(tr.taker);
  scheduler_.giver_freed(swarm_, tr.giver);
}

inline void Server::on_push_failed(ConnId conn, std::string_view path, ByteRange range, TimePoint now) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || it->second.peer == no_peer) return;
  const auto f = swarm_.find_file(path);
  if (!f) return;
  auto span = chunks_of(swarm_.file(*f).layout, range);
  if (!span || span->first != span->last) return;
  const auto t = swarm_.find_transfer(it->second.peer, file_service, *f, span->first);
  if (!t) return;  // already ended (completed, timed out, or the peer left)
  transfer_failed(swarm_.end_transfer(*t), now);
  schedule(now);
}

inline void Server::schedule(TimePoint now) {
  started_.clear();
  scheduler_.run(swarm_, now, started_);
  for (TransferSlot t : started_) send_transfer(t);
}

inline void Server::send(ConnId id, const Message& m) {
  SendFrame f{id, {}};
  f.bytes.reserve(128);
  if (!append_message_frame(f.bytes, m)) {
    // Only echoes of huge client strings get here; say so instead of sending nothing.
    f.bytes.clear();
    (void)append_message_frame(f.bytes, ErrorMessage{"reply too large for one frame", "", std::nullopt});
  }
  actions_.emplace_back(std::move(f));
}

inline void Server::send_transfer(TransferSlot t) {
  const SwarmTransfer& tr = swarm_.transfer(t);
  const PeerRecord& taker = records_[tr.taker];
  const SwarmFile& file = swarm_.file(tr.file);
  const PeerFile* pf = swarm_.find_peer_file(tr.taker, tr.file);
  Transfer m;
  m.method = TransferMethod::get;
  m.url = pf && !pf->url.empty() ? pf->url : file.info.path;
  m.range = file.layout.chunk_range(tr.chunk);
  const bool udp = taker.link.transport == LinkTransport::udp;
  if (tr.giver == file_service) {
    m.host = taker.local_ip;
    m.port = udp ? config_.udp_file_service_port : config_.file_service_port;
    m.peer_id = server_peer_id;
    if (udp) m.peer_key = config_.server_public_key;
  } else {
    m.host = records_[tr.giver].ip;
    m.port = swarm_.peer(tr.giver).listen_port;
    m.peer_id = records_[tr.giver].id;
    if (udp) m.peer_key = records_[tr.giver].link.public_key;  // lets the taker authenticate the giver
  }
  // The taker can check the chunk itself on arrival instead of waiting a round trip for hash_verify;
  // it still reports `completed` with its hash, which the server checks as before.
  m.hash = catalog_.chunk_hash(file.info.path, tr.chunk);
  if (tr.giver == file_service && udp && config_.push_to_udp) {
    actions_.emplace_back(PushChunk{taker.conn, file.info.path, m.range, std::move(m.hash)});
    return;
  }
  send(taker.conn, std::move(m));
}

inline Server::Resolved Server::resolve(std::string_view url, bool ask_catalog) {
  // Clients repeat the same url in every message: skip parsing it again (file_path_of is pure).
  if (auto hit = url_cache_.find(url); hit != url_cache_.end()) return {hit->second, {}};
  auto path = file_path_of(url);
  if (!path) return {std::nullopt, detail::describe(path.error()), true};
  auto f = swarm_.find_file(*path);
  if (!f) {
    if (!ask_catalog) return {std::nullopt, "unknown file"};
    auto info = catalog_.lookup(*path);
    if (!info) return {std::nullopt, "unknown file"};
    if (info->size > 0 && info->chunk_size == 0) return {std::nullopt, "file has no chunk size"};
    if (ChunkLayout{info->size, info->chunk_size}.chunk_count() > detail::max_server_chunks)
      return {std::nullopt, "file has too many chunks"};
    info->path = std::move(*path);
    f = swarm_.add_file(std::move(*info));
  }
  if (url.size() <= url_cache_key_limit) {
    if (url_cache_.size() >= url_cache_limit) url_cache_.clear();
    url_cache_.emplace(url, *f);
  }
  return {f, {}};
}

// The file and chunks a set message names (absent range = the whole file); on an unknown file or a
// bad range replies `error` and returns nullopt. `widen` (request only): an unaligned range means
// the chunks it touches, clipped to the file, so a client may ask before it knows the chunk size.
inline std::optional<Server::SetTarget> Server::target_or_error(ConnId id, const std::string& url,
                                                                const std::optional<ByteRange>& range, bool widen) {
  Resolved res = resolve(url, true);
  if (!res.file) {
    send(id, ErrorMessage{std::move(res.reason), url, range});
    return std::nullopt;
  }
  const SwarmFile& file = swarm_.file(*res.file);
  if (!range) {
    if (file.chunks == 0) return std::nullopt;  // an empty file: nothing to request or provide
    return SetTarget{*res.file, ChunkSpan{0, file.chunks - 1}};
  }
  auto span = chunks_of(file.layout, *range);
  if (!span && widen) {
    if (auto touched = chunks_touched(file.layout, *range)) return SetTarget{*res.file, *touched};
  }
  if (!span) {
    send(id, ErrorMessage{detail::describe(span.error()), url, range});
    return std::nullopt;
  }
  return SetTarget{*res.file, *span};
}

inline std::optional<PeerSlot> Server::peer_by_id(std::string_view id) const {
  auto it = peers_by_id_.find(id);
  if (it == peers_by_id_.end()) return std::nullopt;
  return it->second;
}

inline const std::string& Server::peer_name(PeerSlot p) const { return records_[p].id; }

// Does `key` name peer `p`'s authenticated key? Never for a peer without one (tcp).
inline bool Server::key_matches(PeerSlot p, std::string_view key) const {
  const PeerLink& link = records_[p].link;
  return link.transport == LinkTransport::udp && !link.public_key.empty() && link.public_key == key;
}

// ---- the file service and the status page ----

inline FileServiceVerdict Server::authorize_file_service(std::string_view peer_id, std::string_view path,
                                                         ByteRange range, TimePoint now,
                                                         std::string_view remote_ip, std::string_view remote_key) {
  const auto p = peer_by_id(peer_id);
  if (!p) return FileServiceVerdict::unknown_peer;
  if (!remote_ip.empty() && records_[*p].ip != remote_ip) return FileServiceVerdict::not_authorized;
  // A udp peer fetches over udp with its own key; a tcp peer over tcp, where there is no key.
  const bool link_ok = records_[*p].link.transport == LinkTransport::udp ? key_matches(*p, remote_key)
                                                                          : remote_key.empty();
  if (!link_ok) return FileServiceVerdict::not_authorized;
  Resolved res = resolve(path, true);
  if (!res.file) return FileServiceVerdict::unknown_file;
  auto span = chunks_of(swarm_.file(*res.file).layout, range);
  if (!span) return FileServiceVerdict::bad_range;
  if (span->first != span->last) return FileServiceVerdict::not_authorized;
  auto t = swarm_.find_transfer(*p, file_service, *res.file, span->first);
  if (!t || swarm_.transfer(*t).deadline <= now) return FileServiceVerdict::not_authorized;
  return FileServiceVerdict::ok;
}

inline ServerSnapshot Server::snapshot(TimePoint now) const {
  ServerSnapshot s;
  s.clients = peers_by_id_.size();
  for (PeerSlot p = 0; p < swarm_.peer_slots(); ++p) {
    if (!swarm_.valid_peer(p)) continue;
    const SwarmPeer& sp = swarm_.peer(p);
    const PeerRecord& r = records_[p];
    PeerStatus ps;
    ps.id = r.id;
    ps.address = r.ip;
    ps.listen_port = sp.listen_port;
    ps.transport = r.link.transport;
    ps.public_key = r.link.public_key;
    ps.uploads = sp.uploads;
    ps.downloads = sp.downloads;
    ps.bytes_up = r.bytes_up;
    ps.bytes_down = r.bytes_down;
    ps.rate_up = r.up.per_second(now);
    ps.rate_down = r.down.per_second(now);
    s.peers.push_back(std::move(ps));
  }
  for (FileSlot f = 0; f < swarm_.file_count(); ++f) {
    const SwarmFile& file = swarm_.file(f);
    s.files.push_back({file.info.path, file.info.size, file.info.chunk_size, file.downloaders, file.uploaders});
  }
  for (TransferSlot t = 0; t < swarm_.transfer_slots(); ++t) {
    if (!swarm_.valid_transfer(t)) continue;
    const SwarmTransfer& tr = swarm_.transfer(t);
    const SwarmFile& file = swarm_.file(tr.file);
    TransferStatus ts;
    ts.taker = peer_name(tr.taker);
    ts.giver = tr.giver == file_service ? PeerId(server_peer_id) : peer_name(tr.giver);
    ts.path = file.info.path;
    ts.range = file.layout.chunk_range(tr.chunk);
    ts.age_seconds = std::chrono::duration<double>(now - tr.started).count();
    s.transfers.push_back(std::move(ts));
  }
  s.bytes_from_peers = bytes_from_peers_;
  s.bytes_from_server = bytes_from_server_;
  s.chunks_from_peers = chunks_from_peers_;
  s.chunks_from_server = chunks_from_server_;
  s.hash_failures = hash_failures_;
  s.transfers_failed = transfers_failed_;
  s.protocol_errors = protocol_errors_;
  s.rate_from_peers = rate_from_peers_.per_second(now);
  s.rate_from_server = rate_from_server_.per_second(now);
  return s;
}

}  // namespace pdtp::core
