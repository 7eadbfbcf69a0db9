// A small JSON Schema validator for the subset the profile schemas use, and a parser with limits
// for profiles read from files a scheduler or another device handed over. Debian 12 packages no
// C++ JSON Schema validator, so this one implements only: type, enum, const, properties,
// required, additionalProperties (false or a schema), propertyNames (pattern, maxLength),
// maxProperties, items, maxItems, minimum, maximum, maxLength, anyOf, $ref to "#/$defs/NAME", and
// the annotations $schema, $id, title, description. A schema that uses any other keyword is
// rejected (a schema error, not a silent pass).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "result.h"

namespace tb::profiles {

struct ParseLimits {
  std::size_t max_bytes = 1 << 20;  // 1 MiB: a profile is a few KiB
  int max_depth = 16;               // profiles nest 4 deep
};

// Parses JSON text, refusing input larger than max_bytes or nested deeper than max_depth
// (checked on the text before any parsing, so hostile input costs one linear scan).
Result<nlohmann::json> parse_limited(std::string_view text, const ParseLimits& limits = {});

// Every violation of `schema` by `v`, each as "FIELD: what is wrong", FIELD a JSON pointer
// ("/device/compute"; "/" for the root). Empty when valid. Throws std::invalid_argument when
// the schema uses an unsupported keyword. root: the document holding "$defs" when schema is a
// part of it (default: schema itself). The probe report schema's tests use it too.
std::vector<std::string> validate(const nlohmann::json& v, const nlohmann::json& schema,
                                  const nlohmann::json* root = nullptr);

// The published schemas (profiles/schema/*.json, embedded at build time).
const nlohmann::json& local_schema();
const nlohmann::json& shareable_schema();

// Validates a profile against the schema its "schema" field names; the first violation, naming
// the field, as the error ("shareable profile: /version: ...").
Result<void> validate_profile(const nlohmann::json& profile);

// The text of an embedded file of profiles/ by file name ("buckets.json"); empty if unknown.
std::string_view embedded(std::string_view name);

}  // namespace tb::profiles
