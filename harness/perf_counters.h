// Optional hardware counters (retired instructions and core cycles, user space only) through
// perf_event_open(2). Never fails a run: when the kernel forbids counting (perf_event_paranoid,
// a seccomp filter, no PMU in a VM) the counters are "unavailable" with the reason, and every
// call is then a no-op.
//
//   tb::perf::PerfCounters pc(tb::perf::Scope::process);
//   pc.start();  ... timed work ...  pc.stop();
//   tb::perf::Reading r = pc.read();  // r.available ? r.instructions : r.reason
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tb::perf {

enum class Scope {
  thread,   // the calling thread only
  process,  // every thread of the process that exists when the counters are opened, plus the
            // threads they create afterwards (inherit); pool threads started earlier count too
};

struct Reading {
  bool available = false;
  std::string reason;                          // why not, when !available
  std::uint64_t instructions = 0, cycles = 0;  // scaled for multiplexing when needed
  bool multiplexed = false;                    // the PMU was shared and counts were extrapolated
  double ipc() const { return cycles ? static_cast<double>(instructions) / cycles : 0.0; }
};

nlohmann::json to_json(const Reading& r);  // {"available":..., "instructions":..., ...}

class PerfCounters {
 public:
  explicit PerfCounters(Scope scope = Scope::thread);
  ~PerfCounters();
  PerfCounters(const PerfCounters&) = delete;
  PerfCounters& operator=(const PerfCounters&) = delete;
  PerfCounters(PerfCounters&& other) noexcept;
  PerfCounters& operator=(PerfCounters&& other) noexcept;

  bool available() const { return reason_.empty(); }
  const std::string& reason() const { return reason_; }

  void start();  // resets and enables the counters
  void stop();   // disables them; read() then gives the counts between start and stop
  Reading read() const;

 private:
  struct Fds {
    int instructions = -1, cycles = -1;
  };
  void close_all();
  std::vector<Fds> fds_;  // one pair per counted thread
  std::string reason_;
};

// Why perf counting is unavailable here, or "" when it works (opens and closes a counter).
std::string unavailable_reason();

}  // namespace tb::perf
