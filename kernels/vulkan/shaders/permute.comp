#version 450
// Permute of the two outer axes (kernels/problem.h): X [a][b][c] -> Y [b][a][c], a copy of
// 32-bit words (f32 elements, or bf16 / f16 two to a word when c is even). One invocation per
// word. Bindings: 0 X, 1 Y. Push: total (words), a, b, words per row.
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufX { uint X[]; };
layout(std430, binding = 1) writeonly buffer BufY { uint Y[]; };
layout(push_constant) uniform Push { uint total, a, b, cw; } pc;

void main() {
  const uint w = tb_item();
  if (w >= pc.total) return;
  const uint k = w % pc.cw, r = w / pc.cw, j = r % pc.b, i = r / pc.b;
  Y[(j * pc.a + i) * pc.cw + k] = X[w];
}
