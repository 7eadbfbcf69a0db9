// The one pseudo-random generator of the workloads' synthetic data (weights, inputs, KV caches):
// splitmix64, so that a seed names the same bytes on every machine and build.
#pragma once

#include <cstdint>

namespace tb::workloads {

inline std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace tb::workloads
