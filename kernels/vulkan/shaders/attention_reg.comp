#version 450
// Scaled dot-product attention, Q K V of type DT (0 f32, 1 f16, 4 bf16: dtype.glsl; arithmetic
// and O in f32), for head dims that divide by 4 up to DMAX (a compile-time
// define: 32, 64, 128), rows read as vec4, otherwise
// as attention.comp (one invocation per (batch, head, query row), online softmax over the keys),
// but the scaled query row and the output accumulator live in registers (loops over DMAX are
// unrolled, lanes past d masked), so each key costs one pass over K and V and no memory
// read-modify-write, and the only loop is the one over keys (llvmpipe's 65535-iteration guard
// then allows that many keys). Bindings: 0 Q, 1 K, 2 V, 3 O. Items b * h * q.
#extension GL_GOOGLE_include_directive : require
#ifndef DT
#define DT 0
#endif
#extension GL_EXT_control_flow_attributes : require
#if DT == 1
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "op_common.glsl"
#include "dtype.glsl"

layout(std430, binding = 0) readonly buffer BufQ { TB_VEC4_T Q[]; };
layout(std430, binding = 1) readonly buffer BufK { TB_VEC4_T K[]; };
layout(std430, binding = 2) readonly buffer BufV { TB_VEC4_T V[]; };
layout(std430, binding = 3) writeonly buffer BufO { vec4 O[]; };
layout(push_constant) uniform Push { uint total, h, kv, q, s, d, causal; } pc;

const uint D4 = DMAX / 4;

void main() {
  const uint item = tb_item();
  if (item >= pc.total) return;
  const uint i = item % pc.q, bh = item / pc.q;
  const uint b = bh / pc.h, head = bh % pc.h;
  const uint kvh = head / (pc.h / pc.kv);
  const uint d4 = pc.d / 4;  // d % 4 == 0 (vulkan_attention.cpp)
  const uint q0 = item * d4, kv0 = (b * pc.kv + kvh) * pc.s * d4;
  // Causal: query i sees keys j <= i + (s - q).
  const int last = pc.causal != 0 ? min(int(pc.s), int(i + pc.s) - int(pc.q) + 1) : int(pc.s);
  const float scale = 1.0 / sqrt(float(pc.d));
  vec4 qr[D4], acc[D4];
  [[unroll]] for (uint t = 0; t < D4; ++t) {
    qr[t] = t < d4 ? tb_vec4(Q[q0 + t]) * scale : vec4(0.0);
    acc[t] = vec4(0.0);
  }
  float m = -1.0 / 0.0, l = 0.0;
  for (int j = 0; j < last; ++j) {
    const uint ko = kv0 + uint(j) * d4;
    vec4 part = vec4(0.0);
    [[unroll]] for (uint t = 0; t < D4; ++t) {
      if (t < d4) part = fma(qr[t], tb_vec4(K[ko + t]), part);
    }
    const float sc = part.x + part.y + part.z + part.w;
    // alpha = exp(m_old - m_new) rescales the accumulator; 0 for the first key.
    const float mn = max(m, sc);
    const float alpha = j == 0 ? 0.0 : exp(m - mn);
    const float p = exp(sc - mn);
    l = l * alpha + p;
    m = mn;
    [[unroll]] for (uint t = 0; t < D4; ++t) {
      if (t < d4) acc[t] = fma(vec4(p), tb_vec4(V[ko + t]), acc[t] * alpha);
    }
  }
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  [[unroll]] for (uint t = 0; t < D4; ++t) {
    if (t < d4) O[q0 + t] = acc[t] * inv;
  }
}
