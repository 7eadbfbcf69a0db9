# Included by the root CMakeLists.txt when TB_BACKEND_ONEDNN is ON.
find_package(dnnl QUIET)
if(NOT dnnl_FOUND)
  message(FATAL_ERROR "TB_BACKEND_ONEDNN is ON but oneDNN was not found (Debian: libdnnl-dev). "
                      "Install it, or configure with -DTB_BACKEND_ONEDNN=OFF.")
endif()
