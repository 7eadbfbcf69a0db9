#version 450
// Direct convolution, NHWC (kernels/problem.h ConvDesc), any groups, stride, padding and
// dilation; one invocation per output element, output channels innermost. Depthwise (one input
// channel per group) is the same loop with cg = 1. Every element type of conv_common.glsl (DT),
// elements loaded one at a time: the path for channel counts the vector shaders cannot take
// (an RGB input layer in int8). Epilogue: scales, bias, activation, residual.
// Bindings and specialization constants: conv_common.glsl.
#extension GL_GOOGLE_include_directive : require
#include "conv_common.glsl"

layout(push_constant) uniform Push {
  uint total, h, w, c, k, oh, ow, r, s, st, pad, dl, cg, kg;
} pc;

void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint o = i % pc.k, x = (i / pc.k) % pc.ow, ny = i / (pc.k * pc.ow);
  const uint n = ny / pc.oh, y = ny % pc.oh;
  const uint c0 = (o / pc.kg) * pc.cg;  // first input channel of o's group
  ACC_T acc = ACC_T(0);
  for (uint u = 0; u < pc.r; ++u) {
    const int iy = int(y * pc.st + u * pc.dl) - int(pc.pad);
    if (iy < 0 || iy >= int(pc.h)) continue;
    for (uint q = 0; q < pc.s; ++q) {
      const int ix = int(x * pc.st + q * pc.dl) - int(pc.pad);
      if (ix < 0 || ix >= int(pc.w)) continue;
      const uint so = ((n * pc.h + uint(iy)) * pc.w + uint(ix)) * pc.c + c0;
      const uint wo = ((o * pc.r + u) * pc.s + q) * pc.cg;
#if DT == 2
      for (uint j = 0; j < pc.cg; ++j) acc += tb_src(so + j) * tb_wt(wo + j);
#else
      for (uint j = 0; j < pc.cg; ++j) acc = fma(tb_src(so + j), tb_wt(wo + j), acc);
#endif
    }
  }
  tb_store(i, o, acc);
}
