#version 450
// GEMM for CPU-like devices (lavapipe): no shared memory, no barriers. Each invocation computes a
// TM x TN block of C from packed A (m x K) and transposed B (n x K) rows of LOAD_T
// (gemm_common.glsl: f32, f16, or u8 x s8 -> s32 by the DT define), so a k step costs TM + TN
// loads for TM * TN multiply-adds of a whole loaded element. Rows past M / columns past N are
// clamped on load (always in bounds) and skipped on store.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "gemm_common.glsl"

layout(std430, binding = 0) readonly buffer BufA { LOAD_T a[]; };
layout(std430, binding = 1) readonly buffer BufB { LOAD_T b[]; };

void main() {
  const uint col0 = gl_GlobalInvocationID.x * TN, row0 = gl_GlobalInvocationID.y * TM;
  const uint bz = gl_GlobalInvocationID.z;
  if (row0 >= pc.M || col0 >= pc.N) return;
  uint ia[TM], ib[TN];
  [[unroll]] for (int i = 0; i < TM; ++i) ia[i] = bz * pc.sa + min(row0 + i, pc.M - 1) * pc.a_r;
  [[unroll]] for (int j = 0; j < TN; ++j) ib[j] = bz * pc.sb + min(col0 + j, pc.N - 1) * pc.b_r;
  ACC_T acc[TM * TN];  // scalar sums: a quarter of the registers of vec4 ones
  [[unroll]] for (int i = 0; i < TM * TN; ++i) acc[i] = ACC_T(0);
  for (uint p = 0; p < pc.K; ++p) {
    OP_T av[TM * OP_N];
    [[unroll]] for (int i = 0; i < TM; ++i) {
      const RAW_T w = tb_raw(a[ia[i] + p]);
      [[unroll]] for (int q = 0; q < OP_N; ++q) av[i * OP_N + q] = tb_op_a(w, q);
    }
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const RAW_T w = tb_raw(b[ib[j] + p]);
      OP_T bv[OP_N];
      [[unroll]] for (int q = 0; q < OP_N; ++q) bv[q] = tb_op_b(w, q);
      [[unroll]] for (int i = 0; i < TM; ++i) {
        ACC_T s = acc[i * TN + j];
        [[unroll]] for (int q = 0; q < OP_N; ++q) s = tb_mac(av[i * OP_N + q], bv[q], s);
        acc[i * TN + j] = s;
      }
    }
  }
  [[unroll]] for (int i = 0; i < TM; ++i) {
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const uint row = row0 + i, col = col0 + j;
      if (row < pc.M && col < pc.N)
        c[bz * pc.sc + row * pc.N + col] =
            tb_inline_epilogue() ? tb_to_c(tb_epilogue(float(acc[i * TN + j]), row, col, bz))
                                 : C_T(acc[i * TN + j]);
    }
  }
  if (!tb_inline_epilogue()) tb_epilogue_block(row0, col0, TM, TN, bz);
}
