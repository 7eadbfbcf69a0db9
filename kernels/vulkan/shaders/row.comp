#version 450
// Row-wise ops over X [m][n], one invocation per row. KIND 0: softmax, 1: layer norm, 2: RMS
// norm (kernels/problem.h RowDesc; eps 1e-5 = RowDesc::kEps). Sums run in four interleaved
// partial sums, to keep the rounding error of long rows small.
// Bindings: 0 X, 1 Y, 2 gamma, 3 beta (unused ones bound to a dummy buffer).
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, binding = 1) writeonly buffer BufY { float y[]; };
layout(std430, binding = 2) readonly buffer BufG { float gamma[]; };
layout(std430, binding = 3) readonly buffer BufB { float beta[]; };
layout(push_constant) uniform Push { uint total, n; } pc;

const float kEps = 1e-5;

void main() {
  const uint row = tb_item();
  if (row >= pc.total) return;
  const uint o = row * pc.n;
  vec4 acc = vec4(0.0);
#if KIND == 0
  float mx = -1.0 / 0.0;
  for (uint j = 0; j < pc.n; ++j) mx = max(mx, x[o + j]);
  for (uint j = 0; j < pc.n; ++j) acc[j & 3u] += exp(x[o + j] - mx);
  const float inv = 1.0 / (acc.x + acc.y + acc.z + acc.w);
  for (uint j = 0; j < pc.n; ++j) y[o + j] = exp(x[o + j] - mx) * inv;
#elif KIND == 1
  for (uint j = 0; j < pc.n; ++j) acc[j & 3u] += x[o + j];
  const float mean = (acc.x + acc.y + acc.z + acc.w) / float(pc.n);
  acc = vec4(0.0);
  for (uint j = 0; j < pc.n; ++j) {
    const float d = x[o + j] - mean;
    acc[j & 3u] += d * d;
  }
  const float inv = 1.0 / sqrt((acc.x + acc.y + acc.z + acc.w) / float(pc.n) + kEps);
  for (uint j = 0; j < pc.n; ++j) y[o + j] = (x[o + j] - mean) * inv * gamma[j] + beta[j];
#else
  for (uint j = 0; j < pc.n; ++j) acc[j & 3u] += x[o + j] * x[o + j];
  const float inv = 1.0 / sqrt((acc.x + acc.y + acc.z + acc.w) / float(pc.n) + kEps);
  for (uint j = 0; j < pc.n; ++j) y[o + j] = x[o + j] * inv * gamma[j];
#endif
}
