// Shared by the GEMM shaders: bindings, push constants, specialization constants, epilogue.
// Specialization constants: 0/1 workgroup size x/y, 4 bias, 5 activation (0 none, 1 relu,
// 2 relu6, 3 gelu, 4 silu), 6 residual. Ids 2/3 are reserved (they once carried TM/TN).
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

layout(std430, binding = 2) buffer BufC { float c[]; };
layout(std430, binding = 3) readonly buffer BufBias { float bias[]; };
layout(std430, binding = 4) readonly buffer BufRes { float res[]; };

// Sizes in elements. Naive shader: A(i,p) = a[sa*b + i*a_r + p*a_c], likewise B(p,j) with b_r,
// b_c. Packed shaders: A is m x K4 vec4 rows (row stride a_r), B transposed n x K4 (row stride
// b_r), K is K4 (k rounded up to 4, zero-padded); batch strides in vec4.
layout(push_constant) uniform Push {
  uint M, N, K;
  uint a_r, a_c, b_r, b_c;
  uint sa, sb, sc;
} pc;

#include "activation.glsl"

float tb_epilogue(float v, uint row, uint col, uint batch) {
  if (HAS_BIAS) v += bias[col];
  v = tb_act(v, ACT);
  if (HAS_RES) v += res[batch * pc.sc + row * pc.N + col];
  return v;
}

bool tb_has_epilogue() { return HAS_BIAS || ACT != 0 || HAS_RES; }

// Applies the epilogue in place to the rows x cols block of C at (row0, col0), in a loop that is
// not unrolled (the block was stored raw by unrolled code; GELU unrolled TM*TN times would make
// shader compilation slow). Same invocation, same addresses: its own writes are visible.
void tb_epilogue_block(uint row0, uint col0, uint rows, uint cols, uint bz) {
  if (!tb_has_epilogue()) return;
  [[dont_unroll]] for (uint idx = 0; idx < rows * cols; ++idx) {
    const uint row = row0 + idx / cols, col = col0 + idx % cols;
    if (row < pc.M && col < pc.N) {
      const uint o = bz * pc.sc + row * pc.N + col;
      c[o] = tb_epilogue(c[o], row, col, bz);
    }
  }
}
