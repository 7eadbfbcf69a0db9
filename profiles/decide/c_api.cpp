// The C ABI (tierbench_decide.h) over the JSON form: no exception crosses it.
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "decide.h"
#include "tierbench_decide.h"

namespace {

constexpr std::size_t kMaxBytes = 4u << 20;
constexpr int kMaxDepth = 32;

char* dup(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

std::string error_json(const std::string& what) {
  return nlohmann::json{{"schema", "tierbench.decide.error"}, {"version", 1}, {"error", what}}
      .dump();
}

}  // namespace

extern "C" int tb_decide_abi_version(void) {
  return TB_DECIDE_ABI_VERSION;
}

extern "C" int tb_decide(const char* request_json, const char* profile_json, char** response_json) {
  if (!response_json) return 2;
  *response_json = nullptr;
  int rc = 0;
  std::string out;
  try {
    if (!request_json) throw std::invalid_argument("request: NULL");
    const nlohmann::json req = tb::decide::parse_json(request_json, kMaxBytes, kMaxDepth);
    nlohmann::json profile;
    if (profile_json) {
      try {
        profile = tb::decide::parse_json(profile_json, kMaxBytes, kMaxDepth);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("profile: ") + e.what());
      }
    }
    const auto in = tb::decide::parse_request(req, profile_json ? &profile : nullptr);
    out = tb::decide::to_json(tb::decide::decide(in))
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::invalid_argument& e) {
    rc = 2;
    out = error_json(e.what());
  } catch (const std::bad_alloc&) {
    return 3;
  } catch (const std::exception& e) {
    rc = 3;
    out = error_json(std::string("internal error: ") + e.what());
  }
  *response_json = dup(out);
  return *response_json ? rc : 3;
}

extern "C" void tb_decide_free(char* s) {
  std::free(s);
}
