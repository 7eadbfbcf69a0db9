// The executor's two int8 paths: each layer's dequantize fused into a +scales kernel (where the
// backend has that epilogue) and the host dequantize (where it does not) run the same network.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

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

}  // namespace
}  // namespace tb::workloads
