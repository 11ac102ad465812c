// first_byte: runs a command with its stdout on a pipe and reports the time to its first output byte.
//   first_byte -- COMMAND [ARGS...]
// Prints "first_byte_ms=F total_ms=T bytes=N" (times from just before the command starts) on stdout;
// the command's output is read to the end and discarded. Exits with the command's status.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - start).count();
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != "--") {
    std::fprintf(stderr, "usage: first_byte -- COMMAND [ARGS...]\n");
    return 2;
  }
  int fds[2];
  if (pipe(fds) != 0) {
    std::fprintf(stderr, "first_byte: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  const Clock::time_point start = Clock::now();
  const pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "first_byte: fork: %s\n", std::strerror(errno));
    return 1;
  }
  if (child == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[2], argv + 2);
    std::fprintf(stderr, "first_byte: %s: %s\n", argv[2], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);

  std::optional<Clock::time_point> first;
  unsigned long long bytes = 0;
  std::array<char, 1 << 16> buf{};
  for (;;) {
    const ssize_t n = read(fds[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!first) first = Clock::now();
    bytes += static_cast<unsigned long long>(n);
  }
  const Clock::time_point end = Clock::now();
  close(fds[0]);

  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (first) {
    std::printf("first_byte_ms=%.1f total_ms=%.1f bytes=%llu\n", ms_since(start, *first), ms_since(start, end), bytes);
  } else {
    std::printf("first_byte_ms=none total_ms=%.1f bytes=0\n", ms_since(start, end));
  }
  return exit_code(status);
}
