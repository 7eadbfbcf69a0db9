#version 450
// Implicit-GEMM convolution, NHWC (kernels/problem.h ConvDesc), for groups with several
// input channels: M = output pixels, N = output channels of a group, K = r * s * cg, the A
// operand gathered from src on the fly (zero outside the image, no im2col buffer). Each
// invocation owns an MR x NR block (pixels x channels, compile-time defines so that glslc unrolls
// the block into scalars), so one src load feeds NR multiply-adds and one weight load MR. Edge
// pixels and channels are clamped on load and skipped on store. No shared memory, no barriers.
// Every element type of conv_common.glsl (DT); u8 x s8 (DT 2) steps through the channels a word
// of four at a time where cg % 4 == 0, one 4 x 8-bit dot product per multiply-add (packed with
// DOT, dtype.glsl), else a byte at a time. Bindings and specialization constants:
// conv_common.glsl. Items n * pixel blocks * groups * channel blocks, pixel blocks innermost.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "conv_common.glsl"

layout(push_constant) uniform Push {
  uint total, h, w, c, k, oh, ow, r, s, st, pad, dl, cg, kg, pb, nbk;
} pc;

// The window (r x s) and the channels per group as specialization constants where the host sets
// them (a network's first layer, on the image: 3 channels), so that the driver's compiler sees
// constant trip counts and unrolls the whole window; 0: the push constants' (runtime loops).
layout(constant_id = 5) const uint CG_SPEC = 0;
layout(constant_id = 6) const uint R_SPEC = 0;
layout(constant_id = 7) const uint S_SPEC = 0;

void main() {
  const uint item = tb_item();
  if (item >= pc.total) return;
  const uint cg = CG_SPEC != 0 ? CG_SPEC : pc.cg, kr = R_SPEC != 0 ? R_SPEC : pc.r,
             ks = S_SPEC != 0 ? S_SPEC : pc.s;
  const uint P = pc.oh * pc.ow, groups = pc.c / cg;
  const uint pbi = item % pc.pb, rest = item / pc.pb;
  const uint jb = rest % (groups * pc.nbk), n = rest / (groups * pc.nbk);
  const uint g = jb / pc.nbk, j0 = (jb % pc.nbk) * NR;  // first channel within the group
  int iy0[MR], ix0[MR];
  [[unroll]] for (uint m = 0; m < MR; ++m) {
    const uint p = min(pbi * MR + m, P - 1);
    iy0[m] = int((p / pc.ow) * pc.st) - int(pc.pad);
    ix0[m] = int((p % pc.ow) * pc.st) - int(pc.pad);
  }
  uint oc[NR];
  [[unroll]] for (uint j = 0; j < NR; ++j) oc[j] = g * pc.kg + min(j0 + j, pc.kg - 1);
  ACC_T acc[MR][NR];
  [[unroll]] for (uint m = 0; m < MR; ++m)[[unroll]] for (uint j = 0; j < NR; ++j) acc[m][j] = ACC_T(0);
  const uint sbase = n * pc.h * pc.w * pc.c + g * cg;
  for (uint u = 0; u < kr; ++u) {
    for (uint q = 0; q < ks; ++q) {
      int off[MR];
      [[unroll]] for (uint m = 0; m < MR; ++m) {
        const int iy = iy0[m] + int(u * pc.dl), ix = ix0[m] + int(q * pc.dl);
        off[m] = (iy >= 0 && iy < int(pc.h) && ix >= 0 && ix < int(pc.w))
                     ? int(sbase) + (iy * int(pc.w) + ix) * int(pc.c)
                     : -1;
      }
      uint wo[NR];
      [[unroll]] for (uint j = 0; j < NR; ++j) wo[j] = ((oc[j] * kr + u) * ks + q) * cg;
#if DT == 2
      if (cg % 4 == 0) {
        // Word offsets (every offset is a multiple of 4 when cg is); zero words outside the image.
        for (uint i = 0; i < cg / 4; ++i) {
          uint a[MR], b[NR];
          [[unroll]] for (uint m = 0; m < MR; ++m) a[m] = off[m] >= 0 ? src[uint(off[m]) / 4 + i] : 0u;
          [[unroll]] for (uint j = 0; j < NR; ++j) b[j] = wt[wo[j] / 4 + i];
          [[unroll]] for (uint m = 0; m < MR; ++m)
            [[unroll]] for (uint j = 0; j < NR; ++j) acc[m][j] += tb_dot_u8s8(a[m], b[j]);
        }
      } else {
        // Channels that do not fill words (an RGB input layer): one byte at a time, still one
        // src load per NR multiply-adds and one weight load per MR.
        for (uint i = 0; i < cg; ++i) {
          int a[MR], b[NR];
          [[unroll]] for (uint m = 0; m < MR; ++m) a[m] = off[m] >= 0 ? tb_src(uint(off[m]) + i) : 0;
          [[unroll]] for (uint j = 0; j < NR; ++j) b[j] = tb_wt(wo[j] + i);
          [[unroll]] for (uint m = 0; m < MR; ++m)
            [[unroll]] for (uint j = 0; j < NR; ++j) acc[m][j] += a[m] * b[j];
        }
      }
#else
      for (uint i = 0; i < cg; ++i) {
        float a[MR], b[NR];
        [[unroll]] for (uint m = 0; m < MR; ++m) a[m] = off[m] >= 0 ? tb_src(uint(off[m]) + i) : 0.0;
        [[unroll]] for (uint j = 0; j < NR; ++j) b[j] = tb_wt(wo[j] + i);
        [[unroll]] for (uint m = 0; m < MR; ++m)
          [[unroll]] for (uint j = 0; j < NR; ++j) acc[m][j] = fma(a[m], b[j], acc[m][j]);
      }
#endif
    }
  }
  // Epilogue per element (MR * NR small: unrolled GELU stays cheap to compile).
  [[unroll]] for (uint m = 0; m < MR; ++m) {
    const uint p = pbi * MR + m;
    [[unroll]] for (uint j = 0; j < NR; ++j) {
      if (p < P && j0 + j < pc.kg) {
        const uint o = g * pc.kg + j0 + j, d = (n * P + p) * pc.k + o;
        tb_store(d, o, acc[m][j]);
      }
    }
  }
}
