#version 450
// f32 GEMM, one element of C per invocation, reading A and B in their given layouts (any
// transposition, via strides). The in-run anchor for the tuned shaders, and the fallback.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "gemm_common.glsl"

layout(std430, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, binding = 1) readonly buffer BufB { float b[]; };

void main() {
  const uint col = gl_GlobalInvocationID.x, row = gl_GlobalInvocationID.y;
  const uint bz = gl_GlobalInvocationID.z;
  if (row >= pc.M || col >= pc.N) return;
  uint ia = bz * pc.sa + row * pc.a_r;
  uint ib = bz * pc.sb + col * pc.b_c;
  float acc = 0.0;
  for (uint p = 0; p < pc.K; ++p) {
    acc = fma(a[ia], b[ib], acc);
    ia += pc.a_c;
    ib += pc.b_r;
  }
  c[bz * pc.sc + row * pc.N + col] = tb_epilogue(acc, row, col, bz);
}
