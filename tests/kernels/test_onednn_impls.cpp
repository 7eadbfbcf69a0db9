// The oneDNN backend's list of implementations it never uses (kernels/onednn/onednn_common.h):
// skip_impls moves a primitive descriptor past named implementations, and a convolution whose
// first implementation is skipped (TB_ONEDNN_SKIP_IMPLS) still matches the reference.
// (oneDNN 2.6 quirk: two live iterators over one descriptor disturb each other, and one that ran
// to the end changes what a later one offers next; skip_impls only ever moves forward past the
// named implementations and reports when none is left.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "backend_fixture.h"
#include "onednn/onednn_common.h"

namespace tb {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// A u8 x s8 -> f32 1x1 convolution over NHWC with a residual added as a binary post-op,
// weights in oneDNN's layout: the shape and epilogue of an int8 tier's projection.
dnnl::convolution_forward::primitive_desc conv_u8_pd() {
  const dnnl::memory::desc src({1, 144, 6, 6}, dt::u8, tag::nhwc),
      w({24, 144, 1, 1}, dt::s8, tag::any), dst({1, 24, 6, 6}, dt::f32, tag::nhwc);
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_direct, src, w,
                                          dnnl::memory::desc(), dst, {1, 1}, {0, 0}, {0, 0});
  dnnl::post_ops po;
  po.append_binary(dnnl::algorithm::binary_add, dst);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  return dnnl::convolution_forward::primitive_desc(d, attr, onednn::cpu_engine());
}

TEST(OnednnImpls, SkipsNamedImplementations) {
  auto pd = conv_u8_pd();
  const std::string first = pd.impl_info_str();
  ASSERT_TRUE(onednn::skip_impls(pd, {"no-such-impl"}));
  EXPECT_EQ(pd.impl_info_str(), first) << "an unnamed implementation was skipped";
  // Past it: the next implementation oneDNN offers (this shape has several on every x86 CPU),
  // or false when the iterator reports none left; never the named one.
  if (onednn::skip_impls(pd, {first})) {
    EXPECT_NE(pd.impl_info_str(), first);
  }
}

TEST(OnednnImpls, ConvolutionPastASkippedImplementationMatchesReference) {
  Backend* b = test::backend("onednn");
  if (!b || !b->availability().available) GTEST_SKIP() << "onednn unavailable";
  const std::string first = conv_u8_pd().impl_info_str();
  ::setenv("TB_ONEDNN_SKIP_IMPLS", ("no-such-impl," + first).c_str(), 1);
  const int before = onednn::known_bad_skipped();
  auto p = Problem::parse("conv:n1c144h6w6k24r1s1:s8+scales+bias+res");
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = test::run_and_check("onednn", p.value(), 11);
  ::unsetenv("TB_ONEDNN_SKIP_IMPLS");
  EXPECT_EQ(o.status, Status::passed) << o.message;
  EXPECT_GT(onednn::known_bad_skipped(), before) << first << " was not the implementation chosen";
}

}  // namespace
}  // namespace tb
