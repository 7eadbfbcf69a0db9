// The engine: every placement the hard constraints allow, priced and ranked; the plan over time.
#include "decide.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace tb::decide {

namespace {

std::string fmt_ms(double ms) {
  char b[48];
  if (ms >= 10000)
    std::snprintf(b, sizeof b, "%.1f s", ms / 1e3);
  else if (ms >= 10)
    std::snprintf(b, sizeof b, "%.0f ms", ms);
  else
    std::snprintf(b, sizeof b, "%.2f ms", ms);
  return b;
}

std::string fmt_bytes(double bytes) {
  char b[48];
  if (bytes >= 1e6)
    std::snprintf(b, sizeof b, "%.1f MB", bytes / 1e6);
  else if (bytes >= 1e3)
    std::snprintf(b, sizeof b, "%.1f kB", bytes / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f B", bytes);
  return b;
}

// Milliseconds to move `bytes` over a link of `mbps` megabits per second.
double wire_ms(double bytes, double mbps) {
  return mbps > 0 ? bytes * 8 / (mbps * 1e3) : 0;
}

bool can_run(const ModelEstimate& e) {
  return e.feasible && e.latency_ms >= 0;
}

const Variant* find_variant(const Inputs& in, const std::string& workload) {
  for (const auto& v : in.variants)
    if (v.workload == workload) return &v;
  return nullptr;
}

// The remote's figures for a workload (the fastest that runs), else any entry (to say why).
const ModelEstimate* remote_estimate(const Remote& r, const std::string& workload) {
  const ModelEstimate* best = nullptr;
  for (const auto& e : r.estimates) {
    if (e.workload != workload) continue;
    if (!best || (can_run(e) && (!can_run(*best) || e.latency_ms < best->latency_ms))) best = &e;
  }
  return best;
}

double transfer_ms(const Inputs& in, const Remote& r, double up_bytes) {
  return in.network.rtt_ms + r.rtt_ms + wire_ms(up_bytes, in.network.up_mbps) +
         wire_ms(static_cast<double>(in.request.output_bytes), in.network.down_mbps);
}

// Why this device cannot run `e` for variant `v`; empty when it can.
std::string local_obstacle(const Inputs& in, const Variant& v, const ModelEstimate& e) {
  if (!e.feasible) return e.why.empty() ? "not feasible on this device" : e.why;
  if (e.latency_ms < 0) return "no latency figure for this device";
  if (in.memory_available_bytes > 0 && e.memory_withheld)
    return "its memory class is withheld ('any'): it cannot be shown to fit the " +
           fmt_bytes(static_cast<double>(in.memory_available_bytes)) + " available";
  if (in.memory_available_bytes > 0 && e.peak_memory_bytes > in.memory_available_bytes)
    return "does not fit: needs " + fmt_bytes(static_cast<double>(e.peak_memory_bytes)) +
           ", the device has " + fmt_bytes(static_cast<double>(in.memory_available_bytes)) +
           " available";
  if (in.network.offline && !v.cached && !v.compiled)
    return "offline and not on the device: it cannot be downloaded";
  return {};
}

// The cold costs of getting `e` ready on the device.
void charge_cold(const Inputs& in, const Variant& v, const ModelEstimate& e, Placement& p) {
  if (!v.cached && !v.compiled) {
    const double bytes = static_cast<double>(v.download_bytes ? v.download_bytes : e.weight_bytes);
    p.latency.download_ms = in.network.rtt_ms + wire_ms(bytes, in.network.down_mbps);
    p.reasons.push_back("downloads " + fmt_bytes(bytes) + " first (" +
                        fmt_ms(p.latency.download_ms) + ")");
  }
  if (!v.compiled) {
    p.latency.load_ms = e.read_ms + e.compile_ms + e.upload_ms + e.first_inference_ms;
    p.reasons.push_back(std::string(v.cached || v.compiled ? "cached, " : "") + "read + compile " +
                        fmt_ms(p.latency.load_ms));
  }
  p.ready_now = v.compiled;
  for (const auto& a : e.assumed)  // a withheld cold start matters only when it is paid
    if (!v.compiled || a.rfind("cold-start", 0) != 0) p.reasons.push_back(a);
}

Placement local_placement(const Inputs& in, const Variant& v, const ModelEstimate& e) {
  Placement p;
  p.workload = v.workload;
  p.backend = e.backend;
  p.fidelity = v.fidelity;
  charge_cold(in, v, e, p);
  p.latency.inference_ms = e.latency_ms;
  return p;
}

Placement remote_placement(const Inputs& in, const Variant& v, const Remote& r,
                           const ModelEstimate& e) {
  Placement p;
  p.target = r.name;
  p.kind = r.kind;
  p.workload = v.workload;
  p.backend = e.backend;
  p.fidelity = v.fidelity;
  p.ready_now = true;
  p.latency.inference_ms = e.latency_ms;
  p.latency.queueing_ms = r.queue_ms;
  p.latency.transfer_ms = transfer_ms(in, r, static_cast<double>(in.request.input_bytes));
  if (r.queue_ms > 0) p.reasons.push_back("queue " + fmt_ms(r.queue_ms) + " at " + r.name);
  for (const auto& a : e.assumed) p.reasons.push_back(r.name + ": " + a);
  return p;
}

// What each split point costs in inference: device_ms[k] for layers 0..k on the device,
// remote_ms[k] for the layers after k at the site. The site's per-layer latencies are its own
// when its figures have the same layers, else the device's shares of its whole-model latency.
struct SplitCurve {
  std::vector<double> device_ms, remote_ms;
};

std::vector<double> shares(const ModelEstimate& e) {  // cumulative, through layer k
  std::vector<double> c(e.layers.size(), 0);
  double sum = 0;
  for (std::size_t i = 0; i < e.layers.size(); ++i) c[i] = sum += e.layers[i].latency_ms;
  for (auto& x : c) x = sum > 0 ? x / sum : 0;
  return c;
}

SplitCurve split_curve(const ModelEstimate& le, const ModelEstimate& re) {
  const std::vector<double> dev = shares(le);
  const std::vector<double> rem = re.layers.size() == le.layers.size() ? shares(re) : dev;
  SplitCurve c;
  for (std::size_t k = 0; k < dev.size(); ++k) {
    c.device_ms.push_back(le.latency_ms * dev[k]);
    c.remote_ms.push_back(re.latency_ms * (1 - rem[k]));
  }
  return c;
}

// The first after+1 layers of `le` on the device, the rest at the site.
Placement split_at(const Inputs& in, const Variant& v, const ModelEstimate& le, const Remote& r,
                   int after, const SplitCurve& curve) {
  const auto k = static_cast<std::size_t>(after);
  Placement p;
  p.target = r.name;
  p.kind = "split";
  p.workload = v.workload;
  p.backend = le.backend;
  p.fidelity = v.fidelity;
  charge_cold(in, v, le, p);
  Split s;
  s.after = after;
  s.layer = le.layers[k].name;
  s.bytes = le.layers[k].output_bytes;
  s.device_ms = curve.device_ms[k];
  s.remote_ms = curve.remote_ms[k];
  p.latency.inference_ms = s.device_ms + s.remote_ms;
  p.latency.queueing_ms = r.queue_ms;
  p.latency.transfer_ms = transfer_ms(in, r, static_cast<double>(s.bytes));
  p.split = s;
  return p;
}

void explain_split(const Inputs& in, const ModelEstimate& le, Placement& p) {
  const Split& s = *p.split;
  p.reasons.push_back("split after layer " + std::to_string(s.after + 1) + " of " +
                      std::to_string(le.layers.size()) + " (" + s.layer + "): sends " +
                      fmt_bytes(static_cast<double>(s.bytes)) + " of activations instead of " +
                      fmt_bytes(static_cast<double>(in.request.input_bytes)) + " of input");
}

// The best interior split point of this variant between the device and the site, when it beats
// both running everything on the device and sending everything to the site.
std::optional<Placement> best_split(const Inputs& in, const Variant& v, const ModelEstimate& le,
                                    const Remote& r, const ModelEstimate& re) {
  if (le.layers.size() < 2) return std::nullopt;
  const SplitCurve curve = split_curve(le, re);
  // Only the two sides' inference and the activation bytes vary with the split point.
  int best_k = -1;
  double best_ms = std::numeric_limits<double>::infinity();
  for (int k = 0; k + 1 < static_cast<int>(le.layers.size()); ++k) {
    const auto i = static_cast<std::size_t>(k);
    const double ms = curve.device_ms[i] + curve.remote_ms[i] +
                      wire_ms(static_cast<double>(le.layers[i].output_bytes), in.network.up_mbps);
    if (ms < best_ms) best_ms = ms, best_k = k;
  }
  Placement best = split_at(in, v, le, r, best_k, curve);
  const double whole_local = local_placement(in, v, le).latency.total();
  const double whole_remote = remote_placement(in, v, r, re).latency.total();
  if (best.latency.total() >= std::min(whole_local, whole_remote)) return std::nullopt;
  explain_split(in, le, best);
  return best;
}

// "X on the device", "X at edge-1", "X split between the device and edge-1".
std::string where(const Placement& p) {
  if (p.kind == "local") return p.workload + " on the device";
  if (p.kind == "split") return p.workload + " split between the device and " + p.target;
  return p.workload + " at " + p.target;
}

int kind_rank(const Placement& p) {
  return p.kind == "local" ? 0 : p.kind == "split" ? 1 : 2;
}

// Sensitive: meets the objective first, then the highest fidelity, then the fastest; when none
// meets it, the fastest. Tolerant: the highest fidelity first among those that meet it (the
// device before a split before a site) and among those that do not (it can wait).
bool better(const Placement& a, const Placement& b, bool sensitive) {
  if (a.meets_objective != b.meets_objective) return a.meets_objective;
  const double ta = a.latency.total(), tb = b.latency.total();
  if (sensitive && !a.meets_objective) {
    if (ta != tb) return ta < tb;
    return a.fidelity > b.fidelity;
  }
  if (a.fidelity != b.fidelity) return a.fidelity > b.fidelity;
  if (!sensitive && a.meets_objective && kind_rank(a) != kind_rank(b))
    return kind_rank(a) < kind_rank(b);
  return ta < tb;
}

void finish(const Inputs& in, Placement& p) {
  p.meets_objective = p.latency.total() <= in.request.objective_ms;
  const std::string t = fmt_ms(p.latency.total());
  p.reasons.insert(
      p.reasons.begin(),
      p.meets_objective
          ? "meets the " + fmt_ms(in.request.objective_ms) + " objective (" + t + ")"
          : "misses the " + fmt_ms(in.request.objective_ms) + " objective (" + t + ")");
}

// Why no placement leaves the device, or empty when some may.
std::string offload_obstacle(const Inputs& in) {
  if (!in.request.may_leave_device) return "the request's data may not leave the device";
  if (in.network.offline) return "offline";
  return {};
}

// Every placement the constraints allow, unranked; the others into `excluded`.
std::vector<Placement> candidates(const Inputs& in, std::vector<Excluded>* excluded) {
  std::vector<Placement> out;
  const auto exclude = [&](const std::string& target, const std::string& w, std::string why) {
    if (excluded) excluded->push_back({target, w, std::move(why)});
  };
  const std::string no_offload = offload_obstacle(in);
  for (const auto& v : in.variants) {
    bool any_local = false;
    for (const auto& e : in.local) {
      if (e.workload != v.workload) continue;
      any_local = true;
      if (auto why = local_obstacle(in, v, e); !why.empty()) {
        exclude("device", v.workload, e.backend.empty() ? why : e.backend + ": " + why);
        continue;
      }
      out.push_back(local_placement(in, v, e));
    }
    if (!any_local) exclude("device", v.workload, "no figures for this device");
    for (const auto& r : in.remotes) {
      if (!no_offload.empty()) {
        exclude(r.name, v.workload, no_offload);
        continue;
      }
      const ModelEstimate* re = remote_estimate(r, v.workload);
      if (!re || !can_run(*re)) {
        exclude(r.name, v.workload,
                !re ? "the site has no figures for it"
                    : "the site cannot run it" + (re->why.empty() ? "" : ": " + re->why));
        continue;
      }
      out.push_back(remote_placement(in, v, r, *re));
      for (const auto& le : in.local)
        if (le.workload == v.workload && local_obstacle(in, v, le).empty())
          if (auto s = best_split(in, v, le, r, *re)) out.push_back(std::move(*s));
    }
  }
  for (auto& p : out) finish(in, p);
  return out;
}

std::vector<Placement> ranked(const Inputs& in, std::vector<Excluded>* excluded) {
  std::vector<Placement> all = candidates(in, excluded);
  const bool sensitive = in.request.delay_sensitive;
  std::stable_sort(all.begin(), all.end(),
                   [&](const Placement& a, const Placement& b) { return better(a, b, sensitive); });
  return all;
}

std::string nothing_reason(const Inputs& in, const std::vector<Excluded>& excluded) {
  if (in.variants.empty()) return "no candidate model variants";
  std::string why = "no placement: ";
  if (in.network.offline)
    why += "offline, and no variant on the device can run (";
  else if (!in.request.may_leave_device)
    why += "the data may not leave the device, and no variant can run on it (";
  else
    why += "no variant can run on the device or any site (";
  bool first = true;
  for (const auto& x : excluded) {
    if (x.target != "device") continue;
    why += (first ? "" : "; ") + x.workload + ": " + x.why;
    first = false;
  }
  return why + ")";
}

std::optional<Plan> make_plan(const Inputs& in, const std::vector<Placement>& now_ranked) {
  // The steady state: every variant that can reach the device is compiled.
  Inputs steady = in;
  for (auto& v : steady.variants)
    if (!in.network.offline || v.cached) v.cached = v.compiled = true;
  const std::vector<Placement> best = ranked(steady, nullptr);
  if (best.empty()) return std::nullopt;
  const auto target = std::find_if(now_ranked.begin(), now_ranked.end(),
                                   [&](const Placement& p) { return p.same_choice(best[0]); });
  if (target == now_ranked.end() || target->ready_now) return std::nullopt;
  Plan plan;
  plan.then = *target;
  plan.download_done_ms = target->latency.download_ms;
  plan.switch_at_ms = target->latency.download_ms + target->latency.load_ms;
  // Until then: this request's best placement, unless that is the target itself (waiting for it
  // is best, e.g. for a delay-tolerant request).
  if (!now_ranked[0].same_choice(*target)) plan.now = now_ranked[0];
  std::string now = "wait for it";
  if (plan.now)
    now = "run " + where(*plan.now) +
          (plan.now->ready_now
               ? std::string(" now")
               : " (ready in " + fmt_ms(plan.now->latency.download_ms + plan.now->latency.load_ms) +
                     ")");
  plan.summary = now + "; " + (target->latency.download_ms > 0 ? "download and " : "") +
                 "compile " + plan.then.workload + " in the background; switch to " +
                 where(plan.then) + " at " + fmt_ms(plan.switch_at_ms);
  return plan;
}

}  // namespace

bool Placement::same_choice(const Placement& o) const {
  if (target != o.target || workload != o.workload || kind != o.kind) return false;
  if (split.has_value() != o.split.has_value()) return false;
  return !split || split->after == o.split->after;
}

Decision decide(const Inputs& in) {
  Decision d;
  d.ranked = ranked(in, &d.excluded);
  if (d.ranked.empty()) {
    d.reason = nothing_reason(in, d.excluded);
    return d;
  }
  d.ranked[0].reasons.push_back(
      in.request.delay_sensitive
          ? (d.ranked[0].meets_objective ? "delay-sensitive: the highest fidelity that meets the "
                                           "objective, then the fastest"
                                         : "delay-sensitive: nothing meets the objective; the "
                                           "fastest")
          : "delay-tolerant: the highest fidelity, on the device when it meets the objective");
  const Placement& b = d.ranked[0];
  d.reason = where(b) + ": " + fmt_ms(b.latency.total());
  d.plan = make_plan(in, d.ranked);
  return d;
}

namespace {

// The chosen split point under `in`'s figures, whether or not decide() would keep it (its best
// split may fall elsewhere, or be no better than either end): on the same backend when the
// device has it, else the fastest with layers; the point is kept, or the last interior one.
std::optional<Placement> price_split(const Inputs& in, const Placement& choice) {
  const Variant* v = find_variant(in, choice.workload);
  const Remote* r = nullptr;
  for (const auto& x : in.remotes)
    if (x.name == choice.target) r = &x;
  if (!v || !r || !offload_obstacle(in).empty()) return std::nullopt;
  const ModelEstimate* re = remote_estimate(*r, v->workload);
  if (!re || !can_run(*re)) return std::nullopt;
  const ModelEstimate* le = nullptr;
  for (const auto& e : in.local) {
    if (e.workload != v->workload || e.layers.size() < 2 || !local_obstacle(in, *v, e).empty())
      continue;
    if (e.backend == choice.backend) {
      le = &e;
      break;
    }
    if (!le || e.latency_ms < le->latency_ms) le = &e;
  }
  if (!le) return std::nullopt;
  const int after = std::min(choice.split->after, static_cast<int>(le->layers.size()) - 2);
  Placement p = split_at(in, *v, *le, *r, after, split_curve(*le, *re));
  explain_split(in, *le, p);
  finish(in, p);
  return p;
}

}  // namespace

std::optional<Placement> price(const Inputs& in, const Placement& choice) {
  if (choice.kind == "split" && choice.split) return price_split(in, choice);
  // The same target, variant and backend; else the fastest backend of that target and variant.
  std::optional<Placement> hit;
  for (auto& p : candidates(in, nullptr)) {
    if (p.target != choice.target || p.workload != choice.workload || p.kind != choice.kind)
      continue;
    if (p.backend == choice.backend) return p;
    if (!hit || p.latency.total() < hit->latency.total()) hit = std::move(p);
  }
  return hit;
}

}  // namespace tb::decide
