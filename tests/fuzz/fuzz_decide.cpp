// Fuzz target: decision requests a scheduler hands to the engine (tb_decide, the C ABI of
// tierbench_decide.h; `tierbench decide --request`). Input: the request, optionally followed by
// a NUL byte and a profile. Any input must give exit code 0 (a decision) or 2 (a clean error,
// as JSON); 3, an internal error, is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tierbench_decide.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const auto nul = bytes.find('\0');
  const std::string request = bytes.substr(0, nul);
  const std::string profile = nul == std::string::npos ? "" : bytes.substr(nul + 1);
  char* response = nullptr;
  const int rc =
      tb_decide(request.c_str(), nul == std::string::npos ? nullptr : profile.c_str(), &response);
  if (rc == 3 && response) {  // an exception other than a refusal escaped the engine
    std::fprintf(stderr, "tb_decide internal error: %s\n", response);
    std::abort();
  }
  if ((rc == 0 || rc == 2) && (!response || !std::strstr(response, "\"schema\""))) std::abort();
  tb_decide_free(response);
  return 0;
}
