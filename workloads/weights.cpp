#include "weights.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "cache_dir.h"
#include "models.h"
#include "safetensors.h"
#include "seeded_random.h"

namespace tb::workloads {

namespace {

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::string r = "[";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Fills one tensor: uniform in +-bound (s8: uniform integers in [-kWeightQMax, kWeightQMax]) or
// a constant.
void synthesize(const WeightSpec& w, std::uint64_t seed, std::span<std::byte> out) {
  std::uint64_t s = seed ^ fnv1a(w.name);
  const std::int64_t n = w.numel();
  const auto uniform = [&]() {  // [-1, 1)
    return static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-52 - 1.0;
  };
  const auto value = [&]() {
    return w.init.kind == Init::constant ? w.init.value : w.init.bound * uniform();
  };
  switch (w.dtype) {
    case DType::f32: {
      auto* p = reinterpret_cast<float*>(out.data());
      for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value());
      break;
    }
    case DType::bf16: {
      auto* p = reinterpret_cast<std::uint16_t*>(out.data());
      for (std::int64_t i = 0; i < n; ++i) p[i] = f32_to_bf16(static_cast<float>(value()));
      break;
    }
    case DType::s8: {
      auto* p = reinterpret_cast<std::int8_t*>(out.data());
      for (std::int64_t i = 0; i < n; ++i)
        p[i] = static_cast<std::int8_t>(static_cast<int>(splitmix64(s) % (2 * kWeightQMax + 1)) -
                                        kWeightQMax);
      break;
    }
    default:
      std::memset(out.data(), 0, out.size());
  }
}

}  // namespace

std::string model_cache_dir() {
  const std::filesystem::path root = cache_root();
  return root.empty() ? "/tmp/tierbench/models" : (root / "models").string();
}

std::string cached_weights_path(const Graph& g, std::uint64_t seed) {
  return model_cache_dir() + "/" + g.tier + "-" + tier_dtype_name(g.dtype) + "-seed" +
         std::to_string(seed) + ".safetensors";
}

Result<bool> ensure_weights_file(const Graph& full, const std::string& path, std::uint64_t seed) {
  std::error_code ec;
  // An int8 file written before the weights took 7 bits (no "tierbench.s8_max") holds 8-bit
  // ones, which saturate on a CPU without VNNI: written again.
  const bool s8 = std::any_of(full.weights.begin(), full.weights.end(),
                              [](const WeightSpec& w) { return w.dtype == DType::s8; });
  if (std::filesystem::exists(path, ec)) {
    if (!s8) return false;
    if (auto h = read_safetensors_header(path)) {
      const auto it = h->metadata.find("tierbench.s8_max");
      if (it != h->metadata.end() && it->second == std::to_string(kWeightQMax)) return false;
    }
  }
  std::vector<StSpec> specs;
  for (const auto& w : full.weights) specs.push_back({w.name, w.dtype, w.shape});
  const std::map<std::string, std::string> meta = {
      {"format", "pt"},
      {"tierbench.tier", full.tier},
      {"tierbench.dtype", tier_dtype_name(full.dtype)},
      {"tierbench.seed", std::to_string(seed)},
      {"tierbench.note", "synthetic weights (seeded uniform, 1/sqrt(fan_in) scaled)"},
      {"tierbench.s8_max", std::to_string(kWeightQMax)}};
  auto r = write_safetensors(path, specs, meta, [&](std::size_t i, std::span<std::byte> out) {
    synthesize(full.weights[i], seed, out);
  });
  if (!r) return r.error();
  return true;
}

namespace {

// The names of the graph's weights, once each is found in `h` with its dtype and shape.
Result<std::vector<std::string>> match_weights(const Graph& g, const StHeader& h,
                                               const std::string& path) {
  std::vector<std::string> names;
  for (const auto& w : g.weights) {
    const StTensor* t = h.find(w.name);
    const std::string where = "weights " + path + ": tensor '" + w.name + "' ";
    if (!t)
      return make_error(where + "is missing (" + g.tier + " " + tier_dtype_name(g.dtype) +
                        " needs " + std::to_string(g.weights.size()) + " tensors; the file has " +
                        std::to_string(h.tensors.size()) + ")");
    if (t->dtype != w.dtype || t->shape != w.shape)
      return make_error(where + "is " + std::string(st_dtype_name(t->dtype)) + shape_str(t->shape) +
                        ", the architecture needs " + std::string(st_dtype_name(w.dtype)) +
                        shape_str(w.shape));
    names.push_back(w.name);
  }
  return names;
}

}  // namespace

Result<void> check_weights_file(const Graph& g, const std::string& path) {
  auto h = read_safetensors_header(path);
  if (!h) return h.error();
  if (auto names = match_weights(g, *h, path); !names) return names.error();
  return {};
}

Result<LoadedWeights> load_weights(const Graph& g, const std::string& path, bool cold) {
  const auto t0 = std::chrono::steady_clock::now();
  auto h = read_safetensors_header(path);
  if (!h) return h.error();
  auto names = match_weights(g, *h, path);
  if (!names) return names.error();
  auto tensors = read_safetensors(path, *h, *names, cold);
  if (!tensors) return tensors.error();
  LoadedWeights lw;
  lw.tensors = std::move(*tensors);
  for (const auto& t : lw.tensors) lw.bytes += t.bytes();
  lw.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return lw;
}

}  // namespace tb::workloads
