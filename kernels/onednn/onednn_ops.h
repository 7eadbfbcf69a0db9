// One builder per op family, each in its own file: fills a Plan with memory and primitive
// descriptors for a problem (throws Failure when oneDNN has no implementation).
#pragma once

#include "onednn_common.h"

namespace tb::onednn {

void build_matmul(Plan& plan, const Problem& p, const GemmDesc& g);
void build_conv(Plan& plan, const Problem& p, const ConvDesc& c);
void build_attention(Plan& plan, const Problem& p, const AttentionDesc& a);
void build_pool(Plan& plan, const Problem& p, const PoolDesc& d);
// Pooling (max, average excluding padding, global average) from src to dst, inference.
dnnl::pooling_forward::desc pool_desc(const PoolDesc& d, const dnnl::memory::desc& src,
                                      const dnnl::memory::desc& dst);
void build_rowwise(Plan& plan, const Problem& p, const RowDesc& d);
void build_binary(Plan& plan, const Problem& p, const BinaryDesc& d);
void build_rope(Plan& plan, const Problem& p, const RopeDesc& d);
void build_embed(Plan& plan, const Problem& p, const EmbedDesc& d);
void build_kvwrite(Plan& plan, const Problem& p, const KvWriteDesc& d);
void build_permute(Plan& plan, const Problem& p, const PermuteDesc& d);
void build_slice(Plan& plan, const Problem& p, const SliceDesc& d);

// For the hand-written loops (Plan::custom): the data of memory i, and the f32-only check.
template <class T>
T* ptr(std::vector<dnnl::memory>& m, int i) {
  return static_cast<T*>(m[static_cast<std::size_t>(i)].get_data_handle());
}
inline void need_f32(const Problem& p) {
  if (p.dtype != DType::f32)
    throw Failure(std::string(p.op_name()) + ": the hand-written CPU loop is f32 only");
}

}  // namespace tb::onednn
