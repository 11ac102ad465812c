// Typed errors for every parser and state machine in the core. No exceptions cross the core's API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pdtp {

enum class Errc {
  incomplete,          // need more bytes (not a failure of the input so far)
  frame_too_large,     // body longer than 65,535 bytes
  empty_frame,         // zero-length frame body
  invalid_json,        // body is not JSON
  bad_shape,           // JSON is not ["type", {args}]
  unknown_type,        // message type we do not know
  missing_field,       // a required argument is absent
  bad_field,           // an argument has the wrong type or an out-of-range value
  bad_range,           // min > max, or beyond the end of the file
  unaligned_range,     // range does not start/end on chunk boundaries
  bad_url,             // not pdtp:// or http://, or malformed authority/port
  path_escapes_root,   // path normalisation would leave the served root
  head_too_large,      // HTTP head longer than the limit
  too_many_headers,    // HTTP head has more header lines than the limit
  bad_request_line,    // HTTP request line malformed
  bad_status_line,     // HTTP status line malformed
  bad_header,          // HTTP header line malformed or value invalid
  unsupported,         // well-formed but not something we implement
  bad_config,          // configuration value invalid
  decrypt_failed,      // an AEAD tag did not verify: altered in transit, or the keys differ
  bad_mac,             // a handshake datagram's mac1/mac2 does not verify (dropped before any DH)
  bad_key,             // a key is malformed, or a DH result is all zero (low-order point)
  replayed,            // packet number already seen, or older than the replay window
  key_expired,         // a key reached its message or age limit: rekey or close
  bad_state,           // not valid in the current state (wrong turn, unknown index, finished)
  overloaded,          // refused to protect the responder (table full, amplification limit)
  would_block,         // cannot proceed now (limit reached or buffer full); retry after the matching event
};

constexpr std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::incomplete: return "incomplete";
    case Errc::frame_too_large: return "frame_too_large";
    case Errc::empty_frame: return "empty_frame";
    case Errc::invalid_json: return "invalid_json";
    case Errc::bad_shape: return "bad_shape";
    case Errc::unknown_type: return "unknown_type";
    case Errc::missing_field: return "missing_field";
    case Errc::bad_field: return "bad_field";
    case Errc::bad_range: return "bad_range";
    case Errc::unaligned_range: return "unaligned_range";
    case Errc::bad_url: return "bad_url";
    case Errc::path_escapes_root: return "path_escapes_root";
    case Errc::head_too_large: return "head_too_large";
    case Errc::too_many_headers: return "too_many_headers";
    case Errc::bad_request_line: return "bad_request_line";
    case Errc::bad_status_line: return "bad_status_line";
    case Errc::bad_header: return "bad_header";
    case Errc::unsupported: return "unsupported";
    case Errc::bad_config: return "bad_config";
    case Errc::decrypt_failed: return "decrypt_failed";
    case Errc::bad_mac: return "bad_mac";
    case Errc::bad_key: return "bad_key";
    case Errc::replayed: return "replayed";
    case Errc::key_expired: return "key_expired";
    case Errc::bad_state: return "bad_state";
    case Errc::overloaded: return "overloaded";
    case Errc::would_block: return "would_block";
  }
  return "unknown";
}

struct Error {
  Errc code;
  std::string message;  // human readable, names the offending field/value
};

// Minimal stand-in for std::expected (not usable with clang 14 + libstdc++ 12).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Result(Errc code, std::string message) : v_(std::in_place_index<1>, Error{code, std::move(message)}) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace pdtp
