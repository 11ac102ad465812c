// Packet protection under arbitrary input: open() on arbitrary packets must never crash (and a forged
// packet must not move the replay window); a packet sealed from the same bytes must open to exactly
// them once and be refused as a replay the second time; the replay window agrees with a simple model.
// Input: suite u8 | packet number u64 | header length u8 | header | packet bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "pdtp/secure/aead.hpp"

using namespace pdtp::secure;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

AeadKey key_of(std::uint8_t v) {
  std::array<std::uint8_t, 32> a{};
  a.fill(v);
  return AeadKey(a);
}

// Feeds a stream of packet numbers to a window and to a set-based model of it.
void replay_model(const std::uint8_t* p, std::size_t n) {
  ReplayWindow w;
  std::set<std::uint64_t> seen;
  std::uint64_t highest = 0, pn = 20000;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    const std::int64_t delta = static_cast<std::int16_t>((p[i] << 8) | p[i + 1]);
    pn = delta < 0 && static_cast<std::uint64_t>(-delta) > pn ? 0 : pn + static_cast<std::uint64_t>(delta);
    const bool expect = !seen.count(pn) && (seen.empty() || pn > highest || highest - pn < ReplayWindow::window_size);
    check(w.may_accept(pn) == expect);
    check(w.accept(pn) == expect);
    if (expect) {
      if (seen.empty() || pn > highest) highest = pn;
      seen.insert(pn);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 10 || size > 70000) return 0;
  const Suite suite = (data[0] & 1) && aes256gcm_available() ? Suite::aes256_gcm : Suite::chacha20_poly1305;
  std::uint64_t pn = 0;
  for (int i = 1; i <= 8; ++i) pn = (pn << 8) | data[i];
  const std::size_t header_len = data[9] % 33;
  if (size < 10 + header_len) return 0;
  const ByteView header(data + 10, header_len);
  const ByteView rest(data + 10 + header_len, size - 10 - header_len);

  auto sender = PacketProtector::create(suite, key_of(1), key_of(2));
  auto receiver = PacketProtector::create(suite, key_of(2), key_of(1));
  check(sender.ok() && receiver.ok());

  // Arbitrary bytes as a received packet: must not crash; a forgery must leave the window empty.
  Bytes arbitrary(rest.begin(), rest.end());
  if (!receiver->open(pn, header, arbitrary).ok()) check(receiver->window().empty());

  // The same bytes as a payload: seal, open once, refuse the replay.
  if (pn < KeyLimits{}.reject_after_messages && receiver->window().empty()) {
    Bytes buf(rest.begin(), rest.end());
    buf.resize(rest.size() + aead_overhead);
    check(sender->seal(pn, header, buf).ok());
    const Bytes sealed = buf;
    auto n = receiver->open(pn, header, buf);
    check(n.ok() && *n == rest.size() && std::equal(rest.begin(), rest.end(), buf.begin()));
    Bytes again = sealed;
    auto replay = receiver->open(pn, header, again);
    check(!replay.ok() && replay.error().code == pdtp::Errc::replayed);
    check(!sender->seal(pn, header, buf).ok());  // a packet number is never sealed twice
  }

  replay_model(rest.data(), rest.size() > 2048 ? 2048 : rest.size());
  return 0;
}
