// The oneDNN backend: CPU primitives used the way benchdnn uses them (blocked weight layouts
// where oneDNN prefers them, reordered once at upload; fused post-ops; primitive cache on),
// plus hand-written CPU kernels where oneDNN 2.6 has no primitive (RMS norm, RoPE, embedding)
// or where fusing beats composing (attention, see onednn_attention.cpp).
//
// Ops: every OpDesc in problem.h. Types: f32; bf16 and u8 x s8 -> s32 for gemm/conv (-> f32
// with the +scales epilogue, as fused binary post-ops: see epilogue_post_ops); bf16 for
// attention (composed path) and for pooling, softmax, layer norm, add/mul, embedding; f16 only
// where oneDNN has an implementation on the CPU (AVX512-FP16). Anything else is unsupported.
//
// Threads: PrepareOptions::threads via omp_set_num_threads (0 = all), at prepare (oneDNN picks
// blockings then) and at every execute. details(): primitive_create_s, primitive_cache_hit
// (inferred, see CacheLedger), primitive_cache_capacity, reorder_s (upload's weight reorders),
// primitives, threads, and per-op figures (attention_fused).
//
// Environment: TB_ONEDNN_ATTENTION=auto|fused|composed picks the attention path;
// TB_ATTENTION_ISA=avx512|avx2|scalar caps the fused kernel's ISA.
#pragma once

#include <memory>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_onednn_backend();
const BackendTraits& onednn_backend_traits();

}  // namespace tb
