// The predictor on hand-made calibrations (exact expected figures), its JSON, and one real quick
// calibration of the oneDNN backend (tiny sampling budget).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "builder.h"
#include "calibrate.h"
#include "executor.h"
#include "json_schema.h"
#include "kernels.h"
#include "models.h"
#include "predictor.h"
#include "safetensors.h"
#include "store_fixture.h"
#include "weights.h"

namespace tb::profiles {
namespace {

using json = nlohmann::json;
using workloads::Builder;
using workloads::Graph;

Problem parse(const char* s) {
  return Problem::parse(s).value();
}

bool available(const std::string& backend) {
  for (auto& b : make_backends())
    if (b->name() == backend && b->availability().available) return true;
  return false;
}

// A quick calibration of one backend and dtype: one thread, one shape per class, a tiny budget.
CalibrateOptions quick(const std::string& backend, const std::string& dtype) {
  CalibrateOptions o;
  o.backends = {backend}, o.dtypes = {dtype}, o.threads = 1, o.quick = true, o.sample_s = 0.002;
  return o;
}

TEST(Predictor, OpClasses) {
  EXPECT_EQ(op_class(parse("conv:n1c64h56w56k64r3s3p1:f32+bias+relu")), "conv");
  EXPECT_EQ(op_class(parse("conv:n1c64h56w56k128r1s1:f32")), "pointwise");
  EXPECT_EQ(op_class(parse("conv:n1c3h224w224k32r3s3st2p1:f32+bias+relu6")), "stem");
  EXPECT_EQ(op_class(parse("conv:n1c32h56w56k32r3s3p1g32:f32")), "depthwise");
  EXPECT_EQ(op_class(parse("gemm:m1n576k576:f32")), "gemv");
  EXPECT_EQ(op_class(parse("gemm:m128n768k768:f32")), "gemm");
  EXPECT_EQ(op_class(parse("attn:h8q1s1024d64:f32")), "attention");
  EXPECT_EQ(op_class(parse("softmax:m4n64:f32")), "row");
  EXPECT_EQ(op_class(parse("add:n64:f32")), "eltwise");
  EXPECT_EQ(op_class(parse("rope:t1h9d64:f32")), "rope");
  EXPECT_TRUE(memory_bound_class("rope"));
  EXPECT_TRUE(memory_bound_class("gemv"));
  EXPECT_FALSE(memory_bound_class("conv"));
  EXPECT_DOUBLE_EQ(roofline_s(2e9, 1e9, 100, 10), 0.1);  // bandwidth-bound
  EXPECT_DOUBLE_EQ(roofline_s(2e9, 1e6, 100, 10), 0.02);
}

// Two 3x3 convs at 16 channels (the same problem), as the tiers build them.
Graph two_convs(DType dt) {
  Builder b("t", "v", dt);
  int x = b.input("x", DType::f32, {1, 8, 8, 16});
  x = b.conv("c0", x, 16, 3, 1, 1, 1, Activation::relu);
  x = b.conv("c1", x, 16, 3, 1, 1, 1, Activation::relu);
  return b.finish(x);
}

BackendCalibration entry(const std::string& dtype, const Problem& p, double node_s) {
  BackendCalibration e;
  e.backend = "onednn", e.dtype = dtype;
  e.points = {{"conv", p.str(), p.flops(), p.min_bytes(), node_s, 0.01, -1}};
  e.graph_s = 1e-4, e.transfer_gbps = 1, e.host_gbps = 2, e.upload_gbps = 4;
  e.weight_copy = 1, e.first_ratio = 3, e.peak_gflops = 100, e.bandwidth_gbps = 10;
  return e;
}

TEST(Predictor, F32GraphIsOneSegmentOfCalibratedNodes) {
  const Graph g = two_convs(DType::f32);
  const Problem& p = *g.layers[0].problem;
  Calibration cal;
  cal.storage_read_gbps = 0.5;
  cal.entries = {entry("f32", p, 2e-3)};
  const ModelEstimate e = predict(g, cal, "onednn");
  ASSERT_TRUE(e.feasible) << e.why;
  // One segment: graph run + the image in and the output back over the transfer throughput.
  const double io = 2.0 * 8 * 8 * 16 * 4;
  EXPECT_NEAR(e.latency_ms, (1e-4 + io / 1e9 + 2 * 2e-3) * 1e3, 1e-9);
  ASSERT_EQ(e.layers.size(), 2u);
  EXPECT_EQ(e.layers[1].output_bytes, 8u * 8 * 16 * 4);
  const double wb = static_cast<double>(g.figures().weight_bytes);
  EXPECT_EQ(e.weight_bytes, static_cast<std::uint64_t>(wb));
  EXPECT_NEAR(e.read_ms, wb / 0.5e9 * 1e3, 1e-9);
  EXPECT_NEAR(e.compile_ms, 10.0, 1e-9);  // one distinct kernel
  EXPECT_NEAR(e.upload_ms, wb / 4e9 * 1e3, 1e-9);
  EXPECT_NEAR(e.first_inference_ms, 2 * e.latency_ms, 1e-9);
  EXPECT_EQ(e.source, "predicted");
  // Peak memory: weights, the backend's copy (weight_copy 1), every value; then the calibrated
  // floor per graph and transient per weight byte.
  double values = 0;
  for (const auto& v : g.values) values += static_cast<double>(v.bytes());
  EXPECT_EQ(e.peak_memory_bytes, static_cast<std::uint64_t>(2 * wb + values));
  cal.entries[0].memory_floor_bytes = 7e6, cal.entries[0].weight_transient = 0.5;
  EXPECT_EQ(predict(g, cal, "onednn").peak_memory_bytes,
            static_cast<std::uint64_t>(2.5 * wb + values + 7e6));
  cal.entries[0].memory_floor_bytes = cal.entries[0].weight_transient = 0;
  // The cost of switching kernels, once per kernel node, on one thread or on all of them.
  cal.entries[0].mixed_node_s = 5e-4;
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, e.latency_ms + 2 * 0.5, 1e-9);
  cal.entries[0].serial_flops = 2 * p.flops();
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, e.latency_ms + 2 * 0.5, 1e-9);
  // Crossing bytes: both nodes on one thread, as the caller wrote the input, cross nothing; on
  // all threads, the first reads the caller's input across the change.
  cal.entries[0].cross_core_gbps = 0.5;
  EXPECT_EQ(thread_crossing_bytes(g, cal.entries[0]), 0);
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, e.latency_ms + 2 * 0.5, 1e-9);
  cal.entries[0].serial_flops = p.flops();
  EXPECT_EQ(thread_crossing_bytes(g, cal.entries[0]), 8 * 8 * 16 * 4);
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms,
              e.latency_ms + 2 * 0.5 + 8 * 8 * 16 * 4 / 0.5e9 * 1e3, 1e-9);
  cal.entries[0].cross_core_gbps = 0;  // not measured: no cost
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, e.latency_ms + 2 * 0.5, 1e-9);
}

TEST(Predictor, CountsTheBytesReadAcrossAChangeOfThreadCount) {
  // A 3x3 conv (all threads), a 1x1 (one thread), a 3x3 again: every edge changes side, the
  // caller's input (written on one thread) included.
  Builder b("t", "v", DType::f32);
  int x = b.input("x", DType::f32, {1, 8, 8, 16});
  x = b.conv("c0", x, 16, 3, 1, 1, 1, Activation::relu);
  x = b.conv("c1", x, 16, 1, 1, 0, 1, Activation::relu);
  x = b.conv("c2", x, 16, 3, 1, 1, 1, Activation::relu);
  const Graph g = b.finish(x);
  const double big = g.layers[0].problem->flops();
  BackendCalibration c;
  c.backend = "onednn", c.dtype = "f32";
  EXPECT_EQ(thread_crossing_bytes(g, c), 0);  // every node on all threads: no change
  c.serial_flops = big;                       // c1 alone under it
  constexpr double kValue = 8 * 8 * 16 * 4;
  // c0 reads the caller's input (one thread), c1 reads c0's output, c2 reads c1's.
  EXPECT_EQ(thread_crossing_bytes(g, c), 3 * kValue);
  c.serial_flops = big * 2;  // all on one thread
  EXPECT_EQ(thread_crossing_bytes(g, c), 0);
}

// oneDNN writes an int8 convolution's output as u8 when its readers are all int8 convolutions,
// and runs a quantising reorder before every other int8 convolution input (the image, a block
// output a residual add also reads): the predictor finds the same ones in the graph.
TEST(Predictor, FindsTheInt8InputsOneDnnQuantisesInAPassOfTheirOwn) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  std::unique_ptr<Backend> be;
  for (auto& b : make_backends())
    if (b->name() == "onednn" && b->availability().available) be = std::move(b);
  if (!be) GTEST_SKIP() << "onednn: not available";
  workloads::BuildOptions bo;
  bo.reduced = true;  // small enough to prepare in a test
  for (const char* tier : {"person-detect", "mobilenetv2", "resnet50"}) {
    SCOPED_TRACE(tier);
    auto g = workloads::build_tier(tier, "int8", bo);
    ASSERT_TRUE(g.ok()) << g.error().message;
    const auto path = std::filesystem::temp_directory_path() /
                      ("tb_quant_passes_" + std::to_string(::getpid()) + ".safetensors");
    ASSERT_TRUE(workloads::ensure_weights_file(*g, path.string(), 5).ok());
    auto w = workloads::load_weights(*g, path.string(), false);
    std::filesystem::remove(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    workloads::Executor ex(*g, std::move(w->tensors), 5);
    auto p = ex.prepare(*be, 0, 1);
    ASSERT_TRUE(p.ok()) << p.error().message;
    double reorders = -1, requantised = -1;
    for (const auto& [k, v] : p->details) {
      if (k == "conv_quantising_reorders") reorders = v;
      if (k == "requantised_outputs") requantised = v;
    }
    ASSERT_GT(requantised, 0) << "the graph requantises";
    BackendCalibration c;
    c.backend = "onednn", c.dtype = "int8", c.fuses_int8_epilogue = true;
    EXPECT_EQ(quantising_passes(*g, c), static_cast<int>(reorders));
    EXPECT_GT(reorders, 0);
  }
}

// A quantising pass (the image's, before the first int8 convolution) is the backend's reorder:
// charged as its f32 elementwise stream (the smallest calibrated one's time, plus the bytes at the
// largest one's rate), and at the host ops' rate only where no elementwise point was calibrated.
TEST(Predictor, QuantisingPassCostsTheF32ElementwiseStream) {
  const Graph g = two_convs(DType::s8);
  const Problem* conv = nullptr;
  for (const auto& l : g.layers)
    if (l.problem && l.problem->as<ConvDesc>()) conv = &*l.problem;
  ASSERT_NE(conv, nullptr);
  auto e8 = entry("int8", *conv, 1e-4);
  e8.requantises_int8 = e8.fuses_int8_epilogue = true;
  e8.host_op_s = 1e-3, e8.host_gbps = 1;
  ASSERT_EQ(quantising_passes(g, e8), 1);  // the image; c0 writes u8 for c1
  auto e32 = entry("f32", parse("conv:n1c16h8w8k16r3s3p1:f32+relu"), 1e-4);
  e32.points.push_back({"eltwise", "add:n576:f32", 576, 1e3, 1e-6, 0, -1});
  e32.points.push_back({"eltwise", "add:n200704:f32", 200704, 1e7, 1e-4, 0, -1});  // 100 GB/s
  Calibration cal;
  cal.entries = {e32, e8};
  const double stream = predict(g, cal, "onednn").latency_ms;
  cal.entries[0].points.resize(1);  // no elementwise points: the host rate
  const double host = predict(g, cal, "onednn").latency_ms;
  const double bytes = 8 * 8 * 16 * (4 + 1);  // the f32 image read, its u8 copy written
  EXPECT_NEAR(host - stream, 1e3 * ((1e-3 + bytes / 1e9) - (1e-6 + bytes / 100e9)), 1e-9);
}

TEST(Predictor, InterpolatesLogLogBetweenShapesAndKeepsThroughputBeyond) {
  const Graph g = two_convs(DType::f32);
  const Problem& p = *g.layers[0].problem;
  auto e = entry("f32", p, 1e-3);
  // Points at half and twice the layer's FLOPs: 1 ms and 16 ms -> sqrt(16) = 4 ms between.
  e.points = {{"conv", "a", p.flops() / 2, 1, 1e-3, 0, -1},
              {"conv", "b", p.flops() * 2, 1, 16e-3, 0, -1}};
  e.graph_s = 0, e.transfer_gbps = 0;
  Calibration cal;
  cal.entries = {e};
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, 2 * 4.0, 1e-6);
  // Beyond the range: the end point's throughput.
  cal.entries[0].points = {{"conv", "a", p.flops() / 4, 1, 1e-3, 0, -1}};
  EXPECT_NEAR(predict(g, cal, "onednn").latency_ms, 2 * 4.0, 1e-6);
}

// A 1x1 convolution at the given output side and channels (in -> out), alone in a graph.
Graph one_pointwise(std::int64_t side, std::int64_t cin, std::int64_t cout) {
  Builder b("t", "v", DType::f32);
  int x = b.input("x", DType::f32, {1, side, side, cin});
  x = b.conv("c0", x, cout, 1, 1, 0, 1, Activation::relu);
  return b.finish(x);
}

// Two calibrated 1x1 shapes of the same FLOPs, a thin one at 56x56 three times slower than a
// wide one at 7x7: each layer runs at the throughput of the shape it resembles, where a curve
// over FLOPs alone would give both the same time.
TEST(Predictor, ALayerRunsAtTheThroughputOfTheShapesItResembles) {
  const Graph thin = one_pointwise(56, 16, 64), wide = one_pointwise(7, 128, 512);
  const Problem& pt = *thin.layers[0].problem;
  const Problem& pw = *wide.layers[0].problem;
  ASSERT_DOUBLE_EQ(pt.flops(), pw.flops());
  BackendCalibration e = entry("f32", pt, 1);
  e.points = {{"pointwise", pt.str(), pt.flops(), pt.min_bytes(), 3e-3, 0, -1},
              {"pointwise", pw.str(), pw.flops(), pw.min_bytes(), 1e-3, 0, -1}};
  e.graph_s = 0, e.transfer_gbps = 0;
  Calibration cal;
  cal.entries = {e};
  const double t_thin = predict(thin, cal, "onednn").latency_ms;
  const double t_wide = predict(wide, cal, "onednn").latency_ms;
  EXPECT_NEAR(t_thin, 3.0, 0.03);  // the other point, 7 log2 units away, weighs 1/200 as much
  EXPECT_NEAR(t_wide, 1.0, 0.03);
  // Unparseable points (a calibration written by hand) fall back to the curve over FLOPs.
  cal.entries[0].points[0].problem = "a", cal.entries[0].points[1].problem = "b";
  EXPECT_NEAR(predict(thin, cal, "onednn").latency_ms, predict(wide, cal, "onednn").latency_ms,
              1e-9);
}

// A 3x3 depthwise convolution of `c` channels on a side x side input, alone in a graph.
Graph one_depthwise(std::int64_t side, std::int64_t c, std::int64_t stride) {
  Builder b("t", "v", DType::f32);
  int x = b.input("x", DType::f32, {1, side, side, c});
  x = b.conv("dw", x, c, 3, stride, 1, c, Activation::relu6);
  return b.finish(x);
}

// A strided depthwise layer reads four times the input of its stride-1 twin of the same output.
// With a strided point calibrated, it runs at that point's throughput (lavapipe: about the
// stride-1 twin's time, not four times it); the stride-1 layer keeps the stride-1 point's.
TEST(Predictor, AStridedDepthwiseLayerRunsAtTheStridedPointsThroughput) {
  const Graph s1 = one_depthwise(56, 96, 1), s2 = one_depthwise(112, 96, 2);
  const Problem& p1 = *s1.layers[0].problem;
  const Problem& p2 = *s2.layers[0].problem;
  ASSERT_EQ(op_class(p2), "depthwise");
  BackendCalibration e = entry("f32", p1, 1);
  e.graph_s = 0, e.transfer_gbps = 0;
  e.points = {{"depthwise", p1.str(), p1.flops(), traffic_bytes(p1), 5e-3, 0, -1}};
  Calibration cal;
  cal.entries = {e};
  // Without a strided point: by its bytes at the stride-1 point's throughput.
  EXPECT_NEAR(predict(s2, cal, "onednn").latency_ms, 5.0 * traffic_bytes(p2) / traffic_bytes(p1),
              0.05);
  cal.entries[0].points.push_back(
      {"depthwise", p2.str(), p2.flops(), traffic_bytes(p2), 4e-3, 0, -1});
  // Each layer's own point weighs 37 times the other (3 log2 units apart): 4.12 ms, not the
  // 12.5 ms its bytes at the stride-1 throughput make; the stride-1 layer 4.85 ms.
  EXPECT_NEAR(predict(s2, cal, "onednn").latency_ms, 4.12, 0.01);
  EXPECT_NEAR(predict(s1, cal, "onednn").latency_ms, 4.85, 0.01);
}

// One GEMV (a token through a k -> n linear layer), alone in a graph.
Graph one_gemv(std::int64_t k, std::int64_t n) {
  Builder b("t", "v", DType::f32);
  int x = b.input("x", DType::f32, {1, k});
  x = b.linear("fc", x, 1, k, n, true, Activation::none);
  return b.finish(x);
}

// Where the backend runs nodes under serial_flops on one thread, a GEMV takes its throughput from
// the points on its side of that line: SmolLM's down_proj (1536 -> 576, 1.8 MFLOP, threaded)
// from the threaded GEMVs, not from the 576-square one-thread GEMV nearest it in shape space.
TEST(Predictor, AGemvTakesThePointsThatRunOnItsNumberOfThreads) {
  const Graph down = one_gemv(1536, 576), kv = one_gemv(576, 192);
  const Problem& pd = *down.layers[0].problem;
  const Problem& pk = *kv.layers[0].problem;
  ASSERT_EQ(op_class(pd), "gemv");
  BackendCalibration e = entry("f32", pd, 1);
  e.graph_s = 0, e.transfer_gbps = 0, e.serial_flops = 1e6;
  const auto point = [](const char* problem, double gbps) {
    const Problem q = parse(problem);
    return OpPoint{"gemv", q.str(), q.flops(), traffic_bytes(q), traffic_bytes(q) / (gbps * 1e9)};
  };
  e.points = {point("gemm:m1n576k576tb1:f32+bias", 10),    // one thread, 0.66 MFLOP
              point("gemm:m1n192k576tb1:f32+bias", 10),    // one thread, 0.22 MFLOP
              point("gemm:m1n2048k2048tb1:f32+bias", 40),  // threaded
              point("gemm:m1n8192k576tb1:f32+bias", 40)};  // threaded
  ASSERT_LT(e.points[0].flops, 1e6);
  ASSERT_GT(pd.flops(), 1e6);
  ASSERT_LT(pk.flops(), 1e6);
  Calibration cal;
  cal.entries = {e};
  EXPECT_NEAR(predict(down, cal, "onednn").latency_ms, traffic_bytes(pd) / 40e9 * 1e3, 1e-9);
  EXPECT_NEAR(predict(kv, cal, "onednn").latency_ms, traffic_bytes(pk) / 10e9 * 1e3, 1e-9);
  // Every node on all threads (serial_flops 0): the nearest points whatever their side.
  cal.entries[0].serial_flops = 0;
  EXPECT_GT(predict(down, cal, "onednn").latency_ms, 1.2 * traffic_bytes(pd) / 40e9 * 1e3);
}

// A point measured warm (1 ms) and with the caches evicted (2 ms): a graph whose working set
// (weights and twice its largest value) fits the per-core caches runs warm, one as large as the
// last-level cache cold, and one between at the log-linear blend.
TEST(Predictor, WarmWhileTheGraphFitsTheCachesColdBeyondTheLastLevel) {
  const Graph g = two_convs(DType::f32);
  const Problem& p = *g.layers[0].problem;
  Calibration cal;
  cal.entries = {entry("f32", p, 1e-3)};
  auto& e = cal.entries[0];
  e.points[0].node_cold_s = 2e-3;
  e.graph_s = 0, e.transfer_gbps = 0;
  const double ws = static_cast<double>(g.figures().weight_bytes) + 2.0 * 8 * 8 * 16 * 4;
  const auto node_ms = [&] { return predict(g, cal, "onednn").latency_ms / 2; };
  e.warm_bytes = 2 * ws, e.cold_bytes = 64 * ws;
  EXPECT_NEAR(node_ms(), 1.0, 1e-9);
  e.warm_bytes = ws / 8, e.cold_bytes = ws;
  EXPECT_NEAR(node_ms(), 2.0, 1e-9);
  e.warm_bytes = ws / 4, e.cold_bytes = 4 * ws;  // halfway in log: sqrt(1 x 2)
  EXPECT_NEAR(node_ms(), std::sqrt(2.0), 1e-9);
  e.warm_bytes = -1;  // unknown caches: warm
  EXPECT_NEAR(node_ms(), 1.0, 1e-9);
}

// A gemv reads its weights once per inference: whether they come from the caches depends on the
// whole graph's weights, not on the layer's. The same 256x256 gemv runs at its warm rate in a
// 2-layer graph and at its cold rate (its shape streaming from memory) in a 64-layer one, not at
// the rate of another, larger shape.
// Layer i's predicted latency in graph g.
double layer_ms(const Graph& g, const Calibration& cal, std::size_t i) {
  const auto est = predict(g, cal, "onednn");
  EXPECT_TRUE(est.feasible) << est.why;
  return est.layers.at(i).latency_ms;
}

Graph gemv_stack(int layers) {
  Builder b("t", "v", DType::f32);
  int x = b.input("x", DType::f32, {1, 256});
  for (int i = 0; i < layers; ++i)
    x = b.linear("l" + std::to_string(i), x, 1, 256, 256, true, Activation::relu);
  return b.finish(x);
}

TEST(Predictor, GemvStreamsAtItsShapesColdRateWhenTheGraphOutgrowsTheCaches) {
  const Graph small = gemv_stack(2), large = gemv_stack(64);
  const Problem& p = *small.layers[0].problem;
  ASSERT_EQ(op_class(p), "gemv");
  const double bytes = traffic_bytes(p);
  // The layer's own shape: 100 GB/s warm, 10 GB/s cold; a 16x16 larger one at 50 GB/s either way.
  const Problem q = Problem::parse("gemm:m1n4096k4096tb1:f32+bias+relu").value();
  BackendCalibration e = entry("f32", p, 1);
  e.points = {{"gemv", p.str(), p.flops(), bytes, bytes / 100e9, 0, -1, bytes / 10e9},
              {"gemv", q.str(), q.flops(), traffic_bytes(q), traffic_bytes(q) / 50e9, 0, -1,
               traffic_bytes(q) / 50e9}};
  e.graph_s = 0, e.transfer_gbps = 0;
  e.warm_bytes = 1 << 20, e.cold_bytes = 8 << 20;
  ASSERT_LT(small.figures().weight_bytes, e.warm_bytes);
  ASSERT_GT(large.figures().weight_bytes, e.cold_bytes);
  Calibration cal;
  cal.entries = {e};
  const auto mid_ms = [&](const Graph& g) { return layer_ms(g, cal, g.layers.size() / 2); };
  // Nearest in (m, k, n): the layer's own shape, with a weight of ~1% for the other one.
  EXPECT_NEAR(mid_ms(small), bytes / 100e9 * 1e3, 0.03 * bytes / 100e9 * 1e3);
  EXPECT_NEAR(mid_ms(large), bytes / 10e9 * 1e3, 0.03 * bytes / 10e9 * 1e3);
}

// A decoder streams its weights: its GEMVs run at the ratio the streamed chain of its footprint
// measured (log-linear between the two chains' weight bytes, constant beyond), and its small ops
// pay stream_node_s; a graph that fits the caches pays neither.
TEST(Predictor, AStreamingGraphsGemvsScaleWithItsFootprintAndItsSmallOpsPayTheStream) {
  const Graph small = gemv_stack(2), large = gemv_stack(64);
  const Problem& p = *small.layers[0].problem;
  const double bytes = traffic_bytes(p);
  BackendCalibration e = entry("f32", p, 1);
  e.points = {{"gemv", p.str(), p.flops(), bytes, bytes / 100e9, 0, -1, bytes / 10e9}};
  e.graph_s = 0, e.transfer_gbps = 0;
  e.warm_bytes = 1 << 20, e.cold_bytes = 8 << 20;
  Calibration cal;
  cal.entries = {e};
  const auto mid_ms = [&](const Graph& g) { return layer_ms(g, cal, g.layers.size() / 2); };
  const double cold_ms = bytes / 10e9 * 1e3, warm_ms = bytes / 100e9 * 1e3;
  const double w = static_cast<double>(large.figures().weight_bytes);
  ASSERT_NEAR(mid_ms(large), cold_ms, 1e-12);
  auto& c = cal.entries[0];
  c.stream_gemv = {{w / 4, 1.5}, {4 * w, 3.0}};  // halfway in log: sqrt(1.5 x 3)
  EXPECT_NEAR(mid_ms(large), cold_ms * std::sqrt(4.5), 1e-9);
  c.stream_gemv = {{w / 4, 1.5}};  // one size: its ratio throughout
  EXPECT_NEAR(mid_ms(large), cold_ms * 1.5, 1e-9);
  EXPECT_NEAR(mid_ms(small), warm_ms, 1e-12);  // within the caches: no stream
  // GEMVs the backend runs on one thread (under serial_flops) take the serial ratio where there
  // is one; the others, and every GEMV of a backend without serial nodes, the threaded one.
  c.stream_gemv_serial = {{w / 4, 2.5}};
  EXPECT_NEAR(mid_ms(large), cold_ms * 1.5, 1e-9);  // serial_flops 0: no node is serial
  c.serial_flops = p.flops() + 1;
  EXPECT_NEAR(mid_ms(large), cold_ms * 2.5, 1e-9);
  c.serial_flops = p.flops();  // not fewer FLOPs: on all threads
  EXPECT_NEAR(mid_ms(large), cold_ms * 1.5, 1e-9);
  c.serial_flops = 0, c.stream_gemv_serial.clear();
  // A small op (a norm) between the GEMVs: its node time + stream_node_s, only while streaming.
  const auto with_norm = [](int layers) {
    Builder b("t", "v", DType::f32);
    int x = b.input("x", DType::f32, {1, 256});
    for (int i = 0; i < layers; ++i) {
      x = b.linear("l" + std::to_string(i), x, 1, 256, 256, true, Activation::relu);
      x = b.row("n" + std::to_string(i), RowKind::rmsnorm, x, 1, 256);
    }
    return b.finish(x);
  };
  const Graph gs = with_norm(2), gl = with_norm(64);
  const Problem& n = *gs.layers[1].problem;
  ASSERT_TRUE(small_op_class(op_class(n)));
  ASSERT_FALSE(small_op_class("gemv"));
  c.points.push_back({"row", n.str(), n.flops(), traffic_bytes(n), 1e-6, 0, -1, 1e-6});
  c.stream_node_s = 3e-6;
  const auto norm_ms = [&](const Graph& g) { return layer_ms(g, cal, g.layers.size() / 2 + 1); };
  EXPECT_NEAR(norm_ms(gs), 1e-3, 1e-12);
  EXPECT_NEAR(norm_ms(gl), 4e-3, 1e-12);
}

TEST(Predictor, Int8FoldsQuantisationOnlyWhenTheBackendFusesTheEpilogue) {
  const Graph g = two_convs(DType::s8);
  const Problem* p = nullptr;
  for (const auto& l : g.layers)
    if (l.problem) p = &*l.problem;
  ASSERT_NE(p, nullptr);
  Calibration cal;
  cal.entries = {entry("int8", *p, 2e-3)};
  cal.entries[0].fuses_int8_epilogue = true;
  const ModelEstimate fused = predict(g, cal, "onednn");
  ASSERT_TRUE(fused.feasible) << fused.why;
  const double io = 2.0 * 8 * 8 * 16 * 4;
  EXPECT_NEAR(fused.latency_ms, (1e-4 + io / 1e9 + 2 * 2e-3) * 1e3, 1e-9);
  // On the host: two segments (one kernel each) and the dequantize and quantize host ops.
  cal.entries[0].fuses_int8_epilogue = false;
  const ModelEstimate host = predict(g, cal, "onednn");
  EXPECT_GT(host.latency_ms, fused.latency_ms + 0.1);
  // Either way the calibration inference and two compiles count in the cold start.
  EXPECT_GT(fused.compile_ms, 2 * 10.0);
}

TEST(Predictor, ProjectsOntoAnotherDeviceAtTheSameEfficiency) {
  const Graph g = two_convs(DType::f32);
  const Problem& p = *g.layers[0].problem;
  Calibration cal;
  cal.entries = {entry("f32", p, 2e-3)};
  cal.entries[0].graph_s = 0, cal.entries[0].transfer_gbps = 0;
  PredictOptions o;
  o.target = DeviceSpec{200, 0, 0, 20, 1, 16};  // twice the peak and bandwidth
  const ModelEstimate e = predict(g, cal, "onednn", o);
  ASSERT_TRUE(e.feasible) << e.why;
  EXPECT_NEAR(e.latency_ms, 2.0, 1e-9);
  EXPECT_EQ(e.source, "projected");
  o.target->memory_gib = 1e-6;
  EXPECT_FALSE(predict(g, cal, "onednn", o).feasible);
}

TEST(Predictor, InfeasibleWithTheReason) {
  const Graph g = two_convs(DType::f32);
  Calibration cal;
  EXPECT_NE(predict(g, cal, "onednn").why.find("tierbench calibrate"), std::string::npos);
  cal.entries = {entry("f32", *g.layers[0].problem, 1e-3)};
  PredictOptions o;
  o.supports = [](const Problem&) { return false; };
  EXPECT_EQ(predict(g, cal, "onednn", o).why.rfind("unsupported: conv:", 0), 0u);
  o = {};
  o.memory_limit_bytes = 1000;
  EXPECT_EQ(predict(g, cal, "onednn", o).why.rfind("does not fit", 0), 0u);
}

TEST(Predictor, CalibrationJsonRoundTripsAndNamesABadField) {
  Calibration cal;
  cal.label = "threads=1", cal.storage_read_gbps = 1.5;
  cal.entries = {entry("f32", parse("conv:n1c16h8w8k16r3s3p1:f32+bias+relu"), 1e-3)};
  cal.entries[0].points[0].node_cold_s = 2e-3;
  cal.entries[0].warm_bytes = 1 << 20, cal.entries[0].cold_bytes = 32 << 20;
  cal.entries[0].mixed_node_s = 3e-6;
  cal.entries[0].serial_flops = 1e6, cal.entries[0].cross_core_gbps = 12.5;
  cal.entries[0].stream_node_s = 2e-6;
  cal.entries[0].stream_gemv = {{1e8, 0.9}, {5e8, 1.3}};
  cal.entries[0].stream_gemv_serial = {{1e8, 1.1}, {5e8, 1.4}};
  const json j = to_json(cal);
  auto back = calibration_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), j);
  json bad = j;
  bad["entries"][0]["points"][0]["node_s"] = "fast";
  auto r = calibration_from_json(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/entries/0/points/0/node_s"), std::string::npos);
  bad = j;
  bad["entries"][0]["stream_gemv"][1] = json::array({5e8});
  r = calibration_from_json(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/entries/0/stream_gemv"), std::string::npos);
  bad = j;
  bad["entries"][0]["stream_gemv_serial"][0][1] = -1;
  r = calibration_from_json(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/entries/0/stream_gemv_serial"), std::string::npos);
}

TEST(Calibrate, ChainPairsTheirStructureRulesOutAreFlagged) {
  EXPECT_EQ(chain_inconsistency(10e-6, 28e-6), 0);           // 2 and 6 layers plus a fixed cost
  EXPECT_EQ(chain_inconsistency(10e-6, 10e-6), 0);           // all fixed cost
  EXPECT_EQ(chain_inconsistency(247e-6, 1578e-6), 0);        // a GEMV chain streaming: 6.4x
  EXPECT_GT(chain_inconsistency(7.6e-6, 0.049), 100);        // the disturbed embedding chain
  EXPECT_GT(chain_inconsistency(10e-6, 8e-6), 0);            // the long chain faster
  EXPECT_GT(chain_inconsistency(1e-6, 13e-6), 0);            // past 4x the 3x of the layer count
  EXPECT_EQ(chain_inconsistency(0, 1e-6), 0);                // nothing to judge
  EXPECT_EQ(chain_inconsistency(300e-6, 1200e-6, true), 0);  // cold: 4x, within 1.5 x 3
  EXPECT_GT(chain_inconsistency(247e-6, 1578e-6, true), 0);  // cold: no cache to run out of
}

TEST(Calibrate, QuickOnednnF32MeasuresEveryClassAndPredictsATier) {
  if (!available("onednn")) GTEST_SKIP() << "oneDNN not available";
  test::FixtureStore f;
  auto store = Store::open(f.db);
  ASSERT_TRUE(store.ok());
  auto run = (*store)->begin_run("test", "", json::object());
  ASSERT_TRUE(run.ok());
  auto cal = calibrate(**store, *run, quick("onednn", "f32"));
  ASSERT_TRUE(cal.ok()) << cal.error().message;
  const auto* e = cal->find("onednn", "f32");
  ASSERT_NE(e, nullptr);
  std::set<std::string> classes;
  for (const auto& p : e->points) {
    classes.insert(p.op_class);
    EXPECT_GT(p.node_s, 0) << p.problem;
    EXPECT_GT(p.efficiency, 0) << p.problem;  // the fixture store has a probe
    // Cold too: layers with weights, and ops moving 256 KB or less (a decoder's small ops).
    const bool weights = p.op_class == "conv" || p.op_class == "stem" ||
                         p.op_class == "pointwise" || p.op_class == "depthwise" ||
                         p.op_class == "gemm" || p.op_class == "gemv";
    if (weights || p.bytes <= 256 * 1024) {
      EXPECT_GE(p.node_cold_s, p.node_s) << p.problem;  // measured, never faster
    } else {
      EXPECT_LT(p.node_cold_s, 0) << p.problem;
    }
  }
  EXPECT_GT(e->warm_bytes, 0);
  EXPECT_GE(e->cold_bytes, e->warm_bytes);
  EXPECT_EQ(classes,
            (std::set<std::string>{"attention", "conv", "depthwise", "eltwise", "embed", "gemm",
                                   "gemv", "pointwise", "pool", "rope", "row", "stem"}));
  EXPECT_GT(e->host_gbps, 0);
  EXPECT_GT(e->upload_gbps, 0);
  // Peak memory beyond weights, copies and values: a graph's floor, a transient per weight byte.
  EXPECT_GE(e->memory_floor_bytes, 0);
  EXPECT_GE(e->weight_transient, 0);
  EXPECT_LE(e->weight_transient, 2);
  EXPECT_DOUBLE_EQ(cal->storage_read_gbps, 5.32 * 0.98);  // the probe's cold read median
  // Stored: every chain as a result, the calibration under its label.
  auto results = (*store)->results(*run);
  ASSERT_TRUE(results.ok());
  EXPECT_GE(results->size(), e->points.size());
  // Each point's chain pair is within what the chains' structure allows, or was timed again.
  for (const auto& r : *results) {
    if (!r.metrics.contains("long_s")) continue;
    double off =
        chain_inconsistency(r.metrics["short_s"].get<double>(), r.metrics["long_s"].get<double>());
    if (r.metrics["short_cold_s"].is_number())
      off = std::max(off, chain_inconsistency(r.metrics["short_cold_s"].get<double>(),
                                              r.metrics["long_cold_s"].get<double>(), true));
    const int again = r.metrics["remeasured"].get<int>();
    EXPECT_TRUE(again >= 0 && again <= 2) << r.name;
    if (off > 0) {
      EXPECT_EQ(again, 2) << r.name;
    }
  }
  // The mixed chain: validated, timed, set against what the points predict for it.
  const auto mixed = std::find_if(results->begin(), results->end(),
                                  [](const auto& r) { return r.name.starts_with("mixed-chain:"); });
  ASSERT_NE(mixed, results->end());
  EXPECT_EQ(mixed->status, Status::passed) << mixed->message;
  EXPECT_GT(mixed->median_s, 0);
  EXPECT_GT(mixed->metrics["predicted_s"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(mixed->metrics["mixed_node_s"].get<double>(), e->mixed_node_s);
  EXPECT_EQ(e->serial_flops, 0);  // one thread: no node is "serial" by size
  EXPECT_TRUE(mixed->metrics["one_thread_chain"].is_null());  // nor a chain of them to time
  EXPECT_EQ(e->cross_core_gbps, 0);
  EXPECT_GE(e->mixed_node_s, 0);
  // The streamed chain (quick: one size, three times the last-level cache): validated, its
  // layers timed against their prediction, a GEMV ratio for its weight bytes.
  const auto streamed = std::find_if(results->begin(), results->end(), [](const auto& r) {
    return r.name.starts_with("streamed-chain:");
  });
  ASSERT_NE(streamed, results->end());
  EXPECT_EQ(streamed->status, Status::passed) << streamed->message;
  ASSERT_EQ(e->stream_gemv.size(), 1u);
  EXPECT_DOUBLE_EQ(streamed->metrics["weight_bytes"].get<double>(), e->stream_gemv[0].first);
  EXPECT_DOUBLE_EQ(streamed->metrics["gemv_scale"].get<double>(), e->stream_gemv[0].second);
  EXPECT_GT(e->stream_gemv[0].second, 0);
  EXPECT_GE(e->stream_node_s, 0);
  EXPECT_EQ(streamed->metrics["layers"].size(),
            5u * streamed->metrics["repetitions"].get<std::size_t>());
  auto back = load_calibration(**store, "threads=1");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), to_json(*cal));
  auto g = workloads::build_tier("person-detect", "f32");
  ASSERT_TRUE(g.ok());
  const ModelEstimate est = predict(*g, *back, "onednn");
  EXPECT_TRUE(est.feasible) << est.why;
  EXPECT_GT(est.latency_ms, 0);
  EXPECT_FALSE(load_calibration(**store, "threads=7").ok());
}

// The per-backend children of one `tierbench calibrate` share a work directory: a chain's
// reference output is computed by the first and read back by the others. A damaged file is
// computed again; a readable one is trusted (a wrong one fails its chain's check, which shows it
// was read).
// Every op class a full calibration measures is one the local profile's schema admits. The
// 'stem' and 'rope' classes were not, and `tierbench profile` (the main job's last steps) failed
// its own schema after a full calibration, while the tests' quick ones passed.
TEST(Calibrate, EveryOpClassIsInTheLocalProfileSchema) {
  const nlohmann::json* allowed = nullptr;
  const std::function<void(const nlohmann::json&)> find = [&](const nlohmann::json& j) {
    if (!j.is_object() && !j.is_array()) return;
    if (j.is_object() && j.contains("op_class") && j["op_class"].contains("enum"))
      allowed = &j["op_class"]["enum"];
    for (const auto& x : j) find(x);
  };
  find(local_schema());
  ASSERT_NE(allowed, nullptr) << "no op_class enum in the local profile's schema";
  const auto classes = calibrated_op_classes();
  EXPECT_GE(classes.size(), 12u);
  for (const auto& c : classes)
    EXPECT_NE(std::find(allowed->begin(), allowed->end(), c), allowed->end()) << c;
}

TEST(Calibrate, ChainsReferenceOutputsAreSharedThroughTheWorkDirectory) {
  if (!available("onednn")) GTEST_SKIP() << "oneDNN not available";
  test::FixtureStore f;
  auto store = Store::open(f.db);
  ASSERT_TRUE(store.ok());
  const std::filesystem::path work = f.dir.path() / "work";
  CalibrateOptions o = quick("onednn", "int8");
  o.work_dir = work.string();
  auto first = (*store)->begin_run("test", "", json::object());
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(calibrate(**store, *first, o).ok());
  std::vector<std::filesystem::path> refs;
  for (const auto& e : std::filesystem::directory_iterator(work))
    if (e.path().filename().string().starts_with("reference-")) refs.push_back(e.path());
  std::sort(refs.begin(), refs.end());
  ASSERT_GE(refs.size(), 2u);  // kept for the next calibration
  std::filesystem::resize_file(refs[0], 10);
  {  // refs[1]: the same tensor, every value moved
    auto h = workloads::read_safetensors_header(refs[1].string());
    ASSERT_TRUE(h.ok());
    auto t = workloads::read_safetensors(refs[1].string(), *h, {h->tensors[0].name}, false);
    ASSERT_TRUE(t.ok());
    Tensor& x = (*t)[0];
    for (std::int64_t i = 0; i < x.numel(); ++i) x.set(i, x.at(i) + 7);
    ASSERT_TRUE(workloads::write_safetensors(refs[1].string(), {{"out", x.dtype(), x.shape()}}, {},
                                             [&](std::size_t, std::span<std::byte> dst) {
                                               std::memcpy(dst.data(), x.raw(), dst.size());
                                             })
                    .ok());
  }
  auto second = (*store)->begin_run("test", "", json::object());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(calibrate(**store, *second, o).ok());
  auto results = (*store)->results(*second);
  ASSERT_TRUE(results.ok());
  int failed = 0;
  for (const auto& r : *results)
    if (r.status != Status::passed) {
      ++failed;
      EXPECT_NE(r.message.find("differs from the reference"), std::string::npos) << r.message;
    }
  EXPECT_EQ(failed, 1);  // the moved one; the truncated one was computed again
  EXPECT_GT(std::filesystem::file_size(refs[0]), 10u);  // written again
  EXPECT_TRUE(std::filesystem::exists(work));           // the caller's to remove
}

// A calibration killed before it removed its work directory leaves 100 MB and more behind; the
// next calibration removes the directories of processes that are gone, and only those.
TEST(Calibrate, WorkDirectoriesOfProcessesThatAreGoneAreRemoved) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its pid names no process now
  const std::filesystem::path tmp = std::filesystem::temp_directory_path();
  const std::string gone = std::to_string(child);
  const std::vector<std::filesystem::path> stale = {tmp / ("tierbench-calibrate-" + gone),
                                                    tmp / ("tierbench-calibrate-shared-" + gone),
                                                    tmp / ("tierbench-validate-" + gone)};
  const std::vector<std::filesystem::path> kept = {work_dir_path("calibrate"),  // this process
                                                   tmp / ("tierbench-calibrate-x" + gone),
                                                   tmp / ("tierbench-other-" + gone)};
  for (const auto& d : stale) std::filesystem::create_directories(d / "sub");
  for (const auto& d : kept) std::filesystem::create_directories(d);
  remove_stale_work_dirs();
  for (const auto& d : stale) EXPECT_FALSE(std::filesystem::exists(d)) << d;
  for (const auto& d : kept) {
    EXPECT_TRUE(std::filesystem::exists(d)) << d;
    std::filesystem::remove_all(d);
  }
}

TEST(Calibrate, ColdIsSampledUnlessTheChainIsSlowAndItsBytesSmall) {
  const Problem small = parse("add:n576:f32");  // 6.9 KB: 5 ms whatever the bandwidth
  EXPECT_DOUBLE_EQ(cold_sampling_limit_s(small, 2, 40), 5e-3);
  // ResNet-50's stem: 2.2 MB per layer (image in, 112x112x64 out, weights).
  const Problem stem = parse("conv:n1c3h224w224k64r7s7st2p3:f32");
  const double bytes = traffic_bytes(stem);
  EXPECT_GT(bytes, 2e6);
  EXPECT_DOUBLE_EQ(cold_sampling_limit_s(stem, 2, 40), std::max(5e-3, 100 * 2 * bytes / 40e9));
  EXPECT_DOUBLE_EQ(cold_sampling_limit_s(stem, 2, -1), 100 * 2 * bytes / 10e9);  // no probe
  EXPECT_GT(cold_sampling_limit_s(stem, 6, 40), cold_sampling_limit_s(stem, 2, 40));
}

// On a real backend, each point says how its cold time was taken, by the rule above: sampled
// with the caches evicted where the short chain's warm inference was faster than the limit, as
// warm where it was not (on lavapipe, a 3x3 stem at one thread: about 17 ms for two layers).
TEST(Calibrate, QuickVulkanTakesSlowChainsColdTimeAsWarm) {
  if (!available("vulkan")) GTEST_SKIP() << "Vulkan not available";
  test::FixtureStore f;
  auto store = Store::open(f.db);
  ASSERT_TRUE(store.ok());
  auto run = (*store)->begin_run("test", "", json::object());
  ASSERT_TRUE(run.ok());
  auto cal = calibrate(**store, *run, quick("vulkan", "f32"));
  ASSERT_TRUE(cal.ok()) << cal.error().message;
  const auto* e = cal->find("vulkan", "f32");
  ASSERT_NE(e, nullptr);
  auto results = (*store)->results(*run);
  ASSERT_TRUE(results.ok());
  const double gbps = 34.02;  // the fixture probe's read bandwidth, all threads
  int sampled = 0;
  for (const auto& r : *results) {
    if (!r.metrics.contains("cold") || !r.metrics["short_s"].is_number()) continue;
    const std::string how = r.metrics["cold"].get<std::string>();
    const double short_s = r.metrics["short_s"].get<double>();
    // A pair timed again keeps the pair it found less inconsistent, not the first short chain
    // the decision was made on (a loaded machine moves it across the limit).
    const bool first = r.metrics["remeasured"].get<int>() == 0;
    const double limit = cold_sampling_limit_s(Problem::parse(r.name).value(), 2, gbps);
    if (how.starts_with("as warm")) {
      if (first) {
        EXPECT_GE(short_s, limit) << r.name;
      }
      EXPECT_TRUE(r.metrics["short_cold_s"].is_null()) << r.name;
      EXPECT_DOUBLE_EQ(r.metrics["node_cold_s"].get<double>(), r.median_s.value_or(-1)) << r.name;
    } else if (how.starts_with("caches evicted")) {
      ++sampled;
      if (first) {
        EXPECT_LT(short_s, limit) << r.name;
      }
      EXPECT_GT(r.metrics["short_cold_s"].get<double>(), 0) << r.name;
    }
  }
  EXPECT_GT(sampled, 0);  // small ops at least (attention, norms, RoPE: microseconds)
}

TEST(PredictCli, UsageErrorsNameTheProblem) {
  test::FixtureStore f;
  auto r = test::run_tierbench("--db " + f.db + " predict --workload nosuchtier");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown tier 'nosuchtier'"), std::string::npos) << r.err;
  r = test::run_tierbench("--db " + f.db + " predict --workload mobilenetv2 --dtype f64");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = test::run_tierbench("--db " + f.db + " predict --workload mobilenetv2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("run 'tierbench calibrate' first"), std::string::npos) << r.err;
  r = test::run_tierbench("--db " + f.db + " calibrate --backend reference");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a backend to calibrate"), std::string::npos) << r.err;
  r = test::run_tierbench("--db " + f.db + " validate-predictor --config onednn-t9");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown configuration 'onednn-t9'"), std::string::npos) << r.err;
}

// validate-predictor end to end on one configuration and tier (quick calibration, ~10 s): the
// tier runs before and after the calibration, is predicted from it, and the report carries both
// runs and how far apart they were.
TEST(ValidatePredictorCli, TimesTheTiersAroundTheCalibrationAndReportsBothRuns) {
  test::FixtureStore f;
  const auto r = test::run_tierbench(
      "--db " + f.db +
      " --json validate-predictor --config onednn-t1 --quick --max-time 0.01 -w "
      "person-detect:b1:f32");
  if (r.err.find("onednn is not available") != std::string::npos) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(r.err.find("(before calibrating)"), r.err.find("calibrating\n"));
  const json j = json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 1u) << r.out;
  const json& row = j["rows"][0];
  EXPECT_EQ(row["workload"], "person-detect:b1:f32");
  EXPECT_GT(row["measured_ms"].get<double>(), 0);
  EXPECT_GT(row["predicted_ms"].get<double>(), 0);
  EXPECT_GT(row["run_before_ms"].get<double>(), 0);
  const json& all = j["summary"]["all"]["all"];
  EXPECT_NEAR(
      all["repeat_median_abs_diff_pct"].get<double>(),
      100 * std::abs(row["run_before_ms"].get<double>() / row["measured_ms"].get<double>() - 1),
      1e-6);
  EXPECT_TRUE(all["within_10_of_nearer_run_pct"].is_number());
  EXPECT_FALSE(j["ops"].empty());  // the run after carries layer profiles
}

// `predict --model`: the user's ONNX file is predicted like a tier. A tier exported to ONNX and
// imported back is the same graph, so both predictions agree to the last digit; the imported one
// carries the name `run --model` stores it under.
TEST(PredictCli, AnImportedModelIsPredictedLikeTheTierItCameFrom) {
  test::FixtureStore f;
  Calibration cal;
  cal.label = "threads=0";
  cal.storage_read_gbps = 1.5;
  auto e = entry("f32", parse("conv:n1c16h48w48k16r3s3p1:f32+bias+relu"), 2e-4);
  e.points.push_back(
      {"pointwise", "conv:n1c64h56w56k64r1s1:f32", 2 * 64.0 * 64 * 56 * 56, 3e6, 4e-4, 0.01, -1});
  e.points.push_back({"depthwise", "conv:n1c96h56w56k96r3s3p1g96:f32", 2 * 9.0 * 96 * 56 * 56,
                      2.4e6, 3e-4, 0.01, -1});
  cal.entries = {e};
  ASSERT_TRUE(f.store->put("calibration", cal.label, to_json(cal).dump()).ok());
  ASSERT_TRUE(f.store->put("calibration", "latest", cal.label).ok());
  const std::string onnx = (f.dir.path() / "pd.onnx").string();
  auto r = test::run_tierbench("export-model --workload person-detect:b1:f32 -o " + onnx);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string db = "--db " + f.db + " --json predict --backend onednn ";
  r = test::run_tierbench(db + "--workload person-detect:b1:f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto tier = json::parse(r.out).at(0);
  r = test::run_tierbench(db + "--model " + onnx);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto model = json::parse(r.out).at(0);
  EXPECT_EQ(model["workload"].get<std::string>().rfind("onnx-", 0), 0u) << model.dump();
  ASSERT_TRUE(model.value("feasible", false)) << model.dump();
  for (const char* k : {"latency_ms", "compile_ms", "read_ms", "upload_ms", "peak_memory_bytes"})
    EXPECT_NEAR(model[k].get<double>(), tier[k].get<double>(), 1e-9 * tier[k].get<double>()) << k;
  EXPECT_GT(model["latency_ms"].get<double>(), 0);
  // Bad files and flags: exit 2, naming what is wrong.
  r = test::run_tierbench(db + "--model " + f.db);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not an ONNX model"), std::string::npos) << r.err;
  r = test::run_tierbench(db + "--workload person-detect --model " + onnx);
  EXPECT_EQ(r.exit_code, 2);
  r = test::run_tierbench("--db " + f.db + " predict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--workload or --model"), std::string::npos) << r.err;
}

// calibrate runs each backend in a child process: one that crashes is reported (exit 1) and
// the others are calibrated and stored.
TEST(CalibrateCli, CrashedBackendIsReportedAndTheOthersCalibrated) {
  std::string other;
  for (const BackendTraits* t : built_backends())
    if (!t->reference && std::string(t->name) != "onednn") other = t->name;
  if (other.empty()) GTEST_SKIP() << "one calibratable backend only";
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  test::FixtureStore f;
  const auto r =
      test::run_tierbench("--db " + f.db + " --json calibrate --quick --backend onednn," + other +
                              " --dtype f32 --max-time 0.02",
                          "TB_TEST_FAULT=crash:calibrate-" + other);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(other + ": backend process crashed with signal 11"), std::string::npos)
      << r.err;
  const auto j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  std::set<std::string> backends;
  for (const auto& e : j["entries"]) backends.insert(e["backend"].get<std::string>());
  EXPECT_EQ(backends, std::set<std::string>{"onednn"});
}

// --if-missing (the main job's step) keeps a stored calibration that covers every backend and
// dtype asked, and measures only the pairs it lacks, keeping the others.
TEST(CalibrateCli, IfMissingKeepsAStoredCalibrationThatCoversTheAsk) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  test::FixtureStore f;
  Calibration cal;
  cal.label = "threads=0";
  cal.created_utc = "2026-01-02T03:04:05Z";
  cal.entries = {entry("f32", parse("conv:n1c16h48w48k16r3s3p1:f32+bias+relu"), 2e-4)};
  // A calibration by an older method (no "method" field: 1) is measured again, not kept.
  json old = to_json(cal);
  old.erase("method");
  ASSERT_TRUE(f.store->put("calibration", cal.label, old.dump()).ok());
  ASSERT_TRUE(f.store->put("calibration", "latest", cal.label).ok());
  const std::string cmd = "--db " + f.db + " calibrate --if-missing --backend onednn ";
  auto r = test::run_tierbench(cmd + "--dtype f32 --quick --max-time 0.02 --no-isolate");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("measured by an older method (1 < " + std::to_string(kCalibrationMethod) +
                       "): measuring again"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("stored as run"), std::string::npos) << r.out;
  auto remeasured = load_calibration(*f.store, "threads=0");
  ASSERT_TRUE(remeasured.ok()) << remeasured.error().message;
  EXPECT_EQ(remeasured->method, kCalibrationMethod);
  cal.method = kCalibrationMethod;
  ASSERT_TRUE(f.store->put("calibration", cal.label, to_json(cal).dump()).ok());
  r = test::run_tierbench(cmd + "--dtype f32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("of 2026-01-02T03:04:05Z (onednn) is stored: kept"), std::string::npos)
      << r.out;
  // int8 is missing: only it is measured, in a child process (isolated); f32 is kept as stored.
  r = test::run_tierbench(cmd + "--dtype f32 --dtype int8 --quick --max-time 0.02");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("lacks onednn int8: measuring those"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stored as run"), std::string::npos) << r.out;
  auto now = load_calibration(*f.store, "threads=0");
  ASSERT_TRUE(now.ok()) << now.error().message;
  ASSERT_NE(now->find("onednn", "int8"), nullptr);
  EXPECT_FALSE(now->find("onednn", "int8")->points.empty());
  const BackendCalibration* kept = now->find("onednn", "f32");
  ASSERT_NE(kept, nullptr);
  ASSERT_EQ(kept->points.size(), 1u);  // the stored entry, not a new measurement
  EXPECT_EQ(kept->points[0].problem, cal.entries[0].points[0].problem);
  r = test::run_tierbench(cmd + "--dtype int8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("is stored: kept"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace tb::profiles
