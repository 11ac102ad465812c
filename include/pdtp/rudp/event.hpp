// What a connection tells its application, one poll_event() at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

struct StreamOpened {  // the peer opened a stream
  StreamId stream{};
};
struct StreamReadable {  // data (or the end of the stream) can be read; sent again only after a read drains it
  StreamId stream{};
};
struct StreamWritable {  // buffer space freed after a write() was cut short
  StreamId stream{};
};
struct StreamFinished {  // every byte we wrote and our FIN were acknowledged by the peer
  StreamId stream{};
};
struct StreamReset {  // the peer abandoned its sending half; unread data is gone
  StreamId stream{};
  std::uint64_t code = 0;
};
struct StreamStopped {  // the peer asked us to stop sending; our sending half was reset with its code
  StreamId stream{};
  std::uint64_t code = 0;
};
struct StreamsAvailable {};  // the peer raised its stream limit: open_stream() may succeed again

enum class CloseReason : std::uint8_t {
  local,         // we closed (close() finished flushing, or abort())
  peer,          // the peer sent CLOSE with its application's code
  idle_timeout,  // nothing heard for the idle timeout
  local_error,   // the peer broke the protocol; we sent CLOSE with a transport error
  peer_error,    // the peer sent CLOSE with a transport error
};

constexpr std::string_view to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::local: return "local";
    case CloseReason::peer: return "peer";
    case CloseReason::idle_timeout: return "idle_timeout";
    case CloseReason::local_error: return "local_error";
    case CloseReason::peer_error: return "peer_error";
  }
  return "unknown";
}

struct ConnectionClosed {
  CloseReason reason = CloseReason::local;
  std::uint64_t code = 0;  // application code, or TransportError for *_error reasons
  std::string message;
};

using Event = std::variant<StreamOpened, StreamReadable, StreamWritable, StreamFinished, StreamReset, StreamStopped,
                           StreamsAvailable, ConnectionClosed>;

}  // namespace pdtp::rudp
