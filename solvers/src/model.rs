//! The reduced model on the grid axes: A, costs, noise, horizon, populations, graph.
//!
//! The HJI (backward) and FPK (forward) of docs/design.md §1 on R^d,
//!
//!   ∂t v + ½∇vᵀA∇v + ½(ρ−x)ᵀQ(ρ−x) + σ²/2 Δv = 0,   v(T) = ½(ρ(T)−x)ᵀS(ρ(T)−x)
//!   ∂t m + div(m A∇v) − σ²/2 Δm = 0,                m(0) = m0,
//!
//! are fully described by a [`Model`]: A (d×d, symmetric, negative definite by (17)),
//! Q and S (d×d, symmetric positive semidefinite), σ, T, the initial populations and
//! the graph that defines each population's target ρ_k.

use crate::error::{Param, Result, SolverError};
use crate::graph::Graph;
use crate::hamiltonian::ControlLaw;
use crate::linalg::{is_symmetric, symmetric_eigenvalues};
use ndarray::{Array1, Array2};

/// Initial density of one population: a Gaussian N(mean, cov) on the grid axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// Display name (HDF5 attribute `name`).
    pub name: String,
    /// m̄_k(0), length d.
    pub mean: Array1<f64>,
    /// Covariance of m_k(·, 0), d×d symmetric positive definite.
    pub cov: Array2<f64>,
}

/// A Gaussian mixture Σ_c w_c N(μ_c, C_c): an initial law beyond the Gaussian,
/// shared by the scenario's populations and the particle sampler.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    /// Weights w_c ≥ 0 (the scenario normalises them to sum 1).
    pub weights: Vec<f64>,
    /// Component means μ_c (length d each).
    pub means: Vec<Array1<f64>>,
    /// Component covariances C_c (d×d, symmetric positive (semi)definite).
    pub covs: Vec<Array2<f64>>,
}

/// The uniform law on the box Π_i [low_i, high_i].
#[derive(Debug, Clone, PartialEq)]
pub struct UniformBox {
    /// Lower corner.
    pub low: Array1<f64>,
    /// Upper corner (> low on every axis).
    pub high: Array1<f64>,
}

/// The reduced problem on d grid axes (d = number of projected coalitions, or 1 per mode):
/// the one description of the model that the sweeps ([`crate::sweep::Sweeper`]), the
/// equilibrium map, the LQ oracle ([`crate::lq`]) and the particles ([`crate::particles`])
/// read.
///
/// Built and validated once by [`Model::builder`] … [`ModelBuilder::build`] (outside this
/// crate there is no other way to build one); consumers trust it. Code that edits a field
/// afterwards keeps it valid (or calls [`Model::validate`] again).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Model {
    /// Names of the grid axes (coalitions such as "{1,2}", or "x1" for an expert A).
    pub axis_labels: Vec<String>,
    /// A = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ, d×d, symmetric negative definite.
    pub a: Array2<f64>,
    /// Running cost weight Q (d×d, symmetric PSD).
    pub q: Array2<f64>,
    /// Terminal cost weight S (d×d, symmetric PSD).
    pub s: Array2<f64>,
    /// Noise intensity σ ≥ 0 (diffusion σ²/2 Δ).
    pub sigma: f64,
    /// Horizon T > 0.
    pub horizon: f64,
    /// Initial populations, one per graph node.
    pub populations: Vec<Population>,
    /// Who tracks whom.
    pub graph: Graph,
    /// Core-stability penalty κ ≥ 0 (scenario `cost.core_penalty`): extra running
    /// cost κ Σ_j max(0, −x_j)² on negative excesses along the grid axes, added to the
    /// HJI running cost f of docs/design.md §1 only. κ = 0 is the LQ model; κ > 0 is not LQ.
    pub core_penalty: f64,
    /// Control channels of the projected game ([`crate::hamiltonian`]), with the bounds
    /// on the allocation and the disturbance. `None` for an expert A
    /// (no split into designer and disturbance); an unbounded law is the LQ model.
    pub controls: Option<ControlLaw>,
}

impl Model {
    /// Starts a model with drift matrix A (d×d) and the defaults Q = S = 0, σ = 0, T = 1,
    /// κ = 0, no control channels, no populations and axis labels x1…xd; set the rest
    /// with the [`ModelBuilder`] methods and finish with [`ModelBuilder::build`].
    pub fn builder(a: Array2<f64>) -> ModelBuilder {
        let d = a.nrows();
        ModelBuilder {
            model: Model {
                axis_labels: (1..=d).map(|i| format!("x{i}")).collect(),
                q: Array2::zeros((d, d)),
                s: Array2::zeros((d, d)),
                a,
                sigma: 0.0,
                horizon: 1.0,
                populations: Vec::new(),
                graph: Graph::empty(),
                core_penalty: 0.0,
                controls: None,
            },
            graph_given: false,
        }
    }

    /// Grid dimension d.
    pub fn dim(&self) -> usize {
        self.a.nrows()
    }

    /// True when the model is linear-quadratic (κ = 0), i.e. the exact LQ oracle of
    /// docs/design.md §3 describes its equilibrium.
    pub fn is_lq(&self) -> bool {
        self.core_penalty == 0.0 && !self.is_bounded()
    }

    /// True when some control has a finite bound (saturating Hamiltonian).
    pub fn is_bounded(&self) -> bool {
        self.controls.as_ref().is_some_and(|l| l.is_bounded())
    }

    /// Number of populations p.
    pub fn num_populations(&self) -> usize {
        self.populations.len()
    }

    /// Checks shapes, symmetry, definiteness (run by [`ModelBuilder::build`]): (condition (17) for A, without the γ hint:
    /// use `crate::game::check_condition_17` for that) and finiteness.
    pub fn validate(&self) -> Result<()> {
        let d = self.dim();
        if d == 0 || self.a.ncols() != d {
            return Err(SolverError::invalid(
                Param::Drift,
                "A must be a non-empty square matrix",
            ));
        }
        for (field, m) in [
            (Param::RunningCost, &self.q),
            (Param::TerminalCost, &self.s),
        ] {
            if m.dim() != (d, d) {
                return Err(SolverError::invalid(
                    field,
                    format!("expected a {d}×{d} matrix, got {}×{}", m.nrows(), m.ncols()),
                ));
            }
        }
        for (field, m) in [
            (Param::Drift, &self.a),
            (Param::RunningCost, &self.q),
            (Param::TerminalCost, &self.s),
        ] {
            if m.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::invalid(field, "entries must be finite"));
            }
            if !is_symmetric(m) {
                return Err(SolverError::invalid(field, "matrix must be symmetric"));
            }
        }
        let ev = symmetric_eigenvalues(&self.a)?;
        let largest = ev.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if largest >= 0.0 {
            return Err(SolverError::IllPosed {
                largest_eigenvalue: largest,
                min_gamma: None,
            });
        }
        for (field, m) in [
            (Param::RunningCost, &self.q),
            (Param::TerminalCost, &self.s),
        ] {
            let ev = symmetric_eigenvalues(m)?;
            let smallest = ev.iter().cloned().fold(f64::INFINITY, f64::min);
            if smallest < -1e-12 * (1.0 + ev.iter().map(|x| x.abs()).fold(0.0, f64::max)) {
                return Err(SolverError::invalid(
                    field,
                    format!("must be positive semidefinite; smallest eigenvalue {smallest:.3e}"),
                ));
            }
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(SolverError::invalid(Param::Noise, "must be finite and ≥ 0"));
        }
        if !(self.horizon.is_finite() && self.horizon > 0.0) {
            return Err(SolverError::invalid(
                Param::Horizon,
                "must be finite and > 0",
            ));
        }
        if !(self.core_penalty.is_finite() && self.core_penalty >= 0.0) {
            return Err(SolverError::invalid(
                Param::CorePenalty,
                "must be finite and ≥ 0",
            ));
        }
        if let Some(law) = &self.controls {
            law.validate(&self.a)?;
        }
        if self.populations.len() != self.graph.len() {
            return Err(SolverError::invalid(
                Param::Graph,
                format!(
                    "graph has {} nodes but there are {} populations",
                    self.graph.len(),
                    self.populations.len()
                ),
            ));
        }
        for (k, pop) in self.populations.iter().enumerate() {
            if pop.mean.len() != d {
                return Err(SolverError::invalid(
                    Param::PopulationMean(Some(k)),
                    format!(
                        "expected {d} entries (one per grid axis), got {}",
                        pop.mean.len()
                    ),
                ));
            }
            if pop.mean.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::invalid(
                    Param::PopulationMean(Some(k)),
                    "entries must be finite",
                ));
            }
            if pop.cov.dim() != (d, d) {
                return Err(SolverError::invalid(
                    Param::PopulationCov(Some(k)),
                    format!("expected a {d}×{d} matrix"),
                ));
            }
            if pop.cov.iter().any(|v| !v.is_finite()) || !is_symmetric(&pop.cov) {
                return Err(SolverError::invalid(
                    Param::PopulationCov(Some(k)),
                    "covariance must be finite and symmetric",
                ));
            }
            let ev = symmetric_eigenvalues(&pop.cov)?;
            if ev.iter().any(|&l| l <= 0.0) {
                return Err(SolverError::invalid(
                    Param::PopulationCov(Some(k)),
                    "covariance must be positive definite (std > 0 on every axis)",
                ));
            }
        }
        Ok(())
    }
}

/// Builds a [`Model`] field by field ([`Model::builder`]); [`ModelBuilder::build`]
/// validates it. Fields left unset keep the defaults of [`Model::builder`], so adding a
/// field to the model does not touch the code that builds one.
#[derive(Debug, Clone)]
#[must_use]
pub struct ModelBuilder {
    model: Model,
    graph_given: bool,
}

impl ModelBuilder {
    /// Running cost weight Q (d×d, symmetric PSD).
    pub fn q(mut self, q: Array2<f64>) -> Self {
        self.model.q = q;
        self
    }

    /// Terminal cost weight S (d×d, symmetric PSD).
    pub fn s(mut self, s: Array2<f64>) -> Self {
        self.model.s = s;
        self
    }

    /// Noise intensity σ ≥ 0.
    pub fn sigma(mut self, sigma: f64) -> Self {
        self.model.sigma = sigma;
        self
    }

    /// Horizon T > 0.
    pub fn horizon(mut self, horizon: f64) -> Self {
        self.model.horizon = horizon;
        self
    }

    /// Core-stability penalty κ ≥ 0.
    pub fn core_penalty(mut self, kappa: f64) -> Self {
        self.model.core_penalty = kappa;
        self
    }

    /// Control channels of the projected game (`None`: expert A).
    pub fn controls(mut self, controls: Option<ControlLaw>) -> Self {
        self.model.controls = controls;
        self
    }

    /// Names of the grid axes.
    pub fn axis_labels(mut self, labels: Vec<String>) -> Self {
        self.model.axis_labels = labels;
        self
    }

    /// Adds one population; without [`ModelBuilder::graph`], a single population
    /// tracks its own mean ([`Graph::single`]).
    pub fn population(mut self, population: Population) -> Self {
        self.model.populations.push(population);
        self
    }

    /// The populations, one per graph node (replaces any added before).
    pub fn populations(mut self, populations: Vec<Population>) -> Self {
        self.model.populations = populations;
        self
    }

    /// Who tracks whom (needed for more than one population).
    pub fn graph(mut self, graph: Graph) -> Self {
        self.model.graph = graph;
        self.graph_given = true;
        self
    }

    /// The validated model ([`Model::validate`]).
    pub fn build(mut self) -> Result<Model> {
        if !self.graph_given && self.model.populations.len() == 1 {
            self.model.graph = Graph::single();
        }
        self.model.validate()?;
        Ok(self.model)
    }
}
