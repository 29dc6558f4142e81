//! The nucleolus (Schmeidler 1969) by a sequence of linear programmes.
//!
//! The nucleolus is the imputation whose vector of surpluses x(S) − v(S) over the proper
//! coalitions ∅ ≠ S ≠ N, sorted increasingly, is lexicographically largest: it maximises
//! the worst-off coalition's surplus, then the next, and so on. It exists and is unique
//! whenever the imputation set is non-empty, and it lies in the core whenever the core is
//! non-empty.
//!
//! Algorithm (the sequential LPs of Maschler, Peleg and Shapley 1979 and Kopelowitz 1967,
//! with the fixing rule of Guajardo and Jörnsten, "Common mistakes in computing the
//! nucleolus", EJOR 241 (2015)). Start with every proper coalition *free* and none *fixed*;
//! repeat
//!
//! 1. solve  max t  s.t.  x(N) = v(N), x_i ≥ v({i}), x(S) − v(S) = e_S (S fixed),
//!    x(S) − v(S) ≥ t (S free); call the optimum t_k;
//! 2. a free coalition S whose surplus equals t_k at the optimum found is a candidate; it
//!    is **fixed** at e_S = t_k only if t_k is also the *largest* surplus S can have over
//!    the optimal face — one more LP, max x(S) − v(S) with every free surplus ≥ t_k.
//!    (Fixing every coalition that is tight at one optimum is the classical mistake: a
//!    coalition tight at one optimum may be slack at another, and fixing it gives a wrong
//!    answer.) At least one candidate is fixed in every round;
//! 3. a free coalition whose characteristic vector is a linear combination of those of N
//!    and the fixed coalitions has a constant surplus on the remaining feasible set; it is
//!    dropped from the free set,
//!
//! until the fixed coalitions and N span Rⁿ: the feasible set is then the single point
//! that is the nucleolus. Each round fixes at least one new linearly independent
//! direction, so there are at most n − 1 rounds; with n ≤ 10 and 1022 proper coalitions
//! every programme is small.

use super::lp::{Objective, SurplusLp};
use super::TuGame;
use crate::error::{Result, SolverError};

/// An incrementally built basis of the span of coalition vectors (Gaussian elimination
/// with partial pivoting on the rows kept in echelon form).
struct Span {
    rows: Vec<(usize, Vec<f64>)>,
}

impl Span {
    fn new() -> Self {
        Span { rows: Vec::new() }
    }

    fn reduce(&self, mut v: Vec<f64>) -> Vec<f64> {
        for (pivot, row) in &self.rows {
            let f = v[*pivot] / row[*pivot];
            if f != 0.0 {
                for (a, b) in v.iter_mut().zip(row) {
                    *a -= f * b;
                }
            }
        }
        v
    }

    /// Adds the vector of `mask` if independent; returns whether it was.
    fn insert(&mut self, n: usize, mask: usize) -> bool {
        let r = self.reduce(indicator(n, mask));
        let (pivot, big) =
            r.iter().enumerate().fold(
                (0, 0.0f64),
                |a, (i, &x)| if x.abs() > a.1 { (i, x.abs()) } else { a },
            );
        if big < 1e-9 {
            return false;
        }
        self.rows.push((pivot, r));
        true
    }

    fn contains(&self, n: usize, mask: usize) -> bool {
        self.reduce(indicator(n, mask))
            .iter()
            .all(|x| x.abs() < 1e-9)
    }

    fn rank(&self) -> usize {
        self.rows.len()
    }
}

fn indicator(n: usize, mask: usize) -> Vec<f64> {
    (0..n).map(|i| (mask >> i & 1) as f64).collect()
}

impl TuGame {
    /// The nucleolus, or `None` when the imputation set is empty (the nucleolus is then
    /// undefined). See the module documentation for the algorithm. Errors only on a failure
    /// of the LP solver ([`SolverError::LinearAlgebra`]).
    pub fn nucleolus(&self) -> Result<Option<Vec<f64>>> {
        if !self.imputation_set_nonempty() {
            return Ok(None);
        }
        let n = self.players();
        if n == 1 {
            return Ok(Some(vec![self.grand_value()]));
        }
        let tol = self.tolerance();
        let mut span = Span::new();
        span.insert(n, self.grand());
        let mut lp = SurplusLp {
            game: self,
            fixed: Vec::new(),
            free: (1..self.grand()).collect(),
            individually_rational: true,
        };
        loop {
            let opt = lp.solve(Objective::MaxMinSurplus)?;
            let t = opt.value;
            let candidates: Vec<usize> = lp
                .free
                .iter()
                .copied()
                .filter(|&s| Self::coalition_sum(&opt.x, s) - self.value(s) <= t + tol)
                .collect();
            let mut newly_fixed = Vec::new();
            for &s in &candidates {
                let best = lp.solve(Objective::MaxSurplusOf { mask: s, floor: t })?;
                if best.value <= t + tol {
                    newly_fixed.push(s);
                }
            }
            if newly_fixed.is_empty() {
                return Err(SolverError::LinearAlgebra {
                    context: "nucleolus",
                    message: format!(
                        "no coalition could be fixed at the level t = {t} ({} candidates); \
                         the LP solutions are not accurate enough",
                        candidates.len()
                    ),
                });
            }
            for &s in &newly_fixed {
                lp.fixed.push((s, t));
                span.insert(n, s);
            }
            lp.free
                .retain(|&s| !newly_fixed.contains(&s) && !span.contains(n, s));
            // The newly fixed surpluses equal t at `opt.x` too, so once N and the fixed
            // coalitions span Rⁿ, `opt.x` is the single remaining point.
            if span.rank() == n || lp.free.is_empty() {
                return Ok(Some(opt.x));
            }
        }
    }
}
