// The JSON form of the engine: requests in, responses out, figures from profiles and estimates.
// Every malformed input is a std::invalid_argument naming the field as a JSON pointer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "decide.h"

namespace tb::decide {

namespace {

using json = nlohmann::json;

// The largest figure accepted: 1e15 ms is 31 years, 1e15 bytes a petabyte. Larger values (or a
// sum of them) would overflow the integer fields or turn the response's totals into infinities.
constexpr double kMaxFigure = 1e15;

std::uint64_t to_bytes(double x) {
  return static_cast<std::uint64_t>(std::clamp(x, 0.0, kMaxFigure));
}

[[noreturn]] void bad(const std::string& at, const std::string& what) {
  throw std::invalid_argument((at.empty() ? "/" : at) + ": " + what);
}

const json& field(const json& j, const std::string& at, const char* key) {
  if (!j.is_object()) bad(at, "expected an object");
  if (!j.contains(key)) bad(at + "/" + key, "missing");
  return j[key];
}

double number(const json& j, const std::string& at, const char* key, double min = 0) {
  const json& v = field(j, at, key);
  if (!v.is_number()) bad(at + "/" + key, "expected a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < min || x > kMaxFigure)
    bad(at + "/" + key, "must be between " + json(min).dump() + " and 1e15, got " + v.dump());
  return x;
}

double number_or(const json& j, const std::string& at, const char* key, double fallback) {
  return j.is_object() && j.contains(key) ? number(j, at, key) : fallback;
}

std::uint64_t bytes(const json& j, const std::string& at, const char* key) {
  return to_bytes(number(j, at, key));
}

std::uint64_t bytes_or(const json& j, const std::string& at, const char* key) {
  return j.is_object() && j.contains(key) ? bytes(j, at, key) : 0;
}

bool boolean(const json& j, const std::string& at, const char* key) {
  const json& v = field(j, at, key);
  if (!v.is_boolean()) bad(at + "/" + key, "expected true or false, got " + v.dump());
  return v.get<bool>();
}

bool boolean_or(const json& j, const std::string& at, const char* key, bool fallback) {
  return j.is_object() && j.contains(key) ? boolean(j, at, key) : fallback;
}

std::string string(const json& j, const std::string& at, const char* key) {
  const json& v = field(j, at, key);
  if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 256)
    bad(at + "/" + key, "expected a non-empty string of at most 256 characters");
  return v.get<std::string>();
}

std::string string_or(const json& j, const std::string& at, const char* key,
                      const std::string& fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  if (!j[key].is_string() || j[key].get<std::string>().size() > 1024)
    bad(at + "/" + key, "expected a string of at most 1024 characters");
  return j[key].get<std::string>();
}

const json& array(const json& j, const std::string& at, const char* key) {
  const json& v = field(j, at, key);
  if (!v.is_array()) bad(at + "/" + key, "expected an array");
  return v;
}

double seconds_ms(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number()
             ? std::clamp(j[key].get<double>() * 1e3, 0.0, kMaxFigure)
             : 0;
}

std::vector<ModelEstimate> from_local(const json& p) {
  std::vector<ModelEstimate> out;
  const json& tiers = array(p, "", "tiers");
  for (std::size_t i = 0; i < tiers.size(); ++i) {
    const json& t = tiers[i];
    const std::string at = "/tiers/" + std::to_string(i);
    ModelEstimate e;
    e.workload = string(t, at, "workload");
    e.backend = string(t, at, "backend");
    e.source = "measured";
    const std::string f = string(t, at, "feasibility");
    e.feasible = f == "runs" || f == "too-slow";
    if (!e.feasible) {
      const std::string msg = string_or(t, at, "message", "");
      e.why = msg.empty() ? f : msg;
    }
    const json lat = t.value("latency_s", json());
    if (lat.is_object() && lat.contains("median") && lat["median"].is_number())
      e.latency_ms = std::clamp(lat["median"].get<double>() * 1e3, 0.0, kMaxFigure);
    const json cold = t.value("cold_start_s", json());
    e.read_ms = seconds_ms(cold, "read");
    e.compile_ms = seconds_ms(cold, "prepare");
    e.upload_ms = seconds_ms(cold, "upload");
    // The tiers record the whole first inference; the estimate keeps its excess.
    if (e.latency_ms >= 0)
      e.first_inference_ms = std::max(0.0, seconds_ms(cold, "first") - e.latency_ms);
    if (t.contains("memory_bytes") && t["memory_bytes"].is_number())
      e.peak_memory_bytes = to_bytes(t["memory_bytes"].get<double>());
    if (t.contains("weight_bytes") && t["weight_bytes"].is_number())
      e.weight_bytes = to_bytes(t["weight_bytes"].get<double>());
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<ModelEstimate> from_shareable(const json& p) {
  std::vector<ModelEstimate> out;
  const json& tiers = field(p, "", "tiers");
  if (!tiers.is_object()) bad("/tiers", "expected an object");
  for (const auto& [workload, t] : tiers.items()) {
    const std::string at = "/tiers/" + workload;
    ModelEstimate e;
    e.workload = workload;
    e.source = "classes";
    const std::string f = string(t, at, "feasibility");
    const std::string lat = string(t, at, "latency"), cold = string(t, at, "cold_start"),
                      mem = string(t, at, "memory");
    e.feasible = f == "runs" || f == "too-slow";
    if (!e.feasible)  // withheld: it may not fit, so it is never assumed to run here
      e.why =
          f == "any" ? "feasibility class withheld ('any'): not assumed to run on this device" : f;
    if (!e.feasible) {
      out.push_back(std::move(e));
      continue;
    }
    if (auto v = class_value(lat)) {
      e.latency_ms = *v;
    } else if (lat == "any") {  // withheld: the worst the feasibility allows
      e.latency_ms = f == "runs" ? kWithheldRunsLatencyMs : kWithheldTooSlowLatencyMs;
      e.assumed.push_back("latency class withheld ('any'): assumed " +
                          std::string(f == "runs" ? "10 s, the most a tier that runs may take"
                                                  : "90 s, as '>=60000 ms'"));
    } else {
      e.feasible = false;
      e.why = "latency class '" + lat + "' gives no figure";
    }
    // A class cannot say how a cold start divides: all of it is counted as read + compile.
    if (auto v = class_value(cold)) {
      e.compile_ms = *v;
    } else {
      e.compile_ms = std::max(kWithheldColdStartMs, std::max(0.0, e.latency_ms));
      e.assumed.push_back("cold-start class withheld ('" + cold + "'): assumed " +
                          json(std::round(e.compile_ms / 100) / 10).dump() + " s, the top class");
    }
    if (auto m = class_value(mem)) {
      e.peak_memory_bytes = to_bytes(*m * 1048576);
    } else {
      e.memory_withheld = true;
      e.assumed.push_back("memory class withheld ('" + mem +
                          "'): it cannot be shown to fit a stated available memory");
    }
    out.push_back(std::move(e));
  }
  return out;
}

json placement_json(const Placement& p, int rank) {
  json j = {{"rank", rank},
            {"target", p.target},
            {"kind", p.kind},
            {"workload", p.workload},
            {"backend", p.backend},
            {"fidelity", p.fidelity},
            {"latency_ms",
             {{"download", p.latency.download_ms},
              {"read_compile", p.latency.load_ms},
              {"inference", p.latency.inference_ms},
              {"transfer", p.latency.transfer_ms},
              {"queueing", p.latency.queueing_ms},
              {"total", p.latency.total()}}},
            {"meets_objective", p.meets_objective},
            {"ready_now", p.ready_now},
            {"reasons", p.reasons}};
  j["split"] = p.split ? json{{"after_layer", p.split->after},
                              {"layer", p.split->layer},
                              {"activation_bytes", p.split->bytes},
                              {"device_ms", p.split->device_ms},
                              {"remote_ms", p.split->remote_ms}}
                       : json();
  return j;
}

Remote parse_remote(const json& r, const std::string& at) {
  Remote x;
  x.name = string(r, at, "name");
  if (x.name == "device") bad(at + "/name", "'device' names this device; choose another name");
  x.kind = string(r, at, "kind");
  if (x.kind != "edge" && x.kind != "cloud") bad(at + "/kind", "expected \"edge\" or \"cloud\"");
  x.rtt_ms = number(r, at, "rtt_ms");
  x.queue_ms = number(r, at, "queue_ms");
  if (r.contains("profile")) x.estimates = estimates_from_profile(r["profile"]);
  if (r.contains("estimates"))
    for (const auto& e : array(r, at, "estimates")) x.estimates.push_back(estimate_from_json(e));
  if (!r.contains("profile") && !r.contains("estimates"))
    bad(at, "a site needs its capability: \"profile\" (its shareable profile) or \"estimates\"");
  return x;
}

}  // namespace

json parse_json(std::string_view text, std::size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes)
    throw std::invalid_argument("input is " + std::to_string(text.size()) +
                                " bytes, more than the " + std::to_string(max_bytes) + " allowed");
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth)
        throw std::invalid_argument("input nests deeper than " + std::to_string(max_depth) +
                                    " levels");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // a syntax error, or a number out of range
    throw std::invalid_argument(std::string("not valid JSON: ") + e.what());
  }
}

std::optional<ClassRange> class_range(const std::string& label) {
  double a = 0, b = 0;
  int n = 0;
  const auto ok = [](double x) { return std::isfinite(x) && x >= 0 && x <= kMaxFigure; };
  if (std::sscanf(label.c_str(), ">=%lf %n", &a, &n) == 1 && n > 0 && ok(a))
    return ClassRange{a, std::numeric_limits<double>::infinity()};
  if (std::sscanf(label.c_str(), "<%lf %n", &b, &n) == 1 && n > 0 && ok(b) && b > 0)
    return ClassRange{0, b};
  if (std::sscanf(label.c_str(), "%lf-%lf %n", &a, &b, &n) == 2 && n > 0 && ok(a) && ok(b) && a < b)
    return ClassRange{a, b};
  return std::nullopt;
}

std::optional<double> class_value(const std::string& label) {
  const auto r = class_range(label);
  if (!r) return std::nullopt;
  if (r->lo <= 0) return r->hi * 0.5;
  if (std::isinf(r->hi)) return r->lo * 1.5;
  return std::sqrt(r->lo * r->hi);
}

std::vector<ModelEstimate> estimates_from_profile(const json& profile) {
  if (!profile.is_object() || !profile.contains("schema") || !profile["schema"].is_string())
    bad("/schema",
        "expected a profile (\"schema\": \"tierbench.profile.local\" or "
        "\"tierbench.profile.shareable\")");
  const std::string s = profile["schema"];
  if (s == "tierbench.profile.local") return from_local(profile);
  if (s == "tierbench.profile.shareable") return from_shareable(profile);
  bad("/schema", "unknown profile schema \"" + s + "\"");
}

json to_json(const ModelEstimate& e) {
  json layers = json::array();
  for (const auto& l : e.layers)
    layers.push_back(
        {{"name", l.name}, {"latency_ms", l.latency_ms}, {"output_bytes", l.output_bytes}});
  return {{"workload", e.workload},
          {"backend", e.backend},
          {"source", e.source},
          {"feasible", e.feasible},
          {"why", e.why},
          {"latency_ms", e.latency_ms},
          {"read_ms", e.read_ms},
          {"compile_ms", e.compile_ms},
          {"upload_ms", e.upload_ms},
          {"first_inference_ms", e.first_inference_ms},
          {"peak_memory_bytes", e.peak_memory_bytes},
          {"weight_bytes", e.weight_bytes},
          {"layers", layers},
          {"assumed", e.assumed},
          {"memory_withheld", e.memory_withheld}};
}

ModelEstimate estimate_from_json(const json& j) {
  ModelEstimate e;
  e.workload = string(j, "/estimate", "workload");
  e.backend = string_or(j, "/estimate", "backend", "");
  e.source = string_or(j, "/estimate", "source", "given");
  e.feasible = boolean_or(j, "/estimate", "feasible", true);
  e.why = string_or(j, "/estimate", "why", "");
  e.latency_ms = j.contains("latency_ms") ? number(j, "/estimate", "latency_ms", -1) : -1;
  e.read_ms = number_or(j, "/estimate", "read_ms", 0);
  e.compile_ms = number_or(j, "/estimate", "compile_ms", 0);
  e.upload_ms = number_or(j, "/estimate", "upload_ms", 0);
  e.first_inference_ms = number_or(j, "/estimate", "first_inference_ms", 0);
  e.peak_memory_bytes = bytes_or(j, "/estimate", "peak_memory_bytes");
  e.weight_bytes = bytes_or(j, "/estimate", "weight_bytes");
  if (j.contains("assumed"))
    for (const auto& a : array(j, "/estimate", "assumed")) {
      if (!a.is_string() || a.get<std::string>().size() > 1024)
        bad("/estimate/assumed", "expected strings of at most 1024 characters");
      e.assumed.push_back(a.get<std::string>());
    }
  e.memory_withheld = boolean_or(j, "/estimate", "memory_withheld", false);
  if (j.contains("layers"))
    for (const auto& l : array(j, "/estimate", "layers"))
      e.layers.push_back({string(l, "/estimate/layers", "name"),
                          number(l, "/estimate/layers", "latency_ms"),
                          bytes(l, "/estimate/layers", "output_bytes")});
  return e;
}

Inputs parse_request(const json& req, const json* profile) {
  if (!req.is_object()) bad("", "expected a request object");
  if (!req.contains("schema") || req["schema"] != "tierbench.decide.request")
    bad("/schema", "expected \"tierbench.decide.request\"");
  if (!req.contains("version") || req["version"] != 1) bad("/version", "expected 1");
  Inputs in;
  if (!profile && req.contains("profile")) profile = &req["profile"];
  if (profile) in.local = estimates_from_profile(*profile);
  if (req.contains("estimates"))
    for (const auto& e : array(req, "", "estimates")) in.local.push_back(estimate_from_json(e));
  if (!profile && !req.contains("estimates"))
    bad("/profile", "missing: the device's profile (or --profile FILE, or \"estimates\")");
  if (req.contains("device"))
    in.memory_available_bytes = bytes_or(req["device"], "/device", "memory_available_bytes");

  const json& models = array(req, "", "models");
  if (models.empty()) bad("/models", "needs at least one candidate variant");
  for (std::size_t i = 0; i < models.size(); ++i) {
    const std::string at = "/models/" + std::to_string(i);
    Variant v;
    v.workload = string(models[i], at, "workload");
    v.fidelity = number_or(models[i], at, "fidelity", 1);
    v.download_bytes = bytes_or(models[i], at, "download_bytes");
    v.compiled = boolean_or(models[i], at, "compiled", false);
    v.cached = boolean_or(models[i], at, "cached", false) || v.compiled;
    in.variants.push_back(v);
  }

  const json& r = field(req, "", "request");
  in.request.input_bytes = bytes(r, "/request", "input_bytes");
  in.request.output_bytes = bytes(r, "/request", "output_bytes");
  in.request.objective_ms = number(r, "/request", "latency_objective_ms");
  const std::string delay = string(r, "/request", "delay");
  if (delay != "sensitive" && delay != "tolerant")
    bad("/request/delay", "expected \"sensitive\" or \"tolerant\", got \"" + delay + "\"");
  in.request.delay_sensitive = delay == "sensitive";
  in.request.may_leave_device = boolean(r, "/request", "may_leave_device");

  const json& n = field(req, "", "network");
  in.network.offline = boolean(n, "/network", "offline");
  if (!in.network.offline) {
    in.network.rtt_ms = number(n, "/network", "rtt_ms");
    in.network.up_mbps = number(n, "/network", "up_mbps", 1e-6);
    in.network.down_mbps = number(n, "/network", "down_mbps", 1e-6);
  }
  if (req.contains("remotes")) {
    const json& rs = array(req, "", "remotes");
    for (std::size_t i = 0; i < rs.size(); ++i)
      in.remotes.push_back(parse_remote(rs[i], "/remotes/" + std::to_string(i)));
  }
  return in;
}

json to_json(const Decision& d) {
  json j = {{"schema", "tierbench.decide.response"},
            {"version", 1},
            {"decision", d.ranked.empty() ? "none" : "run"},
            {"reason", d.reason}};
  j["placements"] = json::array();
  for (std::size_t i = 0; i < d.ranked.size(); ++i)
    j["placements"].push_back(placement_json(d.ranked[i], static_cast<int>(i) + 1));
  j["excluded"] = json::array();
  for (const auto& x : d.excluded)
    j["excluded"].push_back({{"target", x.target}, {"workload", x.workload}, {"why", x.why}});
  j["plan"] = nullptr;
  if (d.plan)
    j["plan"] = {{"now", d.plan->now ? placement_json(*d.plan->now, 0) : json()},
                 {"then", placement_json(d.plan->then, 0)},
                 {"download_done_ms", d.plan->download_done_ms},
                 {"switch_at_ms", d.plan->switch_at_ms},
                 {"summary", d.plan->summary}};
  return j;
}

}  // namespace tb::decide
