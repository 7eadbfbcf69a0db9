// Vision tiers: MobileNetV2 (person-detect, mobilenetv2) and ResNet-50 v1.5, NHWC, batch norm
// folded into the convolutions' biases (as deployed models are). Layer names follow torchvision.
#include <algorithm>

#include "builder.h"
#include "models.h"

namespace tb::workloads {

namespace {
// torchvision's _make_divisible (also TF slim's): round to a multiple of 8, never below 90%.
std::int64_t make_divisible(double v, std::int64_t divisor = 8) {
  std::int64_t n = std::max<std::int64_t>(
      divisor, static_cast<std::int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(n) < 0.9 * v) n += divisor;
  return n;
}

int classifier(Builder& b, int x, std::int64_t batch, std::int64_t classes) {
  const std::int64_t c = b.value(x).shape[3];
  const int pooled = b.pool("avgpool", PoolKind::global, x, 1, 1, 0);
  return b.linear("classifier", pooled, batch, c, classes, true);
}
}  // namespace

Graph mobilenet_v2(const std::string& tier, double width, std::int64_t resolution,
                   std::int64_t classes, std::int64_t batch, DType dt) {
  Builder b(tier, "b" + std::to_string(batch), dt);
  int x = b.input("image", DType::f32, {batch, resolution, resolution, 3});
  std::int64_t c = make_divisible(32 * width);
  const std::int64_t last = make_divisible(1280 * std::max(1.0, width));
  x = b.conv("features.0", x, c, 3, 2, 1, 1, Activation::relu6);
  // t (expansion), c (channels), n (repeats), s (first stride): paper Table 2.
  const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int idx = 1;
  for (const auto& st : settings) {
    const std::int64_t out = make_divisible(st[1] * width);
    for (int i = 0; i < st[2]; ++i, ++idx) {
      const std::int64_t stride = i == 0 ? st[3] : 1;
      const std::string name = "features." + std::to_string(idx);
      const std::int64_t hidden = c * st[0];
      int h = x;
      if (st[0] != 1) h = b.conv(name + ".expand", h, hidden, 1, 1, 0, 1, Activation::relu6);
      h = b.conv(name + ".dw", h, hidden, 3, stride, 1, hidden, Activation::relu6);
      const bool res = stride == 1 && c == out;
      x = b.conv(name + ".project", h, out, 1, 1, 0, 1, Activation::none, res ? x : -1,
                 res ? 0.5 : 1.0);
      c = out;
    }
  }
  x = b.conv("features." + std::to_string(idx), x, last, 1, 1, 0, 1, Activation::relu6);
  return b.finish(classifier(b, x, batch, classes));
}

Graph resnet50(const std::string& tier, std::int64_t resolution, std::int64_t batch, DType dt,
               int max_blocks_per_stage) {
  Builder b(tier, "b" + std::to_string(batch), dt);
  int x = b.input("image", DType::f32, {batch, resolution, resolution, 3});
  x = b.conv("conv1", x, 64, 7, 2, 3, 1, Activation::relu);
  x = b.pool("maxpool", PoolKind::max, x, 3, 2, 1);
  std::int64_t c = 64;
  const int blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = 64 << stage, out = width * 4;
    const int n = std::min(blocks[stage], max_blocks_per_stage);
    for (int i = 0; i < n; ++i) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
      const std::int64_t stride = i == 0 && stage > 0 ? 2 : 1;
      int shortcut = x;
      if (i == 0)  // projection shortcut (stride and channels change)
        shortcut = b.conv(name + ".downsample", x, out, 1, stride, 0, 1, Activation::none);
      int h = b.conv(name + ".conv1", x, width, 1, 1, 0, 1, Activation::relu);
      h = b.conv(name + ".conv2", h, width, 3, stride, 1, 1, Activation::relu);  // v1.5
      // relu(conv3 + shortcut): the epilogue adds the residual after its activation, so the
      // ReLU after the sum is a host op.
      h = b.conv(name + ".conv3", h, out, 1, 1, 0, 1, Activation::none, shortcut, 0.5);
      x = b.host(name + ".relu", HostOp::activation, {Operand::v(h)}, DType::f32, b.value(h).shape,
                 Activation::relu);
      c = out;
    }
  }
  (void)c;
  return b.finish(classifier(b, x, batch, 1000));
}

}  // namespace tb::workloads
