// The Vulkan resident graph (kernels/vulkan/vulkan_graph.h) against the reference backend's
// staged graph on small hand-built DeviceGraphs: conv chains with epilogues, pooling and a
// classifier gemm, residuals, an intermediate read by several later nodes (whose buffer must not
// be reused before its last read), gemm chains through the packed, device-padded and naive
// layouts; int8 and bf16 chains whose nodes quantise (in_quant) or cast (in_cast) their f32
// operand on the device. Every run: one host round trip, only inputs and outputs moved. Skips
// without Vulkan.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels.h"

namespace tb {
namespace {

// Builds a DeviceGraph with seeded tensors for its inputs and constants.
struct GraphCase {
  DeviceGraph g;
  std::vector<Tensor> inputs, constants;
  std::vector<Tolerance> tol;  // per graph output, from the node that writes it
  std::uint64_t seed = 1;

  int input(const std::string& name, std::vector<std::int64_t> shape) {
    const int v = g.add_value({name, DType::f32, shape});
    g.inputs.push_back(v);
    Tensor t(DType::f32, shape);
    const auto r =
        make_inputs(Problem::parse("add:n" + std::to_string(t.numel()) + ":f32").value(), seed++);
    std::memcpy(t.raw(), r[0].raw(), t.bytes());
    inputs.push_back(std::move(t));
    return v;
  }
  // A node; operands given as -1 become fresh seeded constants of the problem's shape.
  int node(const std::string& name, const std::string& problem, std::vector<int> in) {
    auto p = Problem::parse(problem);
    EXPECT_TRUE(p.ok()) << problem;
    const auto specs = p->inputs();
    EXPECT_EQ(specs.size(), in.size()) << problem;
    const auto data = make_inputs(p.value(), seed++);
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] >= 0) continue;
      in[i] = g.add_value({name + "." + specs[i].name, specs[i].dtype, specs[i].shape});
      g.constants.push_back(in[i]);
      constants.push_back(data[i]);
    }
    const auto out = p->outputs().at(0);
    const int v = g.add_value({name, out.dtype, out.shape});
    DeviceGraph::Node n;
    n.name = name;
    n.problem = p.value();
    n.in = std::move(in);
    n.out = v;
    g.nodes.push_back(std::move(n));
    return v;
  }
  void output(int v) {
    g.outputs.push_back(v);
    for (const auto& n : g.nodes)
      if (n.out == v) tol.push_back(tolerance_for(n.problem));
  }
};

Backend* find_backend(std::vector<std::unique_ptr<Backend>>& all, std::string_view name) {
  for (auto& b : all)
    if (b->name() == name) return b.get();
  return nullptr;
}

struct Ran {
  std::vector<Tensor> out;
  GraphRunStats stats;
};

Result<Ran> run_graph(PreparedGraph& pg, const GraphCase& c, const std::vector<Tensor>& inputs) {
  Ran r;
  for (int v : c.g.outputs) {
    const auto& s = c.g.values[static_cast<std::size_t>(v)];
    r.out.emplace_back(s.dtype, s.shape);
    r.out.back().poison();
  }
  std::vector<const Tensor*> in;
  for (const auto& t : inputs) in.push_back(&t);
  std::vector<Tensor*> out;
  for (auto& t : r.out) out.push_back(&t);
  auto st = pg.run(in, out);
  if (!st) return st.error();
  r.stats = st.value();
  return r;
}

// Prepares the case on Vulkan (resident) and on the reference (staged), runs both twice on
// different inputs and compares. Returns the Vulkan graph for further checks.
std::unique_ptr<PreparedGraph> check_case(const GraphCase& c) {
  auto all = make_backends();
  Backend* ref = find_backend(all, "reference");
  Backend* vk = find_backend(all, "vulkan");
  EXPECT_TRUE(ref && vk);
  if (!ref || !vk || !vk->availability().available) return nullptr;
  EXPECT_TRUE(c.g.verify().ok()) << c.g.verify().error().message;
  auto rg = make_staged_graph(*ref, c.g, {});
  EXPECT_TRUE(rg.ok()) << rg.error().message;
  auto vg = vk->prepare_graph(c.g, {});
  EXPECT_TRUE(vg.ok()) << vg.error().message;
  if (!rg || !vg) return nullptr;
  EXPECT_EQ(vg.value()->config().rfind("vulkan graph:", 0), 0u) << vg.value()->config();
  std::vector<const Tensor*> consts;
  for (const auto& t : c.constants) consts.push_back(&t);
  EXPECT_TRUE(rg.value()->set_constants(consts).ok());
  auto sc = vg.value()->set_constants(consts);
  EXPECT_TRUE(sc.ok()) << sc.error().message;

  std::uint64_t in_bytes = 0, out_bytes = 0;
  for (const auto& t : c.inputs) in_bytes += t.bytes();
  for (int v : c.g.outputs) {
    const auto& s = c.g.values[static_cast<std::size_t>(v)];
    Tensor t(s.dtype, s.shape);
    out_bytes += t.bytes();
  }
  for (int rep = 0; rep < 2; ++rep) {
    auto inputs = c.inputs;
    if (rep == 1)  // other values: nothing may be left over from the first run
      for (auto& t : inputs)
        for (std::int64_t i = 0; i < t.numel(); ++i) t.set(i, 0.5 - t.at(i) * 0.75);
    auto want = run_graph(*rg.value(), c, inputs);
    auto got = run_graph(*vg.value(), c, inputs);
    EXPECT_TRUE(want.ok()) << want.error().message;
    EXPECT_TRUE(got.ok()) << got.error().message;
    if (!want || !got) return nullptr;
    for (std::size_t i = 0; i < got->out.size(); ++i) {
      EXPECT_TRUE(got->out[i].guards_intact());
      const auto chk =
          check_outputs(std::span(&got->out[i], 1), std::span(&want->out[i], 1), c.tol[i]);
      EXPECT_EQ(chk.status, Status::passed)
          << "run " << rep << " output " << i << ": " << chk.message << " (max rel err "
          << chk.max_rel_err << ")";
    }
    const auto& st = got->stats;
    EXPECT_EQ(st.host_round_trips, 1);
    EXPECT_EQ(st.bytes_to_device, in_bytes);
    EXPECT_EQ(st.bytes_from_device, out_bytes);
    EXPECT_GT(st.kernel_s, 0.0);
  }
  return std::move(vg.value());
}

double detail(const PreparedGraph& pg, const std::string& key) {
  for (const auto& [k, v] : pg.details())
    if (k == key) return v;
  ADD_FAILURE() << "no detail " << key;
  return -1;
}

#define TB_SKIP_WITHOUT_VULKAN()                                                        \
  do {                                                                                  \
    auto all_ = make_backends();                                                        \
    auto* vk_ = find_backend(all_, "vulkan");                                           \
    if (!vk_ || !vk_->availability().available)                                         \
      GTEST_SKIP() << "Vulkan unavailable: "                                            \
                   << (vk_ ? vk_->availability().reason : std::string("not built in")); \
  } while (0)

TEST(VulkanGraph, ConvPoolGemmChain) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("image", {1, 9, 9, 3});
  int h = c.node("conv0", "conv:n1c3h9w9k8r3s3st2p1:f32+bias+relu6", {x, -1, -1});  // 5x5
  h = c.node("conv1", "conv:n1c8h5w5k8r3s3p1:f32+bias+relu", {h, -1, -1});
  h = c.node("dw", "conv:n1c8h5w5k8r3s3p1g8:f32+bias+relu6", {h, -1, -1});
  h = c.node("pool", "maxpool:n1c8h5w5r2s2st2:f32", {h});  // 2x2
  // Pointwise convs run as GEMMs in the resident graph; c = 6 pads A on the device.
  h = c.node("expand", "conv:n1c8h2w2k6r1s1:f32+bias", {h, -1, -1});
  h = c.node("mix", "conv:n1c6h2w2k6r1s1:f32+relu", {h, -1});
  h = c.node("gpool", "gpool:n1c6h2w2:f32", {h});
  // k = 6: the packed shaders read A from a zero-padded copy made on the device.
  h = c.node("fc", "gemm:m1n5k6:f32+bias", {h, -1, -1});
  c.output(h);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_EQ(detail(*vg, "dispatches"), 8);
  EXPECT_NE(vg->config().find("gemm blocks"), std::string::npos) << vg->config();
}

TEST(VulkanGraph, ResidualAndSharedIntermediate) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("x", {1, 6, 6, 8});
  // a is read by b, by d (residual, three nodes later) and is a graph output; if its buffer
  // were freed after its first read, c's or d's output would overwrite it.
  const int a = c.node("a", "conv:n1c8h6w6k8r1s1:f32+bias+relu", {x, -1, -1});
  const int b = c.node("b", "conv:n1c8h6w6k8r3s3p1g8:f32+bias+relu6", {a, -1, -1});
  const int cc = c.node("c", "conv:n1c8h6w6k8r1s1:f32+bias", {b, -1, -1});
  const int d = c.node("d", "conv:n1c8h6w6k8r3s3p1:f32+bias+res", {cc, -1, -1, a});
  c.g.nodes.back().act_after = Activation::relu;  // ResNet's ReLU after the residual add
  const int e = c.node("e", "conv:n1c8h6w6k8r1s1:f32+res", {d, -1, x});  // residual: the input
  c.output(e);
  c.output(a);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_EQ(detail(*vg, "dispatches"), 6);  // five nodes and d's act_after
}

TEST(VulkanGraph, LongChainSharesBuffers) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  int h = c.input("x", {1, 4, 4, 8});
  for (int i = 0; i < 6; ++i)
    h = c.node("conv" + std::to_string(i), "conv:n1c8h4w4k8r1s1:f32+bias+relu", {h, -1, -1});
  c.output(h);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  // Seven activations of one size alive two at a time (plus the output, alive to the end).
  EXPECT_LE(detail(*vg, "arena_buffers"), 3);
  EXPECT_LT(detail(*vg, "arena_bytes"), detail(*vg, "arena_unshared_bytes"));
  // Each conv reads its predecessor's output: a barrier before every dispatch but the first.
  EXPECT_EQ(detail(*vg, "barriers"), 5);
}

TEST(VulkanGraph, IndependentNodesNeedNoBarrier) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("x", {1, 4, 4, 8});
  const int a = c.node("a", "conv:n1c8h4w4k8r1s1:f32", {x, -1});
  const int b = c.node("b", "conv:n1c8h4w4k8r1s1:f32+relu", {x, -1});
  const int s = c.node("sum", "add:n128:f32", {a, b});
  c.output(s);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_EQ(detail(*vg, "barriers"), 1);
}

TEST(VulkanGraph, GemmChains) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("x", {4, 16});
  int h = c.node("fc1", "gemm:m4n24k16:f32+bias+relu", {x, -1, -1});
  h = c.node("fc2", "gemm:m4n13k24tb1:f32+bias", {h, -1, -1});  // weights given n x k
  // k = 13 from an activation: padded on the device for the packed shaders.
  const int h3 = c.node("fc3", "gemm:m4n8k13:f32+gelu", {h, -1});
  // Both operands activations: h3 h3^T (B given n x k, as the packed shaders read it).
  const int gram = c.node("gram", "gemm:m4n4k8tb1:f32", {h3, h3});
  // A activation given k x m: the naive shader (no device transpose for the packed ones).
  const int t = c.node("t", "gemm:m8n3k4ta1:f32+res", {h3, -1, -1});
  c.output(gram);
  c.output(t);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_GE(detail(*vg, "device_padded_operands"), 1);
  EXPECT_NE(vg->config().find("naive"), std::string::npos) << vg->config();
}

TEST(VulkanGraph, BatchedGemmAndRowOps) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("x", {2, 5, 12});
  int h = c.node("norm", "rmsnorm:m10n12:f32", {x, -1});
  h = c.node("proj", "gemm:b2m5n7k12:f32+bias+silu", {h, -1, -1});
  h = c.node("soft", "softmax:m10n7:f32", {h});
  c.output(h);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
}

// An int8 tier's shape: every node quantises its f32 operand with a calibrated scale and zero
// point on the device (the dw and pointwise convs share one quantisation of conv0's output),
// u8 x s8 kernels dequantise in their epilogue (+scales), the last gemm's k = 12 is padded on the
// device. Resident: one submit, no host quantisation.
TEST(VulkanGraph, Int8QuantisedChain) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("image", {1, 9, 9, 3});
  auto quant = [&](float scale, int zp) { c.g.nodes.back().in_quant = {true, scale, zp}; };
  const int h =
      c.node("conv0", "conv:n1c3h9w9k8r3s3st2p1:s8+scales+bias+relu", {x, -1, -1, -1, -1});
  quant(0.01f, 3);
  const int dw = c.node("dw", "conv:n1c8h5w5k8r3s3p1g8:s8+scales+bias+relu6", {h, -1, -1, -1, -1});
  quant(0.02f, 0);
  const int pw = c.node("pw", "conv:n1c8h5w5k12r1s1:s8+scales+bias", {h, -1, -1, -1, -1});
  quant(0.02f, 0);
  const int sum = c.node("sum", "add:n300:f32", {pw, pw});
  const int fc = c.node("fc", "gemm:m25n5k12:s8+scales+bias", {sum, -1, -1, -1, -1});
  quant(0.05f, 7);
  c.output(fc);
  c.output(dw);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_EQ(detail(*vg, "operand_conversions"), 3);
  EXPECT_EQ(detail(*vg, "dispatches"), 8);  // five nodes, three quantisations
}

// A bf16 tier's shape: f32 activations rounded to bf16 on the device (in_cast) before bf16 x
// bf16 -> f32 kernels, attention from a cast Q and bf16 K, V.
TEST(VulkanGraph, Bf16CastChain) {
  TB_SKIP_WITHOUT_VULKAN();
  GraphCase c;
  const int x = c.input("x", {1, 6, 6, 8});
  int h = c.node("conv", "conv:n1c8h6w6k16r3s3p1:bf16+bias+relu", {x, -1, -1});
  c.g.nodes.back().in_cast = true;
  h = c.node("pw", "conv:n1c16h6w6k8r1s1:bf16+bias", {h, -1, -1});
  c.g.nodes.back().in_cast = true;
  h = c.node("fc", "gemm:m36n32k8:bf16+gelu", {h, -1});
  c.g.nodes.back().in_cast = true;
  const int a = c.node("attn", "attn:h1q36s20d32:bf16", {h, -1, -1});
  c.g.nodes.back().in_cast = true;
  c.output(a);
  auto vg = check_case(c);
  ASSERT_TRUE(vg);
  EXPECT_EQ(detail(*vg, "operand_conversions"), 4);
}

}  // namespace
}  // namespace tb
