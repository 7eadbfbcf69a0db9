// Pipeline creation on Vulkan, cold vs warm, each in a fresh process.
//
//   ninja -C build/<dir> bench_vulkan_pipeline
//   build/<dir>/kernels/vulkan/bench_vulkan_pipeline [--reps N] [--no-big]
//
// Every measurement runs in a child process (this program with --child), so that nothing is
// reused in memory. Per repetition, in a fresh temporary directory, the children run with:
//   cold       empty Mesa shader cache (MESA_SHADER_CACHE_DIR) and empty tierbench cache
//              (XDG_CACHE_HOME: the persisted VkPipelineCache file)
//   warm       both as the cold child left them
//   vk-only    the VkPipelineCache file as left, Mesa's cache disabled (MESA_SHADER_CACHE_DISABLE)
//   mesa-only  Mesa's cache as left, an empty tierbench cache
//   none       no cache at all (Mesa's disabled, empty tierbench cache): the compile cost itself
// Each child prepares the same pipelines (GEMM configurations and op shaders through the
// backend) and reports, per pipeline: vkCreateComputePipelines, the first one-workgroup dispatch
// (where lavapipe JIT-compiles), their sum (tierbench's pipeline_create_s), and the descriptor /
// buffer / command setup of prepare; plus the device open time and what vkGetPipelineCacheData
// returned. The parent prints medians with min..max over repetitions per scenario, and the
// cold / warm ratio. Which cache made the difference is read off vk-only vs mesa-only.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vulkan/vulkan_backend.h"
#include "vulkan/vulkan_gemm.h"

namespace tb::vulkan {
namespace {

struct Item {
  std::string name;     // printed
  std::string problem;  // canonical problem string
  std::string config;   // gemm configuration, "" for the backend's choice
};

std::vector<Item> items(bool big) {
  std::vector<Item> v = {
      {"gemm reg 16x16", "gemm:m1024n1024k1024:f32", "reg:tm16tn16:8x1"},
      {"gemm sg 32x8", "gemm:m1024n1024k1024:f32", "sg:tm32tn8:8x1"},
      {"gemm reg 8x8 +bias+gelu", "gemm:m256n256k256:f32+bias+gelu", "reg:tm8tn8:8x1"},
      {"gemm f16 default", "gemm:m512n512k512:f16", ""},
      {"gemm s8 default", "gemm:m512n512k512:s8", ""},
      {"attn d64", "attn:h8q512s512d64:f32", ""},
      {"softmax", "softmax:m512n512:f32", ""},
      {"conv igemm", "conv:n1c64h56w56k64r3s3p1:f32+bias+relu", ""},
  };
  if (big) v.push_back({"gemm wide 32x32", "gemm:m1024n1024k1024:f32", "wide:tm32tn32:8x1"});
  return v;
}

double detail(const PreparedKernel& k, const char* name) {
  for (const auto& [n, v] : k.details())
    if (n == name) return v;
  return -1;
}

int child(bool big) {
  const auto t0 = std::chrono::steady_clock::now();
  auto ctx = shared_context(0);
  if (!ctx) {
    std::fprintf(stderr, "no Vulkan device: %s\n", ctx.error().message.c_str());
    return 2;
  }
  const double open_s = seconds_since(t0);
  auto backend = make_vulkan_backend();
  for (const auto& it : items(big)) {
    auto p = Problem::parse(it.problem);
    if (!p) return 2;
    Result<std::unique_ptr<PreparedKernel>> k = make_error("unset");
    if (!it.config.empty()) {
      GemmPrepareOptions po;
      po.config = GemmConfig::parse(it.config);
      k = prepare_gemm(ctx.value(), p.value(), po);
    } else {
      if (auto s = backend->supports(p.value(), 0); !s.supported) {
        std::printf("S|%s|%s\n", it.name.c_str(), s.reason.c_str());
        continue;
      }
      k = backend->prepare(p.value(), {});
    }
    if (!k) {
      std::printf("S|%s|%s\n", it.name.c_str(), k.error().message.c_str());
      continue;
    }
    std::printf("P|%s|%.6f|%.6f|%.6f|%.0f\n", it.name.c_str(),
                detail(*k.value(), "pipeline_vk_create_s"), detail(*k.value(), "first_dispatch_s"),
                detail(*k.value(), "setup_s"), detail(*k.value(), "pipeline_cache_hit"));
  }
  std::printf("C|%.6f|%zu|%zu\n", open_s, ctx.value()->pipeline_cache_data_bytes(),
              ctx.value()->pipeline_cache_bytes_loaded());
  return 0;
}

struct Sample {
  double vk = 0, first = 0, setup = 0, hit = -1;
};
struct Run {
  std::map<std::string, Sample> p;
  double open_s = 0;
  double cache_data = 0, loaded = 0;
};

Run run_child(const std::string& env, bool big, bool* ok) {
  const std::string cmd = env + " /proc/" + std::to_string(::getpid()) + "/exe --child" +
                          (big ? "" : " --no-big") + " 2>&1";
  Run r;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) {
    *ok = false;
    return r;
  }
  char line[1024];
  while (std::fgets(line, sizeof line, f)) {
    std::vector<std::string> parts;
    std::string s(line);
    if (!s.empty() && s.back() == '\n') s.pop_back();
    std::size_t a = 0;
    for (std::size_t b; (b = s.find('|', a)) != std::string::npos; a = b + 1)
      parts.push_back(s.substr(a, b - a));
    parts.push_back(s.substr(a));
    if (parts[0] == "P" && parts.size() == 6) {
      r.p[parts[1]] = {std::atof(parts[2].c_str()), std::atof(parts[3].c_str()),
                       std::atof(parts[4].c_str()), std::atof(parts[5].c_str())};
    } else if (parts[0] == "C" && parts.size() == 4) {
      r.open_s = std::atof(parts[1].c_str());
      r.cache_data = std::atof(parts[2].c_str());
      r.loaded = std::atof(parts[3].c_str());
    } else {
      std::fprintf(stderr, "  child: %s\n", s.c_str());
    }
  }
  *ok = ::pclose(f) == 0;
  return r;
}

struct Stat {
  double med = 0, lo = 0, hi = 0;
};
Stat stat(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

int parent(int reps, bool big) {
  const char* scen[] = {"none", "cold", "warm", "vk-only", "mesa-only"};
  std::map<std::string, std::vector<Run>> runs;
  for (int rep = 0; rep < reps; ++rep) {
    const auto dir =
        std::filesystem::temp_directory_path() /
        ("tb_vk_pipeline_bench_" + std::to_string(::getpid()) + "_" + std::to_string(rep));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string mesa = (dir / "mesa").string(), xdg = (dir / "xdg").string();
    const std::string on = "MESA_SHADER_CACHE_DIR=" + mesa + " MESA_GLSL_CACHE_DIR=" + mesa +
                           " MESA_SHADER_CACHE_DISABLE=false MESA_GLSL_CACHE_DISABLE=false";
    const std::string off = "MESA_SHADER_CACHE_DISABLE=true MESA_GLSL_CACHE_DISABLE=true";
    const std::map<std::string, std::string> env = {
        {"none", "env " + off + " XDG_CACHE_HOME=" + (dir / "xdg_none").string()},
        {"cold", "env " + on + " XDG_CACHE_HOME=" + xdg},
        {"warm", "env " + on + " XDG_CACHE_HOME=" + xdg},
        {"vk-only", "env " + off + " XDG_CACHE_HOME=" + xdg},
        {"mesa-only", "env " + on + " XDG_CACHE_HOME=" + (dir / "xdg_fresh").string()}};
    for (const char* s : scen) {
      bool ok = true;
      std::fprintf(stderr, "rep %d: %s\n", rep + 1, s);
      runs[s].push_back(run_child(env.at(s), big, &ok));
      if (!ok) {
        std::fprintf(stderr, "child failed (%s)\n", s);
        return 1;
      }
    }
    std::filesystem::remove_all(dir);
  }
  std::printf("pipeline creation per fresh process, %d repetitions: median [min..max] ms\n", reps);
  std::printf("create = vkCreateComputePipelines + first dispatch (lavapipe JITs there)\n\n");
  for (const char* s : scen) {
    std::vector<double> open, data, loaded;
    for (const auto& r : runs[s]) {
      open.push_back(r.open_s * 1e3);
      data.push_back(r.cache_data);
      loaded.push_back(r.loaded);
    }
    const auto o = stat(open);
    std::printf(
        "%-10s device open %.1f ms [%.1f..%.1f]; VkPipelineCache loaded %.0f B, "
        "vkGetPipelineCacheData %.0f B\n",
        s, o.med, o.lo, o.hi, stat(loaded).med, stat(data).med);
  }
  std::printf("\n%-26s %-10s %28s %20s %20s %14s %5s\n", "pipeline", "scenario", "create ms",
              "vk call ms", "first dispatch ms", "setup ms", "hit");
  for (const auto& it : items(big)) {
    double cold = 0, warm = 0;
    for (const char* s : scen) {
      std::vector<double> tot, vk, first, setup, hit;
      for (const auto& r : runs[s]) {
        auto f = r.p.find(it.name);
        if (f == r.p.end()) continue;
        tot.push_back((f->second.vk + f->second.first) * 1e3);
        vk.push_back(f->second.vk * 1e3);
        first.push_back(f->second.first * 1e3);
        setup.push_back(f->second.setup * 1e3);
        hit.push_back(f->second.hit);
      }
      if (tot.empty()) continue;
      const auto t = stat(tot), v = stat(vk), fd = stat(first), su = stat(setup);
      if (std::string(s) == "cold") cold = t.med;
      if (std::string(s) == "warm") warm = t.med;
      std::printf(
          "%-26s %-10s %9.1f [%7.1f..%7.1f] %7.1f [%5.1f..%5.1f] %7.1f [%5.1f..%5.1f] "
          "%5.2f [%.2f..%.2f] %5.0f\n",
          it.name.c_str(), s, t.med, t.lo, t.hi, v.med, v.lo, v.hi, fd.med, fd.lo, fd.hi, su.med,
          su.lo, su.hi, stat(hit).med);
    }
    if (warm > 0) std::printf("%-26s cold / warm = %.1fx\n\n", it.name.c_str(), cold / warm);
  }
  return 0;
}

}  // namespace
}  // namespace tb::vulkan

int main(int argc, char** argv) {
  int reps = 3;
  bool is_child = false, big = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--child")) {
      is_child = true;
    } else if (!std::strcmp(argv[i], "--no-big")) {
      big = false;
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--no-big]\n", argv[0]);
      return 2;
    }
  }
  return is_child ? tb::vulkan::child(big) : tb::vulkan::parent(reps, big);
}
