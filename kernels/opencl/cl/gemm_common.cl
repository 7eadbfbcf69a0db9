// Shared by the GEMM, conv and attention kernels: operand element types and the epilogue.
//
// Element types, per operand, chosen by build options (kind codes, as OpenclKind on the host):
//   TA_K  A / src / Q K V   TB_K  B / weights   TC_K  C / dst and the residual
//   0 f32, 1 f16, 2 bf16, 3 u8, 4 s8, 5 s32 (default 0). Storage only: every load widens to f32
// (f16 through vload_half, core OpenCL C, no cl_khr_fp16 needed; bf16 by a shift) and every
// store narrows from f32 (f16: round to nearest even; s32: round to nearest even, saturated).
// Arithmetic stays f32, so that one kernel serves every type.
//   LDA(p, i) / LDB / LDC: element i as a float; STC(x, p, i): store a float as C's type.
//   tb_lda16(p, valid), tb_ldb16, tb_ldc16: 16 consecutive elements (zero past valid);
//   tb_stc16(p, valid, x): 16 stores as C's type.
#ifndef TA_K
#define TA_K 0
#endif
#ifndef TB_K
#define TB_K 0
#endif
#ifndef TC_K
#define TC_K 0
#endif
#define TB_CAT_(a, b) a##b
#define TB_CAT(a, b) TB_CAT_(a, b)

#define TB_T0 float
#define TB_T1 half
#define TB_T2 ushort
#define TB_T3 uchar
#define TB_T4 char
#define TB_T5 int
#define TYA TB_CAT(TB_T, TA_K)
#define TYB TB_CAT(TB_T, TB_K)
#define TYC TB_CAT(TB_T, TC_K)

#define TB_LD0(p, i) ((p)[i])
#define TB_LD1(p, i) vload_half((i), (p))
#define TB_LD2(p, i) as_float((uint)((p)[i]) << 16)
#define TB_LD3(p, i) ((float)((p)[i]))
#define TB_LD4(p, i) ((float)((p)[i]))
#define TB_LD5(p, i) ((float)((p)[i]))
#define LDA(p, i) TB_CAT(TB_LD, TA_K)(p, i)
#define LDB(p, i) TB_CAT(TB_LD, TB_K)(p, i)
#define LDC(p, i) TB_CAT(TB_LD, TC_K)(p, i)

// 16 consecutive elements from p, all valid.
#define TB_LDV0(p) vload16(0, (p))
#define TB_LDV1(p) vload_half16(0, (p))
#define TB_LDV2(p) as_float16(convert_uint16(vload16(0, (p))) << 16)
#define TB_LDV3(p) convert_float16(vload16(0, (p)))
#define TB_LDV4(p) convert_float16(vload16(0, (p)))
#define TB_LDV5(p) convert_float16(vload16(0, (p)))

// bf16, round to nearest even, NaN kept quiet (as f32_to_bf16 on the host).
inline ushort tb_bf16(const float x) {
  uint u = as_uint(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (ushort)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (ushort)(u >> 16);
}

#define TB_ST0(x, p, i) ((p)[i] = (x))
#define TB_ST1(x, p, i) vstore_half_rte((x), (i), (p))
#define TB_ST2(x, p, i) ((p)[i] = tb_bf16(x))
#define TB_ST5(x, p, i) ((p)[i] = convert_int_sat_rte(x))
#define STC(x, p, i) TB_CAT(TB_ST, TC_K)(x, p, i)

#define TB_DEFINE_LD16(NAME, T, K)                                         \
  inline float16 NAME(const __global T* p, const int valid) {               \
    if (valid >= 16) return TB_CAT(TB_LDV, K)(p);                           \
    float t[16];                                                            \
    for (int l = 0; l < 16; ++l) t[l] = l < valid ? TB_CAT(TB_LD, K)(p, l) : 0.0f; \
    return vload16(0, t);                                                   \
  }
TB_DEFINE_LD16(tb_load16, float, 0)
TB_DEFINE_LD16(tb_lda16, TYA, TA_K)
TB_DEFINE_LD16(tb_ldb16, TYB, TB_K)
TB_DEFINE_LD16(tb_ldc16, TYC, TC_K)

inline void tb_store16(__global float* p, const int valid, const float16 x) {
  if (valid >= 16) {
    vstore16(x, 0, p);
    return;
  }
  float t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < valid; ++l) p[l] = t[l];
}

inline void tb_stc16(__global TYC* p, const int valid, const float16 x) {
#if TC_K == 0
  tb_store16(p, valid, x);
#elif TC_K == 1
  if (valid >= 16) {
    vstore_half16_rte(x, 0, p);
    return;
  }
  float t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < valid; ++l) vstore_half_rte(t[l], l, p);
#else
  float t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < min(valid, 16); ++l) STC(t[l], p, l);
#endif
}

// Exact integer accumulation in f32 (INT_ACC: u8 x s8 operands on the f32 kernels). A product
// of a u8 and an s8 is at most 255 * 128 = 32640 in magnitude, so every partial sum of up to
// TB_INT_BLOCK = 512 of them stays below 2^24 and is exact in f32. The kernels sum blocks of at
// most that many products in f32 and add each block to an int accumulator: exact, as the
// reference's s32 sum.
#define TB_INT_BLOCK 512

inline void tb_store16i(__global int* p, const int valid, const int16 x) {
  if (valid >= 16) {
    vstore16(x, 0, p);
    return;
  }
  int t[16];
  vstore16(x, 0, t);
  for (int l = 0; l < valid; ++l) p[l] = t[l];
}
inline int16 tb_load16i(const __global int* p, const int valid) {
  if (valid >= 16) return vload16(0, p);
  int t[16];
  for (int l = 0; l < 16; ++l) t[l] = l < valid ? p[l] : 0;
  return vload16(0, t);
}

// The epilogue, chosen at run time by the `epi` argument so that one program binary serves
// every epilogue, in the order of kernels/problem.h:
//   epi & 32: multiply by a_scale[0] * b_scale[col] (+scales: dequantise an integer sum)
//   epi & 8: add bias[col];  epi & 7: activation (0 none, 1 relu, 2 relu6, 3 gelu (erf form),
//   4 silu);  epi & 16: add the residual.
#define EPI_BIAS 8
#define EPI_RES 16
#define EPI_SCALES 32

#define TB_DEFINE_ACT(T, NAME)                                       \
  inline T NAME(const T x, const int act) {                          \
    switch (act) {                                                   \
      case 1: return fmax(x, 0.0f);                                  \
      case 2: return fmin(fmax(x, 0.0f), 6.0f);                      \
      case 3: return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f)); \
      case 4: return x / (1.0f + exp(-x));                           \
      default: return x;                                             \
    }                                                                \
  }
TB_DEFINE_ACT(float, tb_act)
TB_DEFINE_ACT(float16, tb_act16)

// Scales (a_scale [1], b_scale [N]), bias and activation of 16 columns from col (valid of
// them); the residual is the caller's (its layout differs between kernels).
inline float16 tb_epi16(float16 x, const __global float* as, const __global float* bs,
                        const __global float* bias, const int col, const int valid,
                        const int epi) {
  if (epi & EPI_SCALES) x *= as[0] * tb_load16(bs + col, valid);
  if (epi & EPI_BIAS) x += tb_load16(bias + col, valid);
  return tb_act16(x, epi & 7);
}
inline float tb_epi(float x, const __global float* as, const __global float* bs,
                    const __global float* bias, const int col, const int epi) {
  if (epi & EPI_SCALES) x *= as[0] * bs[col];
  if (epi & EPI_BIAS) x += bias[col];
  return tb_act(x, epi & 7);
}

// A node's activation after its whole epilogue (device graphs: ResNet's ReLU after the residual
// add), in place over n floats. global: (n).
__kernel void tb_act_inplace(__global float* x, const int act) {
  const int i = get_global_id(0);
  x[i] = tb_act(x[i], act);
}

// A graph node's operand converted on the way in (device graphs): f32 -> u8 with a static scale
// and zero point, q = clamp(rint(x / scale) + zp, 0, 255) (rint: to nearest even, as the host's
// quantize_u8), or f32 -> bf16 (round to nearest even). global: (n).
__kernel void tb_quantize_u8(__global const float* restrict x, __global uchar* restrict q,
                             const float scale, const int zp) {
  const int i = get_global_id(0);
  q[i] = (uchar)clamp((int)rint(x[i] / scale) + zp, 0, 255);
}
__kernel void tb_round_bf16(__global const float* restrict x, __global ushort* restrict y) {
  const int i = get_global_id(0);
  y[i] = tb_bf16(x[i]);
}
