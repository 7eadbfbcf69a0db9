// A small reader and writer of the safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"k": "v"}}, then the raw little-endian
// data, offsets relative to its start. Every malformed file is a clean error naming the problem.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "kernels.h"

namespace tb::workloads {

struct StTensor {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // relative to the data section
};

struct StHeader {
  std::vector<StTensor> tensors;  // in the header's order
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // absolute offset of the data section in the file
  const StTensor* find(const std::string& name) const;
};

std::string_view st_dtype_name(DType dt);  // F32, BF16, F16, I8, U8, I32

// Tensor headers for `specs` laid out back to back (what the writer produces).
struct StSpec {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
};

// Writes a file from specs, asking `fill(i, buffer)` for the bytes of tensor i (so that large
// files are produced without holding them in memory). Writes to path.tmp, fsyncs, renames.
Result<void> write_safetensors(const std::string& path, const std::vector<StSpec>& specs,
                               const std::map<std::string, std::string>& metadata,
                               const std::function<void(std::size_t, std::span<std::byte>)>& fill);

Result<StHeader> read_safetensors_header(const std::string& path);

// Reads the named tensors (header order of `names` kept) into host tensors with pread.
// `cold`: fdatasync + posix_fadvise(DONTNEED) first, so the read comes from storage.
Result<std::vector<Tensor>> read_safetensors(const std::string& path, const StHeader& h,
                                             const std::vector<std::string>& names, bool cold);

}  // namespace tb::workloads
