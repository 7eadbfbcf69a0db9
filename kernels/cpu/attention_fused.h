// Hand-written fused attention for the CPU (flash-attention style): per block of 32 query rows
// (of the query heads that share one kv head, so GQA / MQA read K and V once per group),
// keys are visited in tiles of 64 with an online softmax (running max and sum), so the scores
// never leave a 32 x 64 tile and extra memory is O(sequence): a K^T copy per kv head (when the
// query rows per kv head make the transpose pay) and O(block) per thread. When there are too few
// row blocks for the threads (decode: one query per head), each block's keys are split into
// ranges run in parallel whose partial (max, sum, acc) are combined (flash-decoding): O(ranges x
// block x d) more.
//
// One algorithm (attention_fused_impl.h), instantiated per ISA in its own file compiled with its
// own -m flags: attention_fused_avx512.cpp, attention_fused_avx2.cpp, attention_fused_scalar.cpp,
// and attention_fused_avx512bf16.cpp (bf16 inputs, d % 32 == 0: bf16 dot products for both
// products where the K^T path runs). The ISA is chosen at run time from tb::cpu_features();
// TB_ATTENTION_ISA=avx512bf16|avx512|avx2|scalar caps it (tests use this to cover every path on
// one machine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tb::cpu::fused {

struct Shape {
  std::int64_t b = 1, h = 1, kv = 1, q = 1, s = 1, d = 1;
  bool causal = false;
  bool bf16 = false;  // Q, K, V bf16 (widened to f32 on load); O is f32 either way
};

// The ISA run() will use for this shape: "avx512bf16" (bf16 only), "avx512", "avx2" or "scalar"
// (the vector paths need d to be a multiple of their width, avx512bf16 of twice that).
std::string isa_for(const Shape& sh);
// Whether the kernel takes this shape at all (d <= 512: the per-thread accumulators live on the
// stack).
bool supports(const Shape& sh);
// Bytes of workspace run() needs (the K^T copies; 0 when it works from K directly).
std::size_t workspace_bytes(const Shape& sh);
// Q [b][h][q][d], K and V [b][kv][s][d] (f32, or bf16 when sh.bf16), O [b][h][q][d] f32; ws as
// workspace_bytes() says. False when scratch memory could not be allocated.
bool run(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws);

// How many key ranges run() splits each task's keys into (1 = none): flash-decoding, for shapes
// with too few row blocks (decode: one query row per head) to keep every thread busy.
std::int64_t key_chunks(const Shape& sh);

// Per-ISA entry points (internal); chunks as key_chunks() says.
bool run_avx512bf16(const Shape& sh, const void* Q, const void* K, const void* V, float* O,
                    float* ws, std::int64_t chunks);
bool run_avx512(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
                std::int64_t chunks);
bool run_avx2(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
              std::int64_t chunks);
bool run_scalar(const Shape& sh, const void* Q, const void* K, const void* V, float* O, float* ws,
                std::int64_t chunks);

// Shared by the ISA files: the key tile, the padded K^T row length, and whether to transpose.
inline constexpr std::int64_t kKeyTile = 64, kRowBlock = 32;
inline std::int64_t padded_keys(const Shape& sh) {
  return (sh.s + kKeyTile - 1) / kKeyTile * kKeyTile;
}
inline bool use_transpose(const Shape& sh) {
  return sh.q * (sh.h / sh.kv) >= 8;
}

}  // namespace tb::cpu::fused
