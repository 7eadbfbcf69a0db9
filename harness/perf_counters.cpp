// perf_event_open(2) counters; see perf_counters.h.
#include "perf_counters.h"

#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace tb::perf {
namespace {

long perf_event_open(perf_event_attr* attr, pid_t pid, int cpu, int group_fd, unsigned long flags) {
  return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

std::string paranoid_level() {
  std::ifstream f("/proc/sys/kernel/perf_event_paranoid");
  std::string v;
  if (!(f >> v)) return "unknown";
  return v;
}

// A reason that says what to do about it.
std::string explain(int err) {
  const std::string call = "perf_event_open: " + std::string(std::strerror(err));
  switch (err) {
    case EACCES:
    case EPERM:
      return call + " (kernel.perf_event_paranoid = " + paranoid_level() +
             "; user-space counting of one's own threads needs <= 2, or CAP_PERFMON; "
             "containers may also block the syscall)";
    case ENOENT:
    case ENODEV:
    case EOPNOTSUPP:
      return call + " (no hardware counters: typical in a VM without PMU passthrough)";
    case ENOSYS:
      return call + " (kernel built without perf events)";
    default:
      return call;
  }
}

int open_counter(std::uint64_t config, pid_t tid, bool inherit, int* err) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_HARDWARE;
  attr.config = config;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  attr.inherit = inherit ? 1 : 0;
  // No PERF_FORMAT_GROUP: the kernel refuses reading groups of inherited counters.
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  const long fd = perf_event_open(&attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) *err = errno;
  return static_cast<int>(fd);
}

std::vector<pid_t> process_threads() {
  std::vector<pid_t> tids;
  if (DIR* d = opendir("/proc/self/task")) {
    while (const dirent* e = readdir(d)) {
      const long tid = std::strtol(e->d_name, nullptr, 10);
      if (tid > 0) tids.push_back(static_cast<pid_t>(tid));
    }
    closedir(d);
  }
  return tids;
}

struct Count {
  std::uint64_t value = 0, enabled = 0, running = 0;
};

bool read_count(int fd, Count* c) {
  std::uint64_t buf[3];
  if (::read(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) return false;
  *c = {buf[0], buf[1], buf[2]};
  return true;
}

}  // namespace

nlohmann::json to_json(const Reading& r) {
  if (!r.available) return {{"available", false}, {"reason", r.reason}};
  return {{"available", true},
          {"instructions", r.instructions},
          {"cycles", r.cycles},
          {"ipc", r.ipc()},
          {"multiplexed", r.multiplexed}};
}

PerfCounters::PerfCounters(Scope scope) {
  // Thread scope: pid 0 is the calling thread. Process scope: every current thread by tid, each
  // inheriting into the threads it creates later (the calling thread's future children too).
  std::vector<pid_t> tids = scope == Scope::thread ? std::vector<pid_t>{0} : process_threads();
  if (tids.empty()) tids.push_back(0);
  const bool inherit = scope == Scope::process;
  for (const pid_t tid : tids) {
    int err = 0;
    Fds f;
    f.instructions = open_counter(PERF_COUNT_HW_INSTRUCTIONS, tid, inherit, &err);
    if (f.instructions >= 0) f.cycles = open_counter(PERF_COUNT_HW_CPU_CYCLES, tid, inherit, &err);
    if (f.instructions < 0 || f.cycles < 0) {
      if (f.instructions >= 0) ::close(f.instructions);
      if (err == ESRCH && tid != 0) continue;  // the thread exited meanwhile
      close_all();
      reason_ = explain(err);
      return;
    }
    fds_.push_back(f);
  }
  if (fds_.empty()) reason_ = "perf_event_open: no thread to count";
}

PerfCounters::~PerfCounters() {
  close_all();
}

PerfCounters::PerfCounters(PerfCounters&& other) noexcept
    : fds_(std::move(other.fds_)), reason_(std::move(other.reason_)) {
  other.fds_.clear();
  other.reason_ = "moved from";
}

PerfCounters& PerfCounters::operator=(PerfCounters&& other) noexcept {
  if (this != &other) {
    close_all();
    fds_ = std::move(other.fds_);
    reason_ = std::move(other.reason_);
    other.fds_.clear();
    other.reason_ = "moved from";
  }
  return *this;
}

void PerfCounters::close_all() {
  for (const Fds& f : fds_) {
    if (f.instructions >= 0) ::close(f.instructions);
    if (f.cycles >= 0) ::close(f.cycles);
  }
  fds_.clear();
}

void PerfCounters::start() {
  for (const Fds& f : fds_) {
    for (const int fd : {f.instructions, f.cycles}) {
      ioctl(fd, PERF_EVENT_IOC_RESET, 0);
      ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    }
  }
}

void PerfCounters::stop() {
  for (const Fds& f : fds_)
    for (const int fd : {f.instructions, f.cycles}) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
}

Reading PerfCounters::read() const {
  Reading r;
  if (!available()) {
    r.reason = reason_;
    return r;
  }
  double instructions = 0, cycles = 0;
  for (const Fds& f : fds_) {
    Count ci, cc;
    if (!read_count(f.instructions, &ci) || !read_count(f.cycles, &cc)) {
      r.reason = "perf counter read failed: " + std::string(std::strerror(errno));
      return r;
    }
    // Scale for multiplexing: value * enabled / running. A counter enabled but never scheduled
    // has no information.
    for (auto [c, sum] : {std::pair{ci, &instructions}, std::pair{cc, &cycles}}) {
      if (c.enabled > 0 && c.running == 0) {
        r.reason = "perf counters never scheduled (PMU busy or unavailable)";
        return r;
      }
      if (c.running < c.enabled) {
        r.multiplexed = true;
        *sum += static_cast<double>(c.value) * static_cast<double>(c.enabled) /
                static_cast<double>(c.running);
      } else {
        *sum += static_cast<double>(c.value);
      }
    }
  }
  r.available = true;
  r.instructions = static_cast<std::uint64_t>(instructions);
  r.cycles = static_cast<std::uint64_t>(cycles);
  return r;
}

std::string unavailable_reason() {
  return PerfCounters(Scope::thread).reason();
}

}  // namespace tb::perf
