#include "config.hpp"

#include <array>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "setting_values.hpp"

namespace pdtp::server {

namespace {

using Apply = std::function<Status(std::string_view value, ServerSettings&)>;

struct KeyHandler {
  std::string_view name;
  std::string_view expected;  // what a non-scalar value is reported against
  Apply apply;
};

template <class T, class Parse, class Store>
Apply setter(Parse parse, Store store) {
  return [parse, store](std::string_view text, ServerSettings& s) -> Status {
    Result<T> v = parse(text);
    if (!v) return v.error();
    store(s, std::move(*v));
    return Ok{};
  };
}

const std::vector<KeyHandler>& handlers() {
  static const std::vector<KeyHandler> table = {
      {"vhost", "a host name", setter<std::string>(parse_vhost_value, [](ServerSettings& s, std::string v) { s.vhost = std::move(v); })},
      {"host", "a host name or address", setter<std::string>(parse_host_value, [](ServerSettings& s, std::string v) { s.host = std::move(v); })},
      {"port", "an integer 1..65534", setter<std::uint16_t>(parse_port_value, [](ServerSettings& s, std::uint16_t v) { s.port = v; })},
      {"quiet", "true or false", setter<bool>(parse_bool_value, [](ServerSettings& s, bool v) { s.quiet = v; })},
      {"file_root", "a directory", [](std::string_view text, ServerSettings& s) -> Status {
         if (text.empty()) return Error{Errc::bad_config, "expected a directory, got ''"};
         if (text.find('\0') != std::string_view::npos) return Error{Errc::bad_config, "expected a directory, got " + quote_for_message(text)};
         s.file_root = std::filesystem::path(std::string(text));
         return Ok{};
       }},
      {"chunk_size", "an integer 1024..16777216 (bytes)", setter<std::uint64_t>(parse_chunk_size_value, [](ServerSettings& s, std::uint64_t v) { s.chunk_size = v; })},
      {"streaming", "true or false", setter<bool>(parse_bool_value, [](ServerSettings& s, bool v) { s.streaming = v; })},
      {"peer_upload_slots", "an integer 1..1000000", setter<unsigned>(parse_slots_value, [](ServerSettings& s, unsigned v) { s.peer_upload_slots = v; })},
      {"peer_download_slots", "an integer 1..1000000", setter<unsigned>(parse_slots_value, [](ServerSettings& s, unsigned v) { s.peer_download_slots = v; })},
      {"file_service_slots", "an integer 1..1000000", setter<unsigned>(parse_slots_value, [](ServerSettings& s, unsigned v) { s.file_service_slots = v; })},
      {"transfer_timeout_ms", "an integer 1..86400000 (milliseconds)", setter<unsigned>(parse_timeout_ms_value, [](ServerSettings& s, unsigned v) { s.transfer_timeout_ms = v; })},
      {"transport", "tcp, udp or both", setter<TransportMode>(parse_transport_value, [](ServerSettings& s, TransportMode v) { s.transport = v; })},
      {"require_encryption", "true or false", setter<bool>(parse_bool_value, [](ServerSettings& s, bool v) { s.require_encryption = v; })},
      {"key_file", "a file name", setter<std::filesystem::path>(parse_file_value, [](ServerSettings& s, std::filesystem::path v) { s.key_file = std::move(v); })},
      {"udp_datagram_size", "an integer 1200..65527 (bytes)", setter<std::size_t>(parse_udp_datagram_size_value, [](ServerSettings& s, std::size_t v) { s.udp_datagram_size = v; })},
  };
  return table;
}

const KeyHandler* find_handler(std::string_view name) {
  for (const auto& h : handlers()) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Undefined: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
  }
  return "something else";
}

Error fail(std::string_view source, std::string message) {
  return Error{Errc::bad_config, std::string(source) + ": " + std::move(message)};
}

std::string where(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) + ": ";
}

std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

// Sees parser events only to learn where each document starts.
struct DocumentCounter final : YAML::EventHandler {
  YAML::Mark last_start = YAML::Mark::null_mark();
  void OnDocumentStart(const YAML::Mark& mark) override { last_start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

Result<ServerSettings> apply_document(const YAML::Node& doc, std::string_view source, ServerSettings s) {
  if (!doc.IsDefined() || doc.IsNull()) return s;  // empty file or only comments: nothing to change
  if (!doc.IsMap()) return fail(source, "expected a map of settings (key: value), got " + node_kind(doc));

  std::set<std::string_view> seen;
  for (const auto& entry : doc) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    if (!key.IsScalar()) return fail(source, "every key must be a plain name, got " + node_kind(key));
    const std::string& written = key.Scalar();
    // The original wrote keys as Ruby symbols (`:port: 6086`, i.e. the key ":port").
    std::string_view name = written;
    if (!name.empty() && name.front() == ':') name.remove_prefix(1);
    const KeyHandler* handler = find_handler(name);
    const std::string key_label = "key " + quote_for_message(written);
    if (handler == nullptr) {
      return fail(source, "unknown " + key_label + " (valid keys: " + std::string(valid_config_keys()) + ")");
    }
    if (!seen.insert(handler->name).second) return fail(source, key_label + ": given more than once");
    if (!value.IsScalar()) {
      return fail(source, key_label + ": expected " + std::string(handler->expected) + ", got " + node_kind(value));
    }
    Status applied = handler->apply(value.Scalar(), s);
    if (!applied) return fail(source, key_label + ": " + applied.error().message);
  }
  const std::filesystem::path dir = std::filesystem::path(std::string(source)).parent_path();
  if (seen.count("file_root") != 0 && s.file_root.is_relative()) s.file_root = dir / s.file_root;
  if (seen.count("key_file") != 0 && s.key_file.is_relative()) s.key_file = dir / s.key_file;
  if ((seen.count("require_encryption") != 0 || seen.count("transport") != 0) && s.require_encryption &&
      !s.uses_udp()) {
    return fail(source, "key 'require_encryption': require_encryption needs udp, but transport is tcp");
  }
  return s;
}

}  // namespace

std::string_view valid_config_keys() {
  static const std::string list = [] {
    std::string out;
    for (const auto& h : handlers()) {
      if (!out.empty()) out += ", ";
      out += h.name;
    }
    return out;
  }();
  return list;
}

Result<ServerSettings> parse_config_yaml(std::string_view text, std::string_view source_name, ServerSettings base) {
  if (text.size() > max_config_bytes) {
    return fail(source_name, "larger than " + std::to_string(max_config_bytes) + " bytes; not a config file");
  }
  try {
    const std::string owned(text);
    // yaml-cpp 0.7's LoadAll loops forever on some malformed input (e.g. "\n,\n"), so the documents
    // are counted with the event parser, which is asked for two at most.
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    DocumentCounter counter;
    if (!parser.HandleNextDocument(counter)) return base;  // empty, or only comments
    if (parser.HandleNextDocument(counter)) {
      return fail(source_name, where(counter.last_start) + "expected one YAML document, found another one here");
    }
    return apply_document(YAML::Load(owned), source_name, std::move(base));
  } catch (const YAML::Exception& e) {
    return fail(source_name, where(e.mark) + "YAML syntax error: " + one_line(e.msg));
  } catch (const std::exception& e) {
    return fail(source_name, "cannot read YAML: " + one_line(e.what()));
  } catch (...) {
    return fail(source_name, "cannot read YAML");
  }
}

Result<ServerSettings> load_config_file(const std::filesystem::path& path, ServerSettings base) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail(name, "no such file");
  if (std::filesystem::is_directory(path, ec)) return fail(name, "is a directory, not a config file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(name, "cannot open for reading");
  std::string text;
  std::array<char, 4096> buf{};
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0) {
    text.append(buf.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_config_bytes) break;  // parse_config_yaml reports the size
  }
  if (in.bad()) return fail(name, "read error");

  Result<ServerSettings> parsed = parse_config_yaml(text, name, std::move(base));
  if (!parsed) return parsed;
  ServerSettings s = std::move(*parsed);
  for (std::filesystem::path* p : {&s.file_root, &s.key_file}) {
    if (p->empty() || p->is_absolute()) continue;
    const std::filesystem::path absolute = std::filesystem::absolute(*p, ec);
    if (!ec) *p = absolute;
  }
  s.config_file = path;
  return s;
}

}  // namespace pdtp::server
