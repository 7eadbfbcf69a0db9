#include "opencl_util.h"

namespace tb::ocl {

std::string_view cl_error_name(cl_int err) {
  switch (err) {
#define TB_CL_ERR(e) \
  case e:            \
    return #e;
    TB_CL_ERR(CL_SUCCESS)
    TB_CL_ERR(CL_DEVICE_NOT_FOUND)
    TB_CL_ERR(CL_DEVICE_NOT_AVAILABLE)
    TB_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
    TB_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    TB_CL_ERR(CL_OUT_OF_RESOURCES)
    TB_CL_ERR(CL_OUT_OF_HOST_MEMORY)
    TB_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE)
    TB_CL_ERR(CL_MEM_COPY_OVERLAP)
    TB_CL_ERR(CL_IMAGE_FORMAT_MISMATCH)
    TB_CL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    TB_CL_ERR(CL_BUILD_PROGRAM_FAILURE)
    TB_CL_ERR(CL_MAP_FAILURE)
    TB_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    TB_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    TB_CL_ERR(CL_COMPILE_PROGRAM_FAILURE)
    TB_CL_ERR(CL_LINKER_NOT_AVAILABLE)
    TB_CL_ERR(CL_LINK_PROGRAM_FAILURE)
    TB_CL_ERR(CL_DEVICE_PARTITION_FAILED)
    TB_CL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    TB_CL_ERR(CL_INVALID_VALUE)
    TB_CL_ERR(CL_INVALID_DEVICE_TYPE)
    TB_CL_ERR(CL_INVALID_PLATFORM)
    TB_CL_ERR(CL_INVALID_DEVICE)
    TB_CL_ERR(CL_INVALID_CONTEXT)
    TB_CL_ERR(CL_INVALID_QUEUE_PROPERTIES)
    TB_CL_ERR(CL_INVALID_COMMAND_QUEUE)
    TB_CL_ERR(CL_INVALID_HOST_PTR)
    TB_CL_ERR(CL_INVALID_MEM_OBJECT)
    TB_CL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    TB_CL_ERR(CL_INVALID_IMAGE_SIZE)
    TB_CL_ERR(CL_INVALID_SAMPLER)
    TB_CL_ERR(CL_INVALID_BINARY)
    TB_CL_ERR(CL_INVALID_BUILD_OPTIONS)
    TB_CL_ERR(CL_INVALID_PROGRAM)
    TB_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE)
    TB_CL_ERR(CL_INVALID_KERNEL_NAME)
    TB_CL_ERR(CL_INVALID_KERNEL_DEFINITION)
    TB_CL_ERR(CL_INVALID_KERNEL)
    TB_CL_ERR(CL_INVALID_ARG_INDEX)
    TB_CL_ERR(CL_INVALID_ARG_VALUE)
    TB_CL_ERR(CL_INVALID_ARG_SIZE)
    TB_CL_ERR(CL_INVALID_KERNEL_ARGS)
    TB_CL_ERR(CL_INVALID_WORK_DIMENSION)
    TB_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
    TB_CL_ERR(CL_INVALID_WORK_ITEM_SIZE)
    TB_CL_ERR(CL_INVALID_GLOBAL_OFFSET)
    TB_CL_ERR(CL_INVALID_EVENT_WAIT_LIST)
    TB_CL_ERR(CL_INVALID_EVENT)
    TB_CL_ERR(CL_INVALID_OPERATION)
    TB_CL_ERR(CL_INVALID_GL_OBJECT)
    TB_CL_ERR(CL_INVALID_BUFFER_SIZE)
    TB_CL_ERR(CL_INVALID_MIP_LEVEL)
    TB_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE)
    TB_CL_ERR(CL_INVALID_PROPERTY)
    TB_CL_ERR(CL_INVALID_IMAGE_DESCRIPTOR)
    TB_CL_ERR(CL_INVALID_COMPILER_OPTIONS)
    TB_CL_ERR(CL_INVALID_LINKER_OPTIONS)
    TB_CL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef TB_CL_ERR
    case -1001:
      return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
      return "CL_UNKNOWN_ERROR";
  }
}

std::string device_string(cl_device_id d, cl_device_info what) {
  std::size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetDeviceInfo(d, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  std::size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  if (clGetPlatformInfo(p, what, n, s.data(), nullptr) != CL_SUCCESS) return {};
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

bool has_extension(cl_device_id d, std::string_view ext) {
  const std::string all = " " + device_string(d, CL_DEVICE_EXTENSIONS) + " ";
  return all.find(" " + std::string(ext) + " ") != std::string::npos;
}

std::string device_type_name(cl_device_type t, bool host_unified_memory) {
  if (t & CL_DEVICE_TYPE_GPU) return host_unified_memory ? "integrated-gpu" : "discrete-gpu";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
}

}  // namespace tb::ocl
