// probe_vulkan: schema keys and types, positive measured figures on every device found, and a
// well-formed "unavailable" answer when the loader finds no driver (a child process with
// VK_ICD_FILENAMES pointing nowhere, since the loader reads it at instance creation).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "accel_probe.h"
#include "vulkan_loader.h"

namespace tb {
namespace {

using nlohmann::json;

void expect_figure(const json& f, const std::string& what) {
  ASSERT_TRUE(f.is_object()) << what << ": " << f.dump();
  for (const char* k : {"median", "min", "max", "trials"}) ASSERT_TRUE(f.contains(k)) << what << k;
  EXPECT_GT(f["median"].get<double>(), 0) << what;
  EXPECT_LE(f["min"].get<double>(), f["median"].get<double>()) << what;
  EXPECT_LE(f["median"].get<double>(), f["max"].get<double>()) << what;
  EXPECT_GE(f["trials"].get<int>(), 3) << what;
}

void expect_well_formed(const json& j) {
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.value("api", ""), "vulkan");
  ASSERT_TRUE(j.contains("available") && j["available"].is_boolean());
  ASSERT_TRUE(j.contains("reason") && j["reason"].is_string());
  ASSERT_TRUE(j.contains("devices") && j["devices"].is_array());
  if (!j["available"].get<bool>()) {
    EXPECT_FALSE(j["reason"].get<std::string>().empty());
    EXPECT_TRUE(j["devices"].empty());
  }
}

TEST(VulkanProbe, PropertiesOnly) {
  AccelProbeOptions o;
  o.measure = false;
  const json j = probe_vulkan(o);
  expect_well_formed(j);
  if (!j["available"].get<bool>()) GTEST_SKIP() << j["reason"];
  ASSERT_FALSE(j["devices"].empty());
  for (const auto& d : j["devices"]) {
    for (const char* k :
         {"name", "type", "vendor", "driver_version", "api_version", "compute_units",
          "global_memory_bytes", "max_workgroup_size", "subgroup_size", "fp16", "int8_dot"})
      EXPECT_TRUE(d.contains(k)) << k;
    EXPECT_FALSE(d["name"].get<std::string>().empty());
    EXPECT_GT(d["global_memory_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_GT(d["max_workgroup_size"].get<int>(), 0);
    EXPECT_GT(d["subgroup_size"].get<int>(), 0);
    EXPECT_TRUE(d["fp16"].is_boolean());
    EXPECT_FALSE(d.contains("measured"));
  }
}

TEST(VulkanProbe, QuickMeasurementsArePositive) {
  AccelProbeOptions o;
  o.quick = true;
  const json j = probe_vulkan(o);
  expect_well_formed(j);
  if (!j["available"].get<bool>()) GTEST_SKIP() << j["reason"];
  for (const auto& d : j["devices"]) {
    ASSERT_TRUE(d.contains("measured"));
    const auto& m = d["measured"];
    EXPECT_FALSE(m.contains("errors")) << m.dump();
    expect_figure(m["peak_f32_gflops"], "peak_f32_gflops");
    expect_figure(m["peak_f32_gflops"]["by_width"]["vec4"], "peak vec4");
    expect_figure(m["peak_f32_gflops"]["by_width"]["scalar"], "peak scalar");
    expect_figure(m["global_bw_gbps"], "global_bw_gbps");
    expect_figure(m["h2d_gbps"], "h2d_gbps");
    expect_figure(m["d2h_gbps"], "d2h_gbps");
    expect_figure(m["dispatch_latency_us"], "dispatch_latency_us");
  }
}

// Runs probe_vulkan in a child with no reachable ICD; the child prints the JSON on a pipe.
TEST(VulkanProbe, NoDriverIsUnavailableNotACrash) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
    setenv("VK_DRIVER_FILES", "/nonexistent/icd.json", 1);
    AccelProbeOptions o;
    o.quick = true;
    const std::string s = probe_vulkan(o).dump();
    const ssize_t w = write(fds[1], s.data(), s.size());
    _exit(w == static_cast<ssize_t>(s.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child crashed";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  expect_well_formed(j);
  EXPECT_FALSE(j["available"].get<bool>()) << j.dump();
}

// The debug messenger counts validation errors (what makes the backend's calls fail under
// TB_VK_VALIDATION=1): provoke one with a buffer whose usage is empty.
TEST(VulkanLoader, ValidationMessengerCountsErrors) {
  std::string why;
  auto inst = vk::Instance::create({.validation = true}, &why);
  if (!inst) GTEST_SKIP() << why;
  if (inst->physical_devices().empty()) GTEST_SKIP() << "no Vulkan device";
  auto dev = vk::Device::create(inst, 0, &why);
  ASSERT_TRUE(dev) << why;
  const auto before = inst->validation_errors();
  EXPECT_EQ(dev->validation_error_since(before), "");
  VkBufferCreateInfo bi{};
  bi.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  bi.size = 64;
  bi.usage = 0;  // VUID-VkBufferCreateInfo-usage-requiredbitmask
  VkBuffer b = VK_NULL_HANDLE;
  if (dev->fn().vkCreateBuffer(dev->handle(), &bi, nullptr, &b) == VK_SUCCESS && b)
    dev->fn().vkDestroyBuffer(dev->handle(), b, nullptr);
  EXPECT_GT(inst->validation_errors(), before);
  EXPECT_NE(dev->validation_error_since(before), "");
}

TEST(VulkanLoader, ResultNamesAndCheckMessage) {
  EXPECT_EQ(vk::result_name(VK_ERROR_DEVICE_LOST), "VK_ERROR_DEVICE_LOST");
  const auto m = vk::check_message("/a/b/file.cpp", 12, "vkFoo(x)", VK_ERROR_OUT_OF_HOST_MEMORY);
  EXPECT_NE(m.find("file.cpp:12"), std::string::npos) << m;
  EXPECT_NE(m.find("vkFoo(x)"), std::string::npos) << m;
  EXPECT_NE(m.find("VK_ERROR_OUT_OF_HOST_MEMORY"), std::string::npos) << m;
}

}  // namespace
}  // namespace tb
