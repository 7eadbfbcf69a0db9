#version 450
// Scaled dot-product attention, f32, head-major (kernels/problem.h AttentionDesc), causal and
// grouped-query. One invocation per (batch, head, query row) walks the keys once with an online
// softmax (running max m, running sum l); the output row itself is the accumulator, rescaled by
// exp(m_old - m_new) whenever the max grows, so that any head dim works without a register array.
// Bindings: 0 Q, 1 K, 2 V, 3 O. Items b * h * q.
//
// The loops over the head dim step by 8: llvmpipe (lavapipe) stops every loop of an invocation
// after 65535 back-edges in all (its infinite-loop guard, LP_MAX_TGSI_LOOP_ITERATIONS), so fewer
// iterations per key mean longer key ranges; vulkan_attention.cpp refuses shapes past the guard
// on CPU devices.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufQ { float Q[]; };
layout(std430, binding = 1) readonly buffer BufK { float K[]; };
layout(std430, binding = 2) readonly buffer BufV { float V[]; };
layout(std430, binding = 3) buffer BufO { float O[]; };
layout(push_constant) uniform Push { uint total, h, kv, q, s, d, causal; } pc;

float dot_row(uint qo, uint ko) {
  vec4 a0 = vec4(0.0), a1 = vec4(0.0);
  const uint d8 = pc.d & ~7u;
  for (uint t = 0; t < d8; t += 8) {
    a0 = fma(vec4(Q[qo + t], Q[qo + t + 1], Q[qo + t + 2], Q[qo + t + 3]),
             vec4(K[ko + t], K[ko + t + 1], K[ko + t + 2], K[ko + t + 3]), a0);
    a1 = fma(vec4(Q[qo + t + 4], Q[qo + t + 5], Q[qo + t + 6], Q[qo + t + 7]),
             vec4(K[ko + t + 4], K[ko + t + 5], K[ko + t + 6], K[ko + t + 7]), a1);
  }
  float r = dot(a0 + a1, vec4(1.0));
  for (uint t = d8; t < pc.d; ++t) r = fma(Q[qo + t], K[ko + t], r);
  return r;
}

// O[oo..] = O[oo..] * alpha + p * V[vo..]
void update_row(uint oo, uint vo, float alpha, float p) {
  const uint d8 = pc.d & ~7u;
  for (uint t = 0; t < d8; t += 8) {
    [[unroll]] for (uint u = 0; u < 8; ++u) O[oo + t + u] = fma(p, V[vo + t + u], O[oo + t + u] * alpha);
  }
  for (uint t = d8; t < pc.d; ++t) O[oo + t] = fma(p, V[vo + t], O[oo + t] * alpha);
}

void main() {
  const uint item = tb_item();
  if (item >= pc.total) return;
  const uint i = item % pc.q, bh = item / pc.q;
  const uint b = bh / pc.h, head = bh % pc.h;
  const uint kvh = head / (pc.h / pc.kv);
  const uint q0 = item * pc.d, kv0 = (b * pc.kv + kvh) * pc.s * pc.d;
  // Causal: query i sees keys j <= i + (s - q).
  const int last = pc.causal != 0 ? min(int(pc.s), int(i + pc.s) - int(pc.q) + 1) : int(pc.s);
  const float scale = 1.0 / sqrt(float(pc.d));
  float m = -1.0 / 0.0, l = 0.0;
  for (int j = 0; j < last; ++j) {
    const uint ko = kv0 + uint(j) * pc.d;
    const float sc = dot_row(q0, ko) * scale;
    // alpha = exp(m_old - m_new) rescales what was accumulated; for the first key it is 0, and
    // multiplying O's stale contents by 0 is avoided (they may be NaN): 0 * O is replaced by 0.
    const float mn = max(m, sc);
    const float alpha = j == 0 ? 0.0 : exp(m - mn);
    const float p = exp(sc - mn);
    l = l * alpha + p;
    m = mn;
    if (j == 0) {
      for (uint t = 0; t < pc.d; ++t) O[q0 + t] = p * V[ko + t];
    } else {
      update_row(q0, ko, alpha, p);
    }
  }
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  if (last <= 0) {
    for (uint t = 0; t < pc.d; ++t) O[q0 + t] = 0.0;
  } else {
    for (uint t = 0; t < pc.d; ++t) O[q0 + t] *= inv;
  }
}
