// The switch registry and its recording; see switches.h.
#include "switches.h"

#include <algorithm>
#include <cstdlib>
#include <map>

extern char** environ;

namespace tb::env {

namespace {

using S = SwitchScope;

// Sorted by name (checked by known_switches_are_sorted in the tests). Keep the table in
// harness/README.md in step: the test compares them.
constexpr Switch kSwitches[] = {
    {"TB_ATTENTION_ISA", S::kernel, "kernels/cpu/attention_fused.cpp",
     "avx512bf16|avx512|avx2|scalar", "the best the CPU has",
     "caps the ISA of the hand-written fused CPU attention (oneDNN backend)"},
    {"TB_BIN_DIR", S::test_suite, "tests/harness/cli_helpers.cpp", "a build folder", "set by ctest",
     "where the CLI tests find the tierbench binary"},
    {"TB_CHROMIUM", S::test_suite, "tests/reports/test_report_browser.cpp", "a path",
     "/usr/bin/chromium", "the browser the HTML report test drives"},
    {"TB_FUZZ_SECONDS", S::script, "scripts/test.sh", "seconds", "10",
     "how long test.sh --fuzz runs each libFuzzer target"},
    {"TB_JOBS", S::script, "scripts/setup.sh, scripts/test.sh, scripts/fuzz.sh", "a number",
     "the number of cores", "build and test parallelism of the scripts"},
    {"TB_MOVES_ON_HOST", S::kernel, "workloads/executor.cpp", "1",
     "unset: in the segment where the backend has the kvwrite, permute and slice kernels",
     "1 keeps a decoder's KV-cache writes and a prefill's permutes and slices as host ops between "
     "segments, "
     "the caches and views going in and out of each segment (the anchor)"},
    {"TB_ONEDNN_ATTENTION", S::kernel, "kernels/onednn/onednn_attention.cpp", "auto|fused|composed",
     "auto",
     "attention on the oneDNN backend: the fused CPU kernel or oneDNN matmul, softmax, matmul "
     "primitives; auto takes fused where it supports the shape (not bf16 prefill without "
     "AVX512-BF16)"},
    {"TB_ONEDNN_GRAPH", S::kernel, "kernels/onednn/onednn_backend.cpp", "staged",
     "unset: resident graph",
     "staged runs a tier's segments one kernel at a time through host memory (the anchor)"},
    {"TB_ONEDNN_LAYOUT", S::kernel, "kernels/onednn/onednn_graph.cpp", "blocked|nhwc|any",
     "blocked",
     "activation layout inside oneDNN graphs (nChw16c / nChw8c, NHWC, or oneDNN's pick)"},
    {"TB_ONEDNN_SERIAL_MFLOP", S::kernel, "kernels/onednn/onednn_graph.cpp", "MFLOP", "1",
     "graph steps with less work (MFLOP; elements for a reorder) run on one thread, the rest on "
     "--threads; 0 runs every step on all"},
    {"TB_ONEDNN_SKIP_IMPLS", S::kernel, "kernels/onednn/onednn_common.cpp", "name,name",
     "unset: the built-in list (kKnownBadImpls)",
     "oneDNN implementations (impl_info_str) never used, added to those known to be wrong"},
    {"TB_ONEDNN_WINOGRAD", S::kernel, "kernels/onednn/onednn_graph.cpp", "auto|off|on", "auto",
     "Winograd for f32 3x3 stride-1 convolutions in oneDNN graphs: auto F(2x2,3x3) wherever "
     "offered and F(4x4,3x3) from 28x28 output positions over the batch, off never, on wherever "
     "the shape allows"},
    {"TB_OPENCL_ATTN_DECODE", S::kernel, "kernels/opencl/opencl_attention.cpp", "0|1",
     "unset: decode kernel when d % 16 == 0 and a kv head has few query rows",
     "forces the in-place decode attention kernel off (0) or on (1, where d allows)"},
    {"TB_OPENCL_ATTN_SPLITS", S::kernel, "kernels/opencl/opencl_attention.cpp", "n > 0",
     "unset: from the compute units", "forces n key splits (the two-pass attention path)"},
    {"TB_OPENCL_BINARY_CACHE", S::kernel, "kernels/opencl/program_cache.cpp", "0", "unset: on",
     "0 disables the OpenCL program binary cache (every prepare compiles)"},
    {"TB_OPENCL_CHILD_NO_ICD", S::test_suite, "tests/kernels/test_opencl_gemm.cpp", "1", "unset",
     "marks the test's child process that runs without an OpenCL driver"},
    {"TB_OPENCL_GEMM", S::kernel, "kernels/opencl/opencl_gemm.cpp", "packed|<config>",
     "unset: the tuned winner, else the device default",
     "forces the OpenCL GEMM configuration (source \"forced\" in metrics.config)"},
    {"TB_OPENCL_GRAPH_PACK_A", S::kernel, "kernels/opencl/opencl_gemm.cpp", "1",
     "unset: graphs read a row-major A in place",
     "1 packs A in graphs as single kernels do (A/B comparisons)"},
    {"TB_OPENCL_INT8_EMULATE", S::kernel, "kernels/opencl/opencl_gemm.cpp", "1",
     "unset: integer dot products where the device has them",
     "1 emulates the int8 dot products (OpenCL C 1.2 path)"},
    {"TB_OPENCL_PROBE_CHILD", S::test_suite, "tests/probes/test_opencl_probe.cpp", "1", "unset",
     "marks the OpenCL probe test's child process"},
    {"TB_REPORT_SHOTS", S::test_suite, "tests/reports/test_report_browser.cpp", "a folder", "unset",
     "keeps the HTML report test's screenshots in that folder"},
    {"TB_SOURCE_DIR", S::test_suite, "tests/ (several)", "a source folder", "set by ctest",
     "where tests find the source tree (READMEs, corpora, golden files)"},
    {"TB_TEST_FAULT", S::test, "harness/runner.cpp",
     "crash|crash-second|hang|oom|wrong:<backend>, crash:calibrate-<backend>, "
     "crash|hang:tune-<backend>",
     "unset",
     "test-only: that backend crashes, hangs or exceeds a memory limit after its first result, "
     "crashes inside its second problem, or computes wrong outputs; calibrate-<backend>: that "
     "backend's calibrate child crashes; tune-<backend>: that backend's tuner child crashes or "
     "hangs when its second candidate starts"},
    {"TB_TEST_SLOWDOWN", S::test, "harness/runner.cpp", "<glob>=<fraction>", "unset",
     "test-only: adds that fraction of each sample's time as busy work to matching benchmarks"},
    {"TB_TUNE_BUDGET", S::script, "scripts/main.sh", "seconds", "90",
     "the tuning budget of main.sh's first run"},
    {"TB_UPDATE_GOLDEN", S::test_suite, "tests/reports/test_reporter_formats.cpp", "1", "unset",
     "1 rewrites the reporters' golden files instead of comparing with them (for review)"},
    {"TB_VK_VALIDATION", S::diagnostic, "probes/vulkan_loader.cpp", "1", "unset: off",
     "Vulkan validation layers on; a validation error fails the kernel (slower)"},
    {"TB_VULKAN_ATTENTION", S::kernel, "kernels/vulkan/vulkan_attention.cpp", "reg|blk|generic",
     "reg below 2^21 (query, key) pairs over all heads, blk from there; generic when d % 4",
     "forces the Vulkan attention shader"},
    {"TB_VULKAN_ATTENTION_GENERIC", S::kernel, "kernels/vulkan/vulkan_attention.cpp", "any",
     "unset", "same as TB_VULKAN_ATTENTION=generic"},
    {"TB_VULKAN_CONV_DIRECT", S::kernel, "kernels/vulkan/vulkan_conv.cpp, vulkan_gemm.cpp", "any",
     "unset", "every Vulkan convolution runs conv_direct (pointwise and depthwise too)"},
    {"TB_VULKAN_CONV_DW", S::kernel, "kernels/vulkan/vulkan_conv.cpp", "0",
     "unset: conv_dw_4 for depthwise", "0 runs depthwise convolutions as conv_direct (the anchor)"},
    {"TB_VULKAN_GRAPH_CONV_AS_CONV", S::kernel, "kernels/vulkan/vulkan_gemm.cpp", "any",
     "unset: pointwise convs run as GEMMs", "pointwise convolutions run as convolution shaders"},
    {"TB_VULKAN_GRAPH_PROFILE", S::diagnostic, "kernels/vulkan/vulkan_graph.cpp", "any", "unset",
     "times every node of a resident Vulkan graph and prints the profile (slower)"},
    {"TB_VULKAN_INT8_DOT", S::kernel, "kernels/vulkan/vulkan_context.cpp", "0",
     "unset: packed dot products where the device has them",
     "0 computes int8 sums from widened bytes (the anchor)"},
    {"TB_VULKAN_STAGED_GRAPH", S::kernel, "kernels/vulkan/vulkan_backend.cpp", "any",
     "unset: one command buffer per inference",
     "Vulkan tiers run staged, one dispatch at a time through host memory"},
};

constexpr LibraryPrefix kPrefixes[] = {
    {"ONEDNN_", "oneDNN: ISA cap and hints (ONEDNN_MAX_CPU_ISA, ONEDNN_CPU_ISA_HINTS), verbose"},
    {"DNNL_", "oneDNN's older names for the same (DNNL_MAX_CPU_ISA, DNNL_VERBOSE)"},
    {"OMP_", "OpenMP: threads, binding, places, wait policy (OMP_NUM_THREADS, OMP_PROC_BIND)"},
    {"GOMP_", "libgomp: affinity and spin count (GOMP_CPU_AFFINITY, GOMP_SPINCOUNT)"},
    {"KMP_", "Intel OpenMP: affinity and block time (KMP_AFFINITY, KMP_BLOCKTIME)"},
    {"MKL_", "MKL threads (MKL_NUM_THREADS)"},
    {"OPENBLAS_", "OpenBLAS threads and core type (OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE)"},
    {"POCL_", "PoCL: threads, compute units, kernel cache, devices (POCL_MAX_PTHREAD_COUNT)"},
    {"OCL_ICD_", "the OpenCL ICD loader: which drivers load (OCL_ICD_VENDORS, OCL_ICD_FILENAMES)"},
    {"RUSTICL_", "Mesa's rusticl OpenCL driver (RUSTICL_ENABLE)"},
    {"VK_", "the Vulkan loader: drivers and layers (VK_ICD_FILENAMES, VK_INSTANCE_LAYERS)"},
    {"MESA_", "Mesa drivers: shader cache, debug options (MESA_SHADER_CACHE_DISABLE)"},
    {"LP_", "lavapipe / llvmpipe: threads (LP_NUM_THREADS)"},
};

std::string_view value_of(const nlohmann::json& switches, const std::string& name) {
  const auto& v = switches.at(name);
  return v.is_string() ? v.get_ref<const std::string&>() : std::string_view();
}

}  // namespace

std::string_view to_string(SwitchScope s) {
  switch (s) {
    case SwitchScope::kernel:
      return "kernel";
    case SwitchScope::diagnostic:
      return "diagnostic";
    case SwitchScope::test:
      return "test";
    case SwitchScope::test_suite:
      return "test suite";
    case SwitchScope::script:
      return "script";
  }
  return "kernel";
}

std::span<const Switch> known_switches() {
  return kSwitches;
}

const Switch* find_switch(std::string_view name) {
  for (const Switch& s : kSwitches)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const LibraryPrefix> library_prefixes() {
  return kPrefixes;
}

bool is_recorded(std::string_view name) {
  if (name.starts_with("TB_")) return true;
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [&](const LibraryPrefix& p) { return name.starts_with(p.prefix); });
}

nlohmann::json capture_switches(char** envp, std::optional<std::string> home) {
  if (!envp) envp = environ;
  if (!home) {
    const char* h = std::getenv("HOME");
    home = h ? h : "";
  }
  while (!home->empty() && home->back() == '/') home->pop_back();
  std::map<std::string, std::string> sorted;
  for (char** e = envp; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string::npos || !is_recorded(std::string_view(kv).substr(0, eq))) continue;
    std::string value = kv.substr(eq + 1);
    // Paths under the home folder would name the user: "~/..." instead, wherever they occur
    // (VK_ICD_FILENAMES is a list).
    if (!home->empty())
      for (auto at = value.find(*home); at != std::string::npos; at = value.find(*home, at + 1)) {
        const auto end = at + home->size();
        if (end == value.size() || value[end] == '/') value.replace(at, home->size(), "~");
      }
    sorted[kv.substr(0, eq)] = std::move(value);
  }
  nlohmann::json j = nlohmann::json::object();
  for (auto& [k, v] : sorted) j[k] = std::move(v);
  return j;
}

SwitchComparison compare_switches(const nlohmann::json& base_env,
                                  const nlohmann::json& current_env) {
  SwitchComparison c;
  const auto recorded = [](const nlohmann::json& env) {
    return env.is_object() && env.contains("switches") && env["switches"].is_object();
  };
  if (!recorded(base_env) || !recorded(current_env)) {
    c.comparable = false;
    c.why_not = std::string(!recorded(base_env) ? "base" : "current") +
                " has no recorded switches (a store or file from before they were recorded)";
    return c;
  }
  const nlohmann::json& b = base_env["switches"];
  const nlohmann::json& cur = current_env["switches"];
  std::map<std::string, SwitchDifference> diffs;
  for (const auto* side : {&b, &cur})
    for (const auto& [name, v] : side->items()) {
      const bool in_b = b.contains(name), in_c = cur.contains(name);
      if (in_b && in_c && b[name] == cur[name]) continue;
      SwitchDifference d;
      d.name = name;
      if (in_b) d.base = std::string(value_of(b, name));
      if (in_c) d.current = std::string(value_of(cur, name));
      d.known = find_switch(name) != nullptr || !name.starts_with("TB_");
      diffs[name] = std::move(d);
    }
  for (auto& [name, d] : diffs) c.differences.push_back(std::move(d));
  return c;
}

std::string describe(const SwitchDifference& d) {
  const auto side = [](const std::optional<std::string>& v) {
    return v ? "'" + *v + "'" : std::string("unset");
  };
  std::string s = d.name + ": base " + side(d.base) + ", current " + side(d.current);
  if (!d.known) s += " (not a known switch)";
  return s;
}

nlohmann::json to_json(const SwitchComparison& c) {
  nlohmann::json diffs = nlohmann::json::array();
  for (const auto& d : c.differences)
    diffs.push_back({{"name", d.name},
                     {"base", d.base ? nlohmann::json(*d.base) : nlohmann::json(nullptr)},
                     {"current", d.current ? nlohmann::json(*d.current) : nlohmann::json(nullptr)},
                     {"known", d.known}});
  nlohmann::json j = {
      {"comparable", c.comparable}, {"differ", !c.differences.empty()}, {"differences", diffs}};
  if (!c.comparable) j["why_not"] = c.why_not;
  return j;
}

}  // namespace tb::env
