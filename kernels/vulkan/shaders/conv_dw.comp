#version 450
// Depthwise convolution, NHWC (one input and one output channel per group, channels a multiple
// of 4), every element type of conv_common.glsl (DT): each invocation owns 4 channels (one
// 4-channel load: a vec4, or one word of four u8) of XR adjacent output pixels of one row, so
// one set of weight loads feeds XR pixels and the index arithmetic (integer division,
// scalarised on lavapipe) is paid once per 4 * XR outputs. Channel groups innermost:
// neighbouring invocations read neighbouring bytes. Epilogue: scales, bias, activation, residual
// (f32: vec4 stores). Bindings and specialization constants: conv_common.glsl; push constants as
// conv.comp plus xb (pixel blocks per output row). Items n * oh * xb * c / 4.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#define SRC4
#include "conv_common.glsl"

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
  ACC4_T acc[XR];
  [[unroll]] for (uint j = 0; j < XR; ++j) acc[j] = ACC4_T(0);
  for (uint u = 0; u < pc.r; ++u) {
    const int iy = int(y * pc.st + u * pc.dl) - int(pc.pad);
    if (iy < 0 || iy >= int(pc.h)) continue;
    const uint row = (n * pc.h + uint(iy)) * pc.w;
    for (uint q = 0; q < pc.s; ++q) {
      const uint wo = wo0 + u * pc.s + q;
      const ACC4_T wv = ACC4_T(tb_wt(wo), tb_wt(wo + rs), tb_wt(wo + 2 * rs), tb_wt(wo + 3 * rs));
      const int ix0 = int(x0 * pc.st + q * pc.dl) - int(pc.pad);
      [[unroll]] for (uint j = 0; j < XR; ++j) {
        const int ix = ix0 + int(j * pc.st);
#if DT == 2
        if (ix >= 0 && ix < int(pc.w)) acc[j] += tb_src4((row + uint(ix)) * c4 + g) * wv;
#else
        if (ix >= 0 && ix < int(pc.w)) acc[j] = fma(tb_src4((row + uint(ix)) * c4 + g), wv, acc[j]);
#endif
      }
    }
  }
  const uint d0 = ((n * pc.oh + y) * pc.ow + x0) * c4 + g;
  [[unroll]] for (uint j = 0; j < XR; ++j) {
    if (x0 + j < pc.ow) {
      const uint d = d0 + j * c4;
#if DT == 0
      vec4 v = acc[j];
      if (HAS_BIAS) v += bias[g];
      if (ACT != 0) v = vec4(tb_act(v.x, ACT), tb_act(v.y, ACT), tb_act(v.z, ACT), tb_act(v.w, ACT));
      if (HAS_RES) v += res[d];
      dst[d] = v;
#else
      [[unroll]] for (uint t = 0; t < 4; ++t) tb_store(d * 4 + t, g * 4 + t, acc[j][t]);
#endif
    }
  }
}
