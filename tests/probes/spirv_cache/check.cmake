# The SPIR-V cache of probes/vulkan_spirv_compile.cmake (TB_SPIRV_CACHE): a second compile of the
# same variant is a hit (it copies the stored words: a planted entry comes back), another define or
# an edited #included file misses, and the depfile names the included file either way.
# cmake -DGLSLC=... -DSCRIPT=... -DWORK=... -P check.cmake (tests/probes/CMakeLists.txt)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/src")
file(WRITE "${WORK}/src/part.glsl" "const uint kValue = 3u;\n")
file(WRITE "${WORK}/src/a.comp" [=[
#version 450
#extension GL_GOOGLE_include_directive : enable
#include "part.glsl"
layout(local_size_x = 1) in;
layout(std430, binding = 0) buffer B { uint v[]; };
void main() {
#ifdef TWICE
  v[0] = kValue * 2u;
#else
  v[0] = kValue;
#endif
}
]=])
set(cache "${WORK}/cache")
function(compile out)
  execute_process(COMMAND ${CMAKE_COMMAND} -DCACHE=${cache} -DOUT=${WORK}/${out}
                          -DDEPFILE=${WORK}/${out}.d -P ${SCRIPT} -- ${GLSLC}
                          --target-env=vulkan1.1 ${ARGN} ${WORK}/src/a.comp
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compile ${out} failed (${rc})")
  endif()
  file(READ "${WORK}/${out}.d" dep)
  if(NOT dep MATCHES "part.glsl")
    message(FATAL_ERROR "the depfile of ${out} does not name part.glsl: ${dep}")
  endif()
endfunction()
function(expect_entries n)
  file(GLOB entries "${cache}/*.inc")
  list(LENGTH entries got)
  if(NOT got EQUAL n)
    message(FATAL_ERROR "${n} cache entries expected, ${got} found: ${entries}")
  endif()
endfunction()

compile(first.inc)
expect_entries(1)
file(READ "${WORK}/first.inc" first)
if(NOT first MATCHES "^0x07230203,")
  message(FATAL_ERROR "not SPIR-V words (magic 0x07230203 first): ${first}")
endif()
# A hit copies the stored words: plant a marker in the one entry and get it back.
file(GLOB entry "${cache}/*.inc")
file(WRITE "${entry}" "0x07230203,0x00000000,\n")
compile(second.inc)
expect_entries(1)
file(READ "${WORK}/second.inc" second)
if(NOT second STREQUAL "0x07230203,0x00000000,\n")
  message(FATAL_ERROR "the second compile of the same variant did not come from the cache")
endif()
# Another define, then an edited include: two misses, each compiled and stored.
compile(twice.inc -DTWICE)
expect_entries(2)
file(READ "${WORK}/twice.inc" twice)
if(twice STREQUAL first OR NOT twice MATCHES "^0x07230203,")
  message(FATAL_ERROR "-DTWICE gave no new SPIR-V")
endif()
file(WRITE "${WORK}/src/part.glsl" "const uint kValue = 5u;\n")
compile(edited.inc)
expect_entries(3)
file(READ "${WORK}/edited.inc" edited)
if(edited STREQUAL first OR edited STREQUAL "0x07230203,0x00000000,\n")
  message(FATAL_ERROR "an edited include was served from the cache")
endif()
file(REMOVE_RECURSE "${WORK}")
message(STATUS "spirv cache: hit, two misses and depfiles as expected")
