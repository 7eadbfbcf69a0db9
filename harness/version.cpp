#include "version.h"

namespace tb {

const char* version() {
  return TB_VERSION;
}
const char* build_type() {
  return TB_BUILD_TYPE;
}
const char* compiler() {
  return "g++ " __VERSION__;
}
const char* cxx_flags() {
  return TB_CXX_FLAGS;
}

}  // namespace tb
