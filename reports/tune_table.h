// tierbench tune's documents: the winners table it prints row by row as it tunes, and the
// listing of the stored winners (`tune --list`, reporter family "tuning" in reporter.h).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tuning.h"

namespace tb::reports {

// A stored or fresh winner as JSON (also the line a tuning child reports to its parent).
nlohmann::json winner_json(const TuneWinner& w);

// The winners table: its header, a winner (with a note: reused, tuned, cut short), and a class
// that has no winner (with the reason).
std::string tune_table_header();
std::string tune_table_row(const TuneWinner& w, const std::string& note);
std::string tune_table_untuned_row(const TuneKey& key, const std::string& why);

// The stored winners, one table per backend, device, driver and kernel (`tune --list`).
std::string format_tune_listing(const std::vector<TuneWinner>& winners,
                                const std::string& store_path);
nlohmann::json tune_listing_json(const std::vector<TuneWinner>& winners);

}  // namespace tb::reports
