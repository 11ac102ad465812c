// A fast scanner for the plain JSON that PDTP messages normally are. It emits the same SAX events
// as nlohmann's parser, and gives up (returns false) on anything outside its small subset: string
// escapes, non-ASCII bytes, negative or non-integer numbers, numbers over 64 bits, and every syntax
// error. The caller then parses the body again with nlohmann, which decides and words the error.
// The message fuzzer checks that both paths agree.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace pdtp::wire::detail {

template <class Sax>
class FastJsonScanner {
 public:
  FastJsonScanner(std::string_view text, Sax& sax) : p_(text.data()), end_(text.data() + text.size()), sax_(sax) {}

  // True when the whole text was scanned and every event was delivered.
  bool run() {
    skip_ws();
    if (p_ == end_ || *p_ != '[') return false;
    if (!value()) return false;
    skip_ws();
    return p_ == end_;
  }

 private:
  void skip_ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  bool value() {
    if (p_ == end_) return false;
    switch (*p_) {
      case '[': return array();
      case '{': return object();
      case '"': {
        std::string s;
        return scan_string(s) && sax_.string(s);
      }
      case 't': return literal("true") && sax_.boolean(true);
      case 'f': return literal("false") && sax_.boolean(false);
      case 'n': return literal("null") && sax_.null();
      default: return number();
    }
  }

  // Unsigned integers without leading zeros, fraction or exponent, that fit in 64 bits.
  bool number() {
    const char* start = p_;
    std::uint64_t v = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      const auto digit = static_cast<std::uint64_t>(*p_ - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
      v = v * 10 + digit;
      ++p_;
    }
    const auto len = p_ - start;
    if (len == 0 || (len > 1 && *start == '0')) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    return sax_.number_unsigned(v);
  }

  // Printable ASCII without escapes; anything else is left to the full parser.
  bool scan_string(std::string& out) {
    ++p_;  // opening quote
    const char* start = p_;
    while (p_ != end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out.assign(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\' || c < 0x20u || c >= 0x80u) return false;
      ++p_;
    }
    return false;
  }

  bool array() {
    ++p_;
    if (!sax_.start_array(static_cast<std::size_t>(-1))) return false;
    skip_ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return sax_.end_array();
    }
    while (true) {
      skip_ws();
      if (!value()) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != ']') return false;
      ++p_;
      return sax_.end_array();
    }
  }

  bool object() {
    ++p_;
    if (!sax_.start_object(static_cast<std::size_t>(-1))) return false;
    skip_ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return sax_.end_object();
    }
    while (true) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') return false;
      if (!scan_string(key_) || !sax_.key(key_)) return false;
      skip_ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      skip_ws();
      if (!value()) return false;
      skip_ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != '}') return false;
      ++p_;
      return sax_.end_object();
    }
  }

  const char* p_;
  const char* end_;
  Sax& sax_;
  std::string key_;  // reused: keys are short and many
};

}  // namespace pdtp::wire::detail
