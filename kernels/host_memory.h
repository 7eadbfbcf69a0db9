// Host buffers for tensors (weights as loaded, activations, references).
#pragma once

#include <cstddef>

namespace tb {

// A buffer of `bytes` (at least 1), 64-byte aligned, freed with std::free; nullptr when out of
// memory. One of 2 MiB or more starts on a 2 MiB boundary and is advised as transparent huge
// pages (madvise MADV_HUGEPAGE; Debian's default THP mode, "madvise", backs only those) up to
// its last 4 KiB page, so that its resident size stays its size. Reading SmolLM-135M's 539 MB of
// f32 weights took 0.9 s instead of 1.9-2.5 here (one page fault per 2 MiB instead of per
// 4 KiB). Where the kernel does not back them, they are ordinary pages.
//
// Not for oneDNN's own copies of the weights: with huge pages there, SmolLM's decode ran 4-7%
// slower at one thread (23.0-24.5 ms against 22.1-22.8, interleaved runs), though their reorder
// took 0.8 s instead of 1.8.
std::byte* host_alloc(std::size_t bytes);

}  // namespace tb
