// Decodes the input as a message body; whatever decodes must encode and decode back to the same
// message, and its encoding must be stable.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/wire/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
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
