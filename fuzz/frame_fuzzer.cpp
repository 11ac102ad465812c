// Feeds the input to a FrameDecoder in pseudo-random splits (chosen by the input itself) and checks
// that the frames it returns, re-encoded, reproduce exactly the bytes it consumed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/wire/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::uint32_t seed = data[0];  // first byte picks the split pattern
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  pdtp::FrameDecoder decoder;
  std::string reencoded;
  std::size_t fed = 0;
  while (fed < input.size()) {
    seed = seed * 1103515245u + 12345u;
    const std::size_t step = 1 + (seed >> 16) % 300;
    const std::size_t n = step < input.size() - fed ? step : input.size() - fed;
    decoder.feed(input.substr(fed, n));
    fed += n;
    while (true) {
      auto body = decoder.next();
      if (body) {
        if (body->empty() || body->size() > pdtp::max_frame_body) std::abort();
        auto frame = pdtp::encode_frame(*body);
        if (!frame) std::abort();
        reencoded += *frame;
        continue;
      }
      if (body.error().code == pdtp::Errc::empty_frame) {
        reencoded.append(2, '\0');
        continue;
      }
      if (body.error().code != pdtp::Errc::incomplete) std::abort();
      break;
    }
    // Whatever is still buffered is less than one whole frame.
    if (decoder.buffered() >= pdtp::frame_header_size + pdtp::max_frame_body) std::abort();
  }
  if (reencoded.size() + decoder.buffered() != input.size()) std::abort();
  if (input.substr(0, reencoded.size()) != reencoded) std::abort();
  return 0;
}
