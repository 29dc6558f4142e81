//! The core and the least core, by one linear programme.
//!
//! The least core (Maschler, Peleg and Shapley 1979) is the set of efficient allocations
//! that maximise the smallest surplus ε* = max_x min_{∅≠S≠N} x(S) − v(S) subject to
//! x(N) = v(N). The core is non-empty iff ε* ≥ 0 (Bondareva–Shapley in LP form), and then
//! every least-core point is in the core. When ε* < 0, −ε* is the smallest amount by which
//! every coalition's value must be lowered for the core to become non-empty.

use super::lp::{Objective, SurplusLp};
use super::TuGame;
use crate::error::Result;

/// The least core: its value ε* and one of its points.
#[derive(Debug, Clone, PartialEq)]
pub struct LeastCore {
    /// ε* = max over efficient x of the smallest surplus x(S) − v(S), ∅ ≠ S ≠ N (for one
    /// player, who has no proper coalition, 0 by convention).
    pub epsilon: f64,
    /// An efficient allocation attaining ε*.
    pub point: Vec<f64>,
}

/// What [`TuGame::core`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreReport {
    /// True when the core is non-empty (ε* ≥ −[`TuGame::tolerance`]).
    pub nonempty: bool,
    /// The least core; its point is in the core when `nonempty`.
    pub least_core: LeastCore,
}

impl TuGame {
    /// The least core (one linear programme over the 2ⁿ − 2 proper coalitions).
    /// Errors only on a failure of the LP solver ([`crate::SolverError::LinearAlgebra`]).
    pub fn least_core(&self) -> Result<LeastCore> {
        if self.players() == 1 {
            return Ok(LeastCore {
                epsilon: 0.0,
                point: vec![self.grand_value()],
            });
        }
        let lp = SurplusLp {
            game: self,
            fixed: Vec::new(),
            free: (1..self.grand()).collect(),
            individually_rational: false,
        };
        let opt = lp.solve(Objective::MaxMinSurplus)?;
        Ok(LeastCore {
            epsilon: opt.value,
            point: opt.x,
        })
    }

    /// Whether the core is empty, with a point of it when it is not (see [`LeastCore`]).
    pub fn core(&self) -> Result<CoreReport> {
        let least_core = self.least_core()?;
        Ok(CoreReport {
            nonempty: least_core.epsilon >= -self.tolerance(),
            least_core,
        })
    }
}
