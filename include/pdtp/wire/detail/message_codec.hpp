// Definitions of the message codec declared in pdtp/wire/message.hpp (included at its end).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "pdtp/wire/detail/fast_json.hpp"
#include "pdtp/wire/detail/json_writer.hpp"
#include "pdtp/wire/detail/message_decoder.hpp"
#include "pdtp/wire/frame.hpp"
#include "pdtp/wire/message.hpp"

namespace pdtp {

namespace wire::detail {

// Wire type names, indexed like the alternatives of pdtp::Message.
inline constexpr std::array<std::string_view, std::variant_size_v<Message>> message_type_names = {
    "register",  "ask_info", "request",     "unrequest",   "provide",        "unprovide", "ask_verify",
    "completed", "tell_info", "transfer",   "tell_verify", "hash_verify",    "protocol_error", "error"};

inline Result<Message> finish(ArgReader& r, Message m) {
  if (r.error) return std::move(*r.error);
  return m;
}

inline Result<Message> decode_args(std::size_t index, Collector& c, std::string_view type) {
  using F = Field;
  ArgReader r(c, type);
  switch (index) {
    case 0: {
      Register m;
      m.client_id = r.string(F::client_id);
      m.listen_port = r.port(F::listen_port);
      return finish(r, std::move(m));
    }
    case 1: {
      AskInfo m;
      m.url = r.string(F::url);
      return finish(r, std::move(m));
    }
    case 2: {
      Request m;
      m.url = r.string(F::url);
      m.range = r.optional_range();
      return finish(r, std::move(m));
    }
    case 3: {
      Unrequest m;
      m.url = r.string(F::url);
      m.range = r.optional_range();
      return finish(r, std::move(m));
    }
    case 4: {
      Provide m;
      m.url = r.string(F::url);
      m.range = r.optional_range();
      return finish(r, std::move(m));
    }
    case 5: {
      Unprovide m;
      m.url = r.string(F::url);
      m.range = r.optional_range();
      return finish(r, std::move(m));
    }
    case 6: {
      AskVerify m;
      m.peer = r.string(F::peer);
      m.url = r.string(F::url);
      m.range = r.range();
      m.peer_id = r.string(F::peer_id);
      m.peer_key = r.optional_bounded_string(F::peer_key, max_peer_key_bytes);
      return finish(r, std::move(m));
    }
    case 7: {
      Completed m;
      m.peer = r.string(F::peer);
      m.url = r.string(F::url);
      m.range = r.range();
      m.peer_id = r.string(F::peer_id);
      m.hash = r.hash(F::hash);
      return finish(r, std::move(m));
    }
    case 8: {
      // An unknown file is answered with url + error; size, chunk_size and streaming may then be absent.
      TellInfo m;
      m.url = r.string(F::url);
      m.error = r.optional_string(F::error);
      const bool lenient = m.error.has_value();
      if (!lenient || c.field(F::size).kind != Kind::absent) m.size = r.uint64(F::size);
      if (!lenient || c.field(F::chunk_size).kind != Kind::absent) m.chunk_size = r.uint64(F::chunk_size);
      if (!lenient || c.field(F::streaming).kind != Kind::absent) m.streaming = r.boolean(F::streaming);
      return finish(r, std::move(m));
    }
    case 9: {
      Transfer m;
      m.host = r.string(F::host);
      m.port = r.port(F::port);
      m.method = r.method(F::method);
      m.url = r.string(F::url);
      m.range = r.range();
      m.peer_id = r.string(F::peer_id);
      m.peer_key = r.optional_bounded_string(F::peer_key, max_peer_key_bytes);
      m.hash = r.hash(F::hash);
      return finish(r, std::move(m));
    }
    case 10: {
      TellVerify m;
      m.peer = r.string(F::peer);
      m.url = r.string(F::url);
      m.range = r.range();
      m.peer_id = r.string(F::peer_id);
      m.authorized = r.boolean(F::authorized);
      return finish(r, std::move(m));
    }
    case 11: {
      HashVerify m;
      m.url = r.string(F::url);
      m.range = r.range();
      m.hash_ok = r.boolean(F::hash_ok);
      return finish(r, std::move(m));
    }
    case 12: {
      ProtocolError m;
      m.message = r.string(F::message);
      return finish(r, std::move(m));
    }
    case 13: {
      ErrorMessage m;
      m.reason = r.string(F::reason);
      m.url = r.string(F::url);
      m.range = r.optional_range();
      return finish(r, std::move(m));
    }
    default: break;
  }
  return Error{Errc::unknown_type, "unknown message type"};
}

inline void write_range(ObjectWriter& w, const ByteRange& r) {
  w.key("range");
  ObjectWriter inner(w.out());
  inner.uint("min", r.min);
  inner.uint("max", r.max);
  inner.close();
}

inline void write_optional_range(ObjectWriter& w, const std::optional<ByteRange>& r) {
  if (r) write_range(w, *r);
}

inline void write_args(ObjectWriter& w, const Register& m) {
  w.string("client_id", m.client_id);
  w.uint("listen_port", m.listen_port);
}
inline void write_args(ObjectWriter& w, const AskInfo& m) { w.string("url", m.url); }
template <class M>
  requires std::is_same_v<M, Request> || std::is_same_v<M, Unrequest> || std::is_same_v<M, Provide> ||
           std::is_same_v<M, Unprovide>
inline void write_args(ObjectWriter& w, const M& m) {
  w.string("url", m.url);
  write_optional_range(w, m.range);
}
inline void write_args(ObjectWriter& w, const AskVerify& m) {
  w.string("peer", m.peer);
  w.string("url", m.url);
  write_range(w, m.range);
  w.string("peer_id", m.peer_id);
  if (m.peer_key) w.string("peer_key", *m.peer_key);
}
inline void write_args(ObjectWriter& w, const Completed& m) {
  w.string("peer", m.peer);
  w.string("url", m.url);
  write_range(w, m.range);
  w.string("peer_id", m.peer_id);
  if (m.hash) w.string("hash", *m.hash);
}
inline void write_args(ObjectWriter& w, const TellInfo& m) {
  w.string("url", m.url);
  w.uint("size", m.size);
  w.uint("chunk_size", m.chunk_size);
  w.boolean("streaming", m.streaming);
  if (m.error) w.string("error", *m.error);
}
inline void write_args(ObjectWriter& w, const Transfer& m) {
  w.string("host", m.host);
  w.uint("port", m.port);
  w.string("method", m.method == TransferMethod::put ? "put" : "get");
  w.string("url", m.url);
  write_range(w, m.range);
  w.string("peer_id", m.peer_id);
  if (m.peer_key) w.string("peer_key", *m.peer_key);
  if (m.hash) w.string("hash", *m.hash);
}
inline void write_args(ObjectWriter& w, const TellVerify& m) {
  w.string("peer", m.peer);
  w.string("url", m.url);
  write_range(w, m.range);
  w.string("peer_id", m.peer_id);
  w.boolean("authorized", m.authorized);
}
inline void write_args(ObjectWriter& w, const HashVerify& m) {
  w.string("url", m.url);
  write_range(w, m.range);
  w.boolean("hash_ok", m.hash_ok);
}
inline void write_args(ObjectWriter& w, const ProtocolError& m) { w.string("message", m.message); }
inline void write_args(ObjectWriter& w, const ErrorMessage& m) {
  w.string("reason", m.reason);
  w.string("url", m.url);
  write_optional_range(w, m.range);
}

}  // namespace wire::detail

inline std::string_view message_type(const Message& m) noexcept {
  if (m.valueless_by_exception()) return "invalid";  // only after an exception during assignment
  return wire::detail::message_type_names[m.index()];
}

namespace wire::detail {

inline Result<Message> decode_collected(Collector& c) {
  if (auto fault = c.fault()) return std::move(*fault);
  for (std::size_t i = 0; i < message_type_names.size(); ++i)
    if (message_type_names[i] == c.type()) return decode_args(i, c, message_type_names[i]);
  const std::string& t = c.type();
  return Error{Errc::unknown_type, "unknown message type \"" + (t.size() > 40 ? t.substr(0, 40) + "..." : t) + "\""};
}

// The common case: plain ASCII JSON scanned without nlohmann; nullopt when the body needs the full parser.
inline std::optional<Result<Message>> decode_message_fast(std::string_view body) {
  Collector c;
  if (!FastJsonScanner<Collector>(body, c).run()) return std::nullopt;
  return decode_collected(c);
}

// Every body, through nlohmann's SAX parser.
inline Result<Message> decode_message_full(std::string_view body) {
  Collector c;
  try {
    nlohmann::json::sax_parse(body.data(), body.data() + body.size(), &c);
  } catch (const std::exception& e) {  // not expected from the SAX path; kept so nothing escapes the core
    return Error{Errc::invalid_json, e.what()};
  }
  return decode_collected(c);
}

}  // namespace wire::detail

inline Result<Message> decode_message(std::string_view body) {
  if (body.size() > max_frame_body)
    return Error{Errc::frame_too_large, "message body of " + std::to_string(body.size()) + " bytes exceeds 65535"};
  if (auto fast = wire::detail::decode_message_fast(body)) return std::move(*fast);
  return wire::detail::decode_message_full(body);
}

// Appends the JSON body of `m` to `out` (no frame header).
inline void append_message(std::string& out, const Message& m) {
  out.append("[\"");
  out.append(message_type(m));
  out.append("\",");
  std::visit(
      [&out](const auto& msg) {
        wire::detail::ObjectWriter w(out);
        wire::detail::write_args(w, msg);
        w.close();
      },
      m);
  out.push_back(']');
}

inline std::string encode_message(const Message& m) {
  std::string out;
  out.reserve(160);
  append_message(out, m);
  return out;
}

// Appends one whole frame carrying `m` without an intermediate body string. On error (body longer
// than 65535 bytes) `out` is left unchanged.
inline Status append_message_frame(std::string& out, const Message& m) {
  const std::size_t start = out.size();
  out.append(frame_header_size, '\0');
  append_message(out, m);
  const std::size_t len = out.size() - start - frame_header_size;
  if (len > max_frame_body) {
    out.resize(start);
    return Error{Errc::frame_too_large, std::string(message_type(m)) + " message of " + std::to_string(len) +
                                            " bytes exceeds 65535"};
  }
  out[start] = static_cast<char>((len >> 8) & 0xFFu);
  out[start + 1] = static_cast<char>(len & 0xFFu);
  return Ok{};
}

}  // namespace pdtp
