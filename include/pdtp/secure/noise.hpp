// The Noise Protocol Framework (revision 34) for exactly two protocols:
//   Noise_IK_25519_ChaChaPoly_SHA256  (initiator already knows the responder's static key: 1 round trip)
//   Noise_XX_25519_ChaChaPoly_SHA256  (nobody knows anything: 1.5 round trips, both identities sent)
// CipherState, SymmetricState and HandshakeState follow the spec's definitions one to one. The caller
// supplies the ephemeral secret (fresh random bytes per handshake), so the state machine is deterministic.
// A failed read poisons a HandshakeState (as the spec says); callers that must survive forged
// messages copy the state before reading and keep the copy on failure.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pdtp/result.hpp"
#include "pdtp/secure/detail/bytes.hpp"
#include "pdtp/secure/detail/crypto.hpp"
#include "pdtp/secure/keys.hpp"
#include "pdtp/secure/sodium.hpp"

namespace pdtp::secure {

enum class Role : std::uint8_t { initiator, responder };
enum class Pattern : std::uint8_t { ik, xx };

inline constexpr std::size_t max_noise_message = 65535;  // spec section 3

inline constexpr std::string_view protocol_name(Pattern p) noexcept {
  return p == Pattern::ik ? "Noise_IK_25519_ChaChaPoly_SHA256" : "Noise_XX_25519_ChaChaPoly_SHA256";
}

inline constexpr std::string_view pattern_name(Pattern p) noexcept { return p == Pattern::ik ? "IK" : "XX"; }

using AeadKey = SecretBytes<detail::key_len>;

// A key (possibly none) and a 64-bit nonce counter (spec section 5.1).
class CipherState {
 public:
  CipherState() = default;
  explicit CipherState(const AeadKey& key) : key_(key), has_key_(true) {}

  void initialize_key(const AeadKey& key) noexcept {
    key_ = key;
    has_key_ = true;
    n_ = 0;
  }
  bool has_key() const noexcept { return has_key_; }
  const AeadKey& key() const noexcept { return key_; }
  std::uint64_t nonce() const noexcept { return n_; }
  void set_nonce(std::uint64_t n) noexcept { n_ = n; }

  // Without a key the plaintext passes through unchanged (early handshake messages).
  Result<Bytes> encrypt_with_ad(ByteView ad, ByteView plaintext) {
    if (!has_key_) return Bytes(plaintext.begin(), plaintext.end());
    if (n_ == max_nonce) return Error{Errc::key_expired, "cipher nonce exhausted (2^64-1 is reserved): rekey"};
    Bytes out(plaintext.size() + detail::tag_len);
    detail::chachapoly_encrypt(out.data(), key_.data(), n_, ad, plaintext);
    ++n_;
    return out;
  }

  // On failure the nonce does not advance, so a forged message cannot desynchronise the counter.
  Result<Bytes> decrypt_with_ad(ByteView ad, ByteView ciphertext) {
    if (!has_key_) return Bytes(ciphertext.begin(), ciphertext.end());
    if (n_ == max_nonce) return Error{Errc::key_expired, "cipher nonce exhausted (2^64-1 is reserved): rekey"};
    if (ciphertext.size() < detail::tag_len)
      return Error{Errc::decrypt_failed, "ciphertext of " + std::to_string(ciphertext.size()) +
                                             " bytes is shorter than the 16-byte tag"};
    Bytes out(ciphertext.size() - detail::tag_len);
    if (!detail::chachapoly_decrypt(out.data(), key_.data(), n_, ad, ciphertext))
      return Error{Errc::decrypt_failed, "authentication tag does not verify at nonce " + std::to_string(n_)};
    ++n_;
    return out;
  }

  // Spec section 4.2 REKEY: the new key is the first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes).
  void rekey() noexcept {
    if (!has_key_) return;
    std::array<std::uint8_t, 32> zeros{};
    std::array<std::uint8_t, 32 + detail::tag_len> out{};
    detail::chachapoly_encrypt(out.data(), key_.data(), max_nonce, ByteView(), ByteView(zeros.data(), zeros.size()));
    std::copy_n(out.begin(), 32, key_.data());
    sodium_memzero(out.data(), out.size());
  }

 private:
  static constexpr std::uint64_t max_nonce = std::numeric_limits<std::uint64_t>::max();
  AeadKey key_;
  bool has_key_ = false;
  std::uint64_t n_ = 0;
};

// The chaining key, the handshake hash and the current CipherState (spec section 5.2).
class SymmetricState {
 public:
  explicit SymmetricState(std::string_view name) noexcept {
    ensure_sodium();
    if (name.size() <= detail::hash_len) {
      h_.fill(0);
      std::copy(name.begin(), name.end(), h_.begin());
    } else {
      h_ = detail::sha256({detail::as_bytes(name)});
    }
    ck_ = SecretBytes<detail::hash_len>(h_);
  }

  void mix_key(ByteView ikm) noexcept {
    auto out = detail::hkdf(ck_.view(), ikm, false);
    ck_ = out.first;
    cipher_.initialize_key(AeadKey(to_array(out.second)));
  }

  void mix_hash(ByteView data) noexcept { h_ = detail::sha256({ByteView(h_.data(), h_.size()), data}); }

  Result<Bytes> encrypt_and_hash(ByteView plaintext) {
    auto ct = cipher_.encrypt_with_ad(ByteView(h_.data(), h_.size()), plaintext);
    if (ct) mix_hash(*ct);
    return ct;
  }

  Result<Bytes> decrypt_and_hash(ByteView ciphertext) {
    auto pt = cipher_.decrypt_with_ad(ByteView(h_.data(), h_.size()), ciphertext);
    if (pt) mix_hash(ciphertext);
    return pt;
  }

  // Two CipherStates: the first encrypts initiator -> responder, the second responder -> initiator.
  std::pair<CipherState, CipherState> split() const noexcept {
    auto out = detail::hkdf(ck_.view(), ByteView(), false);
    return {CipherState(AeadKey(to_array(out.first))), CipherState(AeadKey(to_array(out.second)))};
  }

  bool has_key() const noexcept { return cipher_.has_key(); }
  const detail::Hash& handshake_hash() const noexcept { return h_; }

 private:
  static std::array<std::uint8_t, 32> to_array(const SecretBytes<32>& s) noexcept {
    std::array<std::uint8_t, 32> a;
    std::copy_n(s.data(), 32, a.begin());
    return a;
  }

  SecretBytes<detail::hash_len> ck_;
  detail::Hash h_{};
  CipherState cipher_;
};

struct HandshakeConfig {
  Pattern pattern = Pattern::xx;
  Role role = Role::initiator;
  Bytes prologue;                          // bound into the transcript; both sides must agree
  KeyPair local_static;
  SecretKey local_ephemeral;               // 32 fresh random bytes, used for this handshake only
  std::optional<PublicKey> remote_static;  // IK initiator: the responder's key (required); else unset
};

// The ciphers for the transport phase, already oriented for the local role.
struct TransportCiphers {
  CipherState send;
  CipherState receive;
};

class HandshakeState {
 public:
  static Result<HandshakeState> create(const HandshakeConfig& config) {
    ensure_sodium();
    if (config.pattern == Pattern::ik && config.role == Role::initiator && !config.remote_static)
      return Error{Errc::bad_key, "IK initiator needs the responder's static public key"};
    if (config.remote_static && !(config.pattern == Pattern::ik && config.role == Role::initiator))
      return Error{Errc::bad_state, std::string("a remote static key is only given to an IK initiator; ") +
                                        "in this role it is learned during the handshake"};
    HandshakeState hs(config);
    hs.symmetric_.mix_hash(config.prologue);
    if (config.pattern == Pattern::ik) {  // pre-message "<- s": the responder's static key
      hs.symmetric_.mix_hash(config.role == Role::initiator ? config.remote_static->view()
                                                            : config.local_static.public_key.view());
    }
    return hs;
  }

  Pattern pattern() const noexcept { return pattern_; }
  Role role() const noexcept { return role_; }
  std::size_t message_index() const noexcept { return index_; }
  std::size_t message_count() const noexcept { return pattern_ == Pattern::ik ? 2 : 3; }
  bool finished() const noexcept { return index_ >= message_count(); }
  bool failed() const noexcept { return failed_; }
  // Even-numbered messages (0, 2) go initiator -> responder.
  bool my_turn() const noexcept { return !finished() && ((index_ % 2 == 0) == (role_ == Role::initiator)); }
  const std::optional<PublicKey>& remote_static() const noexcept { return rs_; }
  const PublicKey& local_ephemeral_public() const noexcept { return e_pub_; }
  const detail::Hash& handshake_hash() const noexcept { return symmetric_.handshake_hash(); }
  unsigned dh_operations() const noexcept { return dh_count_; }

  // Bytes of handshake overhead (keys and tags) in the message about to be written or read.
  std::size_t overhead_of_next() const noexcept {
    std::size_t n = 0;
    bool keyed = symmetric_.has_key();
    for (Token t : tokens(index_)) {
      if (t == Token::e) n += detail::dh_len;
      if (t == Token::s) n += detail::dh_len + (keyed ? detail::tag_len : 0);
      if (t == Token::ee || t == Token::es || t == Token::se || t == Token::ss) keyed = true;
    }
    return n + (keyed ? detail::tag_len : 0);
  }

  Result<Bytes> write_message(ByteView payload) {
    if (auto st = check_turn(true); !st) return st.error();
    if (payload.size() + overhead_of_next() > max_noise_message)
      return Error{Errc::bad_field, "handshake payload of " + std::to_string(payload.size()) +
                                        " bytes makes the message exceed 65535 bytes"};
    Bytes out;
    for (Token t : tokens(index_)) {
      switch (t) {
        case Token::e:
          detail::append(out, e_pub_.view());
          symmetric_.mix_hash(e_pub_.view());
          break;
        case Token::s: {
          auto ct = symmetric_.encrypt_and_hash(s_.public_key.view());
          if (!ct) return fail(ct.error());
          detail::append(out, *ct);
          break;
        }
        default:
          if (auto st = mix_dh(t); !st) return st.error();
      }
    }
    auto ct = symmetric_.encrypt_and_hash(payload);
    if (!ct) return fail(ct.error());
    detail::append(out, *ct);
    ++index_;
    return out;
  }

  // Returns the payload. Any failure leaves this state unusable (failed() is then true).
  Result<Bytes> read_message(ByteView message) {
    if (auto st = check_turn(false); !st) return st.error();
    if (message.size() > max_noise_message)
      return fail(Errc::bad_field, "handshake message of " + std::to_string(message.size()) + " bytes exceeds 65535");
    if (message.size() < overhead_of_next())
      return fail(Errc::bad_field, describe() + ": " + std::to_string(message.size()) +
                                       " bytes is shorter than the " + std::to_string(overhead_of_next()) +
                                       " bytes its keys and tags need");
    std::size_t pos = 0;
    for (Token t : tokens(index_)) {
      switch (t) {
        case Token::e: {
          PublicKey re;
          std::copy_n(message.begin() + static_cast<std::ptrdiff_t>(pos), detail::dh_len, re.bytes.begin());
          pos += detail::dh_len;
          symmetric_.mix_hash(re.view());
          re_ = re;
          break;
        }
        case Token::s: {
          const std::size_t len = detail::dh_len + (symmetric_.has_key() ? detail::tag_len : 0);
          auto pt = symmetric_.decrypt_and_hash(message.subspan(pos, len));
          if (!pt)
            return fail(Errc::decrypt_failed,
                        describe() + ": the peer's static key does not decrypt" +
                            (pattern_ == Pattern::ik
                                 ? " (the initiator used a different responder public key, or the message was altered)"
                                 : " (the message was altered, or the keys differ)"));
          pos += len;
          PublicKey rs;
          std::copy(pt->begin(), pt->end(), rs.bytes.begin());
          rs_ = rs;
          break;
        }
        default:
          if (auto st = mix_dh(t); !st) return st.error();
      }
    }
    auto payload = symmetric_.decrypt_and_hash(message.subspan(pos));
    if (!payload)
      return fail(Errc::decrypt_failed, describe() + ": the payload does not decrypt (altered in transit, or the keys differ)");
    ++index_;
    return payload;
  }

  // Only once finished(): the two transport ciphers, send/receive as seen by this side.
  Result<TransportCiphers> split() const {
    if (!finished() || failed_) return Error{Errc::bad_state, "split() before the handshake finished"};
    auto [c1, c2] = symmetric_.split();
    if (role_ == Role::initiator) return TransportCiphers{std::move(c1), std::move(c2)};
    return TransportCiphers{std::move(c2), std::move(c1)};
  }

 private:
  enum class Token : std::uint8_t { e, s, ee, es, se, ss };
  struct Tokens {
    std::array<Token, 4> list{};
    std::size_t count = 0;
    const Token* begin() const noexcept { return list.data(); }
    const Token* end() const noexcept { return list.data() + count; }
  };

  explicit HandshakeState(const HandshakeConfig& c)
      : symmetric_(protocol_name(c.pattern)),
        pattern_(c.pattern),
        role_(c.role),
        s_(c.local_static),
        e_(c.local_ephemeral),
        rs_(c.remote_static) {
    detail::x25519_base(e_pub_.bytes.data(), e_.data());
  }

  // IK: -> e, es, s, ss   <- e, ee, se        XX: -> e   <- e, ee, s, es   -> s, se
  Tokens tokens(std::size_t index) const noexcept {
    using T = Token;
    if (pattern_ == Pattern::ik) {
      if (index == 0) return {{T::e, T::es, T::s, T::ss}, 4};
      if (index == 1) return {{T::e, T::ee, T::se}, 3};
    } else {
      if (index == 0) return {{T::e}, 1};
      if (index == 1) return {{T::e, T::ee, T::s, T::es}, 4};
      if (index == 2) return {{T::s, T::se}, 2};
    }
    return {};
  }

  std::string describe() const {
    return std::string(pattern_name(pattern_)) + " handshake message " + std::to_string(index_ + 1);
  }

  Status check_turn(bool writing) const {
    if (failed_) return Error{Errc::bad_state, "handshake already failed"};
    if (finished()) return Error{Errc::bad_state, "handshake already finished"};
    if (my_turn() != writing)
      return Error{Errc::bad_state, describe() + (writing ? ": it is the peer's turn to write"
                                                          : ": it is our turn to write, not read")};
    return Ok{};
  }

  Error fail(Error e) {
    failed_ = true;
    return e;
  }
  Error fail(Errc code, std::string message) { return fail(Error{code, std::move(message)}); }

  // ee, es, se, ss: which keys meet depends on the role (spec section 5.3).
  Status mix_dh(Token t) {
    const bool init = role_ == Role::initiator;
    const SecretKey* mine = nullptr;
    const std::optional<PublicKey>* theirs = nullptr;
    switch (t) {
      case Token::ee: mine = &e_; theirs = &re_; break;
      case Token::es: mine = init ? &e_ : &s_.secret; theirs = init ? &rs_ : &re_; break;
      case Token::se: mine = init ? &s_.secret : &e_; theirs = init ? &re_ : &rs_; break;
      case Token::ss: mine = &s_.secret; theirs = &rs_; break;
      default: break;
    }
    if (!mine || !theirs || !*theirs) return fail(Errc::bad_state, describe() + ": a DH needs a key not yet known");
    SecretBytes<detail::dh_len> shared;
    ++dh_count_;
    if (!detail::x25519(shared.data(), mine->data(), (*theirs)->bytes.data()))
      return fail(Errc::bad_key, describe() + ": the peer's key is a low-order point (DH result is zero)");
    symmetric_.mix_key(shared.view());
    return Ok{};
  }

  SymmetricState symmetric_;
  Pattern pattern_;
  Role role_;
  KeyPair s_;
  SecretKey e_;
  PublicKey e_pub_;
  std::optional<PublicKey> rs_;
  std::optional<PublicKey> re_;
  std::size_t index_ = 0;
  bool failed_ = false;
  unsigned dh_count_ = 0;
};

}  // namespace pdtp::secure
