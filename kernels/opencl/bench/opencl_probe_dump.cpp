// Prints probe_opencl's report as JSON (for compare_clpeak.sh and for eyeballing).
//   opencl_probe_dump [--quick] [--no-measure]
#include <cstdio>
#include <cstring>

#include "accel_probe.h"

int main(int argc, char** argv) {
  tb::AccelProbeOptions o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) o.quick = true;
    if (std::strcmp(argv[i], "--no-measure") == 0) o.measure = false;
  }
  std::printf("%s\n", tb::probe_opencl(o).dump(2).c_str());
  return 0;
}
