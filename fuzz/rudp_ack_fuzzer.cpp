// ACK frame decoding (round trip) and the receiver's bounded AckRanges fed arbitrary packet numbers.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "pdtp/rudp/ack_ranges.hpp"
#include "pdtp/rudp/frame.hpp"

using namespace pdtp::rudp;

namespace {
void check_ack_frame(std::span<const std::uint8_t> in) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(in.size() + 1);
  bytes.push_back(static_cast<std::uint8_t>(FrameType::ack));
  bytes.insert(bytes.end(), in.begin(), in.end());
  detail::Reader r(bytes);
  auto f = decode_frame(r);
  if (!f) return;
  const auto& ack = std::get<AckFrame>(*f);
  if (ack.ranges.empty() || ack.ranges.size() > max_decoded_ack_ranges) std::abort();
  for (std::size_t i = 0; i < ack.ranges.size(); ++i) {
    if (ack.ranges[i].smallest > ack.ranges[i].largest) std::abort();
    if (i > 0 && ack.ranges[i].largest + 2 > ack.ranges[i - 1].smallest) std::abort();
  }
  std::vector<std::uint8_t> out(frame_size(*f));
  detail::Writer w(out);
  write_frame(w, *f);
  if (w.overflowed() || w.size() != out.size()) std::abort();
  detail::Reader r2(out);
  auto g = decode_frame(r2);
  if (!g || !(*g == *f) || !r2.empty()) std::abort();
}

void check_ranges(std::span<const std::uint8_t> in) {
  AckRanges a(8);
  for (std::size_t i = 0; i + 2 <= in.size(); i += 2) {
    const PacketNumber pn = (PacketNumber{in[i]} << 8) | in[i + 1];
    const bool had = a.contains(pn);
    const bool fresh = a.insert(pn);
    if (had == fresh) std::abort();
    if (!a.contains(pn) && a.ranges().size() < a.max_ranges()) std::abort();
    auto rs = a.ranges();
    if (rs.size() > a.max_ranges()) std::abort();
    for (std::size_t k = 0; k < rs.size(); ++k) {
      if (rs[k].smallest > rs[k].largest) std::abort();
      if (k > 0 && rs[k].largest + 2 > rs[k - 1].smallest) std::abort();
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  check_ack_frame(in);
  check_ranges(in);
  return 0;
}
