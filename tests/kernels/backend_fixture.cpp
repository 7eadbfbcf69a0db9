#include "backend_fixture.h"

#include <map>
#include <memory>

#include "reference/reference_backend.h"

namespace tb::test {

namespace {
std::vector<std::unique_ptr<Backend>>& registry() {
  static auto r = make_backends();
  return r;
}
}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> v;
  for (auto& b : registry()) v.emplace_back(b->name());
  return v;
}

Backend* backend(const std::string& name) {
  for (auto& b : registry())
    if (b->name() == name) return b.get();
  return nullptr;
}

Outcome run_and_check(const std::string& name, const Problem& p, std::uint64_t seed) {
  Outcome o;
  Backend* b = backend(name);
  if (!b && !find_backend_traits(name))
    return {Status::unavailable, name + ": not built (TB_BACKEND_<NAME>=OFF)", {}};
  if (!b) return {Status::error, "no backend " + name, {}};
  if (auto a = b->availability(); !a.available) return {Status::unavailable, a.reason, {}};
  if (auto s = b->supports(p, 0); !s.supported) return {Status::unsupported, s.reason, {}};
  const auto inputs = make_inputs(p, seed);
  auto ref = make_outputs(p);
  if (auto r = reference_compute(p, inputs, ref); !r) return {Status::error, r.error().message, {}};
  auto k = b->prepare(p, PrepareOptions{});
  if (!k) return {Status::error, "prepare: " + k.error().message, {}};
  if (auto r = k.value()->upload(inputs); !r)
    return {Status::error, "upload: " + r.error().message, {}};
  if (auto r = k.value()->execute(); !r)
    return {Status::error, "execute: " + r.error().message, {}};
  auto out = make_outputs(p);
  if (auto r = k.value()->download(out); !r)
    return {Status::error, "download: " + r.error().message, {}};
  o.check = check_outputs(out, ref, tolerance_for(p));
  o.status = o.check.status;
  o.message = o.check.message;
  return o;
}

void expect_matches_reference(const std::string& backend, const std::string& problem) {
  auto p = Problem::parse(problem);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const auto o = run_and_check(backend, p.value());
  if (o.status == Status::unavailable || o.status == Status::unsupported)
    GTEST_SKIP() << status_name(o.status) << ": " << o.message;
  EXPECT_EQ(o.status, Status::passed)
      << o.message << " (max rel err " << o.check.max_rel_err << ")";
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& info) {
  std::string s = std::get<0>(info.param) + "_" + std::get<1>(info.param);
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

}  // namespace tb::test
