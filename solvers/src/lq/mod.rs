//! The exact linear-quadratic oracle (docs/design.md §3): every numerical result of tufield is
//! judged against it.
//!
//! With v = ½xᵀφx + hᵀx + χ the HJI of Theorem 1 / Theorem 3 reduces to the ODEs (15),
//! in their corrected form (docs/design.md §3: the paper writes φ where tr φ is meant in the χ
//! equation, and drops the quadratic form in χ(T)):
//!
//! ```text
//!   φ' = −φAφ − Q,                          φ(T) = S
//!   h' = −φAh + Qρ,                         h(T) = −Sρ(T)
//!   χ' = −½hᵀAh − ½ρᵀQρ − σ²/2 tr φ,        χ(T) = ½ρ(T)ᵀSρ(T)
//!   m̄' = A(φm̄ + h),   Σ' = AφΣ + ΣφA + σ²I   (closed-loop Gaussian moments)
//! ```
//!
//! All ODEs are integrated with the adaptive Dormand–Prince 5(4) integrator of [`ode`]
//! and **only in their stable direction**: φ, h, χ and every transition matrix backward in
//! time (A is negative definite, so the backward Riccati flow contracts), means and
//! covariances forward. Forward quantities that need φ between time levels are propagated
//! with one-interval transition matrices computed during the backward sweep, so long
//! horizons (the paper's T = 50) are as accurate as short ones.
//!
//! Modules: [`ode`] (integrator), [`mod@riccati`] (φ and its scalar closed form), [`value`]
//! (h, χ and v for a given target path), [`single`] (exact single-population
//! equilibrium), [`multi`] (exact multi-population equilibrium on the graph), [`moments`]
//! (closed-loop Gaussian moments), [`heuristic`] (the paper's Section 5 and Section 7
//! heuristics, labelled as such).

mod equilibrium;
pub mod heuristic;
pub mod moments;
pub mod multi;
pub mod ode;
pub mod riccati;
pub mod second_order;
pub mod single;
pub mod value;

pub use equilibrium::{LqEquilibrium, LqPopulation};
pub use heuristic::{
    heuristic_augmented_state, heuristic_consensus, AugmentedStateHeuristic, ConsensusHeuristic,
    Theorem2Condition,
};
pub use moments::{closed_loop_moments, exact_covariance, GaussianMoments};
pub use multi::exact_equilibrium;
pub use ode::{Direction, Dopri5, LevelFailure, OdeFailure, OdeOptions};
pub use riccati::{riccati, scalar_riccati_closed_form};
pub use second_order::{
    normalised_laplacian, second_order_consensus, SecondOrderConsensus, SecondOrderParams,
};
pub use single::single_population_equilibrium;
pub use value::{value_function, TargetPath, ValueFunction};

use crate::error::{Param, Result, SolverError};
use crate::linalg::is_symmetric;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

/// The output time levels t_n = n·T/steps, n = 0..=steps, shared by every LQ result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeGrid {
    /// Horizon T > 0.
    pub horizon: f64,
    /// Number of time steps (≥ 1); there are `steps + 1` levels.
    pub steps: usize,
}

impl TimeGrid {
    /// Builds a grid, refusing T ≤ 0 or non-finite (`Param::Horizon`) and `steps = 0`
    /// (`Param::OutputSteps`).
    pub fn new(horizon: f64, steps: usize) -> Result<Self> {
        let grid = TimeGrid { horizon, steps };
        grid.validate()?;
        Ok(grid)
    }

    /// Checks T finite and > 0 and steps ≥ 1.
    pub fn validate(&self) -> Result<()> {
        if !(self.horizon.is_finite() && self.horizon > 0.0) {
            return Err(SolverError::invalid(
                Param::Horizon,
                "must be finite and > 0",
            ));
        }
        if self.steps == 0 {
            return Err(SolverError::invalid(
                Param::OutputSteps,
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Step dt = T/steps.
    pub fn dt(&self) -> f64 {
        self.horizon / self.steps as f64
    }

    /// Level time t_n = n·T/steps (exactly T at n = steps).
    pub fn t(&self, n: usize) -> f64 {
        if n == self.steps {
            self.horizon
        } else {
            n as f64 * self.horizon / self.steps as f64
        }
    }

    /// All level times t_0..=t_steps.
    pub fn times(&self) -> Array1<f64> {
        Array1::from_iter((0..=self.steps).map(|n| self.t(n)))
    }

    /// Number of levels, steps + 1.
    pub fn levels(&self) -> usize {
        self.steps + 1
    }

    /// The same horizon with every step split into `factor` sub-steps.
    pub(crate) fn refined(&self, factor: usize) -> TimeGrid {
        TimeGrid {
            horizon: self.horizon,
            steps: self.steps * factor,
        }
    }
}

/// Checks that `a`, `q`, `s` are finite symmetric d×d matrices of one size d ≥ 1
/// (`Param::Drift`, `RunningCost`, `TerminalCost`) and returns d.
pub(crate) fn check_coefficients(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
) -> Result<usize> {
    let d = a.nrows();
    if d == 0 || a.ncols() != d {
        return Err(SolverError::invalid(
            Param::Drift,
            "A must be a non-empty square matrix",
        ));
    }
    for (field, m) in [
        (Param::Drift, a),
        (Param::RunningCost, q),
        (Param::TerminalCost, s),
    ] {
        if m.dim() != (d, d) {
            return Err(SolverError::invalid(
                field,
                format!("expected a {d}×{d} matrix, got {}×{}", m.nrows(), m.ncols()),
            ));
        }
        if m.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(field, "entries must be finite"));
        }
        if !is_symmetric(m) {
            return Err(SolverError::invalid(field, "matrix must be symmetric"));
        }
    }
    Ok(d)
}

/// Checks σ finite and ≥ 0 (`Param::Noise`).
pub(crate) fn check_sigma(sigma: f64) -> Result<()> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(SolverError::invalid(Param::Noise, "must be finite and ≥ 0"));
    }
    Ok(())
}

/// Checks a vector of length d with finite entries.
pub(crate) fn check_vector(field: Param, v: &Array1<f64>, d: usize) -> Result<()> {
    if v.len() != d {
        return Err(SolverError::invalid(
            field,
            format!("expected {d} entries (one per grid axis), got {}", v.len()),
        ));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(SolverError::invalid(field, "entries must be finite"));
    }
    Ok(())
}

/// Maps an integration failure to [`SolverError::NonFinite`] (a blow-up shows as a step
/// size collapse or a non-finite stage; both mean the ODE left the finite range).
pub(crate) fn non_finite(
    stage: &'static str,
    failure: LevelFailure,
    population: usize,
) -> SolverError {
    SolverError::NonFinite {
        stage,
        level: failure.level,
        population,
    }
}

/// Row-major r×c view of a slice (internal: lengths are fixed by construction).
pub(crate) fn mat(s: &[f64], r: usize, c: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((r, c), s).expect("internal matrix layout")
}

/// Mutable row-major r×c view of a slice.
pub(crate) fn mat_mut(s: &mut [f64], r: usize, c: usize) -> ArrayViewMut2<'_, f64> {
    ArrayViewMut2::from_shape((r, c), s).expect("internal matrix layout")
}

/// Writes the n×n identity into `s`.
pub(crate) fn set_identity(s: &mut [f64], n: usize) {
    s.fill(0.0);
    for i in 0..n {
        s[i * n + i] = 1.0;
    }
}

/// (m + mᵀ)/2.
pub(crate) fn symmetrize(m: &mut Array2<f64>) {
    let t = m.t().to_owned();
    *m += &t;
    *m *= 0.5;
}
