// Shared helpers for the per-op suites: every available backend x device, and a run of one
// problem on one backend checked against the reference.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "kernels.h"

namespace tb::test {

// Names of all registered backends (available or not): suites are instantiated over these and
// skip at run time when one is unavailable, so a missing driver shows as SKIPPED, not absent.
std::vector<std::string> backend_names();
Backend* backend(const std::string& name);  // owned by the fixture's process-wide registry

struct Outcome {
  Status status = Status::error;
  std::string message;
  Check check;
};

// prepare -> upload -> execute -> download on `name`, then compare with the reference backend.
Outcome run_and_check(const std::string& name, const Problem& p, std::uint64_t seed = 42);

// The body every per-op suite shares: skip when the backend lacks the op or is unavailable,
// otherwise expect the output to match the reference.
void expect_matches_reference(const std::string& backend, const std::string& problem);

// "onednn_gemm_m17n31k13_f32": backend and problem with every non-alphanumeric mapped to '_'.
std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info);

}  // namespace tb::test

// One parameterised suite per op family: every registered backend x `shapes` (problem strings).
#define TB_BACKEND_SUITE(Suite, shapes)                                                         \
  class Suite : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};       \
  TEST_P(Suite, MatchesReference) {                                                             \
    ::tb::test::expect_matches_reference(std::get<0>(GetParam()), std::get<1>(GetParam()));     \
  }                                                                                             \
  INSTANTIATE_TEST_SUITE_P(AllBackends, Suite,                                                  \
                           ::testing::Combine(::testing::ValuesIn(::tb::test::backend_names()), \
                                              ::testing::ValuesIn(shapes)),                     \
                           ::tb::test::param_name)
