// Shared by the GEMM kernels: the epilogue, chosen at run time by the `epi` argument so that one
// program binary serves every epilogue:
//   epi & 7: activation (0 none, 1 relu, 2 relu6, 3 gelu (erf form), 4 silu)
//   epi & 8: add bias[col] before the activation;  epi & 16: add residual after it.
#define EPI_BIAS 8
#define EPI_RES 16

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

// Storage type of A, B, C and the residual: f32, or f16 with -DHALF_IO (storage only: loaded with
// vload_half and stored with vstore_half_rte, core OpenCL C on every device, no cl_khr_fp16;
// arithmetic stays f32). Bias is f32 either way.
#ifdef HALF_IO
#define TIO half
#define TB_LD(p, i) vload_half((i), (p))
#define TB_ST(x, p, i) vstore_half_rte((x), (i), (p))
#else
#define TIO float
#define TB_LD(p, i) (p)[i]
#define TB_ST(x, p, i) ((p)[i] = (x))
#endif

// A node's activation after its whole epilogue (device graphs: ResNet's ReLU after the residual
// add), in place over n floats. global: (n).
__kernel void tb_act_inplace(__global float* x, const int act) {
  const int i = get_global_id(0);
  x[i] = tb_act(x[i], act);
}
