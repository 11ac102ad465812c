// Fuzzes dstream's key file parser: it must never crash; every error is Errc::bad_key naming the file
// and never echoes the file's content; an accepted key survives a round trip (write the key file's
// text for it, parse again, compare).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "key_file.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = pdtp::server::parse_key_file_text(text, "fuzz.key");
  if (!parsed) {
    check(parsed.error().code == pdtp::Errc::bad_key);
    check(parsed.error().message.find("fuzz.key") != std::string::npos);
    check(parsed.error().message.find('\n') == std::string::npos);
    return 0;
  }
  check(!pdtp::secure::detail::all_zero(parsed->view()));
  const std::string again_text = pdtp::server::key_file_text(*parsed);
  const auto again = pdtp::server::parse_key_file_text(again_text, "fuzz.key");
  check(again.ok());
  check(pdtp::secure::detail::equal_ct(again->view(), parsed->view()));
  check(pdtp::server::key_file_text(*again) == again_text);
  return 0;
}
