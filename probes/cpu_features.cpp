#include "cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstring>

namespace tb {

namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

std::uint64_t xgetbv0() {
  std::uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

bool bit(unsigned v, int b) {
  return (v >> b) & 1u;
}

CpuFeatures detect() {
  CpuFeatures f;
  const Regs r0 = cpuid(0);
  const unsigned max_leaf = r0.a;
  char vendor[13] = {};
  std::memcpy(vendor, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  f.vendor = vendor;

  const Regs r1 = cpuid(1);
  const unsigned base_family = (r1.a >> 8) & 0xf, base_model = (r1.a >> 4) & 0xf;
  f.family =
      static_cast<int>(base_family == 0xf ? base_family + ((r1.a >> 20) & 0xff) : base_family);
  f.model = static_cast<int>((base_family == 0x6 || base_family == 0xf)
                                 ? (((r1.a >> 16) & 0xf) << 4) + base_model
                                 : base_model);
  f.stepping = static_cast<int>(r1.a & 0xf);
  f.sse42 = bit(r1.c, 20);
  f.hypervisor = bit(r1.c, 31);
  const bool osxsave = bit(r1.c, 27);
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  f.avx = bit(r1.c, 28) && os_ymm;
  f.f16c = bit(r1.c, 29) && f.avx;
  f.fma = bit(r1.c, 12) && f.avx;

  if (max_leaf >= 7) {
    const Regs r7 = cpuid(7, 0);
    f.avx2 = bit(r7.b, 5) && f.avx;
    f.avx512f = bit(r7.b, 16) && os_zmm;
    f.avx512dq = bit(r7.b, 17) && f.avx512f;
    f.avx512bw = bit(r7.b, 30) && f.avx512f;
    f.avx512vl = bit(r7.b, 31) && f.avx512f;
    f.avx512_vnni = bit(r7.c, 11) && f.avx512f;
    f.avx512_fp16 = bit(r7.d, 23) && f.avx512f;
    f.amx_bf16 = bit(r7.d, 22) && os_amx;
    f.amx_tile = bit(r7.d, 24) && os_amx;
    f.amx_int8 = bit(r7.d, 25) && os_amx;
    if (r7.a >= 1) {
      const Regs r71 = cpuid(7, 1);
      f.avx_vnni = bit(r71.a, 4) && f.avx;
      f.avx512_bf16 = bit(r71.a, 5) && f.avx512f;
    }
  }

  const unsigned max_ext = cpuid(0x80000000u).a;
  if (max_ext >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002u + i);
      std::memcpy(brand + 16 * i, &r.a, 4);
      std::memcpy(brand + 16 * i + 4, &r.b, 4);
      std::memcpy(brand + 16 * i + 8, &r.c, 4);
      std::memcpy(brand + 16 * i + 12, &r.d, 4);
    }
    std::string s = brand;
    const auto b = s.find_first_not_of(' ');
    const auto e = s.find_last_not_of(' ');
    f.brand = b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
  }
  return f;
}

}  // namespace

std::string CpuFeatures::best_f32_isa() const {
  if (avx512f) return "avx512";
  if (avx2 && fma) return "avx2";
  return "scalar";
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace tb
