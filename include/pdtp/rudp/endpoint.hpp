// Many connections behind one socket: routes datagrams by the receiver id in their header, collects
// what every connection wants to send, and reports new connections. `Address` is whatever the
// runtime uses for a UDP peer (copyable, ==); this layer never looks inside it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "pdtp/result.hpp"
#include "pdtp/rudp/config.hpp"
#include "pdtp/rudp/connection.hpp"
#include "pdtp/rudp/packet.hpp"
#include "pdtp/rudp/protection.hpp"
#include "pdtp/rudp/test_handshake.hpp"
#include "pdtp/rudp/types.hpp"

namespace pdtp::rudp {

struct EndpointOptions {
  std::size_t max_connections = 4096;
  // Test handshake (NullProtection, see test_handshake.hpp): off unless a test or simulation asks.
  bool accept_test_connections = false;
  bool test_checksum = true;                     // NullProtection's corruption checksum
  std::uint32_t first_test_id = 1;               // ids handed to accepted test connections count up from here
  Duration test_connect_retry = std::chrono::milliseconds(250);
  int test_connect_attempts = 8;
};

// What became of a datagram handed to on_datagram().
enum class Receipt : std::uint8_t {
  delivered,       // routed to a connection
  accepted,        // a test CONNECT created a connection (NewConnection event follows)
  not_rudp,        // not a rudp packet type (e.g. a handshake message for the secure layer)
  unknown_connection,
  dropped,         // malformed, or refused (limits, test handshake off)
};

template <class Address>
class Endpoint {
 public:
  struct Transmit {
    Address to;
    std::vector<std::uint8_t> bytes;
    ConnectionId connection{};  // the connection that produced it (no_connection for handshake answers)
  };
  struct NewConnection {  // a peer connected to us (test handshake)
    ConnectionId connection{};
    Address peer;
  };
  struct Connected {  // our connect() was answered (test handshake)
    ConnectionId connection{};
  };
  struct ConnectionEvent {
    ConnectionId connection{};
    Event event;
  };
  using EndpointEvent = std::variant<NewConnection, Connected, ConnectionEvent>;

  explicit Endpoint(Config config = {}, EndpointOptions options = {})
      : config_(config), options_(options), next_test_id_(options.first_test_id) {}

  // ---- connections ----

  // Adds a connection established by a handshake, with the endpoint's config or its own (e.g. to pick
  // LEDBAT for one background transfer). Error: the local id is 0 or taken, or the limit is reached.
  Status insert(TimePoint now, ConnectionId local, ConnectionId peer, Role role, const Address& peer_address,
                std::unique_ptr<PacketProtection> protection) {
    return insert(now, local, peer, role, peer_address, std::move(protection), config_);
  }
  Status insert(TimePoint now, ConnectionId local, ConnectionId peer, Role role, const Address& peer_address,
                std::unique_ptr<PacketProtection> protection, const Config& config) {
    if (local == no_connection || connections_.count(to_u32(local)) != 0 || aliases_.count(to_u32(local)) != 0)
      return Error{Errc::bad_field, "connection id " + std::to_string(to_u32(local)) + " is 0 or in use"};
    if (connections_.size() >= options_.max_connections)
      return Error{Errc::overloaded, "endpoint holds " + std::to_string(connections_.size()) + " connections"};
    connections_.emplace(to_u32(local),
                         Entry{Connection(local, peer, role, std::move(protection), config, now), peer_address});
    return Ok{};
  }

  // Starts the test handshake towards `to`; the connection exists once Connected is reported.
  Status connect(TimePoint now, const Address& to, ConnectionId local) { return connect(now, to, local, config_); }
  Status connect(TimePoint now, const Address& to, ConnectionId local, const Config& config) {
    if (local == no_connection || connections_.count(to_u32(local)) != 0 || pending_.count(to_u32(local)) != 0 ||
        aliases_.count(to_u32(local)) != 0)
      return Error{Errc::bad_field, "connection id " + std::to_string(to_u32(local)) + " is 0 or in use"};
    pending_.emplace(to_u32(local), Pending{to, now, 0, config});
    return Ok{};
  }

  // Rekeying: the connection now known as `old_local` switches to new ids and keys (see
  // Connection::install_keys); datagrams to either id reach it until the old keys are dropped.
  Status rekey(ConnectionId old_local, ConnectionId new_local, ConnectionId new_peer,
               std::unique_ptr<PacketProtection> protection) {
    auto it = connections_.find(to_u32(old_local));
    if (it == connections_.end())
      return Error{Errc::bad_state, "rekey: no connection " + std::to_string(to_u32(old_local))};
    if (new_local == no_connection || (new_local != old_local && (connections_.count(to_u32(new_local)) != 0 ||
                                                                 aliases_.count(to_u32(new_local)) != 0)))
      return Error{Errc::bad_field, "rekey: connection id " + std::to_string(to_u32(new_local)) + " is 0 or in use"};
    if (!protection) return Error{Errc::bad_field, "rekey: no packet protection"};
    drop_previous_keys(old_local);
    auto node = connections_.extract(it);
    node.mapped().connection.install_keys(new_local, new_peer, std::move(protection));
    node.key() = to_u32(new_local);
    connections_.insert(std::move(node));
    if (new_local != old_local) aliases_[to_u32(old_local)] = to_u32(new_local);
    return Ok{};
  }

  // Stops accepting the keys (and id) a connection used before its last rekey.
  void drop_previous_keys(ConnectionId local) {
    auto it = connections_.find(to_u32(local));
    if (it == connections_.end()) return;
    if (auto old = it->second.connection.previous_local_id()) aliases_.erase(to_u32(*old));
    it->second.connection.drop_previous_keys();
  }

  Connection* connection(ConnectionId id) noexcept {
    auto it = connections_.find(to_u32(id));
    return it == connections_.end() ? nullptr : &it->second.connection;
  }
  std::size_t connection_count() const noexcept { return connections_.size(); }

  // ---- input ----

  Receipt on_datagram(TimePoint now, const Address& from, std::span<const std::uint8_t> bytes) {
    if (bytes.empty() || !is_known_packet_type(bytes[0])) return Receipt::not_rudp;
    auto header = decode_header(bytes);
    if (!header) return Receipt::dropped;
    switch (header->type) {
      case PacketType::data: {
        std::uint32_t id = to_u32(header->receiver);
        if (auto alias = aliases_.find(id); alias != aliases_.end()) id = alias->second;
        auto it = connections_.find(id);
        if (it == connections_.end()) return Receipt::unknown_connection;
        Entry& e = it->second;
        const auto before = e.connection.stats().packets_received;
        e.connection.on_datagram(now, bytes);
        // Follow the peer's address, but only once a packet from it authenticates.
        if (e.connection.stats().packets_received != before) e.peer = from;
        return Receipt::delivered;
      }
      case PacketType::test_connect: return on_test_connect(now, from, bytes);
      case PacketType::test_accept: return on_test_accept(now, *header, bytes);
    }
    return Receipt::dropped;
  }

  void on_timeout(TimePoint now) {
    for (auto& [id, e] : connections_) {
      if (auto t = e.connection.next_timeout(); t && *t <= now) e.connection.on_timeout(now);
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending& p = it->second;
      if (p.next_send <= now && p.attempts >= options_.test_connect_attempts) {
        events_.push_back(ConnectionEvent{ConnectionId{it->first},
                                          ConnectionClosed{CloseReason::idle_timeout, 0, "no answer to connect"}});
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // ---- output ----

  std::optional<Transmit> poll_transmit(TimePoint now) {
    if (!outbox_.empty()) {
      Transmit t = std::move(outbox_.front());
      outbox_.pop_front();
      return t;
    }
    for (auto& [id, p] : pending_) {
      if (p.next_send > now || p.attempts >= options_.test_connect_attempts) continue;
      ++p.attempts;
      p.next_send = now + options_.test_connect_retry * (1 << std::min(p.attempts - 1, 6));
      return Transmit{p.to, encode_test_packet(PacketType::test_connect, no_connection, ConnectionId{id})};
    }
    if (connections_.empty()) return std::nullopt;
    // Round robin from where the last transmit left off.
    auto it = connections_.lower_bound(cursor_);
    for (std::size_t n = 0; n < connections_.size(); ++n, ++it) {
      if (it == connections_.end()) it = connections_.begin();
      if (auto d = it->second.connection.poll_transmit(now)) {
        cursor_ = it->first + 1;
        return Transmit{it->second.peer, std::move(d->bytes), ConnectionId{it->first}};
      }
    }
    return std::nullopt;
  }

  std::optional<TimePoint> next_timeout() const {
    std::optional<TimePoint> t;
    auto take = [&t](std::optional<TimePoint> c) {
      if (c && (!t || *c < *t)) t = c;
    };
    for (const auto& [id, e] : connections_) take(e.connection.next_timeout());
    for (const auto& [id, p] : pending_) take(p.next_send);
    return t;
  }

  // Endpoint events first, then each connection's in turn. Closed connections are dropped once their
  // events are drained.
  std::optional<EndpointEvent> poll_event() {
    if (!events_.empty()) {
      EndpointEvent e = std::move(events_.front());
      events_.pop_front();
      return e;
    }
    for (auto it = connections_.begin(); it != connections_.end();) {
      if (auto e = it->second.connection.poll_event()) return ConnectionEvent{ConnectionId{it->first}, std::move(*e)};
      if (it->second.connection.is_closed()) {
        if (auto old = it->second.connection.previous_local_id()) aliases_.erase(to_u32(*old));
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
    return std::nullopt;
  }

 private:
  struct Entry {
    Connection connection;
    Address peer;
  };
  struct Pending {
    Address to;
    TimePoint next_send;
    int attempts = 0;
    Config config;
  };

  Receipt on_test_connect(TimePoint now, const Address& from, std::span<const std::uint8_t> bytes) {
    if (!options_.accept_test_connections || bytes.size() < min_datagram_size) return Receipt::dropped;
    auto client = decode_test_sender(bytes);
    if (!client) return Receipt::dropped;
    // A repeated CONNECT (our ACCEPT was lost): answer again with the same id.
    for (const auto& [id, e] : connections_) {
      if (e.connection.peer_id() == *client && e.peer == from && e.connection.role() == Role::server) {
        queue(Transmit{from, encode_test_packet(PacketType::test_accept, *client, ConnectionId{id})});
        return Receipt::delivered;
      }
    }
    if (connections_.size() >= options_.max_connections) return Receipt::dropped;
    const ConnectionId local = allocate_test_id();
    connections_.emplace(to_u32(local), Entry{Connection(local, *client, Role::server,
                                                         std::make_unique<NullProtection>(options_.test_checksum),
                                                         config_, now),
                                              from});
    queue(Transmit{from, encode_test_packet(PacketType::test_accept, *client, local)});
    events_.push_back(NewConnection{local, from});
    return Receipt::accepted;
  }

  Receipt on_test_accept(TimePoint now, const PacketHeader& header, std::span<const std::uint8_t> bytes) {
    auto it = pending_.find(to_u32(header.receiver));
    if (it == pending_.end()) return Receipt::unknown_connection;
    auto server = decode_test_sender(bytes);
    if (!server) return Receipt::dropped;
    const ConnectionId local{it->first};
    connections_.emplace(it->first, Entry{Connection(local, *server, Role::client,
                                                     std::make_unique<NullProtection>(options_.test_checksum),
                                                     it->second.config, now),
                                          it->second.to});
    pending_.erase(it);
    events_.push_back(Connected{local});
    return Receipt::delivered;
  }

  ConnectionId allocate_test_id() {
    while (next_test_id_ == 0 || connections_.count(next_test_id_) != 0 || pending_.count(next_test_id_) != 0 ||
           aliases_.count(next_test_id_) != 0)
      ++next_test_id_;
    return ConnectionId{next_test_id_++};
  }

  void queue(Transmit t) {
    if (outbox_.size() < 1024) outbox_.push_back(std::move(t));  // bounded: excess answers are dropped
  }

  Config config_;
  EndpointOptions options_;
  std::map<std::uint32_t, Entry> connections_;
  std::map<std::uint32_t, Pending> pending_;
  std::map<std::uint32_t, std::uint32_t> aliases_;  // pre-rekey id -> current id
  std::deque<Transmit> outbox_;
  std::deque<EndpointEvent> events_;
  std::uint32_t next_test_id_;
  std::uint32_t cursor_ = 0;
};

}  // namespace pdtp::rudp
