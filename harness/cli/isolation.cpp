// Crash isolation for `tierbench run`; see isolation.h.
#include "isolation.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/core.h>

#include "cli.h"

extern char** environ;

namespace tb::cli {

Progress::Progress(bool enabled, std::vector<std::string> expected)
    : enabled_(enabled),
      total_(static_cast<std::int64_t>(expected.size())),
      expected_(std::move(expected)) {}

void Progress::update(Store& store, std::int64_t run_id) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  auto res = store.results(run_id);
  if (!res) return;
  const auto done = static_cast<std::int64_t>(res->size());
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string eta = "--:--";
  if (done > 0 && done < total_) {
    const auto left =
        static_cast<int>(elapsed / static_cast<double>(done) * static_cast<double>(total_ - done));
    eta = fmt::format("{}:{:02}", left / 60, left % 60);
  }
  constexpr int kWidth = 24;
  const auto filled =
      static_cast<int>(kWidth * std::min(done, total_) / std::max<std::int64_t>(total_, 1));
  std::string last = done < total_ ? expected_[static_cast<std::size_t>(done)] : "";
  if (last.size() > 40) last = last.substr(0, 37) + "...";
  std::cerr << fmt::format("\r[{}{}] {}/{}  left ~{}  now: {:<40}", std::string(filled, '#'),
                           std::string(kWidth - filled, '.'), done, total_, eta, last)
            << std::flush;
  drawn_ = true;
}

Progress::~Progress() {
  if (drawn_) std::cerr << "\r" << std::string(110, ' ') << "\r" << std::flush;
}

namespace {

// Spawns this executable and waits; `stop` (or the timeout, when > 0) kills it. `stopped` says
// which of the two ended it.
std::string spawn_and_wait(std::vector<std::string> args, double timeout_s,
                           const std::function<void()>& tick, const std::function<bool()>& stop) {
  std::vector<char*> argv;
  for (auto& x : args) argv.push_back(x.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const std::string exe = "/proc/self/exe";
  if (int e = posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ); e != 0)
    return std::string("could not start the backend process: ") + std::strerror(e);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0) return std::string("waitpid: ") + std::strerror(errno);
    if (timeout_s > 0 && std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return fmt::format("timed out after {:.0f} s (backend hung or too slow); killed", timeout_s);
    }
    if (stop && stop()) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return "stopped";
    }
    if (tick) tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFSIGNALED(status))
    return fmt::format("backend process crashed with signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  // A failed result also exits 1; only the results it did not store are recorded with this.
  if (WIFEXITED(status) && WEXITSTATUS(status) != kOk)
    return fmt::format("backend process exited with code {} before storing this result",
                       WEXITSTATUS(status));
  return "";
}

}  // namespace

std::string run_child(std::vector<std::string> args, double timeout_s,
                      const std::function<void()>& tick) {
  return spawn_and_wait(std::move(args), timeout_s, tick, {});
}

std::string run_child_until(std::vector<std::string> args, const std::function<bool()>& stop) {
  return spawn_and_wait(std::move(args), 0, {}, stop);
}

std::string in_flight_key(std::int64_t run_id, const std::string& backend) {
  return std::to_string(run_id) + "/" + backend;
}

std::set<std::string> stored_names(Store& store, std::int64_t run_id, const std::string& backend) {
  std::set<std::string> have;
  if (auto done = store.results(run_id))
    for (const auto& r : done.value())
      if (r.backend == backend) have.insert(r.name);
  return have;
}

void record_unfinished(Store& store, std::int64_t run_id, const std::string& backend,
                       const std::vector<ExpectedResult>& expected, const std::string& why) {
  const auto have = stored_names(store, run_id, backend);
  for (const auto& e : expected) {
    if (have.count(e.name)) continue;
    ResultRecord r;
    r.run_id = run_id;
    r.kind = e.kind;
    r.name = e.name;
    r.backend = backend;
    r.dtype = e.dtype;
    r.status = Status::error;
    r.message = why;
    (void)store.add_result(r);
  }
}

// Every backend in its own child process. A child that dies inside an item (the one it marked in
// flight has no result) has that item recorded as an error saying why, and a new child runs
// what is left; a child that dies elsewhere has everything it did not store recorded so.
// Returns nothing: the results are read back from the store.
void run_isolated(const Context& ctx, const RunOptions& a, const std::vector<std::string>& selected,
                  const Work& w, const std::string& db, std::int64_t run_id, Store& store) {
  std::vector<std::string> expected_items;
  for (const auto& name : selected)
    for (int rep = 0; rep < std::max(1, a.kopts.repetitions); ++rep) {
      for (const auto& p : w.problems) expected_items.push_back(name + " " + p.str());
      for (const auto& t : w.workloads) expected_items.push_back(name + " " + t.str());
      for (const auto& m : w.models) expected_items.push_back(name + " " + m.name.str());
    }
  Progress progress(isatty(2) && !ctx.json, std::move(expected_items));
  std::vector<ExpectedResult> expected;
  for (const auto& p : w.problems)
    expected.push_back({p.str(), std::string(dtype_name(p.dtype)), "kernel"});
  for (const auto& t : w.workloads) expected.push_back({t.str(), t.dtype, "workload"});
  for (const auto& m : w.models) expected.push_back({m.name.str(), m.name.dtype, "workload"});
  for (const auto& name : selected) {
    RunOptions sub = a;
    for (;;) {
      std::vector<std::string> args = {ctx.argv0, "--db", db, "run"};
      for (auto& x : child_arguments(sub, name, run_id)) args.push_back(std::move(x));
      (void)store.put(kInFlightNs, in_flight_key(run_id, name), "");
      const std::string why =
          run_child(std::move(args), a.timeout_s, [&] { progress.update(store, run_id); });
      if (why.empty()) break;
      const auto done = stored_names(store, run_id, name);
      const auto item = store.get(kInFlightNs, in_flight_key(run_id, name));
      const std::string culprit = item && item.value().has_value() ? *item.value() : "";
      if (culprit.empty() || done.count(culprit)) {
        record_unfinished(store, run_id, name, expected, why);
        break;
      }
      std::vector<ExpectedResult> blamed;
      for (const auto& e : expected)
        if (e.name == culprit) blamed.push_back(e);
      record_unfinished(store, run_id, name, blamed, why);
      // What is left, for a new child: the items with no result yet.
      const auto now = stored_names(store, run_id, name);
      sub.problems.clear(), sub.workloads.clear(), sub.model.clear(), sub.dtypes.clear();
      for (const auto& p : w.problems)
        if (!now.count(p.str())) sub.problems.push_back(p.str());
      for (const auto& t : w.workloads)
        if (!now.count(t.str())) sub.workloads.push_back(t.str());
      for (const auto& m : w.models)
        if (!now.count(m.name.str())) {
          sub.model = a.model, sub.inputs = a.inputs;
          sub.dtypes.push_back(m.name.dtype);
        }
      if (sub.problems.empty() && sub.workloads.empty() && sub.model.empty()) break;
    }
  }
}

}  // namespace tb::cli
