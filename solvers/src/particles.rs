//! Finite-N games: Monte Carlo simulation of N copies per population (docs/design.md §1, §3).
//!
//! The mean-field game of docs/design.md §1 is the N → ∞ limit of N interacting copies of the
//! game. This module simulates the copies directly: each copy's state solves
//!
//! ```text
//!   dX = b(X, t) dt + σ dW,      X(0) ~ N(m̄_k(0), C_k)         (4) in drift form
//! ```
//!
//! discretised by Euler–Maruyama on the levels t_n = n·dt, dt = T/steps:
//! X_{n+1} = X_n + b(X_n, t_n) dt + σ √dt ξ_n, ξ_n ~ N(0, I). The drift comes from a
//! [`Policy`]:
//!
//! * [`LqPolicy`]: the exact LQ mean-field feedback b = A(φ(t)x + h_k(t)) of (11)-(12)
//!   with φ, h_k from [`crate::lq::exact_equilibrium`];
//! * [`GridPolicy`]: b = A∇v_k with v_k given on a [`Grid`] at some time levels (a PDE
//!   solution), ∇v by centred differences (one-sided at the edges), interpolated
//!   multilinearly, piecewise constant in time;
//! * [`LeastSquaresPolicy`]: the paper's Section 8 control (41) in the full coalition
//!   space, u = (B_HᵀB_H)⁻¹B_Hᵀ(m̄ − x), b = B_H u.
//!
//! **Realised cost** of copy i of population k (when [`ParticleSystem::cost`] is set):
//!
//! ```text
//!   J_i = Σ_n dt [½(ρ̂_k,n − X_n)ᵀQ(ρ̂_k,n − X_n) + ½ b_nᵀ K b_n + κ Σ_j max(0, −X_n,j)²]
//!         + ½(ρ̂_k,N − X_N)ᵀS(ρ̂_k,N − X_N)
//! ```
//!
//! (a policy that knows its control cost, e.g. a bounded [`GridPolicy`], is charged that
//! cost ℓ in place of ½bᵀKb; κ is the core penalty, 0 in the LQ model)
//! with ρ̂_k,n = Σ_j W_kj m̂_j,n the **empirical** target (m̂_j,n the empirical mean of
//! population j at level n, W = `graph.averaging_matrix()`, (26)) and K the drift weight:
//! for the game's drift form, K = −A⁻¹, since the cost of a drift b = Bu − w in
//! ½uᵀRu − ½wᵀΓw at the saddle point is −½bᵀA⁻¹b (docs/design.md §4: ½pᵀAp =
//! min_b{b·p − ½bᵀA⁻¹b}). Its mean-field counterpart for the LQ policy is
//! E[v_k(0, X_0)] = ½tr(φ(0)(C_k + m̄m̄ᵀ)) + h_k(0)·m̄ + χ_k(0) ([`lq_mean_field_cost`]).
//!
//! **Determinism.** Copies are processed in fixed chunks of [`CHUNK`] copies (rayon over
//! chunks). The noise of copy c of population k is drawn from the ChaCha8 stream
//! `(k << 40) | (c / CHUNK)` of the key `seed`, at a word position fixed by (level,
//! c mod CHUNK): so copy c's draws depend only on (seed, k, c) — not on N, nor on the
//! number of threads. Empirical means and covariances are reduced in chunk order;
//! histograms accumulate fixed-point integer weights (order-free integer sums). Results
//! are therefore bit-identical for any thread count.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ q axes read best as maths

use crate::error::{Param, Result, SolverError};
use crate::game::Game;
use crate::grid::{Grid, MAX_DIM};
use crate::hamiltonian::ControlLaw;
use crate::linalg::symmetric_eigen;
use crate::lq::{GaussianMoments, LqEquilibrium};
use crate::model::{Model, Population};
use ndarray::{s, Array1, Array2, Array3, ArrayD, ArrayView1, ArrayView2, IxDyn};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

mod closed_loop;
mod core_membership;
mod deviation;
mod initial;
pub use closed_loop::{discrete_limit, AffineFeedback, DiscreteLimit};
pub use core_membership::{in_excess_core, AllocationCore};
pub use deviation::{
    epsilon_nash, epsilon_nash_monte_carlo, finite_n_cost, AugmentedFeedback, EpsilonEstimate,
    EpsilonNash,
};
pub use initial::InitialSampler;
use initial::{initial_rng, Prepared};

/// Copies per parallel task (fixed, so results do not depend on the thread count).
pub const CHUNK: usize = 1024;

/// Largest number of copies per population (memory guard: 10⁸ copies × d × 8 bytes).
pub const MAX_COPIES: usize = 100_000_000;

/// Fixed-point bits per axis of the cloud-in-cell weights (a copy's total weight is
/// 2^(32·d), accumulated in u128).
const WEIGHT_BITS: u32 = 32;

/// Cost weights of the realised cost (module docs): running ½eᵀQe + ½bᵀKb, terminal ½eᵀSe,
/// a view of a [`Model`] ([`CostWeights::from_model`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CostWeights {
    /// Q (d×d).
    pub q: Array2<f64>,
    /// S (d×d).
    pub s: Array2<f64>,
    /// K (d×d), the weight of the drift: −A⁻¹ for the game's drift form (docs/design.md §4).
    /// Policies that know their control cost ([`Policy::drift_and_cost`], e.g. a bounded
    /// [`GridPolicy`]) are charged that instead.
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

    fn validate(&self) -> Result<()> {
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

/// A feedback drift b(x, t) for every population.
pub trait Policy: Sync {
    /// State dimension the policy acts on.
    fn dim(&self) -> usize;
    /// Number of populations it has data for (`None`: any).
    fn populations(&self) -> Option<usize>;
    /// Writes b(x, t_level) for population `population` into `out`; `target` is the
    /// population's current empirical target ρ̂_k (used by policies that track it).
    fn drift(&self, population: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]);
    /// [`Policy::drift`] and, when the policy knows it, the running control cost ℓ of that
    /// drift (½uᵀRu − ½wᵀΓw of its controls); `None`: the realised cost prices the drift by
    /// ½bᵀKb of [`CostWeights`].
    fn drift_and_cost(
        &self,
        population: usize,
        level: usize,
        x: &[f64],
        target: &[f64],
        out: &mut [f64],
    ) -> Option<f64> {
        self.drift(population, level, x, target, out);
        None
    }
    /// Checks that the policy covers levels 0..steps (default: nothing to check).
    fn check_steps(&self, _steps: usize) -> Result<()> {
        Ok(())
    }
}

/// The exact LQ mean-field feedback b = A(φ(t_n)x + h_k(t_n)) of (11)-(12), evaluated at
/// the left end of each Euler step.
#[derive(Debug, Clone, PartialEq)]
pub struct LqPolicy {
    a: Array2<f64>,
    phi: Array3<f64>,
    h: Vec<Array2<f64>>,
}

impl LqPolicy {
    /// Policy from A (d×d), φ (levels, d, d) and h_k (levels, d) per population.
    /// Field `policy` on inconsistent shapes or non-finite values.
    pub fn new(a: Array2<f64>, phi: Array3<f64>, h: Vec<Array2<f64>>) -> Result<Self> {
        let d = a.nrows();
        let levels = phi.dim().0;
        let ok = a.ncols() == d
            && phi.dim() == (levels, d, d)
            && levels >= 2
            && !h.is_empty()
            && h.iter().all(|hk| hk.dim() == (levels, d))
            && a.iter()
                .chain(phi.iter())
                .chain(h.iter().flat_map(|x| x.iter()))
                .all(|v| v.is_finite());
        if !ok {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                "LQ feedback needs A (d×d), φ (levels, d, d) and h (levels, d) per population, finite",
            ));
        }
        Ok(LqPolicy { a, phi, h })
    }

    /// The mean-field equilibrium policy of `eq` (computed for `model`).
    pub fn from_equilibrium(model: &Model, eq: &LqEquilibrium) -> Result<Self> {
        LqPolicy::new(
            model.a.clone(),
            eq.phi.clone(),
            eq.populations.iter().map(|p| p.h.clone()).collect(),
        )
    }

    /// The Section 7/8.2 heuristic feedback towards given targets: b = Aφ(t_n)(x − μ_k(t_n))
    /// (Section 7's feedback with h_k = −φμ_k; Theorem 4's h_k solves (35) driven by ρ_k),
    /// with μ_k e.g. the second-order consensus means of (43).
    /// A heuristic, not the equilibrium. Field `policy` on inconsistent shapes.
    pub fn towards(a: Array2<f64>, phi: Array3<f64>, targets: &[Array2<f64>]) -> Result<Self> {
        let (levels, d, _) = phi.dim();
        if targets.iter().any(|m| m.dim() != (levels, d)) {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!("targets need shape ({levels}, {d}) per population"),
            ));
        }
        let h = targets
            .iter()
            .map(|mu| {
                let mut h = Array2::zeros((levels, d));
                for n in 0..levels {
                    h.row_mut(n)
                        .assign(&(-phi.slice(s![n, .., ..]).dot(&mu.row(n))));
                }
                h
            })
            .collect();
        LqPolicy::new(a, phi, h)
    }

    /// Exact law of the Euler–Maruyama chain under this feedback (its N → ∞ limit), from
    /// N(`mean0`, `cov0`) for population `k`: with M_n = I + dt Aφ_n,
    /// m_{n+1} = M_n m_n + dt A h_n, Σ_{n+1} = M_n Σ_n M_nᵀ + σ² dt I.
    /// These differ from the continuous closed-loop moments by O(dt).
    pub fn euler_moments(
        &self,
        k: usize,
        mean0: ArrayView1<f64>,
        cov0: ArrayView2<f64>,
        sigma: f64,
        dt: f64,
    ) -> GaussianMoments {
        let d = self.a.nrows();
        let levels = self.phi.dim().0;
        let mut mean = Array2::zeros((levels, d));
        let mut cov = Array3::zeros((levels, d, d));
        mean.row_mut(0).assign(&mean0);
        cov.slice_mut(s![0, .., ..]).assign(&cov0);
        for n in 0..levels - 1 {
            let mut m = Array2::<f64>::eye(d);
            m.scaled_add(dt, &self.a.dot(&self.phi.slice(s![n, .., ..])));
            let next = m.dot(&mean.row(n)) + self.a.dot(&self.h[k].row(n)) * dt;
            mean.row_mut(n + 1).assign(&next);
            let mut c = m.dot(&cov.slice(s![n, .., ..])).dot(&m.t());
            for i in 0..d {
                c[[i, i]] += sigma * sigma * dt;
            }
            cov.slice_mut(s![n + 1, .., ..]).assign(&c);
        }
        GaussianMoments { mean, cov }
    }
}

impl Policy for LqPolicy {
    fn dim(&self) -> usize {
        self.a.nrows()
    }

    fn populations(&self) -> Option<usize> {
        Some(self.h.len())
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], _target: &[f64], out: &mut [f64]) {
        let d = x.len();
        let phi = self.phi.slice(s![level, .., ..]);
        let h = self.h[k].row(level);
        if d <= 8 {
            let mut g = [0.0; 8];
            for i in 0..d {
                let mut acc = h[i];
                for j in 0..d {
                    acc += phi[[i, j]] * x[j];
                }
                g[i] = acc;
            }
            for i in 0..d {
                out[i] = (0..d).map(|j| self.a[[i, j]] * g[j]).sum();
            }
        } else {
            let gv = phi.dot(&ArrayView1::from(x)) + h;
            let b = self.a.dot(&gv);
            out.copy_from_slice(b.as_slice().expect("contiguous"));
        }
    }

    fn check_steps(&self, steps: usize) -> Result<()> {
        if self.phi.dim().0 != steps + 1 {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!(
                    "the LQ feedback has {} levels, the simulation needs {}",
                    self.phi.dim().0,
                    steps + 1
                ),
            ));
        }
        Ok(())
    }
}

/// Drift b = A∇v_k from value functions stored on a grid at some levels (e.g. a PDE
/// solution): ∇v at the nodes by centred differences inside and one-sided differences at
/// the edges, interpolated multilinearly (states outside the box are clamped onto it),
/// piecewise constant in time from the latest stored level ≤ t_n.
#[derive(Debug, Clone)]
pub struct GridPolicy {
    a: Array2<f64>,
    grid: Grid,
    levels: Vec<usize>,
    /// grads[k][snapshot][axis] = ∂_axis v_k at every node (row-major).
    grads: Vec<Vec<Vec<Vec<f64>>>>,
    /// Channels of a bounded model (drift ∇H(∇v)); `None`: b = A∇v.
    controls: Option<ControlLaw>,
}

impl GridPolicy {
    /// `values[k][j]` is v_k on `grid` at level `levels[j]` (`levels` strictly increasing,
    /// starting at 0). Field `policy` on inconsistent input.
    pub fn new(
        a: Array2<f64>,
        grid: Grid,
        levels: Vec<usize>,
        values: &[Vec<ArrayD<f64>>],
    ) -> Result<Self> {
        let d = grid.dim();
        let bad = |m: String| SolverError::invalid(Param::Argument("policy"), m);
        if a.dim() != (d, d) {
            return Err(bad(format!("A must be {d}×{d} for a {d}-D grid")));
        }
        if levels.first() != Some(&0) || levels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(
                "value levels must start at 0 and increase strictly".to_string()
            ));
        }
        if values.is_empty() {
            return Err(bad("no population values given".to_string()));
        }
        let mut grads = Vec::with_capacity(values.len());
        for (k, vk) in values.iter().enumerate() {
            if vk.len() != levels.len() {
                return Err(bad(format!(
                    "population {k}: {} value snapshots for {} levels",
                    vk.len(),
                    levels.len()
                )));
            }
            let mut per = Vec::with_capacity(vk.len());
            for v in vk {
                if v.shape() != grid.shape() || v.iter().any(|x| !x.is_finite()) {
                    return Err(bad(format!(
                        "population {k}: value snapshots must be finite with shape {:?}",
                        grid.shape()
                    )));
                }
                let flat: Vec<f64> = v.iter().copied().collect();
                per.push((0..d).map(|i| gradient_along(&grid, &flat, i)).collect());
            }
            grads.push(per);
        }
        Ok(GridPolicy {
            a,
            grid,
            levels,
            grads,
            controls: None,
        })
    }

    /// With bounded controls the drift is the saturated optimum b = ∇H(∇v) of the
    /// channels ([`crate::hamiltonian`]) instead of A∇v; `None` keeps A∇v.
    pub fn with_controls(mut self, controls: Option<ControlLaw>) -> Self {
        self.controls = controls;
        self
    }

    /// ∇v_k interpolated at `x` (clamped to the box) from the snapshot in force at `level`.
    pub fn gradient(&self, k: usize, level: usize, x: &[f64]) -> Vec<f64> {
        let d = self.grid.dim();
        let j = self.levels.partition_point(|&l| l <= level) - 1;
        let cell = Cell::locate(&self.grid, x, |i| i);
        let mut g = vec![0.0; d];
        for (c, w) in cell.corners(d) {
            for (i, gi) in g.iter_mut().enumerate() {
                *gi += w * self.grads[k][j][i][c];
            }
        }
        g
    }
}

/// ∂v/∂x_i at every node: centred inside, one-sided at the two edges.
fn gradient_along(grid: &Grid, v: &[f64], i: usize) -> Vec<f64> {
    let n = grid.shape()[i];
    let st = grid.strides()[i];
    let h = grid.axis(i).spacing();
    (0..v.len())
        .map(|f| {
            let j = (f / st) % n;
            if j == 0 {
                (v[f + st] - v[f]) / h
            } else if j == n - 1 {
                (v[f] - v[f - st]) / h
            } else {
                (v[f + st] - v[f - st]) / (2.0 * h)
            }
        })
        .collect()
}

/// A point's cell: lower node index and fraction per axis (clamped to the box).
struct Cell {
    base: usize,
    frac: [f64; MAX_DIM],
    strides: [usize; MAX_DIM],
}

impl Cell {
    /// Locates `x[coord(i)]` on axis i of `grid`.
    fn locate(grid: &Grid, x: &[f64], coord: impl Fn(usize) -> usize) -> Cell {
        let d = grid.dim();
        let mut base = 0;
        let mut frac = [0.0; MAX_DIM];
        let mut strides = [0; MAX_DIM];
        for i in 0..d {
            let ax = grid.axis(i);
            let n = ax.len();
            let s = ((x[coord(i)] - ax.lo()) / ax.spacing()).clamp(0.0, (n - 1) as f64);
            let j = (s.floor() as usize).min(n - 2);
            frac[i] = s - j as f64;
            base += j * grid.strides()[i];
            strides[i] = grid.strides()[i];
        }
        Cell {
            base,
            frac,
            strides,
        }
    }

    /// The 2^d corners (flat index, multilinear weight).
    fn corners(&self, d: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (0..1usize << d).map(move |mask| {
            let mut idx = self.base;
            let mut w = 1.0;
            for i in 0..d {
                if mask >> i & 1 == 1 {
                    idx += self.strides[i];
                    w *= self.frac[i];
                } else {
                    w *= 1.0 - self.frac[i];
                }
            }
            (idx, w)
        })
    }

    /// The corners with fixed-point integer weights summing to exactly 2^(32·d).
    fn integer_corners(&self, d: usize) -> impl Iterator<Item = (usize, u128)> + '_ {
        let one = 1u128 << WEIGHT_BITS;
        let fq: Vec<u128> = (0..d)
            .map(|i| ((self.frac[i] * one as f64).round() as u128).min(one))
            .collect();
        (0..1usize << d).map(move |mask| {
            let mut idx = self.base;
            let mut w = 1u128;
            for i in 0..d {
                if mask >> i & 1 == 1 {
                    idx += self.strides[i];
                    w *= fq[i];
                } else {
                    w *= one - fq[i];
                }
            }
            (idx, w)
        })
    }

    /// Nearest node.
    fn nearest(&self, d: usize) -> usize {
        let mut idx = self.base;
        for i in 0..d {
            if self.frac[i] >= 0.5 {
                idx += self.strides[i];
            }
        }
        idx
    }
}

impl Policy for GridPolicy {
    fn dim(&self) -> usize {
        self.grid.dim()
    }

    fn populations(&self) -> Option<usize> {
        Some(self.grads.len())
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]) {
        self.drift_and_cost(k, level, x, target, out);
    }

    /// With bounded controls: b = ∇H(∇v) and its control cost ℓ (channel optimum).
    fn drift_and_cost(
        &self,
        k: usize,
        level: usize,
        x: &[f64],
        _target: &[f64],
        out: &mut [f64],
    ) -> Option<f64> {
        let g = self.gradient(k, level, x);
        let d = g.len();
        if let Some(law) = &self.controls {
            return Some(law.drift_into(&g, &mut out[..d]));
        }
        for i in 0..d {
            out[i] = (0..d).map(|j| self.a[[i, j]] * g[j]).sum();
        }
        None
    }
}

/// The paper's Section 8.1 internal model of the mean, the explicit Euler discretisation
/// of (19): m̃(t + dt) = m̃(t) − θ m̃(t) dt, m̃(0) = `start`; shape (steps+1, q). A
/// heuristic stand-in for the population mean. Field `heuristic.theta` for θ < 0 or
/// non-finite.
pub fn internal_model_path(
    start: ArrayView1<f64>,
    theta: f64,
    dt: f64,
    steps: usize,
) -> Result<Array2<f64>> {
    if !(theta.is_finite() && theta >= 0.0) {
        return Err(SolverError::invalid(
            Param::Theta,
            format!("must be finite and ≥ 0, got {theta}"),
        ));
    }
    let mut out = Array2::zeros((steps + 1, start.len()));
    out.row_mut(0).assign(&start);
    for n in 0..steps {
        let next = &out.row(n) * (1.0 - theta * dt);
        out.row_mut(n + 1).assign(&next);
    }
    Ok(out)
}

/// What the least-squares control of Section 8 steers towards.
#[derive(Debug, Clone, PartialEq)]
pub enum LeastSquaresTarget {
    /// The empirical target ρ̂_k = Σ_j W_kj m̂_j (for one population: its own empirical
    /// mean m̄), recomputed at every step (Table 3, step 3).
    Empirical,
    /// A given path per population, shape (steps+1, q).
    Given(Vec<Array2<f64>>),
}

/// The paper's Section 8 control in the full coalition space (q = 2ⁿ − 1 axes): with the
/// error e = m̄ − x, u = e_ls = (B_HᵀB_H)⁻¹B_Hᵀe, and dx = B_H u dt + σ dW (41). The drift
/// is b = Π(m̄ − x) with Π = B_H(B_HᵀB_H)⁻¹B_Hᵀ the orthogonal projector onto range B_H.
/// With σ = 0 and m̄ constant, Πe decays like (1 − dt)ⁿ and (I − Π)e is constant, so
/// x → Πm̄ + (I − Π)x(0): the least-squares allocation of the state converges to that of
/// m̄(0) (the paper's Fig. 6 claim).
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquaresPolicy {
    b_h: Array2<f64>,
    gain: Array2<f64>,
    proj: Array2<f64>,
    target: LeastSquaresTarget,
}

impl LeastSquaresPolicy {
    /// The control of an n-player game (B_H from [`Game`]); field `game.players` for a
    /// bad n, `policy` for a given target of the wrong width.
    pub fn new(players: usize, target: LeastSquaresTarget) -> Result<Self> {
        let game = Game::new(players)?;
        let b_h = game.incidence().clone();
        let q = b_h.nrows();
        if let LeastSquaresTarget::Given(paths) = &target {
            if paths.is_empty() || paths.iter().any(|p| p.ncols() != q) {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    format!("least-squares targets need {q} columns per population"),
                ));
            }
        }
        let gram = b_h.t().dot(&b_h);
        let (ev, u) = symmetric_eigen(&gram)?;
        let mut scaled = u.clone();
        for (mut col, &l) in scaled.columns_mut().into_iter().zip(ev.iter()) {
            col /= l;
        }
        let inv = scaled.dot(&u.t());
        let gain = inv.dot(&b_h.t());
        let proj = b_h.dot(&gain);
        Ok(LeastSquaresPolicy {
            b_h,
            gain,
            proj,
            target,
        })
    }

    /// B_H (q×n).
    pub fn incidence(&self) -> &Array2<f64> {
        &self.b_h
    }

    /// Π = B_H(B_HᵀB_H)⁻¹B_Hᵀ (q×q).
    pub fn projector(&self) -> &Array2<f64> {
        &self.proj
    }

    /// The least-squares allocation (B_HᵀB_H)⁻¹B_Hᵀy of a q-vector y.
    pub fn allocation(&self, y: ArrayView1<f64>) -> Array1<f64> {
        self.gain.dot(&y)
    }

    /// N → ∞ limit of the Euler scheme's means (exact for this linear drift):
    /// m_k,n+1 = m_k,n + dt Π(ρ_k,n − m_k,n), ρ from W (empirical target) or the given path.
    pub fn euler_means(
        &self,
        mean0: &[Array1<f64>],
        averaging: &Array2<f64>,
        dt: f64,
        steps: usize,
    ) -> Vec<Array2<f64>> {
        let p = mean0.len();
        let q = self.proj.nrows();
        let mut out: Vec<Array2<f64>> = mean0
            .iter()
            .map(|m| {
                let mut a = Array2::zeros((steps + 1, q));
                a.row_mut(0).assign(m);
                a
            })
            .collect();
        for n in 0..steps {
            for k in 0..p {
                let rho = match &self.target {
                    LeastSquaresTarget::Empirical => {
                        let mut r = Array1::zeros(q);
                        for j in 0..p {
                            r.scaled_add(averaging[[k, j]], &out[j].row(n));
                        }
                        r
                    }
                    LeastSquaresTarget::Given(paths) => paths[k].row(n).to_owned(),
                };
                let e = &rho - &out[k].row(n);
                let next = &out[k].row(n) + &(self.proj.dot(&e) * dt);
                out[k].row_mut(n + 1).assign(&next);
            }
        }
        out
    }
}

impl Policy for LeastSquaresPolicy {
    fn dim(&self) -> usize {
        self.proj.nrows()
    }

    fn populations(&self) -> Option<usize> {
        match &self.target {
            LeastSquaresTarget::Empirical => None,
            LeastSquaresTarget::Given(p) => Some(p.len()),
        }
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]) {
        let q = x.len();
        let given;
        let m: &[f64] = match &self.target {
            LeastSquaresTarget::Empirical => target,
            LeastSquaresTarget::Given(paths) => {
                given = paths[k].row(level).to_vec();
                &given
            }
        };
        for i in 0..q {
            out[i] = (0..q).map(|j| self.proj[[i, j]] * (m[j] - x[j])).sum();
        }
    }

    fn check_steps(&self, steps: usize) -> Result<()> {
        if let LeastSquaresTarget::Given(paths) = &self.target {
            if paths.iter().any(|p| p.nrows() != steps + 1) {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    format!("least-squares targets need {} levels", steps + 1),
                ));
            }
        }
        Ok(())
    }
}

/// One population's results.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationRun {
    /// Empirical mean m̂_k,n, shape (steps+1, d).
    pub mean: Array2<f64>,
    /// Empirical covariance (divisor N − 1; zero for N = 1), shape (steps+1, d, d).
    pub cov: Array3<f64>,
    /// Empirical target ρ̂_k,n = Σ_j W_kj m̂_j,n, shape (steps+1, d).
    pub target: Array2<f64>,
    /// Paths of copies 0..K, shape (K, steps+1, d).
    pub trajectories: Array3<f64>,
    /// One histogram per requested level, shape of the grid, Σ m · cell = 1.
    pub histograms: Vec<ArrayD<f64>>,
    /// Mean of the realised costs J_i over the copies (NaN without cost weights).
    pub cost_mean: f64,
    /// Standard deviation (divisor N − 1) of the realised costs (NaN without weights).
    pub cost_std: f64,
    /// Fraction of the copies in the excess core (every coordinate ≥ 0) per level.
    pub core_fraction: Array1<f64>,
    /// Fraction of the copies whose allocation is in the core of the coalition values, per
    /// level ([`AllocationCore`]; `None` without a test).
    pub allocation_core_fraction: Option<Array1<f64>>,
}

/// Result of [`simulate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Level times t_n.
    pub time: Array1<f64>,
    /// Copies per population.
    pub copies: usize,
    /// Per population, in order.
    pub populations: Vec<PopulationRun>,
}

/// The ChaCha8 stream of chunk `chunk` of population `k`, positioned at `phase`
/// (0 = initial sampling, n + 1 = Euler step n) for a `d`-dimensional state.
fn chunk_rng(seed: u64, k: usize, chunk: usize, phase: usize, d: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((k as u64) << 40) | chunk as u64);
    rng.set_word_pos(phase as u128 * (CHUNK * words_per_copy(d)) as u128);
    rng
}

/// u32 words of the stream used by one copy per phase: 4 per pair of normals.
fn words_per_copy(d: usize) -> usize {
    4 * d.div_ceil(2)
}

/// Fills `out` with independent N(0, 1) draws by Box–Muller, using exactly
/// [`words_per_copy`] words (an odd last draw discards its partner).
fn normals(rng: &mut ChaCha8Rng, out: &mut [f64]) {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let mut i = 0;
    while i < out.len() {
        let u1 = ((rng.next_u64() >> 11) + 1) as f64 * SCALE; // (0, 1]
        let u2 = (rng.next_u64() >> 11) as f64 * SCALE; // [0, 1)
        let r = (-2.0 * u1.ln()).sqrt();
        let (sn, cs) = (std::f64::consts::TAU * u2).sin_cos();
        out[i] = r * cs;
        if i + 1 < out.len() {
            out[i + 1] = r * sn;
        }
        i += 2;
    }
}

/// Lower-triangular L with LLᵀ = C for a symmetric positive semidefinite C (zero pivots
/// give zero columns). Field `population.cov` when C is not PSD.
fn cholesky_psd(c: &Array2<f64>) -> Result<Array2<f64>> {
    let d = c.nrows();
    let scale = c
        .diag()
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let tol = 1e-12 * scale;
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let mut diag = c[[j, j]];
        for k in 0..j {
            diag -= l[[j, k]] * l[[j, k]];
        }
        if diag < -tol || !diag.is_finite() {
            return Err(SolverError::invalid(
                Param::PopulationCov(None),
                "covariance must be symmetric positive semidefinite",
            ));
        }
        if diag <= tol {
            for i in j + 1..d {
                let mut v = c[[i, j]];
                for k in 0..j {
                    v -= l[[i, k]] * l[[j, k]];
                }
                if v.abs() > 1e-9 * scale.sqrt() * scale.sqrt() {
                    return Err(SolverError::invalid(
                        Param::PopulationCov(None),
                        "covariance must be symmetric positive semidefinite",
                    ));
                }
            }
            continue;
        }
        let ljj = diag.sqrt();
        l[[j, j]] = ljj;
        for i in j + 1..d {
            let mut v = c[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / ljj;
        }
    }
    Ok(l)
}

/// Simulates N copies per population under `policy` by Euler–Maruyama (module docs):
/// empirical means, covariances and targets per level, kept trajectories, histograms and
/// realised costs. Bit-identical for any number of rayon threads.
///
/// Errors (`InvalidParameter`): `copies` (0 or above [`MAX_COPIES`]), `trajectories`
/// (> copies), `noise.sigma`, `horizon.t`, `solver.steps`, `population.mean`,
/// `population.cov`, `graph`, `policy` (dimension, populations or levels do not match),
/// `histogram` (levels or axes out of range). A non-finite state gives
/// `NonFinite { stage: "particles", level, population }`.
pub fn simulate<P: Policy + ?Sized>(
    system: &ParticleSystem,
    policy: &P,
    options: &SimulationOptions,
) -> Result<Simulation> {
    simulate_observed(system, policy, options, &mut |_| {})
}

/// [`simulate`] calling `observer(level)` after each level is complete (for progress
/// reporting; the observer cannot change the run).
pub fn simulate_observed<P: Policy + ?Sized>(
    system: &ParticleSystem,
    policy: &P,
    options: &SimulationOptions,
    observer: &mut dyn FnMut(usize),
) -> Result<Simulation> {
    system.validate()?;
    let d = system.dim();
    let p = system.populations.len();
    let n = options.copies;
    let steps = system.steps;
    if n == 0 || n > MAX_COPIES {
        return Err(SolverError::invalid(
            Param::Argument("copies"),
            format!("must be between 1 and {MAX_COPIES}, got {n}"),
        ));
    }
    if options.trajectories > n {
        return Err(SolverError::invalid(
            Param::Argument("trajectories"),
            format!("cannot keep {} paths of {n} copies", options.trajectories),
        ));
    }
    if policy.dim() != d {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            format!(
                "the policy acts on {} axes, the state has {d}",
                policy.dim()
            ),
        ));
    }
    if policy.populations().is_some_and(|pp| pp != p) {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            format!(
                "the policy has data for {} population(s), the system has {p}",
                policy.populations().unwrap_or(0)
            ),
        ));
    }
    policy.check_steps(steps)?;
    let hist_axes: Option<Vec<usize>> = match &options.histogram {
        None => None,
        Some(h) => {
            let axes = h
                .axes
                .clone()
                .unwrap_or_else(|| (0..h.grid.dim()).collect());
            if axes.len() != h.grid.dim() || axes.iter().any(|&a| a >= d) {
                return Err(SolverError::invalid(
                    Param::Argument("histogram"),
                    format!(
                        "the {}-D grid needs {} state coordinates below {d}",
                        h.grid.dim(),
                        h.grid.dim()
                    ),
                ));
            }
            if h.levels.iter().any(|&l| l > steps) {
                return Err(SolverError::invalid(
                    Param::Argument("histogram"),
                    format!("histogram levels must be ≤ {steps}"),
                ));
            }
            Some(axes)
        }
    };
    let chols = system
        .populations
        .iter()
        .map(|pop| cholesky_psd(&pop.cov))
        .collect::<Result<Vec<_>>>()?;
    if !system.initial.is_empty() && system.initial.len() != p {
        return Err(SolverError::invalid(
            Param::InitialLaw,
            format!("{} initial laws for {p} populations", system.initial.len()),
        ));
    }
    let samplers = (0..p)
        .map(|k| {
            system
                .initial
                .get(k)
                .unwrap_or(&InitialSampler::Gaussian)
                .prepare(d)
        })
        .collect::<Result<Vec<Prepared>>>()?;

    let dt = system.dt();
    let sq = system.sigma * dt.sqrt();
    let levels = steps + 1;
    let kk = options.trajectories;
    let seed = options.seed;
    let chunk_len = CHUNK * d;

    // Initial states.
    let mut states: Vec<Vec<f64>> = vec![vec![0.0; n * d]; p];
    for (k, xs) in states.iter_mut().enumerate() {
        let mean = &system.populations[k].mean;
        let l = &chols[k];
        let sampler = &samplers[k];
        xs.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(c, chunk)| {
                let mut z = vec![0.0; d];
                if !sampler.is_gaussian() {
                    let mut rng = initial_rng(seed, k, c);
                    for x in chunk.chunks_mut(d) {
                        sampler.draw(&mut rng, &mut z, x);
                    }
                    return;
                }
                let mut rng = chunk_rng(seed, k, c, 0, d);
                for x in chunk.chunks_mut(d) {
                    normals(&mut rng, &mut z);
                    for i in 0..d {
                        x[i] = mean[i] + (0..=i).map(|j| l[[i, j]] * z[j]).sum::<f64>();
                    }
                }
            });
    }
    let mut costs: Vec<Vec<f64>> = vec![vec![0.0; n]; p];
    let mut runs: Vec<PopulationRun> = (0..p)
        .map(|_| PopulationRun {
            mean: Array2::zeros((levels, d)),
            cov: Array3::zeros((levels, d, d)),
            target: Array2::zeros((levels, d)),
            trajectories: Array3::zeros((kk, levels, d)),
            histograms: Vec::new(),
            cost_mean: f64::NAN,
            cost_std: f64::NAN,
            core_fraction: Array1::zeros(levels),
            allocation_core_fraction: system
                .allocation_core
                .as_ref()
                .map(|_| Array1::zeros(levels)),
        })
        .collect();

    for level in 0..levels {
        // Empirical moments (chunk-ordered reduction) and kept paths.
        for k in 0..p {
            let shift: Vec<f64> = if level == 0 {
                system.populations[k].mean.to_vec()
            } else {
                runs[k].mean.row(level - 1).to_vec()
            };
            let (mean, cov) = moments(&states[k], d, &shift);
            if mean.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::NonFinite {
                    stage: "particles",
                    level,
                    population: k,
                });
            }
            runs[k].mean.row_mut(level).assign(&mean);
            runs[k].cov.slice_mut(s![level, .., ..]).assign(&cov);
            runs[k].core_fraction[level] = fraction(&states[k], d, in_excess_core);
            if let (Some(test), Some(f)) = (
                &system.allocation_core,
                runs[k].allocation_core_fraction.as_mut(),
            ) {
                f[level] = fraction(&states[k], d, |x| test.contains(x));
            }
            for c in 0..kk {
                for i in 0..d {
                    runs[k].trajectories[[c, level, i]] = states[k][c * d + i];
                }
            }
        }
        for k in 0..p {
            let mut rho = Array1::<f64>::zeros(d);
            for j in 0..p {
                rho.scaled_add(system.averaging[[k, j]], &runs[j].mean.row(level));
            }
            runs[k].target.row_mut(level).assign(&rho);
        }
        if let (Some(h), Some(axes)) = (&options.histogram, &hist_axes) {
            if h.levels.contains(&level) {
                for k in 0..p {
                    let hist = histogram(&h.grid, h.deposit, &states[k], d, axes);
                    runs[k].histograms.push(hist);
                }
            }
        }
        if level == steps {
            if let Some(cw) = &system.cost {
                for k in 0..p {
                    let rho = runs[k].target.row(level).to_vec();
                    costs[k]
                        .par_chunks_mut(CHUNK)
                        .zip(states[k].par_chunks(chunk_len))
                        .for_each(|(cs, xs)| {
                            let mut e = vec![0.0; d];
                            for (ci, x) in cs.iter_mut().zip(xs.chunks(d)) {
                                for i in 0..d {
                                    e[i] = rho[i] - x[i];
                                }
                                *ci += 0.5 * quad(&cw.s, &e);
                            }
                        });
                }
            }
            observer(level);
            break;
        }
        // One Euler–Maruyama step of every copy.
        for k in 0..p {
            let rho = runs[k].target.row(level).to_vec();
            let cost = system.cost.as_ref();
            let sigma_zero = system.sigma == 0.0;
            states[k]
                .par_chunks_mut(chunk_len)
                .zip(costs[k].par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (xs, cs))| {
                    let mut rng = chunk_rng(seed, k, c, level + 1, d);
                    let (mut b, mut z, mut e) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
                    for (x, ci) in xs.chunks_mut(d).zip(cs.iter_mut()) {
                        let ell = policy.drift_and_cost(k, level, x, &rho, &mut b);
                        if let Some(cw) = cost {
                            for i in 0..d {
                                e[i] = rho[i] - x[i];
                            }
                            let control = match ell {
                                Some(l) => l,
                                None => 0.5 * quad(&cw.drift, &b),
                            };
                            let mut core = 0.0;
                            if cw.core_penalty > 0.0 {
                                for &xi in x.iter() {
                                    if xi < 0.0 {
                                        core += cw.core_penalty * xi * xi;
                                    }
                                }
                            }
                            *ci += dt * (0.5 * quad(&cw.q, &e) + control + core);
                        }
                        if sigma_zero {
                            for i in 0..d {
                                x[i] += b[i] * dt;
                            }
                        } else {
                            normals(&mut rng, &mut z);
                            for i in 0..d {
                                x[i] += b[i] * dt + sq * z[i];
                            }
                        }
                    }
                });
        }
        observer(level);
    }

    if system.cost.is_some() {
        for k in 0..p {
            let mean = costs[k].iter().sum::<f64>() / n as f64;
            let var = if n > 1 {
                costs[k].iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1) as f64
            } else {
                0.0
            };
            runs[k].cost_mean = mean;
            runs[k].cost_std = var.sqrt();
        }
    }
    Ok(Simulation {
        time: system.times(),
        copies: n,
        populations: runs,
    })
}

/// Fraction of the rows of `xs` (N×d flat) satisfying `test`; integer counts per chunk,
/// so the result does not depend on the thread count.
fn fraction(xs: &[f64], d: usize, test: impl Fn(&[f64]) -> bool + Sync) -> f64 {
    let n = xs.len() / d;
    let count: usize = xs
        .par_chunks(CHUNK * d)
        .map(|chunk| chunk.chunks(d).filter(|x| test(x)).count())
        .sum();
    count as f64 / n as f64
}

/// eᵀMe.
fn quad(m: &Array2<f64>, e: &[f64]) -> f64 {
    let d = e.len();
    let mut acc = 0.0;
    for i in 0..d {
        let mut row = 0.0;
        for j in 0..d {
            row += m[[i, j]] * e[j];
        }
        acc += e[i] * row;
    }
    acc
}

/// Mean and covariance (divisor N − 1) of the rows of `xs` (N×d flat), shifted by `shift`
/// to limit cancellation; partial sums per chunk, added in chunk order.
fn moments(xs: &[f64], d: usize, shift: &[f64]) -> (Array1<f64>, Array2<f64>) {
    let n = xs.len() / d;
    let partials: Vec<Vec<f64>> = xs
        .par_chunks(CHUNK * d)
        .map(|chunk| {
            let mut acc = vec![0.0; d + d * d];
            for x in chunk.chunks(d) {
                for i in 0..d {
                    let yi = x[i] - shift[i];
                    acc[i] += yi;
                    for j in 0..=i {
                        acc[d + i * d + j] += yi * (x[j] - shift[j]);
                    }
                }
            }
            acc
        })
        .collect();
    let mut tot = vec![0.0; d + d * d];
    for part in &partials {
        for (t, v) in tot.iter_mut().zip(part) {
            *t += v;
        }
    }
    let nf = n as f64;
    let mean = Array1::from_shape_fn(d, |i| shift[i] + tot[i] / nf);
    let mut cov = Array2::zeros((d, d));
    if n > 1 {
        for i in 0..d {
            for j in 0..=i {
                let c = (tot[d + i * d + j] - tot[i] * tot[j] / nf) / (nf - 1.0);
                cov[[i, j]] = c;
                cov[[j, i]] = c;
            }
        }
    }
    (mean, cov)
}

/// Histogram of the copies (state coordinates `axes` on the grid axes), normalised so
/// that Σ m · cell = 1. Integer fixed-point weights: the sum does not depend on the order.
fn histogram(grid: &Grid, deposit: Deposit, xs: &[f64], d: usize, axes: &[usize]) -> ArrayD<f64> {
    let gd = grid.dim();
    let len = grid.len();
    let counts = xs
        .par_chunks(CHUNK * d)
        .fold(
            || vec![0u128; len],
            |mut acc, chunk| {
                for x in chunk.chunks(d) {
                    let cell = Cell::locate(grid, x, |i| axes[i]);
                    match deposit {
                        Deposit::NearestNode => {
                            acc[cell.nearest(gd)] += 1u128 << (WEIGHT_BITS * gd as u32)
                        }
                        Deposit::CloudInCell => {
                            for (idx, w) in cell.integer_corners(gd) {
                                acc[idx] += w;
                            }
                        }
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0u128; len],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    let n = xs.len() / d;
    let unit = (1u128 << (WEIGHT_BITS * gd as u32)) as f64;
    let scale = 1.0 / (unit * n as f64 * grid.cell_volume());
    let data: Vec<f64> = counts.iter().map(|&c| c as f64 * scale).collect();
    ArrayD::from_shape_vec(IxDyn(grid.shape()), data).expect("grid shape")
}

/// Mean-field cost of the LQ policy for a population starting from N(m, C):
/// E[v(0, X_0)] = ½tr(φ(0)(C + mmᵀ)) + h(0)·m + χ(0) (v = ½xᵀφx + hᵀx + χ, docs/design.md §3).
pub fn lq_mean_field_cost(
    phi0: ArrayView2<f64>,
    h0: ArrayView1<f64>,
    chi0: f64,
    mean: ArrayView1<f64>,
    cov: ArrayView2<f64>,
) -> f64 {
    let d = mean.len();
    let mut tr = 0.0;
    for i in 0..d {
        for j in 0..d {
            tr += phi0[[i, j]] * (cov[[j, i]] + mean[j] * mean[i]);
        }
    }
    0.5 * tr + h0.dot(&mean) + chi0
}

/// Root-mean-square over levels of the Euclidean distance between two paths of shape
/// (levels, d) — the deviation of an empirical mean path from the mean-field one.
pub fn mean_path_deviation(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let levels = a.nrows().min(b.nrows());
    let s: f64 = (0..levels)
        .map(|n| {
            a.row(n)
                .iter()
                .zip(b.row(n).iter())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
        })
        .sum();
    (s / levels as f64).sqrt()
}

/// Least-squares slope of log y against log x (both positive, at least two distinct x).
/// Field `study` otherwise.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| !(v.is_finite() && *v > 0.0))
    {
        return Err(SolverError::invalid(
            Param::Argument("study"),
            "a log-log fit needs at least two positive finite (x, y) pairs",
        ));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let m = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / m, ly.iter().sum::<f64>() / m);
    let sxx: f64 = lx.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx == 0.0 {
        return Err(SolverError::invalid(
            Param::Argument("study"),
            "the x values are all equal",
        ));
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    Ok(sxy / sxx)
}

/// L1 distance Σ |a − b| · cell of two densities on `grid` (0 ≤ · ≤ 2 for densities).
pub fn density_l1(grid: &Grid, a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        * grid.cell_volume()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn normals_have_unit_moments_and_fixed_consumption() {
        let mut rng = chunk_rng(7, 0, 0, 0, 3);
        let mut z = [0.0; 3];
        let (mut s1, mut s2, m) = (0.0, 0.0, 200_000);
        for _ in 0..m {
            normals(&mut rng, &mut z);
            for v in z {
                s1 += v;
                s2 += v * v;
            }
        }
        let nn = 3.0 * m as f64;
        let (mean, var) = (s1 / nn, s2 / nn);
        // SE of the mean 1/√nn ≈ 1.3e-3, of the variance √2/√nn ≈ 1.8e-3.
        assert!(mean.abs() < 4.0 / nn.sqrt(), "{mean}");
        assert!((var - 1.0).abs() < 4.0 * 2f64.sqrt() / nn.sqrt(), "{var}");
        let mut a = chunk_rng(7, 0, 0, 1, 3);
        let mut b = chunk_rng(7, 0, 0, 0, 3);
        for _ in 0..CHUNK {
            normals(&mut b, &mut z);
        }
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn cholesky_of_semidefinite_covariance() {
        let c = array![[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]];
        let l = cholesky_psd(&c).unwrap();
        let err = (&l.dot(&l.t()) - &c)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "{l}");
        let bad = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(matches!(
            cholesky_psd(&bad),
            Err(SolverError::InvalidParameter { ref field, .. }) if *field == Param::PopulationCov(None)
        ));
    }

    #[test]
    fn integer_cic_weights_sum_to_one_copy() {
        let grid = Grid::from_bounds(&[0.0, -1.0], &[1.0, 1.0], &[5, 7]).unwrap();
        let cell = Cell::locate(&grid, &[0.3141, 0.2718], |i| i);
        let tot: u128 = cell.integer_corners(2).map(|(_, w)| w).sum();
        assert_eq!(tot, 1u128 << 64);
        let f: f64 = cell.corners(2).map(|(_, w)| w).sum();
        assert!((f - 1.0).abs() < 1e-15);
    }

    #[test]
    fn loglog_slope_of_power_law() {
        let x = [10.0, 100.0, 1000.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powf(-0.5)).collect();
        assert!((loglog_slope(&x, &y).unwrap() + 0.5).abs() < 1e-12);
    }

    #[test]
    fn internal_model_path_is_geometric_and_rejects_negative_theta() {
        let m = internal_model_path(array![10.0, -20.0].view(), 0.01, 0.1, 5000).unwrap();
        let f = (1.0f64 - 0.001).powi(5000);
        assert!((m[[5000, 0]] - 10.0 * f).abs() < 1e-12);
        assert!((m[[5000, 1]] + 20.0 * f).abs() < 1e-12);
        // θ = 0: constant.
        let c = internal_model_path(array![3.0].view(), 0.0, 0.1, 7).unwrap();
        assert!(c.iter().all(|&v| v == 3.0));
        let e = internal_model_path(array![1.0].view(), -1.0, 0.1, 3).unwrap_err();
        assert!(e.to_string().contains(&Param::Theta.to_string()), "{e}");
    }

    #[test]
    fn feedback_towards_targets_is_a_phi_times_offset() {
        let a = array![[-1.0, 0.2], [0.2, -2.0]];
        let mut phi = Array3::zeros((3, 2, 2));
        for n in 0..3 {
            phi.slice_mut(s![n, .., ..])
                .assign(&(array![[1.0, 0.1], [0.1, 0.5]] * (n + 1) as f64));
        }
        let mu = Array2::from_shape_fn((3, 2), |(n, j)| (n + j) as f64 - 0.5);
        let pol = LqPolicy::towards(a.clone(), phi.clone(), std::slice::from_ref(&mu)).unwrap();
        let x = [0.7, -1.3];
        let mut out = [0.0; 2];
        pol.drift(0, 2, &x, &[0.0, 0.0], &mut out);
        let off: Array1<f64> = &array![0.7, -1.3] - &mu.row(2);
        let p2: Array2<f64> = phi.slice(s![2, .., ..]).to_owned();
        let want = a.dot(&p2.dot(&off));
        for i in 0..2 {
            assert!((out[i] - want[i]).abs() < 1e-14, "{out:?} vs {want}");
        }
        // At x = μ_k(t) the drift vanishes.
        pol.drift(0, 1, &[mu[[1, 0]], mu[[1, 1]]], &[0.0, 0.0], &mut out);
        assert!(out.iter().all(|v| v.abs() < 1e-14));
        assert!(LqPolicy::towards(a, phi, &[Array2::zeros((2, 2))]).is_err());
    }
}
