#include "json_schema.h"

#include "decide.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <regex>
#include <stdexcept>

namespace tb::profiles {

using json = nlohmann::json;

Result<nlohmann::json> parse_limited(std::string_view text, const ParseLimits& limits) {
  try {
    return decide::parse_json(text, limits.max_bytes, limits.max_depth);
  } catch (const std::invalid_argument& e) {
    return make_error(e.what());
  }
}

namespace {

bool has_type(const nlohmann::json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    // A whole float within int64 (casting one outside it, 1e300, would be undefined behaviour).
    const double d = v.get<double>();
    return d >= -0x1p63 && d < 0x1p63 && std::trunc(d) == d;
  }
  if (t == "number") return v.is_number();
  throw std::invalid_argument("schema uses unknown type '" + t + "'");
}

std::string pointer(const std::string& at) {
  return at.empty() ? "/" : at;
}

// JSON pointer escaping of one key (RFC 6901), cut short: a hostile key must not make a huge
// message.
std::string escape_key(const std::string& key) {
  const std::string k = key.size() > 64 ? key.substr(0, 48) + "..." : key;
  std::string out;
  for (const char c : k) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

// A value quoted for a message, cut short: hostile input must not make huge messages.
std::string shown(const nlohmann::json& v, std::size_t limit = 60) {
  std::string s = v.dump();
  if (s.size() > limit) s = s.substr(0, limit - 3) + "...";
  return s;
}

class Validator {
 public:
  explicit Validator(const nlohmann::json& root) : root_(root) {}

  void check(const nlohmann::json& v, const nlohmann::json& s, const std::string& at,
             std::vector<std::string>& errs, int depth = 0) const {
    static constexpr std::array<std::string_view, 22> kKnown = {
        "$schema",  "$id",      "title",    "description",   "type",
        "enum",     "const",    "required", "properties",    "additionalProperties",
        "items",    "maxItems", "minimum",  "maximum",       "maxLength",
        "$ref",     "$defs",    "pattern",  "propertyNames", "maxProperties",
        "$comment", "anyOf"};
    if (depth > 64) throw std::invalid_argument("schema recursion deeper than 64");
    if (s.is_boolean()) {
      if (!s.get<bool>()) errs.push_back(pointer(at) + ": not allowed");
      return;
    }
    for (const auto& [k, _] : s.items())
      if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end())
        throw std::invalid_argument("schema keyword not supported by this validator: " + k);
    if (s.contains("$ref")) {
      const std::string ref = s["$ref"];
      const std::string prefix = "#/$defs/";
      if (ref.rfind(prefix, 0) != 0) throw std::invalid_argument("unsupported $ref " + ref);
      check(v, root_.at("$defs").at(ref.substr(prefix.size())), at, errs, depth + 1);
    }
    if (s.contains("type")) {
      bool ok = false;
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) ok = ok || has_type(v, t);
      } else {
        ok = has_type(v, s["type"]);
      }
      if (!ok) {
        errs.push_back(pointer(at) + ": expected " + s["type"].dump() + ", got " + v.type_name());
        return;
      }
    }
    if (s.contains("const") && v != s["const"])
      errs.push_back(pointer(at) + ": " + shown(v) + " is not " + s["const"].dump());
    if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end())
      errs.push_back(pointer(at) + ": " + shown(v) + " is not one of " + shown(s["enum"], 160));
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>())
        errs.push_back(pointer(at) + ": " + v.dump() + " is below " + s["minimum"].dump());
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>())
        errs.push_back(pointer(at) + ": " + v.dump() + " is above " + s["maximum"].dump());
    }
    if (s.contains("anyOf")) {
      bool ok = false;
      for (const auto& alt : s["anyOf"]) {
        std::vector<std::string> sub;
        check(v, alt, at, sub, depth + 1);
        ok = ok || sub.empty();
      }
      if (!ok) errs.push_back(pointer(at) + ": matches none of anyOf");
    }
    if (v.is_string()) check_string(v.get<std::string>(), s, at, errs);
    if (v.is_object()) check_object(v, s, at, errs, depth);
    if (v.is_array()) {
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>()) {
        errs.push_back(pointer(at) + ": " + std::to_string(v.size()) + " items, at most " +
                       s["maxItems"].dump() + " allowed");
        return;
      }
      if (s.contains("items"))
        for (std::size_t i = 0; i < v.size(); ++i)
          check(v[i], s["items"], at + "/" + std::to_string(i), errs, depth + 1);
    }
  }

 private:
  void check_string(const std::string& str, const nlohmann::json& s, const std::string& at,
                    std::vector<std::string>& errs) const {
    if (s.contains("maxLength") && str.size() > s["maxLength"].get<std::size_t>()) {
      errs.push_back(pointer(at) + ": string longer than " + s["maxLength"].dump());
      return;
    }
    if (s.contains("pattern") &&
        !std::regex_search(str, std::regex(s["pattern"].get<std::string>())))
      errs.push_back(pointer(at) + ": " + shown(str) + " does not match " + s["pattern"].dump());
  }

  void check_object(const nlohmann::json& v, const nlohmann::json& s, const std::string& at,
                    std::vector<std::string>& errs, int depth) const {
    if (s.contains("maxProperties") && v.size() > s["maxProperties"].get<std::size_t>()) {
      errs.push_back(pointer(at) + ": " + std::to_string(v.size()) + " fields, at most " +
                     s["maxProperties"].dump() + " allowed");
      return;
    }
    for (const auto& r : s.value("required", nlohmann::json::array()))
      if (!v.contains(r.get<std::string>()))
        errs.push_back(at + "/" + escape_key(r.get<std::string>()) + ": missing required field");
    const nlohmann::json props = s.value("properties", nlohmann::json::object());
    for (const auto& [k, sub] : v.items()) {
      const std::string field = at + "/" + escape_key(k);
      if (s.contains("propertyNames")) {
        std::vector<std::string> name_errs;
        check_string(k, s["propertyNames"], field, name_errs);
        if (!name_errs.empty()) {
          errs.push_back(field + ": field name not allowed (" + name_errs.front() + ")");
          continue;
        }
      }
      if (props.contains(k)) {
        check(sub, props[k], field, errs, depth + 1);
      } else if (s.contains("additionalProperties")) {
        const auto& ap = s["additionalProperties"];
        if (ap.is_boolean() && !ap.get<bool>())
          errs.push_back(field + ": unknown field");
        else
          check(sub, ap, field, errs, depth + 1);
      }
    }
  }

  const nlohmann::json& root_;
};

nlohmann::json parse_embedded(std::string_view name) {
  const std::string_view text = embedded(name);
  if (text.empty()) throw std::logic_error("not embedded: " + std::string(name));
  return nlohmann::json::parse(text);
}

}  // namespace

std::vector<std::string> validate(const nlohmann::json& v, const nlohmann::json& schema,
                                  const nlohmann::json* root) {
  std::vector<std::string> errs;
  Validator(root ? *root : schema).check(v, schema, "", errs);
  return errs;
}

const nlohmann::json& local_schema() {
  static const nlohmann::json s = parse_embedded("profile.local.schema.json");
  return s;
}

const nlohmann::json& shareable_schema() {
  static const nlohmann::json s = parse_embedded("profile.shareable.schema.json");
  return s;
}

Result<void> validate_profile(const nlohmann::json& profile) {
  if (!profile.is_object()) return make_error("/: expected a JSON object (a profile)");
  if (!profile.contains("schema")) return make_error("/schema: missing required field");
  const auto& name = profile["schema"];
  const nlohmann::json* schema = nullptr;
  std::string what;
  if (name == shareable_schema()["properties"]["schema"]["const"]) {
    schema = &shareable_schema();
    what = "shareable profile";
  } else if (name == local_schema()["properties"]["schema"]["const"]) {
    schema = &local_schema();
    what = "local profile";
  } else {
    return make_error("/schema: " + shown(name) + " is not a tierbench profile (expected " +
                      shareable_schema()["properties"]["schema"]["const"].dump() + " or " +
                      local_schema()["properties"]["schema"]["const"].dump() + ")");
  }
  // An unknown version first: the rest of such a profile cannot be read by this build.
  const json& version = (*schema)["properties"]["version"]["const"];
  if (!profile.contains("version")) return make_error(what + ": /version: missing required field");
  if (profile["version"] != version)
    return make_error(what + ": /version: unsupported version " + shown(profile["version"]) +
                      " (this build reads " + version.dump() + ")");
  const auto errs = validate(profile, *schema);
  if (errs.empty()) return {};
  return make_error(what + ": " + errs.front() +
                    (errs.size() > 1 ? " (and " + std::to_string(errs.size() - 1) + " more)" : ""));
}

}  // namespace tb::profiles
