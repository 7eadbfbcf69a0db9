// Fuzz target: safetensors files (--weights, the model cache). Any file must be refused with a
// clean error or yield a header whose every tensor lies inside the file and reads back.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An in-memory file: the reader takes a path, and /proc/self/fd/N is one.
  static const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto h = tb::workloads::read_safetensors_header(path);
  if (!h) {
    if (h.error().message.empty()) std::abort();
    return 0;
  }
  std::vector<std::string> names;
  for (const auto& t : h->tensors) {
    if (t.end < t.begin || h->data_start + t.end > size) std::abort();
    names.push_back(t.name);
  }
  auto tensors = tb::workloads::read_safetensors(path, *h, names, /*cold=*/false);
  if (!tensors) std::abort();  // a header that checked out must read
  return 0;
}
