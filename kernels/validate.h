// Correctness: seeded inputs, tolerances per data type, and the comparison with the reference
// that every kernel passes before it is timed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "problem.h"
#include "tensor.h"

namespace tb {

// passed / failed / mistrusted come from a check; unsupported and unavailable from a backend;
// skipped when the caller chose not to run; error when the backend itself failed.
enum class Status { passed, failed, mistrusted, unsupported, unavailable, skipped, error };
std::string_view status_name(Status s);

// Fresh random inputs for a problem, the same for the same seed. Never zeros: floats are drawn
// from +-[0.25, 1] (rounded to the tensor's type); integers over the ranges the int8 tiers feed:
// u8 (activations) from [1, 255], s8 (weights) and s32 from +-[1, kInputS8Max], the tiers' 7-bit
// weights; scales (inputs named *_scale) from +[0.25, 1].
inline constexpr int kInputS8Max = 63;
std::vector<Tensor> make_inputs(const Problem& p, std::uint64_t seed);
// Output tensors of the right types and shapes, poisoned so that unwritten elements show.
std::vector<Tensor> make_outputs(const Problem& p);

// Element i passes when |got - ref| <= atol + rtol * |ref|, with atol = rtol * max|ref|
// (so that values near a cancellation are judged on the output's scale).
struct Tolerance {
  double rtol = 1e-4;
};
Tolerance tolerance_for(const Problem& p);

struct Check {
  Status status = Status::passed;
  double max_abs_err = 0;  // max |got - ref|
  double max_rel_err = 0;  // max |got - ref| / (atol + rtol * |ref|) * rtol: comparable to rtol
  double rel_l2_err = 0;   // ||got - ref|| / ||ref||
  std::int64_t mismatches = 0;
  std::string message;  // first mismatch, or why the check is mistrusted
};

// Compares outputs with reference outputs (same order, types and shapes). Mistrusted when the
// reference is nearly all zeros or constant: such a check would prove nothing.
Check check_outputs(std::span<const Tensor> got, std::span<const Tensor> ref, Tolerance tol);

}  // namespace tb
