// GEMM on every backend against the reference, over odd and edge shapes.
#include <gtest/gtest.h>

#include <tuple>

#include "backend_fixture.h"

namespace tb {
namespace {

const std::vector<std::string> kShapes = {
    "gemm:m1n1k1:f32",      "gemm:m17n31k13:f32",  "gemm:m129n65k257:f32",  "gemm:m64n64k64:f32",
    "gemm:m1n4096k256:f32", "gemm:m33n1k1000:f32", "gemm:m256n256k256:f32", "gemm:m7n129k2053:f32",
};

TB_BACKEND_SUITE(GemmTest, kShapes);

}  // namespace
}  // namespace tb
