// The OpenCL device graph (Backend::prepare_graph): small hand-built graphs run device-resident
// on OpenCL and staged on the reference backend, compared at each output's tolerance; one host
// wait per inference and only the graph's inputs and outputs moved; the memory plan shares
// buffers between values whose lifetimes do not overlap, and never too early.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "backend_fixture.h"

namespace tb {
namespace {

// A DeviceGraph built node by node; operands given as -1 become fresh constants (the problem's
// seeded inputs), others name existing values.
struct Builder {
  DeviceGraph g;
  std::vector<Tensor> constants;
  std::vector<Problem> producer;  // per value: the problem that writes it (tolerance)

  int input(DType dt, std::vector<std::int64_t> shape) {
    const int v = g.add_value({"in" + std::to_string(g.inputs.size()), dt, std::move(shape)});
    g.inputs.push_back(v);
    producer.resize(g.values.size());
    return v;
  }

  int node(const std::string& name, const std::string& problem, std::vector<int> operands) {
    auto p = Problem::parse(problem);
    EXPECT_TRUE(p.ok()) << problem << ": " << (p.ok() ? "" : p.error().message);
    if (!p.ok()) return -1;
    const auto specs = p->inputs();
    EXPECT_EQ(specs.size(), operands.size()) << problem;
    auto data = make_inputs(p.value(), 1000 + g.nodes.size());
    for (std::size_t i = 0; i < operands.size() && i < specs.size(); ++i)
      if (operands[i] < 0) {
        operands[i] = g.add_value({name + "." + specs[i].name, specs[i].dtype, specs[i].shape});
        g.constants.push_back(operands[i]);
        constants.push_back(std::move(data[i]));
      }
    const auto out = p->outputs().at(0);
    const int o = g.add_value({name + ".out", out.dtype, out.shape});
    DeviceGraph::Node n;
    n.name = name;
    n.problem = p.value();
    n.in = operands;
    n.out = o;
    g.nodes.push_back(std::move(n));
    producer.resize(g.values.size());
    producer[static_cast<std::size_t>(o)] = p.value();
    return o;
  }
};

std::vector<Tensor> random_inputs(const DeviceGraph& g, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mag(0.25, 1.0);
  std::vector<Tensor> v;
  for (int id : g.inputs) {
    const TensorSpec& s = g.values[static_cast<std::size_t>(id)];
    Tensor t(s.dtype, s.shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.set(i, (rng() & 1 ? 1 : -1) * mag(rng));
    v.push_back(std::move(t));
  }
  return v;
}

std::vector<Tensor> output_tensors(const DeviceGraph& g) {
  std::vector<Tensor> v;
  for (int id : g.outputs) {
    const TensorSpec& s = g.values[static_cast<std::size_t>(id)];
    v.emplace_back(s.dtype, s.shape);
    v.back().poison();
  }
  return v;
}

template <class T>
std::vector<T*> ptrs(std::vector<T>& v) {
  std::vector<T*> p;
  for (auto& x : v) p.push_back(&x);
  return p;
}

std::vector<const Tensor*> cptrs(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> p;
  for (const auto& x : v) p.push_back(&x);
  return p;
}

double detail(const PreparedGraph& pg, const std::string& key) {
  for (const auto& [k, v] : pg.details())
    if (k == key) return v;
  return -1;
}

struct Ran {
  std::unique_ptr<PreparedGraph> graph;
  GraphRunStats last;
};

// Runs `b` on OpenCL and staged on the reference `runs` times with fresh inputs each time, and
// checks every output of every run plus the run's stats. rtol > 0 replaces the producers'
// tolerances (a device-side quantisation of a computed value may round one u8 the other way).
Ran run_and_compare(const Builder& b, int runs = 2, double rtol = 0) {
  Ran ran;
  Backend* ocl = test::backend("opencl");
  Backend* ref = test::backend("reference");
  if (!ref) {
    ADD_FAILURE() << "no reference backend";
    return ran;
  }
  EXPECT_TRUE(b.g.verify().ok());
  for (const auto& n : b.g.nodes) {
    const auto s = ocl->supports(n.problem, 0);
    EXPECT_TRUE(s.supported) << n.problem.str() << ": " << s.reason;
  }
  auto og = ocl->prepare_graph(b.g, {});
  if (!og) {
    ADD_FAILURE() << "opencl prepare_graph: " << og.error().message;
    return ran;
  }
  auto rg = make_staged_graph(*ref, b.g, {});
  if (!rg) {
    ADD_FAILURE() << "reference staged graph: " << rg.error().message;
    return ran;
  }
  const auto consts = cptrs(b.constants);
  if (auto r = og.value()->set_constants(consts); !r) ADD_FAILURE() << r.error().message;
  if (auto r = rg.value()->set_constants(consts); !r) ADD_FAILURE() << r.error().message;

  std::uint64_t in_bytes = 0, out_bytes = 0;
  for (int v : b.g.inputs) in_bytes += Tensor(b.g.values[v].dtype, b.g.values[v].shape).bytes();
  for (int v : b.g.outputs) out_bytes += Tensor(b.g.values[v].dtype, b.g.values[v].shape).bytes();

  for (int r = 0; r < runs; ++r) {
    auto in = random_inputs(b.g, 77 + r);
    auto got = output_tensors(b.g), want = output_tensors(b.g);
    auto st = og.value()->run(cptrs(in), ptrs(got));
    if (!st) {
      ADD_FAILURE() << "opencl run " << r << ": " << st.error().message;
      return ran;
    }
    auto rs = rg.value()->run(cptrs(in), ptrs(want));
    if (!rs) {
      ADD_FAILURE() << "reference run " << r << ": " << rs.error().message;
      return ran;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      const int v = b.g.outputs[i];
      const auto tol =
          rtol > 0 ? Tolerance{rtol} : tolerance_for(b.producer[static_cast<std::size_t>(v)]);
      const auto c = check_outputs({&got[i], 1}, {&want[i], 1}, tol);
      EXPECT_EQ(c.status, Status::passed)
          << "run " << r << ", output " << b.g.values[v].name << ": " << c.message
          << " (max rel err " << c.max_rel_err << ", rtol " << tol.rtol << ")";
      EXPECT_TRUE(got[i].guards_intact());
    }
    EXPECT_EQ(st->host_round_trips, 1);
    EXPECT_EQ(st->bytes_to_device, in_bytes);
    EXPECT_EQ(st->bytes_from_device, out_bytes);
    EXPECT_EQ(st->kernel_timing, TimingSource::profiling_events);
    EXPECT_GT(st->kernel_s, 0.0);
    ran.last = st.value();
  }
  const std::string cfg = og.value()->config();
  EXPECT_NE(cfg.find("1 sync/inference"), std::string::npos) << cfg;
  EXPECT_NE(cfg.find(std::to_string(b.g.nodes.size()) + " kernels"), std::string::npos) << cfg;
  EXPECT_GT(og.value()->memory().device_bytes, 0u);
  EXPECT_GE(detail(*og.value(), "arena_bytes"), 0);
  ran.graph = std::move(og.value());
  return ran;
}

#define SKIP_WITHOUT_OPENCL()                                \
  do {                                                       \
    Backend* b_ = test::backend("opencl");                   \
    if (!b_) GTEST_SKIP() << "no opencl backend registered"; \
    if (auto a_ = b_->availability(); !a_.available)         \
      GTEST_SKIP() << "opencl unavailable: " << a_.reason;   \
  } while (0)

// conv -> conv + bias + relu -> max pool -> gemm (the pool's NHWC output viewed as [1][m][k]);
// the implicit-GEMM convs repack their weights once, the GEMM its A per run.
TEST(OpenclGraph, ConvPoolGemm) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 12, 12, 4});
  const int c1 = b.node("conv1", "conv:n1c4h12w12k8r3s3p1:f32", {x, -1});
  const int c2 = b.node("conv2", "conv:n1c8h12w12k8r3s3p1:f32+bias+relu", {c1, -1, -1});
  const int p = b.node("pool", "maxpool:n1c8h12w12r2s2st2:f32", {c2});
  const int g = b.node("fc", "gemm:m36n10k8:f32+bias", {p, -1, -1});
  b.g.outputs = {g};
  auto ran = run_and_compare(b);
  ASSERT_TRUE(ran.graph);
  EXPECT_EQ(detail(*ran.graph, "kernels"), 4);
  // Without repacks, one launch per conv, pool and gemm K block; the packed GEMM adds its A
  // panel; nothing here reads the weights in place after set_constants except the bias.
  EXPECT_GE(detail(*ran.graph, "launches_per_run"), 4);
}

// A residual block: x feeds a pointwise conv (a GEMM), a depthwise conv (direct) and, as the
// residual, the last conv; x stays live across all three.
TEST(OpenclGraph, ResidualBlock) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 8, 8, 8});
  const int e = b.node("expand", "conv:n1c8h8w8k16r1s1:f32+bias+relu6", {x, -1, -1});
  const int d = b.node("dw", "conv:n1c16h8w8k16r3s3p1g16:f32+bias+relu6", {e, -1, -1});
  const int pr = b.node("project", "conv:n1c16h8w8k8r1s1:f32+bias+res", {d, -1, -1, x});
  const int y = b.node("head", "conv:n1c8h8w8k8r3s3p1:f32+bias+relu+res", {pr, -1, -1, x});
  b.g.outputs = {y};
  run_and_compare(b);
}

// Depthwise convs: channels past a multiple of 16, dilation, stride, 5x5, residual.
TEST(OpenclGraph, DepthwiseChain) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 9, 11, 40});
  const int a = b.node("a", "conv:n1c40h9w11k40r3s3p2dl2g40:f32+bias+relu6", {x, -1, -1});
  const int c = b.node("c", "conv:n1c40h9w11k40r3s3st2p1g40:f32+bias", {a, -1, -1});
  const int e = b.node("e", "conv:n1c40h5w6k40r5s5p2g40:f32+silu+res", {c, -1, c});
  b.g.outputs = {e};
  run_and_compare(b);
}

// ResNet's ReLU after the residual add (act_after), on a conv and on a GEMM.
TEST(OpenclGraph, ActivationAfterResidual) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 6, 6, 8});
  const int a = b.node("a", "conv:n1c8h6w6k8r3s3p1:f32+bias+res", {x, -1, -1, x});
  b.g.nodes.back().act_after = Activation::relu;
  const int c = b.node("c", "conv:n1c8h6w6k8r1s1:f32+bias+res", {a, -1, -1, x});
  b.g.nodes.back().act_after = Activation::gelu;
  b.g.outputs = {c};
  run_and_compare(b);
}

// An intermediate read by two later nodes (and an output that later nodes read too).
TEST(OpenclGraph, IntermediateWithTwoReaders) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 6, 6, 8});
  const int t = b.node("t", "conv:n1c8h6w6k8r3s3p1:f32+relu", {x, -1});
  const int u = b.node("u", "conv:n1c8h6w6k8r1s1:f32+bias", {t, -1, -1});
  const int v = b.node("v", "add:n288:f32", {t, u});
  const int w = b.node("w", "gpool:n1c8h6w6:f32", {v});
  b.g.outputs = {u, w};
  run_and_compare(b);
}

// Liveness: t is read first by node a and last by the final add, four nodes later, while the
// chain in between produces same-size values that would take t's buffer if its lifetime ended
// at its first reader. The chain itself must share buffers (fewer buffers than values).
TEST(OpenclGraph, BufferReuseRespectsLiveness) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 8, 8, 8});
  const std::string cv = "conv:n1c8h8w8k8r3s3p1:f32+bias";
  const int t = b.node("t", cv, {x, -1, -1});
  int h = t;
  for (int i = 0; i < 5; ++i) h = b.node("c" + std::to_string(i), cv, {h, -1, -1});
  const int y = b.node("y", "add:n512:f32", {t, h});
  int z = y;
  for (int i = 0; i < 3; ++i) z = b.node("d" + std::to_string(i), cv, {z, -1, -1});
  b.g.outputs = {z};
  auto ran = run_and_compare(b, 3);
  ASSERT_TRUE(ran.graph);
  const double values = detail(*ran.graph, "arena_values");
  const double buffers = detail(*ran.graph, "arena_buffers");
  EXPECT_EQ(values, 10);  // t, c0..c4, y, d0..d2 (x, a small input, is not pooled)
  EXPECT_LE(buffers, 3);  // t, and two for the chain beside it
  EXPECT_LT(detail(*ran.graph, "arena_bytes"), detail(*ran.graph, "unshared_activation_bytes"));
}

// GEMM chains: bias + activation epilogues, a GEMM of two activations (B not a constant: packed
// on the device every run), transposes, and an f16 chain.
TEST(OpenclGraph, GemmChain) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 16, 24});
  const int h1 = b.node("h1", "gemm:m16n20k24:f32+bias+relu", {x, -1, -1});
  const int h2 = b.node("h2", "gemm:m16n12k20:f32+bias+gelu", {h1, -1, -1});
  const int s = b.node("s", "gemm:m16n16k12tb1:f32", {h2, h2});  // h2 h2^T
  const int o = b.node("o", "gemm:m12n16k16ta1:f32+res", {h2, s, -1});
  b.g.outputs = {o, s};
  run_and_compare(b);
}

// The packed GEMM's A panel packed on the device every run instead of read in place.
TEST(OpenclGraph, GemmChainPackedA) {
  SKIP_WITHOUT_OPENCL();
  setenv("TB_OPENCL_GRAPH_PACK_A", "1", 1);
  Builder b;
  const int x = b.input(DType::f32, {1, 4, 5, 24});
  const int h1 = b.node("h1", "conv:n1c24h4w5k20r1s1:f32+bias+relu", {x, -1, -1});
  const int h2 = b.node("h2", "gemm:m20n12k20:f32+bias", {h1, -1, -1});
  const int s = b.node("s", "gemm:m20n20k12tb1:f32", {h2, h2});
  b.g.outputs = {s};
  auto ran = run_and_compare(b);
  unsetenv("TB_OPENCL_GRAPH_PACK_A");
  ASSERT_TRUE(ran.graph);
  EXPECT_EQ(detail(*ran.graph, "repacks_per_run"), 4);  // A of h1, h2 and s; B of s
}

TEST(OpenclGraph, GemmChainF16) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f16, {1, 9, 33});
  const int h1 = b.node("h1", "gemm:m9n17k33:f16+bias+relu", {x, -1, -1});
  const int h2 = b.node("h2", "gemm:m9n40k17:f16+bias", {h1, -1, -1});
  const int h3 = b.node("h3", "gemm:m9n40k40:f16+res", {h2, -1, h2});
  b.g.outputs = {h3};
  run_and_compare(b);
}

// int8 as the tiers run it: f32 activations quantised on the device (in_quant) into u8 x s8
// convs (direct, depthwise, pointwise as a GEMM) and a GEMM with +scales epilogues. The first
// node quantises the graph input (bit-identical to the host's quantisation: its output is held
// to the +scales tolerance); the later ones quantise computed values, which may round a u8 the
// other way than the reference's, hence the looser tolerance on the last output.
TEST(OpenclGraph, Int8QuantisedOnTheDevice) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 8, 8, 16});
  const auto quant = [&](float scale, int zp) { b.g.nodes.back().in_quant = {true, scale, zp}; };
  const int t = b.node("c1", "conv:n1c16h8w8k16r3s3p1:s8+scales+bias+relu", {x, -1, -1, -1, -1});
  quant(1.0f / 128, 128);
  const int u = b.node("dw", "conv:n1c16h8w8k16r3s3p1g16:s8+scales+bias", {t, -1, -1, -1, -1});
  quant(20, 0);
  const int y = b.node("pw", "conv:n1c16h8w8k16r1s1:s8+scales+bias+res", {u, -1, -1, -1, -1, t});
  quant(5, 128);
  const int z = b.node("fc", "gemm:m64n10k16:s8+scales+bias", {y, -1, -1, -1, -1});
  quant(20, 128);
  b.g.outputs = {t};
  {
    auto ran = run_and_compare(b);
    ASSERT_TRUE(ran.graph);
    EXPECT_NE(ran.graph->config().find("4 u8 quantisations on the device"), std::string::npos)
        << ran.graph->config();
  }
  b.g.outputs = {z, t};
  run_and_compare(b, 2, 2e-2);
}

// bf16 as the tiers run it: f32 activations rounded to bf16 on the device (in_cast) into bf16
// convs and a GEMM (f32 out).
TEST(OpenclGraph, Bf16CastOnTheDevice) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 6, 6, 16});
  const auto cast = [&] { b.g.nodes.back().in_cast = true; };
  const int a = b.node("c1", "conv:n1c16h6w6k16r3s3p1:bf16+bias+relu", {x, -1, -1});
  cast();
  const int d = b.node("dw", "conv:n1c16h6w6k16r3s3p1g16:bf16+bias", {a, -1, -1});
  cast();
  const int p = b.node("pw", "conv:n1c16h6w6k16r1s1:bf16+bias+res", {d, -1, -1, a});
  cast();
  const int g = b.node("fc", "gemm:m36n10k16:bf16+bias", {p, -1, -1});
  cast();
  b.g.outputs = {g};
  auto ran = run_and_compare(b);
  ASSERT_TRUE(ran.graph);
  EXPECT_NE(ran.graph->config().find("4 bf16 casts on the device"), std::string::npos)
      << ran.graph->config();
}

// Several inputs and outputs, an input read only by the last node, a value nobody reads.
TEST(OpenclGraph, InputsAndOutputs) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 4, 4, 8});
  const int late = b.input(DType::f32, {128});
  const int a = b.node("a", "conv:n1c8h4w4k8r1s1:f32+relu", {x, -1});
  b.node("unused", "softmax:m16n8:f32", {a});
  const int c = b.node("c", "add:n128:f32", {a, late});
  b.g.outputs = {c, a};
  run_and_compare(b);
}

TEST(OpenclGraph, RunBeforeConstantsFails) {
  SKIP_WITHOUT_OPENCL();
  Builder b;
  const int x = b.input(DType::f32, {1, 4, 8});
  b.g.outputs = {b.node("g", "gemm:m4n4k8:f32", {x, -1})};
  auto og = test::backend("opencl")->prepare_graph(b.g, {});
  ASSERT_TRUE(og.ok()) << og.error().message;
  auto in = random_inputs(b.g, 1);
  auto out = output_tensors(b.g);
  EXPECT_FALSE(og.value()->run(cptrs(in), ptrs(out)).ok());
}

}  // namespace
}  // namespace tb
