//! The file schema: dataset paths, attribute names and units that writers and readers
//! share (the layout of every file is described in docs/output-files.md).

use crate::clock::utc_now;
use std::path::Path;

// ---- Attributes shared by every file kind. ----

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

// ---- Solve files: the run's root attributes (some shared with simulate, lq, compare), and
// the attributes of grid axes. ----

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

// ---- Values of the root attribute `command`. ----

/// Value of the root attribute `command` of `tufield solve` files.
pub const COMMAND_SOLVE: &str = "solve";
/// Value of the root attribute `command` of `tufield lq` files.
pub const COMMAND_LQ: &str = "lq";
/// Value of the root attribute `command` of `tufield simulate` files.
pub const COMMAND_SIMULATE: &str = "simulate";
/// Value of the root attribute `command` of `tufield compare` files.
pub const COMMAND_COMPARE: &str = "compare";

// ---- CF root attributes (every file). ----

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

// ---- Coordinates, units, groups and datasets of solve, lq, simulate and compare files. ----

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

// ---- Sweep summaries (`DIR/summary.nc` of `tufield sweep gather`). ----

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

// ---- Solve files (`tufield solve`): root, population and `/fixed_point` attributes. ----

/// Root attribute of solve files: the weight of the core penalty in the running cost
/// (`cost.core_penalty`).
pub const ATTR_CORE_PENALTY: &str = "core_penalty";
/// Root attribute of solve files: the bound on each allocation |u_i| (`bounds.allocation`;
/// +∞ when unbounded).
pub const ATTR_ALLOCATION_BOUND: &str = "allocation_bound";
/// Root attribute of solve files: the bound on the disturbance |w| (`bounds.disturbance`;
/// +∞ when unbounded).
pub const ATTR_DISTURBANCE_BOUND: &str = "disturbance_bound";
/// Attribute (root of solve, modal and simulate files; `/model`): the number of time steps.
pub const ATTR_STEPS: &str = "steps";
/// Root attribute of solve files: the finite-difference scheme (`solver.scheme`).
pub const ATTR_SCHEME: &str = "scheme";
/// Population group attribute of solve files: the kind of the initial law
/// (`population.kind`).
pub const ATTR_INITIAL_KIND: &str = "initial_kind";
/// Population group attribute of solve files: the factor that normalised the initial
/// density to mass 1 on the grid.
pub const ATTR_NORMALISATION: &str = "normalisation";
/// Population group attribute of solve files (second-order scheme, only when the density
/// went negative): the most negative nodal value.
pub const ATTR_NEGATIVE_DENSITY_MIN: &str = "negative_density_min";
/// Population group attribute of solve files: the time level of `negative_density_min`.
pub const ATTR_NEGATIVE_DENSITY_LEVEL: &str = "negative_density_level";
/// Population group attribute of solve files: the coordinates of the node of
/// `negative_density_min` (string list, one per axis).
pub const ATTR_NEGATIVE_DENSITY_POINT: &str = "negative_density_point";
/// Population group attribute of solve files: the mass of the negative part of the density
/// at that level.
pub const ATTR_NEGATIVE_MASS: &str = "negative_mass";
/// Attribute of `/fixed_point` and of each `/modes/<i>`: how the fixed point ended
/// (`converged`, `max_iterations`, …).
pub const ATTR_OUTCOME: &str = "outcome";
/// Attribute of `/fixed_point`: the damping setting (`solver.damping`).
pub const ATTR_DAMPING: &str = "damping";
/// Attribute of `/fixed_point`: the acceleration setting (`solver.acceleration`).
pub const ATTR_ACCELERATION: &str = "acceleration";

// ---- Modal solves and modal comparisons (`reduction = "modal"`): `/modes`. ----

/// Value of the root attribute [`ATTR_REDUCTION`] of modal files.
pub const REDUCTION_MODAL: &str = "modal";
/// Attribute of `/modes` of modal solves: the number of modes.
pub const ATTR_COUNT: &str = "count";
/// Root attribute of modal `compare` files: the number of modes.
pub const ATTR_MODES: &str = "modes";
/// Dataset of `/modes` (mode): the eigenvalues λ_i of the drift matrix.
pub const EIGENVALUES: &str = "eigenvalues";
/// Dataset of `/modes` (axis, mode): the eigenvectors U (x = U y).
pub const EIGENVECTORS: &str = "eigenvectors";
/// Dataset of `/modes` of modal solves (mode): the diagonal of UᵀQU; also the attribute q
/// of each `/modes/<i>`.
pub const MODE_Q: &str = "q";
/// Dataset of `/modes` of modal solves (mode): the diagonal of UᵀSU; also the attribute s
/// of each `/modes/<i>`.
pub const MODE_S: &str = "s";
/// Attribute of `/modes/<i>`: the mode's eigenvalue λ_i.
pub const ATTR_EIGENVALUE: &str = "eigenvalue";
/// Mode population dataset (steps+1): the variance of the mode's density.
pub const VARIANCE: &str = "variance";

// ---- The LQ oracle (`/model` and `/lq` of `lq` and `solve` files). ----

/// `/model` dataset (d, d): the drift matrix A.
pub const MODEL_A: &str = "a";
/// `/model` dataset (d, d): the state cost weight Q.
pub const MODEL_Q: &str = "q";
/// `/model` dataset (d, d): the terminal cost weight S.
pub const MODEL_S: &str = "s";
/// `/model` attribute: the noise intensity σ.
pub const ATTR_SIGMA: &str = "sigma";
/// `/model` attribute: the horizon T (model time, units `1`).
pub const ATTR_HORIZON: &str = "horizon";
/// `/lq/exact` attribute: the residual of the forward–backward system at t = 0.
pub const ATTR_RESIDUAL_INITIAL: &str = "residual_initial";
/// `/lq/exact` attribute: the residual of the forward–backward system at t = T.
pub const ATTR_RESIDUAL_TERMINAL: &str = "residual_terminal";
/// Dataset (steps+1, d, d) of `/lq/exact` and `/lq/heuristic/consensus`: the Riccati
/// solution φ(t).
pub const PHI: &str = "phi";
/// LQ population dataset (steps+1, d): the affine term h_k(t) of the value.
pub const LQ_H: &str = "h";
/// `/lq/exact` population dataset (steps+1): the scalar term χ_k(t) of the value.
pub const LQ_CHI: &str = "chi";
/// Attribute of the heuristics' groups and of `/error_estimate`: the method, in words.
pub const ATTR_METHOD: &str = "method";
/// `/lq/heuristic/augmented_state` attribute: whether Theorem 2's condition holds
/// (`satisfied`, `violated`).
pub const ATTR_THEOREM_2: &str = "theorem_2";
/// `/lq/heuristic/augmented_state` attribute: the largest eigenvalue of Theorem 2's
/// condition.
pub const ATTR_THEOREM_2_MAX_EIGENVALUE: &str = "theorem_2_max_eigenvalue";
/// `/lq/heuristic/augmented_state` dataset (steps+1, 2d, 2d): the game Riccati solution
/// P(t) of (20).
pub const AUGMENTED_P: &str = "p";
/// `/lq/heuristic/augmented_state` population dataset (steps+1, d): the mean when the
/// policy is fed the internal model m̃.
pub const MEAN_WITH_ESTIMATE: &str = "mean_with_estimate";
/// `/lq/heuristic/augmented_state` population dataset (steps+1, d): the internal model
/// m̃_k(t).
pub const ESTIMATE: &str = "estimate";

// ---- Error estimate (`/error_estimate` of solve files). ----

/// `/error_estimate` attribute: the order of the scheme the Richardson estimate assumes.
pub const ATTR_ORDER: &str = "order";
/// `/error_estimate` attribute: the time steps of the coarse solve.
pub const ATTR_COARSE_STEPS: &str = "coarse_steps";
/// `/error_estimate` attribute: the largest estimated error of the mean paths.
pub const ATTR_MEAN_ERROR_MAX: &str = "mean_error_max";
/// `/error_estimate` attribute: the largest estimated error of the expected costs.
pub const ATTR_COST_ERROR_MAX: &str = "cost_error_max";

// ---- Simulate files (`tufield simulate`). ----

/// Root attribute of simulate files: the number N of simulated copies.
pub const ATTR_COPIES: &str = "copies";
/// Root attribute of simulate files: the random seed.
pub const ATTR_SEED: &str = "seed";
/// Root attribute of simulate files: the policy played (`lq`, a solve file, …).
pub const ATTR_POLICY: &str = "policy";
/// Simulate population dataset (grid_axis): the state coordinate of each histogram grid
/// axis.
pub const STATE_AXES: &str = "state_axes";
/// Simulate population dataset (steps+1, d): the copies' empirical target path.
pub const EMPIRICAL_TARGET: &str = "empirical_target";
/// Simulate population dataset (steps+1, d): the N → ∞ limit of the simulated scheme (its
/// `note` says which: the Euler chain's exact mean, or the solve file's FPK mean).
pub const REFERENCE_MEAN: &str = "reference_mean";
/// Simulate population dataset (steps+1): the fraction of copies whose least-squares
/// allocation is in the core of `[game.values]`.
pub const ALLOCATION_CORE_FRACTION: &str = "allocation_core_fraction";
/// Attribute of the simulate `histogram`: how copies are deposited on the grid.
pub const ATTR_DEPOSIT: &str = "deposit";
/// Simulate population dataset (statistic): [mean, std] over the copies of the realised
/// cost.
pub const REALISED_COST: &str = "realised_cost";
/// Attribute of `realised_cost`: what its entries are.
pub const ATTR_ENTRIES: &str = "entries";
/// Attribute of `realised_cost`: the standard error of its mean.
pub const ATTR_STANDARD_ERROR: &str = "standard_error";
/// Dataset: the mean-field expected cost (simulate population: E[v_k(0, X0)], scalar;
/// `/epsilon_nash`: (epsilon_run, population)).
pub const MEAN_FIELD_COST: &str = "mean_field_cost";
/// Simulate population dataset (scalar): the exact expected realised cost of the Euler
/// chain as N → ∞.
pub const REFERENCE_COST: &str = "reference_cost";
/// Simulate population dataset (snapshots; with `--policy FILE`): Σ|histogram − FPK
/// density|·cell.
pub const DENSITY_L1: &str = "density_l1";
/// `/heuristic/second_order` attribute: the damping θ̃ of the consensus (43).
pub const ATTR_THETA_TILDE: &str = "theta_tilde";
/// `/heuristic/second_order` attribute: the damping θ̂ of the consensus (43).
pub const ATTR_THETA_HAT: &str = "theta_hat";
/// `/heuristic/second_order` attribute: the spectral radius of the consensus iteration.
pub const ATTR_SPECTRAL_RADIUS: &str = "spectral_radius";
/// `/heuristic/second_order` attribute: the iteration's stability (`stable` iff
/// `spectral_radius` < 1).
pub const ATTR_STABILITY: &str = "stability";
/// `/heuristic/second_order` dataset (steps+1, p, q): μ₂ of (43) (its `mean` is μ₁).
pub const INCREMENT: &str = "increment";
/// `/study` attribute: the log-log slope of `mean_deviation` against the copies.
pub const ATTR_MEAN_DEVIATION_SLOPE: &str = "mean_deviation_slope";
/// `/study` attribute: the log-log slope of `cost_gap` against the copies.
pub const ATTR_COST_GAP_SLOPE: &str = "cost_gap_slope";
/// `/study` attribute: the cost the gaps are measured against.
pub const ATTR_COST_REFERENCE: &str = "cost_reference";
/// `/study` attribute: the seeds averaged per run.
pub const ATTR_SEEDS: &str = "seeds";
/// `/study` attribute: the mean the deviations are measured against.
pub const ATTR_REFERENCE: &str = "reference";
/// Dataset of `/study` (study_run) and `/epsilon_nash` (epsilon_run): the copies N of each
/// run.
pub const COPIES: &str = "copies";
/// `/study` dataset (study_run): the deviation of the empirical mean from the reference.
pub const MEAN_DEVIATION: &str = "mean_deviation";
/// `/study` dataset (study_run): the gap of the realised cost to the reference cost.
pub const COST_GAP: &str = "cost_gap";
/// `/study` dataset (study_run): the bias part of `cost_gap` (its slope: attribute
/// `cost_bias_slope`).
pub const COST_BIAS: &str = "cost_bias";
/// `/study` dataset (study_run): the fluctuation part of `cost_gap` (its slope: attribute
/// `cost_fluctuation_slope`).
pub const COST_FLUCTUATION: &str = "cost_fluctuation";
/// `/epsilon_nash` attribute: the Monte Carlo replicates per run.
pub const ATTR_REPLICATES: &str = "replicates";
/// `/epsilon_nash` dataset (epsilon_run, population): the exact gain ε(N) of one
/// best-responding copy.
pub const EPSILON: &str = "epsilon";
/// `/epsilon_nash` dataset (epsilon_run, population): the best response's cost.
pub const BEST_RESPONSE_COST: &str = "best_response_cost";
/// `/epsilon_nash` dataset (epsilon_run, population): ε(N) from sampled paths.
pub const MONTE_CARLO_EPSILON: &str = "monte_carlo_epsilon";
/// `/epsilon_nash` dataset (epsilon_run, population): the standard error of
/// `monte_carlo_epsilon`.
pub const MONTE_CARLO_STANDARD_ERROR: &str = "monte_carlo_standard_error";
/// `/epsilon_nash` dataset (population): the limit ε(∞) (time-step floor).
pub const EPSILON_LIMIT: &str = "epsilon_limit";
/// `/epsilon_nash` dataset (population): the observed rate of ε(N) → ε(∞) (NaN where ε(N) −
/// ε(∞) is not positive at every N).
pub const RATE: &str = "rate";
/// Dimension name of the histogram's state axes.
pub const DIM_GRID_AXIS: &str = "grid_axis";
/// Dimension name (and label) of the copies shown in `trajectories`.
pub const DIM_COPY: &str = "copy";
/// Dimension name of `realised_cost` (mean, std).
pub const DIM_STATISTIC: &str = "statistic";
/// Dimension name of the runs of `/study`.
pub const DIM_STUDY_RUN: &str = "study_run";
/// Dimension name of the runs of `/epsilon_nash`.
pub const DIM_EPSILON_RUN: &str = "epsilon_run";

// ---- Compare files (`compare.h5` of `tufield compare`). ----

/// Root attribute of compare files: the policies compared (string list; the groups `/pde`,
/// `/lq`, `/heuristic`).
pub const ATTR_POLICIES: &str = "policies";
/// Root attribute of compare files: the fixed-point iterations of the full-PDE solve.
pub const ATTR_PDE_ITERATIONS: &str = "pde_iterations";
/// Root attribute of compare files: the definition of the robust cost, in words.
pub const ATTR_COST_DEFINITION: &str = "cost_definition";
/// Attribute of each policy group of compare files: the policy, in words.
pub const ATTR_DESCRIPTION: &str = "description";
/// Compare dataset: the robust cost per population of a policy (per mode: (policy,
/// population)).
pub const COST: &str = "cost";
/// Compare policy dataset (population): (J_π − J_PDE)/|J_PDE| (0 for `pde`).
pub const RELATIVE_COST_DIFFERENCE: &str = "relative_cost_difference";
/// Compare policy dataset (population): the robust cost without a grid (modal comparisons).
pub const EXACT_COST: &str = "exact_cost";
/// Attribute of `exact_cost` and `cost_error`: their definition, in words.
pub const ATTR_DEFINITION: &str = "definition";
/// `/pde` dataset of modal comparisons (population): the estimated discretisation error of
/// the cost.
pub const COST_ERROR: &str = "cost_error";
/// Compare policy population dataset (steps+1, d): the mean of a population whose designers
/// all play the policy in the full model.
pub const PLAYED_MEAN: &str = "played_mean";
/// `/lq` dataset of compare files (population): the LQ model's own value E[½Xᵀφ(0)X +
/// h_k(0)ᵀX + χ_k(0)] under m_k(0).
pub const RICCATI_COST: &str = "riccati_cost";
/// `/fields/<k>` dataset (axis, grid…): the PDE equilibrium's allocation drift at t = 0.
pub const DRIFT_PDE_T0: &str = "drift_pde_t0";
/// `/fields/<k>` dataset (axis, grid…): the linear LQ feedback's drift at t = 0.
pub const DRIFT_LQ_T0: &str = "drift_lq_t0";
/// `/fields/<k>` dataset (grid…): v_π(0, ·) − v_PDE(0, ·) for the LQ policy π.
pub const LOSS_LQ: &str = "loss_lq";
/// `/fields/<k>` dataset (grid…): v_π(0, ·) − v_PDE(0, ·) for the heuristic π.
pub const LOSS_HEURISTIC: &str = "loss_heuristic";
/// `/fields/<k>` dataset (grid…): the initial density m_k(0).
pub const INITIAL_DENSITY: &str = "initial_density";
/// Dimension name of the policies (pde, lq, heuristic) of a modal comparison's costs.
pub const DIM_POLICY: &str = "policy";

// ---- Paper reproductions (root attributes, scenarios with a `[paper]` table). ----

/// Root attribute: the paper's figure and section the scenario reproduces.
pub const ATTR_PAPER_FIGURE: &str = "paper_figure";
/// Root attribute: what the figure shows (`paper.shows`).
pub const ATTR_PAPER_CLAIM: &str = "paper_claim";
/// Root attribute: the verdict (`reproduced`, `departs`).
pub const ATTR_PAPER_CHECK: &str = "paper_check";
/// Root attribute: each check with what was computed and measured (` | `-separated).
pub const ATTR_PAPER_FINDINGS: &str = "paper_findings";
/// Root attribute: where and why the run departs from the figure (empty when it
/// reproduces it).
pub const ATTR_PAPER_DEPARTURE: &str = "paper_departure";
/// Root attribute: how the figure's policy reads the paper, in words.
pub const ATTR_PAPER_POLICY_NOTE: &str = "paper_policy_note";
/// Root attribute: the `--set` options that restore the paper's behaviour.
pub const ATTR_PAPER_RESTORE: &str = "paper_restore";

// ---- HDF5 and netCDF conventions. ----

/// Attribute of an HDF5 dimension scale: its dimension name (netCDF-C's `NAME`).
pub const ATTR_DIMENSION_SCALE_NAME: &str = "NAME";
/// Attribute of a quantized snapshot dataset: the significant bits kept by BitRound (an
/// `int`; the name netCDF-C gives it, [`super::quantize`]).
pub const ATTR_BITROUND: &str = "_QuantizeBitRoundNumberOfSignificantBits";
/// Placeholder name of a dimension that already has a scale attached (a grid axis):
/// [`crate::h5::AtomicH5::dims`] names only the dimensions without one.
pub const DIM_SCALED: &str = "x";

// ---- Dimension names (netCDF dimensions without a coordinate variable). ----

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

// ---- Paths built from the names above. ----

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

/// `<name>_slope`: the attribute of `/study` holding the log-log slope of its dataset
/// `name` against the copies (`cost_bias_slope`, `cost_fluctuation_slope`).
pub fn slope_of(name: &str) -> String {
    format!("{name}_slope")
}

/// `<group>/<k>`: the `k`-th group inside `group` (population `k` of a populations group
/// such as `lq/exact/populations`).
pub fn indexed(group: &str, k: usize) -> String {
    format!("{group}/{k}")
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
