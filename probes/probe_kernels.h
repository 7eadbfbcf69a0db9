// The probes' hand-written inner loops, one file per ISA, each compiled with its own -m flags
// (see CMakeLists.txt) and only called after tb::cpu_features() says the ISA is there.
// Naming: <what>_<register width>, as in XNNPACK. Every compute loop returns a value derived
// from all of its accumulators so that the work cannot be optimised away.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tb::probe::kern {

// --- compute peaks: `iters` iterations of kChains independent accumulator chains ---
// f32 FMA: ops per iteration = chains * lanes * 2.
inline constexpr int kZmmChains = 16;  // 16 of 32 zmm registers: enough for 2 pipes x latency 4-8
inline constexpr int kYmmChains = 12;  // 12 of 16 ymm registers, the rest hold the operands
float f32_fma_zmm(std::int64_t iters, float a, float b);  // avx512f
float f32_fma_ymm(std::int64_t iters, float a, float b);  // avx2 + fma
// int8 dot products (u8 x s8 -> s32, 4 products per lane): ops = chains * lanes * 4 * 2.
int s8_dpbusd_zmm(std::int64_t iters, std::int32_t a, std::int32_t b);  // avx512_vnni
int s8_dpbusd_ymm(std::int64_t iters, std::int32_t a, std::int32_t b);  // avx_vnni (VEX)
// bf16 pair dot products into f32: ops = chains * lanes * 2 * 2. a, b: two bf16 bit patterns.
float bf16_dpbf16_zmm(std::int64_t iters, std::uint32_t a, std::uint32_t b);  // avx512_bf16

// --- clock: a dependent chain of register adds (latency 1 cycle on every x86 core) ---
inline constexpr int kAddsPerIter = 64;
std::uint64_t add_chain(std::int64_t iters);  // baseline x86-64
// The same chain with one independent FMA beside each add, so that the core runs at the clock
// it holds under wide-vector load (AVX-512 frequency licences on some Intel parts).
std::uint64_t add_chain_fma_zmm(std::int64_t iters);  // avx512f
std::uint64_t add_chain_fma_ymm(std::int64_t iters);  // avx2 + fma

// --- memory streams over n floats; pointers 64-byte aligned, n a multiple of 64 ---
// read: sum of src (4 independent accumulators), returned so the loads cannot be dropped.
float read_zmm(const float* src, std::size_t n);
void copy_zmm(float* dst, const float* src, std::size_t n);
void copy_nt_zmm(float* dst, const float* src, std::size_t n);  // non-temporal stores
void triad_zmm(float* a, const float* b, const float* c, float s, std::size_t n);  // a = b + s*c
float read_ymm(const float* src, std::size_t n);
void copy_ymm(float* dst, const float* src, std::size_t n);
void copy_nt_ymm(float* dst, const float* src, std::size_t n);
void triad_ymm(float* a, const float* b, const float* c, float s, std::size_t n);
float read_xmm(const float* src, std::size_t n);  // sse2, baseline x86-64
void copy_xmm(float* dst, const float* src, std::size_t n);
void copy_nt_xmm(float* dst, const float* src, std::size_t n);
void triad_xmm(float* a, const float* b, const float* c, float s, std::size_t n);

}  // namespace tb::probe::kern
