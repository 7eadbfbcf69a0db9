// The decision engine: should a request run on this device, on an edge site or in the cloud,
// with which model variant, split where, and what to run while the best variant loads?
//
// Inputs are plain figures (profiles/estimate.h) about each candidate variant on this device and
// on each remote site, plus the request, the network and the variants' cache states; the output
// is every placement that satisfies the hard constraints, ranked, with its latency breakdown and
// reasons, the placements the constraints excluded (with why), and a plan over time.
//
// Hard constraints (never traded against latency):
//  - a variant that does not fit (its estimate says so, or its peak memory exceeds the memory
//    the request says is available) is never placed on this device;
//  - a request whose data may not leave the device is never offloaded, not even in part (a split
//    sends activations, which carry the input);
//  - offline: this device only, with variants already on it; otherwise no placement, with why.
//
// Depends on nlohmann_json and profiles/estimate.h only: schedulers link it (tierbench::decide)
// without the measuring stack. The C ABI over the JSON form is tierbench_decide.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "estimate.h"

namespace tb::decide {

using profiles::LayerEstimate;
using profiles::ModelEstimate;

// A candidate model variant (a fidelity level): tier and dtype, as the workload string.
struct Variant {
  std::string workload;              // "mobilenetv2:b1:int8"
  double fidelity = 1;               // the scheduler's quality figure: higher is better
  std::uint64_t download_bytes = 0;  // 0: the estimate's weight bytes
  bool cached = false;               // its weights are on the device's storage
  bool compiled = false;             // prepared and resident: no read or compile left to pay
};

struct RequestSpec {
  std::uint64_t input_bytes = 0, output_bytes = 0;
  double objective_ms = 0;       // the latency objective of this request, cold costs included
  bool delay_sensitive = true;   // false: delay-tolerant (prefers fidelity and the device)
  bool may_leave_device = true;  // false: private data, never offloaded
};

struct Network {
  bool offline = false;
  double rtt_ms = 0;                  // the access link's round trip
  double up_mbps = 0, down_mbps = 0;  // megabits per second
};

// An edge site or the cloud: what it can run (its own figures, e.g. from the classes of its
// shareable profile), its current queueing delay and its round trip beyond the access link.
// Sites serve their variants warm: no download or compile is charged remotely.
struct Remote {
  std::string name;
  std::string kind = "edge";  // "edge" or "cloud"
  double rtt_ms = 0, queue_ms = 0;
  std::vector<ModelEstimate> estimates;
};

struct Inputs {
  std::vector<ModelEstimate> local;          // this device; several backends per workload allowed
  std::uint64_t memory_available_bytes = 0;  // 0: unknown (the estimates' feasibility decides)
  std::vector<Variant> variants;
  RequestSpec request;
  Network network;
  std::vector<Remote> remotes;
};

struct Breakdown {
  double download_ms = 0;   // fetching the variant's weights onto the device
  double load_ms = 0;       // read + compile + upload + first inference's excess
  double inference_ms = 0;  // on the device and/or the site
  double transfer_ms = 0;   // round trips and input / activations / output over the network
  double queueing_ms = 0;   // at the site
  double total() const { return download_ms + load_ms + inference_ms + transfer_ms + queueing_ms; }
};

struct Split {
  int after = -1;           // the first `after + 1` layers run on the device
  std::string layer;        // the name of the last layer on the device
  std::uint64_t bytes = 0;  // the activations sent to the site
  double device_ms = 0, remote_ms = 0;
};

struct Placement {
  std::string target = "device";  // "device" or a remote's name
  std::string kind = "local";     // "local", "edge", "cloud" or "split"
  std::string workload, backend;
  double fidelity = 1;
  std::optional<Split> split;
  Breakdown latency;
  bool meets_objective = false;
  bool ready_now = false;  // runs without downloading or compiling anything first
  std::vector<std::string> reasons;
  // Same target, variant and split point (the backend is the engine's choice within a target).
  bool same_choice(const Placement& o) const;
};

struct Excluded {
  std::string target, workload;
  std::string why;  // the hard constraint or the missing figure
};

// What to run while the best variant downloads and compiles, and when to switch.
struct Plan {
  std::optional<Placement> now;  // empty: nothing can serve the request before `then` is ready
  Placement then;                // the best placement once every cold cost is paid
  double download_done_ms = 0;   // from now
  double switch_at_ms = 0;       // download + read + compile done: `then` takes over
  std::string summary;
};

struct Decision {
  std::vector<Placement> ranked;  // best first; empty: no placement satisfies the constraints
  std::vector<Excluded> excluded;
  std::optional<Plan> plan;  // when the best steady-state placement is not ready now
  std::string reason;        // why nothing can run (ranked empty), else a one-line summary
};

Decision decide(const Inputs& in);

// The latency of one placement (target, workload, backend, split point) under `in`, as decide()
// would compute it; nullopt when a hard constraint excludes it or a figure is missing. The
// oracle evaluation prices the engine's choice with the measured figures through it.
std::optional<Placement> price(const Inputs& in, const Placement& choice);

// Parses JSON text handed over by someone else, refusing more than max_bytes or nesting deeper
// than max_depth (checked on the text before parsing, so hostile input costs one linear scan).
// Throws std::invalid_argument saying which limit, or where the text is not JSON.
nlohmann::json parse_json(std::string_view text, std::size_t max_bytes, int max_depth);

// --- the JSON form (schema/decide.request.schema.json, schema/decide.response.schema.json) -----

// Figures from a profile: a local profile (tierbench.profile.local: the measured figures of every
// backend) or a shareable one (tierbench.profile.shareable: each class's representative value,
// source "classes"). Throws std::invalid_argument naming the field for a malformed profile.
std::vector<ModelEstimate> estimates_from_profile(const nlohmann::json& profile);

nlohmann::json to_json(const ModelEstimate& e);
ModelEstimate estimate_from_json(const nlohmann::json& j);  // throws std::invalid_argument

// A request document into Inputs. `profile`, when not null, replaces the request's "profile".
// Throws std::invalid_argument with a one-line message naming the field ("/network/rtt_ms: ...").
Inputs parse_request(const nlohmann::json& request, const nlohmann::json* profile = nullptr);

nlohmann::json to_json(const Decision& d);  // tierbench.decide.response, version 1

// A class label's range ("16-100 ms" -> {16, 100}, "<16 ms" -> {0, 16}, ">=60000 ms" ->
// {60000, inf}); nullopt for "any", "none", "unknown" and anything else. And the value the
// engine takes for the class: the geometric middle of a bounded class, 0.5x the upper edge of
// the first, 1.5x the lower edge of the last.
struct ClassRange {
  double lo = 0, hi = 0;
};
std::optional<ClassRange> class_range(const std::string& label);
std::optional<double> class_value(const std::string& label);

// What the engine assumes for a class a shareable profile withheld ("any": generalised away for
// k-anonymity), never a free or unbounded figure: the worst plausible value, with a note in
// ModelEstimate::assumed that the placements repeat.
//  - latency of a tier that "runs": the too-slow threshold of the shareable profile (a tier at
//    10 s or more is "too-slow"); of a "too-slow" tier: 90 s, the value of ">=60000 ms";
//  - cold start: 15 s, the value of the top cold-start class (">=10000 ms"), and at least the
//    assumed latency (a cold start includes one inference);
//  - peak memory: unknown (ModelEstimate::memory_withheld), so it never passes a stated
//    memory_available_bytes.
inline constexpr double kWithheldRunsLatencyMs = 10000;
inline constexpr double kWithheldTooSlowLatencyMs = 90000;
inline constexpr double kWithheldColdStartMs = 15000;

}  // namespace tb::decide
