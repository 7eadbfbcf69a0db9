// Tests for harness/perf_counters: either the counters work (and count what they should) or
// they are unavailable with a reason; never a crash, never a silent zero.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "perf_counters.h"

namespace tb::perf {
namespace {

// About 4 instructions per iteration that the compiler cannot remove.
std::uint64_t spin(std::uint64_t n) {
  volatile std::uint64_t acc = 0;
  for (std::uint64_t i = 0; i < n; ++i) acc = acc + i;
  return acc;
}

TEST(PerfCounters, AvailableWithCountsOrUnavailableWithReason) {
  PerfCounters pc(Scope::thread);
  pc.start();
  spin(2'000'000);
  pc.stop();
  const Reading r = pc.read();
  EXPECT_EQ(r.available, pc.available());
  if (r.available) {
    EXPECT_TRUE(r.reason.empty());
    EXPECT_GT(r.instructions, 2'000'000u);  // at least one instruction per iteration
    EXPECT_LT(r.instructions, 200'000'000u);
    EXPECT_GT(r.cycles, 0u);
    EXPECT_EQ(to_json(r)["available"], true);
  } else {
    EXPECT_FALSE(r.reason.empty());
    EXPECT_NE(r.reason.find("perf"), std::string::npos) << r.reason;
    EXPECT_EQ(to_json(r)["reason"], r.reason);
    EXPECT_EQ(unavailable_reason(), r.reason);
    EXPECT_EQ(r.instructions, 0u);  // unavailable is a value, not a zero count
    std::printf("perf counters unavailable here: %s\n", r.reason.c_str());
  }
}

TEST(PerfCounters, ProcessScopeCountsOtherThreads) {
  PerfCounters thread_pc(Scope::thread), process_pc(Scope::process);
  if (!process_pc.available()) {
    EXPECT_FALSE(process_pc.reason().empty());
    GTEST_SKIP() << process_pc.reason();
  }
  ASSERT_TRUE(thread_pc.available());
  // A thread that exists before the counters start and one created after: both count for the
  // process scope, neither for the calling thread's counter.
  std::atomic<int> go{0};
  std::thread early([&] {
    while (go.load() == 0) std::this_thread::yield();
    spin(20'000'000);
  });
  thread_pc.start();
  process_pc.start();
  go = 1;
  std::thread late([] { spin(20'000'000); });
  early.join();
  late.join();
  process_pc.stop();
  thread_pc.stop();
  const Reading t = thread_pc.read(), p = process_pc.read();
  ASSERT_TRUE(t.available && p.available);
  EXPECT_GT(p.instructions, 40'000'000u);
  EXPECT_LT(t.instructions, p.instructions / 4);
}

TEST(PerfCounters, MovedFromIsUnavailable) {
  PerfCounters a(Scope::thread);
  const bool was = a.available();
  PerfCounters b(std::move(a));
  EXPECT_EQ(b.available(), was);
  EXPECT_FALSE(a.available());  // NOLINT(bugprone-use-after-move): defined state
  a.start();                    // no-ops, no crash
  a.stop();
  EXPECT_FALSE(a.read().available);
}

}  // namespace
}  // namespace tb::perf
