// Coroutine helpers over any transport stream: HTTP heads, exact reads, writes, and a watchdog
// that closes a stream whose peer stalls. I/O errors come back as error codes, never exceptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <asio.hpp>

#include "pdtp/http/head.hpp"
#include "pdtp/result.hpp"

namespace pdtp::transport {

// Calls `on_expiry` (which closes the stream) when the limit passes without progress; arm() on
// progress. A generation count makes a stale expiry a no-op: cancel() cannot recall a handler
// that is already queued, and by then the stream may be gone.
class Watchdog {
 public:
  Watchdog(const asio::any_io_executor& ex, std::chrono::milliseconds limit, std::function<void()> on_expiry)
      : timer_(ex), limit_(limit), state_(std::make_shared<State>()) {
    state_->on_expiry = std::move(on_expiry);
    arm();
  }
  ~Watchdog() { disarm(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  void arm() {
    const auto gen = ++state_->generation;
    timer_.expires_after(limit_);
    timer_.async_wait([state = state_, gen](const asio::error_code& ec) {
      if (ec || state->generation != gen) return;
      state->fired = true;
      state->on_expiry();
    });
  }
  void disarm() {
    ++state_->generation;
    timer_.cancel();
  }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    std::uint64_t generation = 0;
    bool fired = false;
    std::function<void()> on_expiry;
  };
  asio::steady_timer timer_;
  std::chrono::milliseconds limit_;
  std::shared_ptr<State> state_;
};

// Read until a whole HTTP head is buffered. On success the head is the first `*result` bytes of
// `buf`; anything after it (a body's start) stays in `buf` too.
template <class Stream>
asio::awaitable<Result<std::size_t>> read_head(Stream& s, std::string& buf, const http::HttpLimits& limits,
                                              asio::error_code& ec) {
  for (;;) {
    auto end = http::find_head_end(buf, limits);
    if (end.ok() || end.error().code != Errc::incomplete) co_return end;
    char tmp[4096];
    std::size_t n = co_await s.async_read_some(asio::buffer(tmp), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return Error{Errc::incomplete, ec == asio::error::eof ? "connection closed" : ec.message()};
    buf.append(tmp, n);
  }
}

// Fill [out, out+n): first from what `buf` already holds (consumed), then from the stream.
template <class Stream>
asio::awaitable<bool> read_exact(Stream& s, std::string& buf, char* out, std::size_t n, asio::error_code& ec) {
  std::size_t have = std::min(n, buf.size());
  std::memcpy(out, buf.data(), have);
  buf.erase(0, have);
  if (have < n)
    co_await asio::async_read(s, asio::buffer(out + have, n - have), asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

// read_exact that hands each piece to `on_piece(const char*, std::size_t)` as it lands, so a body can
// be hashed while the rest of it is still arriving (the piece is still in cache).
template <class Stream, class OnPiece>
asio::awaitable<bool> read_exact_each(Stream& s, std::string& buf, char* out, std::size_t n, asio::error_code& ec,
                                      OnPiece on_piece) {
  std::size_t have = std::min(n, buf.size());
  std::memcpy(out, buf.data(), have);
  buf.erase(0, have);
  if (have > 0) on_piece(static_cast<const char*>(out), have);
  while (have < n) {
    std::size_t got =
        co_await s.async_read_some(asio::buffer(out + have, n - have), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    on_piece(static_cast<const char*>(out + have), got);
    have += got;
  }
  co_return true;
}

template <class Stream, class Buffers>
asio::awaitable<bool> write_all(Stream& s, const Buffers& buffers, asio::error_code& ec) {
  co_await asio::async_write(s, buffers, asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

// An ordered queue of frames written on a stream that is read elsewhere. Frames queued while a write
// is in flight go out together in the next write (one send for many replies). The stream belongs to
// `owner`; a write in flight keeps the owner alive, and nothing is written once the owner is gone.
template <class Stream>
class Outbox : public std::enable_shared_from_this<Outbox<Stream>> {
 public:
  Outbox(Stream& s, std::weak_ptr<void> owner) : s_(s), owner_(std::move(owner)) {}
  void push(std::string_view bytes) {
    if (closed_ || half_closed_) return;  // nothing more may go after our FIN
    next_.append(bytes);
    if (!writing_) write_next();
  }
  // Close the stream once everything queued so far is written.
  void close_after_flush() {
    close_pending_ = true;
    if (!writing_) write_next();
  }
  // End our sending half once everything queued so far is written; the stream stays open for reading.
  void shutdown_after_flush() {
    half_close_pending_ = true;
    if (!writing_) write_next();
  }
  void on_error(std::function<void(const asio::error_code&)> fn) { on_error_ = std::move(fn); }

  std::size_t queued_bytes() const { return next_.size() + current_.size(); }

 private:
  void write_next() {
    auto keep = owner_.lock();
    if (!keep || closed_) return;
    if (next_.empty()) {
      writing_ = false;
      if (close_pending_) finish();
      else if (half_close_pending_) half_close();
      return;
    }
    writing_ = true;
    current_.clear();
    std::swap(current_, next_);
    asio::async_write(s_, asio::buffer(current_),
                      [self = this->shared_from_this(), keep](const asio::error_code& ec, std::size_t) {
                        if (ec) {
                          self->writing_ = false;
                          self->closed_ = true;
                          self->next_.clear();
                          if (self->on_error_) self->on_error_(ec);
                          return;
                        }
                        self->write_next();
                      });
  }
  void finish() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    s_.shutdown(asio::socket_base::shutdown_send, ignored);
    s_.close(ignored);
  }
  void half_close() {
    if (closed_ || half_closed_) return;
    half_closed_ = true;
    asio::error_code ignored;
    s_.shutdown(asio::socket_base::shutdown_send, ignored);
  }
  Stream& s_;
  std::weak_ptr<void> owner_;
  std::string current_;  // being written
  std::string next_;     // queued behind it
  bool writing_ = false;
  bool close_pending_ = false;
  bool half_close_pending_ = false;
  bool half_closed_ = false;
  bool closed_ = false;
  std::function<void(const asio::error_code&)> on_error_;
};

}  // namespace pdtp::transport
