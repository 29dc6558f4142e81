//! The file schema: dataset paths, attribute names and units that writers and readers
//! share (the layout of every file is described in docs/output-files.md).

use crate::clock::utc_now;
use std::path::Path;

/// Root attribute: the crate version.
pub const ATTR_VERSION: &str = "tufield_version";
/// Root attribute: the scenario TOML after overrides.
pub const ATTR_SCENARIO: &str = "scenario";
/// Root attribute: the command that wrote the file (`solve`, `lq`, `simulate`, `compare`).
pub const ATTR_COMMAND: &str = "command";
/// Root attribute: the scenario name.
pub const ATTR_NAME: &str = "name";
/// Root attribute: the labels of the reduced coordinates (coalitions such as `{1,2}`).
pub const ATTR_AXIS_LABELS: &str = "axis_labels";
/// Root attribute of modal solves: `reduction = "modal"`.
pub const ATTR_REDUCTION: &str = "reduction";
/// Group and dataset attribute: a label (a coalition, never a dimension name).
pub const ATTR_LABEL: &str = "label";
/// CF attribute: a descriptive name.
pub const ATTR_LONG_NAME: &str = "long_name";
/// CF attribute: units (UDUNITS; `1` for dimensionless).
pub const ATTR_UNITS: &str = "units";
/// Attribute of groups and datasets: what they hold, in words.
pub const ATTR_NOTE: &str = "note";
/// Attribute of the heuristics' groups: the rate θ of the internal model or of the
/// second-order consensus (43).
pub const ATTR_THETA: &str = "theta";

/// Root attribute of solve files: the run's outcome (`converged`, `max_iter`, …).
pub const ATTR_STATUS: &str = "status";
/// Root attribute of solve and simulate files: the worker threads of the run.
pub const ATTR_THREADS: &str = "threads";
/// Root attribute of solve, lq and compare files: how the LQ results relate to the model.
pub const ATTR_LQ_NOTE: &str = "lq_note";
/// Root attribute of solve files: the largest mass on the walls over populations and
/// times.
pub const ATTR_BOUNDARY_MASS: &str = "boundary_mass";
/// Root attribute of solve files: the fixed-point iterations done.
pub const ATTR_ITERATIONS: &str = "iterations";
/// Root attribute of solve files: the last fixed-point residual.
pub const ATTR_RESIDUAL: &str = "residual";
/// Root attribute of solve files: the largest |mass − 1|.
pub const ATTR_MASS_ERROR: &str = "mass_error";
/// Root attribute of solve files: max |m̄_PDE − m̄_exact LQ|.
pub const ATTR_LQ_MEAN_DISTANCE: &str = "lq_mean_distance";
/// Root attribute of solve files: the fixed-point tolerance.
pub const ATTR_TOL: &str = "tol";
/// Attribute of a grid axis (`/grid/x<i>`, `/modes/<i>/grid`): its first node.
pub const ATTR_LO: &str = "lo";
/// Attribute of a grid axis: its last node.
pub const ATTR_HI: &str = "hi";
/// Attribute of a grid axis: its node spacing.
pub const ATTR_SPACING: &str = "spacing";

/// Value of the root attribute `command` of `tufield solve` files.
pub const COMMAND_SOLVE: &str = "solve";
/// Value of the root attribute `command` of `tufield lq` files.
pub const COMMAND_LQ: &str = "lq";
/// Value of the root attribute `command` of `tufield simulate` files.
pub const COMMAND_SIMULATE: &str = "simulate";
/// Value of the root attribute `command` of `tufield compare` files.
pub const COMMAND_COMPARE: &str = "compare";

/// CF root attribute: the conventions followed ([`CONVENTIONS`]).
pub const ATTR_CONVENTIONS: &str = "Conventions";
/// CF root attribute: what the file holds, in words.
pub const ATTR_TITLE: &str = "title";
/// CF root attribute: the program that wrote the file.
pub const ATTR_SOURCE: &str = "source";
/// CF root attribute: when and by which command line the file was written.
pub const ATTR_HISTORY: &str = "history";

/// CF conventions version written at the root.
pub const CONVENTIONS: &str = "CF-1.10";

/// `/time`: the time levels t_n = n·T/steps (coordinate variable).
pub const TIME: &str = "time";
/// `/snapshot_time`: the times of the stored snapshots (coordinate variable).
pub const SNAPSHOT_TIME: &str = "snapshot_time";
/// `/snapshot_level`: the time level of each snapshot.
pub const SNAPSHOT_LEVEL: &str = "snapshot_level";
/// `long_name` of `/time`.
pub const TIME_LONG_NAME: &str = "model time t_n = n·T/steps";
/// Units of model time, coordinates and costs (the model is dimensionless).
pub const DIMENSIONLESS: &str = "1";
/// Units of wall times (UDUNITS seconds).
pub const SECONDS: &str = "s";
/// `/grid`: the grid group (datasets `x<i>` with attributes label, lo, hi, spacing).
pub const GRID: &str = "grid";
/// `/populations`: one group per population.
pub const POPULATIONS: &str = "populations";
/// Snapshot dataset: the density m_k(t, x).
pub const DENSITY: &str = "density";
/// Snapshot dataset: the value v_k(t, x).
pub const VALUE: &str = "value";
/// Dataset: the mean path m̄_k (steps+1, d).
pub const MEAN: &str = "mean";
/// Population dataset: the expected cost J_k = ∫ v_k(0, x) m_k(0, x) dx (scalar).
pub const EXPECTED_COST: &str = "expected_cost";
/// Snapshot dataset of a solve: the designer's allocation drift (snapshots, d, grid…).
pub const ALLOCATION_DRIFT: &str = "allocation_drift";
/// Snapshot dataset of a solve: the worst-case disturbance drift (snapshots, d, grid…).
pub const DISTURBANCE_DRIFT: &str = "disturbance_drift";
/// Population dataset of a solve: the mass of m_k(t_s) in the core (snapshots).
pub const CORE_FRACTION: &str = "core_fraction";
/// Population dataset of a solve: the exact LQ expected cost (scalar; LQ models only).
pub const EXPECTED_COST_LQ: &str = "expected_cost_lq";
/// Error estimate: the estimated error of the mean path (steps+1, d).
pub const MEAN_ERROR: &str = "mean_error";
/// Error estimate: the extrapolated mean path (steps+1, d).
pub const MEAN_EXTRAPOLATED: &str = "mean_extrapolated";
/// Error estimate: the estimated error of the value snapshots.
pub const VALUE_ERROR: &str = "value_error";
/// Error estimate: the extrapolated value snapshots.
pub const VALUE_EXTRAPOLATED: &str = "value_extrapolated";
/// Error estimate: the estimated error of the density snapshots.
pub const DENSITY_ERROR: &str = "density_error";
/// Population attribute of the error estimate: the estimated error of `expected_cost`.
pub const ATTR_EXPECTED_COST_ERROR: &str = "expected_cost_error";
/// Population attribute of the error estimate: the extrapolated `expected_cost`.
pub const ATTR_EXPECTED_COST_EXTRAPOLATED: &str = "expected_cost_extrapolated";
/// `/error_estimate`: the group of the error estimate's settings and maxima.
pub const ERROR_ESTIMATE: &str = "error_estimate";
/// `/error_estimate/coarse_points`: points per axis of the coarse grid.
pub const COARSE_POINTS: &str = "coarse_points";
/// Population dataset: the target path ρ_k (steps+1, d).
pub const TARGET: &str = "target";
/// Population dataset: the covariance of m_k (steps+1, d, d).
pub const COV: &str = "cov";
/// Population dataset: the mass of m_k (steps+1).
pub const MASS: &str = "mass";
/// Population dataset: the mass on the boundary nodes (steps+1).
pub const BOUNDARY_MASS: &str = "boundary_mass";
/// `/fixed_point`: the fixed-point history of a solve.
pub const FIXED_POINT: &str = "fixed_point";
/// `/fixed_point/residual`: the residual per iteration.
pub const FIXED_POINT_RESIDUAL: &str = "fixed_point/residual";
/// `/model`: the model's matrices (`lq` and `solve` files).
pub const MODEL: &str = "model";
/// `/lq`: the LQ oracle (`lq` and `solve` files; in `compare` files the exact LQ paths).
pub const LQ: &str = "lq";
/// `/lq/exact`: the exact LQ equilibrium.
pub const LQ_EXACT: &str = "lq/exact";
/// `/lq/heuristic`: the paper's heuristics.
pub const LQ_HEURISTIC: &str = "lq/heuristic";
/// `/lq/heuristic/augmented_state`: the Section 5 heuristic.
pub const LQ_AUGMENTED_STATE: &str = "lq/heuristic/augmented_state";
/// `/lq/heuristic/consensus`: the Section 7 heuristic.
pub const LQ_CONSENSUS: &str = "lq/heuristic/consensus";
/// `/pde` of `compare` files: the full-PDE equilibrium.
pub const PDE: &str = "pde";
/// `/heuristic` of `simulate` and `compare` files: the heuristic's macroscopic paths.
pub const HEURISTIC: &str = "heuristic";
/// `/heuristic/internal_model` of `simulate` files.
pub const HEURISTIC_INTERNAL_MODEL: &str = "heuristic/internal_model";
/// `/heuristic/second_order` of `simulate` files.
pub const HEURISTIC_SECOND_ORDER: &str = "heuristic/second_order";
/// `/study` of `simulate --study` files.
pub const STUDY: &str = "study";
/// `/epsilon_nash` of `simulate --epsilon-nash` files.
pub const EPSILON_NASH: &str = "epsilon_nash";
/// Simulate population dataset: the copies' states (copies shown, steps+1, d).
pub const TRAJECTORIES: &str = "trajectories";
/// Simulate population dataset: the copies' empirical mean (steps+1, d).
pub const EMPIRICAL_MEAN: &str = "empirical_mean";
/// Simulate population dataset: the copies' empirical covariance (steps+1, d, d).
pub const EMPIRICAL_COV: &str = "empirical_cov";
/// Simulate population dataset: the mean-field (N → ∞) mean (steps+1, d).
pub const MEAN_FIELD_MEAN: &str = "mean_field_mean";
/// Simulate population dataset: the copies' histogram on the grid (snapshots, grid…).
pub const HISTOGRAM: &str = "histogram";
/// `/modes`: the modes of a modal solve.
pub const MODES: &str = "modes";

// ---- Iteration histories: `/fixed_point` of solve files (also under each `/modes/<i>`),
// `/history` of checkpoints; one value per fixed-point iteration. ----

/// History dataset: the fixed-point residual ‖G(x) − x‖ (scaled sup-norm) per iteration.
pub const HISTORY_RESIDUAL: &str = "residual";
/// History dataset: the damping used by each iteration.
pub const HISTORY_DAMPING: &str = "damping";
/// History dataset: the wall time of each iteration (units `s`).
pub const HISTORY_WALL_S: &str = "wall_s";
/// History dataset (u8): 1 where the iteration took the Anderson step, 0 where it damped.
pub const HISTORY_ACCELERATED: &str = "accelerated";

// ---- Checkpoint files (`<out stem>.checkpoint.h5`, written by `tufield solve`). ----

/// Root attribute of checkpoints: the file kind, [`KIND_CHECKPOINT`].
pub const ATTR_KIND: &str = "kind";
/// Value of the root attribute `kind` of a checkpoint file.
pub const KIND_CHECKPOINT: &str = "checkpoint";
/// Root attribute of checkpoints: the number of Anderson pairs held (rows of `past_x`).
pub const ATTR_MEMORY: &str = "memory";
/// Root attribute of checkpoints: the length of the iterate `x`.
pub const ATTR_LENGTH: &str = "length";
/// Root attribute of checkpoints: the scenario path as given on the command line.
pub const ATTR_SCENARIO_FILE: &str = "scenario_file";
/// Root attribute of checkpoints: the absolute directory relative initial-law paths
/// resolve against.
pub const ATTR_BASE_DIR: &str = "base_dir";
/// Root attribute of checkpoints: the `--set` overrides (a string list; absent when none).
pub const ATTR_OVERRIDES: &str = "overrides";
/// Root attribute of checkpoints: the absolute output path of the run.
pub const ATTR_OUT: &str = "out";
/// Checkpoint dataset `/x` (length): the next iterate.
pub const CHECKPOINT_X: &str = "x";
/// Checkpoint dataset `/evaluated_x` (length): the point of the last completed
/// evaluation (absent before the first).
pub const CHECKPOINT_EVALUATED_X: &str = "evaluated_x";
/// Checkpoint dataset `/past_x` (memory, length): the Anderson memory of iterates (absent
/// when memory = 0).
pub const CHECKPOINT_PAST_X: &str = "past_x";
/// Checkpoint dataset `/past_f` (memory, length): the Anderson memory of map values
/// (absent when memory = 0).
pub const CHECKPOINT_PAST_F: &str = "past_f";
/// Checkpoint group `/history`: the iteration history (`HISTORY_*` datasets).
pub const CHECKPOINT_HISTORY: &str = "history";

// ---- Sweep summaries (`DIR/summary.nc` of `tufield sweep gather`; docs/output-files.md). ----

/// File name of a gathered sweep's summary in the sweep directory.
pub const SUMMARY_FILE: &str = "summary.nc";
/// Root attribute of summaries: the fixed `--set` overrides of every point (string list).
pub const SUMMARY_SWEEP_SET: &str = "sweep_set";
/// Root attribute of summaries: the number of points.
pub const SUMMARY_POINTS: &str = "points";
/// Root attribute of summaries: the infimum of admissible γ of condition (17) (Γ = γ²I).
pub const SUMMARY_CONDITION_17_MIN_GAMMA: &str = "condition_17_min_gamma";
/// Attribute of a summary's key coordinate: the TOML text of each value (string list).
pub const SUMMARY_VALUES: &str = "values";
/// CF attribute `comment` (a summary's key coordinate with non-numeric values).
pub const SUMMARY_COMMENT: &str = "comment";
/// CF attribute `coordinates`: the auxiliary coordinates of a zipped summary's variables.
pub const SUMMARY_COORDINATES: &str = "coordinates";
/// Summary dimension and coordinate variable of zipped sweeps: the point index.
pub const SUMMARY_POINT: &str = "point";
/// Summary dimension and coordinate variable: the population index (0-based).
pub const SUMMARY_POPULATION: &str = "population";
/// Attribute of the summary's `population`: the population names (string list).
pub const SUMMARY_NAMES: &str = "names";
/// Summary dimension and coordinate variable: the model's axis index.
pub const SUMMARY_MODEL_AXIS: &str = "model_axis";
/// Attribute of the summary's `model_axis`: the axis labels (string list).
pub const SUMMARY_LABELS: &str = "labels";
/// Summary variable (i8): the status code of each point.
pub const SUMMARY_STATUS: &str = "status";
/// CF attribute of the summary's `status`: the status codes.
pub const SUMMARY_FLAG_VALUES: &str = "flag_values";
/// CF attribute of the summary's `status`: the status names, space-separated.
pub const SUMMARY_FLAG_MEANINGS: &str = "flag_meanings";
/// Summary variable (i32): the exit code of each point's solve (-1: none).
pub const SUMMARY_EXIT_CODE: &str = "exit_code";
/// Summary variable (i64): the solve file's [`ATTR_ITERATIONS`] (-1: no result).
pub const SUMMARY_ITERATIONS: &str = ATTR_ITERATIONS;
/// Summary variable: the solve file's [`ATTR_RESIDUAL`] (units `1`; NaN: no result).
pub const SUMMARY_RESIDUAL: &str = ATTR_RESIDUAL;
/// Summary variable: the wall time of each point's solve (units `s`; NaN: no result).
pub const SUMMARY_WALL_TIME: &str = "wall_time";
/// Summary variable: the solve file's [`ATTR_MASS_ERROR`] (units `1`; NaN: no result).
pub const SUMMARY_MASS_ERROR: &str = ATTR_MASS_ERROR;
/// Summary variable: the solve file's [`ATTR_LQ_MEAN_DISTANCE`] (NaN: no result).
pub const SUMMARY_LQ_MEAN_DISTANCE: &str = ATTR_LQ_MEAN_DISTANCE;
/// Summary variable (points…, population, model_axis): m̄_k(T), the last row of each
/// population's [`MEAN`].
pub const SUMMARY_FINAL_MEAN: &str = "final_mean";
/// Summary variable (points…, population): each population's [`EXPECTED_COST`] J_k.
pub const SUMMARY_EXPECTED_COST: &str = EXPECTED_COST;

/// Dimension name of the reduced coordinates' index (`d`).
pub const DIM_AXIS: &str = "axis";
/// Dimension names of a d × d matrix.
pub const DIM_ROW: &str = "row";
/// Dimension names of a d × d matrix.
pub const DIM_COL: &str = "col";
/// Dimension name of the population index.
pub const DIM_POPULATION: &str = "population";
/// Dimension name of the fixed-point iterations.
pub const DIM_ITERATION: &str = "iteration";
/// Dimension name of the modes of a modal solve.
pub const DIM_MODE: &str = "mode";

/// Name of grid axis `i`: the root coordinate variable `/x<i>` and `/grid/x<i>`.
pub fn axis_name(i: usize) -> String {
    format!("x{i}")
}

/// Path of grid axis `i`: `grid/x<i>`.
pub fn grid_axis(i: usize) -> String {
    format!("{GRID}/x{i}")
}

/// Path of population `k`'s group: `populations/<k>`.
pub fn population(k: usize) -> String {
    format!("{POPULATIONS}/{k}")
}

/// Path of a dataset of population `k`: `populations/<k>/<name>`.
pub fn population_dataset(k: usize, name: &str) -> String {
    format!("{POPULATIONS}/{k}/{name}")
}

/// `<group>/populations`: the population groups under `group` (`lq/exact/populations`).
pub fn populations_in(group: &str) -> String {
    format!("{group}/{POPULATIONS}")
}

/// `<group>/populations/<k>`: the group of population `k` under `group`.
pub fn population_in(group: &str, k: usize) -> String {
    format!("{group}/{POPULATIONS}/{k}")
}

/// `<group>/populations/<k>/<name>`: a dataset of population `k` under `group`.
pub fn population_dataset_in(group: &str, k: usize, name: &str) -> String {
    format!("{group}/{POPULATIONS}/{k}/{name}")
}

/// `<group>/<name>`: a dataset or group inside `group`.
pub fn member(group: &str, name: &str) -> String {
    format!("{group}/{name}")
}

/// `/fields` of `compare` files: the fields of each population at t = 0 (also under each
/// `/modes/<i>` of a modal comparison).
pub const FIELDS: &str = "fields";

/// Path of population `k`'s fields in a `compare` file: `fields/<k>`.
pub fn fields(k: usize) -> String {
    format!("{FIELDS}/{k}")
}

/// Path of mode `i`'s group in a modal solve: `modes/<i>`.
pub fn mode(i: usize) -> String {
    format!("{MODES}/{i}")
}

/// Path of a dataset of population `k` of mode `i`: `modes/<i>/populations/<k>/<name>`.
pub fn mode_population_dataset(i: usize, k: usize, name: &str) -> String {
    format!("{MODES}/{i}/{POPULATIONS}/{k}/{name}")
}

/// The CF root attributes of a file written to `dest` from `scenario_text`:
/// `Conventions`, `title` (the scenario's `name`, else the file stem), `source` (the
/// tufield version) and `history` (UTC time and command line).
pub fn cf_root_attributes(dest: &Path, scenario_text: &str) -> Vec<(&'static str, String)> {
    let name = toml::from_str::<toml::Table>(scenario_text)
        .ok()
        .and_then(|t| t.get("name").and_then(|v| v.as_str().map(str::to_string)))
        .or_else(|| dest.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().collect();
    vec![
        (ATTR_CONVENTIONS, CONVENTIONS.to_string()),
        (ATTR_TITLE, format!("tufield output: {name}")),
        (
            ATTR_SOURCE,
            format!("tufield {}", crate::h5::TUFIELD_VERSION),
        ),
        (ATTR_HISTORY, format!("{} {}", utc_now(), args.join(" "))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_now_is_an_iso_timestamp() {
        let s = utc_now();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20") && s.ends_with('Z') && s.as_bytes()[10] == b'T');
    }

    #[test]
    fn root_attributes_take_the_scenario_name() {
        let a = cf_root_attributes(Path::new("out/x.h5"), "name = \"abc\"\n");
        assert_eq!(a[0], ("Conventions", "CF-1.10".to_string()));
        assert_eq!(a[1].1, "tufield output: abc");
        let b = cf_root_attributes(Path::new("out/x.h5"), "not toml [");
        assert_eq!(b[1].1, "tufield output: x");
    }
}
