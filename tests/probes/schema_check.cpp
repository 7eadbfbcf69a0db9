#include "schema_check.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace tb::test {

namespace {

bool has_type(const nlohmann::json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "boolean") return v.is_boolean();
  if (t == "null") return v.is_null();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  throw std::runtime_error("schema uses unknown type " + t);
}

class Validator {
 public:
  explicit Validator(const nlohmann::json& root) : root_(root) {}

  void check(const nlohmann::json& v, const nlohmann::json& s, const std::string& at,
             std::vector<std::string>& errs) const {
    static const std::vector<std::string> known = {
        "$schema",     "$id",        "title",
        "description", "type",       "enum",
        "required",    "properties", "additionalProperties",
        "items",       "minimum",    "anyOf",
        "$ref",        "$defs"};
    for (const auto& [k, _] : s.items()) {
      if (std::find(known.begin(), known.end(), k) == known.end())
        throw std::runtime_error("schema keyword not supported by the test validator: " + k);
    }
    if (s.contains("$ref")) {
      const std::string ref = s["$ref"];
      const std::string prefix = "#/$defs/";
      if (ref.rfind(prefix, 0) != 0) throw std::runtime_error("unsupported $ref " + ref);
      check(v, root_.at("$defs").at(ref.substr(prefix.size())), at, errs);
    }
    if (s.contains("type")) {
      bool ok = false;
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) ok = ok || has_type(v, t);
      } else {
        ok = has_type(v, s["type"]);
      }
      if (!ok) {
        errs.push_back(at + ": expected type " + s["type"].dump() + ", got " + v.type_name());
        return;
      }
    }
    if (s.contains("enum")) {
      bool ok = false;
      for (const auto& e : s["enum"]) ok = ok || e == v;
      if (!ok) errs.push_back(at + ": " + v.dump() + " not in " + s["enum"].dump());
    }
    if (s.contains("minimum") && v.is_number() && v.get<double>() < s["minimum"].get<double>()) {
      errs.push_back(at + ": " + v.dump() + " below minimum " + s["minimum"].dump());
    }
    if (s.contains("anyOf")) {
      bool ok = false;
      for (const auto& alt : s["anyOf"]) {
        std::vector<std::string> sub;
        check(v, alt, at, sub);
        ok = ok || sub.empty();
      }
      if (!ok) errs.push_back(at + ": matches none of anyOf");
    }
    if (v.is_object()) {
      for (const auto& r : s.value("required", nlohmann::json::array())) {
        if (!v.contains(r.get<std::string>())) errs.push_back(at + ": missing " + r.dump());
      }
      const nlohmann::json props = s.value("properties", nlohmann::json::object());
      for (const auto& [k, sub] : v.items()) {
        if (props.contains(k)) {
          check(sub, props[k], at + "/" + k, errs);
        } else if (s.contains("additionalProperties")) {
          check(sub, s["additionalProperties"], at + "/" + k, errs);
        }
      }
    }
    if (v.is_array() && s.contains("items")) {
      for (std::size_t i = 0; i < v.size(); ++i)
        check(v[i], s["items"], at + "/" + std::to_string(i), errs);
    }
  }

 private:
  const nlohmann::json& root_;
};

}  // namespace

std::vector<std::string> validate_schema(const nlohmann::json& instance,
                                         const nlohmann::json& schema, const nlohmann::json* root) {
  std::vector<std::string> errs;
  Validator(root ? *root : schema).check(instance, schema, "", errs);
  return errs;
}

nlohmann::json load_probe_schema() {
  const char* src = std::getenv("TB_SOURCE_DIR");
  const std::string path =
      std::string(src ? src : TB_SOURCE_DIR_FALLBACK) + "/probes/probe_schema.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

}  // namespace tb::test
