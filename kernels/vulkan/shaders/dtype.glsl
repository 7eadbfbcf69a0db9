// Element types beyond f32, shared by the GEMM, conv, attention and conversion shaders. Types the
// core of Vulkan cannot load directly live in 32-bit words, so that no feature is needed for them:
//   u8 / s8: four to a word (element i: bits 8 (i % 4) .. of word i / 4), widened exactly with
//            bitfieldExtract (zero- or sign-extending);
//   bf16:    two to a word (element i: the low half when i is even), widened exactly to f32 by a
//            shift (bf16 is the upper half of an f32).
// f16 uses float16_t storage buffers (16-bit storage and shaderFloat16, checked by the host).
//
// Packed 4 x 8-bit dot products: with DOT defined, tb_dot_u8s8 is OpSUDotKHR
// (SPV_KHR_integer_dot_product, PackedVectorFormat4x8Bit), declared through GL_EXT_spirv_intrinsics
// because glslang 11 (Debian 12's glslc) has no GLSL extension for it; the host picks these
// variants only where the device enables shaderIntegerDotProduct. Without DOT, the same sum from
// four widened products: exact either way.

float tb_bf16_lo(uint w) { return uintBitsToFloat(w << 16); }
float tb_bf16_hi(uint w) { return uintBitsToFloat(w & 0xffff0000u); }
vec4 tb_bf16x4(uvec2 w) {
  return vec4(tb_bf16_lo(w.x), tb_bf16_hi(w.x), tb_bf16_lo(w.y), tb_bf16_hi(w.y));
}
// Element i of a bf16 array stored as words.
float tb_bf16_at(uint w, uint i) { return (i & 1u) != 0u ? tb_bf16_hi(w) : tb_bf16_lo(w); }

ivec4 tb_u8x4(uint w) {
  return ivec4(bitfieldExtract(w, 0, 8), bitfieldExtract(w, 8, 8), bitfieldExtract(w, 16, 8),
               bitfieldExtract(w, 24, 8));
}
ivec4 tb_s8x4(uint w) {
  const int x = int(w);
  return ivec4(bitfieldExtract(x, 0, 8), bitfieldExtract(x, 8, 8), bitfieldExtract(x, 16, 8),
               bitfieldExtract(x, 24, 8));
}
int tb_u8_at(uint w, uint i) { return int(bitfieldExtract(w, int(i & 3u) * 8, 8)); }
int tb_s8_at(uint w, uint i) { return bitfieldExtract(int(w), int(i & 3u) * 8, 8); }

#ifdef DOT
#extension GL_EXT_spirv_intrinsics : require
// OpSUDotKHR (4452): Vector 1 signed, Vector 2 unsigned; the literal 0 is PackedVectorFormat4x8Bit.
// Capabilities DotProductKHR (6019), DotProductInput4x8BitPackedKHR (6018).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018],
                  id = 4452)
int tb_sudot_packed(uint s8x4, uint u8x4, spirv_literal int packed_format);
int tb_dot_u8s8(uint a_u8, uint b_s8) { return tb_sudot_packed(b_s8, a_u8, 0); }
#else
int tb_dot_u8s8(uint a_u8, uint b_s8) {
  const ivec4 x = tb_u8x4(a_u8), y = tb_s8x4(b_s8);
  return x.x * y.x + x.y * y.y + x.z * y.z + x.w * y.w;
}
#endif

// Four consecutive elements of the floating-point type DT (0 f32, 1 f16, 4 bf16) as stored
// (TB_VEC4_T) and widened to a vec4. f16 needs the 16-bit storage and float16 extensions enabled
// by the including shader.
#if defined(DT) && DT == 1
#define TB_VEC4_T f16vec4
vec4 tb_vec4(f16vec4 x) { return vec4(x); }
#elif defined(DT) && DT == 4
#define TB_VEC4_T uvec2
vec4 tb_vec4(uvec2 w) { return tb_bf16x4(w); }
#else
#define TB_VEC4_T vec4
vec4 tb_vec4(vec4 x) { return x; }
#endif
