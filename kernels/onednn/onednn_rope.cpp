// RoPE on the oneDNN backend: a hand-written loop (Plan::custom, "tb:rope"); oneDNN 2.6 has no
// primitive for it.
#include "onednn_ops.h"

namespace tb::onednn {

void build_rope(Plan& plan, const Problem& p, const RopeDesc& d) {
  need_f32(p);
  const std::int64_t T = d.t, H = d.h, D = d.d, half = d.d / 2;
  const int x = plan.input(0, plain_md({T, H, D}, DType::f32));
  const int c = plan.input(1, plain_md({T, half}, DType::f32));
  const int s = plan.input(2, plain_md({T, half}, DType::f32));
  const int y = plan.output(0, plain_md({T, H, D}, DType::f32));
  plan.custom("tb:rope", [=](std::vector<dnnl::memory>& m) {
    const float *X = ptr<float>(m, x), *C = ptr<float>(m, c), *S = ptr<float>(m, s);
    float* Y = ptr<float>(m, y);
#pragma omp parallel for collapse(2) schedule(static)
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t h = 0; h < H; ++h) {
        const float* xr = X + (t * H + h) * D;
        float* yr = Y + (t * H + h) * D;
        const float *cr = C + t * half, *sr = S + t * half;
#pragma omp simd
        for (std::int64_t i = 0; i < half; ++i) {
          yr[i] = xr[i] * cr[i] - xr[i + half] * sr[i];
          yr[i + half] = xr[i + half] * cr[i] + xr[i] * sr[i];
        }
      }
  });
}

}  // namespace tb::onednn
