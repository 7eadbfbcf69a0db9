#version 450
// Direct convolution, f32, NHWC (kernels/problem.h ConvDesc), any groups, stride, padding and
// dilation; one invocation per output element, output channels innermost. Depthwise (one input
// channel per group) is the same loop with cg = 1. Epilogue: bias, activation, residual.
// Bindings: 0 src, 1 weights [k][r][s][cg], 2 dst, 3 bias, 4 residual (dummies when absent).
// Specialization constants: 0 workgroup size, 1 bias, 2 activation (activation.glsl), 3 residual.
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"
#include "activation.glsl"

layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const int ACT = 0;
layout(constant_id = 3) const bool HAS_RES = false;

layout(std430, binding = 0) readonly buffer BufS { float src[]; };
layout(std430, binding = 1) readonly buffer BufW { float wt[]; };
layout(std430, binding = 2) writeonly buffer BufD { float dst[]; };
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { float res[]; };
layout(push_constant) uniform Push {
  uint total, h, w, c, k, oh, ow, r, s, st, pad, dl, cg, kg;
} pc;

void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint o = i % pc.k, x = (i / pc.k) % pc.ow, ny = i / (pc.k * pc.ow);
  const uint n = ny / pc.oh, y = ny % pc.oh;
  const uint c0 = (o / pc.kg) * pc.cg;  // first input channel of o's group
  float acc = 0.0;
  for (uint u = 0; u < pc.r; ++u) {
    const int iy = int(y * pc.st + u * pc.dl) - int(pc.pad);
    if (iy < 0 || iy >= int(pc.h)) continue;
    for (uint q = 0; q < pc.s; ++q) {
      const int ix = int(x * pc.st + q * pc.dl) - int(pc.pad);
      if (ix < 0 || ix >= int(pc.w)) continue;
      const uint so = ((n * pc.h + uint(iy)) * pc.w + uint(ix)) * pc.c + c0;
      const uint wo = ((o * pc.r + u) * pc.s + q) * pc.cg;
      for (uint j = 0; j < pc.cg; ++j) acc = fma(src[so + j], wt[wo + j], acc);
    }
  }
  if (HAS_BIAS) acc += bias[o];
  acc = tb_act(acc, ACT);
  if (HAS_RES) acc += res[i];
  dst[i] = acc;
}
