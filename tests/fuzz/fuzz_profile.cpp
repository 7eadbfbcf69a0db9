// Fuzz target: capability profiles handed over by a scheduler or another device (`profile
// --validate`, the privacy catalogue reader): the limited parser, then the schema validator.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto j = tb::profiles::parse_limited(text);
  if (!j) {
    if (j.error().message.empty()) std::abort();
    return 0;
  }
  // Against the schema the document names, and against both schemas whatever it names.
  (void)tb::profiles::validate_profile(*j);
  (void)tb::profiles::validate(*j, tb::profiles::local_schema());
  (void)tb::profiles::validate(*j, tb::profiles::shareable_schema());
  return 0;
}
