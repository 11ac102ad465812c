// The initiator's side of the handshake as a sans-I/O state machine that speaks datagrams (one per
// outgoing session): IK when it knows the responder's static key, XX otherwise. Each call returns the
// datagram to send (if any) and, once the handshake completes, the session keys.
#pragma once

#include <optional>
#include <string>
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

using core::TimePoint;

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

}  // namespace pdtp::secure
