// Bodies of pdtp::core::Client (declared in pdtp/core/client.hpp). Not for direct inclusion.
#pragma once

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "pdtp/core/client.hpp"
#include "pdtp/wire/url.hpp"

namespace pdtp::core {

inline Client::Client(ClientConfig config) : config_(std::move(config)) {
  if (config_.window_chunks == 0) config_.window_chunks = 1;  // a window must hold the next chunk
}

// ---- server connection ----

inline void Client::start(TimePoint) {
  if (started_ || failed_) return;
  started_ = true;
  auto path = file_path_of(config_.url);
  if (!path) {
    fail("bad url " + config_.url + ": " + path.error().message);
    return;
  }
  path_ = std::move(*path);
  send(Register{config_.client_id, config_.listen_port});
  send(AskInfo{config_.url});
  // The first transfers come a round trip sooner when the request goes with ask_info: a file asks
  // for all of itself; a pipe, which needs the chunk size for its window, asks for the chunk that
  // holds byte 0 (our server widens an unaligned request to the chunks it touches; a strict v2
  // server answers a non-fatal error, and the window request after tell_info covers chunk 0 too).
  send(Request{config_.url, config_.in_order ? std::optional<ByteRange>(ByteRange{0, 0}) : std::nullopt});
}

inline void Client::on_control_data(std::string_view bytes, TimePoint) {
  if (failed_) return;
  const std::size_t first_new = actions_.size();
  decoder_.feed(bytes);
  while (!failed_) {
    auto body = decoder_.next();
    if (!body) {
      if (body.error().code != Errc::incomplete) fail("bad data from server: " + body.error().message);
      break;
    }
    auto msg = decode_message(*body);
    if (!msg) {
      fail("bad data from server: " + msg.error().message);
      break;
    }
    std::visit([this](const auto& m) { on_message(m); }, *msg);
  }
  order_new_transfers(first_new);
}

// Transfers that arrived together start lowest chunk first; other actions keep their places. A
// runtime that starts them in this order on one connection (udp: streams are sent lowest id first)
// gets the chunk the output needs next whole first, instead of every chunk at once at the end.
inline void Client::order_new_transfers(std::size_t first_new) {
  std::vector<std::size_t> slots;
  std::vector<StartTransfer> starts;
  for (std::size_t i = first_new; i < actions_.size(); ++i)
    if (auto* t = std::get_if<StartTransfer>(&actions_[i])) {
      slots.push_back(i);
      starts.push_back(std::move(*t));
    }
  std::stable_sort(starts.begin(), starts.end(),
                   [](const StartTransfer& a, const StartTransfer& b) { return a.chunk < b.chunk; });
  for (std::size_t k = 0; k < slots.size(); ++k) actions_[slots[k]] = std::move(starts[k]);
}

inline void Client::on_control_closed(TimePoint) {
  if (complete_) return;
  fail("server closed the connection");
}

inline void Client::on_message(const TellInfo& m) {
  if (has_info_ || !is_our_url(m.url)) return;
  if (m.error) {
    fail("unknown file " + config_.url + ": " + *m.error);
    return;
  }
  auto map = ChunkMap::create(ChunkLayout{m.size, m.chunk_size});
  if (!map) {
    fail("bad data from server: tell_info for " + m.url + ": " + map.error().message);
    return;
  }
  chunks_ = std::move(*map);
  has_info_ = true;
  if (chunks_.count() == 0) {
    check_complete();
    return;
  }
  if (config_.in_order) request_window();  // a file asked for all of itself at start
}

inline void Client::on_message(const Transfer& m) {
  if (!has_info_ || !is_our_url(m.url)) {
    decline(m);
    return;
  }
  auto chunk = chunks_.single_chunk(m.range);
  if (!chunk) {
    decline(m);
    return;
  }
  const ChunkIndex c = *chunk;
  if (m.method == TransferMethod::put) {
    if (!holds(c)) return;  // nothing to send; the receiver or the server's timeout closes it
  } else if (chunks_.verified(c) || (config_.in_order && !in_window(c))) {
    decline(m);  // already have it, or (pipe) it would have to wait in memory beyond the window
    return;
  }
  const TransferId id = next_transfer_id_++;
  transfers_.emplace(id, OutTransfer{m.method, c, m});
  actions_.push_back(
      StartTransfer{id, m.method, m.host, m.port, m.url, m.range, c, m.peer_id, m.peer_key.value_or(std::string())});
}

inline void Client::on_message(const TellVerify& m) {
  if (!is_our_url(m.url)) return;
  auto same = [&](const PendingAsk& a) { return a.peer_id == m.peer_id && a.range == m.range; };
  auto it = std::find_if(asks_.begin(), asks_.end(), [&](const PendingAsk& a) { return same(a) && a.peer_ip == m.peer; });
  if (it == asks_.end()) it = std::find_if(asks_.begin(), asks_.end(), same);  // server rewrote the address
  if (it == asks_.end()) return;
  PendingAsk ask = std::move(*it);
  asks_.erase(it);
  actions_.push_back(IncomingDecision{ask.token, m.authorized});
  if (ask.method == TransferMethod::put && m.authorized) {
    // A body that never arrives leaves no trace for us; evict the oldest rather than grow.
    if (puts_.size() >= max_authorized_puts) puts_.pop_front();
    puts_.push_back(std::move(ask));
  }
}

inline void Client::on_message(const HashVerify& m) {
  if (!is_our_url(m.url)) return;
  auto it = std::find_if(verifies_.begin(), verifies_.end(), [&](const PendingVerify& v) { return v.range == m.range; });
  if (it == verifies_.end()) {
    last_server_error_ = "hash_verify for a range we did not complete: " + std::to_string(m.range.min) + "-" +
                         std::to_string(m.range.max);
    return;
  }
  PendingVerify v = std::move(*it);
  verifies_.erase(it);
  if (v.surplus) return;  // its bytes were already dropped
  if (v.settled) {  // decided on arrival; the server's check can only agree with its own hash
    if (!m.hash_ok) last_server_error_ = "hash_verify refused chunk " + std::to_string(v.chunk) + " after its transfer named that hash";
    return;
  }
  settle(v, m.hash_ok);
}

// A received chunk's check is in: keep it (and write out what is ready) or drop it and retry.
inline void Client::settle(const PendingVerify& v, bool hash_ok) {
  if (chunks_.verified(v.chunk)) {
    actions_.push_back(ChunkRejected{v.chunk});  // another copy won: drop this one
    return;
  }
  if (!hash_ok) {
    actions_.push_back(ChunkRejected{v.chunk});
    const unsigned n = chunks_.add_failure(v.chunk);
    if (n > config_.max_attempts_per_chunk) {
      fail("chunk " + std::to_string(v.chunk) + " failed verification " + std::to_string(n) + " times");
      return;
    }
    if (!chunk_busy(v.chunk)) send(Request{config_.url, v.range});
    return;
  }
  chunks_.mark_verified(v.chunk);
  if (v.giver != server_peer_id) bytes_from_peers_ += v.range.size();
  actions_.push_back(ChunkVerified{v.chunk});
  send(Provide{config_.url, v.range});  // lets the server hand this chunk to other peers
  if (config_.in_order) emit_ready();
  check_complete();
}

inline void Client::on_message(const ProtocolError& m) { fail("server refused: " + m.message); }

inline void Client::on_message(const ErrorMessage& m) {
  last_server_error_ = m.reason + " (" + m.url + ")";
  if (!has_info_ && !m.range && is_our_url(m.url)) fail(m.reason);  // our file as a whole is unusable
}

// ---- transfers we open ----

inline void Client::on_transfer_received(TransferId id, Sha256Hex hash, TimePoint) {
  auto it = transfers_.find(id);
  if (failed_ || it == transfers_.end()) return;
  OutTransfer t = std::move(it->second);
  transfers_.erase(it);
  if (t.method != TransferMethod::get) return;
  // The server named the chunk's hash in `transfer`: check it here, a round trip before hash_verify.
  std::optional<bool> checked;
  if (t.order.hash) checked = same_hex(hash, *t.order.hash);
  send(Completed{t.order.host, t.order.url, t.order.range, t.order.peer_id, std::move(hash)});
  await_verify(t.chunk, t.order.range, t.order.peer_id, checked);
}

inline void Client::on_transfer_sent(TransferId id, TimePoint) { transfers_.erase(id); }

inline void Client::on_transfer_failed(TransferId id, std::string reason, TimePoint) {
  auto it = transfers_.find(id);
  if (failed_ || it == transfers_.end()) return;
  OutTransfer t = std::move(it->second);
  transfers_.erase(it);
  if (t.method != TransferMethod::get) return;  // the receiving side reports a failed put
  send(Completed{t.order.host, t.order.url, t.order.range, t.order.peer_id, std::nullopt});
  if (chunks_.verified(t.chunk)) return;  // another copy already won
  chunk_failed(t.chunk, reason);
}

// ---- transfers other peers open to us ----

inline Result<RequestToken> Client::on_incoming_request(TransferMethod method, std::string peer_ip, PeerId peer_id,
                                                        std::string_view url_or_path, ByteRange range, TimePoint,
                                                        std::string peer_key) {
  if (failed_) return incoming_error(method == TransferMethod::get ? IncomingError::not_held : IncomingError::not_wanted,
                                     "this peer has stopped");
  auto path = file_path_of(url_or_path);
  if (!path) return incoming_error(IncomingError::unknown_file, path.error().message);
  if (!started_ || *path != path_)
    return incoming_error(IncomingError::unknown_file, "this peer does not serve " + *path);
  if (!has_info_)
    return incoming_error(method == TransferMethod::get ? IncomingError::not_held : IncomingError::not_wanted,
                          "the size of " + *path + " is not known yet");
  auto chunk = chunks_.single_chunk(range);
  if (!chunk) return incoming_error(IncomingError::bad_range, chunk.error().message);
  const ChunkIndex c = *chunk;
  if (method == TransferMethod::get && !holds(c))
    return incoming_error(IncomingError::not_held, "chunk " + std::to_string(c) + " is not held here");
  if (method == TransferMethod::put && chunks_.verified(c))
    return incoming_error(IncomingError::not_wanted, "chunk " + std::to_string(c) + " is already verified");
  if (method == TransferMethod::put && config_.in_order && !in_window(c))
    return incoming_error(IncomingError::not_wanted, "chunk " + std::to_string(c) + " is outside the window");
  if (method == TransferMethod::put && peer_id == server_peer_id && !server_key_.empty() && peer_key == server_key_) {
    // The server pushing a chunk over its own authenticated link: it scheduled this, no need to ask.
    const RequestToken token = next_token_++;
    actions_.push_back(IncomingDecision{token, true});
    if (puts_.size() >= max_authorized_puts) puts_.pop_front();
    puts_.push_back(PendingAsk{token, method, std::move(peer_ip), std::move(peer_id), range, c, true});
    return token;
  }
  if (asks_.size() >= max_pending_asks) {  // the server is not answering; refuse the oldest
    actions_.push_back(IncomingDecision{asks_.front().token, false});
    asks_.pop_front();
  }
  const RequestToken token = next_token_++;
  std::optional<std::string> key;
  if (!peer_key.empty()) key = std::move(peer_key);
  send(AskVerify{peer_ip, config_.url, range, peer_id, std::move(key)});
  asks_.push_back(PendingAsk{token, method, std::move(peer_ip), std::move(peer_id), range, c});
  return token;
}

inline void Client::on_incoming_put_received(RequestToken token, Sha256Hex hash, TimePoint,
                                             std::optional<Sha256Hex> named) {
  auto it = std::find_if(puts_.begin(), puts_.end(), [&](const PendingAsk& p) { return p.token == token; });
  if (failed_ || it == puts_.end()) return;
  PendingAsk p = std::move(*it);
  puts_.erase(it);
  // Only the server's own word about a hash counts: a peer's PUT waits for hash_verify.
  std::optional<bool> checked;
  if (named && p.push) checked = same_hex(hash, *named);
  send(Completed{p.peer_ip, config_.url, p.range, p.peer_id, std::move(hash)});
  await_verify(p.chunk, p.range, std::move(p.peer_id), checked);
}

// ---- time ----

inline void Client::on_timeout(TimePoint) {}
inline std::optional<TimePoint> Client::next_timeout() const { return std::nullopt; }

inline bool Client::poll_action(ClientAction& out) {
  if (actions_.empty()) return false;
  out = std::move(actions_.front());
  actions_.pop_front();
  return true;
}

// ---- queries ----

inline bool Client::has_info() const { return has_info_; }
inline std::uint64_t Client::file_size() const { return chunks_.layout().size; }
inline std::uint64_t Client::chunk_size() const { return chunks_.layout().chunk_size; }
inline std::uint64_t Client::chunk_count() const { return chunks_.count(); }
inline ByteRange Client::chunk_range(ChunkIndex chunk) const { return chunks_.range(chunk); }
inline bool Client::holds(ChunkIndex chunk) const { return chunks_.state(chunk) == ChunkState::verified; }
inline std::uint64_t Client::verified_chunks() const { return chunks_.verified_chunks(); }
inline std::uint64_t Client::bytes_verified() const { return chunks_.bytes_verified(); }
inline std::uint64_t Client::bytes_from_peers() const { return bytes_from_peers_; }
inline bool Client::complete() const { return complete_; }

// ---- helpers ----

inline void Client::send(const Message& m) {
  auto frame = encode_frame(encode_message(m));
  if (!frame) {
    fail("cannot send " + std::string(message_type(m)) + ": " + frame.error().message);
    return;
  }
  actions_.push_back(SendControl{std::move(*frame)});
}

inline void Client::fail(std::string reason) {
  if (failed_) return;
  failed_ = true;
  if (complete_)
    last_server_error_ = std::move(reason);  // the download stands; only serving stops
  else
    actions_.push_back(DownloadFailed{std::move(reason)});
}

inline bool Client::is_our_url(std::string_view url) const {
  if (path_.empty()) return false;
  auto path = file_path_of(url);
  return path && *path == path_;  // match on the path: hosts differ between vhost names and addresses
}

inline bool Client::in_window(ChunkIndex c) const {
  return c >= next_emit_ && c - next_emit_ < config_.window_chunks;
}

inline void Client::request_window() {
  const std::uint64_t room = chunks_.count() - next_emit_;
  const ChunkIndex end = next_emit_ + std::min<std::uint64_t>(room, config_.window_chunks);
  if (end <= requested_end_) return;
  send(Request{config_.url, span_range(ChunkSpan{requested_end_, end - 1})});
  requested_end_ = end;
}

inline void Client::decline(const Transfer& t) {
  send(Completed{t.host, t.url, t.range, t.peer_id, std::nullopt});  // frees the server's slot
}

inline void Client::chunk_failed(ChunkIndex c, const std::string& message) {
  if (chunk_busy(c)) return;  // another copy is on its way: nothing is lost yet
  const unsigned n = chunks_.add_failure(c);
  if (n > config_.max_attempts_per_chunk) {
    fail("chunk " + std::to_string(c) + " failed " + std::to_string(n) + " times, last: " + message);
    return;
  }
  send(Request{config_.url, chunks_.range(c)});  // `completed` took it off our request set
}

inline bool Client::chunk_busy(ChunkIndex c) const {
  auto get_of = [c](const auto& kv) { return kv.second.method == TransferMethod::get && kv.second.chunk == c; };
  auto verify_of = [c](const PendingVerify& v) { return v.chunk == c && !v.surplus && !v.settled; };
  return std::any_of(transfers_.begin(), transfers_.end(), get_of) ||
         std::any_of(verifies_.begin(), verifies_.end(), verify_of);
}

// `checked`: the outcome of comparing with the hash the transfer named, if it named one. The
// pending entry still waits for hash_verify, which the server always sends.
inline void Client::await_verify(ChunkIndex c, ByteRange range, PeerId giver, std::optional<bool> checked) {
  const bool surplus = chunks_.verified(c);
  if (surplus) actions_.push_back(ChunkRejected{c});  // a late copy of a chunk we already have
  verifies_.push_back(PendingVerify{c, range, std::move(giver), surplus, checked.has_value()});
  if (checked && !surplus) {
    const PendingVerify v = verifies_.back();
    settle(v, *checked);
  }
}

inline void Client::emit_ready() {
  auto run = chunks_.emit_run(next_emit_);
  if (!run) return;
  for (ChunkIndex c = run->first; c <= run->last; ++c) actions_.push_back(EmitChunk{c});
  next_emit_ = run->last + 1;
  send(Unprovide{config_.url, span_range(*run)});  // written out and dropped: no longer servable
  request_window();
}

inline void Client::check_complete() {
  if (complete_ || failed_ || !chunks_.all_verified()) return;
  if (config_.in_order && next_emit_ != chunks_.count()) return;
  complete_ = true;
  actions_.push_back(DownloadComplete{});
}

inline Error Client::incoming_error(IncomingError kind, std::string detail) {
  Errc code = Errc::unsupported;
  switch (kind) {
    case IncomingError::unknown_file: code = Errc::bad_url; break;
    case IncomingError::bad_range: code = Errc::bad_range; break;
    case IncomingError::not_held:
    case IncomingError::not_wanted: code = Errc::unsupported; break;
  }
  return Error{code, std::string(to_string(kind)) + ": " + detail};
}

}  // namespace pdtp::core
