#version 450
// f32 GEMM for CPU-like devices (lavapipe): no shared memory, no barriers. Each invocation
// computes a TM x TN block of C from packed A (m x K4 vec4) and transposed B (n x K4 vec4), so a
// k-step of 4 costs TM + TN loads for 4*TM*TN FMAs. Rows past M / columns past N are clamped on
// load (always in bounds) and skipped on store.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "gemm_common.glsl"

layout(std430, binding = 0) readonly buffer BufA { vec4 a[]; };
layout(std430, binding = 1) readonly buffer BufB { vec4 b[]; };

void main() {
  const uint col0 = gl_GlobalInvocationID.x * TN, row0 = gl_GlobalInvocationID.y * TM;
  const uint bz = gl_GlobalInvocationID.z;
  if (row0 >= pc.M || col0 >= pc.N) return;
  uint ia[TM], ib[TN];
  [[unroll]] for (int i = 0; i < TM; ++i) ia[i] = bz * pc.sa + min(row0 + i, pc.M - 1) * pc.a_r;
  [[unroll]] for (int j = 0; j < TN; ++j) ib[j] = bz * pc.sb + min(col0 + j, pc.N - 1) * pc.b_r;
  float acc[TM * TN];  // scalar sums: a quarter of the registers of vec4 ones
  [[unroll]] for (int i = 0; i < TM * TN; ++i) acc[i] = 0.0;
  for (uint p = 0; p < pc.K; ++p) {
    vec4 av[TM];
    [[unroll]] for (int i = 0; i < TM; ++i) av[i] = a[ia[i] + p];
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const vec4 bv = b[ib[j] + p];
      [[unroll]] for (int i = 0; i < TM; ++i) acc[i * TN + j] = fma(av[i].x, bv.x, fma(av[i].y, bv.y, fma(av[i].z, bv.z, fma(av[i].w, bv.w, acc[i * TN + j]))));
    }
  }
  [[unroll]] for (int i = 0; i < TM; ++i) {
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const uint row = row0 + i, col = col0 + j;
      if (row < pc.M && col < pc.N) c[bz * pc.sc + row * pc.N + col] = acc[i * TN + j];
    }
  }
  tb_epilogue_block(row0, col0, TM, TN, bz);
}
