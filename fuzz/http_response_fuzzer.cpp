// Parses the input as an HTTP response head. An accepted head must write back without error and parse again
// to the same head; its Content-Range and Content-Length, when valid, must survive make_response unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "pdtp/http/head.hpp"
#include "pdtp/http/peer.hpp"
#include "pdtp/http/range_header.hpp"

using namespace pdtp;
using namespace pdtp::http;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_make_response(const ResponseHead& head) {
  std::optional<std::pair<ByteRange, std::uint64_t>> range;
  if (auto cr = head.header("Content-Range")) {
    auto parsed = parse_content_range(*cr);
    if (parsed && parsed->size) range = std::make_pair(parsed->range, *parsed->size);
  }
  std::uint64_t length = 0;
  if (auto cl = head.header("Content-Length")) {
    auto parsed = parse_content_length(*cl);
    if (parsed) length = *parsed;
  }
  const std::string_view id = head.header(peer_id_header).value_or("");
  auto back = parse_response_head(make_response(head.status, id, range, length), HttpLimits{SIZE_MAX, SIZE_MAX});
  check(back.ok());
  check(back->status == head.status);
  check(back->reason == reason_phrase(head.status));
  check(back->header(peer_id_header).value_or("") == id);
  auto cl = back->header("Content-Length");
  check(cl && parse_content_length(*cl).ok() && *parse_content_length(*cl) == length);
  if (range) {
    auto cr = parse_content_range(*back->header("Content-Range"));
    check(cr.ok() && cr->range == range->first && cr->size == range->second);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto end = find_head_end(input);
  const std::string_view text = end ? input.substr(0, *end) : input;
  auto head = parse_response_head(text);
  if (!head) return 0;
  check(head->status >= 100 && head->status <= 999);
  check(head->headers.size() <= HttpLimits{}.max_headers);
  auto written = write_response_head(*head);
  check(written.ok());
  auto back = parse_response_head(*written, HttpLimits{SIZE_MAX, SIZE_MAX});
  check(back.ok());
  check(*back == *head);
  check_make_response(*head);
  return 0;
}
