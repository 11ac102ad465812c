// Encrypted reliable connections behind one UDP socket, sans I/O: the Noise handshakes (initiator and
// responder), rudp connections protected by the negotiated keys, rekeying before the keys' limits, and
// the rules for unproven addresses (cookies under load, never more than 3x the bytes received).
// The runtime feeds datagrams, the time and randomness in, and sends what poll_transmit() returns.
//
// Every handshake carries a one-byte purpose before the application's payload (see spec/secure.md):
//   0x00 | application bytes      a new connection
//   0x01 | u32 connection id      new keys for the responder's connection with that id (rekey)
// A connection keeps the handle it was created with (its first local id) through every rekey.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>

#include "pdtp/result.hpp"
#include "pdtp/rudp/config.hpp"
#include "pdtp/rudp/endpoint.hpp"
#include "pdtp/secure/amplification.hpp"
#include "pdtp/secure/handshake.hpp"
#include "pdtp/secure/rekey.hpp"
#include "pdtp/secure/rudp_protection.hpp"

namespace pdtp::secure {

struct SecureEndpointOptions {
  KeyPair local_static;
  rudp::Config config{};
  std::size_t max_connections = 4096;
  bool accept_incoming = true;                             // false: initiations are ignored (a pure client)
  Duration handshake_retry = std::chrono::milliseconds(250);  // doubles per attempt, at most 2 s
  int handshake_attempts = 6;
  // Unconfirmed sessions plus pending XX handshakes above this: initiations must carry a cookie.
  std::size_t cookie_threshold = 64;
  KeyLimits key_limits{};
  SuiteSet suites = 0;  // 0: what this machine runs fast
};

struct SecureEndpointStats {
  std::uint64_t handshakes_failed = 0;    // bad handshake datagrams (mac, Noise, payload, state)
  std::uint64_t connects_failed = 0;      // our initiations that got no usable answer
  std::uint64_t rekeys = 0;               // completed key changes (either side)
  std::uint64_t amplification_drops = 0;  // datagrams not sent to an unproven address (3x rule)
  std::uint64_t unknown_datagrams = 0;    // neither rudp nor handshake, or for no connection
};

template <class Address>
class SecureEndpoint {
 public:
  using Handle = rudp::ConnectionId;
  using AddressBytes = std::function<Bytes(const Address&)>;  // names an address for cookies

  struct Transmit {
    Address to;
    Bytes bytes;
  };
  struct Accepted {  // a peer opened a connection to us
    Handle id{};
    Address peer;
    PublicKey peer_key;
    Bytes payload;
  };
  struct Connected {  // our connect() completed
    Handle id{};
    PublicKey peer_key;
    Bytes payload;
  };
  struct ConnectFailed {
    Handle id{};
    std::string reason;
  };
  struct ConnectionEvent {
    Handle id{};
    rudp::Event event;
  };
  using Event = std::variant<Accepted, Connected, ConnectFailed, ConnectionEvent>;

  SecureEndpoint(SecureEndpointOptions options, RandomBytes random, AddressBytes address_bytes)
      : options_(std::move(options)),
        random_(std::make_shared<RandomBytes>(std::move(random))),
        address_bytes_(std::move(address_bytes)),
        rudp_(options_.config, rudp::EndpointOptions{options_.max_connections}),
        responder_(ResponderConfig{options_.local_static, Bytes(default_prologue.begin(), default_prologue.end()),
                                   options_.suites},
                   [r = random_](MutableByteView out) { (*r)(out); }) {}

  const PublicKey& public_key() const noexcept { return options_.local_static.public_key; }
  const SecureEndpointStats& stats() const noexcept { return stats_; }
  const ResponderStats& responder_stats() const noexcept { return responder_.stats(); }
  std::size_t connection_count() const noexcept { return sessions_.size(); }

  // ---- connections ----

  // Starts a handshake to `to`: IK when `expected` names the peer's key (only that peer can answer),
  // XX otherwise (the peer's key is learned; check it in Connected). The handle is valid at once;
  // Connected or ConnectFailed follows.
  Result<Handle> connect(TimePoint now, const Address& to, std::optional<PublicKey> expected, ByteView payload = {}) {
    Bytes app;
    app.reserve(payload.size() + 1);
    app.push_back(purpose_new);
    app.insert(app.end(), payload.begin(), payload.end());
    const std::uint32_t index = new_index();
    auto st = start_handshake(now, to, expected, std::move(app), index, std::nullopt);
    if (!st) return st.error();
    return Handle{index};
  }

  // Gives up a connect still in its handshake (e.g. the network said nothing listens there); no
  // event follows. A connection already established is not affected.
  void abandon(Handle h) {
    const auto id = rudp::to_u32(h);
    if (sessions_pending_.erase(id)) initiating_.erase(id);
  }

  rudp::Connection* connection(Handle h) noexcept {
    auto it = sessions_.find(rudp::to_u32(h));
    return it == sessions_.end() ? nullptr : rudp_.connection(rudp::ConnectionId{it->second.current});
  }
  const PublicKey* peer_key(Handle h) const noexcept {
    auto it = sessions_.find(rudp::to_u32(h));
    return it == sessions_.end() ? nullptr : &it->second.peer_key;
  }
  const Address* peer_address(Handle h) const noexcept {
    auto it = sessions_.find(rudp::to_u32(h));
    return it == sessions_.end() ? nullptr : &it->second.peer;
  }
  // Open connections, for status and for reusing a connection to the same peer.
  template <class Fn>
  void for_each_connection(Fn&& fn) const {
    for (const auto& [h, s] : sessions_) fn(Handle{h}, s.peer, s.peer_key);
  }

  // ---- input ----

  void on_datagram(TimePoint now, const Address& from, ByteView bytes) {
    advance(now);
    if (bytes.empty()) return;
    if (is_handshake_datagram(bytes)) return on_handshake(now, from, bytes);
    const auto header = rudp::decode_header(bytes);
    Session* s = header ? session_by_current(rudp::to_u32(header->receiver)) : nullptr;
    const rudp::Connection* c = s ? rudp_.connection(rudp::ConnectionId{s->current}) : nullptr;
    const std::uint64_t before = c ? c->stats().packets_received : 0;
    const auto receipt = rudp_.on_datagram(now, from, bytes);
    if (receipt != rudp::Receipt::delivered) {
      ++stats_.unknown_datagrams;
      return;
    }
    // Only a packet that authenticated (not a forgery, not a duplicate) speaks for the peer: rudp
    // then sends to its source, and so its bytes count for that address.
    if (c && c->stats().packets_received != before) {
      if (!(from == s->peer)) moved(*s, from);
      s->guard.on_received(bytes.size());
    }
  }

  void on_timeout(TimePoint now) {
    advance(now);
    rudp_.on_timeout(now);
    responder_.expire(now);
    for (auto it = initiating_.begin(); it != initiating_.end();) {
      Outgoing& o = it->second;
      if (o.next_send > now) {
        ++it;
        continue;
      }
      if (o.attempts >= options_.handshake_attempts) {
        if (!o.rekey_of) {
          ++stats_.connects_failed;
          sessions_pending_.erase(it->first);
          events_.push_back(ConnectFailed{Handle{it->first}, "no answer to the handshake after " +
                                                                 std::to_string(o.attempts) + " attempts"});
        } else if (auto s = sessions_.find(*o.rekey_of); s != sessions_.end()) {
          s->second.rekey_in_flight = false;  // try again later; the old keys still work until they expire
          s->second.next_rekey = now + std::chrono::seconds(5);
        }
        it = initiating_.erase(it);
        continue;
      }
      send_initiation(now, o);
      ++it;
    }
    for (auto& [h, s] : sessions_) {
      if (s.finish && s.protection && !s.protection->confirmed() && s.finish_next <= now) {
        queue(Transmit{s.peer, *s.finish});
        s.finish_next = now + options_.handshake_retry;
      }
      if (s.role == rudp::Role::client && !s.rekey_in_flight && s.protection && now >= s.next_rekey)
        start_rekey(now, h, s);
    }
  }

  // ---- output ----

  std::optional<Transmit> poll_transmit(TimePoint now) {
    advance(now);
    if (!outbox_.empty()) {
      Transmit t = std::move(outbox_.front());
      outbox_.pop_front();
      return t;
    }
    for (;;) {
      auto t = rudp_.poll_transmit(now);
      if (!t) return std::nullopt;
      if (Session* s = session_by_current(rudp::to_u32(t->connection))) {
        if (s->protection && s->protection->confirmed()) {
          if (s->role == rudp::Role::server) s->proven = s->reply_to;  // the peer holds keys only our reply gave
          if (s->proven && *s->proven == s->peer) s->guard.mark_validated();
          if (s->finish) s->finish.reset();
          if (s->old_keys) {
            if (auto* c = rudp_.connection(rudp::ConnectionId{s->current})) {
              if (auto old = c->previous_local_id()) by_current_.erase(rudp::to_u32(*old));
            }
            rudp_.drop_previous_keys(rudp::ConnectionId{s->current});
            s->old_keys = false;
          }
        }
        if (!s->guard.try_send(t->bytes.size())) {
          ++stats_.amplification_drops;  // the connection counts it lost and tries again later
          continue;
        }
      } else if (auto g = closing_.find(rudp::to_u32(t->connection)); g != closing_.end()) {
        if (!g->second.try_send(t->bytes.size())) {
          ++stats_.amplification_drops;
          continue;
        }
      }
      return Transmit{std::move(t->to), std::move(t->bytes)};
    }
  }

  std::optional<TimePoint> next_timeout() const {
    std::optional<TimePoint> t = rudp_.next_timeout();
    auto take = [&t](TimePoint c) {
      if (!t || c < *t) t = c;
    };
    for (const auto& [i, o] : initiating_) take(o.next_send);
    for (const auto& [h, s] : sessions_) {
      if (s.finish) take(s.finish_next);
      if (s.role == rudp::Role::client && !s.rekey_in_flight && s.protection) take(s.next_rekey);
    }
    return t;
  }

  std::optional<Event> poll_event() {
    if (!events_.empty()) {
      Event e = std::move(events_.front());
      events_.pop_front();
      return e;
    }
    for (;;) {
      auto e = rudp_.poll_event();
      if (!e) return std::nullopt;
      auto* ce = std::get_if<typename rudp::Endpoint<Address>::ConnectionEvent>(&*e);
      if (!ce) continue;  // test handshakes are off here
      const std::uint32_t current = rudp::to_u32(ce->connection);
      auto hit = by_current_.find(current);
      if (hit == by_current_.end()) continue;
      const std::uint32_t handle = hit->second;
      if (std::holds_alternative<rudp::ConnectionClosed>(ce->event)) forget(handle);
      return ConnectionEvent{Handle{handle}, std::move(ce->event)};
    }
  }

 private:
  static constexpr std::uint8_t purpose_new = 0x00;
  static constexpr std::uint8_t purpose_rekey = 0x01;

  struct Outgoing {
    std::optional<Initiator> init;
    Address to;
    int attempts = 0;
    TimePoint next_send{};
    std::optional<std::uint32_t> rekey_of;  // handle whose keys this handshake replaces
    TimePoint last_sent{};
  };
  struct Session {
    rudp::Role role = rudp::Role::client;
    std::uint32_t current = 0;  // the connection's local id under its newest keys
    Address peer;
    PublicKey peer_key;
    AeadProtection* protection = nullptr;  // owned by the rudp connection
    AmplificationGuard guard;
    std::optional<Bytes> finish;  // XX initiator: resent until the responder's first packet arrives
    TimePoint finish_next{};
    TimePoint next_rekey = TimePoint::max();
    bool rekey_in_flight = false;
    bool old_keys = false;  // previous keys still accepted until the new ones are confirmed
    // The address the peer is proven to receive at: where our connect or rekey initiation went and was
    // answered (client), or where our reply went once the peer uses the keys only it gave (server).
    std::optional<Address> proven;
    Address reply_to;  // server: where the reply of the handshake behind the current keys went
  };

  void advance(TimePoint now) {
    if (now == advanced_) return;
    advanced_ = now;
    for (auto& [h, s] : sessions_)
      if (s.protection) s.protection->advance(now);
  }

  std::uint32_t new_index() {
    for (;;) {
      std::uint8_t b[4];
      (*random_)(MutableByteView(b, 4));
      const std::uint32_t v = detail::get_u32be(b);
      if (v != 0 && !by_current_.count(v) && !initiating_.count(v) && !rudp_.connection(rudp::ConnectionId{v}) &&
          !sessions_pending_.count(v))
        return v;
    }
  }

  Status start_handshake(TimePoint now, const Address& to, std::optional<PublicKey> expected, Bytes app,
                         std::uint32_t index, std::optional<std::uint32_t> rekey_of) {
    InitiatorConfig ic;
    ic.local_static = options_.local_static;
    ic.responder_static = expected;
    ic.suites = options_.suites;
    ic.pad_initiation_to = options_.config.max_datagram_size;
    SecretKey ephemeral;
    (*random_)(ephemeral.mutable_view());
    auto init = Initiator::create(std::move(ic), index, ephemeral, std::move(app));
    if (!init) return init.error();
    Outgoing o{std::move(*init), to, 0, now, rekey_of};
    if (!rekey_of) sessions_pending_.insert(index);
    send_initiation(now, o);
    initiating_.emplace(index, std::move(o));
    return Ok{};
  }

  void send_initiation(TimePoint now, Outgoing& o) {
    queue(Transmit{o.to, o.init->initiation(now)});
    o.last_sent = now;
    ++o.attempts;
    const auto backoff = options_.handshake_retry * (1 << std::min(o.attempts - 1, 4));
    o.next_send = now + std::min<Duration>(backoff, std::chrono::seconds(2));
  }

  void start_rekey(TimePoint now, std::uint32_t handle, Session& s) {
    auto* c = rudp_.connection(rudp::ConnectionId{s.current});
    if (!c) return;
    Bytes app{purpose_rekey, 0, 0, 0, 0};
    detail::put_u32be(app.data() + 1, rudp::to_u32(c->peer_id()));
    s.rekey_in_flight = true;
    if (!start_handshake(now, s.peer, s.peer_key, std::move(app), new_index(), handle)) {
      s.rekey_in_flight = false;
      s.next_rekey = now + std::chrono::seconds(5);
    }
  }

  bool under_load() const noexcept {
    std::size_t unconfirmed = responder_.pending();
    for (const auto& [h, s] : sessions_)
      if (!s.guard.validated() && s.role == rudp::Role::server) ++unconfirmed;
    return unconfirmed >= options_.cookie_threshold;
  }

  void on_handshake(TimePoint now, const Address& from, ByteView bytes) {
    auto parsed = parse_handshake(bytes);
    if (!parsed) {
      ++stats_.handshakes_failed;
      return;
    }
    switch (parsed->kind) {
      case HandshakeKind::ik_initiation:
      case HandshakeKind::xx_initiation:
      case HandshakeKind::finish: {
        if (!options_.accept_incoming) {
          ++stats_.unknown_datagrams;
          return;
        }
        const Bytes addr = address_bytes_(from);
        const bool initiation = parsed->kind != HandshakeKind::finish;
        std::optional<Ephemeral> eph;
        if (initiation && parsed->noise.size() >= key_size) {
          eph.emplace();
          std::copy_n(parsed->noise.begin(), key_size, eph->begin());
          if (resend_answer(now, *eph, addr, from)) return;
        }
        auto out = responder_.on_datagram(now, addr, bytes, under_load(), new_index());
        if (!out) {
          ++stats_.handshakes_failed;
          return;
        }
        // IK: the session exists before we answer; a session we refuse (limits, purpose) gets no answer,
        // so the initiator does not take it for a working connection.
        if (out->established && !on_responder_established(now, from, bytes.size(), std::move(*out->established)))
          return;
        if (out->reply && eph) remember_answer(now, *eph, addr, *out->reply);
        if (out->reply) queue(Transmit{from, std::move(*out->reply)});
        return;
      }
      case HandshakeKind::response:
      case HandshakeKind::cookie_reply: {
        auto it = initiating_.find(parsed->receiver_index);
        if (it == initiating_.end()) {
          ++stats_.unknown_datagrams;
          return;
        }
        auto out = it->second.init->on_datagram(now, bytes);
        if (!out) {
          ++stats_.handshakes_failed;
          return;
        }
        if (out->cookie_received) {
          send_initiation(now, it->second);
          return;
        }
        if (!out->established) return;
        Outgoing o = std::move(it->second);
        initiating_.erase(it);
        sessions_pending_.erase(parsed->receiver_index);
        on_initiator_established(now, std::move(o), std::move(out->reply), std::move(*out->established));
        return;
      }
    }
  }

  // An initiation is answered once. Its copies (the initiator's resend after a lost response, or a
  // replay) get the same response again from the same address, and nothing from any other: they
  // must not make new keys the initiator never sees (a rekey would then split the two ends).
  using Ephemeral = std::array<std::uint8_t, key_size>;
  struct Answer {
    Bytes address;
    Bytes response;
    TimePoint expires{};
  };
  static constexpr std::size_t max_answers = 4096;
  static constexpr Duration answer_lifetime = std::chrono::seconds(15);  // as long as the handshake retries

  bool resend_answer(TimePoint now, const Ephemeral& eph, const Bytes& addr, const Address& from) {
    auto it = answers_.find(eph);
    if (it == answers_.end()) return false;
    if (it->second.expires <= now) {
      answers_.erase(it);
      return false;
    }
    if (it->second.address == addr) queue(Transmit{from, it->second.response});
    return true;
  }

  void remember_answer(TimePoint now, const Ephemeral& eph, const Bytes& addr, const Bytes& reply) {
    auto kind = parse_handshake(reply);
    if (!kind || kind->kind != HandshakeKind::response) return;  // cookie replies are cheap and stateless
    if (answers_.size() >= max_answers) {
      for (auto it = answers_.begin(); it != answers_.end();) {
        if (it->second.expires <= now) it = answers_.erase(it);
        else ++it;
      }
      if (answers_.size() >= max_answers) answers_.erase(answers_.begin());
    }
    answers_[eph] = Answer{addr, reply, now + answer_lifetime};
  }

  bool on_responder_established(TimePoint now, const Address& from, std::size_t received, Established est) {
    const Bytes& app = est.peer_payload;
    if (app.empty()) {
      ++stats_.handshakes_failed;
      return false;
    }
    auto prot = AeadProtection::create(est.keys, now, options_.key_limits);
    if (!prot) {
      ++stats_.handshakes_failed;
      return false;
    }
    AeadProtection* raw = prot->get();
    const std::uint32_t local = est.keys.local_index;
    const std::uint32_t remote = est.keys.remote_index;
    if (app[0] == purpose_rekey && app.size() == 5) {
      const std::uint32_t old_current = detail::get_u32be(app.data() + 1);
      Session* s = session_by_current(old_current);
      // Only the same peer may replace a connection's keys, and only ours as responder.
      if (!s || s->role != rudp::Role::server || !(s->peer_key == est.keys.remote_static)) {
        ++stats_.handshakes_failed;
        return false;
      }
      // The initiator may name an id from before our last rekey: the connection is under its newest.
      const std::uint32_t from_id = s->current;
      if (!rudp_.rekey(rudp::ConnectionId{from_id}, rudp::ConnectionId{local}, rudp::ConnectionId{remote},
                       std::move(*prot))) {
        ++stats_.handshakes_failed;
        return false;
      }
      rekeyed(*s, from_id, local, raw);
      s->reply_to = from;
      return true;
    }
    if (app[0] != purpose_new) {
      ++stats_.handshakes_failed;
      return false;
    }
    if (!rudp_.insert(now, rudp::ConnectionId{local}, rudp::ConnectionId{remote}, rudp::Role::server, from,
                      std::move(*prot))) {
      ++stats_.handshakes_failed;
      return false;
    }
    Session s = make_session(rudp::Role::server, local, from, est.keys.remote_static, raw);
    s.reply_to = from;
    s.guard.on_received(received);
    raw->advance(now);
    sessions_.emplace(local, std::move(s));
    by_current_[local] = local;
    events_.push_back(Accepted{Handle{local}, from, est.keys.remote_static, Bytes(app.begin() + 1, app.end())});
    return true;
  }

  void on_initiator_established(TimePoint now, Outgoing o, std::optional<Bytes> finish, Established est) {
    auto prot = AeadProtection::create(est.keys, now, options_.key_limits);
    if (!prot) {
      ++stats_.handshakes_failed;
      if (!o.rekey_of) events_.push_back(ConnectFailed{Handle{est.keys.local_index}, prot.error().message});
      return;
    }
    AeadProtection* raw = prot->get();
    const std::uint32_t local = est.keys.local_index;
    const std::uint32_t remote = est.keys.remote_index;
    if (finish) queue(Transmit{o.to, *finish});
    if (o.rekey_of) {
      auto sit = sessions_.find(*o.rekey_of);
      if (sit == sessions_.end()) return;
      Session& s = sit->second;
      s.rekey_in_flight = false;
      if (!(s.peer_key == est.keys.remote_static) ||
          !rudp_.rekey(rudp::ConnectionId{s.current}, rudp::ConnectionId{local}, rudp::ConnectionId{remote},
                       std::move(*prot))) {
        ++stats_.handshakes_failed;
        s.next_rekey = now + std::chrono::seconds(5);
        return;
      }
      rekeyed(s, s.current, local, raw);
      s.proven = o.to;  // the peer answered our initiation sent there
      if (s.peer == o.to) s.guard.mark_validated();
      s.next_rekey = now + options_.key_limits.rekey_after_time;
      if (finish) {
        s.finish = std::move(finish);
        s.finish_next = now + options_.handshake_retry;
      }
      return;
    }
    // The handshake's round trip is the connection's first RTT estimate (not the 333 ms default), so
    // its first probe timeouts and pacing fit the path. Only from a first attempt: a resend's answer
    // cannot say which send it answers.
    rudp::Config config = options_.config;
    if (o.attempts == 1 && now > o.last_sent)
      config.initial_rtt = std::clamp<Duration>(now - o.last_sent, std::chrono::milliseconds(1), std::chrono::seconds(10));
    if (!rudp_.insert(now, rudp::ConnectionId{local}, rudp::ConnectionId{remote}, rudp::Role::client, o.to,
                      std::move(*prot), config)) {
      ++stats_.connects_failed;
      events_.push_back(ConnectFailed{Handle{local}, "too many connections"});
      return;
    }
    Session s = make_session(rudp::Role::client, local, o.to, est.keys.remote_static, raw);
    s.proven = o.to;  // it answered our handshake: the address is proven
    s.guard.mark_validated();
    s.next_rekey = now + options_.key_limits.rekey_after_time;
    if (finish) {
      s.finish = std::move(finish);
      s.finish_next = now + options_.handshake_retry;
    }
    raw->advance(now);
    sessions_.emplace(local, std::move(s));
    by_current_[local] = local;
    Bytes app = std::move(est.peer_payload);
    events_.push_back(Connected{Handle{local}, est.keys.remote_static, std::move(app)});
  }

  // The peer's authenticated packets now come from `to`. An on-path attacker can race a copy of a
  // genuine packet from a spoofed source, so until `to` is proven we send it at most 3x what it sent.
  static void moved(Session& s, const Address& to) {
    s.peer = to;
    s.guard = AmplificationGuard{};
    if (s.proven && *s.proven == to) s.guard.mark_validated();
  }

  static Session make_session(rudp::Role role, std::uint32_t current, const Address& peer, const PublicKey& key,
                              AeadProtection* protection) {
    Session s;
    s.role = role;
    s.current = current;
    s.peer = peer;
    s.peer_key = key;
    s.protection = protection;
    return s;
  }

  void rekeyed(Session& s, std::uint32_t old_current, std::uint32_t new_current, AeadProtection* raw) {
    const std::uint32_t handle = by_current_.at(old_current);
    by_current_[new_current] = handle;  // the old id stays mapped until the old keys are dropped
    s.current = new_current;
    s.protection = raw;
    s.protection->advance(advanced_);
    s.old_keys = true;
    ++stats_.rekeys;
  }

  Session* session_by_current(std::uint32_t current) {
    auto it = by_current_.find(current);
    if (it == by_current_.end()) return nullptr;
    auto s = sessions_.find(it->second);
    return s == sessions_.end() ? nullptr : &s->second;
  }

  void forget(std::uint32_t handle) {
    if (auto s = sessions_.find(handle); s != sessions_.end()) {
      // rudp may still send CLOSE for a while: the peer address's allowance goes on applying.
      for (auto it = closing_.begin(); it != closing_.end();) {
        if (!rudp_.connection(rudp::ConnectionId{it->first})) it = closing_.erase(it);
        else ++it;
      }
      if (rudp_.connection(rudp::ConnectionId{s->second.current})) closing_[s->second.current] = s->second.guard;
    }
    for (auto it = by_current_.begin(); it != by_current_.end();) {
      if (it->second == handle) it = by_current_.erase(it);
      else ++it;
    }
    for (auto it = initiating_.begin(); it != initiating_.end();) {
      if (it->second.rekey_of == handle) it = initiating_.erase(it);
      else ++it;
    }
    sessions_.erase(handle);
  }

  void queue(Transmit t) {
    if (outbox_.size() < 4096) outbox_.push_back(std::move(t));  // bounded: excess answers are dropped
  }

  SecureEndpointOptions options_;
  std::shared_ptr<RandomBytes> random_;
  AddressBytes address_bytes_;
  rudp::Endpoint<Address> rudp_;
  Responder responder_;
  std::map<std::uint32_t, Outgoing> initiating_;       // by our local index
  std::map<std::uint32_t, Session> sessions_;          // by handle
  std::unordered_map<std::uint32_t, std::uint32_t> by_current_;  // local id (current or pre-rekey) -> handle
  std::unordered_map<std::uint32_t, AmplificationGuard> closing_;  // local id -> guard, after the session ended
  std::set<std::uint32_t> sessions_pending_;  // handles of connects still in their handshake
  std::map<Ephemeral, Answer> answers_;  // initiations answered recently, by the initiator's ephemeral key
  std::deque<Transmit> outbox_;
  std::deque<Event> events_;
  SecureEndpointStats stats_;
  TimePoint advanced_{};
};

}  // namespace pdtp::secure
