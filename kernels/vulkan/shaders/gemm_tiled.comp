#version 450
// f32 GEMM for GPUs: a BM x BN tile of C per workgroup of (BN/TN) x (BM/TM) invocations, each
// computing TM x TN; BK4 vec4 of k staged in shared memory per step. Same packed inputs as
// gemm_reg (A m x K4, B transposed n x K4). BM, BN, BK4 come from the variant's defines; TM, TN
// and the workgroup size are specialization constants that must agree (checked on the host).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "gemm_common.glsl"

layout(std430, binding = 0) readonly buffer BufA { vec4 a[]; };
layout(std430, binding = 1) readonly buffer BufB { vec4 b[]; };

shared vec4 As[BM * BK4];
shared vec4 Bs[BN * BK4];

void main() {
  const uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  const uint tid = ty * gl_WorkGroupSize.x + tx;
  const uint nthreads = gl_WorkGroupSize.x * gl_WorkGroupSize.y;
  const uint bm0 = gl_WorkGroupID.y * BM, bn0 = gl_WorkGroupID.x * BN;
  const uint bz = gl_WorkGroupID.z;
  float acc[TM * TN];  // scalar sums: a quarter of the registers of vec4 ones
  [[unroll]] for (int i = 0; i < TM * TN; ++i) acc[i] = 0.0;
  for (uint k0 = 0; k0 < pc.K; k0 += BK4) {
    for (uint idx = tid; idx < BM * BK4; idx += nthreads) {
      const uint r = idx / BK4, kk = idx % BK4;
      const uint gr = min(bm0 + r, pc.M - 1);
      As[idx] = k0 + kk < pc.K ? a[bz * pc.sa + gr * pc.a_r + k0 + kk] : vec4(0.0);
    }
    for (uint idx = tid; idx < BN * BK4; idx += nthreads) {
      const uint r = idx / BK4, kk = idx % BK4;
      const uint gc = min(bn0 + r, pc.N - 1);
      Bs[idx] = k0 + kk < pc.K ? b[bz * pc.sb + gc * pc.b_r + k0 + kk] : vec4(0.0);
    }
    barrier();
    for (uint kk = 0; kk < BK4; ++kk) {
      vec4 av[TM];
      [[unroll]] for (int i = 0; i < TM; ++i) av[i] = As[(ty * TM + i) * BK4 + kk];
      [[unroll]] for (int j = 0; j < TN; ++j) {
        const vec4 bv = Bs[(tx * TN + j) * BK4 + kk];
        [[unroll]] for (int i = 0; i < TM; ++i) acc[i * TN + j] = fma(av[i].x, bv.x, fma(av[i].y, bv.y, fma(av[i].z, bv.z, fma(av[i].w, bv.w, acc[i * TN + j]))));
      }
    }
    barrier();
  }
  [[unroll]] for (int i = 0; i < TM; ++i) {
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const uint row = bm0 + ty * TM + i, col = bn0 + tx * TN + j;
      if (row < pc.M && col < pc.N) c[bz * pc.sc + row * pc.N + col] = acc[i * TN + j];
    }
  }
  tb_epilogue_block(bm0 + ty * TM, bn0 + tx * TN, TM, TN, bz);
}
