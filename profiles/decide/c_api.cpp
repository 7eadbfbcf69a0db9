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

// Invalid UTF-8 from the request (echoed in an error, or a workload name) is replaced, never
// thrown over the ABI.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_json(const std::string& what) {
  return dump({{"schema", "tierbench.decide.error"}, {"version", 1}, {"error", what}});
}

}  // namespace

extern "C" int tb_decide_abi_version(void) {
  return TB_DECIDE_ABI_VERSION;
}

namespace {

// The response (rc 0) or the error document (rc 2 bad input, 3 internal error).
int respond(const char* request_json, const char* profile_json, std::string& out) {
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
    out = dump(tb::decide::to_json(tb::decide::decide(in)));
    return 0;
  } catch (const std::invalid_argument& e) {
    out = error_json(e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    out = error_json(std::string("internal error: ") + e.what());
    return 3;
  }
}

}  // namespace

extern "C" int tb_decide(const char* request_json, const char* profile_json, char** response_json) {
  if (!response_json) return 2;
  *response_json = nullptr;
  try {
    std::string out;
    const int rc = respond(request_json, profile_json, out);
    *response_json = dup(out);
    return *response_json ? rc : 3;
  } catch (...) {  // out of memory, or worse: nothing crosses the C boundary
    return 3;
  }
}

extern "C" void tb_decide_free(char* s) {
  std::free(s);
}
