# cmake -DIN=x.spv -DOUT=x.spv.h -DNAME=x -DNS=ns -P vulkan_embed_spirv.cmake
# Writes the SPIR-V module as a C++ array of little-endian 32-bit words (no xxd needed).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR rem "${n} % 8")
if(n EQUAL 0 OR NOT rem EQUAL 0)
  message(FATAL_ERROR "${IN}: not a SPIR-V module (${n} hex digits)")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])"
       "0x\\4\\3\\2\\1u," words "${hex}")
string(REGEX REPLACE "(0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,0x[0-9a-f]+u,)"
       "\\1\n" words "${words}")
file(WRITE ${OUT} "// Generated from ${NAME}.spv. Do not edit.\n#pragma once\n#include <cstdint>\n"
     "namespace ${NS} {\ninline constexpr std::uint32_t spirv_${NAME}[] = {\n${words}\n};\n}\n")
