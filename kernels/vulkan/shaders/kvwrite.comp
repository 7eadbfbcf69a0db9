#version 450
// KV-cache write (kernels/problem.h): rows p of the cache [h][s][d] replaced by X [h][d] (f32),
// rounded to the cache's type. KV_T 0: f32; 4: bf16, two to a word (d even). One invocation per
// word: with full != 0 over the whole of Y (the cache copied, row p replaced), else over rows p
// alone (in place: the resident graph binds the cache as Y too, so nothing is restrict).
// Bindings: 0 X, 1 cache, 2 Y. Push: total (words), s, words per row, p, full.
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

#ifndef KV_T
#define KV_T 0
#endif

layout(std430, binding = 0) readonly buffer BufX { float X[]; };
layout(std430, binding = 1) readonly buffer BufC { uint C[]; };
layout(std430, binding = 2) writeonly buffer BufY { uint Y[]; };
layout(push_constant) uniform Push { uint total, s, dw, p, full; } pc;

#if KV_T == 4
uint bf16(float x) {
  const uint u = floatBitsToUint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu;
  return ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) & 0xffffu;
}
uint row_word(uint h, uint j) {
  const uint x = (h * pc.dw + j) * 2;
  return bf16(X[x]) | (bf16(X[x + 1]) << 16);
}
#else
uint row_word(uint h, uint j) { return floatBitsToUint(X[h * pc.dw + j]); }
#endif

void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint j = i % pc.dw, rh = i / pc.dw;
  const uint r = pc.full != 0u ? rh % pc.s : pc.p, h = pc.full != 0u ? rh / pc.s : rh;
  const uint o = (h * pc.s + r) * pc.dw + j;
  Y[o] = r == pc.p ? row_word(h, j) : C[o];
}
