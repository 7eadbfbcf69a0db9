#version 450
// Scaled dot-product attention, Q K V of type DT (0 f32, 1 f16, 4 bf16: dtype.glsl; arithmetic
// and O in f32), head dims that divide by 4 up to DMAX (a define: 32, 64,
// 128), QR query rows per invocation and keys taken KB at a time (defines). As
// attention_reg.comp (online softmax over the keys, query rows and accumulators in registers),
// but each K and V row loaded serves QR queries (on lavapipe, where every storage-buffer load
// is a costly per-lane gather, throughput follows multiply-adds per load), and the running max
// is updated once per block of KB keys, so the accumulators are rescaled (one exp) once per
// block instead of once per key. Query rows past q are clamped on load and not stored; keys
// past s or past a row's causal limit get probability 0. Items b * h * ceil(q / QR).
// Bindings: 0 Q, 1 K, 2 V, 3 O.
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
layout(push_constant) uniform Push { uint total, h, kv, q, s, d, causal, qblocks; } pc;

const uint D4 = DMAX / 4;
const float kNegInf = -1.0 / 0.0;

void main() {
  const uint item = tb_item();
  if (item >= pc.total) return;
  const uint qb = item % pc.qblocks, bh = item / pc.qblocks;
  const uint b = bh / pc.h, head = bh % pc.h;
  const uint kvh = head / (pc.h / pc.kv);
  const uint d4 = pc.d / 4;  // d % 4 == 0 (vulkan_attention.cpp)
  const uint i0 = qb * QR;
  const uint kv0 = (b * pc.kv + kvh) * pc.s * d4;
  const float scale = 1.0 / sqrt(float(pc.d));
  vec4 qr[QR * D4], acc[QR * D4];
  int last[QR];  // keys j < last[r] are visible to row r (causal: j <= i + s - q)
  float m[QR], l[QR];
  [[unroll]] for (uint r = 0; r < QR; ++r) {
    const uint i = min(i0 + r, pc.q - 1);
    const uint q0 = (bh * pc.q + i) * d4;
    [[unroll]] for (uint t = 0; t < D4; ++t) {
      qr[r * D4 + t] = t < d4 ? tb_vec4(Q[q0 + t]) * scale : vec4(0.0);
      acc[r * D4 + t] = vec4(0.0);
    }
    last[r] = pc.causal != 0 ? min(int(pc.s), int(i + pc.s) - int(pc.q) + 1) : int(pc.s);
    m[r] = kNegInf;
    l[r] = 0.0;
  }
  int end = 0;
  [[unroll]] for (uint r = 0; r < QR; ++r) end = max(end, last[r]);
  for (int j0 = 0; j0 < end; j0 += KB) {
    float sc[QR * KB];
    [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
      const int j = j0 + int(kb);
      const uint ko = kv0 + uint(min(j, int(pc.s) - 1)) * d4;
      vec4 part[QR];
      [[unroll]] for (uint r = 0; r < QR; ++r) part[r] = vec4(0.0);
      [[unroll]] for (uint t = 0; t < D4; ++t) {
        if (t < d4) {
          const vec4 kv = tb_vec4(K[ko + t]);
          [[unroll]] for (uint r = 0; r < QR; ++r) part[r] = fma(qr[r * D4 + t], kv, part[r]);
        }
      }
      [[unroll]] for (uint r = 0; r < QR; ++r)
        sc[r * KB + kb] = j < last[r] ? part[r].x + part[r].y + part[r].z + part[r].w : kNegInf;
    }
    [[unroll]] for (uint r = 0; r < QR; ++r) {
      float mn = m[r];
      [[unroll]] for (uint kb = 0; kb < KB; ++kb) mn = max(mn, sc[r * KB + kb]);
      // A row that has seen no visible key yet keeps everything at 0 (no inf - inf).
      const bool none = mn == kNegInf;
      const float alpha = (none || m[r] == kNegInf) ? 0.0 : exp(m[r] - mn);
      float sum = 0.0;
      [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
        const float p = none ? 0.0 : exp(sc[r * KB + kb] - mn);  // exp(-inf) = 0: masked
        sc[r * KB + kb] = p;
        sum += p;
      }
      l[r] = l[r] * alpha + sum;
      m[r] = mn;
      [[unroll]] for (uint t = 0; t < D4; ++t) acc[r * D4 + t] *= alpha;
    }
    [[unroll]] for (uint kb = 0; kb < KB; ++kb) {
      const uint vo = kv0 + uint(min(j0 + int(kb), int(pc.s) - 1)) * d4;
      [[unroll]] for (uint t = 0; t < D4; ++t) {
        if (t < d4) {
          const vec4 vv = tb_vec4(V[vo + t]);
          [[unroll]] for (uint r = 0; r < QR; ++r)
            acc[r * D4 + t] = fma(vec4(sc[r * KB + kb]), vv, acc[r * D4 + t]);
        }
      }
    }
  }
  [[unroll]] for (uint r = 0; r < QR; ++r) {
    if (i0 + r < pc.q) {
      const float inv = l[r] > 0.0 ? 1.0 / l[r] : 0.0;
      const uint o0 = (bh * pc.q + i0 + r) * d4;
      [[unroll]] for (uint t = 0; t < D4; ++t) {
        if (t < d4) O[o0 + t] = acc[r * D4 + t] * inv;
      }
    }
  }
}
