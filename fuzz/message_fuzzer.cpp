// Decodes the input as a message body; whatever decodes must encode and decode back to the same
// message, and its encoding must be stable. The fast scanner, when it takes a body, must agree with
// nlohmann's full parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/wire/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (size <= pdtp::max_frame_body) {
    if (auto fast = pdtp::wire::detail::decode_message_fast(body)) {
      auto full = pdtp::wire::detail::decode_message_full(body);
      if (fast->ok() != full.ok()) std::abort();
      if (full.ok() && !(**fast == *full)) std::abort();
      if (!full.ok() && (fast->error().code != full.error().code || fast->error().message != full.error().message))
        std::abort();
    }
  }
  auto first = pdtp::decode_message(body);
  if (!first) {
    if (first.error().code == pdtp::Errc::incomplete) std::abort();  // never a codec answer
    return 0;
  }
  const std::string encoded = pdtp::encode_message(*first);
  auto second = pdtp::decode_message(encoded);
  if (!second) std::abort();
  if (!(*second == *first)) std::abort();
  if (pdtp::encode_message(*second) != encoded) std::abort();
  return 0;
}
