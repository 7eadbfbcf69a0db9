#version 450
// Depthwise convolution, f32, NHWC (one input and one output channel per group, channels a
// multiple of 4): each invocation owns 4 channels (vec4 loads and stores) of XR adjacent output
// pixels of one row, so one set of weight loads feeds XR pixels and the index arithmetic (integer
// division, scalarised on lavapipe) is paid once per 4 * XR outputs. Channel groups innermost:
// neighbouring invocations read neighbouring 16 bytes. Epilogue: bias, activation, residual.
// Bindings and specialization constants as conv.comp; push constants as conv.comp plus xb (pixel
// blocks per output row). Items n * oh * xb * c / 4.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "op_common.glsl"
#include "activation.glsl"

layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const int ACT = 0;
layout(constant_id = 3) const bool HAS_RES = false;

layout(std430, binding = 0) readonly buffer BufS { vec4 src[]; };
layout(std430, binding = 1) readonly buffer BufW { float wt[]; };
layout(std430, binding = 2) writeonly buffer BufD { vec4 dst[]; };
layout(std430, binding = 3) readonly buffer BufBias { vec4 bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { vec4 res[]; };
layout(push_constant) uniform Push {
  uint total, h, w, c, k, oh, ow, r, s, st, pad, dl, cg, kg, xb;
} pc;

void main() {
  const uint item = tb_item();
  if (item >= pc.total) return;
  const uint c4 = pc.c / 4;
  const uint g = item % c4;
  uint rest = item / c4;
  const uint x0 = (rest % pc.xb) * XR;
  rest /= pc.xb;
  const uint y = rest % pc.oh, n = rest / pc.oh;
  const uint rs = pc.r * pc.s, wo0 = g * 4 * rs;
  vec4 acc[XR];
  [[unroll]] for (uint j = 0; j < XR; ++j) acc[j] = vec4(0.0);
  for (uint u = 0; u < pc.r; ++u) {
    const int iy = int(y * pc.st + u * pc.dl) - int(pc.pad);
    if (iy < 0 || iy >= int(pc.h)) continue;
    const uint row = (n * pc.h + uint(iy)) * pc.w;
    for (uint q = 0; q < pc.s; ++q) {
      const uint wo = wo0 + u * pc.s + q;
      const vec4 wv = vec4(wt[wo], wt[wo + rs], wt[wo + 2 * rs], wt[wo + 3 * rs]);
      const int ix0 = int(x0 * pc.st + q * pc.dl) - int(pc.pad);
      [[unroll]] for (uint j = 0; j < XR; ++j) {
        const int ix = ix0 + int(j * pc.st);
        if (ix >= 0 && ix < int(pc.w)) acc[j] = fma(src[(row + uint(ix)) * c4 + g], wv, acc[j]);
      }
    }
  }
  const uint d0 = ((n * pc.oh + y) * pc.ow + x0) * c4 + g;
  [[unroll]] for (uint j = 0; j < XR; ++j) {
    if (x0 + j < pc.ow) {
      vec4 v = acc[j];
      if (HAS_BIAS) v += bias[g];
      if (ACT != 0) v = vec4(tb_act(v.x, ACT), tb_act(v.y, ACT), tb_act(v.z, ACT), tb_act(v.w, ACT));
      const uint d = d0 + j * c4;
      if (HAS_RES) v += res[d];
      dst[d] = v;
    }
  }
}
