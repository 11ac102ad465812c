// What the sender remembers about each packet until it is acknowledged or declared lost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

// A retransmittable frame a packet carried; on loss its content is queued again (frames are
// retransmitted, packets never are).
struct SentFrame {
  enum class Kind : std::uint8_t { stream, reset_stream, stop_sending, max_stream_data };
  Kind kind = Kind::stream;
  bool fin = false;
  std::uint32_t length = 0;  // stream bytes
  StreamId stream{};
  std::uint64_t offset = 0;
};

struct SentPacket {
  enum class State : std::uint8_t { outstanding, acked, lost };
  PacketNumber number = 0;
  TimePoint time_sent{};
  std::uint32_t size = 0;  // datagram bytes
  bool ack_eliciting = false;
  bool mtu_probe = false;  // a path MTU probe: its loss says nothing about congestion
  State state = State::outstanding;
  // Connection-wide control frames it carried (resent with their current value if lost).
  bool max_data = false;
  bool max_streams = false;
  std::optional<PacketNumber> acked_up_to;  // largest packet number its ACK frame reported
  // Delivery-rate state when it was sent (see delivery_rate.hpp).
  std::uint64_t delivered = 0;
  TimePoint delivered_time{};
  TimePoint first_sent_time{};
  bool app_limited = false;
  std::vector<SentFrame> frames;

  bool in_flight() const noexcept { return ack_eliciting; }
};

// Packets in send order, indexed by packet number. Resolved packets leave from the front, so the
// store holds at most (largest sent - oldest outstanding + 1) entries; the connection stops sending
// new packets when that reaches its limit.
class SentPackets {
 public:
  void push(SentPacket&& p) { packets_.push_back(std::move(p)); }

  SentPacket* find(PacketNumber pn) noexcept {
    if (packets_.empty() || pn < packets_.front().number || pn > packets_.back().number) return nullptr;
    return &packets_[static_cast<std::size_t>(pn - packets_.front().number)];
  }

  // Drops resolved packets from the front.
  void trim() {
    while (!packets_.empty() && packets_.front().state != SentPacket::State::outstanding) packets_.pop_front();
  }

  std::size_t size() const noexcept { return packets_.size(); }
  bool empty() const noexcept { return packets_.empty(); }
  std::optional<PacketNumber> first() const noexcept {
    if (packets_.empty()) return std::nullopt;
    return packets_.front().number;
  }
  std::deque<SentPacket>::iterator begin() noexcept { return packets_.begin(); }
  std::deque<SentPacket>::iterator end() noexcept { return packets_.end(); }
  std::deque<SentPacket>::const_iterator begin() const noexcept { return packets_.begin(); }
  std::deque<SentPacket>::const_iterator end() const noexcept { return packets_.end(); }

 private:
  std::deque<SentPacket> packets_;
};

}  // namespace pdtp::rudp
