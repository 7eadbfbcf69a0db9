// Fuzz target: results files that `compare` and `import` read (tierbench.results/1 JSON). Any
// file must be refused with a clean error, or its results must feed the comparison engine
// (against itself and against nothing) without a crash or undefined behaviour.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "compare.h"
#include "results_io.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("fuzz.results.json", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    std::abort();
  auto doc = tb::io::read_results_file("/proc/self/fd/" + std::to_string(fd));
  if (!doc) {
    if (doc.error().message.empty()) std::abort();
    return 0;
  }
  auto results = tb::io::results_from_json(*doc);
  if (!results) std::abort();  // read_results_file checked them
  const auto set = tb::io::sample_set(*results);
  (void)tb::compare::compare(set, set);
  (void)tb::compare::compare({}, set);
  return 0;
}
