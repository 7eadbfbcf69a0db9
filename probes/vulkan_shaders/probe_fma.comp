#version 450
// Peak f32 arithmetic: 8 independent FMA chains per invocation, `iters` rounds each (vec4 or
// scalar per the VEC4 define). The result is stored so that the chains cannot be removed.
layout(local_size_x = 64) in;
#ifdef VEC4
#define T vec4
#define LANES 4
#else
#define T float
#define LANES 1
#endif
layout(std430, binding = 0) writeonly buffer Out { T o[]; };
layout(push_constant) uniform Push { uint iters; float seed; } pc;

void main() {
  const uint id = gl_GlobalInvocationID.x;
  const T m = T(0.999999);
  const T add = T(1e-7);
  T x0 = T(pc.seed + float(id & 7u)), x1 = x0 + T(0.1), x2 = x0 + T(0.2), x3 = x0 + T(0.3);
  T x4 = x0 + T(0.4), x5 = x0 + T(0.5), x6 = x0 + T(0.6), x7 = x0 + T(0.7);
  for (uint i = 0; i < pc.iters; ++i) {
    x0 = fma(x0, m, add); x1 = fma(x1, m, add); x2 = fma(x2, m, add); x3 = fma(x3, m, add);
    x4 = fma(x4, m, add); x5 = fma(x5, m, add); x6 = fma(x6, m, add); x7 = fma(x7, m, add);
    x0 = fma(x0, m, add); x1 = fma(x1, m, add); x2 = fma(x2, m, add); x3 = fma(x3, m, add);
    x4 = fma(x4, m, add); x5 = fma(x5, m, add); x6 = fma(x6, m, add); x7 = fma(x7, m, add);
  }
  o[id] = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
}
