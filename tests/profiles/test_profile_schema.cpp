// The published schemas: round trips, the enums in step with data/buckets.json, and malformed
// or hostile profiles rejected naming the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "profiles.h"
#include "store_fixture.h"

namespace tb::profiles {
namespace {

using json = nlohmann::json;

Profiles fixture_profiles() {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_workload("llm-1b:decode:kv1024:f32", "f32", "skipped", 0, "onednn", "does not fit: x");
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  return build_profiles(*f.store).value();
}

// The first error of validating j, "" when valid.
std::string error_of(const json& j) {
  const auto v = validate_profile(j);
  return v.ok() ? "" : v.error().message;
}

TEST(ProfileSchema, RoundTrips) {
  const Profiles p = fixture_profiles();
  for (const json* j : {&p.shareable, &p.local}) {
    const std::string text = j->dump(2);
    auto back = parse_limited(text);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, *j);
    EXPECT_EQ(error_of(*back), "");
  }
}

TEST(ProfileSchema, EnumsAreTheLabelsOfEveryGranularityOfTheLadder) {
  const Buckets& b = buckets();
  const json& s = shareable_schema();
  // The labels of one scale over the ladder, in order, without repeats, then the extras.
  // Tier classes also take the ranges of consecutive default classes a withheld profile uses.
  const auto labels = [&](Scale Granularity::*scale, std::vector<std::string> extra,
                          bool spans = false) {
    std::vector<std::string> out;
    for (const auto& name : b.ladder)
      for (const auto& l : (b.granularity(name).*scale).labels())
        if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
    if (spans)
      extra = [&] {
        auto e = extra;
        for (const auto& l : (b.by_default().*scale).span_labels()) e.push_back(l);
        return e;
      }();
    for (const auto& e : extra)
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return json(out);
  };
  const json& dev = s["properties"]["device"]["properties"];
  EXPECT_EQ(dev["compute"]["enum"], labels(&Granularity::compute_gflops, {kUnknown, kAny}));
  EXPECT_EQ(dev["bandwidth"]["enum"], labels(&Granularity::bandwidth_gbps, {kUnknown, kAny}));
  EXPECT_EQ(dev["storage"]["enum"], labels(&Granularity::storage_gbps, {kUnknown, kAny}));
  std::set<double> mem;
  for (const auto& name : b.ladder)
    for (double v : b.granularity(name).memory_gib.values) mem.insert(v);
  json mem_enum = json::array();
  for (double v : mem)
    mem_enum.push_back(v == std::floor(v) ? json(static_cast<std::int64_t>(v)) : json(v));
  mem_enum.push_back(kUnknown);
  mem_enum.push_back(kAny);
  EXPECT_EQ(dev["memory_gib"]["enum"], mem_enum);
  const json& tier = s["$defs"]["tier"]["properties"];
  EXPECT_EQ(tier["latency"]["enum"], labels(&Granularity::latency_ms, {kNone, kAny}, true));
  EXPECT_EQ(tier["cold_start"]["enum"], labels(&Granularity::cold_start_ms, {kNone, kAny}, true));
  EXPECT_EQ(tier["memory"]["enum"], labels(&Granularity::model_memory_mib, {kNone, kAny}, true));
  json levels = b.ladder;
  levels.push_back("withheld");
  EXPECT_EQ(s["properties"]["granularity"]["enum"], levels);
  // The default latency classes are the seven DAOP estimateQoS tiers, and every latency edge
  // set of the ladder is a subset or a superset of them.
  const std::vector<double> daop = {16, 100, 1000, 10000, 30000, 60000};
  EXPECT_EQ(b.by_default().latency_ms.edges, daop);
  for (const auto& name : b.ladder) {
    const auto& e = b.granularity(name).latency_ms.edges;
    const bool sub = std::includes(daop.begin(), daop.end(), e.begin(), e.end());
    const bool super = std::includes(e.begin(), e.end(), daop.begin(), daop.end());
    EXPECT_TRUE(sub || super) << name;
  }
}

TEST(ProfileSchema, MalformedProfilesAreRejectedNamingTheField) {
  const Profiles p = fixture_profiles();
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"unknown version", [](json& j) { j["version"] = 2; }, "/version"},
      {"version as a string", [](json& j) { j["version"] = "1"; }, "/version"},
      {"unknown schema", [](json& j) { j["schema"] = "tierbench.profile/1"; }, "/schema"},
      {"missing field", [](json& j) { j["device"].erase("memory_gib"); }, "/device/memory_gib"},
      {"missing section", [](json& j) { j.erase("tiers"); }, "/tiers"},
      {"out of enum", [](json& j) { j["device"]["compute"] = "100-200 GFLOP/s"; },
       "/device/compute"},
      {"raw number", [](json& j) { j["device"]["memory_gib"] = 23.54; }, "/device/memory_gib"},
      {"wrong type", [](json& j) { j["device"]["accelerator"] = "yes"; }, "/device/accelerator"},
      {"wrong type of section", [](json& j) { j["tiers"] = json::array(); }, "/tiers"},
      {"unknown top-level field", [](json& j) { j["cpu_brand"] = "Secret CPU"; }, "/cpu_brand"},
      {"unknown device field", [](json& j) { j["device"]["uuid"] = "6d65"; }, "/device/uuid"},
      {"unknown tier field", [](json& j) { j["tiers"]["mobilenetv2:b1:f32"]["p50_ms"] = 12.3; },
       "/tiers/mobilenetv2:b1:f32/p50_ms"},
      {"tier name that is not a tier",
       [](json& j) { j["tiers"]["Secret CPU 9000"] = j["tiers"]["mobilenetv2:b1:f32"]; },
       "/tiers/Secret CPU 9000"},
      {"huge tier name",
       [](json& j) {
         j["tiers"][std::string(100000, 'a') + ":b:c"] = j["tiers"]["mobilenetv2:b1:f32"];
       },
       "/tiers/aaaa"},
      {"too many tiers",
       [](json& j) {
         for (int i = 0; i < 40; ++i)
           j["tiers"]["t" + std::to_string(i) + ":v:f32"] = j["tiers"]["mobilenetv2:b1:f32"];
       },
       "/tiers"},
      {"bad feasibility", [](json& j) { j["tiers"]["mobilenetv2:b1:f32"]["feasibility"] = 1; },
       "/tiers/mobilenetv2:b1:f32/feasibility"},
      {"epsilon out of range",
       [](json& j) {
         j["randomised_response"] = {{"epsilon", 1e9}};
       },
       "/randomised_response/epsilon"},
      {"not an object",
       [](json& j) {
         j = json::array({1, 2});
       },
       "/"},
  };
  for (const auto& c : cases) {
    json j = p.shareable;
    c.edit(j);
    const std::string e = error_of(j);
    EXPECT_NE(e, "") << c.what;
    EXPECT_NE(e.find(c.field), std::string::npos) << c.what << ": " << e;
    EXPECT_LT(e.size(), 400u) << c.what << ": a hostile value must not make a huge message";
  }
}

TEST(ProfileSchema, MalformedLocalProfilesAreRejected) {
  const Profiles p = fixture_profiles();
  json j = p.local;
  j["tiers"] = json::array();
  for (int i = 0; i < 600; ++i) j["tiers"].push_back(p.local["tiers"][0]);
  EXPECT_NE(error_of(j).find("/tiers: 600 items"), std::string::npos) << error_of(j);
  j = p.local;
  j["provenance"].erase("probe_run_id");
  EXPECT_NE(error_of(j).find("/provenance/probe_run_id: missing"), std::string::npos);
  j = p.local;
  j["tiers"][0]["feasibility"] = "maybe";
  EXPECT_NE(error_of(j).find("/tiers/0/feasibility"), std::string::npos);
  j = p.local;
  j["version"] = 7;
  EXPECT_NE(error_of(j).find("/version"), std::string::npos);
}

TEST(ProfileSchema, HostileInputIsRefusedBeforeParsing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = parse_limited(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deeper than 16"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_TRUE(parse_limited(R"({"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"["})").ok());
  const std::string big = "[" + std::string(2 << 20, ' ') + "]";
  r = parse_limited(big);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bytes"), std::string::npos);
  EXPECT_FALSE(parse_limited("{\"schema\": ").ok());
  EXPECT_FALSE(parse_limited("").ok());
  // A huge array inside the size limit is rejected by maxItems / maxProperties, not walked.
  json j = fixture_profiles().local;
  j["provenance"]["kernel_run_ids"] = json::array();
  for (int i = 0; i < 100000; ++i) j["provenance"]["kernel_run_ids"].push_back(i);
  EXPECT_NE(error_of(j).find("/provenance/kernel_run_ids: 100000 items"), std::string::npos);
}

TEST(ProfileSchema, ValidatorRefusesKeywordsItDoesNotImplement) {
  const json schema = {{"type", "object"}, {"oneOf", json::array()}};
  EXPECT_THROW(validate(json::object(), schema), std::invalid_argument);
  const json ok = {{"type", "object"},
                   {"required", {"a"}},
                   {"additionalProperties", false},
                   {"properties", {{"a", {{"type", "integer"}, {"maximum", 3}}}}}};
  EXPECT_TRUE(validate(json{{"a", 3}}, ok).empty());
  EXPECT_EQ(validate(json{{"a", 4}}, ok).size(), 1u);
  EXPECT_EQ(validate(json{{"a", 1.5}}, ok).size(), 1u);
  EXPECT_EQ(validate(json{{"a", 1}, {"b", 2}}, ok), std::vector<std::string>{"/b: unknown field"});
}

}  // namespace
}  // namespace tb::profiles
