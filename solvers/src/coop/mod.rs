//! The static cooperative-game toolkit: a TU game given by one value per coalition, its
//! imputation set and core (with membership tests), the Shapley value and the nucleolus
//! (paper Section 1.3, for games of up to [`MAX_PLAYERS`] players).
//!
//! **Conventions.** Players are 0-based here; a coalition is a bitmask (bit i set when
//! player i belongs to it), the grand coalition N is `(1 << n) − 1` and v(∅) = 0.
//! [`TuGame`] is always a *value* (profit) game: an allocation x ∈ Rⁿ is efficient when
//! x(N) = v(N), individually rational when x_i ≥ v({i}), and in the core when
//! x(S) ≥ v(S) for every coalition S (Definition 1). The surplus of S under x is
//! x(S) − v(S), what the coalition receives minus what it is worth — the sign of the
//! excess state of eq. (4) and of [`crate::game::characteristic`]; the classical excess
//! of Maschler, Peleg and Shapley is its negative.
//!
//! **Cost games.** A cost game c (what each coalition would pay, e.g. the minimum spanning
//! tree costs of the paper's Example 1) is taken as the value game v = −c
//! ([`ValueKind::Cost`]). An allocation of v is then minus a vector of cost shares y:
//! x(S) ≥ v(S) ⇔ y(S) ≤ c(S), so the core, the Shapley value and the nucleolus of v are
//! those of c with the sign flipped ([`ValueKind::to_user`] converts back). The paper's
//! own treatment of Example 1 — the cost-saving game v(S) = Σ_{i∈S} c({i}) − c(S) — is a
//! value game and is entered as such; its solutions are c({i}) minus the cost shares.

mod core;
mod lp;
mod nucleolus;
mod shapley;

pub use self::core::{CoreReport, LeastCore};

use crate::error::{Param, Result, SolverError};

/// Largest number of players of the toolkit (2¹⁰ − 1 = 1023 coalitions; the nucleolus
/// solves a few thousand linear programmes of that size at most).
pub const MAX_PLAYERS: usize = 10;

/// How the numbers a user enters are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// v(S): what coalition S is worth (a profit or saving); the default.
    Value,
    /// c(S): what coalition S pays; taken as the value game v = −c.
    Cost,
}

impl ValueKind {
    /// An allocation of the internal value game expressed in the user's terms: unchanged
    /// for [`ValueKind::Value`], the cost shares y = −x for [`ValueKind::Cost`].
    pub fn to_user(self, x: &[f64]) -> Vec<f64> {
        match self {
            ValueKind::Value => x.to_vec(),
            ValueKind::Cost => x.iter().map(|v| -v).collect(),
        }
    }

    /// The inverse of [`ValueKind::to_user`] (the map is an involution).
    pub fn from_user(self, x: &[f64]) -> Vec<f64> {
        self.to_user(x)
    }
}

/// A TU game ⟨N, v⟩ with n ≤ [`MAX_PLAYERS`] players, stored as a value game indexed by
/// coalition bitmask.
#[derive(Debug, Clone, PartialEq)]
pub struct TuGame {
    n: usize,
    /// v[mask], length 2ⁿ, v[0] = 0.
    v: Vec<f64>,
}

/// The bitmask of a coalition of 0-based players.
pub fn mask_of(players: &[usize]) -> usize {
    players.iter().fold(0, |m, &p| m | (1 << p))
}

/// The 1-based players of a coalition bitmask, comma-separated: 0b101 → "1,3".
pub fn coalition_key(mask: usize) -> String {
    let players: Vec<String> = (0..usize::BITS as usize)
        .filter(|i| mask >> i & 1 == 1)
        .map(|i| (i + 1).to_string())
        .collect();
    players.join(",")
}

fn check_players(n: usize) -> Result<()> {
    if n == 0 || n > MAX_PLAYERS {
        return Err(SolverError::invalid(
            Param::Players,
            format!("the coalition-value toolkit takes 1..={MAX_PLAYERS} players, got {n}"),
        ));
    }
    Ok(())
}

impl TuGame {
    /// The value game with `values[mask]` = v(S) for every coalition bitmask (length 2ⁿ;
    /// `values[0]`, the empty coalition, must be 0). Errors: `Param::Players` (n outside
    /// 1..=[`MAX_PLAYERS`]), `CoalitionValues` (wrong length, v(∅) ≠ 0, a non-finite value).
    pub fn new(n: usize, values: Vec<f64>) -> Result<Self> {
        check_players(n)?;
        if values.len() != 1 << n {
            return Err(SolverError::invalid(
                Param::CoalitionValues,
                format!(
                    "expected {} values (one per coalition mask, the empty one first), got {}",
                    1usize << n,
                    values.len()
                ),
            ));
        }
        if values[0] != 0.0 {
            return Err(SolverError::invalid(
                Param::CoalitionValues,
                "the empty coalition is worth 0",
            ));
        }
        if let Some(mask) = (1..values.len()).find(|&m| !values[m].is_finite()) {
            return Err(SolverError::invalid(
                Param::CoalitionValue(mask),
                format!("values must be finite, got {}", values[mask]),
            ));
        }
        Ok(TuGame { n, v: values })
    }

    /// The game v(S) = f(S) for every non-empty coalition bitmask S (v(∅) = 0).
    pub fn from_fn(n: usize, mut f: impl FnMut(usize) -> f64) -> Result<Self> {
        check_players(n)?;
        let values = (0..1usize << n)
            .map(|m| if m == 0 { 0.0 } else { f(m) })
            .collect();
        Self::new(n, values)
    }

    /// The value game of the numbers a user entered: v itself, or v = −c for a cost game.
    pub fn from_kind(n: usize, values: Vec<f64>, kind: ValueKind) -> Result<Self> {
        match kind {
            ValueKind::Value => Self::new(n, values),
            ValueKind::Cost => Self::new(n, values.into_iter().map(|c| -c).collect()),
        }
    }

    /// Number of players n.
    pub fn players(&self) -> usize {
        self.n
    }

    /// Bitmask of the grand coalition N.
    pub fn grand(&self) -> usize {
        (1 << self.n) - 1
    }

    /// v(S) for the coalition bitmask `mask` (< 2ⁿ).
    pub fn value(&self, mask: usize) -> f64 {
        self.v[mask]
    }

    /// v(N).
    pub fn grand_value(&self) -> f64 {
        self.v[self.grand()]
    }

    /// Absolute tolerance of the LP-based answers: 1e-9 · max(1, max_S |v(S)|).
    pub fn tolerance(&self) -> f64 {
        1e-9 * self.v.iter().fold(1.0f64, |m, v| m.max(v.abs()))
    }

    /// x(S) = Σ_{i∈S} x_i.
    pub fn coalition_sum(x: &[f64], mask: usize) -> f64 {
        x.iter()
            .enumerate()
            .filter(|(i, _)| mask >> i & 1 == 1)
            .map(|(_, v)| v)
            .sum()
    }

    fn check_allocation(&self, x: &[f64]) -> Result<()> {
        crate::game::characteristic::check_allocation(self.n, x)
    }

    /// Surplus x(S) − v(S) of the coalition bitmask `mask` under x (≥ 0 for every S in the
    /// core). Field `allocation` if x has the wrong length or a non-finite entry.
    pub fn surplus(&self, x: &[f64], mask: usize) -> Result<f64> {
        self.check_allocation(x)?;
        Ok(Self::coalition_sum(x, mask) - self.v[mask])
    }

    /// The imputation set I(v) = {x : x(N) = v(N), x_i ≥ v({i})} is non-empty iff
    /// v(N) ≥ Σ_i v({i}) (Section 1.3.2).
    pub fn imputation_set_nonempty(&self) -> bool {
        self.grand_value() >= (0..self.n).map(|i| self.v[1 << i]).sum::<f64>()
    }

    /// The points f¹, …, fⁿ of Section 1.3.2 (f^i_k = v({k}) for k ≠ i, player i keeps the
    /// rest); when I(v) ≠ ∅ it is their convex hull.
    pub fn imputation_vertices(&self) -> Vec<Vec<f64>> {
        let singles: Vec<f64> = (0..self.n).map(|i| self.v[1 << i]).collect();
        let total: f64 = singles.iter().sum();
        (0..self.n)
            .map(|i| {
                let mut f = singles.clone();
                f[i] = self.grand_value() - (total - singles[i]);
                f
            })
            .collect()
    }

    /// x ∈ I(v) up to the absolute tolerance `tol`: |x(N) − v(N)| ≤ tol and
    /// x_i ≥ v({i}) − tol. Field `allocation` for a malformed x.
    pub fn is_imputation(&self, x: &[f64], tol: f64) -> Result<bool> {
        self.check_allocation(x)?;
        Ok(self.is_efficient(x, tol) && (0..self.n).all(|i| x[i] >= self.v[1 << i] - tol))
    }

    /// x ∈ C(v) up to the absolute tolerance `tol`: efficient and x(S) ≥ v(S) − tol for
    /// every coalition (Definition 1). Field `allocation` for a malformed x.
    pub fn is_in_core(&self, x: &[f64], tol: f64) -> Result<bool> {
        self.check_allocation(x)?;
        Ok(self.is_efficient(x, tol)
            && (1..self.grand()).all(|s| Self::coalition_sum(x, s) >= self.v[s] - tol))
    }

    fn is_efficient(&self, x: &[f64], tol: f64) -> bool {
        (x.iter().sum::<f64>() - self.grand_value()).abs() <= tol
    }

    /// The smallest surplus min_{∅≠S≠N} x(S) − v(S) and a coalition attaining it (the
    /// grand coalition's own for n = 1). Negative iff x violates a core constraint.
    pub fn min_surplus(&self, x: &[f64]) -> Result<(f64, usize)> {
        self.check_allocation(x)?;
        if self.n == 1 {
            return Ok((x[0] - self.grand_value(), 1));
        }
        Ok((1..self.grand())
            .map(|s| (Self::coalition_sum(x, s) - self.v[s], s))
            .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a }))
    }

    /// True when v is convex (supermodular): v(S ∪ T) + v(S ∩ T) ≥ v(S) + v(T) − tol for
    /// all S, T. A convex game has a non-empty core that contains its Shapley value
    /// (Shapley 1971).
    pub fn is_convex(&self, tol: f64) -> bool {
        let size = 1usize << self.n;
        (0..size).all(|s| {
            (0..size).all(|t| self.v[s | t] + self.v[s & t] >= self.v[s] + self.v[t] - tol)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_masks() {
        assert_eq!(coalition_key(0b101), "1,3");
        assert_eq!(coalition_key(0b1), "1");
        assert_eq!(mask_of(&[0, 2]), 0b101);
    }

    #[test]
    fn construction_errors_name_the_field() {
        let field = |e: SolverError| match e {
            SolverError::InvalidParameter { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(TuGame::new(0, vec![0.0]).unwrap_err()),
            Param::Players
        );
        assert_eq!(
            field(TuGame::new(11, vec![0.0; 2048]).unwrap_err()),
            Param::Players
        );
        assert_eq!(
            field(TuGame::new(2, vec![0.0; 3]).unwrap_err()),
            Param::CoalitionValues
        );
        assert_eq!(
            field(TuGame::new(2, vec![1.0, 0.0, 0.0, 0.0]).unwrap_err()),
            Param::CoalitionValues
        );
        assert_eq!(
            field(TuGame::new(3, vec![0., 0., 0., f64::NAN, 0., 0., 0., 1.]).unwrap_err()),
            Param::CoalitionValue(0b011)
        );
        let g = TuGame::new(2, vec![0.0, 1.0, 1.0, 3.0]).unwrap();
        assert_eq!(
            field(g.is_in_core(&[1.0], 0.0).unwrap_err()),
            Param::Argument("allocation")
        );
        assert_eq!(
            field(g.is_imputation(&[1.0, f64::INFINITY], 0.0).unwrap_err()),
            Param::Argument("allocation")
        );
    }

    #[test]
    fn cost_kind_flips_signs() {
        let c = TuGame::from_kind(2, vec![0.0, 3.0, 4.0, 5.0], ValueKind::Cost).unwrap();
        assert_eq!(c.value(3), -5.0);
        // Cost shares (2, 3): y(S) ≤ c(S) for all S and y(N) = c(N) ⇔ x = −y in the core.
        let x = ValueKind::Cost.from_user(&[2.0, 3.0]);
        assert!(c.is_in_core(&x, 0.0).unwrap());
        assert_eq!(ValueKind::Cost.to_user(&x), vec![2.0, 3.0]);
        // (4.5, 0.5) overcharges player 1 (4.5 > c({1}) = 3): not in the core.
        let x = ValueKind::Cost.from_user(&[4.5, 0.5]);
        assert!(!c.is_in_core(&x, 0.0).unwrap());
    }
}
