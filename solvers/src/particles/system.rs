//! What is simulated and how: the particle system (noise, horizon, populations,
//! averaging, cost weights) and the run options (copies, seed, kept paths, histograms).

use super::{AllocationCore, InitialSampler};
use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::linalg::symmetric_eigen;
use crate::model::{Model, Population};
use ndarray::{Array1, Array2};

/// Cost weights of the realised cost (module docs): running ½eᵀQe + ½bᵀKb, terminal ½eᵀSe,
/// a view of a [`Model`] ([`CostWeights::from_model`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CostWeights {
    /// Q (d×d).
    pub q: Array2<f64>,
    /// S (d×d).
    pub s: Array2<f64>,
    /// K (d×d), the weight of the drift: −A⁻¹ for the game's drift form (docs/design.md §4).
    /// Policies that know their control cost ([`Policy::drift_and_cost`](super::Policy::drift_and_cost), e.g. a bounded
    /// [`GridPolicy`](super::GridPolicy)) are charged that instead.
    pub drift: Array2<f64>,
    /// Core-stability penalty κ: running cost κ Σ_j max(0, −x_j)² (0 in the LQ model).
    pub core_penalty: f64,
}

impl CostWeights {
    /// Q, S, κ of the (validated) model and K = −A⁻¹ (A symmetric negative definite,
    /// condition (17)).
    pub fn from_model(model: &Model) -> Result<Self> {
        let (ev, u) = symmetric_eigen(&model.a)?;
        if ev.iter().any(|&l| l >= 0.0) {
            return Err(SolverError::invalid(
                Param::Drift,
                "A must be negative definite to price drifts by −½bᵀA⁻¹b",
            ));
        }
        let mut scaled = u.clone();
        for (mut col, &l) in scaled.columns_mut().into_iter().zip(ev.iter()) {
            col *= -1.0 / l;
        }
        let k = scaled.dot(&u.t());
        let k = (&k + &k.t()) * 0.5;
        Ok(CostWeights {
            q: model.q.clone(),
            s: model.s.clone(),
            drift: k,
            core_penalty: model.core_penalty,
        })
    }
}

/// What is simulated: p populations of copies of dX = b dt + σ dW on d axes.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticleSystem {
    /// Noise σ ≥ 0.
    pub sigma: f64,
    /// Horizon T > 0.
    pub horizon: f64,
    /// Euler–Maruyama steps (dt = T/steps, levels 0..=steps).
    pub steps: usize,
    /// Initial Gaussian N(mean, cov) of each population (cov symmetric positive
    /// semidefinite; a zero variance is allowed).
    pub populations: Vec<Population>,
    /// Row-stochastic W (p×p): population k's target is ρ_k = Σ_j W_kj m̂_j (26).
    pub averaging: Array2<f64>,
    /// Weights of the realised cost; `None` skips the cost.
    pub cost: Option<CostWeights>,
    /// How each population's copies are drawn at t = 0 (one per population); empty: every
    /// population from its Gaussian N(mean, cov).
    pub initial: Vec<InitialSampler>,
    /// Core test of the copies' allocations (states in the full coalition space of a game
    /// with coalition values); `None`: only the excess core is counted.
    pub allocation_core: Option<AllocationCore>,
}

impl ParticleSystem {
    /// The system of a (validated) model: its σ, T, populations, the graph's W and the
    /// cost weights Q, S, K = −A⁻¹.
    pub fn from_model(model: &Model, steps: usize) -> Result<Self> {
        Ok(ParticleSystem {
            sigma: model.sigma,
            horizon: model.horizon,
            steps,
            populations: model.populations.clone(),
            averaging: model.graph.averaging_matrix(),
            cost: Some(CostWeights::from_model(model)?),
            initial: Vec::new(),
            allocation_core: None,
        })
    }

    /// State dimension d.
    pub fn dim(&self) -> usize {
        self.populations.first().map_or(0, |p| p.mean.len())
    }

    /// Step dt = T/steps.
    pub fn dt(&self) -> f64 {
        self.horizon / self.steps as f64
    }

    /// Level times t_n = n·dt (exactly T at the last level).
    pub fn times(&self) -> Array1<f64> {
        Array1::from_iter((0..=self.steps).map(|n| {
            if n == self.steps {
                self.horizon
            } else {
                n as f64 * self.dt()
            }
        }))
    }

    pub(super) fn validate(&self) -> Result<()> {
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(SolverError::invalid(Param::Noise, "must be finite and ≥ 0"));
        }
        if !(self.horizon.is_finite() && self.horizon > 0.0) {
            return Err(SolverError::invalid(
                Param::Horizon,
                "must be finite and > 0",
            ));
        }
        if self.steps == 0 {
            return Err(SolverError::invalid(Param::Steps, "must be at least 1"));
        }
        let p = self.populations.len();
        let d = self.dim();
        if p == 0 || d == 0 {
            return Err(SolverError::invalid(
                Param::Populations,
                "at least one population with a non-empty mean is needed",
            ));
        }
        for pop in &self.populations {
            if pop.mean.len() != d || pop.mean.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::invalid(
                    Param::PopulationMean(None),
                    format!("expected {d} finite entries"),
                ));
            }
            if pop.cov.dim() != (d, d) {
                return Err(SolverError::invalid(
                    Param::PopulationCov(None),
                    format!("expected a {d}×{d} matrix"),
                ));
            }
        }
        if self.averaging.dim() != (p, p) || self.averaging.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(
                Param::Graph,
                format!("the averaging matrix must be a finite {p}×{p} matrix"),
            ));
        }
        if let Some(t) = &self.allocation_core {
            if t.dim() != d {
                return Err(SolverError::invalid(
                    Param::CoalitionValues,
                    format!(
                        "the allocation core test takes states on {} coalitions, the copies have {d} axes",
                        t.dim()
                    ),
                ));
            }
        }
        if let Some(c) = &self.cost {
            for (field, m) in [
                (Param::RunningCost, &c.q),
                (Param::TerminalCost, &c.s),
                (Param::Drift, &c.drift),
            ] {
                if m.dim() != (d, d) || m.iter().any(|v| !v.is_finite()) {
                    return Err(SolverError::invalid(
                        field,
                        format!("expected a finite {d}×{d} cost weight"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How a copy is deposited on the grid nodes for a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deposit {
    /// The whole weight on the nearest node.
    NearestNode,
    /// Cloud-in-cell: multilinear weights on the 2^d corners of the copy's cell (the
    /// adjoint of multilinear interpolation).
    CloudInCell,
}

/// Histograms of the copies on a grid at some levels.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSpec {
    /// The grid (copies outside its box are clamped onto it, so no mass is lost).
    pub grid: Grid,
    /// Levels at which histograms are taken (each ≤ steps).
    pub levels: Vec<usize>,
    /// Deposit rule.
    pub deposit: Deposit,
    /// State coordinate shown on each grid axis (`None`: coordinate i on axis i, which
    /// needs grid dimension = state dimension).
    pub axes: Option<Vec<usize>>,
}

/// Run options.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationOptions {
    /// Copies per population N ≥ 1.
    pub copies: usize,
    /// Seed of the random streams.
    pub seed: u64,
    /// Number K ≤ N of copies per population whose whole path is kept.
    pub trajectories: usize,
    /// Histograms to take, if any.
    pub histogram: Option<HistogramSpec>,
}
