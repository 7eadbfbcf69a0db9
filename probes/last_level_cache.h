// The last-level cache size that the later layers size their cache-beating buffers by.
#pragma once

#include <cstdint>

namespace tb::probe {

// The last-level cache a core sees, in bytes: `reported` (the OS's figure) when it is at most
// 64 MiB, or when a pointer chase over half of it (of 256 MiB at most) hits: is nearer the
// per-core cache's latency than DRAM's (below a third of the way); else the largest halving of it
// that hits, at least per_core. A hypervisor may report its host's cache: a 2-vCPU bhyve guest
// read an L3 of 508 MiB, and a core of it sees about 16 MiB. Takes a second or two when it
// measures.
std::uint64_t plausible_last_level_bytes(std::uint64_t reported, std::uint64_t per_core);

}  // namespace tb::probe
