# Included by the root CMakeLists.txt when TB_BACKEND_VULKAN is ON (the backend and probes/'s
# Vulkan probe). The loader is opened at run time; the build needs the headers and glslc.
find_package(VulkanHeaders QUIET)
find_program(GLSLC glslc)
if(NOT VulkanHeaders_FOUND OR NOT GLSLC)
  message(FATAL_ERROR "TB_BACKEND_VULKAN is ON but the Vulkan headers or glslc were not found "
                      "(Debian: libvulkan-dev glslc). Install them, or configure with "
                      "-DTB_BACKEND_VULKAN=OFF.")
endif()
