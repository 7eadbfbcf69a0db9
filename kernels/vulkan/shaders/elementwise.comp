#version 450
// Elementwise ops, one invocation per output element (kernels/problem.h):
//   OP 0: binary, Y = A + B (is_mul 0) or A * B; bindings 0 A, 1 B, 2 Y; items n.
//   OP 1: RoPE rotate-half; bindings 0 X, 1 cos, 2 sin, 3 Y; items t * h * d/2 (one pair each).
//   OP 2: embedding, Y[t] = table[ids[t] mod v]; bindings 0 table, 1 ids, 2 Y; items t * d.
//         EMB_T 0: f32 table; 1 bf16, 2 f16: two to a 32-bit word, widened to f32; 3 s8: four
//         to a word, times the row's scale (binding 3, f32 [v]).
//   OP 3: activation in place, X = act(X) (specialization constant 1, activation.glsl); binding
//         0 X; items n. The resident graph's act_after (an activation after a whole epilogue).
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(push_constant) uniform Push { uint total, a, b; } pc;

#if OP == 0
layout(std430, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, binding = 2) writeonly buffer BufY { float Y[]; };
void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  Y[i] = pc.a != 0 ? A[i] * B[i] : A[i] + B[i];
}
#elif OP == 1
// a: heads, b: head dim d.
layout(std430, binding = 0) readonly buffer BufX { float X[]; };
layout(std430, binding = 1) readonly buffer BufC { float cs[]; };
layout(std430, binding = 2) readonly buffer BufS { float sn[]; };
layout(std430, binding = 3) writeonly buffer BufY { float Y[]; };
void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint hd = pc.b / 2;
  const uint k = i % hd, th = i / hd, t = th / pc.a;
  const uint o = th * pc.b;
  const float x0 = X[o + k], x1 = X[o + k + hd];
  const float c = cs[t * hd + k], s = sn[t * hd + k];
  Y[o + k] = x0 * c - x1 * s;
  Y[o + k + hd] = x1 * c + x0 * s;
}
#elif OP == 2
// a: vocabulary rows v, b: row length d.
#ifndef EMB_T
#define EMB_T 0
#endif
#if EMB_T == 0
layout(std430, binding = 0) readonly buffer BufT { float table[]; };
float emb_load(uint e) { return table[e]; }
#elif EMB_T == 3
layout(std430, binding = 0) readonly buffer BufT { uint table[]; };
layout(std430, binding = 3) readonly buffer BufS { float row_scale[]; };
float emb_load(uint e) {
  return float(bitfieldExtract(int(table[e >> 2]), int(8u * (e & 3u)), 8));  // sign-extended
}
#else
layout(std430, binding = 0) readonly buffer BufT { uint table[]; };
float emb_load(uint e) {
  const uint w = table[e >> 1], h = (e & 1u) != 0u ? w >> 16 : w & 0xffffu;
#if EMB_T == 1
  return uintBitsToFloat(h << 16);
#else
  return unpackHalf2x16(h).x;
#endif
}
#endif
layout(std430, binding = 1) readonly buffer BufI { int ids[]; };
layout(std430, binding = 2) writeonly buffer BufY { float Y[]; };
void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint j = i % pc.b, t = i / pc.b;
  // Floor modulo on magnitudes: GLSL leaves % of negative operands undefined.
  const int id = ids[t];
  const uint m = uint(abs(id)) % pc.a;  // abs(INT_MIN) as uint is 2^31, its magnitude
  const uint row = (id < 0 && m != 0u) ? pc.a - m : m;
#if EMB_T == 3
  Y[i] = emb_load(row * pc.b + j) * row_scale[row];
#else
  Y[i] = emb_load(row * pc.b + j);
#endif
}
#elif OP == 3
#include "activation.glsl"
layout(constant_id = 1) const int ACT = 0;
layout(std430, binding = 0) buffer BufX { float X[]; };
void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  X[i] = tb_act(X[i], ACT);
}
#endif
