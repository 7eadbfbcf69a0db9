// tierbench profile and tierbench privacy as a user runs them, and the leak scan of the
// shareable profile of a real probe run.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "profiles.h"
#include "store_fixture.h"

namespace tb::profiles {
namespace {

using json = nlohmann::json;
using test::run_tierbench;

json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  return json::parse(f);
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(ProfileCli, WritesLocalAndShareableAndPrintsTheShareable) {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  const auto local = f.dir.path() / "l.json", share = f.dir.path() / "s.json";
  auto r = run_tierbench("--db " + f.db + " profile --local " + local.string() + " --shareable " +
                         share.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), read_json(share));
  EXPECT_TRUE(validate_profile(read_json(local)).ok());
  EXPECT_TRUE(validate_profile(read_json(share)).ok());
  EXPECT_EQ(read_json(local)["schema"], "tierbench.profile.local");
  // Defaults: both beside the store.
  r = run_tierbench("--db " + f.db + " profile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(f.dir.path() / "profile.local.json"));
  EXPECT_TRUE(std::filesystem::exists(f.dir.path() / "profile.shareable.json"));
  // -o: the shareable profile to that file, nothing printed.
  const auto o = f.dir.path() / "o.json";
  r = run_tierbench("--db " + f.db + " profile -o " + o.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(read_json(o)["schema"], "tierbench.profile.shareable");
  // Randomised response for telemetry states its epsilon.
  r = run_tierbench("--db " + f.db + " profile --randomise 1.5 -o " + o.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json(o)["randomised_response"]["epsilon"], 1.5);
  EXPECT_NE(r.err.find("epsilon 1.5 each"), std::string::npos) << r.err;
}

TEST(ProfileCli, InconsistentCeilingIsNotEmitted) {
  test::FixtureStore f(test::fixture_probe(117.0, 112.0));
  f.add_kernel("gemm:m1024n1024k1024:f32", "f32", 216.0);
  const auto share = f.dir.path() / "s.json";
  const auto r =
      run_tierbench("--db " + f.db + " profile --no-remeasure --shareable " + share.string());
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("profile not emitted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("f32_gflops ceiling 117.0"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(share));
}

TEST(ProfileCli, ValidateNamesTheField) {
  test::FixtureStore f;
  auto r = run_tierbench("--db " + f.db + " profile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json good = json::parse(r.out);
  const auto file = f.dir.path() / "p.json";
  write(file, good.dump());
  r = run_tierbench("profile --validate " + file.string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  good["device"]["compute"] = "455.5 GFLOP/s";
  write(file, good.dump());
  r = run_tierbench("profile --validate " + file.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/device/compute"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  good["version"] = 99;
  write(file, good.dump());
  r = run_tierbench("profile --validate " + file.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/version"), std::string::npos) << r.err;
  write(file, std::string(5000, '[') + std::string(5000, ']'));
  r = run_tierbench("profile --validate " + file.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("deeper"), std::string::npos) << r.err;
  r = run_tierbench("profile --validate " + (f.dir.path() / "none.json").string());
  EXPECT_EQ(r.exit_code, 2);
}

TEST(ProfileCli, PrivacyOverFilesAndOverTheCatalogue) {
  test::FixtureStore f;
  f.add_workload("mobilenetv2:b1:f32", "f32", "passed", 0.01234);
  auto r = run_tierbench("--db " + f.db + " profile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json a = json::parse(r.out), b = a;
  b["device"]["accelerator"] = true;
  const auto pa = f.dir.path() / "a.json", pb = f.dir.path() / "b.json";
  write(pa, a.dump());
  write(pb, b.dump());
  r = run_tierbench("--json privacy " + pa.string() + " " + pa.string() + " " + pb.string() + " " +
                    pb.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json s = json::parse(r.out);
  EXPECT_DOUBLE_EQ(s["bits"].get<double>(), 1.0);
  EXPECT_EQ(s["k"], 2);
  EXPECT_EQ(s["top_fields"][0]["field"], "device.accelerator");
  // A local profile or a malformed one is an input error naming the file and field.
  b["device"]["gpu_name"] = "NVIDIA";
  write(pb, b.dump());
  r = run_tierbench("privacy " + pa.string() + " " + pb.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(pb.string() + ": shareable profile: /device/gpu_name"), std::string::npos)
      << r.err;
  r = run_tierbench("--db " + f.db + " privacy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(default)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fields contributing most"), std::string::npos) << r.out;
}

std::string number_text(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

// Every string leaf of a JSON document, and its numbers as a profile could print them.
void leaves(const json& j, std::set<std::string>& strings, std::set<std::string>& numbers) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) leaves(v, strings, numbers);
  } else if (j.is_array()) {
    for (const auto& v : j) leaves(v, strings, numbers);
  } else if (j.is_string()) {
    strings.insert(j.get<std::string>());
  } else if (j.is_number()) {
    const double v = j.get<double>();
    if (v != std::floor(v)) {
      for (int digits : {3, 4, 6}) numbers.insert(number_text(v, digits));
    } else if (std::abs(v) >= 100) {
      numbers.insert(number_text(v, 17));
    }
  }
}

// What a shareable profile may contain: its schema's keys, consts and enum labels, and the
// names of the model tiers.
void allowed_tokens(const json& schema, std::vector<std::string>& out) {
  if (schema.is_object()) {
    for (const auto& [k, v] : schema.items()) {
      out.push_back(k);
      if (k == "description") continue;
      allowed_tokens(v, out);
    }
  } else if (schema.is_array()) {
    for (const auto& v : schema) allowed_tokens(v, out);
  } else if (schema.is_string()) {
    out.push_back(schema.get<std::string>());
  } else if (schema.is_number()) {
    out.push_back(schema.dump());
  }
}

// The leak test: a real probe on this machine (CPU identity, environment, storage and
// the GPU APIs with their device names, drivers and UUIDs), its shareable profile, and every
// identifying string and exact figure the probe saw searched for in it.
TEST(ProfileCli, ShareableProfileOfARealRunLeaksNothingTheProbeSaw) {
  test::TempDir dir;
  const std::string db = (dir.path() / "r.db").string();
  auto r = run_tierbench("--db " + db + " probe --quick --sections storage,accelerators " +
                         "--storage-size 4 --storage-dir " + dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json probe;
  {
    auto s = Store::open(db);
    ASSERT_TRUE(s.ok());
    auto p = (*s)->latest_result("probe");
    ASSERT_TRUE(p.ok() && p->has_value());
    probe = (*p)->metrics;
  }
  const auto share = dir.path() / "s.json";
  r = run_tierbench("--db " + db + " profile -o " + share.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream f(share);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const json shareable = json::parse(text);

  std::vector<std::string> allowed;
  allowed_tokens(shareable_schema(), allowed);
  for (const auto& [name, _] : shareable["tiers"].items()) allowed.push_back(name);
  const auto is_allowed = [&](const std::string& s) {
    for (const auto& a : allowed)
      if (a.find(s) != std::string::npos) return true;
    return false;
  };
  std::set<std::string> strings, numbers;
  leaves(probe, strings, numbers);
  int scanned = 0;
  for (const auto& s : strings) {
    if (s.size() < 4 || is_allowed(s)) continue;
    ++scanned;
    EXPECT_EQ(text.find(s), std::string::npos) << "the probe saw '" << s << "': " << text;
  }
  for (const auto& n : numbers) {
    if (n.size() < 3 || is_allowed(n)) continue;
    ++scanned;
    EXPECT_EQ(text.find(n), std::string::npos) << "the probe measured " << n << ": " << text;
  }
  // The probe saw identifying strings (the CPU brand, the kernel, file systems...).
  EXPECT_GE(scanned, 20);
  EXPECT_TRUE(probe["cpu"].contains("brand"));
}

}  // namespace
}  // namespace tb::profiles
