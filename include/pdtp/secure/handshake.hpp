// The handshake as two sans-I/O state machines that speak datagrams: an Initiator (one per outgoing
// session) and a Responder (one per listening endpoint, serving many initiators). They combine the Noise
// handshake, the datagram format with mac1/mac2, cookies under load, cipher suite negotiation and the
// anti-amplification rule (a responder's reply is never larger than the datagram it answers).
// Pattern: IK when the initiator knows the responder's static key, XX otherwise.
// Neither machine sends by itself: each call returns the datagram to send (if any) and, once the
// handshake completes, the session keys.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "pdtp/core/time.hpp"
#include "pdtp/result.hpp"
#include "pdtp/secure/aead.hpp"
#include "pdtp/secure/cookie.hpp"
#include "pdtp/secure/handshake_packets.hpp"
#include "pdtp/secure/handshake_payload.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/secure/noise.hpp"

namespace pdtp::secure {

using core::Duration;
using core::TimePoint;

inline constexpr std::string_view default_prologue = "pdtp udp v1";

// Everything the transport phase needs from a completed handshake.
struct SessionKeys {
  Role role = Role::initiator;
  Pattern pattern = Pattern::xx;
  Suite suite = Suite::chacha20_poly1305;
  AeadKey send_key;
  AeadKey receive_key;
  std::uint32_t local_index = 0;   // the receiver index the peer puts on packets to us
  std::uint32_t remote_index = 0;  // the receiver index we put on packets to the peer
  PublicKey remote_static;         // the peer's authenticated identity
  detail::Hash handshake_hash{};   // unique to this session (channel binding)
};

struct Established {
  SessionKeys keys;
  Bytes peer_payload;  // the application bytes the peer sent in the handshake
};

inline Result<PacketProtector> make_protector(const SessionKeys& keys, KeyLimits limits = {}) {
  return PacketProtector::create(keys.suite, keys.send_key, keys.receive_key, limits);
}

namespace detail {
inline SessionKeys session_keys(const HandshakeState& hs, Suite suite, std::uint32_t local, std::uint32_t remote) {
  SessionKeys k;
  auto t = hs.split();  // only called on a finished state
  k.role = hs.role();
  k.pattern = hs.pattern();
  k.suite = suite;
  k.send_key = t->send.key();
  k.receive_key = t->receive.key();
  k.local_index = local;
  k.remote_index = remote;
  k.remote_static = *hs.remote_static();
  k.handshake_hash = hs.handshake_hash();
  return k;
}

inline bool single_suite(SuiteSet s) noexcept {
  return s == static_cast<SuiteSet>(Suite::chacha20_poly1305) || s == static_cast<SuiteSet>(Suite::aes256_gcm);
}
}  // namespace detail

struct InitiatorConfig {
  KeyPair local_static;
  std::optional<PublicKey> responder_static;  // known: IK (1 round trip); unknown: XX (learned, 1.5 round trips)
  Bytes prologue = Bytes(default_prologue.begin(), default_prologue.end());
  SuiteSet suites = 0;                        // 0: what this machine can run (local_suites())
  std::size_t pad_initiation_to = 1200;       // also the largest reply the responder may send
};

class Initiator {
 public:
  struct Output {
    std::optional<Bytes> reply;               // XX: the finish datagram to send
    std::optional<Established> established;  // the handshake completed
    bool cookie_received = false;             // the responder is under load: resend initiation() now
  };

  // `local_index`: nonzero and unused at this endpoint. `ephemeral`: 32 fresh random bytes.
  // `payload`: application bytes for the responder (sent encrypted: in message 1 for IK, 3 for XX).
  static Result<Initiator> create(InitiatorConfig config, std::uint32_t local_index, const SecretKey& ephemeral,
                                  Bytes payload = {}) {
    if (local_index == 0) return Error{Errc::bad_field, "initiator local index must not be 0"};
    if (payload.size() > max_handshake_application)
      return Error{Errc::bad_field, "handshake payload of " + std::to_string(payload.size()) + " bytes exceeds 60000"};
    if (config.suites == 0) config.suites = local_suites();
    HandshakeConfig hc;
    hc.pattern = config.responder_static ? Pattern::ik : Pattern::xx;
    hc.role = Role::initiator;
    hc.prologue = config.prologue;
    hc.local_static = config.local_static;
    hc.local_ephemeral = ephemeral;
    hc.remote_static = config.responder_static;
    auto hs = HandshakeState::create(hc);
    if (!hs) return hs.error();
    Initiator init(std::move(config), local_index, std::move(*hs), std::move(payload));
    if (auto st = init.write_initiation(); !st) return st.error();
    return init;
  }

  Pattern pattern() const noexcept { return hs_.pattern(); }
  std::uint32_t local_index() const noexcept { return local_index_; }
  bool finished() const noexcept { return done_; }

  // The initiation to send, and to resend on timeout; mac2 carries a fresh cookie if we hold one.
  const Bytes& initiation(TimePoint now) {
    set_mac2(initiation_, jar_.current(now));
    return initiation_;
  }

  // XX only: the finish datagram, to resend until the responder's first packet confirms the session.
  const std::optional<Bytes>& finish() const noexcept { return finish_; }

  Result<Output> on_datagram(TimePoint now, ByteView datagram) {
    auto parsed = parse_handshake(datagram);
    if (!parsed) return parsed.error();
    const HandshakeDatagram& h = *parsed;
    if (done_) return Error{Errc::bad_state, "handshake already complete"};
    if (h.kind != HandshakeKind::response && h.kind != HandshakeKind::cookie_reply)
      return Error{Errc::bad_state, "an initiator only takes responses and cookie replies"};
    if (h.receiver_index != local_index_)
      return Error{Errc::bad_state, "datagram for index " + std::to_string(h.receiver_index) + ", this handshake is " +
                                        std::to_string(local_index_)};
    const bool ik = hs_.pattern() == Pattern::ik;
    if (h.kind == HandshakeKind::cookie_reply) {
      auto st = jar_.accept(now, h, mac1_of(initiation_), ik ? &*config_.responder_static : nullptr);
      if (!st) return st.error();
      Output out;
      out.cookie_received = true;
      return out;
    }
    if (!mac1_valid(h, mac1_key(ik ? &config_.local_static.public_key : nullptr)))
      return Error{Errc::bad_mac, "response mac1 does not verify (corrupt, or not meant for us)"};
    HandshakeState next = hs_;  // a forged response must not spoil the real one
    auto plain = next.read_message(h.noise);
    if (!plain) return plain.error();
    auto payload = decode_handshake_payload(*plain);
    if (!payload) return payload.error();
    if (payload->sender_index != h.sender_index)
      return Error{Errc::bad_field, "response header sender index " + std::to_string(h.sender_index) +
                                        " differs from the authenticated one " + std::to_string(payload->sender_index)};
    if (!detail::single_suite(payload->suites) || !(payload->suites & config_.suites))
      return Error{Errc::bad_field, "responder chose cipher suite 0x" + detail::to_hex(ByteView(&payload->suites, 1)) +
                                        ", which we did not offer"};
    const Suite suite = static_cast<Suite>(payload->suites);
    Output out;
    if (!ik) {
      auto m3 = next.write_message(encode_handshake_payload(payload->suites, local_index_, payload_));
      if (!m3) return m3.error();
      HandshakeHeader hdr{HandshakeKind::finish, local_index_, h.sender_index};
      finish_ = build_handshake(hdr, *m3, mac1_key(&*next.remote_static()));
      out.reply = finish_;
    }
    hs_ = std::move(next);
    done_ = true;
    out.established = Established{detail::session_keys(hs_, suite, local_index_, h.sender_index),
                                  std::move(payload->application)};
    return out;
  }

 private:
  Initiator(InitiatorConfig config, std::uint32_t local_index, HandshakeState hs, Bytes payload)
      : config_(std::move(config)), local_index_(local_index), hs_(std::move(hs)), payload_(std::move(payload)) {}

  Status write_initiation() {
    const bool ik = hs_.pattern() == Pattern::ik;
    const ByteView app = ik ? ByteView(payload_) : ByteView();  // XX message 1 is not encrypted
    const std::size_t fixed = initiation_header_size + hs_.overhead_of_next() + 2 * mac_size;
    const std::size_t min_plain = config_.pad_initiation_to > fixed ? config_.pad_initiation_to - fixed : 0;
    auto m1 = hs_.write_message(encode_handshake_payload(config_.suites, local_index_, app, min_plain));
    if (!m1) return m1.error();
    HandshakeHeader hdr{ik ? HandshakeKind::ik_initiation : HandshakeKind::xx_initiation, local_index_, 0};
    initiation_ = build_handshake(hdr, *m1, mac1_key(ik ? &*config_.responder_static : nullptr));
    return Ok{};
  }

  InitiatorConfig config_;
  std::uint32_t local_index_;
  HandshakeState hs_;
  Bytes payload_;
  Bytes initiation_;
  std::optional<Bytes> finish_;
  CookieJar jar_;
  bool done_ = false;
};

struct ResponderConfig {
  KeyPair local_static;
  Bytes prologue = Bytes(default_prologue.begin(), default_prologue.end());
  SuiteSet suites = 0;                                 // 0: local_suites()
  std::size_t max_pending = 4096;                      // XX handshakes waiting for message 3
  Duration pending_timeout = std::chrono::seconds(15);
};

struct ResponderStats {
  std::uint64_t dropped_bad_mac = 0;     // failed mac1: dropped before any DH
  std::uint64_t cookie_replies = 0;      // under load without a valid mac2
  std::uint64_t dh_operations = 0;       // X25519 computations spent on handshakes
  std::uint64_t failed = 0;              // passed mac1 but the Noise message or payload was bad
  std::uint64_t completed = 0;
};

class Responder {
 public:
  struct Output {
    std::optional<Bytes> reply;               // send back to the datagram's source address
    std::optional<Established> established;  // a session exists (IK: now; XX: after message 3)
  };

  Responder(ResponderConfig config, RandomBytes random)
      : config_(std::move(config)),
        random_(std::make_shared<RandomBytes>(std::move(random))),
        cookies_(config_.local_static.public_key, [r = random_](MutableByteView out) { (*r)(out); }) {
    if (config_.suites == 0) config_.suites = local_suites();
  }

  const PublicKey& public_key() const noexcept { return config_.local_static.public_key; }
  const ResponderStats& stats() const noexcept { return stats_; }
  std::size_t pending() const noexcept { return pending_.size(); }

  // One handshake datagram from `address` (opaque bytes naming the sender, e.g. IP and port).
  // `under_load`: the runtime's judgement; then initiations without a valid cookie get a cookie reply.
  // `new_index`: a nonzero index unused at this endpoint, taken if this datagram starts a session.
  // `reply_payload`: application bytes for the initiator (encrypted in message 2).
  Result<Output> on_datagram(TimePoint now, ByteView address, ByteView datagram, bool under_load,
                             std::uint32_t new_index, ByteView reply_payload = {}) {
    expire(now);
    auto parsed = parse_handshake(datagram);
    if (!parsed) return parsed.error();
    const HandshakeDatagram& h = *parsed;
    switch (h.kind) {
      case HandshakeKind::ik_initiation:
      case HandshakeKind::xx_initiation:
        return on_initiation(now, address, h, datagram.size(), under_load, new_index, reply_payload);
      case HandshakeKind::finish:
        return on_finish(address, h);
      default:
        return Error{Errc::bad_state, "a responder does not take responses or cookie replies"};
    }
  }

  // Forgets XX handshakes whose message 3 never came.
  void expire(TimePoint now) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (now - it->second.started >= config_.pending_timeout) it = pending_.erase(it);
      else ++it;
    }
  }

 private:
  struct Pending {
    HandshakeState hs;
    Bytes address;
    TimePoint started;
    std::uint32_t remote_index;
    Suite suite;
  };

  Result<Output> on_initiation(TimePoint now, ByteView address, const HandshakeDatagram& h, std::size_t received,
                               bool under_load, std::uint32_t new_index, ByteView reply_payload) {
    const bool ik = h.kind == HandshakeKind::ik_initiation;
    if (!mac1_valid(h, mac1_key(ik ? &config_.local_static.public_key : nullptr))) {
      ++stats_.dropped_bad_mac;
      return Error{Errc::bad_mac, ik ? "initiation mac1 does not verify: the initiator does not hold this "
                                       "responder's public key (wrong server key?), or the datagram is corrupt"
                                     : "initiation mac1 does not verify: the datagram is corrupt"};
    }
    if (under_load && !cookies_.mac2_valid(now, address, h)) {
      ++stats_.cookie_replies;
      Output out;
      out.reply = cookies_.make_reply(now, address, h);
      return out;
    }
    if (new_index == 0 || pending_.count(new_index))
      return Error{Errc::bad_state, "new index " + std::to_string(new_index) + " is 0 or already in use"};
    if (!ik && pending_.size() >= config_.max_pending)
      return Error{Errc::overloaded, "too many XX handshakes pending (" + std::to_string(pending_.size()) + ")"};
    if (reply_payload.size() > max_handshake_application)
      return Error{Errc::bad_field, "reply payload of " + std::to_string(reply_payload.size()) + " bytes exceeds 60000"};

    HandshakeConfig hc;
    hc.pattern = ik ? Pattern::ik : Pattern::xx;
    hc.role = Role::responder;
    hc.prologue = config_.prologue;
    hc.local_static = config_.local_static;
    (*random_)(hc.local_ephemeral.mutable_view());
    auto hs = HandshakeState::create(hc);
    if (!hs) return hs.error();
    auto plain = hs->read_message(h.noise);
    stats_.dh_operations += hs->dh_operations();
    if (!plain) {
      ++stats_.failed;
      return plain.error();
    }
    auto payload = decode_handshake_payload(*plain);
    if (!payload) return failed(payload.error());
    if (payload->sender_index != h.sender_index)
      return failed(Error{Errc::bad_field, "initiation header sender index " + std::to_string(h.sender_index) +
                                               " differs from the authenticated one " +
                                               std::to_string(payload->sender_index)});
    auto suite = choose_suite(payload->suites, config_.suites);
    if (!suite) return failed(suite.error());

    const std::size_t reply_size = reply_header_size + hs->overhead_of_next() + handshake_payload_header +
                                   reply_payload.size() + 2 * mac_size;
    if (reply_size > received)
      return failed(Error{Errc::overloaded, "a " + std::to_string(reply_size) + "-byte response to a " +
                                                std::to_string(received) +
                                                "-byte initiation would amplify: the initiator must pad more"});
    const unsigned dh_before = hs->dh_operations();
    auto m2 = hs->write_message(encode_handshake_payload(static_cast<SuiteSet>(*suite), new_index, reply_payload));
    stats_.dh_operations += hs->dh_operations() - dh_before;
    if (!m2) return failed(m2.error());
    HandshakeHeader hdr{HandshakeKind::response, new_index, h.sender_index};
    Output out;
    out.reply = build_handshake(hdr, *m2, mac1_key(ik ? &*hs->remote_static() : nullptr));
    if (ik) {
      ++stats_.completed;
      out.established = Established{detail::session_keys(*hs, *suite, new_index, h.sender_index),
                                    std::move(payload->application)};
    } else {
      pending_.emplace(new_index, Pending{std::move(*hs), Bytes(address.begin(), address.end()), now, h.sender_index, *suite});
    }
    return out;
  }

  Result<Output> on_finish(ByteView address, const HandshakeDatagram& h) {
    auto it = pending_.find(h.receiver_index);
    if (it == pending_.end())
      return Error{Errc::bad_state, "finish for index " + std::to_string(h.receiver_index) + ", which has no pending handshake"};
    Pending& p = it->second;
    if (h.sender_index != p.remote_index || !detail::equal_ct(address, p.address))
      return Error{Errc::bad_state, "finish does not come from the initiator of that handshake"};
    if (!mac1_valid(h, mac1_key(&config_.local_static.public_key))) {
      ++stats_.dropped_bad_mac;
      return Error{Errc::bad_mac, "finish mac1 does not verify (corrupt, or the initiator holds another key for us)"};
    }
    HandshakeState next = p.hs;  // a forged finish must not spoil the pending handshake
    auto plain = next.read_message(h.noise);
    stats_.dh_operations += next.dh_operations() - p.hs.dh_operations();
    if (!plain) return failed(plain.error());
    auto payload = decode_handshake_payload(*plain);
    if (!payload) return failed(payload.error());
    if (payload->sender_index != p.remote_index || payload->suites != static_cast<SuiteSet>(p.suite))
      return failed(Error{Errc::bad_field, "finish payload does not repeat the initiator's index and chosen suite"});
    Output out;
    ++stats_.completed;
    out.established =
        Established{detail::session_keys(next, p.suite, h.receiver_index, p.remote_index), std::move(payload->application)};
    pending_.erase(it);
    return out;
  }

  Error failed(Error e) {
    ++stats_.failed;
    return e;
  }

  ResponderConfig config_;
  std::shared_ptr<RandomBytes> random_;  // shared with the cookie checker
  CookieChecker cookies_;
  std::unordered_map<std::uint32_t, Pending> pending_;
  ResponderStats stats_;
};

}  // namespace pdtp::secure
