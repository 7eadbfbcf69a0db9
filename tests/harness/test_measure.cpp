// Tests for harness/measure: how much of the machine other processes took while a loop was
// timed (parsed from fixed /proc/stat text, then measured against busy child processes).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "measure.h"

namespace tb::measure {
namespace {

TEST(Measure, ProcStatCpuLineGivesBusyAndTotalSeconds) {
  // user nice system idle iowait irq softirq steal guest guest_nice (ticks of 1/100 s)
  const auto m = parse_proc_stat(
      "cpu  100 20 30 800 50 5 5 40 7 0\ncpu0 50 10 15 400 25 2 3 20 3 0\nintr 1 2 3\n", 100);
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ(m->total_s, 10.5);  // guest time is already in user
  EXPECT_DOUBLE_EQ(m->busy_s, 2.0);    // steal counts as busy: another guest had the CPU
  EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4\n", 100).has_value());
  EXPECT_FALSE(parse_proc_stat("cpu  1 2\n", 100).has_value());
  EXPECT_FALSE(parse_proc_stat("", 100).has_value());
}

TEST(Measure, OtherCpuShareSubtractsThisProcess) {
  const MachineCpu a{10, 100}, b{11.5, 102};  // 2 s of CPU time, 1.5 of them busy
  EXPECT_DOUBLE_EQ(other_cpu_share(a, b, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(other_cpu_share(a, b, 1.5), 0.0);
  EXPECT_DOUBLE_EQ(other_cpu_share(a, b, 3.0), 0.0);               // clamped: tick rounding
  EXPECT_EQ(other_cpu_share(a, MachineCpu{10.05, 100.1}, 0), -1);  // too short to tell
  EXPECT_EQ(other_cpu_share(std::nullopt, b, 0), -1);
  EXPECT_EQ(contention_note(0.2), "");
  EXPECT_EQ(contention_note(-1), "");
  ResultRecord r, noisy, unknown;
  noisy.message = "too noisy to gate on";
  record_contention(r, 0.5), record_contention(noisy, 0.5), record_contention(unknown, -1);
  EXPECT_EQ(r.metrics["sampling"]["other_cpu_share"], 0.5);
  EXPECT_EQ(r.message, contention_note(0.5));
  EXPECT_EQ(noisy.message, "too noisy to gate on");  // the first note stands
  EXPECT_FALSE(unknown.metrics.contains("sampling"));
  EXPECT_EQ(unknown.message, "");
  EXPECT_EQ(contention_note(0.484),
            "shared CPUs: other processes used 48% of them while it was timed");
}

// One busy child per CPU while a loop that sleeps is timed: the sample says the machine was
// taken by others.
TEST(Measure, SamplingSeesOtherProcessesTakingTheCpus) {
  if (!machine_cpu()) GTEST_SKIP() << "no /proc/stat";
  const long cpus = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  std::vector<pid_t> kids;
  for (long i = 0; i < cpus; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      volatile unsigned long x = 0;
      while (std::chrono::steady_clock::now() < end) x = x + 1;
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  SamplingOptions so;
  so.warmup = 0, so.min_reps = 20, so.max_reps = 20, so.max_time_s = 5;
  auto s = sample(
      so, [] { return Result<void>{}; },
      []() -> Result<double> {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return 0.02;
      });
  for (const pid_t pid : kids) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_GT(s->other_cpu_share, 0.5) << "wall " << s->wall_s << " s, self " << s->cpu_s << " s";
  EXPECT_LE(s->other_cpu_share, 1.0);
}

}  // namespace
}  // namespace tb::measure
