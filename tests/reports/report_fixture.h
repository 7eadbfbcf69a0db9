// A results store holding real measurements from a small run on this project's CI machine
// (2-vCPU VM): `tierbench probe --quick`, then the same kernels (GEMM f32/bf16/s8, a conv, an
// attention) and model tiers (person-detect f32 and int8) on oneDNN, Vulkan (lavapipe) and OpenCL
// (PoCL), twice (--repetitions 2), the second time with TB_TEST_SLOWDOWN=
// 'gemm:m64n1024k512:f32@onednn=0.3' so that the comparison has a known regression. Exported with
// `tierbench export` to data/*.results.json; imported here into a fresh store, with the
// predictor's calibration (data/calibration.json).
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "cli_helpers.h"
#include "results_io.h"
#include "store.h"

namespace tb::test {

// TB_REPORT_DATA: tests/reports/data, set by tests/reports/CMakeLists.txt.
inline std::string report_data(const std::string& name) {
  return std::string(TB_REPORT_DATA) + "/" + name;
}

// Compares `text` with the golden file data/golden/<name> byte for byte (or writes it, with
// TB_UPDATE_GOLDEN=1, for review), naming the first differing byte.
inline void expect_golden(const std::string& name, const std::string& text) {
  const std::string path = report_data("golden/" + name);
  if (const char* u = std::getenv("TB_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  std::ifstream f(path, std::ios::binary);
  ASSERT_TRUE(f) << "missing golden file " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string want = ss.str();
  if (text == want) return;
  std::size_t at = 0;
  while (at < text.size() && at < want.size() && text[at] == want[at]) ++at;
  ADD_FAILURE() << name << " differs from its golden file at byte " << at
                << ":\n  got:  " << text.substr(at > 40 ? at - 40 : 0, 120)
                << "\n  want: " << want.substr(at > 40 ? at - 40 : 0, 120);
}

struct ReportStore {
  TempDir dir;
  std::string db = (dir.path() / "results.db").string();
  std::unique_ptr<Store> store;
  std::int64_t probe_run = 0, base_run = 0, current_run = 0;

  // Throws when a fixture file cannot be imported, so that a broken fixture fails the tests
  // instead of leaving them skipped.
  ReportStore() {
    store = std::move(Store::open(db).value());
    probe_run = import("probe.results.json");
    base_run = import("base.results.json");
    current_run = import("current.results.json");
    // The predictor's calibration of this machine (`tierbench calibrate --quick --backend onednn
    // --dtype f32 --dtype int8` after the runs above), as the store keeps it.
    std::ifstream f(report_data("calibration.json"));
    const auto cal = nlohmann::json::parse(f, nullptr, false);
    if (!cal.is_object()) throw std::runtime_error("calibration.json: not JSON");
    const std::string label = cal.at("label");
    if (!store->put("calibration", label, cal.dump()) ||
        !store->put("calibration", "latest", label))
      throw std::runtime_error("cannot store the calibration");
  }

  std::int64_t import(const std::string& file) {
    auto doc = io::read_results_file(report_data(file));
    if (!doc) throw std::runtime_error(doc.error().message);
    auto id = io::import_run(*store, doc.value());
    if (!id) throw std::runtime_error(id.error().message);
    return id.value();
  }
};

}  // namespace tb::test
