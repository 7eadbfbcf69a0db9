// The executor's two int8 paths: each layer's dequantize fused into a +scales kernel (where the
// backend has that epilogue) and the host dequantize (where it does not) run the same network.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "builder.h"
#include "executor.h"
#include "models.h"
#include "reference/reference_backend.h"
#include "weights.h"

namespace tb::workloads {
namespace {

// The reference backend without +scales: what a backend lacking the fused epilogue looks like.
class NoScales final : public Backend {
 public:
  const BackendTraits& traits() const override {
    static const BackendTraits t{
        .name = "no-scales", .devices = DeviceKind::host_cpu, .probe_key = "", .reference = false};
    return t;
  }
  Availability availability() override { return {true, {}}; }
  std::vector<DeviceInfo> devices() override { return ref_->devices(); }
  std::string version() override { return "test"; }
  Support supports(const Problem& p, int device) override {
    if (p.post.scales) return Support::no("no-scales: +scales not implemented");
    return ref_->supports(p, device);
  }
  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& o) override {
    if (p.post.scales) return make_error("no-scales: +scales not implemented");
    return ref_->prepare(p, o);
  }

 private:
  std::unique_ptr<Backend> ref_ = make_reference_backend();
};

// The reference backend without the ops of one family (kind: "pool" or "conv"): a backend that
// lacks a layer of a graph.
class Without final : public Backend {
 public:
  explicit Without(std::string kind) : kind_(std::move(kind)) {}
  const BackendTraits& traits() const override {
    static const BackendTraits t{
        .name = "without", .devices = DeviceKind::host_cpu, .probe_key = "", .reference = false};
    return t;
  }
  Availability availability() override { return {true, {}}; }
  std::vector<DeviceInfo> devices() override { return ref_->devices(); }
  std::string version() override { return "test"; }
  Support supports(const Problem& p, int device) override {
    if (lacks(p)) return Support::no("without: no " + kind_ + " kernel");
    return ref_->supports(p, device);
  }
  Result<std::unique_ptr<PreparedKernel>> prepare(const Problem& p,
                                                  const PrepareOptions& o) override {
    if (lacks(p)) return make_error("without: no " + kind_ + " kernel");
    return ref_->prepare(p, o);
  }

 private:
  bool lacks(const Problem& p) const {
    return (kind_ == "pool" && p.as<PoolDesc>()) || (kind_ == "conv" && p.as<ConvDesc>());
  }
  std::string kind_;
  std::unique_ptr<Backend> ref_ = make_reference_backend();
};

struct Outcome {
  Tensor out;
  double fused = -1;
};

Outcome run(Backend& b, const Graph& g, const std::string& path) {
  auto w = load_weights(g, path, false);
  EXPECT_TRUE(w.ok()) << w.error().message;
  Executor ex(g, std::move(w->tensors), 5);
  auto p = ex.prepare(b, 0, 0);
  EXPECT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(ex.upload_weights().ok());
  auto r = ex.infer(Executor::make_input(g, 5));
  EXPECT_TRUE(r.ok()) << r.error().message;
  Outcome out{ex.output(), -1};
  for (const auto& [k, v] : p->details)
    if (k == "int8_fused_layers") out.fused = v;
  return out;
}

TEST(ExecutorInt8, FusedAndHostDequantizeAgree) {
  // MobileNetV2-0.35 at 32 x 32: residuals, ReLU6 and linear bottlenecks (whose negative outputs
  // quantise with zero point 128), and a linear classifier; small enough for the reference.
  const Graph g = mobilenet_v2("exec-test", 0.35, 32, 5, 1, DType::s8);
  const auto dir =
      std::filesystem::temp_directory_path() / ("tb_exec_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  ASSERT_TRUE(ensure_weights_file(g, path, 9).ok());

  auto ref = make_reference_backend();
  NoScales host;
  const Outcome fused = run(*ref, g, path);
  const Outcome unfused = run(host, g, path);
  std::filesystem::remove_all(dir);

  int dequants = 0;
  for (const auto& l : g.layers) dequants += l.host == HostOp::dequantize;
  EXPECT_GT(dequants, 0);
  EXPECT_EQ(fused.fused, dequants);  // every layer fused on a backend with +scales
  EXPECT_EQ(unfused.fused, 0);       // none without
  // The paths round differently (f32 epilogue vs double host math), and a rounding flip in one
  // layer's output can move the next quantisation by one step: int8 tolerance, as the runner's.
  Tolerance tol;
  tol.rtol = 5e-2;
  const auto c = check_outputs(std::span<const Tensor>(&fused.out, 1),
                               std::span<const Tensor>(&unfused.out, 1), tol);
  EXPECT_EQ(c.status, Status::passed) << c.message;
  EXPECT_LT(c.rel_l2_err, 1e-2);
}

// Per-layer fallback: a backend without pooling runs MobileNetV2's global average pool on the
// reference backend, in a segment of its own, says so, and computes what the reference computes;
// a backend without convolutions (nearly all the MACs) is unsupported, naming the share.
TEST(ExecutorFallback, ALayerTheBackendLacksRunsOnTheReferenceAndIsReported) {
  const Graph g = mobilenet_v2("fallback-test", 0.35, 32, 5, 1, DType::f32);
  const auto dir =
      std::filesystem::temp_directory_path() / ("tb_fallback_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "w.safetensors").string();
  ASSERT_TRUE(ensure_weights_file(g, path, 9).ok());
  auto ref = make_reference_backend();
  Without no_pool("pool"), no_conv("conv");

  const Fallback fb = plan_fallback(g, no_pool, 0);
  ASSERT_EQ(fb.layers.size(), 1u);
  EXPECT_TRUE(g.layers[fb.layers[0]].problem->as<PoolDesc>());
  EXPECT_GT(fb.mac_share, 0);
  EXPECT_LT(fb.mac_share, kMaxFallbackShare);
  EXPECT_TRUE(fb.unsupported.empty());

  auto w = load_weights(g, path, false);
  ASSERT_TRUE(w.ok()) << w.error().message;
  Executor ex(g, std::move(w->tensors), 5);
  EXPECT_EQ(ex.unsupported(no_pool, 0), "");
  auto p = ex.prepare(no_pool, 0, 0);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(ex.segments(), 3) << ex.config();  // before the pool, the pool, the classifier
  EXPECT_NE(ex.config().find("1 layer fell back to the reference backend (gpool:"),
            std::string::npos)
      << ex.config();
  ASSERT_TRUE(ex.upload_weights().ok());
  auto r = ex.infer(Executor::make_input(g, 5));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Outcome want = run(*ref, g, path);
  const auto c = check_outputs(std::span<const Tensor>(&ex.output(), 1),
                               std::span<const Tensor>(&want.out, 1), Tolerance{});
  EXPECT_EQ(c.status, Status::passed) << c.message;

  const std::string why = plan_fallback(g, no_conv, 0).unsupported;
  EXPECT_NE(why.find("without: no conv kernel"), std::string::npos) << why;
  EXPECT_NE(why.find("% of the MACs"), std::string::npos) << why;
  auto w2 = load_weights(g, path, false);
  ASSERT_TRUE(w2.ok());
  Executor ex2(g, std::move(w2->tensors), 5);
  auto p2 = ex2.prepare(no_conv, 0, 0);
  ASSERT_FALSE(p2.ok());
  EXPECT_NE(p2.error().message.find("unsupported: "), std::string::npos) << p2.error().message;
  std::filesystem::remove_all(dir);
}

// Copies on the device (device_copies): a last row and a forward slice become slice kernels, a
// bf16 table's lookup an embed kernel (table first), a reversed slice stays a host op; the
// executor's restore puts every layer back as the graph gave it.
TEST(ExecutorCopies, LastRowSlicesAndLookupsBecomeKernels) {
  Builder b("copies-test", "t", DType::bf16);
  const int ids = b.input("ids", DType::s32, {3});
  const int table = b.weight("table", DType::bf16, {10, 8}, Init{});
  const int x =
      b.host("lookup", HostOp::embed, {Operand::v(ids), Operand::w(table)}, DType::f32, {3, 8});
  const int fwd = b.slice("fwd", x, 1, 8, 0, 2, {1, 2, 8});   // rows 0, 2
  const int rev = b.slice("rev", x, 1, 8, 2, -1, {1, 3, 8});  // rows 2, 1, 0
  const int last = b.host("last", HostOp::last_row, {Operand::v(rev)}, DType::f32, {1, 8});
  const int sum =
      b.binary("sum", BinaryKind::add, last,
               b.host("fwd.last", HostOp::last_row, {Operand::v(fwd)}, DType::f32, {1, 8}));
  const Graph base = b.finish(sum);
  ASSERT_TRUE(base.verify().ok());
  Graph g = base;

  EXPECT_EQ(copy_problem(g, g.layers[0])->str(), "embed:v10d8t3:bf16");
  EXPECT_EQ(copy_problem(g, g.layers[1])->str(), "slice:r3n8s0c2t2:f32");
  EXPECT_FALSE(copy_problem(g, g.layers[2]));  // a negative step
  EXPECT_EQ(copy_problem(g, g.layers[3])->str(), "slice:r3n8s2c1:f32");

  const auto moved = device_copies(g, [](const Problem& p) { return !p.as<EmbedDesc>(); });
  EXPECT_EQ(moved, (std::vector<std::size_t>{1, 3, 4}));
  EXPECT_EQ(g.layers[0].host, HostOp::embed);  // `runs` refused it: still a host op
  EXPECT_EQ(g.layers[2].host, HostOp::slice);
  EXPECT_EQ(g.layers[3].problem->str(), "slice:r3n8s2c1:f32");
  Graph all = base;
  EXPECT_EQ(device_copies(all, [](const Problem&) { return true; }).size(), 4u);
  EXPECT_TRUE(all.layers[0].problem->as<EmbedDesc>());
  EXPECT_EQ(all.layers[0].in[0].kind, Operand::weight);  // table, then ids
  EXPECT_EQ(all.layers[0].in[1].index, ids);
  EXPECT_TRUE(all.verify().ok());

  // End to end on the reference backend: the kernels agree with the host ops, bit for bit.
  auto ref = make_reference_backend();
  Tensor t(DType::bf16, {10, 8});  // rows of distinct values
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.data<std::uint16_t>()[i] = f32_to_bf16(static_cast<float>(i % 17) - 8.5f);
  Tensor in(DType::s32, {3});
  in.data<std::int32_t>()[0] = 7, in.data<std::int32_t>()[1] = -1, in.data<std::int32_t>()[2] = 2;
  std::vector<Tensor> outs;
  for (const char* on_host : {"1", ""}) {
    ::setenv("TB_MOVES_ON_HOST", on_host, 1);
    Executor ex(base, {t}, 3);
    ASSERT_TRUE(ex.prepare(*ref, 0, 0).ok());
    ASSERT_TRUE(ex.upload_weights().ok());
    auto r = ex.infer(in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    outs.push_back(ex.output());
  }
  ::unsetenv("TB_MOVES_ON_HOST");
  ASSERT_EQ(outs[0].bytes(), outs[1].bytes());
  EXPECT_EQ(std::memcmp(outs[0].raw(), outs[1].raw(), outs[0].bytes()), 0);
}

}  // namespace
}  // namespace tb::workloads
