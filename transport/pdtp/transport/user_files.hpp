// Small helpers for the files dstream and dsclient keep for their user (dstream's key file,
// dsclient's known hosts): where they live, and a descriptor closed on every return path.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <utility>

namespace pdtp::transport {

// $XDG_CONFIG_HOME/distribustream/NAME (when XDG_CONFIG_HOME is an absolute path), else
// $HOME/.config/distribustream/NAME; empty when neither variable is usable.
inline std::filesystem::path user_config_file(std::string_view name) {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::filesystem::path(xdg) / "distribustream" / name;
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::filesystem::path(home) / ".config" / "distribustream" / name;
  return {};
}

// mkdir for every missing ancestor of `dir` (and `dir`), mode 0700; existing directories are left as
// they are. Returns 0, or the errno of the mkdir that failed with the path it failed on in `failed`.
inline int make_private_dirs(const std::filesystem::path& dir, std::filesystem::path& failed) {
  std::filesystem::path partial;
  for (const std::filesystem::path& part : dir) {
    partial /= part;
    if (part.empty() || part == "." || part == "..") continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      failed = partial;
      return errno;
    }
  }
  return 0;
}

// Owns a file descriptor: closes it on every return path unless released.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace pdtp::transport
