// Minimal JSON text writer for the message encoder: appends straight into a std::string, no DOM.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "pdtp/wire/detail/utf8.hpp"

namespace pdtp::wire::detail {

// Appends `s` as a JSON string literal. Quotes, backslashes and control characters are escaped;
// well-formed UTF-8 is copied as is; each malformed byte becomes U+FFFD so the output stays valid JSON.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20u && c < 0x80u && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80u) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n != 0) {
        i += n;
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20u) {
          const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xFu]};
          out.append(esc, sizeof esc);
        } else {
          out.append("\\ufffd");  // malformed UTF-8 byte
        }
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

inline void append_json_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 20 digits always suffice for a uint64
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// Writes the members of one JSON object: `{"a":1,"b":"x"}` as w.key("a"), value, w.key("b"), value.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // `name` is a plain ASCII literal of ours, so it needs no escaping.
  ObjectWriter& key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
    return *this;
  }
  void string(std::string_view name, std::string_view v) {
    key(name);
    append_json_string(out_, v);
  }
  void uint(std::string_view name, std::uint64_t v) {
    key(name);
    append_json_uint(out_, v);
  }
  void boolean(std::string_view name, bool v) {
    key(name);
    out_.append(v ? "true" : "false");
  }
  void close() { out_.push_back('}'); }
  std::string& out() { return out_; }

 private:
  std::string& out_;
  bool first_ = true;
};

}  // namespace pdtp::wire::detail
