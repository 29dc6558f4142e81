//! The exact LQ oracle of a scenario (Riccati equilibrium, docs/design.md §3) and the
//! paper's heuristics, computed once and shared by `lq`, `solve` and `compare`; the output
//! layer writes them ([`crate::output::oracle`]).

use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use tufield_solvers::lq::{
    exact_equilibrium, heuristic_augmented_state, heuristic_consensus, AugmentedStateHeuristic,
    ConsensusHeuristic, LqEquilibrium,
};

/// Everything `lq` computes for one scenario.
#[derive(Debug, Clone)]
pub struct LqResults {
    /// The exact equilibrium.
    pub exact: LqEquilibrium,
    /// The paper's Section 5 heuristic (augmented state, θ from `[heuristic] theta`).
    pub augmented: AugmentedStateHeuristic,
    /// The paper's Section 7 heuristic (h = −φρ_k, consensus of the means).
    pub consensus: ConsensusHeuristic,
}

/// Computes the LQ results of a validated scenario on `settings.steps` intervals.
pub fn compute(sc: &Scenario) -> AppResult<LqResults> {
    let map = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let steps = sc.settings.steps;
    let exact = exact_equilibrium(&sc.model, steps).map_err(map)?;
    let augmented = heuristic_augmented_state(&sc.model, sc.theta, steps).map_err(map)?;
    let consensus = heuristic_consensus(&sc.model, steps).map_err(map)?;
    Ok(LqResults {
        exact,
        augmented,
        consensus,
    })
}
