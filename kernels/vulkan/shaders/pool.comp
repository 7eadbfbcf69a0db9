#version 450
// Pooling, NHWC (kernels/problem.h PoolDesc), one invocation per output element, channels
// innermost so that neighbouring invocations touch neighbouring addresses.
// GLOBAL 0: max (is_max 1) or average (padding excluded from the count) over an r x s window;
// GLOBAL 1: mean over h x w (items n * c).
#extension GL_GOOGLE_include_directive : require
#include "op_common.glsl"

layout(std430, binding = 0) readonly buffer BufS { float src[]; };
layout(std430, binding = 1) writeonly buffer BufD { float dst[]; };
layout(push_constant) uniform Push {
  uint total, h, w, c, oh, ow, r, s, st, pad, is_max;
} pc;

void main() {
  const uint i = tb_item();
  if (i >= pc.total) return;
  const uint ch = i % pc.c;
#if GLOBAL
  const uint n = i / pc.c, hw = pc.h * pc.w;
  float acc = 0.0;
  for (uint p = 0; p < hw; ++p) acc += src[(n * hw + p) * pc.c + ch];
  dst[i] = acc / float(hw);
#else
  const uint x = (i / pc.c) % pc.ow, ny = i / (pc.c * pc.ow);
  const uint n = ny / pc.oh, y = ny % pc.oh;
  float acc = pc.is_max != 0 ? -1.0 / 0.0 : 0.0;
  uint count = 0;
  for (uint u = 0; u < pc.r; ++u) {
    const int iy = int(y * pc.st + u) - int(pc.pad);
    if (iy < 0 || iy >= int(pc.h)) continue;
    for (uint v = 0; v < pc.s; ++v) {
      const int ix = int(x * pc.st + v) - int(pc.pad);
      if (ix < 0 || ix >= int(pc.w)) continue;
      const float e = src[((n * pc.h + uint(iy)) * pc.w + uint(ix)) * pc.c + ch];
      acc = pc.is_max != 0 ? max(acc, e) : acc + e;
      ++count;
    }
  }
  if (pc.is_max == 0) acc /= float(count);
  dst[i] = acc;
#endif
}
