// Number validators shared by the subcommands (cli.h), with messages that name the value.
#include "cli.h"

namespace tb::cli {

namespace {
CLI::Validator number_validator(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& v) -> std::string {
        double x = 0;
        std::size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (...) {
          used = 0;
        }
        if (used != v.size() || used == 0 || !(allow_zero ? x >= 0 : x > 0))
          return std::string("must be a ") + (allow_zero ? "non-negative" : "positive") +
                 " number, got '" + v + "'";
        return {};
      },
      allow_zero ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace

const CLI::Validator kPositive = number_validator(false);
const CLI::Validator kNonNegative = number_validator(true);

}  // namespace tb::cli
