// The responder's side of the handshake as a sans-I/O state machine (one per listening endpoint,
// serving many initiators). It checks mac1 before any DH, answers with cookies under load, negotiates
// the cipher suite, never replies with more bytes than it received, and keeps a bounded table of XX
// handshakes waiting for their third message.
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
#include "pdtp/secure/session_keys.hpp"

namespace pdtp::secure {

using core::Duration;
using core::TimePoint;

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