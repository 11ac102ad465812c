// PDTP v2 messages as typed structs, and their JSON codec: ["type", {args}].
// Decoding ignores unknown extra keys; encoding writes only the fields below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pdtp/result.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp {

// A static public key is 43 characters of base64url; longer `peer_key` values are refused when decoding.
inline constexpr std::size_t max_peer_key_bytes = 128;

// client -> server
struct Register {
  std::string client_id;
  std::uint16_t listen_port = 0;
  friend bool operator==(const Register&, const Register&) = default;
};
struct AskInfo {
  std::string url;
  friend bool operator==(const AskInfo&, const AskInfo&) = default;
};
struct Request {
  std::string url;
  std::optional<ByteRange> range;  // absent = whole file
  friend bool operator==(const Request&, const Request&) = default;
};
struct Unrequest {
  std::string url;
  std::optional<ByteRange> range;
  friend bool operator==(const Unrequest&, const Unrequest&) = default;
};
struct Provide {
  std::string url;
  std::optional<ByteRange> range;
  friend bool operator==(const Provide&, const Provide&) = default;
};
struct Unprovide {
  std::string url;
  std::optional<ByteRange> range;
  friend bool operator==(const Unprovide&, const Unprovide&) = default;
};
struct AskVerify {
  std::string peer;     // ip of the connecting peer
  std::string url;
  ByteRange range;
  std::string peer_id;  // client_id the connecting peer claimed
  std::optional<std::string> peer_key;  // extension: the connecting peer's authenticated key (udp links only)
  friend bool operator==(const AskVerify&, const AskVerify&) = default;
};
struct Completed {
  std::string peer;     // ip of the other peer
  std::string url;
  ByteRange range;
  std::string peer_id;  // id of the other peer
  std::optional<Sha256Hex> hash;  // absent = the transfer failed
  friend bool operator==(const Completed&, const Completed&) = default;
};

// server -> client
struct TellInfo {
  std::string url;
  std::uint64_t size = 0;
  std::uint64_t chunk_size = 0;
  bool streaming = false;
  std::optional<std::string> error;  // set (and size/chunk_size 0) when the file is unknown
  friend bool operator==(const TellInfo&, const TellInfo&) = default;
};
struct Transfer {
  std::string host;  // ip to connect to
  std::uint16_t port = 0;
  TransferMethod method = TransferMethod::get;  // get: I receive; put: I send
  std::string url;
  ByteRange range;
  std::string peer_id;  // id of the listening peer
  std::optional<std::string> peer_key;  // extension: the listening side's static key (sent to udp peers only)
  std::optional<Sha256Hex> hash;  // extension: the chunk's SHA-256 as the server knows it (get only)
  friend bool operator==(const Transfer&, const Transfer&) = default;
};
struct TellVerify {
  std::string peer;
  std::string url;
  ByteRange range;
  std::string peer_id;
  bool authorized = false;
  friend bool operator==(const TellVerify&, const TellVerify&) = default;
};
struct HashVerify {
  std::string url;
  ByteRange range;
  bool hash_ok = false;
  friend bool operator==(const HashVerify&, const HashVerify&) = default;
};
struct ProtocolError {
  std::string message;
  friend bool operator==(const ProtocolError&, const ProtocolError&) = default;
};
struct ErrorMessage {  // wire type "error"
  std::string reason;
  std::string url;
  std::optional<ByteRange> range;
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

using Message = std::variant<Register, AskInfo, Request, Unrequest, Provide, Unprovide, AskVerify,
                             Completed, TellInfo, Transfer, TellVerify, HashVerify, ProtocolError,
                             ErrorMessage>;

// The wire type string of a message ("register", "tell_info", ..., "error").
inline std::string_view message_type(const Message& m) noexcept;

// Decode one frame body. Errors: invalid_json, bad_shape, unknown_type, missing_field, bad_field,
// bad_range (and frame_too_large for a body over 65535 bytes). The message names the offending field.
inline Result<Message> decode_message(std::string_view body);

// Encode to a JSON body (no frame header).
inline std::string encode_message(const Message& m);

// Append the JSON body of `m` to `out`; append a whole frame (header + body) carrying `m`.
inline void append_message(std::string& out, const Message& m);
inline Status append_message_frame(std::string& out, const Message& m);

}  // namespace pdtp

#include "pdtp/wire/detail/message_codec.hpp"
