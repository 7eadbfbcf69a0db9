// Fused attention: run-time ISA dispatch (kernel code lives in the per-ISA files).
#include "attention_fused.h"

#include <omp.h>
#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "../../probes/cpu_features.h"

namespace tb::cpu::fused {

namespace {
int rank(std::string_view isa) {
  return isa == "avx512bf16" ? 3 : isa == "avx512" ? 2 : isa == "avx2" ? 1 : 0;
}
}  // namespace

std::string isa_for(const Shape& sh) {
  const auto& f = cpu_features();
  int best = f.avx512f ? (f.avx512_bf16 ? 3 : 2) : (f.avx2 && f.fma) ? 1 : 0;
  if (const char* cap = std::getenv("TB_ATTENTION_ISA"); cap && *cap)
    best = std::min(best, rank(cap));
  if (best == 3 && sh.bf16 && sh.d % 32 == 0) return "avx512bf16";
  if (best >= 2 && sh.d % 16 == 0) return "avx512";
  if (best >= 1 && sh.d % 8 == 0) return "avx2";
  return "scalar";
}

bool supports(const Shape& sh) {
  return sh.d <= 512 && sh.h % sh.kv == 0 && (!sh.causal || sh.q <= sh.s);
}

std::size_t workspace_bytes(const Shape& sh) {
  if (!use_transpose(sh)) return 0;
  return static_cast<std::size_t>(sh.b * sh.kv * sh.d * padded_keys(sh)) * sizeof(float);
}

std::int64_t key_chunks(const Shape& sh) {
  const std::int64_t tasks = sh.b * sh.kv * ((sh.h / sh.kv * sh.q + kRowBlock - 1) / kRowBlock);
  // Enough pieces for dynamic scheduling to even out over the threads; a chunk is at least one
  // key tile, and its partial (RB x d) is small next to the tile's K and V.
  const std::int64_t want = 4 * static_cast<std::int64_t>(omp_get_max_threads());
  if (tasks >= want) return 1;
  return std::min((want + tasks - 1) / tasks, (sh.s + kKeyTile - 1) / kKeyTile);
}

bool run(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws) {
  if (!use_transpose(sh)) ws = nullptr;
  const std::string isa = isa_for(sh);
  const std::int64_t chunks = key_chunks(sh);
  if (isa == "avx512bf16") return run_avx512bf16(sh, Q, K, V, O, ws, chunks);
  if (isa == "avx512") return run_avx512(sh, Q, K, V, O, ws, chunks);
  if (isa == "avx2") return run_avx2(sh, Q, K, V, O, ws, chunks);
  return run_scalar(sh, Q, K, V, O, ws, chunks);
}

}  // namespace tb::cpu::fused
