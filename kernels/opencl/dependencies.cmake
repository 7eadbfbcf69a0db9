# Included by the root CMakeLists.txt when TB_BACKEND_OPENCL is ON (the backend and probes/'s
# OpenCL probe).
find_package(OpenCL QUIET)
if(NOT OpenCL_FOUND)
  message(FATAL_ERROR "TB_BACKEND_OPENCL is ON but the OpenCL ICD loader and headers were not "
                      "found (Debian: ocl-icd-opencl-dev opencl-headers). Install them, or "
                      "configure with -DTB_BACKEND_OPENCL=OFF.")
endif()
