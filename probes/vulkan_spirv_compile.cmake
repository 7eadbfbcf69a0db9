# cmake -DCACHE=<dir> -DOUT=<name.spv.inc> -DDEPFILE=<name.spv.inc.d> -P vulkan_spirv_compile.cmake
#       -- <glslc> <glslc options...> <source.comp>
# One shader variant to SPIR-V words (glslc -mfmt=num) through a cache shared by the builds of one
# tree (TB_SPIRV_CACHE, probes/vulkan_spirv.cmake). The key is the SHA-256 of glslc's binary, the
# options and the preprocessed source (glslc -E, which also writes the depfile ninja reads), so an
# edited .glsl, another define or another glslc misses; a hit copies the stored words.
# Everything after "--" is the glslc command (cmake would read a -D among them as its own).
set(cmd "")
set(in_cmd FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(in_cmd)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(in_cmd TRUE)
  endif()
endforeach()
list(POP_FRONT cmd glslc)
list(POP_BACK cmd source)

execute_process(COMMAND ${glslc} ${cmd} -E -MD -MF ${DEPFILE} -MT ${OUT} -o ${OUT}.pp ${source}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "glslc -E failed on ${source}")
endif()
file(SHA256 ${glslc} glslc_sha)
file(SHA256 ${OUT}.pp source_sha)
file(REMOVE ${OUT}.pp)
string(SHA256 key "${glslc_sha};${cmd};${source_sha}")
set(entry ${CACHE}/${key}.inc)
if(EXISTS ${entry})
  file(COPY_FILE ${entry} ${OUT})
  return()
endif()
execute_process(COMMAND ${glslc} ${cmd} -mfmt=num -o ${OUT} ${source} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT})
  message(FATAL_ERROR "glslc failed on ${source}")
endif()
# Stored under a temporary name and renamed: two builds filling the cache at once never see half
# an entry.
file(MAKE_DIRECTORY ${CACHE})
string(RANDOM LENGTH 12 tag)
file(COPY_FILE ${OUT} ${entry}.${tag}.tmp)
file(RENAME ${entry}.${tag}.tmp ${entry})
