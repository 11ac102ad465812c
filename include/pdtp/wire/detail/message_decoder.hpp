// Decoder internals: a SAX handler that collects the known arguments of ["type", {args}] without
// building a JSON tree, and a reader that turns them into typed fields with precise errors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "pdtp/result.hpp"
#include "pdtp/wire/types.hpp"

namespace pdtp::wire::detail {

inline constexpr int max_json_depth = 16;  // a valid message needs 3; deeper input is rejected unparsed

enum class Kind : std::uint8_t { absent, null, boolean, negative, unsigned_int, floating, string, object, array };

struct Value {
  Kind kind = Kind::absent;
  bool b = false;
  std::uint64_t u = 0;  // unsigned value, or the magnitude's bit pattern for negatives (only for messages)
  std::string s;        // string value, or the literal text of a floating point number

  void set(Kind k) {
    kind = k;
    s.clear();
  }
};

// Argument names the codec knows; every other key is skipped.
enum class Field : std::uint8_t {
  client_id, listen_port, url, range, peer, peer_id, hash, size, chunk_size, streaming, error, host, port,
  method, authorized, hash_ok, message, reason, peer_key, count
};

inline constexpr std::array<std::string_view, static_cast<std::size_t>(Field::count)> field_names = {
    "client_id", "listen_port", "url",   "range", "peer",       "peer_id", "hash",    "size",    "chunk_size",
    "streaming", "error",       "host",  "port",  "method",     "authorized", "hash_ok", "message", "reason",
    "peer_key"};

inline int field_index(std::string_view key) noexcept {
  for (std::size_t i = 0; i < field_names.size(); ++i)
    if (field_names[i] == key) return static_cast<int>(i);
  return -1;
}

struct RangeValue {
  Kind kind = Kind::absent;  // object when it was {"min":..,"max":..}
  Value min, max;
};

// Collects ["type", {args}] from nlohmann's SAX events. Shape problems are recorded, not fatal, so
// that a syntax error later in the body still wins (it is the more basic fault). Only excessive
// nesting aborts the parse, which bounds the stack.
class Collector {
 public:
  using json = nlohmann::json;

  bool null() { return scalar(Kind::null, [](Value&) {}); }
  bool boolean(bool v) {
    return scalar(Kind::boolean, [v](Value& x) { x.b = v; });
  }
  bool number_integer(json::number_integer_t v) {
    return scalar(Kind::negative, [v](Value& x) { x.s = std::to_string(v); });
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return scalar(Kind::unsigned_int, [v](Value& x) { x.u = v; });
  }
  bool number_float(json::number_float_t, const json::string_t& text) {
    return scalar(Kind::floating, [&text](Value& x) { x.s = text; });
  }
  bool string(json::string_t& v) {
    if (depth_ == 1 && roles_[0] == Role::top && top_members_ == 0) {
      ++top_members_;
      type_ = std::move(v);
      return true;
    }
    return scalar(Kind::string, [&v](Value& x) { x.s = std::move(v); });
  }
  bool binary(json::binary_t&) { return true; }  // never produced by the JSON lexer

  bool start_object(std::size_t) { return open(Kind::object); }
  bool start_array(std::size_t) { return open(Kind::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    const Role parent = roles_[static_cast<std::size_t>(depth_ - 1)];
    if (parent == Role::args) {
      field_ = field_index(k);
    } else if (parent == Role::range) {
      range_key_ = k == "min" ? 0 : k == "max" ? 1 : -1;
    }
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    syntax_error_ = Error{Errc::invalid_json, ex.what()};
    return false;
  }

  // The first fault found, in order of precedence: syntax, nesting, shape.
  std::optional<Error> fault() const {
    if (syntax_error_) return syntax_error_;
    if (shape_error_) return shape_error_;
    if (top_members_ != 2)
      return Error{Errc::bad_shape,
                   "message must be a JSON array of two members [\"type\", {args}], got " +
                       std::to_string(top_members_) + " member(s)"};
    return std::nullopt;
  }

  const std::string& type() const { return type_; }
  Value& field(Field f) { return fields_[static_cast<std::size_t>(f)]; }
  RangeValue& range() { return range_; }

 private:
  enum class Role : std::uint8_t { other, top, args, range };

  template <class Fill>
  bool scalar(Kind kind, Fill fill) {
    Value* slot = slot_for_value(kind);
    if (slot) {
      slot->set(kind);
      fill(*slot);
    }
    return true;
  }

  // Where a value at the current position goes (nullptr: ignored), recording shape faults.
  Value* slot_for_value(Kind kind) {
    if (depth_ == 0) {
      if (kind != Kind::array) shape("message must be a JSON array [\"type\", {args}]");
      return nullptr;
    }
    const Role parent = roles_[static_cast<std::size_t>(depth_ - 1)];
    if (parent == Role::top) {
      const std::size_t index = top_members_++;
      if (index == 0) shape("message type (first member) must be a string");
      if (index == 1 && kind != Kind::object) shape("message arguments (second member) must be an object");
      return nullptr;
    }
    if (parent == Role::args && field_ >= 0) {
      if (field_ == static_cast<int>(Field::range)) {
        range_ = RangeValue{};
        range_.kind = kind;
        return nullptr;
      }
      return &fields_[static_cast<std::size_t>(field_)];
    }
    if (parent == Role::range && range_key_ >= 0) return range_key_ == 0 ? &range_.min : &range_.max;
    return nullptr;
  }

  bool open(Kind kind) {
    if (depth_ >= max_json_depth) {
      syntax_error_ = Error{Errc::bad_shape, "JSON nesting deeper than " + std::to_string(max_json_depth) + " levels"};
      return false;
    }
    Role role = Role::other;
    if (depth_ == 0) {
      if (kind == Kind::array)
        role = Role::top;
      else
        slot_for_value(kind);
    } else {
      const Role parent = roles_[static_cast<std::size_t>(depth_ - 1)];
      const bool args_slot = parent == Role::top && top_members_ == 1 && kind == Kind::object;
      const bool range_slot = parent == Role::args && field_ == static_cast<int>(Field::range) && kind == Kind::object;
      if (Value* slot = slot_for_value(kind)) slot->set(kind);
      if (args_slot) role = Role::args;
      if (range_slot) role = Role::range;
    }
    roles_[static_cast<std::size_t>(depth_)] = role;
    ++depth_;
    return true;
  }

  bool close() {
    --depth_;
    return true;
  }

  void shape(std::string message) {
    if (!shape_error_) shape_error_ = Error{Errc::bad_shape, std::move(message)};
  }

  int depth_ = 0;  // containers currently open
  std::array<Role, max_json_depth> roles_{};
  std::size_t top_members_ = 0;
  int field_ = -1;      // known key whose value comes next inside args, -1 for unknown keys
  int range_key_ = -1;  // 0 = "min", 1 = "max", -1 = other, inside the range object
  std::string type_;
  std::array<Value, static_cast<std::size_t>(Field::count)> fields_{};
  RangeValue range_;
  std::optional<Error> syntax_error_;
  std::optional<Error> shape_error_;
};

inline Value of_kind(Kind k) {
  Value v;
  v.kind = k;
  return v;
}

// Short description of a value for error messages.
inline std::string describe(const Value& v) {
  const auto clip = [](const std::string& s) { return s.size() > 40 ? s.substr(0, 40) + "..." : s; };
  switch (v.kind) {
    case Kind::absent: return "nothing";
    case Kind::null: return "null";
    case Kind::boolean: return v.b ? "true" : "false";
    case Kind::negative: return v.s;
    case Kind::unsigned_int: return std::to_string(v.u);
    case Kind::floating: return clip(v.s);
    case Kind::string: return "a string";
    case Kind::object: return "an object";
    case Kind::array: return "an array";
  }
  return "?";
}

// Reads typed arguments for one message type; the first problem is kept in `error`.
class ArgReader {
 public:
  ArgReader(Collector& c, std::string_view type) : c_(c), type_(type) {}

  std::optional<Error> error;

  std::string string(Field f) {
    Value* v = present(f);
    if (!v) return {};
    if (v->kind != Kind::string) return bad(f, "must be a string", *v), std::string();
    return std::move(v->s);
  }

  std::optional<std::string> optional_string(Field f) {
    if (absent_or_null(f)) return std::nullopt;
    return string(f);
  }

  // An optional string of at most `limit` bytes (absent or null = not given).
  std::optional<std::string> optional_bounded_string(Field f, std::size_t limit) {
    if (absent_or_null(f)) return std::nullopt;
    std::string s = string(f);
    if (error) return std::nullopt;
    if (s.size() > limit)
      return fail(Errc::bad_field, "field \"" + name(f) + "\" must be at most " + std::to_string(limit) +
                                       " bytes, got " + std::to_string(s.size())),
             std::nullopt;
    return s;
  }

  std::uint64_t uint64(Field f) {
    Value* v = present(f);
    if (!v) return 0;
    if (v->kind != Kind::unsigned_int) return bad(f, "must be an unsigned integer", *v), 0;
    return v->u;
  }

  std::uint16_t port(Field f) {
    Value* v = present(f);
    if (!v) return 0;
    if (v->kind != Kind::unsigned_int || v->u > 65535) return bad(f, "must be an integer 0..65535", *v), 0;
    return static_cast<std::uint16_t>(v->u);
  }

  bool boolean(Field f) {
    Value* v = present(f);
    if (!v) return false;
    if (v->kind != Kind::boolean) return bad(f, "must be true or false", *v), false;
    return v->b;
  }

  TransferMethod method(Field f) {
    Value* v = present(f);
    if (!v) return TransferMethod::get;
    if (v->kind == Kind::string && v->s == "get") return TransferMethod::get;
    if (v->kind == Kind::string && v->s == "put") return TransferMethod::put;
    bad(f, "must be \"get\" or \"put\"", *v);
    return TransferMethod::get;
  }

  // Optional SHA-256: 64 hex digits, normalised to lowercase.
  std::optional<Sha256Hex> hash(Field f) {
    if (absent_or_null(f)) return std::nullopt;
    std::string s = string(f);
    if (error) return std::nullopt;
    bool hex = s.size() == 64;
    for (char& ch : s) {
      if (ch >= 'A' && ch <= 'F') ch = static_cast<char>(ch - 'A' + 'a');
      hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
    }
    if (!hex) return fail(Errc::bad_field, "field \"" + name(f) + "\" must be 64 hex digits"), std::nullopt;
    return s;
  }

  ByteRange range() {
    RangeValue& r = c_.range();
    if (error) return {};
    if (r.kind == Kind::absent) return missing(Field::range), ByteRange{};
    if (r.kind != Kind::object) return bad(Field::range, "must be an object {\"min\":A,\"max\":B}", of_kind(r.kind)), ByteRange{};
    const auto bound = [&](Value& v, const char* which) -> std::uint64_t {
      if (error) return 0;
      if (v.kind == Kind::absent) return fail(Errc::missing_field, std::string("missing field \"range.") + which + "\""), 0;
      if (v.kind != Kind::unsigned_int)
        return fail(Errc::bad_field,
                    std::string("field \"range.") + which + "\" must be an unsigned integer, got " + describe(v)),
               0;
      return v.u;
    };
    ByteRange out{bound(r.min, "min"), bound(r.max, "max")};
    if (!error && out.min > out.max)
      fail(Errc::bad_range, "range min " + std::to_string(out.min) + " > max " + std::to_string(out.max));
    return out;
  }

  // Absent or null range means "the whole file".
  std::optional<ByteRange> optional_range() {
    const Kind k = c_.range().kind;
    if (k == Kind::absent || k == Kind::null) return std::nullopt;
    return range();
  }

 private:
  static std::string name(Field f) { return std::string(field_names[static_cast<std::size_t>(f)]); }

  bool absent_or_null(Field f) {
    const Kind k = c_.field(f).kind;
    return k == Kind::absent || k == Kind::null;
  }

  Value* present(Field f) {
    if (error) return nullptr;
    Value& v = c_.field(f);
    if (v.kind == Kind::absent) return missing(f), nullptr;
    return &v;
  }

  void fail(Errc code, std::string what) {
    if (!error) error = Error{code, std::string(type_) + ": " + what};
  }
  void missing(Field f) { fail(Errc::missing_field, "missing field \"" + name(f) + "\""); }
  void bad(Field f, const char* rule, const Value& got) {
    fail(Errc::bad_field, "field \"" + name(f) + "\" " + rule + ", got " + describe(got));
  }

  Collector& c_;
  std::string_view type_;
};

}  // namespace pdtp::wire::detail
