// Run-time CPU feature detection (cpuid + xgetbv), never assumed from the build flags.
// Kernels dispatch on these; the probe reports them.
#pragma once

#include <string>

namespace tb {

struct CpuFeatures {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string brand;   // cpuid brand string, trimmed
  int family = 0, model = 0, stepping = 0;
  bool sse42 = false, avx = false, f16c = false, fma = false, avx2 = false;
  bool avx512f = false, avx512dq = false, avx512bw = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
  bool hypervisor = false;  // cpuid leaf 1 ECX bit 31: running under a hypervisor
  // The widest usable vector ISA for f32 FMA work: "avx512", "avx2", or "scalar".
  std::string best_f32_isa() const;
};

// Detected once per process; safe to call from any thread.
const CpuFeatures& cpu_features();

}  // namespace tb
