// The PDTP peer exchange (spec/peer-http.md) on top of the HTTP head codec: the request a connecting peer
// sends, what a listening peer reads from it, the response head, and the status for each error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pdtp/http/detail/chars.hpp"
#include "pdtp/http/detail/unsupported.hpp"
#include "pdtp/http/head.hpp"
#include "pdtp/http/range_header.hpp"
#include "pdtp/result.hpp"
#include "pdtp/wire/types.hpp"
#include "pdtp/wire/url.hpp"

namespace pdtp::http {

inline constexpr std::string_view peer_id_header = "X-PDTP-Peer-Id";
// On a PUT pushed by the server itself: the chunk's SHA-256 (hex), for the receiver to check on arrival.
inline constexpr std::string_view chunk_hash_header = "X-PDTP-Chunk-Hash";

namespace detail {

// A value that can travel in a header: control characters become '?', surrounding whitespace is dropped.
// (A client_id with control characters cannot be sent as is; the listener will not recognise it.)
inline std::string header_safe(std::string_view v) {
  std::string out(trim_ows(v));
  for (char& c : out)
    if (!is_field_char(static_cast<unsigned char>(c))) c = '?';
  return out;
}

// A normalised path as a request target: every byte that is not a path character is percent-encoded.
inline std::string encode_target(std::string_view path) {
  std::string out;
  out.reserve(path.size() + 1);
  if (path.empty() || path.front() != '/') out.push_back('/');
  append_encoded_path(out, path);
  return out;
}

// An IPv6 address gets its brackets back in the Host header.
inline std::string host_header_value(std::string_view host) {
  std::string h = header_safe(host);
  return needs_brackets(host) ? "[" + h + "]" : h;
}

}  // namespace detail

// The whole request head: "GET|PUT <path> HTTP/1.1", Host, Range, X-PDTP-Peer-Id and, for PUT, Content-Length
// (body_length is ignored for GET). `path` is a normalised path (wire/url.hpp); it is percent-encoded here.
inline std::string make_peer_request(TransferMethod m, std::string_view host, std::string_view path, ByteRange r,
                                     std::string_view my_peer_id, std::uint64_t body_length) {
  std::string out = m == TransferMethod::put ? "PUT " : "GET ";
  out += detail::encode_target(path);
  out += " HTTP/1.1\r\n";
  std::vector<Header> headers{{"Host", detail::host_header_value(host)},
                              {"Range", format_range_header(r)},
                              {std::string(peer_id_header), detail::header_safe(my_peer_id)}};
  if (m == TransferMethod::put) headers.push_back({"Content-Length", std::to_string(body_length)});
  detail::append_fields(out, headers);
  return out;
}

// What a listening peer needs from a request head.
struct PeerRequest {
  TransferMethod method = TransferMethod::get;
  std::string path;                         // normalised (wire/url.hpp normalize_path)
  std::optional<std::string> range_header;  // raw: parsing it needs the file size (parse_range_header)
  PeerId peer_id;                           // the connecting peer's client_id
  std::optional<std::uint64_t> content_length;
  friend bool operator==(const PeerRequest&, const PeerRequest&) = default;
};

// Checks in the order of spec/peer-http.md §3: method (unsupported -> 405), transfer coding (unsupported -> 501),
// X-PDTP-Peer-Id and Content-Length (bad_header), then the path (bad_url, path_escapes_root).
inline Result<PeerRequest> interpret_peer_request(const RequestHead& head) {
  using detail::quote;
  PeerRequest out;
  if (head.method == "GET") {
    out.method = TransferMethod::get;
  } else if (head.method == "PUT") {
    out.method = TransferMethod::put;
  } else {
    return Error{Errc::unsupported, std::string(detail::unsupported_method) + ": " + quote(head.method) +
                                        " (a peer answers GET and PUT)"};
  }
  if (auto te = head.header("Transfer-Encoding"))
    return Error{Errc::unsupported, std::string(detail::unsupported_coding) + " " + quote(*te) +
                                        " is not supported; send Content-Length"};
  const auto id = head.header(peer_id_header);
  if (!id || id->empty()) return Error{Errc::bad_header, "missing " + std::string(peer_id_header) + " header"};
  out.peer_id.assign(*id);
  // Every Content-Length must agree: two different lengths would let a body be read two ways.
  for (const Header& h : head.headers) {
    if (!detail::iequals(h.name, "Content-Length")) continue;
    auto n = parse_content_length(h.value);
    if (!n) return n.error();
    if (out.content_length && *out.content_length != *n)
      return Error{Errc::bad_header, "conflicting Content-Length headers " + std::to_string(*out.content_length) +
                                         " and " + std::to_string(*n)};
    out.content_length = *n;
  }
  if (out.method == TransferMethod::put && !out.content_length)
    return Error{Errc::bad_header, "PUT without a Content-Length header"};
  if (out.method == TransferMethod::get && out.content_length.value_or(0) != 0)
    return Error{Errc::bad_header, "GET with a body (Content-Length " + std::to_string(*out.content_length) + ")"};
  auto path = file_path_of(head.target);
  if (!path) return path.error();
  out.path = std::move(*path);
  if (auto r = head.header("Range")) out.range_header.emplace(*r);
  return out;
}

// The status a listener answers for an error from this module or from normalize_path.
inline int status_for(const Error& e) {
  switch (e.code) {
    case Errc::head_too_large:
    case Errc::too_many_headers: return 431;
    case Errc::path_escapes_root: return 403;
    case Errc::bad_range:
    case Errc::unaligned_range: return 416;
    case Errc::unsupported: {
      const std::string_view m = e.message;
      if (m.substr(0, detail::unsupported_method.size()) == detail::unsupported_method) return 405;
      if (m.substr(0, detail::unsupported_ranges.size()) == detail::unsupported_ranges) return 416;
      if (m.substr(0, detail::unsupported_version.size()) == detail::unsupported_version) return 505;
      return 501;
    }
    case Errc::overloaded:
    case Errc::would_block: return 503;
    case Errc::bad_config: return 500;
    default: return 400;
  }
}

// A response head: status line with the standard reason, Content-Range (when given), Content-Length and, when
// `peer_id` is not empty, X-PDTP-Peer-Id naming the answering peer. A status outside 100..999 is sent as 500.
inline std::string make_response(int status, std::string_view peer_id,
                                 std::optional<std::pair<ByteRange, std::uint64_t>> content_range,
                                 std::uint64_t content_length) {
  if (status < 100 || status > 999) status = 500;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  std::vector<Header> headers;
  if (content_range)
    headers.push_back({"Content-Range", format_content_range(content_range->first, content_range->second)});
  headers.push_back({"Content-Length", std::to_string(content_length)});
  if (!peer_id.empty()) headers.push_back({std::string(peer_id_header), detail::header_safe(peer_id)});
  detail::append_fields(out, headers);
  return out;
}

}  // namespace pdtp::http
