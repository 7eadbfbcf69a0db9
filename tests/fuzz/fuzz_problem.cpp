// Fuzz target: problem strings (--problem, store keys, repro lines). Any input must parse to a
// clean error or to a problem whose canonical string parses back to the same problem, and whose
// sizes (elements, bytes, flops) are finite: parse() refuses what would overflow them.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "problem_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = tb::Problem::parse(text);
  if (!p) {
    if (p.error().message.empty()) std::abort();  // every refusal says why
    return 0;
  }
  const std::string canonical = p->str();
  auto again = tb::Problem::parse(canonical);
  if (!again || again->str() != canonical) std::abort();  // print and parse round-trip
  std::uint64_t total = 0;
  for (const auto& specs : {p->inputs(), p->outputs()})
    for (const auto& t : specs) {
      if (tb::spec_bytes(t) > tb::kMaxTensorBytes) std::abort();
      total += tb::spec_bytes(t);
    }
  if (!std::isfinite(p->flops()) || !std::isfinite(p->min_bytes()) || total == 0) std::abort();
  return 0;
}
