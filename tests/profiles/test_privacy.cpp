// Privacy measures on hand-made populations, the catalogue and its projection, and the decision
// agreement of classes with exact figures.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "privacy.h"
#include "store_fixture.h"

namespace tb::profiles {
namespace {

using json = nlohmann::json;

json profile(const std::string& compute, bool accel, const std::string& latency = "<16 ms") {
  return {{"schema", "tierbench.profile.shareable"},
          {"version", 1},
          {"device",
           {{"compute", compute},
            {"bandwidth", "<100 GB/s"},
            {"memory_gib", 8},
            {"storage", ">=1 GB/s"},
            {"accelerator", accel}}},
          {"tiers",
           {{"m:b1:f32",
             {{"feasibility", "runs"},
              {"latency", latency},
              {"cold_start", "<1000 ms"},
              {"memory", "<256 MiB"}}}}}};
}

TEST(Privacy, IdenticalProfilesCarryNoInformation) {
  const auto s = measure_population(std::vector<json>(4, profile("<1000 GFLOP/s", false)));
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.bits, 0);
  EXPECT_EQ(s.k, 4);
  EXPECT_EQ(s.distinct, 1);
}

TEST(Privacy, EntropyAndAnonymitySet) {
  const json a = profile("<1000 GFLOP/s", false), b = profile(">=10000 GFLOP/s", true);
  auto s = measure_population({a, a, b, b});
  EXPECT_DOUBLE_EQ(s.bits, 1.0);
  EXPECT_EQ(s.k, 2);
  s = measure_population({a, b, b, b});
  EXPECT_NEAR(s.bits, -(0.25 * std::log2(0.25) + 0.75 * std::log2(0.75)), 1e-12);
  EXPECT_EQ(s.k, 1);
  // Four distinct profiles of eight devices, two each: 2 bits, k = 2.
  const json c = profile("<1000 GFLOP/s", true), d = profile(">=10000 GFLOP/s", false);
  s = measure_population({a, a, b, b, c, c, d, d});
  EXPECT_DOUBLE_EQ(s.bits, 2.0);
  EXPECT_EQ(s.k, 2);
  EXPECT_EQ(s.distinct, 4);
}

TEST(Privacy, FieldContributions) {
  // compute and accelerator vary together; latency varies on its own.
  const json a = profile("<1000 GFLOP/s", false, "<16 ms"),
             b = profile(">=10000 GFLOP/s", true, "<16 ms"),
             c = profile("<1000 GFLOP/s", false, "16-100 ms"),
             d = profile(">=10000 GFLOP/s", true, "16-100 ms");
  const auto s = measure_population({a, b, c, d});
  EXPECT_DOUBLE_EQ(s.bits, 2.0);
  std::map<std::string, FieldShare> by;
  for (const auto& f : s.fields) by[f.field] = f;
  EXPECT_DOUBLE_EQ(by["device.compute"].entropy_bits, 1.0);
  EXPECT_DOUBLE_EQ(by["device.compute"].removal_bits, 0.0) << "accelerator says the same";
  EXPECT_DOUBLE_EQ(by["tiers.m:b1:f32.latency"].removal_bits, 1.0);
  EXPECT_DOUBLE_EQ(by["device.memory_gib"].entropy_bits, 0.0);
  EXPECT_EQ(s.fields.front().field, "tiers.m:b1:f32.latency") << "sorted by removal bits";
  // The schema marker and a randomised-response marker are not fields.
  for (const auto& f : s.fields) EXPECT_EQ(f.field.find("schema"), std::string::npos);
}

TEST(Privacy, CatalogueHasSixtyRealDevicesWithSources) {
  const auto& cat = builtin_catalogue();
  EXPECT_GE(cat.size(), 60u);
  std::set<std::string> names, categories;
  for (const auto& d : cat) {
    EXPECT_TRUE(names.insert(d.name).second) << "duplicate " << d.name;
    categories.insert(d.category);
    EXPECT_GE(d.source.size(), 10u) << d.name;
    EXPECT_GT(d.f32_gflops, 0) << d.name;
    EXPECT_GT(d.bandwidth_gbps, 0) << d.name;
  }
  for (const char* c : {"phone", "laptop", "desktop", "edge", "server", "gpu"})
    EXPECT_TRUE(categories.count(c)) << c;
}

TEST(Privacy, CatalogueErrorsNameTheField) {
  auto r = parse_catalogue(R"({"devices": [{"name": "x", "category": "phone"}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/devices/0/source"), std::string::npos) << r.error().message;
  r = parse_catalogue(R"({"devices": [{"name": "x", "category": "phone", "source": "s",
      "f32_gflops": -1, "bandwidth_gbps": 1, "memory_gib": 1, "storage_gbps": 1,
      "accelerator": false}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/devices/0/f32_gflops"), std::string::npos);
  EXPECT_FALSE(parse_catalogue("[").ok());
}

TEST(Privacy, ProjectionFollowsTheRoofline) {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_workload("llm-1b:decode:kv1024:f32", "f32", "skipped", 0, "onednn", "does not fit: x");
  const auto p = build_profiles(*f.store).value();
  CatalogueDevice slow{"slow", "edge", "s", 24, 24, 96, 12.8, 4, 0.09, false};
  CatalogueDevice fast{"fast", "gpu", "s", 82600, 330300, 660600, 1008, 24, 7, true};
  CatalogueDevice tiny{"tiny", "edge", "s", 16, 16, 64, 3.2, 0.05, 0.05, false};
  const auto ps = project(p.local, slow), pf = project(p.local, fast), pt = project(p.local, tiny);
  ASSERT_EQ(ps.tiers.size(), 2u);
  const auto& m_slow = ps.tiers[1];
  const auto& m_fast = pf.tiers[1];
  ASSERT_EQ(m_slow.workload, "mobilenetv2:b1:f32");
  EXPECT_GT(m_slow.latency_ms, 10 * m_fast.latency_ms);
  EXPECT_GT(m_slow.cold_start_ms, m_fast.cold_start_ms);
  EXPECT_EQ(pt.tiers[1].feasibility, "does-not-fit") << "41 MB > half of 54 MB";
  // The local device's own figures project back onto themselves.
  const auto& eff_entry = p.local["tiers"][1];
  ASSERT_EQ(eff_entry["workload"], "mobilenetv2:b1:f32");
  CatalogueDevice self{"self", "server", "s", 455.5, 921.7, 1843.9, 34.02, 23.5, 5.32, false};
  EXPECT_NEAR(project(p.local, self).tiers[1].latency_ms, 12.34, 1e-6);
}

TEST(Privacy, DecisionAgreementOfClassesWithExactFigures) {
  Projection p;
  TierFigures t;
  t.workload = "m:b1:f32";
  t.feasibility = "runs";
  t.latency_ms = 40;  // in the 16-100 ms DAOP class
  p.tiers = {t};
  const auto& daop = buckets().granularity("daop");
  const auto& fine = buckets().granularity("fine");
  // Budgets 16, 33, 50, 100, ...: exact says yes from 50 ms; the 16-100 class from 100 ms, so
  // the 50 ms decision differs: 13 of 14 agree.
  EXPECT_NEAR(decision_agreement({p}, daop), 13.0 / 14, 1e-12);
  EXPECT_DOUBLE_EQ(decision_agreement({p}, fine), 1.0) << "33-50 ms class";
  p.tiers[0].feasibility = "does-not-fit";
  p.tiers[0].latency_ms = -1;
  EXPECT_DOUBLE_EQ(decision_agreement({p}, daop), 1.0);
}

TEST(Privacy, KAnonymiseGeneralisesUntilKShare) {
  // Six alike, four alike but for bandwidth, two outliers.
  const auto member = [](double gflops, double gbps, bool accel, double lat) {
    Projection p;
    p.device = {gflops, gbps, 8, 2, accel};
    TierFigures t;
    t.workload = "m:b1:f32";
    t.feasibility = "runs";
    t.latency_ms = lat;
    t.cold_start_ms = 500;
    t.memory_mib = 40;
    p.tiers = {t};
    return p;
  };
  std::vector<Projection> pop;
  for (int i = 0; i < 6; ++i) pop.push_back(member(500, 50, false, 40));
  for (int i = 0; i < 4; ++i) pop.push_back(member(500, 500 + i, false, 40));
  pop.push_back(member(90000, 3000, true, 1));
  pop.push_back(member(20, 3, false, 90000));
  const auto out = k_anonymise(pop, "daop", 5);
  std::map<std::string, int> groups;
  for (const auto& s : out) {
    EXPECT_TRUE(validate_profile(s).ok()) << validate_profile(s).error().message;
    ++groups[s.dump()];
  }
  for (const auto& [s, n] : groups) EXPECT_GE(n, 5) << s;
  EXPECT_EQ(out[0]["granularity"], "daop") << "six share the daop profile";
  EXPECT_EQ(out[0]["device"]["bandwidth"], "<100 GB/s");
  EXPECT_NE(out[6]["granularity"], "daop");
  EXPECT_EQ(out[11]["device"]["accelerator"], out[10]["device"]["accelerator"]);
  // k <= 1: the start granularity as is.
  const auto plain = k_anonymise(pop, "daop", 1);
  EXPECT_EQ(plain[10]["device"]["compute"], ">=10000 GFLOP/s");
  const double a_plain = decision_agreement(pop, plain), a_k = decision_agreement(pop, out);
  EXPECT_LE(a_k, a_plain) << "generalising costs agreement, never gains it";
}

TEST(Privacy, LabelsSayTheirUpperEdge) {
  EXPECT_DOUBLE_EQ(label_upper("<16 ms"), 16);
  EXPECT_DOUBLE_EQ(label_upper("16-100 ms"), 100);
  EXPECT_DOUBLE_EQ(label_upper("0.125-0.25 GB/s"), 0.25);
  EXPECT_TRUE(std::isinf(label_upper(">=60000 ms")));
  EXPECT_TRUE(std::isinf(label_upper("any")));
  EXPECT_TRUE(std::isinf(label_upper("none")));
}

TEST(Privacy, TradeOffCoversEveryGranularity) {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  const auto p = build_profiles(*f.store).value();
  const auto curve = catalogue_tradeoff(p.local, builtin_catalogue());
  ASSERT_EQ(curve.size(), 2 * buckets().ladder.size()) << "each step plain and k-anonymised";
  int defaults = 0;
  for (std::size_t i = 0; i < curve.size(); ++i) {
    defaults += curve[i].is_default;
    EXPECT_EQ(curve[i].stats.n, static_cast<int>(builtin_catalogue().size()));
    if (i > 0) {
      EXPECT_LE(curve[i].stats.bits, curve[i - 1].stats.bits) << "finest first";
    }
    EXPECT_GE(curve[i].agreement, 0.5);
    if (curve[i].is_default) {
      EXPECT_GE(curve[i].stats.k, buckets().k_anonymity);
    }
  }
  EXPECT_EQ(defaults, 1);
}

}  // namespace
}  // namespace tb::profiles
