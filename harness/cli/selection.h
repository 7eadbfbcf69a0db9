// What `run` and `tune` work on: --problem strings, square GEMMs from --size, --suite (kernel
// problems and/or model tiers of that name), --workload (a tier in every dtype, or
// tier:variant:dtype), filtered by --dtype; the quick suite when nothing else was asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "models.h"
#include "result.h"
#include "workloads.h"

namespace tb::cli {

struct SelectionArgs {
  std::vector<std::string> problems;
  std::vector<std::int64_t> sizes;
  std::string suite;
  std::vector<std::string> workloads;
  std::vector<std::string> dtypes;
  bool other_work = false;  // something else was selected (run --model): no default suite
};

struct Selection {
  std::vector<Problem> problems;
  std::vector<workloads::WorkloadName> workloads;
};

// The error names the flag and the bad value ("--suite: unknown suite 'x' (valid: ...)").
Result<Selection> select_work(const SelectionArgs& a);

std::string join(const std::vector<std::string>& v, const char* sep = ", ");

}  // namespace tb::cli
