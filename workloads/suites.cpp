#include "workloads.h"

namespace tb::workloads {

const std::vector<Suite>& suites() {
  static const std::vector<Suite> v = {
      {"quick",
       "f32 GEMM at 256^3 and 1024^3: the main job's default, minutes on a 2-core machine",
       {"gemm:m256n256k256:f32", "gemm:m1024n1024k1024:f32"}},
      {"gemm-shapes",
       "f32 GEMM shapes of the model tiers: square, BERT-base projections and FFN, LLM decode",
       {"gemm:m256n256k256:f32", "gemm:m1024n1024k1024:f32", "gemm:m2048n2048k2048:f32",
        "gemm:m128n768k768:f32", "gemm:m128n3072k768:f32", "gemm:m128n768k3072:f32",
        "gemm:m1n2048k2048:f32", "gemm:m1n8192k2048:f32"}},
  };
  return v;
}

const Suite* find_suite(std::string_view name) {
  for (const auto& s : suites())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<Problem> suite_problems(const Suite& s) {
  std::vector<Problem> v;
  for (const auto& str : s.problems)
    if (auto p = Problem::parse(str)) v.push_back(p.value());
  return v;
}

}  // namespace tb::workloads
