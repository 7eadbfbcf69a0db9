#include "onednn_common.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>

namespace tb::onednn {

void fail(const char* file, int line, const char* call, const char* what) {
  throw Failure(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " + what);
}

namespace {

// oneDNN 2.x (Debian 12 links 2.6.3) on CPUs with AMX (Sapphire Rapids): the u8 x s8 1x1
// convolution "jit_1x1:avx512_core_amx_int8" wrote f32 results past its destination and
// corrupted the heap: conv:n1c144h6w6k24r1s1:s8+scales+bias+res crashed with SIGSEGV on its
// own (person-detect:b1:int8 too, through the executor), on an H200 host's Xeon; the same
// problems pass with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 and on AVX512-VNNI CPUs. The next
// implementation (brgconv_1x1 on AMX) passes them.
struct KnownBad {
  int below_major;  // applies to oneDNN versions below this major version
  const char* impl;
};
constexpr KnownBad kKnownBadImpls[] = {{3, "jit_1x1:avx512_core_amx_int8"}};

std::atomic<int> g_skipped{0};

}  // namespace

bool skip_impls(dnnl::primitive_desc& pd, const std::vector<std::string>& names) {
  const auto bad = [&] {
    const std::string impl = pd.impl_info_str();
    return std::find(names.begin(), names.end(), impl) != names.end();
  };
  while (bad()) {
    g_skipped.fetch_add(1, std::memory_order_relaxed);
    if (!pd.next_impl()) return false;
  }
  return true;
}

bool skip_known_bad(dnnl::primitive_desc& pd) {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> v;
    const int major = dnnl_version()->major;
    for (const auto& k : kKnownBadImpls)
      if (major < k.below_major) v.emplace_back(k.impl);
    return v;
  }();
  // TB_ONEDNN_SKIP_IMPLS=name,name adds implementations found wrong in the field.
  std::vector<std::string> names = known;
  if (const char* e = std::getenv("TB_ONEDNN_SKIP_IMPLS")) {
    std::string_view rest(e);
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      if (const auto name = rest.substr(0, comma); !name.empty()) names.emplace_back(name);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return names.empty() || skip_impls(pd, names);
}

int known_bad_skipped() {
  return g_skipped.load(std::memory_order_relaxed);
}

int int8_weight_limit() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
    case dnnl::cpu_isa::avx:
    case dnnl::cpu_isa::avx2:
    case dnnl::cpu_isa::avx512_core:
      return 63;
    default:
      return 0;
  }
}

bool bf16_primitives() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core:
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx:
      return true;
    default:
      return false;
  }
}

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::memory::data_type to_dnnl(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::f32:
      return dt::f32;
    case DType::f16:
      return dt::f16;
    case DType::bf16:
      return dt::bf16;
    case DType::s8:
      return dt::s8;
    case DType::u8:
      return dt::u8;
    case DType::s32:
      return dt::s32;
  }
  return dt::undef;
}

dnnl::memory::desc plain_md(const dims& d, DType t) {
  dims strides(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i)
    strides[static_cast<std::size_t>(i)] =
        strides[static_cast<std::size_t>(i) + 1] * d[static_cast<std::size_t>(i) + 1];
  return TB_DNNL(dnnl::memory::desc(d, to_dnnl(t), strides));
}

void append_activation(dnnl::post_ops& po, Activation act) {
  using alg = dnnl::algorithm;
  switch (act) {
    case Activation::none:
      break;
    case Activation::relu:
      TB_DNNL(po.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f));
      break;
    // clip_v2 is [alpha, beta] inclusive on both ends, like the reference's relu6.
    case Activation::relu6:
      TB_DNNL(po.append_eltwise(1.f, alg::eltwise_clip_v2, 0.f, 6.f));
      break;
    case Activation::gelu:
      TB_DNNL(po.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f));
      break;
    case Activation::silu:
      TB_DNNL(po.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f));
      break;
  }
}

EpilogueArgs epilogue_post_ops(const Epilogue& e, int first_input, const dnnl::memory::desc& dst_md,
                               int channel_dim) {
  using alg = dnnl::algorithm;
  EpilogueArgs r;
  int next = first_input;
  // Broadcast shapes of the dst's rank: all ones (a scalar), or ones but the channel dimension.
  const dims dst_dims = dst_md.dims();
  const dims ones(dst_dims.size(), 1);
  dims channel = ones;
  channel[static_cast<std::size_t>(channel_dim)] = dst_dims[static_cast<std::size_t>(channel_dim)];
  const auto binary = [&](alg a, const dnnl::memory::desc& md) {
    r.args.push_back({r.ops.len(), next++, md});
    TB_DNNL(r.ops.append_binary(a, md));
  };
  if (e.scales) {
    binary(alg::binary_mul, plain_md(ones, DType::f32));
    binary(alg::binary_mul, plain_md(channel, DType::f32));
    if (e.bias) binary(alg::binary_add, plain_md(channel, DType::f32));
  } else if (e.bias) {
    r.bias_input = next++;
  }
  append_activation(r.ops, e.act);
  if (e.residual) binary(alg::binary_add, dst_md);
  return r;
}

int Plan::input(int input, const dnnl::memory::desc& user_md) {
  buffers_.push_back({user_md, input, -1, {}});
  return static_cast<int>(buffers_.size()) - 1;
}

int Plan::weights(int input, const dnnl::memory::desc& user_md, const dnnl::memory::desc& wanted) {
  const int user = this->input(input, user_md);
  if (wanted == user_md) return user;
  const int to = scratch(wanted);
  reorders_.push_back({user, to});
  return to;
}

int Plan::output(int output, const dnnl::memory::desc& md) {
  buffers_.push_back({md, -1, output, {}});
  return static_cast<int>(buffers_.size()) - 1;
}

int Plan::scratch(const dnnl::memory::desc& md) {
  buffers_.push_back({md, -1, -1, {}});
  return static_cast<int>(buffers_.size()) - 1;
}

int Plan::constant(const dnnl::memory::desc& md, std::function<void(void* data)> fill) {
  buffers_.push_back({md, -1, -1, std::move(fill)});
  return static_cast<int>(buffers_.size()) - 1;
}

void Plan::primitive(const dnnl::primitive_desc& pd, std::vector<std::pair<int, int>> args) {
  steps_.push_back({pd, std::move(args), {}, {}});
}

void Plan::custom(std::string name, CustomFn fn) {
  steps_.push_back({{}, {}, std::move(name), std::move(fn)});
}

std::string Plan::impl_info() const {
  std::string s;
  for (const auto& st : steps_) {
    if (!s.empty()) s += ",";
    s += st.fn ? st.name : std::string(st.pd.impl_info_str());
  }
  return s;
}

}  // namespace tb::onednn
