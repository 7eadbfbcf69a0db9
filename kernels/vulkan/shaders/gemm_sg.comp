#version 450
// GEMM (f32, f16, u8 x s8 -> s32: DT, gemm_common.glsl) for CPU-like devices whose subgroups are 8 lanes wide (lavapipe on AVX2): no shared
// memory, no barriers, and the A operand shared across the subgroup. A workgroup is one subgroup
// of 8 invocations (the host checks subgroupSize == 8 and uses an 8 x 1 workgroup); all of them
// compute the same TM rows of C, each its own TN columns. Per vec4 step along k an invocation
// loads TM / 8 rows of packed A and broadcasts them to the others (register shuffles on
// lavapipe, where every storage-buffer load is a costly per-lane gather), and TN rows of B^T:
// TM / 8 + TN loads for TM * TN multiply-adds of a loaded element (4 FMAs for f32), against TM + TN
// in gemm_reg.comp. TM (a multiple of 8)
// and TN are defines, as in gemm_reg.comp (see gemm_common.glsl). Rows past M / columns past N
// are clamped on load and skipped on store.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "gemm_common.glsl"

layout(std430, binding = 0) readonly buffer BufA { LOAD_T a[]; };
layout(std430, binding = 1) readonly buffer BufB { LOAD_T b[]; };

const int AL = TM / 8;  // rows of A each lane loads per k step

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint row0 = gl_WorkGroupID.y * TM, col0 = gl_GlobalInvocationID.x * TN;
  const uint bz = gl_WorkGroupID.z;
  // Uniform over the workgroup; lanes past N stay (they take part in the broadcasts).
  if (row0 >= pc.M) return;
  uint ia[AL], ib[TN];
  [[unroll]] for (int t = 0; t < AL; ++t)
    ia[t] = bz * pc.sa + min(row0 + t * 8 + lane, pc.M - 1) * pc.a_r;
  [[unroll]] for (int j = 0; j < TN; ++j) ib[j] = bz * pc.sb + min(col0 + j, pc.N - 1) * pc.b_r;
  ACC_T acc[TM * TN];
  [[unroll]] for (int i = 0; i < TM * TN; ++i) acc[i] = ACC_T(0);
  for (uint p = 0; p < pc.K; ++p) {
    RAW_T av[TM];
    [[unroll]] for (int t = 0; t < AL; ++t) {
      const RAW_T own = tb_raw(a[ia[t] + p]);
      av[t * 8 + 0] = subgroupBroadcast(own, 0);
      av[t * 8 + 1] = subgroupBroadcast(own, 1);
      av[t * 8 + 2] = subgroupBroadcast(own, 2);
      av[t * 8 + 3] = subgroupBroadcast(own, 3);
      av[t * 8 + 4] = subgroupBroadcast(own, 4);
      av[t * 8 + 5] = subgroupBroadcast(own, 5);
      av[t * 8 + 6] = subgroupBroadcast(own, 6);
      av[t * 8 + 7] = subgroupBroadcast(own, 7);
    }
    [[unroll]] for (int j = 0; j < TN; ++j) {
      const RAW_T w = tb_raw(b[ib[j] + p]);
      OP_T bv[OP_N];
      [[unroll]] for (int q = 0; q < OP_N; ++q) bv[q] = tb_op_b(w, q);
      [[unroll]] for (int i = 0; i < TM; ++i) {
        ACC_T s = acc[i * TN + j];
        [[unroll]] for (int q = 0; q < OP_N; ++q) s = tb_mac(tb_op_a(av[i], q), bv[q], s);
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
