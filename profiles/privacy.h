// Privacy, measured: how much a population of shareable profiles identifies its members
// (entropy of the profile distribution in bits, the smallest anonymity set k, which fields
// contribute), over the device catalogue (data/devices.json, projected from this device's
// measured efficiencies by a roofline) or over any set of profiles; and how far decisions made
// from the classes agree with decisions made from the exact figures, per granularity.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "profiles.h"
#include "result.h"

namespace tb::profiles {

struct FieldShare {
  std::string field;        // "device.compute", "tiers.mobilenetv2:b1:f32.latency"
  double entropy_bits = 0;  // of this field alone over the population
  double removal_bits = 0;  // how much the profile's entropy drops without this field
  int distinct = 0;         // values it takes
};

struct PopulationStats {
  int n = 0, distinct = 0, k = 0;  // k: the smallest group of identical profiles
  double bits = 0;                 // Shannon entropy of the profile distribution
  std::vector<FieldShare> fields;  // by removal_bits, then entropy_bits, largest first
};

// Over shareable profiles ("schema", "version" and "randomised_response" are not counted).
PopulationStats measure_population(const std::vector<nlohmann::json>& profiles);

struct CatalogueDevice {
  std::string name, category, source;
  double f32_gflops = 0, f16_gflops = 0, int8_gops = 0, bandwidth_gbps = 0, memory_gib = 0,
         storage_gbps = 0;
  bool accelerator = false;
};

// Parses and checks a catalogue (every device named, with a source and positive figures).
Result<std::vector<CatalogueDevice>> parse_catalogue(std::string_view json_text);
const std::vector<CatalogueDevice>& builtin_catalogue();  // data/devices.json

// A catalogue device's figures, projected from the local profile: per tier, the predictor's
// projection (predictor.h: every layer at the efficiency its op class reached here, on the
// device's roofline) when the local profile carries a calibration of the tier's backend and
// dtype; otherwise the roofline time on the device's specifications divided by the efficiency
// this device measured for that tier end to end (the median efficiency when this device did not
// run it). Feasibility from the memory need (data/buckets.json fit_fraction) and the too-slow
// threshold.
struct Projection {
  DeviceFigures device;
  std::vector<TierFigures> tiers;
};
Projection project(const nlohmann::json& local, const CatalogueDevice& d);

// The shareable profile of each member of a population, generalised until every profile is
// shared by at least k members (Datafly-style global recoding): all start at granularity
// `start`; members whose profile fewer than k share move one step down the ladder of
// data/buckets.json; those left after the last step (with the smallest groups of the latest
// steps when they are fewer than k), in order of their tiers' latency then compute, are cut into
// chunks of k to 2k - 1 members, each sharing one "withheld" profile in which every field takes
// the finest class of the ladder its members agree on; when none, a tier's latency, cold start and
// memory the range of consecutive `start` classes covering them all (Scale::span), other fields
// "any" (local recoding). k <= 1: every member at
// `start`.
std::vector<nlohmann::json> k_anonymise(const std::vector<Projection>& population,
                                        const std::string& start, int k);

// Fraction of (device, tier, budget) decisions "finishes within B ms?" (the budgets of
// data/buckets.json) on which each member's shareable profile agrees with its exact figures. A
// class answers yes when the tier runs and the class's upper edge is within B.
double decision_agreement(const std::vector<Projection>& population,
                          const std::vector<nlohmann::json>& profiles);
// The same with every member classified at granularity g.
double decision_agreement(const std::vector<Projection>& population, const Granularity& g);

struct GranularityReport {
  std::string name;  // a granularity, or "k>=K from NAME" for the k-anonymised ladder
  bool is_default = false;
  PopulationStats stats;
  double agreement = 0;
  std::map<std::string, int> levels;  // how many devices' profiles are at each granularity
};
// Every granularity of data/buckets.json over the projected catalogue, plain and k-anonymised
// from each step of the ladder, most bits first. The default is the k-anonymised ladder from
// the default granularity: what 'tierbench profile' writes.
std::vector<GranularityReport> catalogue_tradeoff(const nlohmann::json& local,
                                                  const std::vector<CatalogueDevice>& catalogue);

}  // namespace tb::profiles
