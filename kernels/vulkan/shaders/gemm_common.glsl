// Shared by the GEMM shaders: bindings, push constants, specialization constants, epilogue, and
// the element types of the packed shaders (DT define: 0 f32, 1 f16, 2 u8 x s8 -> s32, 3 f32
// loaded 8 at a time, 4 bf16 x bf16 -> f32; DOT with DT 2: packed dot products, dtype.glsl).
// Specialization constants: 0/1 workgroup size x/y, 4 bias, 5 activation (0 none, 1 relu,
// 2 relu6, 3 gelu, 4 silu), 6 residual, 7 scales (int8 only: C = float(acc) * a_scale *
// b_scale[col], then the rest of the epilogue; C and the residual are f32, kept as their bits in
// the int buffers). Ids 2/3 are reserved (they once carried TM/TN).
// Bindings: 0 A, 1 B, 2 C, 3 bias, 4 residual, 5 a_scale [1], 6 b_scale [N].
//
// The block of C per invocation (TM x TN) is a compile-time define, not a specialization
// constant: loops over it carry [[unroll]], so glslc's optimiser unrolls them and replaces the
// accumulator arrays by scalars. With spec-constant bounds the arrays reach the driver indexed by
// loop variables; lavapipe lowers such indexing to compare ladders before unrolling, and shader
// compilation grows quadratically (8x16: ~60 s, 16x16: > 5 min, on the first dispatch).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z = 1) in;
layout(constant_id = 4) const bool HAS_BIAS = false;
layout(constant_id = 5) const int ACT = 0;
layout(constant_id = 6) const bool HAS_RES = false;
layout(constant_id = 7) const bool HAS_SCALES = false;

#ifndef DT
#define DT 0
#endif

// C and the residual are of the output type: f32, f16 or s32 (kernels/problem.cpp gemm_types).
#if DT == 1
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define C_T float16_t
#elif DT == 2
#define C_T int
#else
#define C_T float
#endif
layout(std430, binding = 2) buffer BufC { C_T c[]; };
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { C_T res[]; };
layout(std430, binding = 5) readonly buffer BufAScale { float a_scale[]; };
layout(std430, binding = 6) readonly buffer BufBScale { float b_scale[]; };

// Sizes in elements. Naive shader: A(i,p) = a[sa*b + i*a_r + p*a_c], likewise B(p,j) with b_r,
// b_c. Packed shaders: A is m x K4 vec4 rows (row stride a_r), B transposed n x K4 (row stride
// b_r), K is K4 (k rounded up to 4, zero-padded); batch strides in vec4.
layout(push_constant) uniform Push {
  uint M, N, K;
  uint a_r, a_c, b_r, b_c;
  uint sa, sb, sc;
} pc;

#include "activation.glsl"
#include "dtype.glsl"

// The residual as a float: s32, or with scales f32 bits.
float tb_res(uint o) {
#if DT == 2
  return HAS_SCALES ? intBitsToFloat(res[o]) : float(res[o]);
#else
  return float(res[o]);
#endif
}

float tb_epilogue(float v, uint row, uint col, uint batch) {
  if (HAS_SCALES) v *= a_scale[0] * b_scale[col];
  if (HAS_BIAS) v += bias[col];
  v = tb_act(v, ACT);
  if (HAS_RES) v += tb_res(batch * pc.sc + row * pc.N + col);
  return v;
}

// Output conversion: s32 rounds to nearest even (as the reference's nearbyint), f16 to nearest;
// int8 with scales keeps the f32's bits.
C_T tb_to_c(float v) {
#if DT == 2
  return HAS_SCALES ? floatBitsToInt(v) : int(roundEven(v));
#else
  return C_T(v);
#endif
}

bool tb_has_epilogue() { return HAS_SCALES || HAS_BIAS || ACT != 0 || HAS_RES; }

// Whether the packed shaders (reg, sg) apply the epilogue in their unrolled store: when it is
// cheap to unroll (bias, relu / relu6, residual). One pass over C instead of two: on lavapipe a
// small-k GEMM is bound by its stores (MobileNetV2's expand layers). GELU and SiLU keep the
// separate, not unrolled pass (tb_epilogue_block) for compile time. Without an epilogue the raw
// store keeps s32 exact.
bool tb_inline_epilogue() { return tb_has_epilogue() && ACT <= 2; }

// Applies the epilogue in place to the rows x cols block of C at (row0, col0), in a loop that is
// not unrolled (the block was stored raw by unrolled code; GELU unrolled TM*TN times would make
// shader compilation slow). Same invocation, same addresses: its own writes are visible.
void tb_epilogue_block(uint row0, uint col0, uint rows, uint cols, uint bz) {
  if (!tb_has_epilogue()) return;
  [[dont_unroll]] for (uint idx = 0; idx < rows * cols; ++idx) {
    const uint row = row0 + idx / cols, col = col0 + idx % cols;
    if (row < pc.M && col < pc.N) {
      const uint o = bz * pc.sc + row * pc.N + col;
      c[o] = tb_to_c(tb_epilogue(float(c[o]), row, col, bz));
    }
  }
}

// ---- packed operands (gemm_reg.comp, gemm_sg.comp) ----------------------------------------
// A is m x K rows and B^T n x K rows of LOAD_T, each holding a run of k values (zero-padded):
//   f32  vec4 (4 k values), f16 f16vec4 (4), u8/s8 uvec4 (16: four words of four bytes),
//   f32 wide (DT=3) u64vec4 (8), bf16 (DT=4) uvec4 (8: four words of two).
// A loaded element is turned into OP_N operand vectors of OP_T (tb_op_a / tb_op_b), and a
// multiply-add of two operand vectors into ACC_T is tb_mac: f32 FMAs, or exact int32 products
// for the 8-bit types (int8 data in 32-bit words, unpacked with bitfieldExtract: no 8-bit
// storage or integer-dot-product feature needed).
#if DT == 2 && defined(DOT)
// Operands stay packed words; a multiply-add is one packed dot product (dtype.glsl).
#define LOAD_T uvec4
#define RAW_T uvec4  // what the loaded element is kept (and broadcast) as
#define OP_T uint
#define ACC_T int
#define OP_N 4
RAW_T tb_raw(LOAD_T w) { return w; }
OP_T tb_op_a(RAW_T w, int q) { return w[q]; }
OP_T tb_op_b(RAW_T w, int q) { return w[q]; }
ACC_T tb_mac(OP_T x, OP_T y, ACC_T s) { return s + tb_dot_u8s8(x, y); }
#elif DT == 2
#define LOAD_T uvec4
#define RAW_T uvec4
#define OP_T ivec4
#define ACC_T int
#define OP_N 4
RAW_T tb_raw(LOAD_T w) { return w; }
OP_T tb_op_a(RAW_T w, int q) { return tb_u8x4(w[q]); }  // A: u8
OP_T tb_op_b(RAW_T w, int q) { return tb_s8x4(w[q]); }  // B: s8
ACC_T tb_mac(OP_T x, OP_T y, ACC_T s) { return s + x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w; }
#elif DT == 4
// bf16: eight k values per uvec4, widened exactly to f32; f32 FMAs.
#define LOAD_T uvec4
#define RAW_T uvec4
#define OP_T vec4
#define ACC_T float
#define OP_N 2
RAW_T tb_raw(LOAD_T w) { return w; }
OP_T tb_op_a(RAW_T w, int q) { return tb_bf16x4(uvec2(w[2 * q], w[2 * q + 1])); }
OP_T tb_op_b(RAW_T w, int q) { return tb_op_a(w, q); }
ACC_T tb_mac(OP_T x, OP_T y, ACC_T s) { return fma(x.x, y.x, fma(x.y, y.y, fma(x.z, y.z, fma(x.w, y.w, s)))); }
#elif DT == 3
// f32 loaded 8 k values at a time as a u64vec4 of raw bits (32 bytes, one load instruction on
// lavapipe, where every load costs the same whatever its width: twice the FMAs per load of vec4).
// Needs shaderInt64; the bits are only reinterpreted, never converted.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#define LOAD_T u64vec4
#define RAW_T u64vec4
#define OP_T vec4
#define ACC_T float
#define OP_N 2
RAW_T tb_raw(LOAD_T w) { return w; }
OP_T tb_wide(RAW_T w, int q) {
  return vec4(uintBitsToFloat(unpack32(w[2 * q])), uintBitsToFloat(unpack32(w[2 * q + 1])));
}
OP_T tb_op_a(RAW_T w, int q) { return tb_wide(w, q); }
OP_T tb_op_b(RAW_T w, int q) { return tb_wide(w, q); }
ACC_T tb_mac(OP_T x, OP_T y, ACC_T s) { return fma(x.x, y.x, fma(x.y, y.y, fma(x.z, y.z, fma(x.w, y.w, s)))); }
#else
#if DT == 1
#define LOAD_T f16vec4
#else
#define LOAD_T vec4
#endif
#define RAW_T vec4
#define OP_T vec4
#define ACC_T float
#define OP_N 1
RAW_T tb_raw(LOAD_T w) { return vec4(w); }
OP_T tb_op_a(RAW_T w, int q) { return w; }
OP_T tb_op_b(RAW_T w, int q) { return w; }
ACC_T tb_mac(OP_T x, OP_T y, ACC_T s) { return fma(x.x, y.x, fma(x.y, y.y, fma(x.z, y.z, fma(x.w, y.w, s)))); }
#endif
