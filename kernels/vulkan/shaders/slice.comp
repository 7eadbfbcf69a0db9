#version 450
// Row slice (kernels/problem.h): X [o][r][n] -> Y [o][c][n], Y[i][j] = X[i][s + j t], a copy of
// 32-bit words (f32 elements, or bf16 / f16 two to a word when n is even). One invocation per
// word of Y. Bindings: 0 X, 1 Y. Push: total (words of Y), r, c, words per row, s, t.
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufX { uint X[]; };
layout(std430, binding = 1) writeonly buffer BufY { uint Y[]; };
layout(push_constant) uniform Push { uint total, r, c, nw, s, t; } pc;

void main() {
  const uint w = tb_item();
  if (w >= pc.total) return;
  const uint k = w % pc.nw, rj = w / pc.nw, j = rj % pc.c, i = rj / pc.c;
  Y[w] = X[(i * pc.r + pc.s + j * pc.t) * pc.nw + k];
}
