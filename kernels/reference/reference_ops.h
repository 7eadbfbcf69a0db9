// One function per op, each in its own file; reference_backend.cpp dispatches on the problem.
#pragma once

#include <span>

#include "../problem.h"
#include "../result.h"
#include "../tensor.h"

namespace tb::ref {

Result<void> gemm(const GemmDesc& g, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out);
Result<void> conv(const ConvDesc& c, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out);
Result<void> attention(const AttentionDesc& a, const Problem& p, std::span<const Tensor> in,
                       std::span<Tensor> out);
Result<void> pool(const PoolDesc& d, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out);
Result<void> rowwise(const RowDesc& d, const Problem& p, std::span<const Tensor> in,
                     std::span<Tensor> out);
Result<void> binary(const BinaryDesc& d, const Problem& p, std::span<const Tensor> in,
                    std::span<Tensor> out);
Result<void> rope(const RopeDesc& d, const Problem& p, std::span<const Tensor> in,
                  std::span<Tensor> out);
Result<void> embed(const EmbedDesc& d, const Problem& p, std::span<const Tensor> in,
                   std::span<Tensor> out);

}  // namespace tb::ref
