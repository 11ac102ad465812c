// Fuzzes dsclient's known hosts parser: it must never crash; every entry has a name without
// whitespace and a line number within the text; the entries survive a round trip (write each as
// "name KEY", parse again, compare names and keys).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "known_hosts.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto hosts = pdtp::client::parse_known_hosts(text);
  const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::string again_text;
  std::size_t previous_line = 0;
  for (const auto& h : hosts) {
    check(h.line > previous_line && h.line <= lines);
    previous_line = h.line;
    check(!h.name.empty() && h.name.front() != '#');
    check(h.name.find_first_of(" \t\r\n") == std::string::npos);
    again_text += h.name + " " + pdtp::secure::to_text(h.key) + "\n";
  }
  const auto again = pdtp::client::parse_known_hosts(again_text);
  check(again.size() == hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    check(again[i].name == hosts[i].name);
    check(again[i].key == hosts[i].key);
    check(again[i].line == i + 1);
  }
  return 0;
}
