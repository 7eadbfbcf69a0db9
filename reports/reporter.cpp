// The reporter families (reporter.h): each format is one of the renderers beside this file.
#include "reporter.h"

#include <functional>
#include <optional>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "compare_format.h"
#include "gbench_export.h"
#include "list_tables.h"
#include "predictor.h"
#include "probe_table.h"
#include "reports.h"
#include "results_io.h"

namespace tb::reports {

namespace {

using nlohmann::json;

template <class Doc>
class FunctionReporter final : public Reporter<Doc> {
 public:
  using Fn = std::function<Result<std::string>(const Doc&)>;
  FunctionReporter(std::string format, Fn fn) : format_(std::move(format)), fn_(std::move(fn)) {}
  std::string_view format() const override { return format_; }
  Result<void> report(std::ostream& os, const Doc& doc) const override {
    auto text = fn_(doc);
    if (!text) return text.error();
    os << *text;
    return {};
  }

 private:
  std::string format_;
  Fn fn_;
};

template <class Doc>
using ReporterTable = std::vector<std::pair<std::string, typename FunctionReporter<Doc>::Fn>>;

template <class Doc>
std::unique_ptr<Reporter<Doc>> pick(const ReporterTable<Doc>& table, std::string_view format) {
  for (const auto& [name, fn] : table)
    if (name == format) return std::make_unique<FunctionReporter<Doc>>(name, fn);
  return nullptr;
}

template <class Doc>
std::vector<std::string> names(const ReporterTable<Doc>& table) {
  std::vector<std::string> v;
  for (const auto& [name, _] : table) v.push_back(name);
  return v;
}

const ReporterTable<compare::Comparison>& comparisons() {
  static const ReporterTable<compare::Comparison> t = {
      {"terminal",
       [](const compare::Comparison& c) -> Result<std::string> {
         return compare::format_terminal(c);
       }},
      {"markdown",
       [](const compare::Comparison& c) -> Result<std::string> {
         return compare::format_markdown(c);
       }},
      {"junit",
       [](const compare::Comparison& c) -> Result<std::string> {
         return compare::format_junit(c);
       }},
      {"json", [](const compare::Comparison& c) -> Result<std::string> {
         return compare::format_json(c);
       }}};
  return t;
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}
std::string csv_number(const std::optional<double>& v, double scale = 1) {
  return v ? fmt::format("{:.9g}", *v * scale) : std::string();
}

// One line per stored result: what it is, its status, its statistics (ms) and throughput.
Result<std::string> run_csv(const StoredRun& r) {
  auto results = r.store.results(r.run_id);
  if (!results) return results.error();
  std::string s =
      "result_id,kind,name,backend,device,dtype,status,median_ms,p10_ms,p90_ms,mean_ms,"
      "stddev_ms,gflops,gbps,message\n";
  for (const auto& x : *results)
    s +=
        fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", x.id, csv_field(x.kind),
                    csv_field(x.name), csv_field(x.backend), csv_field(x.device),
                    csv_field(x.dtype), csv_field(std::string(status_name(x.status))),
                    csv_number(x.median_s, 1e3), csv_number(x.p10_s, 1e3), csv_number(x.p90_s, 1e3),
                    csv_number(x.mean_s, 1e3), csv_number(x.stddev_s, 1e3), csv_number(x.gflops),
                    csv_number(x.gbps), csv_field(x.message));
  return s;
}

const ReporterTable<StoredRun>& runs() {
  static const ReporterTable<StoredRun> t = {{"table",
                                              [](const StoredRun& r) -> Result<std::string> {
                                                auto results = r.store.results(r.run_id);
                                                if (!results) return results.error();
                                                std::ostringstream os;
                                                print_results_table(os, *results);
                                                return os.str();
                                              }},
                                             {"json",
                                              [](const StoredRun& r) -> Result<std::string> {
                                                auto doc = io::export_run(r.store, r.run_id);
                                                if (!doc) return doc.error();
                                                return doc->dump(2) + "\n";
                                              }},
                                             {"gbench",
                                              [](const StoredRun& r) -> Result<std::string> {
                                                auto doc = io::export_gbench(r.store, r.run_id);
                                                if (!doc) return doc.error();
                                                return doc->dump(2) + "\n";
                                              }},
                                             {"csv", run_csv}};
  return t;
}

const ReporterTable<json>& probes() {
  static const ReporterTable<json> t = {
      {"table", [](const json& p) -> Result<std::string> { return format_probe_table(p); }},
      {"json", [](const json& p) -> Result<std::string> { return p.dump(2) + "\n"; }}};
  return t;
}

const ReporterTable<Listing>& listings() {
  static const ReporterTable<Listing> t = {
      {"table",
       [](const Listing& l) -> Result<std::string> {
         if (l.kind == "backends") return format_backend_list(l.items);
         if (l.kind == "workloads") return format_workload_list(l.items);
         if (l.kind == "suites") return format_suite_list(l.items);
         return make_error("no table for a listing of '" + l.kind + "'");
       }},
      {"json", [](const Listing& l) -> Result<std::string> {
         return json{{l.kind, l.items}}.dump(2) + "\n";
       }}};
  return t;
}

// A family of two formats: a text table and JSON dumped with `indent`.
template <class Doc>
ReporterTable<Doc> table_and_json(std::string (*table)(const Doc&), json (*to_json)(const Doc&),
                                  int indent) {
  return {{"table", [table](const Doc& d) -> Result<std::string> { return table(d); }},
          {"json", [to_json, indent](const Doc& d) -> Result<std::string> {
             return to_json(d).dump(indent) + "\n";
           }}};
}

std::string tuning_table(const TuneListing& t) {
  return format_tune_listing(t.winners, t.store_path);
}
json tuning_json(const TuneListing& t) {
  return tune_listing_json(t.winners);
}
json model_json(const ModelListing& m) {
  return m.figures;
}
json calibration_json(const profiles::Calibration& c) {
  return profiles::to_json(c);
}
std::string decision_evaluations_text(const DecisionEvaluations& v) {
  std::string s;
  for (const auto& ev : v) s += format_decision_evaluation(ev);
  return s;
}
json decisions_json(const DecisionEvaluations& v) {
  json j = json::array();
  for (const auto& ev : v) j.push_back(decision_evaluation_json(ev));
  return j;
}

}  // namespace

std::unique_ptr<Reporter<TuneListing>> tuning_reporter(std::string_view format) {
  static const auto t = table_and_json<TuneListing>(tuning_table, tuning_json, 2);
  return pick<TuneListing>(t, format);
}
std::unique_ptr<Reporter<ModelListing>> model_reporter(std::string_view format) {
  static const auto t = table_and_json<ModelListing>(format_model_listing, model_json, 2);
  return pick<ModelListing>(t, format);
}
std::unique_ptr<Reporter<profiles::Calibration>> calibration_reporter(std::string_view format) {
  static const auto t =
      table_and_json<profiles::Calibration>(format_calibration, calibration_json, 1);
  return pick<profiles::Calibration>(t, format);
}
std::unique_ptr<Reporter<Prediction>> prediction_reporter(std::string_view format) {
  static const auto t = table_and_json<Prediction>(format_prediction, prediction_json, 1);
  return pick<Prediction>(t, format);
}
std::unique_ptr<Reporter<PredictorValidation>> validation_reporter(std::string_view format) {
  static const auto t = table_and_json<PredictorValidation>(format_predictor_validation,
                                                            predictor_validation_json, 1);
  return pick<PredictorValidation>(t, format);
}
std::unique_ptr<Reporter<DecisionEvaluations>> decision_reporter(std::string_view format) {
  static const auto t =
      table_and_json<DecisionEvaluations>(decision_evaluations_text, decisions_json, 2);
  return pick<DecisionEvaluations>(t, format);
}

std::unique_ptr<Reporter<Listing>> listing_reporter(std::string_view format) {
  return pick<Listing>(listings(), format);
}
const std::vector<std::string>& listing_formats() {
  static const auto v = names<Listing>(listings());
  return v;
}

std::unique_ptr<Reporter<compare::Comparison>> comparison_reporter(std::string_view format) {
  return pick<compare::Comparison>(comparisons(), format);
}
std::unique_ptr<Reporter<StoredRun>> run_reporter(std::string_view format) {
  return pick<StoredRun>(runs(), format);
}
std::unique_ptr<Reporter<json>> probe_reporter(std::string_view format) {
  return pick<json>(probes(), format);
}

const std::vector<std::string>& comparison_formats() {
  static const auto v = names<compare::Comparison>(comparisons());
  return v;
}
const std::vector<std::string>& run_formats() {
  static const auto v = names<StoredRun>(runs());
  return v;
}
const std::vector<std::string>& probe_formats() {
  static const auto v = names<json>(probes());
  return v;
}

}  // namespace tb::reports
