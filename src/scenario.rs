//! Scenario files: TOML → validated [`Scenario`] (a solvers [`Model`] plus
//! [`SolverSettings`]).
//!
//! Pipeline: read the text, parse it to a TOML tree, apply `--set` overrides, deserialise
//! into `Raw*` structs (unknown keys refused everywhere), then check every value against
//! the dimension d and build the model. Every error names the scenario key
//! (`cost.q`, `population[2].std`; array indices in messages are 1-based). The format is
//! documented key by key in docs/scenario-format.md.

use crate::error::{AppError, AppResult};
use crate::initial::{self, FileData, InitialSpec};
use crate::overrides::{self, Override};
use crate::reduction::{self, GameSpec};
use crate::settings::{Domain, Points, SolverSettings};
use ndarray::{Array1, Array2};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::{Table, Value};
use tufield_solvers::fixed_point::Acceleration;
use tufield_solvers::game::{ControlWeight, DisturbanceWeight};
use tufield_solvers::graph::{Graph, GraphKind};
use tufield_solvers::hamiltonian::ControlLaw;
use tufield_solvers::linalg::{is_symmetric, symmetric_eigenvalues};
use tufield_solvers::modal::ModalDecomposition;
use tufield_solvers::model::{GaussianMixture, Model, Population, UniformBox};
use tufield_solvers::scheme::SchemeKind;
use tufield_solvers::SolverError;

pub mod paper;
pub mod values;
pub use paper::{PaperCheck, PaperRef};
pub use values::CoalitionValues;

pub use tufield_solvers::game::MAX_PLAYERS;
/// Largest grid dimension the PDE solver handles.
pub use tufield_solvers::grid::MAX_DIM;
/// Largest total number of grid points (guards against exhausting memory).
pub const MAX_GRID_POINTS: usize = 50_000_000;
/// Largest number of time steps.
pub const MAX_STEPS: usize = 1_000_000;

/// How the grid axes were obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum Reduction {
    /// A given directly in `[model]` (expert override).
    Expert,
    /// Projection of an n-player game onto the listed coalitions (docs/design.md §2).
    Projected(GameSpec),
    /// Exact modal decomposition of the full q-dimensional game (docs/design.md §2,
    /// `reduction = "modal"`): the spec lists all q coalitions in Table 1 order, the model
    /// is q-dimensional and is solved as q one-dimensional modes.
    Modal(GameSpec),
}

/// A validated scenario: the model the solvers consume, the numerical settings and the
/// provenance (file name, TOML text after overrides).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// File name used in messages (the path as given).
    pub source_name: String,
    /// `name` (default: the file stem).
    pub name: String,
    /// `description` (default empty).
    pub description: String,
    /// Where A came from.
    pub reduction: Reduction,
    /// The reduced model on d axes (for [`Reduction::Modal`]: the full model, d = q).
    pub model: Model,
    /// For [`Reduction::Modal`]: the common eigenbasis of A, Q, S and the mode coefficients
    /// (checked when the scenario loads).
    pub modal: Option<ModalDecomposition>,
    /// `[solver]` settings with defaults filled in.
    pub settings: SolverSettings,
    /// `[heuristic] theta`: rate θ ≥ 0 of the internal model m̃' = −θm̃ of the paper's
    /// Section 5 heuristic (19). Default [`DEFAULT_THETA`].
    pub theta: f64,
    /// `[heuristic] theta_tilde`: damping coefficient θ̃ ≥ 0 of the second-order consensus
    /// (43) (Section 8.2, Table 5). Default [`DEFAULT_THETA_TILDE`].
    pub theta_tilde: f64,
    /// `[heuristic] theta_hat`: damping coefficient θ̂ ≥ 0 of (43). Default
    /// [`DEFAULT_THETA_HAT`].
    pub theta_hat: f64,
    /// `[heuristic] internal_model_mean`: start m̃(0) of the internal model m̃' = −θm̃ of
    /// Section 8.1 (q numbers in coalition order), used by `simulate --policy
    /// internal-model` for every population; `None`: each population's own mean (the
    /// paper's m̃(0) = m̄(0)).
    pub internal_model_mean: Option<Vec<f64>>,
    /// How the graph was given ("chain", "edges", "single population").
    pub graph_kind: String,
    /// Margin of condition (17): −λ_max(A) > 0.
    pub margin: f64,
    /// With Γ = γ²I: the infimum of admissible γ (γ must exceed it).
    pub min_gamma: Option<f64>,
    /// The scenario TOML after `--set` overrides (stored in every output file).
    pub text: String,
    /// The overrides applied, as given on the command line.
    pub overrides: Vec<String>,
    /// Initial law of each population (`[[population]] kind`); the model's populations
    /// hold its mean and covariance (moment matching).
    pub initial: Vec<InitialSpec>,
    /// Directory that relative population `path`s are resolved against (the scenario
    /// file's directory).
    pub base_dir: PathBuf,
    /// `[bounds]`: ū on the allocations and w̄ on the disturbance (`None` = unbounded).
    pub bounds: Bounds,
    /// `[output]`: how the output files are written.
    pub output: crate::output::OutputSettings,
    /// `[game.values]`: the coalition values of the static TU game (`None` when absent).
    pub values: Option<CoalitionValues>,
    /// `[paper]`: the figure of the paper this scenario reproduces and how its claim is
    /// checked (`None` when absent).
    pub paper: Option<PaperRef>,
}

/// The `[bounds]` table: |ũ_i| ≤ ū (allocations) and |w_j| ≤ w̄ (disturbance).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bounds {
    /// `bounds.allocation` ū.
    pub allocation: Option<f64>,
    /// `bounds.disturbance` w̄.
    pub disturbance: Option<f64>,
}

impl Scenario {
    /// Reads, overrides, validates and builds the scenario at `path`.
    ///
    /// A missing or unreadable file is invalid input (exit 2): it is a bad argument.
    pub fn load(path: &Path, overrides: &[Override]) -> AppResult<Scenario> {
        let source_name = path.display().to_string();
        let bytes =
            crate::budget::read_capped(path, crate::budget::MAX_SCENARIO_BYTES).map_err(|e| {
                AppError::InvalidFile {
                    source_name: source_name.clone(),
                    message: format!("cannot read the scenario file: {e}"),
                }
            })?;
        let text = String::from_utf8(bytes).map_err(|_| AppError::InvalidFile {
            source_name: source_name.clone(),
            message: "cannot read the scenario file: it is not UTF-8 text (a TOML file \
                      is expected)"
                .to_string(),
        })?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string());
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::from_text_in(&source_name, &default_name, &text, overrides, base)
    }

    /// Builds a scenario from TOML `text`; `source_name` is used in messages and
    /// `default_name` when the file has no `name`.
    pub fn from_text(
        source_name: &str,
        default_name: &str,
        text: &str,
        overrides: &[Override],
    ) -> AppResult<Scenario> {
        Self::from_text_in(source_name, default_name, text, overrides, Path::new("."))
    }

    /// [`Scenario::from_text`] with relative population `path`s resolved against `base`.
    pub fn from_text_in(
        source_name: &str,
        default_name: &str,
        text: &str,
        overrides: &[Override],
        base: &Path,
    ) -> AppResult<Scenario> {
        let mut table: Table =
            text.parse()
                .map_err(|e: toml::de::Error| AppError::InvalidFile {
                    source_name: source_name.to_string(),
                    message: syntax_message(text, &e),
                })?;
        let stored_text = if overrides.is_empty() {
            text.to_string()
        } else {
            overrides::apply_all(&mut table, overrides)?;
            let body = toml::to_string(&table).map_err(|e| AppError::InvalidFile {
                source_name: source_name.to_string(),
                message: format!("cannot serialise the overridden scenario: {e}"),
            })?;
            let mut header = String::from("# scenario after command-line overrides:\n");
            for o in overrides {
                header.push_str(&format!("#   --set {}\n", o.text));
            }
            header + &body
        };
        crate::limits::check_magnitudes(source_name, &table)?;
        let raw: RawScenario =
            serde_path_to_error::deserialize(table).map_err(|e| serde_error(source_name, e))?;
        let mut scenario = build(source_name, raw, base)?;
        if scenario.name.is_empty() {
            scenario.name = default_name.to_string();
        }
        scenario.text = stored_text;
        scenario.overrides = overrides.iter().map(|o| o.text.clone()).collect();
        Ok(scenario)
    }

    /// Model dimension d (number of axes of the model; q for a modal scenario).
    pub fn dim(&self) -> usize {
        self.model.dim()
    }

    /// Dimension of the solver's grid: d, or 1 for a modal scenario (one 1-D grid per
    /// mode; `solver.points` is then per mode).
    pub fn grid_dim(&self) -> usize {
        if self.is_modal() {
            1
        } else {
            self.dim()
        }
    }

    /// True for `reduction = "modal"`.
    pub fn is_modal(&self) -> bool {
        matches!(self.reduction, Reduction::Modal(_))
    }

    /// What makes the model non-LQ (`cost.core_penalty`, `[bounds]`), e.g.
    /// "cost.core_penalty = 2, bounds.allocation = 0.5"; `None` for an LQ model.
    pub fn non_lq_terms(&self) -> Option<String> {
        let mut terms = Vec::new();
        if self.model.core_penalty > 0.0 {
            terms.push(format!("cost.core_penalty = {}", self.model.core_penalty));
        }
        if let Some(u) = self.bounds.allocation {
            terms.push(format!("bounds.allocation = {u}"));
        }
        if let Some(w) = self.bounds.disturbance {
            terms.push(format!("bounds.disturbance = {w}"));
        }
        (!terms.is_empty()).then(|| terms.join(", "))
    }

    /// The key a violation of condition (17) is reported under.
    pub fn ill_posed_key(&self) -> &'static str {
        ill_posed_key(&self.reduction)
    }
}

/// `[bounds]`: the control channels of a projected game with the allocation and
/// disturbance bounds (absent = unbounded). Bounds need a projected `[game]`: an expert A
/// has no designer/disturbance split and bounds do not separate into modes.
fn control_law(
    src: &str,
    reduction: &Reduction,
    bounds: Option<RawBounds>,
) -> AppResult<(Option<ControlLaw>, Bounds)> {
    let (mut alloc, mut dist) = (None, None);
    if let Some(b) = bounds {
        for (key, value, slot) in [
            ("bounds.allocation", b.allocation, &mut alloc),
            ("bounds.disturbance", b.disturbance, &mut dist),
        ] {
            if let Some(v) = value {
                *slot = Some(finite(
                    src,
                    key,
                    v,
                    |x| x > 0.0,
                    "the bound must be a finite number > 0 (leave the key out for no bound)",
                )?);
            }
        }
    }
    let key = if alloc.is_some() {
        "bounds.allocation"
    } else {
        "bounds.disturbance"
    };
    let bounded = alloc.is_some() || dist.is_some();
    let bounds = Bounds {
        allocation: alloc,
        disturbance: dist,
    };
    match reduction {
        Reduction::Projected(spec) => reduction::control_law(spec, alloc, dist)
            .map(|law| (Some(law), bounds))
            .map_err(|e| AppError::from_solver(src, key, e)),
        Reduction::Modal(_) if bounded => Err(AppError::invalid(
            src,
            key,
            "bounded controls do not separate into modes; use a projected reduction \
             (game.coalitions) or remove [bounds]",
        )),
        Reduction::Expert if bounded => Err(AppError::invalid(
            src,
            key,
            "bounds need [game]: with an expert [model] A the allocation and disturbance \
             channels are not known",
        )),
        _ => Ok((None, bounds)),
    }
}

fn ill_posed_key(reduction: &Reduction) -> &'static str {
    match reduction {
        Reduction::Expert => "model.a",
        Reduction::Projected(g) | Reduction::Modal(g) => match g.gamma {
            DisturbanceWeight::Gamma(_) => "cost.gamma",
            _ => "cost.gamma_matrix",
        },
    }
}

// ---------------------------------------------------------------------------------------
// Raw (deserialised, unchecked) form.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    game: Option<RawGame>,
    model: Option<RawModel>,
    cost: RawCost,
    noise: RawNoise,
    horizon: RawHorizon,
    #[serde(default)]
    population: Vec<RawPopulation>,
    graph: Option<RawGraph>,
    #[serde(default)]
    solver: RawSolver,
    #[serde(default)]
    heuristic: RawHeuristic,
    bounds: Option<RawBounds>,
    output: Option<RawOutput>,
    paper: Option<paper::RawPaper>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    compression: Option<String>,
    level: Option<i64>,
    significant_bits: Option<toml::Value>,
    feedback_fields: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBounds {
    allocation: Option<f64>,
    disturbance: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeuristic {
    theta: Option<f64>,
    theta_tilde: Option<f64>,
    theta_hat: Option<f64>,
    internal_model_mean: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGame {
    players: Option<i64>,
    coalitions: Option<Vec<Vec<i64>>>,
    reduction: Option<String>,
    values: Option<Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    a: Value,
    labels: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCost {
    q: Value,
    s: Value,
    r: Option<Value>,
    gamma: Option<f64>,
    gamma_matrix: Option<Value>,
    core_penalty: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNoise {
    sigma: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHorizon {
    t: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    name: Option<String>,
    kind: Option<String>,
    mean: Option<Vec<f64>>,
    std: Option<Vec<f64>>,
    cov: Option<Value>,
    weights: Option<Vec<f64>>,
    means: Option<Vec<Vec<f64>>>,
    stds: Option<Vec<Vec<f64>>>,
    covs: Option<Vec<Value>>,
    low: Option<Vec<f64>>,
    high: Option<Vec<f64>>,
    path: Option<String>,
    dataset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    kind: Option<String>,
    edges: Option<Vec<Vec<i64>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSolver {
    points: Option<Value>,
    steps: Option<i64>,
    domain: Option<Value>,
    damping: Option<f64>,
    tol: Option<f64>,
    max_iter: Option<i64>,
    acceleration: Option<String>,
    anderson_depth: Option<i64>,
    snapshot_every: Option<i64>,
    divergence_factor: Option<f64>,
    stagnation_window: Option<i64>,
    error_estimate: Option<bool>,
    scheme: Option<String>,
}

/// Top-level keys that are tables (for "missing table [x]" messages).
const TABLES: &[&str] = &[
    "game",
    "model",
    "cost",
    "noise",
    "horizon",
    "graph",
    "solver",
    "heuristic",
    "bounds",
    "output",
    "paper",
];

/// Default θ of the Section 5 heuristic's internal model m̃' = −θm̃ (the paper's first
/// scenario of Section 8.1).
pub const DEFAULT_THETA: f64 = 0.01;

/// Default damping θ̃ of the second-order consensus (43) (Table 5).
pub const DEFAULT_THETA_TILDE: f64 = 0.25;

/// Default damping θ̂ of the second-order consensus (43) (Table 5, first set).
pub const DEFAULT_THETA_HAT: f64 = 2.6;

// ---------------------------------------------------------------------------------------
// Error formatting.

fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            // Name the key of a duplicate (the span covers it).
            let key = text
                .get(span.clone())
                .map(|k| {
                    k.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .trim()
                })
                .filter(|k| msg.contains("duplicate") && !k.is_empty() && !msg.contains(k));
            match key {
                Some(k) => format!("TOML syntax error at line {line}, column {col}: {msg} `{k}`"),
                None => format!("TOML syntax error at line {line}, column {col}: {msg}"),
            }
        }
        None => format!("TOML syntax error: {msg}"),
    }
}

/// Formats a serde path as `a.b[2].c` with 1-based indices.
fn format_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{}]", index + 1)),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w.to_string())
        .collect()
}

/// The scenario `text` after `overrides`, checked only for its shape: TOML syntax, the
/// override paths, known keys and value types — no value ranges, no model. `tufield sweep`
/// uses it to refuse a bad sweep key or value (exit 2) before any point runs; the full
/// [`Scenario::from_text_in`] then decides whether each point is valid on its own.
pub fn overridden_text(source_name: &str, text: &str, overrides: &[Override]) -> AppResult<String> {
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| AppError::InvalidFile {
            source_name: source_name.to_string(),
            message: syntax_message(text, &e),
        })?;
    overrides::apply_all(&mut table, overrides)?;
    serde_path_to_error::deserialize::<_, RawScenario>(table.clone())
        .map_err(|e| serde_error(source_name, e))?;
    toml::to_string(&table).map_err(|e| AppError::InvalidFile {
        source_name: source_name.to_string(),
        message: format!("cannot serialise the overridden scenario: {e}"),
    })
}

fn serde_error(source_name: &str, e: serde_path_to_error::Error<toml::de::Error>) -> AppError {
    let path = format_path(e.path());
    let msg = e.inner().message().trim().to_string();
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        // serde_path_to_error records the unknown key itself as the last segment.
        let allowed = rest
            .split_once("expected ")
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        let names = backticked(&allowed);
        let allowed = if names.is_empty() {
            allowed
        } else {
            names.join(", ")
        };
        let parent_key = backticked(rest).first().cloned().unwrap_or_default();
        let key = if path.ends_with(&parent_key) {
            path
        } else if path.is_empty() {
            parent_key
        } else {
            format!("{path}.{parent_key}")
        };
        return AppError::invalid(
            source_name,
            key,
            format!("unknown key; allowed keys here: {allowed}"),
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let field = backticked(rest).first().cloned().unwrap_or_default();
        let key = if path.is_empty() {
            field.clone()
        } else {
            format!("{path}.{field}")
        };
        let message = if path.is_empty() && TABLES.contains(&field.as_str()) {
            format!("missing table [{field}]; it is required (see docs/scenario-format.md)")
        } else {
            "missing; this key is required (see docs/scenario-format.md)".to_string()
        };
        return AppError::invalid(source_name, key, message);
    }
    let key = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path
    };
    let msg = msg
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected a list [...]")
        .replace("expected struct ", "expected a table ");
    AppError::invalid(source_name, key, msg)
}

// ---------------------------------------------------------------------------------------
// Value helpers.

fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Boolean(_) => "a boolean".into(),
        Value::Datetime(_) => "a date".into(),
        Value::Table(_) => "a table".into(),
        Value::Array(rows) => {
            if rows.iter().all(|r| number(r).is_some()) {
                format!("a list of {} numbers", rows.len())
            } else if rows.iter().all(|r| matches!(r, Value::Array(_))) {
                let lens: Vec<usize> = rows
                    .iter()
                    .map(|r| r.as_array().map_or(0, |a| a.len()))
                    .collect();
                if lens.windows(2).all(|w| w[0] == w[1]) {
                    format!(
                        "a {}×{} matrix",
                        rows.len(),
                        lens.first().copied().unwrap_or(0)
                    )
                } else {
                    "a list of rows of different lengths".into()
                }
            } else {
                "a list of mixed values".into()
            }
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Reads an n×n matrix (rows of numbers); `allow_scalar` accepts a number c meaning cI.
fn matrix(src: &str, key: &str, v: &Value, n: usize, allow_scalar: bool) -> AppResult<Array2<f64>> {
    let expected = if allow_scalar {
        format!("expected a number or a {n}×{n} matrix")
    } else {
        format!("expected a {n}×{n} matrix (a list of {n} rows of {n} numbers)")
    };
    let m = match v {
        Value::Integer(_) | Value::Float(_) if allow_scalar => {
            Array2::eye(n) * number(v).unwrap_or(f64::NAN)
        }
        Value::Array(rows) if rows.len() == n => {
            let mut m = Array2::zeros((n, n));
            for (i, row) in rows.iter().enumerate() {
                let Some(row) = row.as_array().filter(|r| r.len() == n) else {
                    return Err(AppError::invalid(
                        src,
                        key,
                        format!("{expected}, got {}", describe(v)),
                    ));
                };
                for (j, x) in row.iter().enumerate() {
                    m[[i, j]] = number(x).ok_or_else(|| {
                        AppError::invalid(
                            src,
                            key,
                            format!("{expected}, got {} in row {}", describe(x), i + 1),
                        )
                    })?;
                }
            }
            m
        }
        _ => {
            return Err(AppError::invalid(
                src,
                key,
                format!("{expected}, got {}", describe(v)),
            ))
        }
    };
    if m.iter().any(|x| !x.is_finite()) {
        return Err(AppError::invalid(
            src,
            key,
            "entries must be finite numbers",
        ));
    }
    Ok(m)
}

/// Reads a square matrix of any size (for an expert A).
fn square_matrix(src: &str, key: &str, v: &Value) -> AppResult<Array2<f64>> {
    let n = match v {
        Value::Array(rows) if !rows.is_empty() => rows.len(),
        _ => {
            return Err(AppError::invalid(
                src,
                key,
                format!(
                    "expected a d×d matrix with d in 1..={MAX_DIM}, e.g. [[-0.75]], got {}",
                    describe(v)
                ),
            ))
        }
    };
    if n > MAX_DIM {
        return Err(AppError::invalid(
            src,
            key,
            format!("A is {n}×{n}; the grid has at most {MAX_DIM} axes"),
        ));
    }
    matrix(src, key, v, n, false)
}

fn require_spd(src: &str, key: &str, m: &Array2<f64>) -> AppResult<()> {
    if !is_symmetric(m) {
        return Err(AppError::invalid(src, key, "matrix must be symmetric"));
    }
    let ev = symmetric_eigenvalues(m).map_err(|e| AppError::from_solver(src, key, e))?;
    if ev.iter().any(|&l| l <= 0.0) {
        return Err(AppError::invalid(
            src,
            key,
            format!(
                "matrix must be positive definite; its smallest eigenvalue is {:.3e}",
                ev.iter().cloned().fold(f64::INFINITY, f64::min)
            ),
        ));
    }
    Ok(())
}

fn count(src: &str, key: &str, v: i64, min: i64, max: i64) -> AppResult<usize> {
    if v < min || v > max {
        return Err(AppError::invalid(
            src,
            key,
            format!("must be an integer in {min}..={max}, got {v}"),
        ));
    }
    Ok(v as usize)
}

fn finite(src: &str, key: &str, v: f64, ok: impl Fn(f64) -> bool, allowed: &str) -> AppResult<f64> {
    if !v.is_finite() || !ok(v) {
        return Err(AppError::invalid(src, key, format!("got {v}; {allowed}")));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------
// Validation and construction.

fn build(src: &str, mut raw: RawScenario, base: &Path) -> AppResult<Scenario> {
    let raw_values = raw.game.as_mut().and_then(|g| g.values.take());
    let (reduction, a, labels, min_gamma) = match (raw.game, raw.model) {
        (None, None) => {
            return Err(AppError::invalid(
                src,
                "game",
                "missing; give [game] (players and coalitions) or [model] (an expert A), exactly one of them",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "model",
                "[model] cannot be combined with [game]; give exactly one of them",
            ))
        }
        (None, Some(model)) => {
            for (key, given) in [
                ("cost.r", raw.cost.r.is_some()),
                ("cost.gamma", raw.cost.gamma.is_some()),
                ("cost.gamma_matrix", raw.cost.gamma_matrix.is_some()),
            ] {
                if given {
                    return Err(AppError::invalid(
                        src,
                        key,
                        "only used with [game] (with [model] the matrix A is given directly); remove it",
                    ));
                }
            }
            let a = square_matrix(src, "model.a", &model.a)?;
            if !is_symmetric(&a) {
                return Err(AppError::invalid(
                    src,
                    "model.a",
                    "matrix must be symmetric (A = −B R⁻¹ Bᵀ + Γ⁻¹ always is)",
                ));
            }
            let d = a.nrows();
            let labels = match model.labels {
                Some(l) if l.len() != d => {
                    return Err(AppError::invalid(
                        src,
                        "model.labels",
                        format!("expected {d} labels (one per axis of A), got {}", l.len()),
                    ))
                }
                Some(l) => l,
                None => (1..=d).map(|i| format!("x{i}")).collect(),
            };
            (Reduction::Expert, a, labels, None)
        }
        (Some(game), None) => {
            let (spec, modal) = game_spec(src, game, &raw.cost)?;
            let reduction = if modal {
                Reduction::Modal(spec.clone())
            } else {
                Reduction::Projected(spec.clone())
            };
            let red = reduction::reduce(&spec)
                .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?;
            (reduction, red.a, red.axis_labels, red.min_gamma)
        }
    };
    let values = match (&reduction, raw_values) {
        (Reduction::Projected(g) | Reduction::Modal(g), Some(t)) => {
            Some(values::parse(src, g.players, t)?)
        }
        _ => None,
    };
    let d = a.nrows();
    let is_modal = matches!(reduction, Reduction::Modal(_));
    let q = matrix(src, "cost.q", &raw.cost.q, d, true)?;
    let s = matrix(src, "cost.s", &raw.cost.s, d, true)?;
    let sigma = finite(
        src,
        "noise.sigma",
        raw.noise.sigma,
        |x| x >= 0.0,
        "σ must be a finite number ≥ 0",
    )?;
    let horizon = finite(
        src,
        "horizon.t",
        raw.horizon.t,
        |x| x > 0.0,
        "T must be a finite number > 0",
    )?;

    let core_penalty = match raw.cost.core_penalty {
        Some(k) => finite(
            src,
            "cost.core_penalty",
            k,
            |x| x >= 0.0,
            "κ must be a finite number ≥ 0",
        )?,
        None => 0.0,
    };
    if core_penalty > 0.0 && is_modal {
        return Err(AppError::invalid(
            src,
            "cost.core_penalty",
            "the core-stability cost does not separate into modes; use a projected reduction \
             (game.coalitions) or core_penalty = 0",
        ));
    }
    let (controls, bounds) = control_law(src, &reduction, raw.bounds)?;
    let settings = solver_settings(src, raw.solver, if is_modal { 1 } else { d }, is_modal)?;
    let settings_order = settings.scheme.order();
    if raw.population.is_empty() {
        return Err(AppError::invalid(
            src,
            "population",
            "missing; at least one [[population]] table (mean and std or cov) is required",
        ));
    }
    let mut populations = Vec::with_capacity(raw.population.len());
    let mut initial = Vec::with_capacity(raw.population.len());
    for (k, p) in raw.population.into_iter().enumerate() {
        let kind = p.kind.clone().unwrap_or_else(|| "gaussian".to_string());
        if kind != "gaussian" && is_modal {
            return Err(AppError::invalid(
                src,
                format!("population[{}].kind", k + 1),
                "modal scenarios need Gaussian populations (each mode's marginal is Gaussian)",
            ));
        }
        let (pop, spec) = population_any(src, k, p, d, &settings, base)?;
        populations.push(pop);
        initial.push(spec);
    }
    let (graph, graph_kind) = graph(src, raw.graph, populations.len())?;
    let theta = match raw.heuristic.theta {
        Some(x) => finite(
            src,
            "heuristic.theta",
            x,
            |x| x >= 0.0,
            "θ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA,
    };
    let theta_tilde = match raw.heuristic.theta_tilde {
        Some(x) => finite(
            src,
            "heuristic.theta_tilde",
            x,
            |x| x >= 0.0,
            "θ̃ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA_TILDE,
    };
    let theta_hat = match raw.heuristic.theta_hat {
        Some(x) => finite(
            src,
            "heuristic.theta_hat",
            x,
            |x| x >= 0.0,
            "θ̂ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA_HAT,
    };
    let internal_model_mean = match raw.heuristic.internal_model_mean {
        Some(v) => {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(AppError::invalid(
                    src,
                    "heuristic.internal_model_mean",
                    "entries must be finite numbers",
                ));
            }
            Some(v)
        }
        None => None,
    };

    let model = Model::builder(a)
        .axis_labels(labels)
        .q(q)
        .s(s)
        .sigma(sigma)
        .horizon(horizon)
        .populations(populations)
        .graph(graph)
        .core_penalty(core_penalty)
        .controls(controls)
        .build()
        .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?;
    let modal = if is_modal {
        Some(
            ModalDecomposition::new(&model)
                .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?,
        )
    } else {
        None
    };
    let margin = -symmetric_eigenvalues(&model.a)
        .map_err(|e| AppError::from_solver(src, "model.a", e))?
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Scenario {
        source_name: src.to_string(),
        name: raw.name.unwrap_or_default(),
        description: raw.description.unwrap_or_default(),
        reduction,
        model,
        modal,
        settings,
        theta,
        theta_tilde,
        theta_hat,
        internal_model_mean,
        graph_kind,
        margin,
        min_gamma,
        text: String::new(),
        overrides: Vec::new(),
        initial,
        base_dir: base.to_path_buf(),
        bounds,
        values,
        output: output_settings(src, raw.output, settings_order)?,
        paper: raw.paper.map(|p| paper::parse(src, p)).transpose()?,
    })
}

/// `[output] compression = "deflate" | "none"`, `level` (1–9, deflate only),
/// `significant_bits` (1–52 or "all", deflate only) and `feedback_fields` (bool).
///
/// The default `significant_bits` follows the scheme's order (`order`, see
/// [`crate::output::quantize::default_significant_bits`]).
fn output_settings(
    src: &str,
    raw: Option<RawOutput>,
    order: u32,
) -> AppResult<crate::output::OutputSettings> {
    use crate::output::quantize::{default_significant_bits, MAX_SIGNIFICANT_BITS};
    use crate::output::{Compression, OutputSettings, DEFAULT_DEFLATE_LEVEL};
    let default_bits = default_significant_bits(order);
    let Some(raw) = raw else {
        return Ok(OutputSettings {
            significant_bits: Some(default_bits),
            ..OutputSettings::default()
        });
    };
    let level = match raw.level {
        None => DEFAULT_DEFLATE_LEVEL,
        Some(l @ 1..=9) => l as u8,
        Some(l) => {
            return Err(AppError::invalid(
                src,
                "output.level",
                format!("{l} is not a deflate level; allowed: 1 (fastest) to 9 (smallest)"),
            ))
        }
    };
    let only_deflate = |key: &str| {
        AppError::invalid(
            src,
            key,
            "only used with compression = \"deflate\"; remove it",
        )
    };
    let compression = match raw.compression.as_deref() {
        None | Some("deflate") => Compression::Deflate(level),
        Some("none") if raw.level.is_some() => return Err(only_deflate("output.level")),
        Some("none") if raw.significant_bits.is_some() => {
            return Err(only_deflate("output.significant_bits"))
        }
        Some("none") => Compression::None,
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "output.compression",
                format!(
                    "{other:?} is not known; allowed: \"deflate\" (shuffle + deflate, the \
                     default) or \"none\""
                ),
            ))
        }
    };
    let bad_bits = |what: String| {
        AppError::invalid(
            src,
            "output.significant_bits",
            format!(
                "{what} is not allowed; give the number of significant bits the density and \
                 value keep, 1 to {MAX_SIGNIFICANT_BITS} (default {default_bits}), \
                 or \"all\" to keep every bit"
            ),
        )
    };
    let significant_bits = match raw.significant_bits {
        None => Some(default_bits),
        Some(toml::Value::String(s)) if s == "all" => None,
        Some(toml::Value::Integer(n)) => match u32::try_from(n) {
            Ok(b @ 1..=MAX_SIGNIFICANT_BITS) => Some(b),
            _ => return Err(bad_bits(n.to_string())),
        },
        Some(other) => return Err(bad_bits(other.to_string())),
    };
    Ok(OutputSettings {
        compression,
        significant_bits,
        feedback_fields: raw
            .feedback_fields
            .unwrap_or(OutputSettings::default().feedback_fields),
    })
}

/// The game part of a scenario and whether it asks for the modal decomposition.
fn game_spec(src: &str, game: RawGame, cost: &RawCost) -> AppResult<(GameSpec, bool)> {
    let modal = match game.reduction.as_deref() {
        None | Some("projection") => false,
        Some("modal") => true,
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "game.reduction",
                format!(
                    "unknown reduction {other:?}; allowed: \"projection\" (default), \"modal\""
                ),
            ))
        }
    };
    let players = game.players.ok_or_else(|| {
        AppError::invalid(
            src,
            "game.players",
            "missing; the number of players n is required",
        )
    })?;
    let n = count(src, "game.players", players, 1, MAX_PLAYERS as i64)?;
    let raw_coalitions = if modal {
        if game.coalitions.is_some() {
            return Err(AppError::invalid(
                src,
                "game.coalitions",
                "not used with reduction = \"modal\": the modal decomposition solves the full game on all q = 2ⁿ − 1 coalitions; remove `coalitions`",
            ));
        }
        reduction::all_coalitions(n).map_err(|e| AppError::from_solver(src, "game.players", e))?
    } else {
        game.coalitions.ok_or_else(|| {
            AppError::invalid(
                src,
                "game.coalitions",
                "missing; list the coalitions that become grid axes, e.g. [[1], [1, 2]]",
            )
        })?
    };
    if !modal && (raw_coalitions.is_empty() || raw_coalitions.len() > MAX_DIM) {
        return Err(AppError::invalid(
            src,
            "game.coalitions",
            format!(
                "got {} coalitions; the projection needs 1..={MAX_DIM} (one per grid axis)",
                raw_coalitions.len()
            ),
        ));
    }
    let mut coalitions: Vec<Vec<i64>> = Vec::new();
    for (i, c) in raw_coalitions.iter().enumerate() {
        let key = format!("game.coalitions[{}]", i + 1);
        if c.is_empty() {
            return Err(AppError::invalid(
                src,
                key,
                "a coalition needs at least one player",
            ));
        }
        for &p in c {
            if p < 1 || p > n as i64 {
                return Err(AppError::invalid(
                    src,
                    key,
                    format!("player {p} does not exist; players are numbered 1..={n}"),
                ));
            }
        }
        let mut members = c.clone();
        members.sort_unstable();
        if members.windows(2).any(|w| w[0] == w[1]) {
            return Err(AppError::invalid(src, key, "a player is listed twice"));
        }
        if coalitions.contains(&members) {
            return Err(AppError::invalid(
                src,
                key,
                "this coalition is listed twice",
            ));
        }
        coalitions.push(members);
    }
    let coalitions = raw_coalitions;
    let q = (1usize << n) - 1;
    let controls = n + q - 1;
    let r = match &cost.r {
        None => ControlWeight::Scalar(1.0),
        Some(v) => match number(v) {
            Some(x) => ControlWeight::Scalar(finite(
                src,
                "cost.r",
                x,
                |x| x > 0.0,
                "r (R = rI) must be a finite number > 0",
            )?),
            None => ControlWeight::Matrix(matrix(src, "cost.r", v, controls, true)?),
        },
    };
    let gamma = match (cost.gamma, &cost.gamma_matrix) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "cost.gamma_matrix",
                "give either cost.gamma (Γ = γ²I) or cost.gamma_matrix, not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                src,
                "cost.gamma",
                "missing; the disturbance weight is required with [game]: gamma (Γ = γ²I) or gamma_matrix",
            ))
        }
        (Some(g), None) => DisturbanceWeight::Gamma(finite(src, "cost.gamma", g, |x| x > 0.0, "γ must be a finite number > 0")?),
        (None, Some(v)) => DisturbanceWeight::Matrix(matrix(src, "cost.gamma_matrix", v, q, false)?),
    };
    Ok((
        GameSpec {
            players: n,
            coalitions,
            r,
            gamma,
        },
        modal,
    ))
}

fn population(src: &str, k: usize, p: RawPopulation, d: usize) -> AppResult<Population> {
    let key = |f: &str| format!("population[{}].{f}", k + 1);
    let Some(mean) = p.mean else {
        return Err(AppError::invalid(
            src,
            key("mean"),
            "missing; a Gaussian population needs mean and std (or cov)",
        ));
    };
    let p = RawPopulationGaussian {
        name: p.name,
        mean,
        std: p.std,
        cov: p.cov,
    };
    if p.mean.len() != d {
        return Err(AppError::invalid(
            src,
            key("mean"),
            format!(
                "expected {d} numbers (one per grid axis), got {}",
                p.mean.len()
            ),
        ));
    }
    if p.mean.iter().any(|x| !x.is_finite()) {
        return Err(AppError::invalid(
            src,
            key("mean"),
            "entries must be finite numbers",
        ));
    }
    let cov = match (p.std, p.cov) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                key("cov"),
                "give either std (per axis) or cov (a matrix), not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                src,
                key("std"),
                "missing; give std (one standard deviation per axis) or cov (a d×d covariance)",
            ))
        }
        (Some(std), None) => {
            if std.len() != d {
                return Err(AppError::invalid(
                    src,
                    key("std"),
                    format!(
                        "expected {d} numbers (one per grid axis), got {}",
                        std.len()
                    ),
                ));
            }
            if std.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
                return Err(AppError::invalid(
                    src,
                    key("std"),
                    "standard deviations must be finite and > 0",
                ));
            }
            Array2::from_diag(&Array1::from_iter(std.iter().map(|x| x * x)))
        }
        (None, Some(v)) => {
            let c = matrix(src, &key("cov"), &v, d, false)?;
            require_spd(src, &key("cov"), &c)?;
            c
        }
    };
    Ok(Population {
        name: p.name.unwrap_or_else(|| format!("population {}", k + 1)),
        mean: Array1::from(p.mean),
        cov,
    })
}

fn graph(src: &str, raw: Option<RawGraph>, p: usize) -> AppResult<(Graph, String)> {
    let Some(raw) = raw else {
        if p > 1 {
            return Err(AppError::invalid(
                src,
                "graph",
                format!(
                    "missing; with {p} populations a [graph] is required: kind = \"chain\" | \"ring\" | \"complete\" | \"star\" | \"edges\""
                ),
            ));
        }
        return Ok((
            Graph::single(),
            "single population (tracks its own mean)".to_string(),
        ));
    };
    let name = raw.kind.clone().unwrap_or_else(|| "edges".to_string());
    let kind = match (raw.kind.as_deref(), raw.edges) {
        (Some("edges") | None, Some(edges)) => {
            let mut list = Vec::with_capacity(edges.len());
            for (i, e) in edges.iter().enumerate() {
                let key = format!("graph.edges[{}]", i + 1);
                if e.len() != 2 {
                    return Err(AppError::invalid(src, key, format!("an edge is a pair [i, j], got {} numbers", e.len())));
                }
                let mut ends = [0usize; 2];
                for (slot, &x) in ends.iter_mut().zip(e) {
                    if x < 1 || x > p as i64 {
                        return Err(AppError::invalid(
                            src,
                            key,
                            format!("population {x} does not exist; populations are numbered 1..={p}"),
                        ));
                    }
                    *slot = x as usize - 1;
                }
                list.push((ends[0], ends[1]));
            }
            GraphKind::Edges(list)
        }
        (Some("edges") | None, None) => {
            return Err(AppError::invalid(
                src,
                "graph.edges",
                "missing; kind = \"edges\" needs edges = [[i, j], …] (1-based population numbers)",
            ))
        }
        (Some(other), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "graph.edges",
                format!("edges are only read with kind = \"edges\", but kind = {other:?}; remove edges or set kind = \"edges\""),
            ))
        }
        (Some("chain"), None) => GraphKind::Chain,
        (Some("ring"), None) => GraphKind::Ring,
        (Some("complete"), None) => GraphKind::Complete,
        (Some("star"), None) => GraphKind::Star,
        (Some(other), None) => {
            return Err(AppError::invalid(
                src,
                "graph.kind",
                format!("unknown kind {other:?}; allowed: \"chain\", \"ring\", \"complete\", \"star\", \"edges\""),
            ))
        }
    };
    let g = Graph::new(p, &kind).map_err(|e| AppError::from_solver(src, "graph", e))?;
    let name = if p == 1 {
        "single population (tracks its own mean)".to_string()
    } else {
        name
    };
    Ok((g, name))
}

/// `d` is the grid dimension (1 for a modal scenario, whose grids are per mode).
fn solver_settings(src: &str, raw: RawSolver, d: usize, modal: bool) -> AppResult<SolverSettings> {
    let mut s = SolverSettings::default();
    if let Some(v) = raw.points {
        let bad = || {
            AppError::invalid(
                src,
                "solver.points",
                format!(
                    "expected an integer ≥ 3 or a list of {d} such integers (one per axis), got {}",
                    describe(&v)
                ),
            )
        };
        s.points = match &v {
            Value::Integer(n) if *n >= 3 => Points::Uniform(*n as usize),
            Value::Array(items) if items.len() == d => {
                let mut per = Vec::with_capacity(d);
                for it in items {
                    match it {
                        Value::Integer(n) if *n >= 3 => per.push(*n as usize),
                        _ => return Err(bad()),
                    }
                }
                Points::PerAxis(per)
            }
            _ => return Err(bad()),
        };
        let total = s
            .points_per_axis(d)
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .unwrap_or(usize::MAX);
        if total > MAX_GRID_POINTS {
            return Err(AppError::invalid(
                src,
                "solver.points",
                format!(
                    "the grid would have {total} points; at most {MAX_GRID_POINTS} are allowed"
                ),
            ));
        }
    }
    if let Some(n) = raw.steps {
        s.steps = count(src, "solver.steps", n, 1, MAX_STEPS as i64)?;
    }
    if let Some(v) = raw.domain {
        s.domain = match &v {
            Value::String(a) if a == "auto" => Domain::Auto,
            _ if modal => {
                return Err(AppError::invalid(
                    src,
                    "solver.domain",
                    format!(
                        "with reduction = \"modal\" every mode gets its own automatic 1-D domain; only \"auto\" is allowed, got {}",
                        describe(&v)
                    ),
                ))
            }
            Value::Array(rows) if rows.len() == d => {
                let mut lims = Vec::with_capacity(d);
                for (i, row) in rows.iter().enumerate() {
                    let pair: Option<Vec<f64>> = row
                        .as_array()
                        .map(|r| r.iter().filter_map(number).collect());
                    match pair.as_deref() {
                        Some(&[lo, hi])
                            if row.as_array().map(|r| r.len()) == Some(2)
                                && lo.is_finite()
                                && hi.is_finite()
                                && lo < hi =>
                        {
                            lims.push((lo, hi))
                        }
                        _ => {
                            return Err(AppError::invalid(
                                src,
                                "solver.domain",
                                format!(
                                    "axis {}: expected [lo, hi] with finite lo < hi, got {}",
                                    i + 1,
                                    describe(row)
                                ),
                            ))
                        }
                    }
                }
                Domain::Explicit(lims)
            }
            _ => {
                return Err(AppError::invalid(
                    src,
                    "solver.domain",
                    format!(
                        "expected \"auto\" or {d} pairs [[lo, hi], …] (one per axis), got {}",
                        describe(&v)
                    ),
                ))
            }
        };
    }
    if let Some(x) = raw.damping {
        s.damping = finite(
            src,
            "solver.damping",
            x,
            |x| x > 0.0 && x <= 1.0,
            "the damping must lie in (0, 1]",
        )?;
    }
    if let Some(x) = raw.tol {
        s.tol = finite(
            src,
            "solver.tol",
            x,
            |x| x > 0.0,
            "the tolerance must be a finite number > 0",
        )?;
    }
    if let Some(n) = raw.max_iter {
        s.max_iter = count(src, "solver.max_iter", n, 1, 1_000_000)?;
    }
    let depth = match raw.anderson_depth {
        Some(n) => Some(count(src, "solver.anderson_depth", n, 1, 50)?),
        None => None,
    };
    match raw.acceleration.as_deref() {
        None | Some("anderson") => {
            s.acceleration = Acceleration::Anderson {
                depth: depth.unwrap_or(5),
            }
        }
        Some("none") => {
            if depth.is_some() {
                return Err(AppError::invalid(
                    src,
                    "solver.anderson_depth",
                    "only used with acceleration = \"anderson\"; remove it or set acceleration = \"anderson\"",
                ));
            }
            s.acceleration = Acceleration::None;
        }
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "solver.acceleration",
                format!("unknown acceleration {other:?}; allowed: \"none\", \"anderson\""),
            ))
        }
    }
    if let Some(n) = raw.snapshot_every {
        s.snapshot_every = Some(count(src, "solver.snapshot_every", n, 1, MAX_STEPS as i64)?);
    }
    if let Some(x) = raw.divergence_factor {
        s.divergence_factor = finite(
            src,
            "solver.divergence_factor",
            x,
            |x| x > 1.0,
            "the factor must exceed 1",
        )?;
    }
    if let Some(n) = raw.stagnation_window {
        s.stagnation_window = count(src, "solver.stagnation_window", n, 0, 1_000_000)?;
    }
    s.error_estimate = raw.error_estimate;
    if let Some(name) = raw.scheme.as_deref() {
        s.scheme = SchemeKind::from_name(name).map_err(|e| match e {
            SolverError::InvalidParameter { message, .. } => {
                AppError::invalid(src, "solver.scheme", message)
            }
            other => AppError::from_solver(src, "solver.scheme", other),
        })?;
        if modal && s.scheme != SchemeKind::Monotone {
            return Err(AppError::invalid(
                src,
                "solver.scheme",
                "reduction = \"modal\" solves its 1-D modes with the monotone scheme; remove \
                 solver.scheme or set it to \"monotone\"",
            ));
        }
    }
    crate::commands::solve::estimate::validate(src, &s, d, modal)?;
    s.fixed_point()
        .validate()
        .map_err(|e| AppError::from_solver(src, "solver", e))?;
    Ok(s)
}

/// The Gaussian keys of a `[[population]]` table.
struct RawPopulationGaussian {
    name: Option<String>,
    mean: Vec<f64>,
    std: Option<Vec<f64>>,
    cov: Option<Value>,
}

/// A `[[population]]` of any `kind` (see [`crate::initial`]): the model's population (for
/// non-Gaussian kinds its mean and covariance are the law's, moment-matched) and the spec
/// that discretises it.
fn population_any(
    src: &str,
    k: usize,
    p: RawPopulation,
    d: usize,
    settings: &SolverSettings,
    base: &Path,
) -> AppResult<(Population, InitialSpec)> {
    let key = |f: &str| format!("population[{}].{f}", k + 1);
    let kind = p.kind.clone().unwrap_or_else(|| "gaussian".to_string());
    let given: [(&str, bool, &str); 11] = [
        ("mean", p.mean.is_some(), "gaussian"),
        ("std", p.std.is_some(), "gaussian"),
        ("cov", p.cov.is_some(), "gaussian"),
        ("weights", p.weights.is_some(), "mixture"),
        ("means", p.means.is_some(), "mixture"),
        ("stds", p.stds.is_some(), "mixture"),
        ("covs", p.covs.is_some(), "mixture"),
        ("low", p.low.is_some(), "uniform"),
        ("high", p.high.is_some(), "uniform"),
        ("path", p.path.is_some(), "file"),
        ("dataset", p.dataset.is_some(), "file"),
    ];
    if !["gaussian", "mixture", "uniform", "file"].contains(&kind.as_str()) {
        return Err(AppError::invalid(
            src,
            key("kind"),
            format!("unknown kind `{kind}`; expected \"gaussian\", \"mixture\", \"uniform\" or \"file\""),
        ));
    }
    if let Some((f, _, owner)) = given.iter().find(|(_, g, owner)| *g && *owner != kind) {
        return Err(AppError::invalid(
            src,
            key(f),
            format!("only used with kind = \"{owner}\" (this population has kind = \"{kind}\")"),
        ));
    }
    let name = p
        .name
        .clone()
        .unwrap_or_else(|| format!("population {}", k + 1));
    let vector = |f: &str, v: &[f64]| -> AppResult<Array1<f64>> {
        if v.len() != d {
            return Err(AppError::invalid(
                src,
                key(f),
                format!("expected {d} numbers (one per grid axis), got {}", v.len()),
            ));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(AppError::invalid(
                src,
                key(f),
                "entries must be finite numbers",
            ));
        }
        Ok(Array1::from(v.to_vec()))
    };
    let missing = |f: &str, what: &str| AppError::invalid(src, key(f), format!("missing; {what}"));
    let spec = match kind.as_str() {
        "gaussian" => return Ok((population(src, k, p, d)?, InitialSpec::Gaussian)),
        "mixture" => {
            let weights = p.weights.ok_or_else(|| {
                missing(
                    "weights",
                    "kind = \"mixture\" needs weights, means and stds (or covs)",
                )
            })?;
            let means = p
                .means
                .ok_or_else(|| missing("means", "one mean vector per mixture component"))?;
            let c = weights.len();
            if c == 0 || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(AppError::invalid(
                    src,
                    key("weights"),
                    "need at least one weight; weights must be finite and ≥ 0",
                ));
            }
            let total: f64 = weights.iter().sum();
            if total <= 0.0 {
                return Err(AppError::invalid(src, key("weights"), "weights sum to 0"));
            }
            if means.len() != c {
                return Err(AppError::invalid(
                    src,
                    key("means"),
                    format!(
                        "expected {c} mean vectors (one per weight), got {}",
                        means.len()
                    ),
                ));
            }
            let means = means
                .iter()
                .map(|m| vector("means", m))
                .collect::<AppResult<Vec<_>>>()?;
            let covs: Vec<Array2<f64>> = match (p.stds, p.covs) {
                (Some(_), Some(_)) => {
                    return Err(AppError::invalid(
                        src,
                        key("covs"),
                        "give either stds or covs, not both",
                    ))
                }
                (None, None) => {
                    return Err(missing(
                        "stds",
                        "one standard-deviation vector per component (or covs, one matrix each)",
                    ))
                }
                (Some(stds), None) => {
                    if stds.len() != c {
                        return Err(AppError::invalid(
                            src,
                            key("stds"),
                            format!("expected {c} vectors (one per weight), got {}", stds.len()),
                        ));
                    }
                    let mut out = Vec::with_capacity(c);
                    for s in &stds {
                        let s = vector("stds", s)?;
                        if s.iter().any(|x| *x <= 0.0) {
                            return Err(AppError::invalid(
                                src,
                                key("stds"),
                                "standard deviations must be > 0",
                            ));
                        }
                        out.push(Array2::from_diag(&s.mapv(|x| x * x)));
                    }
                    out
                }
                (None, Some(covs)) => {
                    if covs.len() != c {
                        return Err(AppError::invalid(
                            src,
                            key("covs"),
                            format!("expected {c} matrices (one per weight), got {}", covs.len()),
                        ));
                    }
                    let mut out = Vec::with_capacity(c);
                    for v in &covs {
                        let m = matrix(src, &key("covs"), v, d, false)?;
                        require_spd(src, &key("covs"), &m)?;
                        out.push(m);
                    }
                    out
                }
            };
            InitialSpec::Mixture(GaussianMixture {
                weights: weights.iter().map(|w| w / total).collect(),
                means,
                covs,
            })
        }
        "uniform" => {
            let low = vector(
                "low",
                &p.low.ok_or_else(|| {
                    missing("low", "kind = \"uniform\" needs low and high (per axis)")
                })?,
            )?;
            let high = vector(
                "high",
                &p.high.ok_or_else(|| {
                    missing("high", "kind = \"uniform\" needs low and high (per axis)")
                })?,
            )?;
            if let Some(i) = (0..d).find(|&i| low[i] >= high[i]) {
                return Err(AppError::invalid(
                    src,
                    key("high"),
                    format!("high must exceed low on every axis (axis {})", i + 1),
                ));
            }
            InitialSpec::Uniform(UniformBox { low, high })
        }
        _ => {
            let rel = p.path.ok_or_else(|| {
                missing("path", "kind = \"file\" needs path (an HDF5 or .npy file)")
            })?;
            let path = base.join(&rel);
            let dataset = p.dataset.unwrap_or_else(|| "density".to_string());
            let raw = initial::read_file(src, &key("path"), &path, &dataset)?;
            let grid = match &settings.domain {
                Domain::Explicit(b) => {
                    let lo: Vec<f64> = b.iter().map(|p| p.0).collect();
                    let hi: Vec<f64> = b.iter().map(|p| p.1).collect();
                    Some(
                        tufield_solvers::grid::Grid::from_bounds(
                            &lo,
                            &hi,
                            &settings.points_per_axis(d),
                        )
                        .map_err(|e| AppError::from_solver(src, "solver.domain", e))?,
                    )
                }
                Domain::Auto => None,
            };
            let data = initial::classify(raw, grid.as_ref().map(|g| g.shape()), d);
            if let FileData::Samples(samples) = &data {
                if let Some((r, i)) = samples
                    .indexed_iter()
                    .find(|(_, v)| !v.is_finite())
                    .map(|(ix, _)| ix)
                {
                    return Err(AppError::invalid(
                        src,
                        key("path"),
                        format!(
                            "{}: sample row {} (1-based), column {}: {} is not a finite number",
                            path.display(),
                            r + 1,
                            i + 1,
                            samples[[r, i]]
                        ),
                    ));
                }
            }
            let spec = InitialSpec::File {
                path,
                dataset,
                data,
            };
            if let InitialSpec::File {
                data: FileData::Density(m),
                ..
            } = &spec
            {
                let Some(grid) = grid else {
                    return Err(AppError::invalid(
                        src,
                        key("path"),
                        format!(
                            "the file holds a grid density (shape {:?}, not N × {d} samples); its \
                             grid must be given: set solver.domain = [[lo, hi], …] and solver.points",
                            m.shape()
                        ),
                    ));
                };
                let pop0 = Population {
                    name: name.clone(),
                    mean: Array1::zeros(d),
                    cov: Array2::eye(d),
                };
                let init = initial::discretise(src, k, &spec, &pop0, &grid)?;
                let mom = grid
                    .moments(&init.density.iter().copied().collect::<Vec<f64>>())
                    .map_err(|e| AppError::from_solver(src, &key("path"), e))?;
                require_spd(src, &key("path"), &mom.cov)?;
                return Ok((
                    Population {
                        name,
                        mean: mom.mean,
                        cov: mom.cov,
                    },
                    spec,
                ));
            }
            spec
        }
    };
    let (mean, cov) = spec.moments().ok_or_else(|| {
        AppError::invalid(
            src,
            key("kind"),
            "the moments of this initial law could not be computed",
        )
    })?;
    require_spd(
        src,
        &key(if kind == "file" { "path" } else { "kind" }),
        &cov,
    )?;
    Ok((Population { name, mean, cov }, spec))
}
