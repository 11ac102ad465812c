// Parses the input as a pdtp url, an http url, a bare path and a wire url. Every normalised path
// must be safe (no "..", NUL, backslash, ...), normalising must be idempotent, and a wire url built
// from a parsed url must parse back to the same host and path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pdtp/wire/url.hpp"

namespace {
void check_path(const std::string& p) {
  if (p.empty() || p.front() != '/' || p.size() > pdtp::max_path_length) std::abort();
  if (p != "/" && p.back() == '/') std::abort();
  for (char c : p)
    if (c == '\0' || c == '\\' || c == '%' || c == '?' || c == '#') std::abort();
  if (!pdtp::wire::detail::is_valid_utf8(p)) std::abort();
  std::size_t pos = 1;
  while (p != "/" && pos <= p.size()) {
    std::size_t end = p.find('/', pos);
    if (end == std::string::npos) end = p.size();
    const std::string_view seg(p.data() + pos, end - pos);
    if (seg.empty() || seg == "." || seg == "..") std::abort();
    pos = end + 1;
  }
  auto again = pdtp::normalize_path(p);
  if (!again || *again != p) std::abort();
  auto back = pdtp::file_path_of(pdtp::wire_url("example.org", p));
  if (!back || *back != p) std::abort();
}

void check_host_round_trip(const std::string& host, const std::string& path) {
  auto u = pdtp::parse_http_url(pdtp::wire_url(host, path));
  if (!u || u->host != host || u->path != path || u->port) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto u = pdtp::parse_pdtp_url(text)) {
    if (u->port == 0) std::abort();
    check_path(u->path);
    check_host_round_trip(u->host, u->path);
  }
  if (auto u = pdtp::parse_http_url(text)) {
    if (u->port && *u->port == 0) std::abort();
    check_path(u->path);
    check_host_round_trip(u->host, u->path);
  }
  if (auto p = pdtp::normalize_path(text)) check_path(*p);
  if (auto p = pdtp::file_path_of(text)) check_path(*p);
  return 0;
}
