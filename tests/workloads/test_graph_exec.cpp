// Tiers through the executor's device graphs on every available backend, against the reference
// backend's staged graph: small published architectures (so that the reference is quick) whose
// layers cover what the tiers use -- blocked-layout convolutions with residuals and the ReLU
// after them (act_after), depthwise and grouped convolutions, pooling, the classifier's gemm,
// and a transformer with host ops between segments. Also: what the executor reports (segments,
// round trips, bytes moved) and that a oneDNN CNN is one resident segment.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "executor.h"
#include "kernels.h"
#include "models.h"
#include "weights.h"

namespace tb::workloads {
namespace {

struct Outcome {
  Tensor out;
  InferCost cost;
  std::string config;
  int segments = 0;
};

Result<Outcome> run(Backend& b, const Graph& g, const std::string& path) {
  auto w = load_weights(g, path, false);
  if (!w) return w.error();
  Executor ex(g, std::move(w->tensors), 5);
  if (auto p = ex.prepare(b, 0, 2); !p) return p.error();
  if (auto u = ex.upload_weights(); !u) return u.error();
  const Tensor in = Executor::make_input(g, 5);
  if (auto r = ex.infer(in); !r) return r.error();  // a second run reuses every buffer
  auto r = ex.infer(in);
  if (!r) return r.error();
  return Outcome{ex.output(), r.value(), ex.config(), ex.segments()};
}

struct Case {
  std::string name;
  Graph (*make)();
  double rtol;
};

// A two-layer decoder: a decode step at position 15, or a prefill of 8 tokens.
Graph tiny_llm(DType dt, bool decode = true) {
  LlmConfig c;
  c.hidden = 64, c.heads = 4, c.kv_heads = 2, c.head_dim = 16, c.ffn = 128, c.vocab = 256;
  c.layers = 2;
  return llm("t", c, decode ? LlmPhase{true, 1, 16} : LlmPhase{false, 8, 0}, dt);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> v = {
      // 54 layers: depthwise, ReLU6, linear bottlenecks with residual adds, global pool, gemm.
      {"mobilenetv2_035_32", [] { return mobilenet_v2("t", 0.35, 32, 10, 1, DType::f32); }, 1e-3},
      // Batch 2: the batch dimension through every layout.
      {"mobilenetv2_035_32_b2", [] { return mobilenet_v2("t", 0.35, 32, 10, 2, DType::f32); },
       1e-3},
      // Bottlenecks with projection shortcuts and relu(conv3 + shortcut): act_after.
      {"resnet50_1block_64", [] { return resnet50("t", 64, 1, DType::f32, 1); }, 1e-3},
      // bf16: the host casts fold into the nodes (in_cast).
      {"mobilenetv2_035_32_bf16", [] { return mobilenet_v2("t", 0.35, 32, 10, 1, DType::bf16); },
       3e-2},
      {"resnet50_1block_64_bf16", [] { return resnet50("t", 64, 1, DType::bf16, 1); }, 3e-2},
      // int8: scales calibrated once, quantisation folded into the nodes (in_quant).
      {"mobilenetv2_035_32_int8", [] { return mobilenet_v2("t", 0.35, 32, 10, 1, DType::s8); },
       5e-2},
      {"resnet50_1block_64_int8", [] { return resnet50("t", 64, 1, DType::s8, 1); }, 5e-2},
      // A decode step: KV-cache writes in the segment where the backend has the kvwrite kernel
      // (the caches stay there), host ops between segments where not.
      {"llm_tiny_decode", [] { return tiny_llm(DType::f32); }, 1e-3},
      // bf16 caches; the lookup of the bf16 table (tied to the LM head) runs in the segment too.
      {"llm_tiny_decode_bf16", [] { return tiny_llm(DType::bf16); }, 3e-2},
      // int8: the s8 table's lookup (times its row scales) in the segment as well.
      {"llm_tiny_decode_int8", [] { return tiny_llm(DType::s8); }, 5e-2},
      // A prefill: the heads-major permutes and the last token's slice before the LM head run
      // in the segment where the backend has the permute and slice kernels.
      {"llm_tiny_prefill", [] { return tiny_llm(DType::f32, false); }, 1e-3},
  };
  return v;
}

class GraphExec : public ::testing::TestWithParam<std::tuple<std::string, std::size_t>> {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("tb_graph_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::filesystem::path dir_;
};
std::filesystem::path GraphExec::dir_;

TEST_P(GraphExec, MatchesTheReference) {
  const auto& [backend, ci] = GetParam();
  const Case& c = cases()[ci];
  auto backends = make_backends();
  Backend* ref = nullptr;
  Backend* b = nullptr;
  for (auto& x : backends) {
    if (x->name() == "reference") ref = x.get();
    if (x->name() == backend) b = x.get();
  }
  if (!b && !find_backend_traits(backend)) GTEST_SKIP() << backend << ": not built";
  ASSERT_TRUE(ref && b);
  if (auto a = b->availability(); !a.available) GTEST_SKIP() << backend << ": " << a.reason;
  const Graph g = c.make();
  ASSERT_TRUE(g.verify().ok());
  for (const auto& l : g.layers)
    if (l.problem)
      if (auto s = b->supports(*l.problem, 0); !s.supported)
        GTEST_SKIP() << backend << " lacks " << l.problem->str() << ": " << s.reason;
  const std::string path = (dir_ / (c.name + ".safetensors")).string();
  ASSERT_TRUE(ensure_weights_file(g, path, 3).ok());

  auto want = run(*ref, g, path);
  ASSERT_TRUE(want.ok()) << want.error().message;
  auto got = run(*b, g, path);
  ASSERT_TRUE(got.ok()) << got.error().message;
  Tolerance tol;
  tol.rtol = c.rtol;
  const auto chk = check_outputs(std::span<const Tensor>(&got->out, 1),
                                 std::span<const Tensor>(&want->out, 1), tol);
  EXPECT_EQ(chk.status, Status::passed)
      << backend << " " << c.name << ": " << chk.message << " (" << got->config << ")";
  EXPECT_FALSE(got->config.empty());
  EXPECT_GE(got->segments, 1);

  // A CNN in f32 is one segment; on oneDNN it runs resident with no round trip at all.
  const bool cnn = c.name.rfind("llm", 0) != 0;
  if (cnn) {
    EXPECT_EQ(got->segments, 1) << got->config;
  }
  if (cnn && backend == "onednn") {
    EXPECT_EQ(got->cost.host_round_trips, 0) << got->config;
    EXPECT_NE(got->config.find("onednn graph"), std::string::npos) << got->config;
    EXPECT_EQ(got->config.find("as kernels"), std::string::npos) << got->config;
  }
  // OpenCL: f32, bf16 and int8 CNNs alike run resident, one host wait per inference.
  if (cnn && backend == "opencl") {
    EXPECT_EQ(got->cost.host_round_trips, 1) << got->config;
    EXPECT_NE(got->config.find("opencl graph"), std::string::npos) << got->config;
  }
  // Vulkan: likewise, one submit per inference, int8 quantisations and bf16 casts included.
  if (cnn && backend == "vulkan") {
    EXPECT_EQ(got->cost.host_round_trips, 1) << got->config;
    EXPECT_NE(got->config.find("vulkan graph"), std::string::npos) << got->config;
    EXPECT_EQ(got->config.find("no resident graph"), std::string::npos) << got->config;
  }
  // The staged reference moves each node's output through the host.
  if (cnn) {
    EXPECT_GT(want->cost.host_round_trips, 1);
  }
  // A decode step: the KV caches stay in the segment and their writes run there, and so does
  // the lookup of its table (f32, bf16, or s8 with row scales), so the step is one segment. On
  // OpenCL and Vulkan, with one host wait, it moves the token ids in, never a cache.
  const bool decode = c.name.find("decode") != std::string::npos;
  if (!cnn && !decode) {  // permutes and the last row's slice in the segment: no host op
    EXPECT_EQ(got->segments, 1) << got->config;
    if (backend == "opencl" || backend == "vulkan") {
      EXPECT_EQ(got->cost.host_round_trips, 1) << got->config;
    }
  }
  if (decode) {
    EXPECT_EQ(got->segments, 1) << got->config;
    EXPECT_NE(got->config.find(std::to_string(2 * 2) + " states resident"), std::string::npos)
        << got->config;
  }
  if (decode && (backend == "opencl" || backend == "vulkan")) {
    const Graph g = c.make();
    EXPECT_EQ(got->cost.host_round_trips, 1) << got->config;
    const auto in_bytes =
        static_cast<std::uint64_t>(g.values[static_cast<std::size_t>(g.input)].bytes());
    EXPECT_EQ(got->cost.bytes_to_device, in_bytes) << got->config;
  }
}

// The layer profile (Executor::time_layers): every kernel layer timed by its backend (oneDNN's
// host clock per primitive, OpenCL's profiling events, Vulkan's timestamps, the reference's
// staged nodes), host ops by the host clock; the times add up to no more than the inference,
// timing changes no output, and switching it off empties the profile.
class GraphLayerTiming : public GraphExec {};

TEST_P(GraphLayerTiming, TimesEveryLayer) {
  const auto& [backend, ci] = GetParam();
  const Case& c = cases()[ci];
  auto backends = make_backends();
  for (const std::string& name : {std::string("reference"), backend}) {
    Backend* b = nullptr;
    for (auto& x : backends)
      if (x->name() == name) b = x.get();
    if (!b) GTEST_SKIP() << name << ": not built";
    if (auto a = b->availability(); !a.available) GTEST_SKIP() << name << ": " << a.reason;
    const Graph g = c.make();
    const std::string path = (dir_ / (c.name + ".safetensors")).string();
    ASSERT_TRUE(ensure_weights_file(g, path, 3).ok());
    auto w = load_weights(g, path, false);
    ASSERT_TRUE(w.ok()) << w.error().message;
    Executor ex(g, std::move(w->tensors), 5);
    ASSERT_TRUE(ex.prepare(*b, 0, 2).ok());
    ASSERT_TRUE(ex.upload_weights().ok());
    const Tensor in = Executor::make_input(g, 5);
    ASSERT_TRUE(ex.infer(in).ok());
    const Tensor untimed = ex.output();
    EXPECT_TRUE(ex.layer_seconds().empty());
    ASSERT_TRUE(ex.time_layers(true)) << name << " " << c.name;
    auto r = ex.infer(in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const auto& ls = ex.layer_seconds();
    ASSERT_EQ(ls.size(), g.layers.size());
    double sum = 0;
    int kernels = 0, timed_kernels = 0;
    for (std::size_t li = 0; li < ls.size(); ++li) {
      EXPECT_GE(ls[li], 0) << g.layers[li].name;
      sum += ls[li];
      if (g.layers[li].problem) ++kernels, timed_kernels += ls[li] > 0;
    }
    EXPECT_EQ(timed_kernels, kernels) << name << " " << c.name;
    EXPECT_GT(sum, 0);
    EXPECT_LE(sum, r->wall_s * 1.02 + 1e-5) << name << " " << c.name;
    // The timed inference computes exactly what the untimed one did (the LLM's KV caches move
    // on by one position between inferences, so its output may not).
    if (c.name.rfind("llm", 0) != 0) {
      ASSERT_EQ(ex.output().bytes(), untimed.bytes());
      EXPECT_EQ(std::memcmp(ex.output().raw(), untimed.raw(), untimed.bytes()), 0)
          << name << " " << c.name;
    }
    ex.time_layers(false);
    EXPECT_TRUE(ex.layer_seconds().empty());
  }
}

std::string case_name(const ::testing::TestParamInfo<GraphExec::ParamType>& i) {
  return std::get<0>(i.param) + "_" + cases()[std::get<1>(i.param)].name;
}

INSTANTIATE_TEST_SUITE_P(Backends, GraphExec,
                         ::testing::Combine(::testing::Values("onednn", "opencl", "vulkan"),
                                            ::testing::Range<std::size_t>(0, cases().size())),
                         case_name);
// f32 CNN, int8 with folded quantisation and fused dequantisation, host ops between segments.
INSTANTIATE_TEST_SUITE_P(Backends, GraphLayerTiming,
                         ::testing::Combine(::testing::Values("onednn", "opencl", "vulkan"),
                                            ::testing::Values<std::size_t>(0, 6, 7)),
                         case_name);

// The oneDNN arena: intermediates whose lifetimes do not overlap share bytes, so the arena of a
// CNN is well below the sum of its activations.
TEST(OnednnGraph, ArenaIsSmallerThanTheSumOfActivations) {
  auto backends = make_backends();
  Backend* b = nullptr;
  for (auto& x : backends)
    if (x->name() == "onednn") b = x.get();
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  ASSERT_TRUE(b);
  const Graph g = resnet50("t", 64, 1, DType::f32, 1);
  DeviceGraph dg;
  std::map<int, int> id;
  double sum = 0;
  for (const auto& l : g.layers) {
    if (!l.problem || l.problem->as<GemmDesc>()) continue;
    if (!l.problem->as<ConvDesc>() && !l.problem->as<PoolDesc>()) continue;
    DeviceGraph::Node n;
    n.name = l.name, n.problem = *l.problem;
    const auto specs = l.problem->inputs();
    for (std::size_t i = 0; i < l.in.size(); ++i) {
      const auto& o = l.in[i];
      const int key = o.kind == Operand::weight ? -1 - o.index : o.index;
      if (!id.count(key)) {
        id[key] = dg.add_value(specs[i]);
        (o.kind == Operand::weight ? dg.constants : dg.inputs).push_back(id[key]);
      }
      n.in.push_back(id[key]);
    }
    n.out = id[l.out] = dg.add_value(l.problem->outputs()[0]);
    sum += static_cast<double>(g.values[static_cast<std::size_t>(l.out)].bytes());
    dg.nodes.push_back(std::move(n));
  }
  dg.outputs.push_back(dg.nodes.back().out);
  auto pg = b->prepare_graph(dg, PrepareOptions{0, 1});
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  double arena = -1;
  for (const auto& [k, v] : (*pg)->details())
    if (k == "arena_bytes") arena = v;
  EXPECT_GT(arena, 0);
  EXPECT_LT(arena, sum / 2) << (*pg)->config();
}

// The backend of that name among `all`, or null.
template <class Backends>
Backend* named(Backends& all, std::string_view name) {
  for (auto& x : all)
    if (x->name() == name) return x.get();
  return nullptr;
}

// oneDNN graph steps with little work run on one thread (TB_ONEDNN_SERIAL_MFLOP, default 1);
// 0 runs every step on all threads. Both compute the same outputs.
TEST(OnednnGraph, SmallStepsRunOnOneThreadAndComputeTheSame) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  auto backends = make_backends();
  Backend* b = nullptr;
  for (auto& x : backends)
    if (x->name() == "onednn") b = x.get();
  ASSERT_TRUE(b);
  const Graph g = mobilenet_v2("t", 0.35, 32, 10, 1, DType::f32);
  const auto path = std::filesystem::temp_directory_path() /
                    ("tb_serial_" + std::to_string(::getpid()) + ".safetensors");
  ASSERT_TRUE(ensure_weights_file(g, path.string(), 3).ok());
  auto serial = run(*b, g, path.string());
  ::setenv("TB_ONEDNN_SERIAL_MFLOP", "0", 1);
  auto parallel = run(*b, g, path.string());
  ::unsetenv("TB_ONEDNN_SERIAL_MFLOP");
  std::filesystem::remove(path);
  ASSERT_TRUE(serial.ok()) << serial.error().message;
  ASSERT_TRUE(parallel.ok()) << parallel.error().message;
  EXPECT_NE(serial->config.find("steps on 1 thread (small)"), std::string::npos) << serial->config;
  EXPECT_EQ(parallel->config.find("on 1 thread"), std::string::npos) << parallel->config;
  Tolerance tol;
  tol.rtol = 1e-5;
  const auto chk = check_outputs(std::span<const Tensor>(&serial->out, 1),
                                 std::span<const Tensor>(&parallel->out, 1), tol);
  EXPECT_EQ(chk.status, Status::passed) << chk.message;
}

// oneDNN graphs take Winograd for 3x3 stride-1 f32 convolutions where it pays
// (TB_ONEDNN_WINOGRAD=auto); forced on for this small ResNet, every one of them matches the
// reference, weights reordered into Winograd's layout through plain oihw; off, none is taken.
TEST(OnednnGraph, WinogradConvolutionsMatchTheReference) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  auto backends = make_backends();
  Backend* b = named(backends, "onednn");
  Backend* ref = named(backends, "reference");
  ASSERT_TRUE(b && ref);
  if (b->version().find("isa avx512") == std::string::npos)
    GTEST_SKIP() << "oneDNN's Winograd convolutions need AVX-512: " << b->version();
  const Graph g = resnet50("t", 64, 1, DType::f32, 1);
  const auto path = std::filesystem::temp_directory_path() /
                    ("tb_wino_" + std::to_string(::getpid()) + ".safetensors");
  ASSERT_TRUE(ensure_weights_file(g, path.string(), 3).ok());
  auto want = run(*ref, g, path.string());
  ::setenv("TB_ONEDNN_WINOGRAD", "on", 1);
  auto got = run(*b, g, path.string());
  ::setenv("TB_ONEDNN_WINOGRAD", "off", 1);
  auto direct = run(*b, g, path.string());
  ::unsetenv("TB_ONEDNN_WINOGRAD");
  std::filesystem::remove(path);
  ASSERT_TRUE(want.ok()) << want.error().message;
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(direct.ok()) << direct.error().message;
  EXPECT_NE(got->config.find("Winograd convolutions"), std::string::npos) << got->config;
  EXPECT_EQ(direct->config.find("Winograd"), std::string::npos) << direct->config;
  Tolerance tol;
  tol.rtol = 1e-3;
  const auto chk = check_outputs(std::span<const Tensor>(&got->out, 1),
                                 std::span<const Tensor>(&want->out, 1), tol);
  EXPECT_EQ(chk.status, Status::passed) << chk.message << " (" << got->config << ")";
}

// int8 tiers hold 7-bit weights (kWeightQMax), which every x86 ISA sums exactly, and oneDNN's
// graph matches the reference with them. Weights of 8 bits run and match as well on a CPU with
// VNNI; without it (u8 x s8 pairs summed into int16 with saturation) oneDNN refuses them,
// naming why, where it gave MobileNetV2 outputs that differed from the reference.
TEST(OnednnGraph, Int8WeightsOfEightBitsAreRefusedWhereTheySaturate) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  auto backends = make_backends();
  Backend* b = named(backends, "onednn");
  Backend* ref = named(backends, "reference");
  ASSERT_TRUE(b && ref);
  const Graph g = mobilenet_v2("t", 0.35, 32, 10, 1, DType::s8);
  const auto path = std::filesystem::temp_directory_path() /
                    ("tb_w7_" + std::to_string(::getpid()) + ".safetensors");
  ASSERT_TRUE(ensure_weights_file(g, path.string(), 3).ok());
  auto loaded = load_weights(g, path.string(), false);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  int s8_tensors = 0, widest = 0;
  for (const Tensor& t : loaded->tensors)
    if (t.dtype() == DType::s8) {
      ++s8_tensors;
      for (std::int64_t i = 0; i < t.numel(); ++i)
        widest = std::max(widest, std::abs(static_cast<int>(t.data<std::int8_t>()[i])));
    }
  ASSERT_GT(s8_tensors, 10);
  EXPECT_EQ(widest, kWeightQMax);
  const auto infer = [&](Backend& be, std::vector<Tensor> w) -> Result<Tensor> {
    Executor ex(g, std::move(w), 5);
    if (auto p = ex.prepare(be, 0, 2); !p) return p.error();
    if (auto u = ex.upload_weights(); !u) return u.error();
    if (auto r = ex.infer(Executor::make_input(g, 5)); !r) return r.error();
    return ex.output();
  };
  Tolerance tol;
  tol.rtol = 5e-2;
  const auto matches = [&](std::vector<Tensor> w) {
    auto want = infer(*ref, w);
    auto got = infer(*b, std::move(w));
    ASSERT_TRUE(want.ok()) << want.error().message;
    ASSERT_TRUE(got.ok()) << got.error().message;
    const auto chk =
        check_outputs(std::span<const Tensor>(&*got, 1), std::span<const Tensor>(&*want, 1), tol);
    EXPECT_EQ(chk.status, Status::passed) << chk.message;
  };
  matches(loaded->tensors);
  // 8 bits: every weight doubled (|w| <= 126).
  std::vector<Tensor> wide = loaded->tensors;
  for (Tensor& t : wide)
    if (t.dtype() == DType::s8)
      for (std::int64_t i = 0; i < t.numel(); ++i) t.data<std::int8_t>()[i] *= 2;
  const bool saturates = b->version().find("isa avx2)") != std::string::npos ||
                         b->version().find("isa avx512_core)") != std::string::npos;
  if (!saturates) {
    matches(wide);
    return;
  }
  auto got = infer(*b, wide);
  ASSERT_FALSE(got.ok()) << "8-bit weights ran on " << b->version();
  EXPECT_NE(got.error().message.find("int16 with saturation"), std::string::npos)
      << got.error().message;
}

// int8 on oneDNN: an s8 convolution whose scales and bias are constants runs with static output
// scales and the bias folded into the accumulator; a zero scale (the bias cannot be divided by
// it) keeps the binary post-op form. Both match the reference.
TEST(OnednnGraph, Int8ScalesFoldIntoOutputScalesUnlessAScaleIsZero) {
  if (!find_backend_traits("onednn")) GTEST_SKIP() << "onednn: not built";
  auto backends = make_backends();
  Backend* b = named(backends, "onednn");
  Backend* ref = named(backends, "reference");
  ASSERT_TRUE(b && ref);
  auto p = Problem::parse("conv:n1c16h10w10k24r3s3p1:s8+scales+bias+relu");
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto specs = p->inputs();
  ASSERT_EQ(specs.size(), 5u);
  DeviceGraph dg;
  DeviceGraph::Node n;
  n.name = "conv", n.problem = *p;
  n.in_quant = {true, 0.02f, 128};
  std::vector<Tensor> consts;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    TensorSpec s = specs[i];
    if (i == 0) s.dtype = DType::f32;  // in_quant: the node reads f32 and quantises it
    const int v = dg.add_value(s);
    n.in.push_back(v);
    if (i == 0) {
      dg.inputs.push_back(v);
      continue;
    }
    dg.constants.push_back(v);
    // Weights and scales small enough that the bias (+-3) weighs in every output.
    Tensor t(s.dtype, s.shape);
    for (std::int64_t j = 0; j < t.numel(); ++j)
      t.set(j, i == 1   ? static_cast<double>((j * 37) % 7 - 3)
               : i == 4 ? static_cast<double>((j * 5) % 7 - 3)
                        : 0.01 + 0.001 * static_cast<double>(j % 13));
    consts.push_back(std::move(t));
  }
  n.out = dg.add_value(p->outputs()[0]);
  dg.outputs.push_back(n.out);
  dg.nodes.push_back(n);
  Tensor x(DType::f32, specs[0].shape);
  for (std::int64_t j = 0; j < x.numel(); ++j)
    x.set(j, std::sin(0.37 * static_cast<double>(j)) * 2.0);

  const auto infer = [&](Backend& be, std::string* config) -> Result<Tensor> {
    auto pg = be.prepare_graph(dg, PrepareOptions{0, 1});
    if (!pg) return pg.error();
    std::vector<const Tensor*> cp;
    for (const auto& t : consts) cp.push_back(&t);
    if (auto r = (*pg)->set_constants(cp); !r) return r.error();
    Tensor out(DType::f32, p->outputs()[0].shape);
    const Tensor* in[] = {&x};
    Tensor* outs[] = {&out};
    if (auto r = (*pg)->run(in, outs); !r) return r.error();
    if (config) *config = (*pg)->config();
    return out;
  };
  for (const bool zero : {false, true}) {
    consts[2].set(5, zero ? 0.0 : 0.015);  // b_scale of channel 5
    std::string config;
    auto got = infer(*b, &config);
    ASSERT_TRUE(got.ok()) << got.error().message;
    auto want = infer(*ref, nullptr);
    ASSERT_TRUE(want.ok()) << want.error().message;
    Tolerance tol;
    tol.rtol = 1e-4;
    const auto chk =
        check_outputs(std::span<const Tensor>(&*got, 1), std::span<const Tensor>(&*want, 1), tol);
    EXPECT_EQ(chk.status, Status::passed) << chk.message << " (" << config << ")";
    EXPECT_NE(config.find(zero ? "0 with static output scales" : "1 with static output scales"),
              std::string::npos)
        << config;
  }
}

}  // namespace
}  // namespace tb::workloads
