// The capability profiles, built from the local store (see README.md):
//  - the local profile (schema/profile.local.schema.json): every figure the predictor uses, per
//    tier, dtype and backend, the probed ceilings and the cross-check against the best kernel
//    results, with their provenance (run and result ids). It never leaves the device.
//  - the shareable profile (schema/profile.shareable.schema.json): classes only, at the edges of
//    data/buckets.json; no identifiers, counts or raw figures.
// Both are validated against their schema before they are returned.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "buckets.h"
#include "json_schema.h"
#include "result.h"
#include "store.h"

namespace tb::profiles {

// The raw figures the shareable classes are derived from. Negative: not measured.
struct DeviceFigures {
  double compute_gflops = -1, bandwidth_gbps = -1, memory_gib = -1, storage_gbps = -1;
  bool accelerator = false;
};
struct TierFigures {
  std::string workload;                     // tier:variant:dtype
  std::string feasibility = "unsupported";  // runs, too-slow, does-not-fit, unsupported
  double latency_ms = -1, cold_start_ms = -1, memory_mib = -1;
};

// The shareable profile of these figures at granularity g (version 1 layout).
nlohmann::json classify(const DeviceFigures& d, const std::vector<TierFigures>& tiers,
                        const Granularity& g);

// The ceilings of a probe report (the metrics of a "probe" result), as the local profile's
// "ceilings" object: f32_gflops and bf16_gflops (best ISA, all threads, best converged trial),
// int8_gops, memory_bandwidth_gbps (read, all threads), storage_read_gbps (cold read median),
// memory_bytes, accelerator (a GPU/NPU-type device: not a CPU behind a GPU API), and, when an
// accelerator was measured, accelerator_f32_gflops and accelerator_bandwidth_gbps.
nlohmann::json ceilings_from_probe(const nlohmann::json& probe);

// Where a store's results ran, read from its probe report: device name -> true for a CPU (the
// host CPU under its "cpu.brand", the name host-CPU backends record their results under, and the
// CPU-type devices behind GPU APIs: PoCL, llvmpipe), false for the other devices it lists. A
// stored result names its device, so a store reads the same whichever backends this build has;
// a device the probe does not list is not taken for the CPU.
std::map<std::string, bool> probe_devices(const nlohmann::json& probe);

// The ceiling that bounds a dtype on a CPU, from a local profile's "ceilings": int8 tiers by the
// int8 peak, bf16/f16 by the bf16 peak, each falling back to f32; -1 when not measured.
double dtype_ceiling(const nlohmann::json& ceilings, const std::string& dtype);

// The figures of a local profile (its ceilings and best tier per workload).
DeviceFigures device_figures(const nlohmann::json& local);
std::vector<TierFigures> tier_figures(const nlohmann::json& local);

struct ProfileOptions {
  double tolerance = 0.05;  // a ceiling more than this fraction below an achieved figure fails
  // A re-measured compute section (the "compute" object of a probe report) that replaces the
  // stored probe's; null for none.
  const nlohmann::json* compute_override = nullptr;
  // The smallest anonymity set over the catalogue plus this device: -1 for data/buckets.json's
  // k_anonymity; 0 or 1 for the default granularity's classes as they are.
  int k = -1;
  // > 0: the tiers of this run only (a report of one run); else the latest of each in the store.
  std::int64_t workload_run = 0;
};

struct Profiles {
  nlohmann::json local, shareable;
  // One line per ceiling below the best kernel result of its dtype (by more than tolerance): a
  // probe error. The profiles must not be emitted while this is non-empty.
  std::vector<std::string> inconsistencies;
};

// The shareable profile is generalised down the ladder of data/buckets.json until at least k
// devices of the catalogue, projected from this device's efficiencies, share it (privacy.h).
// An error when the store holds no probe, or a profile fails its schema (a bug).
Result<Profiles> build_profiles(Store& store, const ProfileOptions& opts = {});

// k-ary randomised response on every class of a shareable profile: each class is kept with
// probability e^eps / (e^eps + k - 1), else replaced by one of the k - 1 others uniformly
// (eps-local differential privacy per class; a profile of n classes is (n * eps)-LDP).
nlohmann::json randomise(const nlohmann::json& shareable, double epsilon, std::uint64_t seed);
// How many classes randomise() randomises in this profile.
int class_count(const nlohmann::json& shareable);

}  // namespace tb::profiles
