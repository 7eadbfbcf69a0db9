#include "schema_check.h"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "json_schema.h"

namespace tb::test {

std::vector<std::string> validate_schema(const nlohmann::json& instance,
                                         const nlohmann::json& schema, const nlohmann::json* root) {
  return profiles::validate(instance, schema, root);
}

nlohmann::json load_probe_schema() {
  const char* src = std::getenv("TB_SOURCE_DIR");
  const std::string path =
      std::string(src ? src : TB_SOURCE_DIR_FALLBACK) + "/probes/probe_schema.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

}  // namespace tb::test
