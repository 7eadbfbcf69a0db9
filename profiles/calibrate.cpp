#include "calibrate.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/core.h>

#include "builder.h"
#include "executor.h"
#include "kernels.h"
#include "measure.h"
#include "probes.h"
#include "profiles.h"
#include "reference/reference_backend.h"
#include "safetensors.h"
#include "stats.h"
#include "weights.h"
#include "workload_runner.h"

namespace tb::profiles {

namespace {

using json = nlohmann::json;
using workloads::Builder;
using workloads::Executor;
using workloads::Graph;
using workloads::Layer;
using workloads::Operand;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Chain lengths: slope = node time, intercept = graph run.
constexpr int kShort = 2, kLong = kCalibrationChainLayers;

// A representative shape of an op class: conv-like {channels in, size, channels out (0: the
// same)}; gemm and gemv {m, k, n (0: k), a chain alternating k -> n -> k}; attention {heads, kv
// heads, queries, keys, head dim}; row {m, n}; eltwise {n}; rope {heads, head dim, tokens};
// pool {channels, size}; stem {image channels, image side, channels out, kernel side};
// depthwise {channels, size, 0, stride (0: 1)}.
struct Shape {
  std::string cls;
  std::int64_t a = 0, b = 0, c = 0, d = 0, e = 0;
};

// Shapes spanning the regimes CNNs and transformers have, from person-detect's tiny layers to
// ResNet / BERT / LLM sizes. The convolutions form a grid over the feature space the predictor
// interpolates in (predictor.h: spatial size, narrower and wider channel count): sizes 112 to 3,
// channels 8 to 2048, equal and 1:4 in:out (a chain alternates in -> out -> in, so each layer
// reads what the previous one wrote, at the activation sizes of a real network). The grid is
// geometric, not the tiers' own layers. Quick: the first shape of each class.
std::vector<Shape> shapes(const std::string& dtype, bool quick) {
  std::vector<Shape> v = {{"conv", 16, 48},
                          {"conv", 64, 56},
                          {"conv", 256, 14},
                          {"conv", 32, 24},
                          {"conv", 128, 28},
                          {"conv", 512, 7},
                          {"conv", 64, 12},
                          {"conv", 16, 112, 32},
                          {"stem", 3, 224, 32, 3},
                          {"stem", 3, 96, 16, 3},
                          {"stem", 3, 224, 64, 7},
                          {"pointwise", 16, 48},
                          {"pointwise", 64, 56},
                          {"pointwise", 160, 14},
                          {"pointwise", 512, 7},
                          {"pointwise", 16, 112, 64},
                          {"pointwise", 32, 56, 128},
                          {"pointwise", 64, 56, 256},
                          {"pointwise", 32, 28, 128},
                          {"pointwise", 128, 28, 512},
                          {"pointwise", 64, 14, 256},
                          {"pointwise", 256, 14, 1024},
                          {"pointwise", 128, 7, 512},
                          {"pointwise", 256, 7, 1024},
                          {"pointwise", 512, 7, 2048},
                          {"pointwise", 8, 24, 32},
                          {"pointwise", 16, 12, 64},
                          {"pointwise", 32, 6, 128},
                          {"pointwise", 64, 3, 256},
                          {"depthwise", 32, 48},
                          {"depthwise", 96, 56},
                          {"depthwise", 384, 14},
                          {"depthwise", 32, 112},
                          {"depthwise", 128, 56},
                          {"depthwise", 256, 28},
                          {"depthwise", 1024, 7},
                          {"depthwise", 48, 24},
                          {"depthwise", 96, 12},
                          {"depthwise", 192, 6},
                          {"depthwise", 384, 3},
                          {"depthwise", 96, 112, 0, 2},
                          {"depthwise", 192, 28, 0, 2},
                          {"depthwise", 32, 24, 0, 2},
                          {"depthwise", 128, 6, 0, 2},
                          {"gemm", 128, 256},
                          {"gemm", 128, 768},
                          {"gemm", 64, 2048},
                          {"gemv", 1, 576},
                          {"gemv", 1, 576, 192},
                          {"gemv", 1, 576, 1536},
                          {"gemv", 1, 2048},
                          {"gemv", 1, 576, 8192},
                          {"attention", 9, 3, 1, 128, 64},
                          {"attention", 9, 3, 1, 1024, 64},
                          {"attention", 12, 12, 128, 128, 64},
                          {"row", 1, 576},
                          {"row", 128, 768},
                          {"rope", 9, 64, 1},
                          {"rope", 9, 64, 128},
                          {"eltwise", 576},
                          {"eltwise", 200704},
                          {"pool", 64, 56},
                          {"embed", 8192, 576}};
  const bool compute_only = dtype != "f32";  // row, eltwise, pool and embed ops run in f32
  std::vector<Shape> out;
  std::map<std::string, int> seen;
  for (const auto& s : v) {
    const bool small_op = s.cls == "row" || s.cls == "eltwise" || s.cls == "rope" ||
                          s.cls == "pool" || s.cls == "embed";
    if (compute_only && s.cls == "gemv" && s.b * std::max(s.b, s.c) > 2048 * 2048)
      continue;  // f32: past the caches
    if (compute_only && (small_op || (s.cls == "attention" && dtype == "int8"))) continue;
    if (quick && seen[s.cls]++ > 0 && s.cls != "eltwise") continue;
    out.push_back(s);
  }
  return out;
}

}  // namespace

std::vector<std::string> calibrated_op_classes() {
  std::vector<std::string> out;
  for (const char* dtype : {"f32", "bf16", "int8"})
    for (const auto& s : shapes(dtype, false))
      if (std::find(out.begin(), out.end(), s.cls) == out.end()) out.push_back(s.cls);
  return out;
}

namespace {

// Whether a point is timed with the caches cold too: the classes whose layers carry weights, and
// small ops (kColdOpBytes or less moved per node: a decoder's norms, RoPE, elementwise ops and
// attention over a short cache), which in a graph larger than the caches run after its weights
// streamed through them. In SmolLM's decode on oneDNN those ran 2-10x their warm chains' node
// time (RoPE: 6 us against 0.5).
constexpr double kColdOpBytes = 256 * 1024;
bool cold_point(const std::string& cls, const Problem& p) {
  return cls == "conv" || cls == "stem" || cls == "pointwise" || cls == "depthwise" ||
         cls == "gemm" || cls == "gemv" || traffic_bytes(p) <= kColdOpBytes;
}

std::string shape_name(const Shape& s) {
  return fmt::format("{}-{}-{}-{}-{}-{}", s.cls, s.a, s.b, s.c, s.d, s.e);
}

// A chain of `n` identical layers of the shape's class, as the tiers build them.
Graph chain(const Shape& s, DType dt, int n) {
  Builder b("calibrate", shape_name(s) + "-L" + std::to_string(n), dt);
  int x = -1, in = -1;
  if (s.cls == "conv" || s.cls == "pointwise" || s.cls == "depthwise" || s.cls == "pool" ||
      s.cls == "stem") {
    x = b.input("x", DType::f32, {1, s.b, s.b, s.a});
  } else if (s.cls == "gemm" || s.cls == "gemv" || s.cls == "row") {
    x = b.input("x", DType::f32, {s.a, s.b});
  } else if (s.cls == "embed") {
    x = b.input("ids", DType::s32, {1});
  } else if (s.cls == "attention") {
    x = b.input("q", DType::f32, {s.a, s.c, s.e});
  } else if (s.cls == "rope") {
    x = b.input("x", DType::f32, {s.c, s.a, s.b});
  } else {
    x = in = b.input("x", DType::f32, {s.a});
  }
  if (s.cls == "embed" || s.cls == "stem") in = x;
  // A strided depthwise layer's input, as in a network, written by a convolution (in the layout
  // the backend gives a convolution's output: the graph's input would be reordered per layer).
  if (s.cls == "depthwise" && s.d > 1) in = x = b.conv("pre", x, s.a, 1, 1, 0, 1, Activation::relu);
  const DType cache = dt == DType::bf16 ? DType::bf16 : DType::f32;
  const int kc = s.cls == "attention" ? b.state("k", cache, {s.b, s.d, s.e}) : -1;
  const int vc = s.cls == "attention" ? b.state("v", cache, {s.b, s.d, s.e}) : -1;
  // RoPE's tables for tokens 0..c-1, as the decoders build them.
  const auto table = [&](const char* name, workloads::ConstKind k) {
    return b.constant(name, DType::f32, {s.c, s.b / 2}, k, 0, 10000.0);
  };
  const int cos = s.cls == "rope" ? table("rope.cos", workloads::ConstKind::rope_cos) : -1;
  const int sin = s.cls == "rope" ? table("rope.sin", workloads::ConstKind::rope_sin) : -1;
  for (int i = 0; i < n; ++i) {
    const std::string name = "l" + std::to_string(i);
    const std::int64_t k = i % 2 == 0 && s.c > 0 ? s.c : s.a;  // in -> out -> in ...
    if (s.cls == "conv") x = b.conv(name, x, k, 3, 1, 1, 1, Activation::relu);
    if (s.cls == "pointwise") x = b.conv(name, x, k, 1, 1, 0, 1, Activation::relu);
    if (s.cls == "depthwise" && s.d <= 1) x = b.conv(name, x, s.a, 3, 1, 1, s.a, Activation::relu6);
    // A strided depthwise layer halves the side: its chain reads the input in every layer, each
    // adding the layer before (as the stem's).
    if (s.cls == "depthwise" && s.d > 1)
      x = b.conv(name, in, s.a, 3, s.d, 1, s.a, Activation::relu6, i == 0 ? -1 : x);
    if (s.cls == "gemm" || s.cls == "gemv") {
      const std::int64_t out = i % 2 == 0 && s.c > 0 ? s.c : s.b;
      x = b.linear(name, x, s.a, b.value(x).shape.back(), out, true, Activation::relu);
    }
    if (s.cls == "row")
      x = b.row(name, s.a == 1 ? RowKind::rmsnorm : RowKind::layernorm, x, s.a, s.b);
    if (s.cls == "eltwise") x = b.binary(name, BinaryKind::add, x, in);
    if (s.cls == "rope") {
      RopeDesc d;
      d.t = s.c, d.h = s.a, d.d = s.b;
      x = b.kernel(name, Problem{d, DType::f32, {}},
                   {Operand::v(x), Operand::v(cos), Operand::v(sin)});
    }
    if (s.cls == "pool") x = b.pool(name, PoolKind::max, x, 3, 1, 1);
    // A network's first convolution reads the image (3 channels: no vector of channels to fill)
    // at stride 2; its own chain reads the image in every layer, each adding the layer before
    // (a fused residual: the slope holds one output read more than the network's stem).
    if (s.cls == "stem")
      x = b.conv(name, in, s.c, s.d, 2, s.d / 2, 1, Activation::relu, i == 0 ? -1 : x);
    if (s.cls == "embed") {  // lookups of one token each in its own table, summed into a chain
      EmbedDesc d;
      d.v = s.a, d.d = s.b, d.t = 1;
      const int w =
          b.weight(name + ".table", DType::f32, {s.a, s.b}, {workloads::Init::uniform, 0.5, 0});
      const int y = b.kernel(name, Problem{d, DType::f32, {}}, {Operand::w(w), Operand::v(in)});
      x = i == 0 ? y : b.binary(name + ".add", BinaryKind::add, x, y);
    }
    if (s.cls == "attention") {
      AttentionDesc d;
      d.h = s.a, d.kv = s.b, d.q = s.c, d.s = s.d, d.d = s.e, d.causal = s.c == 1;
      x = b.attention(name, x, kc, vc, d);
    }
  }
  return b.finish(x);
}

// A chain of distinct layers, as a small network has them (MobileNet inverted-residual blocks,
// 1x1 expand, 3x3 depthwise, 1x1 project, at side x side (24: 24x24 to 6x6) with 16 to 192
// channels, each layer reading what the one before wrote): against what the chains of identical
// layers predict for it, the per-node cost of switching kernels (mixed_node_s). No dense 3x3:
// oneDNN runs those of few channels in another layout, and the reorders around them would count
// as switching. At side 24 oneDNN runs 7 of its 15 nodes on all threads and 8 on one; at 12
// every node is under 1 MFLOP (one thread).
Graph mixed_chain(DType dt, int* nodes, std::int64_t side = 24) {
  Builder b("calibrate", "mixed-L15-" + std::to_string(side), dt);
  int x = b.input("x", DType::f32, {1, side, side, 16});
  struct L {
    std::int64_t k, stride;  // k 0: depthwise (3x3, channels kept), else 1x1 to k channels
  };
  const L layers[] = {{64, 1}, {0, 1},   {24, 1}, {96, 1}, {0, 2},   {32, 1}, {128, 1}, {0, 1},
                      {40, 1}, {160, 1}, {0, 2},  {48, 1}, {192, 1}, {0, 1},  {64, 1}};
  int i = 0;
  for (const L& l : layers) {
    const std::int64_t c = b.value(x).shape[3];
    const std::string name = "m" + std::to_string(i++);
    x = l.k ? b.conv(name, x, l.k, 1, 1, 0, 1, Activation::relu6)
            : b.conv(name, x, c, 3, l.stride, 1, c, Activation::relu6);
  }
  *nodes = i;
  return b.finish(x);
}

// kSegments segments of one elementwise add each (576 floats), a host permute between two: what
// a segment after a host op costs beyond one run alone (an LLM's 31 segments on oneDNN, split by
// its KV-cache writes and reshapes).
constexpr int kSegments = 8;
Graph segmented_chain() {
  Builder b("calibrate", "segments-" + std::to_string(kSegments), DType::f32);
  const int in = b.input("x", DType::f32, {8, 8, 9});
  int x = in;
  for (int i = 0; i < kSegments; ++i) {
    x = b.binary("a" + std::to_string(i), BinaryKind::add, x, in);
    if (i + 1 < kSegments) x = b.permute("p" + std::to_string(i), x, 8, 8, 9);
  }
  return b.finish(x);
}

// The caches: per core (L2) and last level, from the C library (1 MiB and 32 MiB where it does
// not say), the last level checked by a pointer chase where it claims over 64 MiB.
struct CacheSizes {
  double per_core = 1 << 20, last_level = 32 << 20;
};
CacheSizes cache_sizes() {
  static const CacheSizes sizes = [] {
    CacheSizes c;
    if (const long l2 = ::sysconf(_SC_LEVEL2_CACHE_SIZE); l2 > 0)
      c.per_core = static_cast<double>(l2);
    if (const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE); l3 > 0)
      c.last_level = static_cast<double>(l3);
    c.last_level = std::max(c.last_level, c.per_core);
    // What a core sees, not what a hypervisor reports (probes/last_level_cache.h).
    c.last_level = static_cast<double>(probe::plausible_last_level_bytes(
        static_cast<std::uint64_t>(c.last_level), static_cast<std::uint64_t>(c.per_core)));
    c.last_level = std::max(c.last_level, c.per_core);
    return c;
  }();
  return sizes;
}

// A decoder's block as a chain (stream_node_s, stream_gemv): `reps` repetitions of a GEMV pair
// at SmolLM's MLP shapes (576 -> 1536 -> 576, 7 MB of f32 weights) after a square one (below),
// each followed by an RMS norm and a multiply at the calibrated shapes (row 1x576, elementwise
// 576), as the decoder's norms and SwiGLU multiplies run between its projections. Each small node
// runs after the weights streamed through every cache, or after a small op of another kind; in the
// chains of identical nodes, cold ones included, their code, descriptors and page translations
// stayed hot from one node to the next. Each GEMV runs after small ops instead of after another
// GEMV of its shape, as the GEMV chains do. (An add after the multiply, the same oneDNN binary
// kernel, ran at its chain's time: no two small nodes here share a kernel.) Each repetition starts
// with a square GEMV at SmolLM's attention shape (576 -> 576, its q and o projections: 0.66 MFLOP,
// which oneDNN runs on one thread where it runs the MLP's on several).
constexpr double kStreamRepBytes = (2.0 * 576 * 1536 + 576.0 * 576) * 4;
Graph streamed_chain(int reps) {
  Builder b("calibrate", "streamed-" + std::to_string(reps), DType::f32);
  const int in = b.input("x", DType::f32, {1, 576});
  int x = in;
  for (int i = 0; i < reps; ++i) {
    const std::string n = std::to_string(i);
    x = b.linear("proj" + n, x, 1, 576, 576, true);
    x = b.linear("up" + n, x, 1, 576, 1536, true, Activation::relu);
    x = b.linear("down" + n, x, 1, 1536, 576, true);
    x = b.row("norm" + n, RowKind::rmsnorm, x, 1, 576);
    x = b.binary("mul" + n, BinaryKind::mul, x, in);
  }
  return b.finish(x);
}

// Reads a buffer of twice the last-level cache (64 MiB at least: a core's share of a cache that
// other cores or guests also fill is smaller than the cache, and a chain must not find the rest
// of it still there), line by line: what a graph reads next comes from memory. Reads, not writes:
// written lines would be dirty, and the inference after would pay their write-back as it evicts
// them, which no graph's own previous inference leaves behind (writing put the cold times of small
// int8 chains here 20-45% above reading: 1x1 convolutions at 6x6 to 14x14, 7.2-21 us against 5.6-16
// us).
void evict_caches() {
  static const std::vector<unsigned char> buffer(
      static_cast<std::size_t>(
          std::clamp(2 * cache_sizes().last_level, 64.0 * (1 << 20), 512.0 * (1 << 20))),
      1);
  unsigned sum = 0;
  for (std::size_t i = 0; i < buffer.size(); i += 64) sum += buffer[i];
  if (sum == 0) std::abort();  // the buffer holds ones: keeps the reads
}

struct Timed {
  double prepare_s = 0, calibrate_s = 0, upload_s = 0, first_s = 0, median_s = 0;
  double median_cold_s = -1;  // with the caches evicted before each sample (cold runs only)
  int fused = 0;
  int requantised = 0;      // int8 convolutions writing requantised u8 (see BackendCalibration)
  double serial_flops = 0;  // the backend runs nodes of fewer FLOPs on one thread (0: none)
  MemoryStats mem;
  std::optional<std::uint64_t> peak_added;  // RSS: loading, preparing, one inference
  std::vector<double> samples;
  std::vector<double> layer_s;  // per layer, median over the profiled inferences (profile_runs)
  Tensor out;
};

// Loads, prepares, uploads and runs g once (the output), then samples for sample_s when > 0,
// and with `cold` for sample_s more with the caches evicted before each inference, unless the
// warm median is cold_below_s or more (> 0; median_cold_s stays -1). warmup_s:
// inferences run untimed first for that long (at least one). profile_runs: after the samples,
// that many inferences more with every layer timed (Executor::time_layers; Timed::layer_s).
Result<Timed> run_graph(Backend& b, const Graph& g, const std::string& wpath, int threads,
                        std::uint64_t seed, double sample_s, bool cold = false, double warmup_s = 0,
                        int profile_runs = 0, double cold_below_s = 0) {
  const measure::PeakRss window;
  auto w = workloads::load_weights(g, wpath, false);
  if (!w) return w.error();
  Executor ex(g, std::move(w->tensors), seed);
  Timed t;
  auto p = ex.prepare(b, 0, threads);
  if (!p) return p.error();
  t.prepare_s = p->seconds;
  for (const auto& [k, v] : p->details) {
    if (k == "calibrate_s") t.calibrate_s = v;
    if (k == "int8_fused_layers") t.fused = static_cast<int>(v);
    if (k == "requantised_outputs") t.requantised = static_cast<int>(v);
    if (k == "serial_flops") t.serial_flops = v;
  }
  auto up = ex.upload_weights();
  if (!up) return up.error();
  t.upload_s = *up;
  const Tensor input = Executor::make_input(g, seed);
  auto first = ex.infer(input);
  if (!first) return first.error();
  t.first_s = first->wall_s;
  t.out = ex.output();
  t.mem = ex.memory();
  t.peak_added = window.added();
  if (sample_s <= 0) return t;
  // Warm-up: inferences for warmup_s, at least one, unless the first alone took the whole
  // sampling budget (lavapipe's 3x3 convolution chains: 0.1 to 1.6 s each; it warmed up the
  // backend for longer than the ~0.1 s lavapipe's pipelines need).
  double one_s = t.first_s;  // the last warm-up inference
  if (t.first_s < std::max(sample_s, warmup_s))
    for (const auto tw = Clock::now();;) {
      auto r = ex.infer(input);
      if (!r) return r.error();
      one_s = r->wall_s;
      if (since(tw) >= warmup_s) break;
    }
  // At least 5 samples, or 3 where an inference takes more than a quarter of the budget
  // (lavapipe's 3x3 convolution chains: 0.1 to 0.3 s each), whose budget 5 would overrun most.
  const std::size_t min_samples = one_s > sample_s / 4 ? 3 : 5;
  // Samples until the median's 95% interval is within +-2% of it (checked every
  // kCheckEvery samples; a quiet machine gets there in a few dozen), or the budget is spent.
  constexpr std::size_t kCheckEvery = 8;
  const auto converged = [&](const std::vector<double>& v, double tolerance) {
    return v.size() % kCheckEvery == 0 && stats::median_converged(v, tolerance).converged;
  };
  const auto t0 = Clock::now();
  while (t.samples.size() < 400 && (t.samples.size() < min_samples || since(t0) < sample_s)) {
    auto r = ex.infer(input);
    if (!r) return r.error();
    t.samples.push_back(r->wall_s);
    if (converged(t.samples, 0.02)) break;
  }
  t.median_s = stats::quantile(t.samples, 0.5);
  if (profile_runs > 0 && ex.time_layers(true)) {
    std::vector<std::vector<double>> runs;
    for (int i = 0; i < profile_runs; ++i) {
      auto r = ex.infer(input);
      if (!r) return r.error();
      runs.push_back(ex.layer_seconds());
    }
    ex.time_layers(false);
    std::vector<double> x(runs.size());
    for (std::size_t li = 0; li < g.layers.size(); ++li) {
      for (std::size_t k = 0; k < runs.size(); ++k) x[k] = li < runs[k].size() ? runs[k][li] : 0;
      t.layer_s.push_back(stats::quantile(x, 0.5));
    }
  }
  if (!cold || (cold_below_s > 0 && t.median_s >= cold_below_s)) return t;
  // Caches cold: every sample after the weights (and everything else) left the caches, as a
  // layer of a graph larger than the caches finds them. Each sample first reads twice the last
  // level cache (milliseconds), so these take half the budget and +-3%.
  std::vector<double> cold_samples;
  const auto t1 = Clock::now();
  while (cold_samples.size() < 200 &&
         (cold_samples.size() < min_samples || since(t1) < sample_s / 2)) {
    evict_caches();
    auto r = ex.infer(input);
    if (!r) return r.error();
    cold_samples.push_back(r->wall_s);
    if (converged(cold_samples, 0.03)) break;
  }
  t.median_cold_s = stats::quantile(cold_samples, 0.5);
  return t;
}

class Calibrator {
 public:
  Calibrator(Store& store, std::int64_t run_id, const CalibrateOptions& o)
      : store_(store), run_id_(run_id), o_(o) {
    own_dir_ = o.work_dir.empty();
    dir_ = own_dir_ ? work_dir_path("calibrate") : std::filesystem::path(o.work_dir);
    std::filesystem::create_directories(dir_);
    label_ = configuration_label(o.threads);
    if (auto probe = store.latest_result("probe"); probe && probe->has_value())
      ceilings_ = ceilings_from_probe((*probe)->metrics);
  }
  ~Calibrator() {
    std::error_code ec;
    if (own_dir_) std::filesystem::remove_all(dir_, ec);
  }

  Result<Calibration> run() {
    Calibration cal;
    cal.method = kCalibrationMethod;
    cal.created_utc = utc_now_iso8601();
    cal.label = label_;
    auto host = host_rates();
    if (!host) return host.error();
    host_gbps_ = host->gbps;
    for (auto& b : make_backends()) {
      const std::string name(b->name());
      if (b->traits().reference) continue;
      if (!o_.backends.empty() &&
          std::find(o_.backends.begin(), o_.backends.end(), name) == o_.backends.end())
        continue;
      if (!b->availability().available || b->devices().empty()) continue;
      BackendOverheads ov;
      for (const auto& dt : o_.dtypes) {
        auto e = calibrate_entry(*b, dt, ov);
        if (!e) return e.error();
        if (e->points.empty()) continue;
        e->host_gbps = host->gbps, e->host_op_s = host->op_s;
        cal.entries.push_back(std::move(*e));
      }
    }
    cal.storage_read_gbps = storage_gbps();
    // Keep the entries of backends and dtypes this run did not calibrate in this configuration.
    if (auto prev = load_calibration(store_, label_); prev)
      for (auto& e : prev->entries)
        if (!cal.find(e.backend, e.dtype)) cal.entries.push_back(std::move(e));
    if (!store_error_.empty()) return make_error("storing a chain's result: " + store_error_);
    if (auto r = store_.put("calibration", label_, to_json(cal).dump()); !r) return r.error();
    if (auto r = store_.put("calibration", "latest", label_); !r) return r.error();
    return cal;
  }

 private:
  // Stores a chain's result; the first failure ends the calibration (run) unstored: a
  // calibration whose chains the store lacks could not be checked.
  void add(const ResultRecord& r) {
    if (auto id = store_.add_result(r); !id && store_error_.empty())
      store_error_ = id.error().message;
  }

  struct BackendOverheads {
    bool measured = false;
    double graph_s = 0, transfer_gbps = 0, segment_switch_s = 0;
    std::vector<OpPoint> points;  // the elementwise chains (f32 points)
  };

  void say(const std::string& s) const {
    if (o_.progress) o_.progress(s);
  }

  std::string weights_for(const Graph& g) {
    const std::string path =
        (dir_ / (g.variant + "-" + workloads::tier_dtype_name(g.dtype) + ".safetensors")).string();
    if (auto r = workloads::ensure_weights_file(g, path, o_.seed); !r) return {};
    largest_ = std::max(largest_, std::make_pair(g.figures().weight_bytes, path));
    largest_graph_[path] = g;
    return path;
  }

  double peak(const std::string& dtype) const {
    return ceilings_.is_null() ? -1 : dtype_ceiling(ceilings_, dtype);
  }
  double bandwidth() const {
    if (ceilings_.is_null() || !ceilings_["memory_bandwidth_gbps"]["value"].is_number()) return -1;
    return ceilings_["memory_bandwidth_gbps"]["value"].get<double>();
  }

  // The reference output of a chain, computed once per chain and dtype for every backend: kept
  // in memory and in the work directory, where the other backends' calibrations (children of
  // one `tierbench calibrate`, sharing it) read it. Computing them was a quarter of a
  // calibration's time when each child computed its own (94 of 388 s here: naive kernels, and
  // the int8 chains' scale calibration).
  Result<const Tensor*> reference(const Graph& g, const std::string& wpath) {
    const std::string key = g.variant + "-" + workloads::tier_dtype_name(g.dtype);
    if (ref_out_.count(key)) return &ref_out_[key];
    const std::string path = (dir_ / ("reference-" + key + ".safetensors")).string();
    if (auto h = workloads::read_safetensors_header(path); h && h->tensors.size() == 1) {
      auto t = workloads::read_safetensors(path, *h, {h->tensors[0].name}, false);
      if (t && t->size() == 1) return &(ref_out_[key] = std::move((*t)[0]));
    }
    auto r = run_graph(*ref_, g, wpath, o_.threads, o_.seed, 0);
    if (!r) return make_error("reference: " + r.error().message);
    const Tensor& out = r->out;
    // Not written: the next backend computes it again.
    (void)workloads::write_safetensors(path, {{"out", out.dtype(), out.shape()}}, {},
                                       [&](std::size_t, std::span<std::byte> dst) {
                                         std::memcpy(dst.data(), out.raw(), dst.size());
                                       });
    return &(ref_out_[key] = std::move(r->out));
  }

  // Host ops: chains of permutes (no kernels). Bytes read + written per second from one of 1 MB
  // permutes, and the fixed cost of one from one of 2 KB permutes (what that takes beyond its
  // bytes at that rate): a decoder's KV-cache writes move 768 bytes each (0.6 us in place).
  struct HostRates {
    double gbps = 0, op_s = 0;
  };
  Result<HostRates> host_rates() {
    constexpr int kOps = 8;
    const auto timed = [&](std::int64_t side) -> Result<double> {
      Builder b("calibrate", "host-permute-" + std::to_string(side), DType::f32);
      int x = b.input("x", DType::f32, {side, side, side});
      for (int i = 0; i < kOps; ++i) x = b.permute("p" + std::to_string(i), x, side, side, side);
      Graph g = b.finish(x);
      const std::string path = weights_for(g);
      auto t = run_graph(*ref_, g, path, o_.threads, o_.seed, o_.sample_s);
      if (!t) return make_error("host-op calibration: " + t.error().message);
      return t->median_s / kOps;
    };
    auto big = timed(64), small = timed(8);
    if (!big) return big.error();
    if (!small) return small.error();
    const auto bytes = [](double side) { return 2.0 * side * side * side * 4; };
    HostRates r;
    r.gbps = bytes(64) / *big / 1e9;
    r.op_s = std::max(0.0, *small - bytes(8) / (r.gbps * 1e9));
    return r;
  }

  double storage_gbps() {
    if (!ceilings_.is_null() && ceilings_["storage_read_gbps"]["value"].is_number())
      return ceilings_["storage_read_gbps"]["value"].get<double>();
    if (largest_.second.empty()) return -1;
    auto r = workloads::load_weights(largest_graph_[largest_.second], largest_.second, true);
    return r && r->seconds > 0 ? static_cast<double>(r->bytes) / r->seconds / 1e9 : -1;
  }

  struct PointRun {
    OpPoint p;
    Timed shrt, lng;
    double intercept_s = 0;
  };

  // A calibration result of this run on the backend's first device.
  ResultRecord record(Backend& b, const std::string& dts) const {
    ResultRecord r;
    r.run_id = run_id_, r.kind = "calibration", r.backend = std::string(b.name());
    r.device = b.devices()[0].name, r.dtype = dts;
    r.timing_source = std::string(timing_source_name(TimingSource::host_clock));
    return r;
  }

  // Why the backend cannot run a kernel of g ("problem: reason"), or empty.
  static std::string unsupported(Backend& b, const Graph& g) {
    for (const auto& l : g.layers)
      if (l.problem)
        if (auto sup = b.supports(*l.problem, 0); !sup.supported)
          return l.problem->str() + ": " + sup.reason;
    return {};
  }

  // The layers of a GEMV chain whose weights are four times the last-level cache; -1 where the
  // long chain's are already three times the cache (it streams: cold is warm; 2048x2048, 100
  // MB), 0 where more than kStreamLayers would be needed (evict instead) and for other classes.
  // Four, not two: at twice its size this machine's last-level cache still held enough of the chain
  // to read 576x576 f32 GEMVs at 35 GB/s, against 24-28 GB/s at four and eight times and 21-25 GB/s
  // for SmolLM's GEMVs in place.
  static int stream_layers(const Shape& s, const Graph& short_chain) {
    constexpr int kStreamLayers = 128;
    if (s.cls != "gemv") return 0;
    const double layer =
        static_cast<double>(short_chain.figures().weight_bytes) / static_cast<double>(kShort);
    const double llc = static_cast<double>(cache_sizes().last_level);
    if (kLong * layer >= 3 * llc) return -1;
    const double n = std::ceil(4 * llc / std::max(layer, 1.0));
    if (n <= kLong) return -1;
    return n > kStreamLayers ? 0 : static_cast<int>(n);
  }

  static constexpr int kRetries = 2;  // re-measures of a pair chain_inconsistency rules out

  // One shape on one backend: validate the short chain, time both, store the result.
  std::optional<PointRun> measure(Backend& b, const Shape& s, DType dt, const std::string& dts) {
    const Graph gs = chain(s, dt, kShort), gl = chain(s, dt, kLong);
    ResultRecord r = record(b, dts);
    // The chain's first layer, l0 (a strided depthwise chain's "pre" convolution comes before).
    const Problem& prob = *std::find_if(gs.layers.begin(), gs.layers.end(), [](const auto& l) {
                             return l.name == "l0";
                           })->problem;
    r.name = prob.str();
    const auto finish = [&](Status st, std::string msg) {
      r.status = st;
      r.message = std::move(msg);
      add(r);
    };
    if (auto why = unsupported(b, gs); !why.empty()) {
      finish(Status::unsupported, why);
      return std::nullopt;
    }
    const std::string ws = weights_for(gs), wl = weights_for(gl);
    if (ws.empty() || wl.empty()) {
      finish(Status::error, "could not write the chain's weights under " + dir_.string());
      return std::nullopt;
    }
    auto ref = reference(gs, ws);
    if (!ref) {
      finish(Status::error, ref.error().message);
      return std::nullopt;
    }
    PointRun pr;
    // A GEMV's cold time: a chain long enough that its weights stream through the last-level
    // cache layer after layer (four times its size), timed as it runs, as a decoder's GEMVs stream
    // theirs; evicting the caches before each inference of the short chains stands in where
    // that chain would need more than kStreamLayers layers (or the long chain already is one).
    const int stream = stream_layers(s, gs);
    bool cold = cold_point(s.cls, prob) && stream == 0;
    const double cold_below_s = cold_sampling_limit_s(prob, kShort, bandwidth());
    auto ts = run_graph(b, gs, ws, o_.threads, o_.seed, o_.sample_s, cold, 0, 0, cold_below_s);
    if (!ts) {
      finish(Status::error, ts.error().message);
      return std::nullopt;
    }
    const bool cold_as_warm = cold && ts->median_cold_s < 0;
    if (cold_as_warm) cold = false;
    Tolerance tol;
    tol.rtol = graph_rtol(dt);
    const Check chk =
        check_outputs(std::span<const Tensor>(&ts->out, 1), std::span<const Tensor>(*ref, 1), tol);
    if (chk.status != Status::passed) {
      finish(chk.status, "chain differs from the reference: " + chk.message);
      return std::nullopt;
    }
    auto tl = run_graph(b, gl, wl, o_.threads, o_.seed, o_.sample_s, cold);
    if (!tl) {
      finish(Status::error, tl.error().message);
      return std::nullopt;
    }
    // A pair the chains' structure rules out is a disturbed sampling window, not the kernel:
    // measured again, up to kRetries times, and the least inconsistent pair kept.
    int retries = 0;
    const auto inconsistency = [&](const Timed& a, const Timed& z) {
      return std::max(chain_inconsistency(a.median_s, z.median_s),
                      cold ? chain_inconsistency(a.median_cold_s, z.median_cold_s, true) : 0.0);
    };
    for (double off = inconsistency(*ts, *tl); off > 0 && retries < kRetries; ++retries) {
      auto ts2 = run_graph(b, gs, ws, o_.threads, o_.seed, o_.sample_s, cold);
      auto tl2 = run_graph(b, gl, wl, o_.threads, o_.seed, o_.sample_s, cold);
      if (!ts2 || !tl2) break;
      const double off2 = inconsistency(*ts2, *tl2);
      if (off2 < off) ts = std::move(ts2), tl = std::move(tl2), off = off2;
    }
    pr.shrt = std::move(*ts), pr.lng = std::move(*tl);
    OpPoint& p = pr.p;
    p.op_class = s.cls, p.problem = prob.str(), p.flops = prob.flops(),
    p.bytes = traffic_bytes(prob);
    p.node_s = (pr.lng.median_s - pr.shrt.median_s) / (kLong - kShort);
    if (p.node_s <= 0) p.node_s = pr.lng.median_s / kLong;  // noise: the upper bound
    pr.intercept_s = std::max(0.0, pr.shrt.median_s - kShort * p.node_s);
    if (stream > 0) {
      const Graph gstream = chain(s, dt, stream);
      const std::string wstream = weights_for(gstream);
      if (wstream.empty()) {
        finish(Status::error, "could not write the chain's weights under " + dir_.string());
        return std::nullopt;
      }
      auto tstream = run_graph(b, gstream, wstream, o_.threads, o_.seed, o_.sample_s);
      if (!tstream) {
        finish(Status::error, tstream.error().message);
        return std::nullopt;
      }
      p.node_cold_s = (tstream->median_s - pr.shrt.median_s) / (stream - kShort);
      if (p.node_cold_s <= 0) p.node_cold_s = tstream->median_s / stream;
      p.node_cold_s = std::max(p.node_cold_s, p.node_s);
    }
    if (stream < 0 || cold_as_warm) p.node_cold_s = p.node_s;
    if (cold) {
      p.node_cold_s = (pr.lng.median_cold_s - pr.shrt.median_cold_s) / (kLong - kShort);
      if (p.node_cold_s <= 0) p.node_cold_s = pr.lng.median_cold_s / kLong;
      // Cold cannot be faster than warm: a smaller figure is noise.
      p.node_cold_s = std::max(p.node_cold_s, p.node_s);
    }
    const bool int8 = dt == DType::s8;
    p.compile_s = std::max(0.0, pr.shrt.prepare_s - pr.shrt.calibrate_s) / (int8 ? 2 : 1);
    const double roof = roofline_s(p.flops, p.bytes, peak(dts), bandwidth());
    p.efficiency = roof > 0 ? roof / p.node_s : -1;
    r.median_s = p.node_s, r.prepare_s = p.compile_s, r.first_s = pr.lng.first_s;
    r.samples = pr.lng.samples, r.n = static_cast<std::int64_t>(r.samples.size());
    r.max_rel_err = chk.max_rel_err;
    r.metrics = {{"op_class", s.cls},
                 {"label", label_},
                 {"chain", {kShort, kLong}},
                 {"short_s", pr.shrt.median_s},
                 {"long_s", pr.lng.median_s},
                 {"short_cold_s", cold ? json(pr.shrt.median_cold_s) : json()},
                 {"long_cold_s", cold ? json(pr.lng.median_cold_s) : json()},
                 {"remeasured", retries},
                 {"peak_rss_added_bytes", pr.lng.peak_added ? json(*pr.lng.peak_added) : json()},
                 {"node_cold_s", p.node_cold_s > 0 ? json(p.node_cold_s) : json()},
                 {"cold", stream > 0     ? "a chain of " + std::to_string(stream) + " layers"
                          : stream < 0   ? "the long chain (its weights exceed the caches)"
                          : cold         ? "caches evicted before each inference"
                          : cold_as_warm ? "as warm (5 ms or more, its bytes from memory under 1%)"
                                         : "not measured"},
                 {"intercept_s", pr.intercept_s},
                 {"flops", p.flops},
                 {"bytes", p.bytes},
                 {"efficiency", p.efficiency > 0 ? json(p.efficiency) : json()},
                 {"threads", o_.threads},
                 {"validation", "chain of 2 against the reference"}};
    finish(Status::passed, "");
    return pr;
  }

  // A graph of distinct layers (mixed or segmented chain) on the backend, validated against the
  // reference and timed (four times a chain's budget, the first quarter untimed: on lavapipe a
  // network of distinct pipelines ran 1.5 to 2x slower for its first ~0.1 s, 15 ms falling to 7,
  // which a median of 20 samples still read as a cost of switching kernels), with what entry `e`
  // predicts for it. The caller stores the result (named `name`); failures are stored here.
  struct TimedGraph {
    ResultRecord r;
    Timed t;
    double predicted_s = 0;  // what the entry predicts for it (as it stands)
    std::map<std::string, double> predicted_layer_s;  // by layer name, overheads left out
  };
  std::optional<TimedGraph> timed_graph(Backend& b, const Graph& g, DType dt,
                                        const std::string& dts, const BackendCalibration& e,
                                        const std::string& name, int profile_runs = 0) {
    TimedGraph m;
    m.r = record(b, dts);
    m.r.name = name;
    const auto fail = [&](Status st, std::string msg) {
      m.r.status = st;
      m.r.message = std::move(msg);
      add(m.r);
      return std::nullopt;
    };
    if (auto why = unsupported(b, g); !why.empty()) return fail(Status::unsupported, why);
    const std::string path = weights_for(g);
    if (path.empty()) return fail(Status::error, "could not write the chain's weights");
    auto ref = reference(g, path);
    if (!ref) return fail(Status::error, ref.error().message);
    auto t = run_graph(b, g, path, o_.threads, o_.seed, 3 * o_.sample_s, false, o_.sample_s,
                       profile_runs);
    if (!t) return fail(Status::error, t.error().message);
    Tolerance tol;
    tol.rtol = graph_rtol(dt);
    const Check chk =
        check_outputs(std::span<const Tensor>(&t->out, 1), std::span<const Tensor>(*ref, 1), tol);
    if (chk.status != Status::passed)
      return fail(chk.status, "mixed chain differs from the reference: " + chk.message);
    Calibration only;
    only.entries = {e};
    const ModelEstimate est = predict(g, only, e.backend);
    if (!est.feasible) return fail(Status::error, "no prediction: " + est.why);
    m.predicted_s = est.latency_ms / 1e3;
    for (const auto& l : est.layers)
      m.predicted_layer_s[l.name] = (l.latency_ms - l.overhead_ms) / 1e3;
    m.r.median_s = t->median_s, m.r.prepare_s = t->prepare_s, m.r.first_s = t->first_s;
    m.r.samples = t->samples, m.r.n = static_cast<std::int64_t>(m.r.samples.size());
    m.r.max_rel_err = chk.max_rel_err;
    m.t = std::move(*t);
    return m;
  }

  // The mixed chain (mixed_chain) against what the entry's points predict for it. Every node
  // pays the difference per node, >= 0: mixed_node_s. Where the backend runs small nodes on one
  // thread (serial_flops), the chain switches thread count 7 times, and a node after a switch
  // finds part of its input in another core's cache: there mixed_node_s comes from the chain at
  // 12x12, every node on one thread, and what the chain at 24x24 takes beyond it and
  // mixed_node_s is the crossing bytes' (thread_crossing_bytes) time: cross_core_gbps.
  void mixed(Backend& b, DType dt, const std::string& dts, BackendCalibration& e) {
    int nodes = 0;
    const Graph g = mixed_chain(dt, &nodes);
    const std::string name = "mixed-chain:" + std::to_string(nodes) + "-layers";
    auto m = timed_graph(b, g, dt, dts, e, name);
    if (!m) return;
    e.serial_flops = m->t.serial_flops;
    int serial_nodes = 0;
    const Graph gs = mixed_chain(dt, &serial_nodes, 12);
    const bool all_serial =
        e.serial_flops > 0 && std::all_of(gs.layers.begin(), gs.layers.end(), [&](const Layer& l) {
          return !l.problem || l.problem->flops() < e.serial_flops;
        });
    std::optional<TimedGraph> ms;
    if (all_serial) ms = timed_graph(b, gs, dt, dts, e, name + "-one-thread");
    json one_thread = nullptr;
    if (ms) {
      e.mixed_node_s = std::max(0.0, (ms->t.median_s - ms->predicted_s) / serial_nodes);
      Calibration only;
      only.entries = {e};
      const double predicted = predict(g, only, e.backend).latency_ms / 1e3;
      const double crossing = thread_crossing_bytes(g, e), excess = m->t.median_s - predicted;
      e.cross_core_gbps = crossing > 0 && excess > 0 ? crossing / excess / 1e9 : 0;
      store_timed(
          *ms, {{"op_class", "mixed"}, {"nodes", serial_nodes}, {"mixed_node_s", e.mixed_node_s}});
      one_thread = {{"name", ms->r.name}, {"crossing_bytes", crossing}};
    } else {
      e.mixed_node_s = std::max(0.0, (m->t.median_s - m->predicted_s) / nodes);
    }
    store_timed(*m, {{"op_class", "mixed"},
                     {"nodes", nodes},
                     {"mixed_node_s", e.mixed_node_s},
                     {"serial_flops", e.serial_flops},
                     {"cross_core_gbps", e.cross_core_gbps},
                     {"one_thread_chain", one_thread},
                     {"peak_rss_added_bytes", m->t.peak_added ? json(*m->t.peak_added) : json()}});
  }

  // The streamed chain (streamed_chain) with its layers timed, against what the entry's points
  // (cold where they have cold times) predict for each layer, at two sizes: three times the
  // last-level cache (12 repetitions, 101 MB, for 32 MiB), the size of the GEMV chains that gave
  // the cold times, and 512 MB or just over, a decoder's (64 repetitions, 538 MB; SmolLM-135M's
  // f32 weights: 540 MB; not with --quick, nor with under 8 GiB of memory). The median excess
  // of the small nodes of both, >= 0, is stream_node_s; the median ratio of each one's GEMVs, a
  // point of stream_gemv, and where the backend runs the square GEMVs on one thread and the
  // others on several, theirs a point of stream_gemv_serial. (Before the square GEMVs were added,
  // 15 and 76 repetitions of 7 MB.) Here the same GEMVs took 1.3-1.4x as long in the 539 MB chain
  // as in the 106 MB one, run a minute apart (128-147 us against 91-114), as SmolLM's took 1.4x the
  // GEMV chains' prediction: the footprint, most likely through the virtual machine's page walks,
  // whose tables outgrow the caches with it. Layer
  // times, not the chain's: its GEMVs take 98% of it, and their noise would bury a few
  // microseconds per small node.
  void streamed(Backend& b, BackendCalibration& e) {
    const double llc = cache_sizes().last_level;
    std::vector<int> sizes = {
        static_cast<int>(std::clamp(std::ceil(3 * llc / kStreamRepBytes), 2.0, 64.0))};
    const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) *
                          static_cast<double>(::sysconf(_SC_PAGE_SIZE));
    const int large = static_cast<int>(std::ceil(512.0 * (1 << 20) / kStreamRepBytes));
    if (!o_.quick && memory >= 8.0 * (1 << 30) && large >= 2 * sizes[0]) sizes.push_back(large);
    std::vector<double> excess;
    std::vector<std::pair<double, double>> gemv, gemv_serial;
    e.stream_gemv.clear(), e.stream_gemv_serial.clear(), e.stream_node_s = 0;  // points alone
    for (const int reps : sizes) {
      const Graph g = streamed_chain(reps);
      auto m = timed_graph(b, g, DType::f32, "f32", e,
                           "streamed-chain:" + std::to_string(reps) + "-gemv-pairs", 10);
      if (!m) continue;
      std::vector<double> ratio, ratio_serial;  // GEMVs on all threads, on one
      json layers = json::array();
      for (std::size_t li = 0; li < g.layers.size(); ++li) {
        const Layer& l = g.layers[li];
        const auto p = m->predicted_layer_s.find(l.name);
        if (!l.problem || li >= m->t.layer_s.size() || m->t.layer_s[li] <= 0 ||
            p == m->predicted_layer_s.end() || p->second <= 0)
          continue;
        const std::string cls = op_class(*l.problem);
        if (small_op_class(cls)) excess.push_back(m->t.layer_s[li] - p->second);
        if (cls == "gemv")
          (e.serial_flops > 0 && l.problem->flops() < e.serial_flops ? ratio_serial : ratio)
              .push_back(m->t.layer_s[li] / p->second);
        layers.push_back({l.name, m->t.layer_s[li], p->second});
      }
      const double weights = static_cast<double>(g.figures().weight_bytes);
      const auto median_ratio = [](const std::vector<double>& r) {
        return r.empty() ? 1 : std::clamp(stats::quantile(r, 0.5), 0.25, 4.0);
      };
      const double scale = median_ratio(ratio), scale_serial = median_ratio(ratio_serial);
      if (!ratio.empty()) gemv.emplace_back(weights, scale);
      if (!ratio_serial.empty()) gemv_serial.emplace_back(weights, scale_serial);
      store_timed(*m, {{"op_class", "streamed"},
                       {"repetitions", reps},
                       {"weight_bytes", weights},
                       {"gemv_scale", scale},
                       {"gemv_scale_serial", ratio_serial.empty() ? json() : json(scale_serial)},
                       {"layers", layers},
                       {"columns", {"name", "measured_s", "predicted_s"}}});
    }
    e.stream_node_s = excess.empty() ? 0 : std::max(0.0, stats::quantile(excess, 0.5));
    e.stream_gemv = std::move(gemv);
    e.stream_gemv_serial = std::move(gemv_serial);
  }

  // Stores a timed graph as a passed result: `metrics` and what every such result carries.
  void store_timed(TimedGraph& m, json metrics) {
    metrics["label"] = label_, metrics["threads"] = o_.threads;
    metrics["predicted_s"] = m.predicted_s;
    metrics["validation"] = "the chain against the reference";
    m.r.metrics = std::move(metrics);
    m.r.status = Status::passed;
    add(m.r);
  }

  // Per-graph overhead and transfer throughput of a backend: f32 elementwise chains, tiny and
  // large (their intercepts).
  void overheads(Backend& b, BackendOverheads& ov) {
    if (ov.measured) return;
    ov.measured = true;
    std::vector<std::pair<double, double>> io_intercept;  // (bytes in + out, intercept)
    for (const std::int64_t n : {576, 200704}) {
      auto pr = measure(b, {"eltwise", n}, DType::f32, "f32");
      if (!pr) continue;
      io_intercept.emplace_back(8.0 * static_cast<double>(n), pr->intercept_s);
      ov.points.push_back(pr->p);
    }
    if (io_intercept.size() < 2) return;
    ov.graph_s = io_intercept[0].second;
    const double dt = io_intercept[1].second - io_intercept[0].second;
    const double db = io_intercept[1].first - io_intercept[0].first;
    // An intercept that does not grow with the bytes: the backend reads its inputs in place
    // (oneDNN: 0 B moved per inference), and a segment's inputs cost nothing measurable (0).
    // A floor of 10 GB/s there had charged SmolLM's 31 segments 0.6 ms for bytes never copied.
    ov.transfer_gbps = dt > 0 ? db / dt / 1e9 : 0;
    segments(b, ov);
  }

  // The segmented chain (segmented_chain), validated and timed, against what the elementwise
  // points, graph_s, the transfers and the host ops predict for it: the excess per segment after
  // a host op, >= 0, is segment_switch_s.
  void segments(Backend& b, BackendOverheads& ov) {
    const Graph g = segmented_chain();
    BackendCalibration e;
    e.backend = std::string(b.name()), e.dtype = "f32", e.points = ov.points;
    e.graph_s = ov.graph_s, e.transfer_gbps = ov.transfer_gbps, e.host_gbps = host_gbps_;
    auto m = timed_graph(b, g, DType::f32, "f32", e,
                         "segments:" + std::to_string(kSegments) + "-split-by-host-ops");
    if (!m) return;
    ov.segment_switch_s = std::max(0.0, (m->t.median_s - m->predicted_s) / (kSegments - 1));
    store_timed(*m, {{"op_class", "segments"},
                     {"segments", kSegments},
                     {"graph_s", ov.graph_s},
                     {"segment_switch_s", ov.segment_switch_s}});
  }

  Result<BackendCalibration> calibrate_entry(Backend& b, const std::string& dts,
                                             BackendOverheads& ov) {
    const auto dt = workloads::parse_tier_dtype(dts);
    if (!dt) return make_error("calibrate: unknown dtype '" + dts + "' (valid: f32, bf16, int8)");
    BackendCalibration e;
    e.backend = std::string(b.name()), e.device = b.devices()[0].name, e.dtype = dts;
    e.threads = o_.threads;
    if (const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA")) e.isa = isa;
    e.peak_gflops = peak(dts), e.bandwidth_gbps = bandwidth();
    const CacheSizes caches = cache_sizes();
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    e.warm_bytes = caches.per_core * (o_.threads > 0 ? o_.threads : hw);
    e.cold_bytes = std::max(caches.last_level, e.warm_bytes);
    overheads(b, ov);
    e.graph_s = ov.graph_s, e.transfer_gbps = ov.transfer_gbps;
    e.segment_switch_s = ov.segment_switch_s;
    {  // a decoder's caches and views are bf16 in a bf16 graph, f32 otherwise
      KvWriteDesc kv;
      kv.h = 3, kv.s = 128, kv.d = 64, kv.p = 127;
      const DType cache = *dt == DType::bf16 ? DType::bf16 : DType::f32;
      e.kv_writes_on_device = b.supports(Problem{kv, cache, {}}, 0).supported;
      PermuteDesc pm;  // a prefill's heads-major view: 128 tokens of 9 heads of 64
      pm.a = 128, pm.b = 9, pm.c = 64;
      SliceDesc sl;  // its last token before the LM head
      sl.r = 128, sl.n = 576, sl.s = 127, sl.c = 1;
      e.permutes_on_device = b.supports(Problem{pm, cache, {}}, 0).supported &&
                             b.supports(Problem{sl, cache, {}}, 0).supported;
    }
    std::vector<double> first;
    double upload_bytes = 0;
    std::vector<std::pair<Graph, double>> peaks;  // long chains, the peak RSS each added
    for (const auto& s : shapes(dts, o_.quick)) {
      if (s.cls == "eltwise") continue;  // measured with the overheads
      say(fmt::format("{} {} {}", e.backend, dts, shape_name(s)));
      auto pr = measure(b, s, *dt, dts);
      if (!pr) continue;
      if (pr->lng.fused > 0) e.fuses_int8_epilogue = true;
      if (pr->lng.requantised > 0) e.requantises_int8 = true;
      if (pr->lng.median_s > 0) first.push_back(pr->lng.first_s / pr->lng.median_s);
      Graph gl = chain(s, *dt, kLong);
      const double wb = static_cast<double>(gl.figures().weight_bytes);
      if (pr->lng.peak_added)
        peaks.emplace_back(std::move(gl), static_cast<double>(*pr->lng.peak_added));
      if (wb > upload_bytes && pr->lng.upload_s > 0) {
        upload_bytes = wb;
        e.upload_gbps = wb / pr->lng.upload_s / 1e9;
        e.weight_copy = std::clamp(
            static_cast<double>(pr->lng.mem.host_bytes + pr->lng.mem.device_bytes) / wb, 0.0, 4.0);
      }
      e.points.push_back(pr->p);
    }
    if (dts == "f32") e.points.insert(e.points.end(), ov.points.begin(), ov.points.end());
    std::sort(first.begin(), first.end());
    if (!first.empty()) e.first_ratio = std::max(1.0, first[first.size() / 2]);
    say(fmt::format("{} {} mixed chain", e.backend, dts));
    mixed(b, *dt, dts, e);
    if (dts == "f32") {
      say(fmt::format("{} {} streamed chain", e.backend, dts));
      streamed(b, e);
    }
    memory_model(e, peaks);
    return e;
  }

  // The peak memory beyond the predictor's model of it (peak_memory_bytes without floor and
  // transient): the floor, the median excess of the chains with under 1 MB of weights; the
  // transient, the median excess beyond the floor per weight byte of those with 8 MB or more.
  static void memory_model(BackendCalibration& e,
                           const std::vector<std::pair<Graph, double>>& peaks) {
    e.memory_floor_bytes = e.weight_transient = 0;
    std::vector<double> floor, transient;
    for (const auto& [g, peak] : peaks)
      if (g.figures().weight_bytes < (1 << 20)) floor.push_back(peak - peak_memory_bytes(g, e));
    if (!floor.empty()) e.memory_floor_bytes = std::max(0.0, stats::quantile(floor, 0.5));
    for (const auto& [g, peak] : peaks) {
      const double w = static_cast<double>(g.figures().weight_bytes);
      if (w >= (8 << 20)) transient.push_back((peak - peak_memory_bytes(g, e)) / w);
    }
    if (!transient.empty())
      e.weight_transient = std::clamp(stats::quantile(transient, 0.5), 0.0, 2.0);
  }

  Store& store_;
  std::int64_t run_id_;
  const CalibrateOptions& o_;
  std::filesystem::path dir_;  // the chains' weights and reference outputs
  std::string store_error_;    // the first result the store refused
  bool own_dir_ = true;        // made by this calibration, removed with it (else o_.work_dir)
  std::string label_;
  json ceilings_;
  std::unique_ptr<Backend> ref_ = make_reference_backend();
  std::map<std::string, Tensor> ref_out_;
  std::pair<std::int64_t, std::string> largest_;
  std::map<std::string, Graph> largest_graph_;
  double host_gbps_ = 0;
};

}  // namespace

std::string configuration_label(int threads) {
  std::string s = "threads=" + std::to_string(threads);
  if (const char* isa = std::getenv("ONEDNN_MAX_CPU_ISA"); isa && *isa)
    s += std::string(",isa=") + isa;
  return s;
}

std::filesystem::path work_dir_path(const std::string& what) {
  return std::filesystem::temp_directory_path() /
         ("tierbench-" + what + "-" + std::to_string(::getpid()));
}

void remove_stale_work_dirs() {
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
    const std::string name = e.path().filename().string();
    const auto dash = name.rfind('-');
    if (dash == std::string::npos || dash + 1 == name.size()) continue;
    const std::string what = name.substr(0, dash), pid = name.substr(dash + 1);
    if (what != "tierbench-calibrate" && what != "tierbench-calibrate-shared" &&
        what != "tierbench-validate")
      continue;
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    const pid_t p = static_cast<pid_t>(std::stol(pid));
    if (p <= 0 || ::kill(p, 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code rm;
    std::filesystem::remove_all(e.path(), rm);
  }
}

Result<Calibration> calibrate(Store& store, std::int64_t run_id, const CalibrateOptions& o) {
  if (o.work_dir.empty()) remove_stale_work_dirs();
  Calibrator c(store, run_id, o);
  return c.run();
}

Result<Calibration> load_calibration(Store& store, const std::string& label) {
  std::string key = label;
  if (key.empty()) {
    auto latest = store.get("calibration", "latest");
    if (!latest) return latest.error();
    if (!latest->has_value())
      return make_error("no calibration in the store: run 'tierbench calibrate' first");
    key = **latest;
  }
  auto v = store.get("calibration", key);
  if (!v) return v.error();
  if (!v->has_value())
    return make_error("no calibration for '" + key + "' in the store: run 'tierbench calibrate" +
                      (key.rfind("threads=", 0) == 0
                           ? " --threads " + key.substr(8, key.find(',') - 8)
                           : std::string()) +
                      "'");
  auto j = parse_limited(**v, {.max_bytes = 8 << 20, .max_depth = 8});
  if (!j) return make_error("stored calibration '" + key + "': " + j.error().message);
  return calibration_from_json(*j);
}

double cold_sampling_limit_s(const Problem& p, int layers, double bandwidth_gbps) {
  const double read_s =
      layers * traffic_bytes(p) / ((bandwidth_gbps > 0 ? bandwidth_gbps : 10) * 1e9);
  return std::max(5e-3, 100 * read_s);
}

double chain_inconsistency(double short_s, double long_s, bool cold) {
  if (short_s <= 0 || long_s <= 0) return 0;
  const double r = long_s / short_s, hi = (cold ? 1.5 : 4.0) * kLong / kShort;
  return r < 0.9 ? 0.9 / r - 1 : r > hi ? r / hi - 1 : 0;
}

}  // namespace tb::profiles
