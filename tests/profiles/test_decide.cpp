// The decision engine: the hand-checked scenarios (profiles/decide/scenarios/hand_checked.json)
// through the C ABI, the hard constraints over a seeded random sweep of inputs, the JSON forms
// and their schemas, and the figures read from profiles.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>

#include "decide.h"
#include "evaluate.h"
#include "hand_checked.h"
#include "json_schema.h"
#include "tierbench_decide.h"

namespace tb::decide {
namespace {

using json = nlohmann::json;

json hand_checked() {
  return {{"scenarios", test::hand_checked_scenarios()}};
}

// The C ABI, as a scheduler in another language calls it.
std::pair<int, json> call(const std::string& request, const char* profile = nullptr) {
  char* out = nullptr;
  const int rc = tb_decide(request.c_str(), profile, &out);
  EXPECT_NE(out, nullptr);
  json j = out ? json::parse(out) : json();
  tb_decide_free(out);
  return {rc, j};
}

void expect_first(const json& got, const json& want, const std::string& name) {
  for (const char* k : {"target", "kind", "workload"})
    if (want.contains(k)) {
      EXPECT_EQ(got[k], want[k]) << name << ": " << k;
    }
  if (want.contains("after_layer")) {
    EXPECT_EQ(got["split"]["after_layer"], want["after_layer"]);
  }
  if (want.contains("total_ms")) {
    EXPECT_NEAR(got["latency_ms"]["total"].get<double>(), want["total_ms"].get<double>(), 0.01)
        << name;
  }
}

TEST(Decide, HandCheckedScenarios) {
  const json doc = hand_checked();
  ASSERT_GE(doc["scenarios"].size(), 10u);
  for (const auto& s : doc["scenarios"]) {
    const std::string name = s["name"];
    const json& req = s["request"];
    EXPECT_TRUE(profiles::validate(req, profiles::decide_request_schema()).empty()) << name;
    const auto [rc, out] = call(req.dump());
    ASSERT_EQ(rc, 0) << name << ": " << out.dump();
    const auto violations = profiles::validate(out, profiles::decide_response_schema());
    EXPECT_TRUE(violations.empty()) << name << ": " << (violations.empty() ? "" : violations[0]);
    const json& want = s["expect"];
    EXPECT_EQ(out["decision"], want["decision"]) << name << ": " << out["reason"];
    if (want.contains("placements")) {
      EXPECT_EQ(out["placements"].size(), want["placements"]);
    }
    if (want.contains("reason_starts")) {
      EXPECT_EQ(out["reason"].get<std::string>().rfind(want["reason_starts"], 0), 0u)
          << out["reason"];
    }
    if (want.contains("first")) {
      ASSERT_FALSE(out["placements"].empty()) << name;
      expect_first(out["placements"][0], want["first"], name);
    }
    if (want.value("no_remote", false)) {
      for (const auto& p : out["placements"]) EXPECT_EQ(p["kind"], "local") << name;
    }
    if (want.contains("never_local")) {
      for (const auto& p : out["placements"])
        EXPECT_FALSE(p["workload"] == want["never_local"] && p["target"] == "device") << name;
    }
    if (want.contains("excluded_contains")) {
      bool found = false;
      for (const auto& x : out["excluded"])
        found = found || (x["target"] == want["excluded_contains"]["target"] &&
                          x["why"] == want["excluded_contains"]["why"]);
      EXPECT_TRUE(found) << name << ": " << out["excluded"].dump();
    }
    if (want.contains("plan")) {
      if (want["plan"].is_null()) {
        EXPECT_TRUE(out["plan"].is_null()) << name;
        continue;
      }
      ASSERT_TRUE(out["plan"].is_object()) << name;
      const json& p = out["plan"];
      EXPECT_EQ(p["then"]["workload"], want["plan"]["then"]) << name;
      EXPECT_NEAR(p["switch_at_ms"].get<double>(), want["plan"]["switch_at_ms"].get<double>(), 0.01)
          << name;
      if (want["plan"]["now"].is_null())
        EXPECT_TRUE(p["now"].is_null()) << name;
      else
        EXPECT_EQ(p["now"]["workload"], want["plan"]["now"]) << name;
      if (want["plan"].contains("now_target")) {
        EXPECT_EQ(p["now"]["target"], want["plan"]["now_target"]) << name;
      }
    }
  }
}

// Random inputs (seeded): the hard constraints hold in every one.
Inputs random_inputs(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const auto lg = [&](double lo, double hi) { return lo * std::pow(hi / lo, u(rng)); };
  Inputs in;
  const char* names[] = {"m:b1:f32", "m:b1:bf16", "m:b1:int8"};
  for (int i = 0; i < 3; ++i) {
    Variant v;
    v.workload = names[i];
    v.fidelity = 1 - 0.01 * i;
    v.download_bytes = static_cast<std::uint64_t>(lg(1e5, 1e9));
    v.cached = u(rng) < 0.5;
    v.compiled = v.cached && u(rng) < 0.5;
    in.variants.push_back(v);
    ModelEstimate e;
    e.workload = v.workload;
    e.backend = "b";
    e.latency_ms = lg(0.1, 5e4);
    e.read_ms = lg(0.1, 1e4);
    e.compile_ms = lg(0.1, 1e4);
    e.peak_memory_bytes = static_cast<std::uint64_t>(lg(1e5, 1e10));
    e.feasible = u(rng) < 0.9;
    for (int l = 0; l < 5; ++l)
      e.layers.push_back(
          {"l" + std::to_string(l), e.latency_ms / 5, static_cast<std::uint64_t>(lg(1e2, 1e7))});
    in.local.push_back(e);
  }
  in.memory_available_bytes = u(rng) < 0.5 ? static_cast<std::uint64_t>(lg(1e6, 1e10)) : 0;
  in.request = {static_cast<std::uint64_t>(lg(10, 1e7)), static_cast<std::uint64_t>(lg(10, 1e6)),
                lg(1, 1e5), u(rng) < 0.5, u(rng) < 0.5};
  in.network.offline = u(rng) < 0.25;
  if (!in.network.offline) in.network = {false, lg(1, 3000), lg(0.1, 500), lg(0.1, 1000)};
  for (const char* site : {"edge", "cloud"}) {
    Remote r;
    r.name = site;
    r.kind = site;
    r.rtt_ms = lg(1, 200);
    r.queue_ms = lg(0.1, 1000);
    for (const auto& v : in.variants) {
      ModelEstimate e;
      e.workload = v.workload;
      e.latency_ms = lg(0.05, 1e4);
      e.feasible = u(rng) < 0.9;
      r.estimates.push_back(e);
    }
    in.remotes.push_back(r);
  }
  return in;
}

TEST(Decide, HardConstraintsHoldOverARandomSweep) {
  std::mt19937_64 rng(20261204);
  int ran = 0, offloaded = 0, split = 0, none = 0;
  for (int i = 0; i < 3000; ++i) {
    const Inputs in = random_inputs(rng);
    const Decision d = decide(in);
    none += d.ranked.empty();
    if (d.ranked.empty()) {
      EXPECT_FALSE(d.reason.empty());
    }
    for (const auto& p : d.ranked) {
      ++ran;
      if (p.kind != "local") {
        ++offloaded;
        split += p.kind == "split";
        EXPECT_TRUE(in.request.may_leave_device) << "private data offloaded";
        EXPECT_FALSE(in.network.offline) << "offloaded while offline";
      }
      if (p.kind == "local" || p.kind == "split") {
        const auto& e =
            *std::find_if(in.local.begin(), in.local.end(),
                          [&](const ModelEstimate& x) { return x.workload == p.workload; });
        EXPECT_TRUE(e.feasible);
        if (in.memory_available_bytes) {
          EXPECT_LE(e.peak_memory_bytes, in.memory_available_bytes) << "does not fit, placed";
        }
        if (in.network.offline) {
          const auto& v = *std::find_if(in.variants.begin(), in.variants.end(),
                                        [&](const Variant& x) { return x.workload == p.workload; });
          EXPECT_TRUE(v.cached) << "offline, downloaded";
        }
      }
      EXPECT_NEAR(p.latency.total(),
                  p.latency.download_ms + p.latency.load_ms + p.latency.inference_ms +
                      p.latency.transfer_ms + p.latency.queueing_ms,
                  1e-9);
    }
    // The ranking is the engine's own order: the first is never worse by its rule.
    if (d.ranked.size() > 1 && d.ranked[0].meets_objective == d.ranked[1].meets_objective &&
        in.request.delay_sensitive && !d.ranked[0].meets_objective) {
      EXPECT_LE(d.ranked[0].latency.total(), d.ranked[1].latency.total());
    }
    if (!d.ranked.empty() && d.ranked[0].meets_objective && in.request.delay_sensitive)
      for (const auto& p : d.ranked)
        if (p.meets_objective) {
          EXPECT_GE(d.ranked[0].fidelity, p.fidelity);
        }
  }
  // The sweep reaches every kind of outcome (else it would prove little).
  EXPECT_GT(ran, 1000);
  EXPECT_GT(offloaded, 100);
  EXPECT_GT(split, 10);
  EXPECT_GT(none, 10);
}

TEST(Decide, PriceReproducesTheEngineFigures) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const Inputs in = random_inputs(rng);
    for (const auto& p : decide(in).ranked) {
      const auto again = price(in, p);
      ASSERT_TRUE(again.has_value());
      EXPECT_DOUBLE_EQ(again->latency.total(), p.latency.total());
    }
  }
}

// The oracle prices the engine's split point even where its own figures would not split there.
TEST(Decide, PriceKeepsTheChosenSplitPoint) {
  json req;
  for (const auto& s : test::hand_checked_scenarios())
    if (s["name"] == "slow-uplink-split") req = s["request"];
  ASSERT_FALSE(req.is_null());
  const Decision d = decide(parse_request(req));
  ASSERT_EQ(d.ranked[0].kind, "split");
  req["network"]["up_mbps"] = 1000;  // sending the input is now cheap: no split is best
  const Inputs fast = parse_request(req);
  for (const auto& p : decide(fast).ranked) EXPECT_NE(p.kind, "split");
  const auto priced = price(fast, d.ranked[0]);
  ASSERT_TRUE(priced.has_value());
  ASSERT_TRUE(priced->split.has_value());
  EXPECT_EQ(priced->split->after, 2);
  // 600 + 5 ms inference, 5000 B at 1000 Mbit/s, 25 ms of round trips, 4000 B down at 10 Mbit/s.
  EXPECT_NEAR(priced->latency.total(), 605 + 0.04 + 25 + 3.2, 1e-9);
  req["request"]["may_leave_device"] = false;  // and never once the data may not leave
  EXPECT_FALSE(price(parse_request(req), d.ranked[0]).has_value());
}

// With the site's own per-layer figures (same layers), the split uses them instead of the
// device's shares: the site's 20 ms are mostly its last layer here.
TEST(Decide, SplitUsesTheSitesOwnLayersWhenGiven) {
  json req;
  for (const auto& s : test::hand_checked_scenarios())
    if (s["name"] == "slow-uplink-split") req = s["request"];
  ASSERT_FALSE(req.is_null());
  req["remotes"][0]["estimates"][0]["layers"] = {
      {{"name", "conv1"}, {"latency_ms", 1}, {"output_bytes", 800000}},
      {{"name", "conv2"}, {"latency_ms", 1}, {"output_bytes", 200000}},
      {{"name", "conv3"}, {"latency_ms", 1}, {"output_bytes", 5000}},
      {{"name", "fc"}, {"latency_ms", 17}, {"output_bytes", 4000}}};
  const Decision d = decide(parse_request(req));
  ASSERT_EQ(d.ranked[0].kind, "split");
  EXPECT_EQ(d.ranked[0].split->after, 2);
  EXPECT_NEAR(d.ranked[0].split->remote_ms, 17, 1e-9);  // not a quarter of 20 ms
  EXPECT_NEAR(d.ranked[0].latency.total(), 600 + 17 + 40 + 25 + 3.2, 1e-9);
}

TEST(Decide, CAbiReportsBadInputNamingTheField) {
  const json doc = hand_checked();
  json req = doc["scenarios"][0]["request"];
  req["network"]["rtt_ms"] = "fast";
  auto [rc, out] = call(req.dump());
  EXPECT_EQ(rc, 2);
  EXPECT_EQ(out["schema"], "tierbench.decide.error");
  EXPECT_NE(out["error"].get<std::string>().find("/network/rtt_ms"), std::string::npos) << out;
  req = doc["scenarios"][0]["request"];
  req["request"]["delay"] = "soon";
  std::tie(rc, out) = call(req.dump());
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out["error"].get<std::string>().find("/request/delay"), std::string::npos) << out;
  std::tie(rc, out) = call("{not json");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  std::tie(rc, out) = call(std::string(100, '[') + std::string(100, ']'));
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out["error"].get<std::string>().find("nests deeper"), std::string::npos);
  std::tie(rc, out) = call(doc["scenarios"][0]["request"].dump(), "{\"schema\": \"other\"}");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out["error"].get<std::string>().find("/schema"), std::string::npos) << out;
  char* s = nullptr;
  EXPECT_EQ(tb_decide(nullptr, nullptr, &s), 2);
  tb_decide_free(s);
  EXPECT_EQ(tb_decide("{}", nullptr, nullptr), 2);
  tb_decide_free(nullptr);
  EXPECT_EQ(tb_decide_abi_version(), TB_DECIDE_ABI_VERSION);
}

// The schema and the parser refuse the same malformed requests.
TEST(Decide, SchemaAndParserAgreeOnBadRequests) {
  const json good = hand_checked()["scenarios"][0]["request"];
  std::vector<std::pair<std::string, json>> edits = {
      {"/models", json::array()}, {"/request/input_bytes", -1},
      {"/network/offline", "no"}, {"/remotes/0/kind", "fog"},
      {"/request/delay", "asap"}, {"/version", 2},
      {"/models/0/workload", 3},  {"/request/may_leave_device", nullptr}};
  for (const auto& [ptr, value] : edits) {
    json bad = good;
    bad[json::json_pointer(ptr)] = value;
    bool parser_refused = false;
    try {
      (void)parse_request(bad);
    } catch (const std::invalid_argument& e) {
      parser_refused = true;
      EXPECT_NE(std::string(e.what()).find(ptr.substr(0, ptr.find('/', 1))), std::string::npos)
          << e.what();
    }
    EXPECT_TRUE(parser_refused) << ptr;
    // An empty model list is the parser's rule only (the schema has no minItems).
    if (ptr != "/models") {
      EXPECT_FALSE(profiles::validate(bad, profiles::decide_request_schema()).empty()) << ptr;
    }
  }
}

TEST(Decide, ClassLabels) {
  EXPECT_DOUBLE_EQ(class_range("16-100 ms")->lo, 16);
  EXPECT_DOUBLE_EQ(class_range("16-100 ms")->hi, 100);
  EXPECT_DOUBLE_EQ(class_range("<16 ms")->hi, 16);
  EXPECT_TRUE(std::isinf(class_range(">=60000 ms")->hi));
  EXPECT_DOUBLE_EQ(*class_value("16-100 ms"), 40);
  EXPECT_DOUBLE_EQ(*class_value("<16 ms"), 8);
  EXPECT_DOUBLE_EQ(*class_value(">=60000 ms"), 90000);
  EXPECT_DOUBLE_EQ(*class_value("0.125-0.25 GB/s"), std::sqrt(0.125 * 0.25));
  for (const char* l : {"any", "none", "unknown", "", "100-16 ms", "fast"})
    EXPECT_FALSE(class_value(l).has_value()) << l;
}

TEST(Decide, FiguresFromAShareableProfile) {
  const json p = {{"schema", "tierbench.profile.shareable"},
                  {"version", 1},
                  {"tiers",
                   {{"a:b1:f32",
                     {{"feasibility", "runs"},
                      {"latency", "16-100 ms"},
                      {"cold_start", "<1000 ms"},
                      {"memory", "<256 MiB"}}},
                    {"a:b1:int8",
                     {{"feasibility", "does-not-fit"},
                      {"latency", "none"},
                      {"cold_start", "none"},
                      {"memory", ">=4096 MiB"}}},
                    {"a:b1:bf16",
                     {{"feasibility", "runs"},
                      {"latency", "any"},
                      {"cold_start", "any"},
                      {"memory", "any"}}}}}};
  const auto e = estimates_from_profile(p);
  ASSERT_EQ(e.size(), 3u);
  std::map<std::string, ModelEstimate> by;
  for (const auto& x : e) by[x.workload] = x;
  EXPECT_EQ(by["a:b1:f32"].source, "classes");
  EXPECT_DOUBLE_EQ(by["a:b1:f32"].latency_ms, 40);
  EXPECT_DOUBLE_EQ(by["a:b1:f32"].compile_ms, 500);
  EXPECT_EQ(by["a:b1:f32"].peak_memory_bytes, 128u * 1048576);
  EXPECT_FALSE(by["a:b1:int8"].feasible);
  EXPECT_EQ(by["a:b1:int8"].why, "does-not-fit");
  // Withheld classes: the worst plausible value, never free, and the engine says so.
  const ModelEstimate& w = by["a:b1:bf16"];
  EXPECT_TRUE(w.feasible);
  EXPECT_DOUBLE_EQ(w.latency_ms, kWithheldRunsLatencyMs);
  EXPECT_DOUBLE_EQ(w.compile_ms, kWithheldColdStartMs);
  EXPECT_TRUE(w.memory_withheld);
  ASSERT_EQ(w.assumed.size(), 3u);
  EXPECT_TRUE(by["a:b1:f32"].assumed.empty());
  EXPECT_THROW(estimates_from_profile(json{{"schema", "tierbench.profile.shareable"}}),
               std::invalid_argument);
}

// A withheld ("any") class is never free: a cold start the profile withholds is charged at the
// top class, so an uncached 5 ms model whose real load nobody knows goes to the idle edge site
// under a 1 s objective, with the assumption in the reasons; compiled, it runs here; and a
// withheld memory class never passes a stated available memory.
TEST(Decide, WithheldClassesAreTakenAtTheirWorst) {
  const json profile = {{"schema", "tierbench.profile.shareable"},
                        {"version", 1},
                        {"tiers",
                         {{"m:b1:f32",
                           {{"feasibility", "runs"},
                            {"latency", "<16 ms"},
                            {"cold_start", "any"},
                            {"memory", "any"}}}}}};
  Inputs in;
  in.local = estimates_from_profile(profile);
  in.variants = {{"m:b1:f32", 1, 1000000, true, false}};
  in.request = {1000, 100, 1000, true, true};
  in.network = {false, 10, 100, 100};
  ModelEstimate site;
  site.workload = "m:b1:f32";
  site.latency_ms = 2;
  in.remotes = {{"edge-1", "edge", 5, 0, {site}}};
  Decision d = decide(in);
  ASSERT_FALSE(d.ranked.empty());
  EXPECT_EQ(d.ranked[0].target, "edge-1");
  bool said = false;
  for (const auto& p : d.ranked)
    if (p.target == "device") {
      EXPECT_DOUBLE_EQ(p.latency.load_ms, kWithheldColdStartMs);
      for (const auto& r : p.reasons) said = said || r.find("withheld") != std::string::npos;
    }
  EXPECT_TRUE(said) << "the placement says what it assumed";
  in.variants[0].compiled = true;
  d = decide(in);
  ASSERT_FALSE(d.ranked.empty());
  EXPECT_EQ(d.ranked[0].target, "device");
  in.memory_available_bytes = 1u << 30;
  d = decide(in);
  ASSERT_FALSE(d.ranked.empty());
  EXPECT_NE(d.ranked[0].target, "device");
  ASSERT_FALSE(d.excluded.empty());
  EXPECT_NE(d.excluded[0].why.find("memory class is withheld"), std::string::npos);
}

TEST(Decide, EstimatesRoundTripThroughJson) {
  ModelEstimate e;
  e.workload = "x:b1:f32";
  e.backend = "onednn";
  e.source = "predicted";
  e.latency_ms = 3.5;
  e.read_ms = 1, e.compile_ms = 2, e.upload_ms = 0.5, e.first_inference_ms = 0.25;
  e.peak_memory_bytes = 1234, e.weight_bytes = 999;
  e.layers = {{"conv", 1.5, 4096}, {"fc", 2, 40}};
  const ModelEstimate b = estimate_from_json(to_json(e));
  EXPECT_EQ(to_json(b), to_json(e));
}

}  // namespace
}  // namespace tb::decide
