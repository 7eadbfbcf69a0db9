// Device graphs that keep state between runs (DeviceGraph::states, a decoder's KV caches): a
// kvwrite node writes the token's rows into its cache in place, the nodes after it read the
// whole cache, and the cache stays where the backend computes, given once by set_states(). On
// every backend with a graph of its own (OpenCL's queue, Vulkan's command buffer) and the staged
// graph (reference): the result is the cache as set with the token's rows replaced, every run,
// while a run moves only the token in and the result out; a decode step's attention over caches
// its kvwrites updated matches the reference's. And verify() holds the rules.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backend_fixture.h"

namespace tb {
namespace {

constexpr std::int64_t kH = 3, kS = 16, kD = 8, kP = 5;

Tensor random_tensor(DType dt, std::vector<std::int64_t> shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mag(0.25, 1.0);
  Tensor t(dt, std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.set(i, (rng() & 1 ? 1 : -1) * mag(rng));
  return t;
}

// x [h][d] -> kvwrite in place into cache [h][s][d] (a state) -> y = cache + bias (a second
// input), so that the whole cache comes back through a node that reads it.
struct StateGraph {
  DeviceGraph g;
  int x = -1, cache = -1, bias = -1, y = -1;
  explicit StateGraph(DType cache_dt) {
    const Problem kv = Problem::parse("kvwrite:h" + std::to_string(kH) + "s" + std::to_string(kS) +
                                      "d" + std::to_string(kD) + "p" + std::to_string(kP) + ":" +
                                      std::string(dtype_name(cache_dt)))
                           .value();
    x = g.add_value({"x", DType::f32, {kH, kD}});
    cache = g.add_value({"cache", cache_dt, {kH, kS, kD}});
    bias = g.add_value({"bias", cache_dt, {kH * kS * kD}});
    y = g.add_value({"y", cache_dt, {kH * kS * kD}});
    g.inputs = {x, bias};
    g.states = {cache};
    g.outputs = {y};
    DeviceGraph::Node w;
    w.name = "cache.write";
    w.problem = kv;
    w.in = {x, cache};
    w.out = cache;
    DeviceGraph::Node a;
    a.name = "read";
    a.problem = Problem::parse("add:n" + std::to_string(kH * kS * kD) + ":" +
                               std::string(dtype_name(cache_dt)))
                    .value();
    a.in = {cache, bias};
    a.out = y;
    g.nodes = {w, a};
  }
};

// The cache with rows p replaced by x (rounded to the cache's type), plus bias.
Tensor expected(const Tensor& cache, const Tensor& x, const Tensor& bias) {
  Tensor c = cache;
  for (std::int64_t h = 0; h < kH; ++h)
    for (std::int64_t i = 0; i < kD; ++i) c.set((h * kS + kP) * kD + i, x.at(h * kD + i));
  Tensor y(cache.dtype(), {kH * kS * kD});
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    // Rounded as the add kernel rounds its f32 sum.
    Tensor one(cache.dtype(), {1});
    one.set(0, static_cast<float>(c.at(i)) + static_cast<float>(bias.at(i)));
    y.set(i, one.at(0));
  }
  return y;
}

// A decode step's attention: k and v written into their caches (states), then attention of one
// query over the whole caches, grouped-query (6 heads over 3 kv heads), as the LLM tiers run it.
// The backend's graph against the reference's staged graph, three tokens in a row.
struct DecodeGraph {
  DeviceGraph g;
  explicit DecodeGraph(DType dt) {
    const std::string t = ":" + std::string(dtype_name(dt));
    const std::string kv = "kvwrite:h" + std::to_string(kH) + "s" + std::to_string(kS) + "d" +
                           std::to_string(kD) + "p" + std::to_string(kP) + t;
    const int q = g.add_value({"q", dt, {1, 2 * kH, 1, kD}});
    const int k = g.add_value({"k", DType::f32, {kH, kD}});
    const int v = g.add_value({"v", DType::f32, {kH, kD}});
    const int kc = g.add_value({"k_cache", dt, {kH, kS, kD}});
    const int vc = g.add_value({"v_cache", dt, {kH, kS, kD}});
    const Problem attn =
        Problem::parse("attn:h" + std::to_string(2 * kH) + "kv" + std::to_string(kH) + "q1s" +
                       std::to_string(kS) + "d" + std::to_string(kD) + t)
            .value();
    const int o = g.add_value(attn.outputs()[0]);
    g.inputs = {q, k, v};
    g.states = {kc, vc};
    g.outputs = {o};
    const Problem w = Problem::parse(kv).value();
    const auto node = [&](const char* name, const Problem& p, std::vector<int> in, int out) {
      DeviceGraph::Node n;
      n.name = name;
      n.problem = p;
      n.in = std::move(in);
      n.out = out;
      g.nodes.push_back(std::move(n));
    };
    node("k_cache.write", w, {k, kc}, kc);
    node("v_cache.write", w, {v, vc}, vc);
    node("attn", attn, {q, kc, vc}, o);
  }
};

class GraphStates : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(GraphStates, AKvWriteUpdatesTheResidentCacheInPlace) {
  const auto& [name, dt] = GetParam();
  Backend* b = test::backend(name);
  if (!b) GTEST_SKIP() << name << ": not built";
  if (auto a = b->availability(); !a.available) GTEST_SKIP() << name << ": " << a.reason;
  StateGraph sg(dt);
  ASSERT_TRUE(sg.g.verify().ok()) << sg.g.verify().error().message;
  for (const auto& n : sg.g.nodes)
    if (auto s = b->supports(n.problem, 0); !s.supported)
      GTEST_SKIP() << name << " lacks " << n.problem.str() << ": " << s.reason;
  auto pg = b->prepare_graph(sg.g, {});
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  PreparedGraph& g = *pg.value();
  ASSERT_TRUE(g.set_constants({}).ok());
  const Tensor cache = random_tensor(dt, {kH, kS, kD}, 7);
  const Tensor* states[] = {&cache};
  ASSERT_TRUE(g.set_states(states).ok());
  for (std::uint64_t run = 0; run < 3; ++run) {  // a fresh token and bias each run
    const Tensor x = random_tensor(DType::f32, {kH, kD}, 100 + run);
    const Tensor bias = random_tensor(dt, {kH * kS * kD}, 200 + run);
    Tensor y(dt, {kH * kS * kD});
    y.poison();
    const Tensor* in[] = {&x, &bias};
    Tensor* out[] = {&y};
    auto r = g.run(in, out);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const Tensor want = expected(cache, x, bias);
    Tolerance tol;
    tol.rtol = dt == DType::f32 ? 1e-6 : 1e-2;
    const auto chk =
        check_outputs(std::span<const Tensor>(&y, 1), std::span<const Tensor>(&want, 1), tol);
    EXPECT_EQ(chk.status, Status::passed) << name << " run " << run << ": " << chk.message;
    // Device graphs move the token and the bias in, the result out: never the cache (oneDNN
    // reads and writes host memory in place: nothing moves).
    if (name == "opencl" || name == "vulkan") {
      EXPECT_EQ(r->bytes_to_device, x.bytes() + bias.bytes()) << g.config();
      EXPECT_EQ(r->bytes_from_device, y.bytes()) << g.config();
      EXPECT_EQ(r->host_round_trips, 1) << g.config();
    }
  }
  if (name != "reference") {
    EXPECT_NE(g.config().find("1 states resident"), std::string::npos) << g.config();
    EXPECT_GE(g.memory().device_bytes + g.memory().host_bytes, cache.bytes());
  }
}

TEST_P(GraphStates, RunBeforeSetStatesFails) {
  const auto& [name, dt] = GetParam();
  Backend* b = test::backend(name);
  if (!b) GTEST_SKIP() << name << ": not built";
  if (auto a = b->availability(); !a.available) GTEST_SKIP() << name << ": " << a.reason;
  if (name == "reference") GTEST_SKIP() << "the staged graph starts from zeroed host values";
  DecodeGraph dg(dt);
  for (const auto& n : dg.g.nodes)
    if (auto s = b->supports(n.problem, 0); !s.supported)
      GTEST_SKIP() << name << " lacks " << n.problem.str() << ": " << s.reason;
  auto pg = b->prepare_graph(dg.g, {});
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  ASSERT_TRUE(pg.value()->set_constants({}).ok());
  const Tensor q = random_tensor(dt, {1, 2 * kH, 1, kD}, 1);
  const Tensor k = random_tensor(DType::f32, {kH, kD}, 2),
               v = random_tensor(DType::f32, {kH, kD}, 3);
  const TensorSpec os = dg.g.values[static_cast<std::size_t>(dg.g.outputs[0])];
  Tensor o(os.dtype, os.shape);
  const Tensor* in[] = {&q, &k, &v};
  Tensor* out[] = {&o};
  EXPECT_FALSE(pg.value()->run(in, out).ok());
  const Tensor ok(dt, {kH, kS, kD}), wrong(dt, {kH, kS, kD + 1});
  const Tensor* one[] = {&ok};
  EXPECT_FALSE(pg.value()->set_states(one).ok());  // two states
  const Tensor* bad[] = {&ok, &wrong};
  EXPECT_FALSE(pg.value()->set_states(bad).ok());
}

TEST_P(GraphStates, AttentionReadsTheCachesItsStepWrote) {
  const auto& [name, dt] = GetParam();
  if (name == "reference") GTEST_SKIP() << "the reference is what the others are checked against";
  Backend* b = test::backend(name);
  Backend* ref = test::backend("reference");
  ASSERT_TRUE(ref);
  if (!b) GTEST_SKIP() << name << ": not built";
  if (auto a = b->availability(); !a.available) GTEST_SKIP() << name << ": " << a.reason;
  DecodeGraph dg(dt);
  ASSERT_TRUE(dg.g.verify().ok()) << dg.g.verify().error().message;
  for (const auto& n : dg.g.nodes)
    if (auto s = b->supports(n.problem, 0); !s.supported)
      GTEST_SKIP() << name << " lacks " << n.problem.str() << ": " << s.reason;
  auto got_g = b->prepare_graph(dg.g, {});
  auto want_g = ref->prepare_graph(dg.g, {});
  ASSERT_TRUE(got_g.ok() && want_g.ok());
  const Tensor kc = random_tensor(dt, {kH, kS, kD}, 11), vc = random_tensor(dt, {kH, kS, kD}, 12);
  const Tensor* states[] = {&kc, &vc};
  for (auto* g : {got_g.value().get(), want_g.value().get()}) {
    ASSERT_TRUE(g->set_constants({}).ok());
    ASSERT_TRUE(g->set_states(states).ok());
  }
  const TensorSpec os = dg.g.values[static_cast<std::size_t>(dg.g.outputs[0])];
  for (std::uint64_t run = 0; run < 3; ++run) {
    const Tensor q = random_tensor(dt, {1, 2 * kH, 1, kD}, 300 + run);
    const Tensor k = random_tensor(DType::f32, {kH, kD}, 400 + run);
    const Tensor v = random_tensor(DType::f32, {kH, kD}, 500 + run);
    const Tensor* in[] = {&q, &k, &v};
    Tensor got(os.dtype, os.shape), want(os.dtype, os.shape);
    got.poison();
    Tensor* got_out[] = {&got};
    Tensor* want_out[] = {&want};
    auto r = got_g.value()->run(in, got_out);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(want_g.value()->run(in, want_out).ok());
    Tolerance tol;
    tol.rtol = dt == DType::f32 ? 1e-4 : 2e-2;
    const auto chk =
        check_outputs(std::span<const Tensor>(&got, 1), std::span<const Tensor>(&want, 1), tol);
    EXPECT_EQ(chk.status, Status::passed) << name << " run " << run << ": " << chk.message;
    if (name != "onednn") {
      EXPECT_EQ(r->bytes_to_device, q.bytes() + k.bytes() + v.bytes());
    }
  }
}

std::string param_name(const ::testing::TestParamInfo<GraphStates::ParamType>& i) {
  return std::get<0>(i.param) + "_" + std::string(dtype_name(std::get<1>(i.param)));
}

INSTANTIATE_TEST_SUITE_P(Backends, GraphStates,
                         ::testing::Combine(::testing::Values("reference", "onednn", "opencl",
                                                              "vulkan"),
                                            ::testing::Values(DType::f32, DType::bf16)),
                         param_name);

TEST(GraphStatesVerify, OnlyAKvWriteWritesAStateAndOnlyInPlace) {
  {
    StateGraph sg(DType::f32);
    EXPECT_TRUE(sg.g.verify().ok());
  }
  {  // the state is also an input
    StateGraph sg(DType::f32);
    sg.g.inputs.push_back(sg.cache);
    EXPECT_FALSE(sg.g.verify().ok());
  }
  {  // a state read back as an output
    StateGraph sg(DType::f32);
    sg.g.outputs.push_back(sg.cache);
    EXPECT_FALSE(sg.g.verify().ok());
  }
  {  // a kvwrite in place over a value that is not a state
    StateGraph sg(DType::f32);
    sg.g.states.clear();
    sg.g.inputs.push_back(sg.cache);
    EXPECT_FALSE(sg.g.verify().ok());
  }
  {  // another node writing the state
    StateGraph sg(DType::f32);
    sg.g.nodes[1].out = sg.cache;
    sg.g.nodes[1].problem = Problem::parse("add:n" + std::to_string(kH * kS * kD) + ":f32").value();
    EXPECT_FALSE(sg.g.verify().ok());
  }
}

}  // namespace
}  // namespace tb
