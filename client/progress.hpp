// A one-line progress display on stderr (only when stderr is a terminal): bytes, rate, share from
// peers, ETA.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

#include <asio.hpp>

namespace pdtp::client {

class Progress {
 public:
  struct Snapshot {
    std::uint64_t total = 0;
    std::uint64_t verified = 0;
    std::uint64_t from_peers = 0;
  };

  Progress(asio::io_context& io, bool quiet) : timer_(io), enabled_(!quiet && ::isatty(STDERR_FILENO)) {}

  void start(std::function<Snapshot()> source) {
    if (!enabled_) return;
    source_ = std::move(source);
    started_ = last_time_ = std::chrono::steady_clock::now();
    tick();
  }
  void stop() {
    timer_.cancel();
    source_ = nullptr;
  }
  // Replace the bar with a final line.
  void finish(const std::string& line) {
    if (!enabled_) return;
    stop();
    std::fprintf(stderr, "\r\033[K%s\n", line.c_str());
  }
  void abort() {
    if (!enabled_ || !source_) return;
    stop();
    std::fputs("\r\033[K", stderr);
  }

  static std::string human_bytes(double b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
      b /= 1000;
      ++u;
    }
    char out[32];
    std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return out;
  }

 private:
  void tick() {
    draw();
    timer_.expires_after(std::chrono::milliseconds(250));
    timer_.async_wait([this](const asio::error_code& ec) {
      if (!ec && source_) tick();
    });
  }
  void draw() {
    if (!source_) return;
    Snapshot s = source_();
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last_time_).count();
    if (dt >= 1.0) {
      double inst = static_cast<double>(s.verified - last_bytes_) / dt;
      rate_ = rate_ == 0 ? inst : 0.7 * rate_ + 0.3 * inst;
      last_bytes_ = s.verified;
      last_time_ = now;
    }
    double pct = s.total ? 100.0 * static_cast<double>(s.verified) / static_cast<double>(s.total) : 0;
    double peers = s.verified ? 100.0 * static_cast<double>(s.from_peers) / static_cast<double>(s.verified) : 0;
    std::string eta = "--";
    if (rate_ > 0 && s.total > s.verified) {
      long secs = static_cast<long>(static_cast<double>(s.total - s.verified) / rate_);
      char b[32];
      std::snprintf(b, sizeof b, "%ld:%02ld", secs / 60, secs % 60);
      eta = b;
    }
    std::fprintf(stderr, "\r\033[K%5.1f%%  %s / %s  %s/s  %.0f%% from peers  ETA %s", pct,
                 human_bytes(static_cast<double>(s.verified)).c_str(), human_bytes(static_cast<double>(s.total)).c_str(),
                 human_bytes(rate_).c_str(), peers, eta.c_str());
    std::fflush(stderr);
  }

  asio::steady_timer timer_;
  bool enabled_;
  std::function<Snapshot()> source_;
  std::chrono::steady_clock::time_point started_, last_time_;
  std::uint64_t last_bytes_ = 0;
  double rate_ = 0;
};

}  // namespace pdtp::client
