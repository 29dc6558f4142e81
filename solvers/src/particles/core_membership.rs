//! Core membership of the copies (docs/design.md §6): which copies' states, read as
//! coalition excesses, lie in the core.
//!
//! * **Excess core** (every state): a copy is in it when every coordinate — the excess
//!   e_j = x(S_j) − v(S_j) of a selected coalition — is ≥ 0 (eq. (1) on the simulated
//!   coalitions; the same definition as the grid diagnostic
//!   [`crate::diagnostics::core_fraction`]).
//! * **Allocation core** (states in the full coalition space of an n-player game, with
//!   coalition values v): a state y is the excess vector e(a) = B_H a − v of the allocation
//!   a only when y + v lies in range B_H; the copy's allocation is the least-squares one,
//!   a = (B_HᵀB_H)⁻¹B_Hᵀ(y + v), made efficient by the orthogonal projection onto
//!   {a(N) = v(N)}: â = a + (v(N) − a(N))/n · 1. The copy is in the core when â is
//!   ([`TuGame::is_in_core`], Definition 1, with the game's tolerance).

use crate::coop::{mask_of, TuGame};
use crate::error::{Param, Result, SolverError};
use crate::game::Game;
use crate::linalg::symmetric_eigen;
use ndarray::{Array1, Array2};

/// True when every excess coordinate of `x` is ≥ 0 (the excess core).
pub fn in_excess_core(x: &[f64]) -> bool {
    x.iter().all(|&v| v >= 0.0)
}

/// The allocation-core test of states in the full coalition space (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationCore {
    game: TuGame,
    /// (B_HᵀB_H)⁻¹B_Hᵀ, n × q.
    gain: Array2<f64>,
    /// v(S_j) per coalition in the game's (Table 1) order.
    values: Array1<f64>,
    tol: f64,
}

impl AllocationCore {
    /// The test for the coalition values `game` (its players = the game's n; states have
    /// q = 2ⁿ − 1 axes in Table 1 order). `Param::CoalitionValues` when n is not the number of
    /// players of the coalition game.
    pub fn new(game: TuGame) -> Result<Self> {
        let n = game.players();
        let g = Game::new(n)?;
        let b_h = g.incidence().clone();
        let gram = b_h.t().dot(&b_h);
        let (ev, u) = symmetric_eigen(&gram)?;
        if ev.iter().any(|&l| l <= 0.0) {
            return Err(SolverError::invalid(
                Param::CoalitionValues,
                "the coalition incidence matrix has no left inverse",
            ));
        }
        let mut scaled = u.clone();
        for (mut col, &l) in scaled.columns_mut().into_iter().zip(ev.iter()) {
            col /= l;
        }
        let gain = scaled.dot(&u.t()).dot(&b_h.t());
        let values = Array1::from_iter(g.coalitions().iter().map(|c| game.value(mask_of(c))));
        let tol = 100.0 * game.tolerance();
        Ok(AllocationCore {
            game,
            gain,
            values,
            tol,
        })
    }

    /// Number of coalitions q of the states it tests.
    pub fn dim(&self) -> usize {
        self.values.len()
    }

    /// The efficient least-squares allocation â of the excess state `y` (module docs).
    pub fn allocation(&self, y: &[f64]) -> Vec<f64> {
        let n = self.gain.nrows();
        let mut a: Vec<f64> = (0..n)
            .map(|i| {
                (0..y.len())
                    .map(|j| self.gain[[i, j]] * (y[j] + self.values[j]))
                    .sum()
            })
            .collect();
        let shift = (self.game.grand_value() - a.iter().sum::<f64>()) / n as f64;
        for v in &mut a {
            *v += shift;
        }
        a
    }

    /// True when the allocation of `y` is in the core of the coalition values.
    pub fn contains(&self, y: &[f64]) -> bool {
        let a = self.allocation(y);
        self.game.is_in_core(&a, self.tol).unwrap_or(false)
    }
}
