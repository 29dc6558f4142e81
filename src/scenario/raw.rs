//! The raw (deserialised, unchecked) form of a scenario file: one struct per table,
//! unknown keys refused everywhere.

use super::paper;
use serde::Deserialize;
use toml::{Table, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) game: Option<RawGame>,
    pub(super) model: Option<RawModel>,
    pub(super) cost: RawCost,
    pub(super) noise: RawNoise,
    pub(super) horizon: RawHorizon,
    #[serde(default)]
    pub(super) population: Vec<RawPopulation>,
    pub(super) graph: Option<RawGraph>,
    #[serde(default)]
    pub(super) solver: RawSolver,
    #[serde(default)]
    pub(super) heuristic: RawHeuristic,
    pub(super) bounds: Option<RawBounds>,
    pub(super) output: Option<RawOutput>,
    pub(super) paper: Option<paper::RawPaper>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) compression: Option<String>,
    pub(super) level: Option<i64>,
    pub(super) significant_bits: Option<toml::Value>,
    pub(super) feedback_fields: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBounds {
    pub(super) allocation: Option<f64>,
    pub(super) disturbance: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeuristic {
    pub(super) theta: Option<f64>,
    pub(super) theta_tilde: Option<f64>,
    pub(super) theta_hat: Option<f64>,
    pub(super) internal_model_mean: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGame {
    pub(super) players: Option<i64>,
    pub(super) coalitions: Option<Vec<Vec<i64>>>,
    pub(super) reduction: Option<String>,
    pub(super) values: Option<Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub(super) a: Value,
    pub(super) labels: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCost {
    pub(super) q: Value,
    pub(super) s: Value,
    pub(super) r: Option<Value>,
    pub(super) gamma: Option<f64>,
    pub(super) gamma_matrix: Option<Value>,
    pub(super) core_penalty: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNoise {
    pub(super) sigma: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHorizon {
    pub(super) t: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPopulation {
    pub(super) name: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) mean: Option<Vec<f64>>,
    pub(super) std: Option<Vec<f64>>,
    pub(super) cov: Option<Value>,
    pub(super) weights: Option<Vec<f64>>,
    pub(super) means: Option<Vec<Vec<f64>>>,
    pub(super) stds: Option<Vec<Vec<f64>>>,
    pub(super) covs: Option<Vec<Value>>,
    pub(super) low: Option<Vec<f64>>,
    pub(super) high: Option<Vec<f64>>,
    pub(super) path: Option<String>,
    pub(super) dataset: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGraph {
    pub(super) kind: Option<String>,
    pub(super) edges: Option<Vec<Vec<i64>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSolver {
    pub(super) points: Option<Value>,
    pub(super) steps: Option<i64>,
    pub(super) domain: Option<Value>,
    pub(super) damping: Option<f64>,
    pub(super) tol: Option<f64>,
    pub(super) max_iter: Option<i64>,
    pub(super) acceleration: Option<String>,
    pub(super) anderson_depth: Option<i64>,
    pub(super) snapshot_every: Option<i64>,
    pub(super) divergence_factor: Option<f64>,
    pub(super) stagnation_window: Option<i64>,
    pub(super) error_estimate: Option<bool>,
    pub(super) scheme: Option<String>,
}

/// Top-level keys that are tables (for "missing table [x]" messages).
pub(super) const TABLES: &[&str] = &[
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
