// A server-side rudp endpoint fed arbitrary datagrams, timeouts and application calls: it must never
// crash, and its memory must stay within the bounds its configuration implies.
//
// Input: records of [op][len: u16 big-endian][len bytes]. op % 4: 0 = raw datagram, 1 = data packet to
// connection 1 (header added, next packet number, unprotected: the bytes are the frames), 2 = time
// passes (first two bytes, in ms) and timers fire, 3 = application calls on connection 1.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "pdtp/rudp/endpoint.hpp"

using namespace pdtp::rudp;
using namespace std::chrono_literals;

namespace {
constexpr std::uint64_t stream_window = 64 * 1024;
constexpr std::uint64_t send_buffer = 4096;
constexpr std::uint64_t incoming_streams = 16;
constexpr std::uint64_t max_app_streams = 32;

Config fuzz_config() {
  Config c;
  c.stream_receive_window = stream_window;
  c.connection_receive_window = 256 * 1024;
  c.stream_send_buffer = send_buffer;
  c.max_incoming_streams = incoming_streams;
  c.idle_timeout = 10s;
  c.max_tracked_packets = 256;
  c.probe_datagram_size = 1452;  // path MTU probes, acknowledged or lost as the input decides
  return c;
}

void app_call(Connection& c, std::span<const std::uint8_t> arg, std::uint64_t& app_streams) {
  if (arg.empty()) return;
  const StreamId id{arg.size() > 1 ? arg[1] : 0u};
  switch (arg[0] % 8) {
    case 0:
      if (app_streams < max_app_streams && c.open_stream()) ++app_streams;
      break;
    case 1: (void)c.write(id, arg.subspan(std::min<std::size_t>(2, arg.size()))); break;
    case 2: {
      std::vector<std::uint8_t> out(arg.size() > 2 ? arg[2] * 64u : 16u);
      (void)c.read(id, out);
      break;
    }
    case 3: (void)c.finish(id); break;
    case 4: (void)c.reset(id, arg.size() > 2 ? arg[2] : 0u); break;
    case 5: c.close(arg.size() > 2 ? arg[2] : 0u, "fuzz"); break;
    case 6: (void)c.stop_sending(id, arg.size() > 2 ? arg[2] : 0u); break;
    default: {
      std::vector<std::uint8_t> big(send_buffer * 2, 0xAB);
      (void)c.write(id, big);
      break;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  EndpointOptions opts;
  opts.accept_test_connections = true;
  opts.test_checksum = false;
  opts.max_connections = 4;
  Endpoint<int> ep(fuzz_config(), opts);
  TimePoint now = TimePoint{} + 1000s;
  if (!ep.insert(now, ConnectionId{1}, ConnectionId{2}, Role::server, 7, std::make_unique<NullProtection>(false)))
    std::abort();
  PacketNumber pn = 0;
  std::uint64_t app_streams = 0;
  std::span<const std::uint8_t> in(data, size);
  std::size_t pos = 0;
  std::vector<std::uint8_t> datagram;
  while (pos + 3 <= in.size()) {
    const std::uint8_t op = in[pos];
    const std::size_t len = std::min<std::size_t>((std::size_t{in[pos + 1]} << 8) | in[pos + 2], in.size() - pos - 3);
    auto arg = in.subspan(pos + 3, len);
    pos += 3 + len;
    switch (op % 4) {
      case 0: (void)ep.on_datagram(now, op >> 2, arg); break;
      case 1: {
        const auto h = encode_header({PacketType::data, ConnectionId{1}, pn++});
        datagram.assign(h.begin(), h.end());
        datagram.insert(datagram.end(), arg.begin(), arg.end());
        (void)ep.on_datagram(now, 7, datagram);
        break;
      }
      case 2: {
        const unsigned ms = arg.size() >= 2 ? (unsigned{arg[0]} << 8 | arg[1]) : 1u;
        now += std::chrono::milliseconds(ms);
        if (auto t = ep.next_timeout(); t && *t <= now) ep.on_timeout(now);
        break;
      }
      default:
        if (Connection* c = ep.connection(ConnectionId{1})) app_call(*c, arg, app_streams);
        break;
    }
    for (int i = 0; i < 10000; ++i)
      if (!ep.poll_transmit(now)) break;
    while (ep.poll_event()) {
    }
    if (Connection* c = ep.connection(ConnectionId{1})) {
      // Bounded memory: streams, their buffers, and the record of packets in flight.
      const std::uint64_t streams = incoming_streams + max_app_streams;
      if (c->stream_count() > streams) std::abort();
      if (c->buffer_memory() > streams * (stream_window + 2 * send_buffer)) std::abort();
      if (c->recovery().tracked_packets() > 2 * c->config().max_tracked_packets + 1) std::abort();
    }
    if (ep.connection_count() > opts.max_connections) std::abort();
  }
  return 0;
}
