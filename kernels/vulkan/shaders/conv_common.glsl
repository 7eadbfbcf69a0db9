// Shared by the conv shaders (conv.comp, conv_igemm.comp, conv_dw.comp): element types, bindings,
// specialization constants and the epilogue. DT (as gemm_common.glsl): 0 f32; 1 f16 (f16
// storage, f32 arithmetic, f16 dst and residual); 2 u8 src x s8 weights -> s32 (bytes in words,
// exact int32 sums; with scales the dst and residual are f32, kept as their bits); 4 bf16 x bf16
// -> f32 (bf16 in words, f32 arithmetic). See dtype.glsl.
// Bindings: 0 src, 1 weights [k][r][s][cg], 2 dst, 3 bias, 4 residual, 5 a_scale [1],
// 6 b_scale [k] (dummies when absent). Specialization constants: 0 workgroup size, 1 bias,
// 2 activation (activation.glsl), 3 residual, 4 scales (conv_igemm.comp: 5-7 its window).
// SRC4 (conv_dw.comp) declares src as runs of 4 channels (tb_src4), and for f32 dst, bias and
// residual too (vec4 stores).
#ifndef DT
#define DT 0
#endif
#if DT == 1
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "op_common.glsl"
#include "activation.glsl"
#include "dtype.glsl"

layout(constant_id = 1) const bool HAS_BIAS = false;
layout(constant_id = 2) const int ACT = 0;
layout(constant_id = 3) const bool HAS_RES = false;
layout(constant_id = 4) const bool HAS_SCALES = false;

#if DT == 1
#define W_T float16_t
#define OUT_T float16_t
#define ACC_T float
#define ACC4_T vec4
#define SRC4_T f16vec4
#elif DT == 2
#define W_T uint
#define OUT_T int
#define ACC_T int
#define ACC4_T ivec4
#define SRC4_T uint
#elif DT == 4
#define W_T uint
#define OUT_T float
#define ACC_T float
#define ACC4_T vec4
#define SRC4_T uvec2
#else
#define W_T float
#define OUT_T float
#define ACC_T float
#define ACC4_T vec4
#define SRC4_T vec4
#endif

layout(std430, binding = 1) readonly buffer BufW { W_T wt[]; };
layout(std430, binding = 5) readonly buffer BufAScale { float a_scale[]; };
layout(std430, binding = 6) readonly buffer BufBScale { float b_scale[]; };

// Weight element i.
ACC_T tb_wt(uint i) {
#if DT == 2
  return tb_s8_at(wt[i >> 2], i);
#elif DT == 4
  return tb_bf16_at(wt[i >> 1], i);
#else
  return ACC_T(wt[i]);
#endif
}

#ifdef SRC4
layout(std430, binding = 0) readonly buffer BufS { SRC4_T src[]; };
// Channels 4i .. 4i + 3.
ACC4_T tb_src4(uint i) {
#if DT == 2
  return tb_u8x4(src[i]);
#elif DT == 4
  return tb_bf16x4(src[i]);
#else
  return ACC4_T(src[i]);
#endif
}
#else
#if DT == 2 || DT == 4
layout(std430, binding = 0) readonly buffer BufS { uint src[]; };
#else
layout(std430, binding = 0) readonly buffer BufS { W_T src[]; };
#endif
// Source element i.
ACC_T tb_src(uint i) {
#if DT == 2
  return tb_u8_at(src[i >> 2], i);
#elif DT == 4
  return tb_bf16_at(src[i >> 1], i);
#else
  return ACC_T(src[i]);
#endif
}
#endif

#if defined(SRC4) && DT == 0
layout(std430, binding = 2) writeonly buffer BufD { vec4 dst[]; };
layout(std430, binding = 3) readonly buffer BufBias { vec4 bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { vec4 res[]; };
#else
layout(std430, binding = 2) writeonly buffer BufD { OUT_T dst[]; };
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { OUT_T res[]; };

// dst[d] = act(acc * a_scale * b_scale[o] + bias[o]) + res[d], in the order of kernels/problem.h;
// an s32 dst without any epilogue takes the exact sum.
void tb_store(uint d, uint o, ACC_T acc) {
#if DT == 2
  if (!HAS_SCALES && !HAS_BIAS && ACT == 0 && !HAS_RES) {
    dst[d] = acc;
    return;
  }
#endif
  float v = float(acc);
  if (HAS_SCALES) v *= a_scale[0] * b_scale[o];
  if (HAS_BIAS) v += bias[o];
  v = tb_act(v, ACT);
#if DT == 2
  if (HAS_RES) v += HAS_SCALES ? intBitsToFloat(res[d]) : float(res[d]);
  dst[d] = HAS_SCALES ? floatBitsToInt(v) : int(roundEven(v));
#else
  if (HAS_RES) v += float(res[d]);
  dst[d] = OUT_T(v);
#endif
}
#endif
