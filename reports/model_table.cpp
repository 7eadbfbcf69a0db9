#include "model_table.h"

#include <fmt/format.h>

namespace tb::reports {

std::string format_model_listing(const ModelListing& m) {
  const auto& s = m.summary;
  const auto& j = m.figures;
  const auto num = [&](const char* k) { return j.value(k, 0.0); };
  std::string out = fmt::format("{}  (opset {}, {}; stored as {})\n", m.path, s.opset, s.producer,
                                j.value("workload", ""));
  out += fmt::format("  input {} {}{}\n", s.input_name, workloads::shape_str(s.input_shape),
                     s.input_nhwc ? " (an NCHW image, fed NHWC)" : "");
  out += fmt::format(
      "  {:.3f} GMACs, {:.2f} M parameters, {:.2f} MB of weights, {:.2f} MB peak activations, "
      "{} kernel + {} host layers\n",
      num("macs") / 1e9, num("params") / 1e6, num("weight_bytes") / 1e6,
      num("peak_activation_bytes") / 1e6, j.value("kernel_layers", 0), j.value("host_layers", 0));
  std::string ops;
  for (const auto& [op, n] : s.op_counts)
    ops += fmt::format("{}{} x{}", ops.empty() ? "" : ", ", op, n);
  out += fmt::format("  ONNX ops: {}\n", ops);
  for (const auto& note : s.notes) out += fmt::format("  note: {}\n", note);
  for (const auto& b : j.value("backends", nlohmann::json::array()))
    out += fmt::format(
        "  {:<10} {}\n", b.value("name", ""),
        b.value("supported", false) ? "runs every op" : "no: " + b.value("reason", std::string()));
  return out;
}

}  // namespace tb::reports
