// Build identity: version, git commit and dirty state, compiler and flags.
#pragma once

namespace tb {

const char* version();     // project version, e.g. "0.1.0"
const char* git_commit();  // short commit of the source tree at build time, or "unknown"
bool git_dirty();          // uncommitted changes to tracked files at build time
const char* build_type();  // CMAKE_BUILD_TYPE
const char* compiler();    // compiler id and version
const char* cxx_flags();   // flags of the build type

}  // namespace tb
