#version 450
// The resident graph's operand conversions (kernels/device_graph.h), f32 in, packed words out:
//   OP 0: in_quant, q = clamp(round_even(x / scale) + zp, 0, 255) as u8, four to a word;
//   OP 1: in_cast, f32 -> bf16 rounded to nearest even (NaN kept quiet, as tb::f32_to_bf16),
//         two to a word.
// One invocation per output word; elements past n (the last word's tail) are written as 0.
// Bindings: 0 X (f32), 1 Y (words). Push: total (words), n (elements), scale (f32 bits), zp.
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufX { float X[]; };
layout(std430, binding = 1) writeonly buffer BufY { uint Y[]; };
layout(push_constant) uniform Push { uint total, n, scale, zp; } pc;

#if OP == 0
uint quant(uint i) {
  if (i >= pc.n) return 0u;
  const float q = roundEven(X[i] / uintBitsToFloat(pc.scale)) + float(int(pc.zp));
  return uint(clamp(q, 0.0, 255.0));
}
void main() {
  const uint w = tb_item();
  if (w >= pc.total) return;
  const uint i = w * 4;
  Y[w] = quant(i) | (quant(i + 1) << 8) | (quant(i + 2) << 16) | (quant(i + 3) << 24);
}
#else
uint bf16(uint i) {
  if (i >= pc.n) return 0u;
  const uint u = floatBitsToUint(X[i]);
  if ((u & 0x7fffffffu) > 0x7f800000u) return ((u >> 16) | 0x40u) & 0xffffu;
  return ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) & 0xffffu;
}
void main() {
  const uint w = tb_item();
  if (w >= pc.total) return;
  Y[w] = bf16(w * 2) | (bf16(w * 2 + 1) << 16);
}
#endif
