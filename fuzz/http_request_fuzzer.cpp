// Parses the input as an HTTP request head (whole, and the prefix find_head_end measures). An accepted head
// must respect the limits, write back without error and parse again to the same head; a PDTP peer request
// read from it must survive make_peer_request -> parse -> interpret unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/http/head.hpp"
#include "pdtp/http/peer.hpp"
#include "pdtp/http/range_header.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_status(const Error& e) {
  const int s = status_for(e);
  check(s == 400 || s == 403 || s == 405 || s == 416 || s == 431 || s == 501 || s == 505);
}

void check_peer_request(const RequestHead& head) {
  auto req = interpret_peer_request(head);
  if (!req) {
    check_status(req.error());
    return;
  }
  auto again = normalize_path(req->path);
  check(again.ok() && *again == req->path);
  check(!req->peer_id.empty());
  ByteRange range{0, 0};
  if (req->range_header) {
    auto r = parse_range_header(*req->range_header, UINT64_MAX);
    if (!r) {
      check_status(r.error());
    } else {
      check(r->min <= r->max);
      range = *r;
    }
  }
  const std::uint64_t length = req->content_length.value_or(0);
  const std::string text = make_peer_request(req->method, "peer.example", req->path, range, req->peer_id, length);
  auto head2 = parse_request_head(text, HttpLimits{SIZE_MAX, SIZE_MAX});
  check(head2.ok());
  auto req2 = interpret_peer_request(*head2);
  check(req2.ok());
  check(req2->method == req->method);
  check(req2->path == req->path);
  check(req2->peer_id == req->peer_id);
  check(req2->range_header == std::optional<std::string>(format_range_header(range)));
  if (req->method == TransferMethod::put) check(req2->content_length == req->content_length);
}

void check_head(std::string_view text, const HttpLimits& limits) {
  auto head = parse_request_head(text, limits);
  if (!head) {
    check(head.error().code == Errc::incomplete || !head.error().message.empty());
    check_status(head.error());
    return;
  }
  check(text.size() <= limits.max_head_bytes);
  check(head->headers.size() <= limits.max_headers);
  check(head->version_minor == 0 || head->version_minor == 1);
  auto written = write_request_head(*head);
  check(written.ok());
  auto back = parse_request_head(*written, HttpLimits{SIZE_MAX, SIZE_MAX});  // canonical form may be longer
  check(back.ok());
  check(*back == *head);
  check_peer_request(*head);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const HttpLimits limits;
  auto end = find_head_end(input, limits);
  if (end) {
    check(*end <= input.size() && *end <= limits.max_head_bytes && *end >= 2);
    check(input[*end - 1] == '\n');
    check_head(input.substr(0, *end), limits);
  } else {
    check(end.error().code == Errc::incomplete || end.error().code == Errc::head_too_large);
    check(end.error().code != Errc::head_too_large || input.size() > limits.max_head_bytes);
  }
  check_head(input, limits);
  check_head(input, HttpLimits{512, 4});
  return 0;
}
