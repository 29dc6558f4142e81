//! Numerical settings of a run (the scenario's `[solver]` table). This is the one place
//! where their defaults are defined; docs/scenario-format.md repeats them.

use tufield_solvers::fixed_point::{Acceleration, FixedPointSettings};
use tufield_solvers::scheme::SchemeKind;

/// Grid points per axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Points {
    /// 201 points in 1-D, 101 per axis in 2-D, 41 per axis in 3-D.
    Auto,
    /// The same number on every axis.
    Uniform(usize),
    /// One number per axis (length d).
    PerAxis(Vec<usize>),
}

/// Extent of the grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Chosen by the solver from the populations' means and spreads (many standard
    /// deviations wide, docs/design.md §3).
    Auto,
    /// `[lo, hi]` per axis (length d, lo < hi).
    Explicit(Vec<(f64, f64)>),
}

/// Numerical settings: grid, time steps, fixed-point iteration, output cadence.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverSettings {
    /// `points`: grid points per axis. Default [`Points::Auto`] = 201 (1-D), 101 (2-D),
    /// 41 (3-D) per axis. At least 3 per axis.
    pub points: Points,
    /// `steps`: number of time steps N (dt = T/N, time levels 0..=N). Default 200.
    pub steps: usize,
    /// `domain`: `"auto"` or `[[lo, hi], …]` per axis. Default `"auto"`.
    pub domain: Domain,
    /// `damping`: α ∈ (0, 1] in x ← x + α(G(x) − x). Default 1.0 (measured: undamped
    /// Picard contracts fastest on the 1-D LQ benchmark, docs/design.md §4).
    pub damping: f64,
    /// `tol`: stop when the scaled sup-norm of the mean update is ≤ tol. Default 1e-6.
    pub tol: f64,
    /// `max_iter`: cap on fixed-point iterations. Default 100.
    pub max_iter: usize,
    /// `acceleration` (`"none"` | `"anderson"`) and `anderson_depth` (1..=50).
    /// Default Anderson with depth 5.
    pub acceleration: Acceleration,
    /// `snapshot_every`: store the densities every this many time levels. Default
    /// `None` = steps/20 (at least 1), see [`SolverSettings::snapshot_every`].
    pub snapshot_every: Option<usize>,
    /// `divergence_factor`: divergence when the residual exceeds this factor times the
    /// best one seen. Default 1e4.
    pub divergence_factor: f64,
    /// `stagnation_window`: stagnation when the best residual has not improved by 1 % over
    /// this many iterations (0 disables). Default 30.
    pub stagnation_window: usize,
    /// `error_estimate`: also solve on the grid coarsened by 2 in space and time and store
    /// the Richardson error estimate (`src/run/estimate.rs`). Default `None` =
    /// [`default_error_estimate`] for the grid's dimension.
    pub error_estimate: Option<bool>,
    /// `scheme`: `"monotone"` (first order, non-negative density; the default) or
    /// `"second-order"` (Crank–Nicolson, docs/design.md §4.5).
    pub scheme: SchemeKind,
}

impl Default for SolverSettings {
    fn default() -> Self {
        let fp = FixedPointSettings::default();
        SolverSettings {
            points: Points::Auto,
            steps: 200,
            domain: Domain::Auto,
            damping: 1.0,
            tol: 1e-6,
            max_iter: 100,
            acceleration: Acceleration::Anderson { depth: 5 },
            snapshot_every: None,
            divergence_factor: fp.divergence_factor,
            stagnation_window: fp.stagnation_window,
            error_estimate: None,
            scheme: SchemeKind::Monotone,
        }
    }
}

/// Default number of grid points per axis in dimension `d`.
pub fn default_points(d: usize) -> usize {
    match d {
        1 => 201,
        2 => 101,
        _ => 41,
    }
}

/// Whether the error estimate is on by default in grid dimension `d`: when the coarse
/// solve costs at most about 15 % of the fine one. Per fixed-point iteration the coarse
/// solve costs 1/2^(d+1) of the fine one (half the points per axis, half the steps):
/// 25 % in 1-D (off by default), 12.5 % in 2-D and 6 % in 3-D (on by default).
pub fn default_error_estimate(d: usize) -> bool {
    d >= 2
}

impl SolverSettings {
    /// Whether this run computes the error estimate (grid dimension `d`).
    pub fn error_estimate_on(&self, d: usize) -> bool {
        self.error_estimate.unwrap_or(default_error_estimate(d))
    }

    /// Grid points on each of the `d` axes.
    pub fn points_per_axis(&self, d: usize) -> Vec<usize> {
        match &self.points {
            Points::Auto => vec![default_points(d); d],
            Points::Uniform(n) => vec![*n; d],
            Points::PerAxis(v) => v.clone(),
        }
    }

    /// Time levels between stored density snapshots: the configured value, or steps/20
    /// (at least 1).
    pub fn snapshot_every(&self) -> usize {
        self.snapshot_every.unwrap_or((self.steps / 20).max(1))
    }

    /// The fixed-point settings these describe.
    pub fn fixed_point(&self) -> FixedPointSettings {
        FixedPointSettings {
            damping: self.damping,
            tol: self.tol,
            max_iter: self.max_iter,
            acceleration: self.acceleration,
            divergence_factor: self.divergence_factor,
            stagnation_window: self.stagnation_window,
        }
    }

    /// Short human-readable name of the acceleration.
    pub fn acceleration_name(&self) -> String {
        match self.acceleration {
            Acceleration::None => "none (damped Picard)".to_string(),
            Acceleration::Anderson { depth } => format!("anderson (depth {depth})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let s = SolverSettings::default();
        assert_eq!(s.points_per_axis(1), vec![201]);
        assert_eq!(s.points_per_axis(2), vec![101, 101]);
        assert_eq!(s.points_per_axis(3), vec![41, 41, 41]);
        assert_eq!(s.steps, 200);
        assert_eq!(s.snapshot_every(), 10);
        assert_eq!(
            s.fixed_point().acceleration,
            Acceleration::Anderson { depth: 5 }
        );
        let short = SolverSettings {
            steps: 7,
            ..SolverSettings::default()
        };
        assert_eq!(short.snapshot_every(), 1);
        assert!(s.fixed_point().validate().is_ok());
    }
}
