//! Scenario files: TOML → validated [`Scenario`] (a solvers [`Model`] plus
//! [`SolverSettings`]).
//!
//! Pipeline: read the text, parse it to a TOML tree, apply `--set` overrides, deserialise
//! into `Raw*` structs (unknown keys refused everywhere), then check every value against
//! the dimension d and build the model. Every error names the scenario key
//! (`cost.q`, `population[2].std`; array indices in messages are 1-based). The format is
//! documented key by key in docs/scenario-format.md.

use crate::initial::InitialSpec;
use crate::reduction::GameSpec;
use crate::settings::SolverSettings;
use game::ill_posed_key;
use std::path::PathBuf;
use tufield_solvers::modal::ModalDecomposition;
use tufield_solvers::model::Model;

mod build;
mod checks;
mod game;
mod graph;
mod load;
mod messages;
mod output_settings;
pub mod paper;
mod population;
mod raw;
mod solver_settings;
pub mod values;
pub use load::overridden_text;
pub use paper::{PaperCheck, PaperRef};
pub use values::CoalitionValues;

pub use tufield_solvers::game::MAX_PLAYERS;
/// Largest grid dimension the PDE solver handles.
pub use tufield_solvers::grid::MAX_DIM;
/// Largest total number of grid points (guards against exhausting memory).
pub const MAX_GRID_POINTS: usize = 50_000_000;
/// Largest number of time steps.
pub const MAX_STEPS: usize = 1_000_000;

/// Default θ of the Section 5 heuristic's internal model m̃' = −θm̃ (the paper's first
/// scenario of Section 8.1).
pub const DEFAULT_THETA: f64 = 0.01;

/// Default damping θ̃ of the second-order consensus (43) (Table 5).
pub const DEFAULT_THETA_TILDE: f64 = 0.25;

/// Default damping θ̂ of the second-order consensus (43) (Table 5, first set).
pub const DEFAULT_THETA_HAT: f64 = 2.6;

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
    /// The second-order consensus (43) of the populations' initial means with the
    /// scenario's θ, θ̃, θ̂ over `solver.steps` iterations, and those parameters.
    pub fn second_order_consensus(
        &self,
    ) -> Result<
        (
            tufield_solvers::lq::SecondOrderParams,
            tufield_solvers::lq::SecondOrderConsensus,
        ),
        tufield_solvers::SolverError,
    > {
        let params = tufield_solvers::lq::SecondOrderParams {
            theta: self.theta,
            theta_tilde: self.theta_tilde,
            theta_hat: self.theta_hat,
        };
        let initial: Vec<_> = self
            .model
            .populations
            .iter()
            .map(|p| p.mean.clone())
            .collect();
        let cons = tufield_solvers::lq::second_order_consensus(
            &self.model.graph,
            &initial,
            params,
            self.settings.steps,
        )?;
        Ok((params, cons))
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
