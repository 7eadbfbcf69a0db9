// The probe report schema in tests: profiles/json_schema.h's validator (the one tierbench uses
// for profiles), and the schema file. Returns every violation with its JSON pointer.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::test {

// root: the document that holds "$defs" when schema is a part of it (default: schema itself).
std::vector<std::string> validate_schema(const nlohmann::json& instance,
                                         const nlohmann::json& schema,
                                         const nlohmann::json* root = nullptr);

// Loads $TB_SOURCE_DIR/probes/probe_schema.json (or the source path compiled in).
nlohmann::json load_probe_schema();

}  // namespace tb::test
