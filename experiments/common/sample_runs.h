#pragma once
// The pieces run_cw and run_blackbox share: which samples of a split are attacked (the first N
// or an --indices file), the loop over them in batches with the clean forward pass that decides
// which are attacked, the per-sample rows of a run keyed by sample index, its files (written
// atomically) and --resume's check that an earlier run was made with the same options.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "experiments/common/record.h"
#include "framework/data/dataset.h"
#include "framework/dist/dist.h"
#include "framework/io/atomic_file.h"
#include "framework/nn/module.h"

namespace oa::experiments {

// The sample indices listed in `path`, in file order: a text file with one index a line (blank
// lines are skipped) or a .npy of int64 (any shape, flattened). Throws, naming the file and the
// value, on a value that is not an integer, one outside [0, split_size), a repeat, or no index.
std::vector<std::int64_t> read_indices(const std::string& path, std::int64_t split_size);

// The split of the data set a model was trained on (as its checkpoint's metadata says) and the
// samples of it that a run attacks: those listed by the file `indices` (read_indices) when it
// is given, else the first n.
struct AttackData {
  data::Dataset d;
  std::vector<std::int64_t> samples;  // indices into d
};
AttackData load_attack_data(const nlohmann::json& metadata, const std::string& data_dir, const std::string& split,
                            std::int64_t n, const std::string& indices);

// A batch of samples with its clean forward pass.
struct CleanBatch {
  std::vector<std::int64_t> indices;  // indices into the split
  Tensor x, y;                        // their images and labels, on the host
  std::vector<std::int64_t> labels;
  std::vector<bool> correct;          // classified correctly, hence attacked
  std::int64_t classes = 0;
};

// Cuts `samples` into consecutive batches of `batch_size`, keeps of each batch the samples
// for which `pending` is true, and calls `body` with them and the model's verdict on them
// (eval, no gradient, on `device`); a batch with nothing pending is skipped.
void for_each_clean_batch(nn::Module& model, Device device, const data::Dataset& d,
                          const std::vector<std::int64_t>& samples, std::int64_t batch_size,
                          const std::function<bool(std::int64_t)>& pending,
                          const std::function<void(const CleanBatch&)>& body);

// ---- runs of several ranks (mpirun): each attacks its share, rank 0 gathers -------------------

// The samples of the batches this rank attacks: `samples` cut into consecutive batches of
// `batch_size` (as for_each_clean_batch cuts them), batch b to rank b mod the world size
// (dist::shard). Every batch is the batch a single process attacks, so the per-sample results
// do not depend on the number of ranks. In a world of one: all of `samples`.
std::vector<std::int64_t> samples_of_my_batches(const std::vector<std::int64_t>& samples, std::int64_t batch_size);

// Where a rank keeps the rows it made while a run of several ranks goes on (rewritten after
// every batch, so a rank that dies loses only its batch in flight): dir/samples.rank-R.csv.
std::filesystem::path rank_rows_path(const std::filesystem::path& dir, int rank);
// Every dir/samples.rank-*.csv, of any world size (what an interrupted run left).
std::vector<std::filesystem::path> rank_rows_files(const std::filesystem::path& dir);
// Removes the rank files of dir once samples.csv holds their rows, with the temporaries a
// rank killed in the middle of rewriting its file left behind.
void remove_rank_files(const std::filesystem::path& dir);

// The samples.csv of a run: a record (record.h) per sample, in index order.
template <class Row>
using RowsByIndex = std::map<std::int64_t, Row>;

template <class Row>
std::string rows_csv(const RowsByIndex<Row>& rows) {
  std::string csv = csv_header<Row>();
  for (const auto& [index, row] : rows) csv += csv_line(row);
  return csv;
}

template <class Row>
RowsByIndex<Row> read_rows(const std::filesystem::path& path) {
  RowsByIndex<Row> rows;
  for (const Row& row : read_csv<Row>(path.string())) rows[row.index] = row;
  return rows;
}

// --resume: adds the rows an interrupted run of several ranks left in dir/samples.rank-*.csv.
template <class Row>
void add_rank_rows(const std::filesystem::path& dir, RowsByIndex<Row>& rows) {
  for (const auto& path : rank_rows_files(dir))
    for (const Row& row : read_csv<Row>(path.string())) rows[row.index] = row;
}

// Every rank's `made` rows reach rank 0, which adds them to `rows` (the others' `rows` are left
// as they are). Collective: every rank calls it.
template <class Row>
void gather_rows(const RowsByIndex<Row>& made, RowsByIndex<Row>& rows) {
  const auto texts = dist::gather_text(rows_csv(made));
  for (std::size_t r = 0; r < texts.size(); ++r)
    for (const Row& row : read_csv_text<Row>(texts[r], fmt::format("the rows of rank {}", r))) rows[row.index] = row;
}

// Writes dir/summary.json (indented), then dir/samples.csv, each atomically; creates dir.
void write_run_files(const std::filesystem::path& dir, const std::string& csv, const nlohmann::json& summary);

// --resume: the summary.json of the earlier run in `dir`, or null when dir has no samples.csv
// (nothing to resume). Throws when there is one but `resume` is false, or when its summary
// differs from `expected` in any of expected's keys (the run's identity and options).
nlohmann::json earlier_summary(const std::filesystem::path& dir, const nlohmann::json& expected, bool resume);

// The rows of one run (one attack, at one radius) in its directory, in a world of one or of
// several ranks. One rank rewrites samples.csv and summary.json after every batch. Several
// ranks each attack their share (samples_of_my_batches) and rewrite only their own
// samples.rank-R.csv after every batch; at the end rank 0 gathers every rank's rows and
// seconds and writes the files one rank writes. The caller's summary is computed from `rows`.
template <class Row>
struct ShardedRun {
  std::filesystem::path dir;  // empty: nothing is written
  RowsByIndex<Row> rows;      // every row this rank knows (all of them on rank 0 after gather())
  RowsByIndex<Row> made;      // the rows this rank made in this invocation
  double resumed_seconds = 0;  // spent by the earlier invocations
  double seconds = 0;          // spent by this rank in this invocation (by all, after gather())

  double total_seconds() const { return resumed_seconds + seconds; }

  // Adds the batch's rows at `indices` (already in `rows`) to those this rank made.
  void mark_made(const std::vector<std::int64_t>& indices) {
    for (const std::int64_t index : indices) made[index] = rows.at(index);
  }
  // After every batch.
  void write(const nlohmann::json& summary) const {
    if (dir.empty()) return;
    if (dist::world_size() == 1)
      write_run_files(dir, rows_csv(rows), summary);
    else
      io::write_file_atomic(rank_rows_path(dir, dist::rank()).string(), rows_csv(made));
  }
  // --resume: the rows and seconds of an earlier run whose summary agrees with `expected`,
  // with the rows its ranks left in their own files if it was interrupted. Every rank reads
  // them; then consolidate() on rank 0, between two barriers, folds the rank files in.
  void resume(const nlohmann::json& expected, bool allowed) {
    if (dir.empty()) return;
    const nlohmann::json earlier = earlier_summary(dir, expected, allowed);
    if (earlier.is_null()) return;
    rows = read_rows<Row>(dir / "samples.csv");
    add_rank_rows(dir, rows);
    resumed_seconds = earlier.value("seconds", 0.0);
    std::printf("resume: %zu samples already done in %s\n", rows.size(), (dir / "samples.csv").string().c_str());
  }
  // Rank 0 writes the run's files with every row known and removes the ranks' own files.
  void consolidate(const nlohmann::json& summary) const {
    if (dir.empty() || dist::rank() != 0) return;
    write_run_files(dir, rows_csv(rows), summary);
    remove_rank_files(dir);
  }
  // The end of a run of several ranks: rank 0 gathers every rank's rows; seconds become the
  // sum over ranks. Collective.
  void gather() {
    gather_rows(made, rows);
    std::vector<double> total = {seconds};
    dist::all_reduce_sum(total);
    seconds = total[0];
  }
};

// After every rank's resume(): rank 0 rewrites each run's files as one (several ranks only).
// `consolidate(run)` calls run's consolidate with its summary. Collective.
template <class Runs, class Consolidate>
void consolidate_after_resume(const Runs& runs, Consolidate&& consolidate) {
  if (dist::world_size() == 1) return;
  dist::barrier();
  for (const auto& run : runs) consolidate(run);
  dist::barrier();
}

// {mean, median, mean_ci95} of values (all 0 when there are none), as summary.json reports
// distances.
nlohmann::json mean_median_json(const std::vector<double>& values);

}  // namespace oa::experiments
