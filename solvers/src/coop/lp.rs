//! The linear programmes of the least core and the nucleolus, solved with `microlp` (a
//! pure-Rust simplex solver).
//!
//! Variables: the allocation x ∈ Rⁿ (bounded below by v({i}) when individual rationality
//! is imposed) and, for [`Objective::MaxMinSurplus`], the level t. Constraints:
//! x(N) = v(N); x(S) − v(S) = e_S for the *fixed* coalitions; x(S) − v(S) ≥ t (or ≥ the
//! given floor) for the *free* ones.

use super::TuGame;
use crate::error::{Result, SolverError};
use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem};

/// What the programme maximises.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Objective {
    /// max t subject to x(S) − v(S) ≥ t for every free S.
    MaxMinSurplus,
    /// max x(S) − v(S) of the coalition `mask`, with every free surplus ≥ `floor`.
    MaxSurplusOf { mask: usize, floor: f64 },
}

/// The constraint set shared by the programmes.
#[derive(Debug, Clone)]
pub(crate) struct SurplusLp<'a> {
    pub game: &'a TuGame,
    /// (mask, e_S): coalitions whose surplus is fixed at e_S.
    pub fixed: Vec<(usize, f64)>,
    /// Coalitions whose surplus is bounded below (by t or the floor).
    pub free: Vec<usize>,
    /// Impose x_i ≥ v({i}) (the nucleolus is taken over the imputation set).
    pub individually_rational: bool,
}

/// An optimum: the objective value (a surplus) and the allocation attaining it.
#[derive(Debug, Clone)]
pub(crate) struct LpOptimum {
    pub value: f64,
    pub x: Vec<f64>,
}

fn expr(n: usize, mask: usize, vars: &[microlp::Variable]) -> LinearExpr {
    let mut e = LinearExpr::empty();
    for (i, &var) in vars.iter().enumerate().take(n) {
        if mask >> i & 1 == 1 {
            e.add(var, 1.0);
        }
    }
    e
}

impl SurplusLp<'_> {
    /// Solves the programme; an infeasible, unbounded or failed solve is a
    /// [`SolverError::LinearAlgebra`] (the programmes built by this module are feasible and
    /// bounded for every game, so this signals a numerical failure).
    pub fn solve(&self, objective: Objective) -> Result<LpOptimum> {
        let g = self.game;
        let n = g.players();
        let mut p = Problem::new(OptimizationDirection::Maximize);
        let target = match objective {
            Objective::MaxSurplusOf { mask, .. } => mask,
            Objective::MaxMinSurplus => 0,
        };
        let x: Vec<_> = (0..n)
            .map(|i| {
                let lower = if self.individually_rational {
                    g.value(1 << i)
                } else {
                    f64::NEG_INFINITY
                };
                let c = if target >> i & 1 == 1 { 1.0 } else { 0.0 };
                p.add_var(c, (lower, f64::INFINITY))
            })
            .collect();
        let t = match objective {
            Objective::MaxMinSurplus => Some(p.add_var(1.0, (f64::NEG_INFINITY, f64::INFINITY))),
            Objective::MaxSurplusOf { .. } => None,
        };
        p.add_constraint(expr(n, g.grand(), &x), ComparisonOp::Eq, g.grand_value());
        for &(s, e) in &self.fixed {
            p.add_constraint(expr(n, s, &x), ComparisonOp::Eq, g.value(s) + e);
        }
        for &s in &self.free {
            let mut e = expr(n, s, &x);
            match (t, objective) {
                (Some(t), _) => {
                    e.add(t, -1.0);
                    p.add_constraint(e, ComparisonOp::Ge, g.value(s));
                }
                (None, Objective::MaxSurplusOf { floor, .. }) => {
                    p.add_constraint(e, ComparisonOp::Ge, g.value(s) + floor);
                }
                (None, Objective::MaxMinSurplus) => unreachable!("t exists for this objective"),
            }
        }
        let fail = |message: String| SolverError::LinearAlgebra {
            context: "linear programme of the least core / nucleolus",
            message,
        };
        let sol = p
            .solve()
            .map_err(|e| fail(e.to_string()))?
            .into_solution()
            .map_err(|e| fail(format!("{e:?}")))?;
        let xs: Vec<f64> = x.iter().map(|&v| sol.var_value(v)).collect();
        let value = match objective {
            Objective::MaxMinSurplus => sol.objective(),
            Objective::MaxSurplusOf { mask, .. } => sol.objective() - g.value(mask),
        };
        if !value.is_finite() || xs.iter().any(|v| !v.is_finite()) {
            return Err(fail("non-finite optimum".into()));
        }
        Ok(LpOptimum { value, x: xs })
    }
}
