// The secure layer's implementation of rudp's PacketProtection interface: AEAD with the packet number
// as nonce and the 13-byte cleartext header as associated data, a replay window checked after
// authentication, and the key lifetime limits. rudp's seal/open carry no time, so the runtime calls
// advance(now) as its clock moves; once the keys are past their age or message limit, seal() returns
// false (rudp then closes the connection) and open() refuses everything. A runtime that wants the
// connection to live on starts a new handshake when rekey_due(now) says so and installs the new keys.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "pdtp/result.hpp"
#include "pdtp/rudp/protection.hpp"
#include "pdtp/secure/aead.hpp"
#include "pdtp/secure/rekey.hpp"
#include "pdtp/secure/session_keys.hpp"

namespace pdtp::secure {

class AeadProtection final : public rudp::PacketProtection {
 public:
  static Result<std::unique_ptr<AeadProtection>> create(const SessionKeys& keys, TimePoint now, KeyLimits limits = {}) {
    auto p = make_protector(keys, limits);
    if (!p) return p.error();
    return std::unique_ptr<AeadProtection>(
        new AeadProtection(std::move(*p), KeyLifetime(now, keys.role == Role::initiator, limits), now));
  }

  std::size_t overhead() const noexcept override { return aead_overhead; }

  bool seal(rudp::PacketNumber pn, std::span<const std::uint8_t> header, std::span<std::uint8_t> sealed) override {
    if (lifetime_.send_status(now_, pn) == KeyStatus::expired) return false;
    return protector_.seal(pn, header, sealed).ok();
  }

  std::optional<std::span<std::uint8_t>> open(rudp::PacketNumber pn, std::span<const std::uint8_t> header,
                                              std::span<std::uint8_t> sealed) override {
    if (lifetime_.receive_status(now_, pn) == KeyStatus::expired) return std::nullopt;
    auto n = protector_.open(pn, header, sealed);
    if (!n) return std::nullopt;
    confirmed_ = true;
    return sealed.first(*n);
  }

  // The runtime's clock, fed in before each batch of seal/open calls.
  void advance(TimePoint now) noexcept {
    if (now > now_) now_ = now;
  }

  // True when a new handshake should start (the keys stay usable meanwhile).
  bool rekey_due(TimePoint now) const noexcept {
    return lifetime_.send_status(now, protector_.next_send_number()) != KeyStatus::fresh ||
           lifetime_.receive_status(now, 0) == KeyStatus::rekey_due;
  }
  bool expired(TimePoint now) const noexcept {
    return lifetime_.send_status(now, protector_.next_send_number()) == KeyStatus::expired;
  }
  TimePoint expires_at() const noexcept { return lifetime_.expires_at(); }

  // A packet from the peer authenticated under these keys: they are confirmed (and the peer's address
  // is proven). A responder sends nothing under new keys before this.
  bool confirmed() const noexcept { return confirmed_; }
  Suite suite() const noexcept { return protector_.suite(); }

 private:
  AeadProtection(PacketProtector p, KeyLifetime lifetime, TimePoint now)
      : protector_(std::move(p)), lifetime_(lifetime), now_(now) {}

  PacketProtector protector_;
  KeyLifetime lifetime_;
  TimePoint now_;
  bool confirmed_ = false;
};

}  // namespace pdtp::secure
