// The last-level cache size that the later layers size their cache-beating buffers by.
#pragma once

#include <cstdint>

namespace tb::probe {

// Whether a pointer chase that took `ns` per step hit a cache: it lies below 40% of the way from
// `near_ns` (the chase within the next smaller cache) to `dram_ns`. Both the probe's
// `cache_size_implausible` warning and plausible_last_level_bytes() decide by it. Where the 40%
// comes from: on a 2-vCPU bhyve guest (6.5 ns in L2, DRAM 208 ns) a chase over 8 MiB took 19 ns
// and over 16 MiB 102 ns, a miss (the line is 87 ns); a server L3 at 33-40 ns with L2 at 5 and
// DRAM at 110-130 is a hit (the line is 47-55 ns).
bool chase_hits_cache(double ns, double near_ns, double dram_ns);

// The last-level cache a core sees, in bytes: `reported` (the OS's figure) when it is at most
// 64 MiB, or when a pointer chase over half of it (of 256 MiB at most) hits (chase_hits_cache,
// near = a chase over half of per_core); else the largest halving of it that hits, at least
// per_core. A hypervisor may report its host's cache: a 2-vCPU bhyve guest read an L3 of
// 508 MiB, and a core of it sees about 16 MiB. Takes a second or two when it measures.
std::uint64_t plausible_last_level_bytes(std::uint64_t reported, std::uint64_t per_core);

}  // namespace tb::probe
