// rudp packet header + frame decoding: never crash; every decoded packet re-encodes and decodes the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "pdtp/rudp/frame.hpp"
#include "pdtp/rudp/packet.hpp"

using namespace pdtp::rudp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto header = decode_header(in);
  // Frames are tried on the bytes after a header if there is one, else on the whole input.
  auto payload = header ? in.subspan(header_size) : in;
  if (header) {
    auto again = decode_header(encode_header(*header));
    if (!again || !(*again == *header)) std::abort();
  }
  std::vector<Frame> frames;
  detail::Reader r(payload);
  while (!r.empty()) {
    auto f = decode_frame(r);
    if (!f) break;
    frames.push_back(std::move(*f));
  }
  std::size_t total = 0;
  for (const auto& f : frames) total += frame_size(f);
  std::vector<std::uint8_t> out(total);
  detail::Writer w(out);
  for (const auto& f : frames) write_frame(w, f);
  if (w.overflowed() || w.size() != total) std::abort();
  detail::Reader r2(out);
  for (const auto& f : frames) {
    auto g = decode_frame(r2);
    if (!g || !(*g == f)) std::abort();
  }
  if (!r2.empty()) std::abort();
  return 0;
}
