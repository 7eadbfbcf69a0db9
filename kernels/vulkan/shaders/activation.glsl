// Activations shared by the GEMM, conv and small-op shaders: 0 none, 1 relu, 2 relu6, 3 gelu (erf
// form, as the reference), 4 silu.

// erf(x), Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7 (GLSL has no erf).
float tb_erf(float x) {
  const float ax = abs(x);
  const float t = 1.0 / (1.0 + 0.3275911 * ax);
  const float poly =
      t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const float y = 1.0 - poly * exp(-ax * ax);
  return x < 0.0 ? -y : y;
}

float tb_act(float v, int act) {
  if (act == 1) return max(v, 0.0);
  if (act == 2) return clamp(v, 0.0, 6.0);
  if (act == 3) return 0.5 * v * (1.0 + tb_erf(v * 0.70710678118654752));
  if (act == 4) return v / (1.0 + exp(-v));
  return v;
}
