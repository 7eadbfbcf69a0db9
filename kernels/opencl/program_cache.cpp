#include "program_cache.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

#include <unistd.h>

#ifndef TB_OPENCL_FROM_DISK
#include "../cache_dir.h"
#include "opencl_sources.h"  // generated at build time from cl/*.cl
#endif

namespace tb::ocl {

namespace {

namespace fs = std::filesystem;

std::string build_log(cl_program p, cl_device_id d) {
  std::size_t n = 0;
  if (clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS) return {};
  std::string s(n, '\0');
  if (clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, n, s.data(), nullptr) != CL_SUCCESS)
    return {};
  if (s.size() > 4000) s = s.substr(0, 4000) + "...";
  return s;
}

Result<Program> from_source(cl_context ctx, cl_device_id dev, std::string_view src,
                            const std::string& options) {
  const char* text = src.data();
  const std::size_t len = src.size();
  cl_int err = CL_SUCCESS;
  Program p(clCreateProgramWithSource(ctx, 1, &text, &len, &err));
  TB_CL_CHECK_ERR(err, "clCreateProgramWithSource");
  err = clBuildProgram(p.get(), 1, &dev, options.c_str(), nullptr, nullptr);
  if (err != CL_SUCCESS) {
    Error e = cl_error(__FILE__, __LINE__, "clBuildProgram", err);
    e.message += "\n" + build_log(p.get(), dev);
    return e;
  }
  return p;
}

Result<Program> from_binary(cl_context ctx, cl_device_id dev, const std::vector<unsigned char>& bin,
                            const std::string& options) {
  const unsigned char* data = bin.data();
  const std::size_t len = bin.size();
  cl_int status = CL_SUCCESS, err = CL_SUCCESS;
  Program p(clCreateProgramWithBinary(ctx, 1, &dev, &len, &data, &status, &err));
  TB_CL_CHECK_ERR(err, "clCreateProgramWithBinary");
  TB_CL_CHECK_ERR(status, "clCreateProgramWithBinary (binary status)");
  TB_CL_CHECK(clBuildProgram(p.get(), 1, &dev, options.c_str(), nullptr, nullptr));
  return p;
}

Result<std::vector<unsigned char>> binary_of(cl_program p) {
  std::size_t size = 0;
  TB_CL_CHECK(clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr));
  if (size == 0) return make_error("program has no binary");
  std::vector<unsigned char> bin(size);
  unsigned char* ptr = bin.data();
  TB_CL_CHECK(clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr));
  return bin;
}

bool cache_enabled() {
  const char* e = std::getenv("TB_OPENCL_BINARY_CACHE");
  return !(e && std::string_view(e) == "0");
}

}  // namespace

Result<BuiltProgram> build_program(cl_context ctx, cl_device_id dev, std::string_view source,
                                   const std::string& options, bool use_cache) {
  BuiltProgram out;
  std::uint64_t h = fnv1a(device_string(dev, CL_DEVICE_NAME));
  h = fnv1a("|", h);
  h = fnv1a(device_string(dev, CL_DRIVER_VERSION), h);
  h = fnv1a("|", h);
  h = fnv1a(device_string(dev, CL_DEVICE_VERSION), h);
  h = fnv1a("|", h);
  h = fnv1a(options, h);
  h = fnv1a("|", h);
  h = fnv1a(source, h);
  out.key = hex64(h);

  use_cache = use_cache && cache_enabled();
  fs::path file;
  if (use_cache) {
    if (const fs::path root = cache_root(); !root.empty()) {
      std::error_code ec;
      fs::create_directories(root / "opencl", ec);
      if (!ec) file = root / "opencl" / (out.key + ".bin");
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (in) {
      std::vector<unsigned char> bin((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
      if (!bin.empty()) {
        if (auto p = from_binary(ctx, dev, bin, options); p.ok()) {
          out.program = std::move(p.value());
          out.cache_hit = true;
        }
      }
    }
  }
  if (!out.cache_hit) {
    auto p = from_source(ctx, dev, source, options);
    if (!p) return p.error();
    out.program = std::move(p.value());
  }
  out.build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (!out.cache_hit && !file.empty()) {
    // Saving is best effort: a failure leaves the next build cold, nothing worse.
    if (auto bin = binary_of(out.program.get()); bin.ok()) {
      const fs::path tmp = file.string() + ".tmp" + std::to_string(::getpid());
      {
        std::ofstream o(tmp, std::ios::binary);
        o.write(reinterpret_cast<const char*>(bin->data()),
                static_cast<std::streamsize>(bin->size()));
      }
      std::error_code ec;
      fs::rename(tmp, file, ec);
      if (ec) fs::remove(tmp, ec);
    }
  }
  return out;
}

std::string cl_source(std::string_view name) {
#ifdef TB_OPENCL_FROM_DISK
  std::ifstream in(fs::path(TB_OPENCL_CL_DIR) / (std::string(name) + ".cl"));
  if (!in) return {};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
#else
  for (const auto& s : kOpenclSources)
    if (name == s.name) return std::string(s.text);
  return {};
#endif
}

}  // namespace tb::ocl
