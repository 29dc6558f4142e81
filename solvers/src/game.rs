//! The coalitional (TU) game of the paper: coalitions, the incidence matrix B_H, the
//! augmented matrix B of eq. (2), the Hamiltonian matrix A = −B R⁻¹ Bᵀ + Γ⁻¹ and its
//! projection on selected coalitions (docs/design.md §2), condition (17), and the static
//! solution concepts of Section 1.3 (imputation set, core, excess).
//!
//! * Coalitions of players N = {1, …, n} are stored as sorted `Vec<usize>` of **0-based**
//!   players and are ordered as in Table 1: by size, then lexicographically, so the grand
//!   coalition has the last index q − 1 (the paper's index q). Labels are 1-based: "{1,2}".
//! * [`Game`] holds B_H (q × n, Section 1.3.4) and B of eq. (2) (q × (n+q−1)).
//! * [`condition`]: the negative-definiteness test (17) and the matrix commutation test
//!   used by the modal reduction.
//! * [`characteristic`]: characteristic functions η, excess, imputation set and core.

pub mod characteristic;
pub mod condition;
mod controls;

pub use characteristic::CharacteristicFunction;
pub use condition::{
    check_condition_17, commute_pairwise, condition_17_margin, min_gamma, COMMUTE_TOL,
    DEFINITENESS_TOL,
};

use crate::error::{Param, Result, SolverError};
use crate::linalg::{is_symmetric, symmetric_eigen};
use ndarray::{Array1, Array2, Axis};

/// Largest number of players accepted (q = 2⁶ − 1 = 63 coalitions).
pub const MAX_PLAYERS: usize = 6;

/// Number of non-empty coalitions q = 2ⁿ − 1 (Section 1.3.1), for 1 ≤ n ≤ [`MAX_PLAYERS`].
/// Errors with `Param::Players` otherwise.
pub fn num_coalitions(n: usize) -> Result<usize> {
    check_players(n)?;
    Ok((1usize << n) - 1)
}

fn check_players(n: usize) -> Result<()> {
    if n == 0 || n > MAX_PLAYERS {
        return Err(SolverError::invalid(
            Param::Players,
            format!("the number of players must be between 1 and {MAX_PLAYERS}, got {n}"),
        ));
    }
    Ok(())
}

/// All non-empty coalitions S_1, …, S_q of n players in the order of Table 1 (by size,
/// then lexicographically), each a sorted list of 0-based players. For n = 3:
/// {1},{2},{3},{1,2},{1,3},{2,3},{1,2,3}. Errors with `Param::Players` unless
/// 1 ≤ n ≤ [`MAX_PLAYERS`].
pub fn coalitions(n: usize) -> Result<Vec<Vec<usize>>> {
    check_players(n)?;
    let mut out = Vec::with_capacity((1 << n) - 1);
    for size in 1..=n {
        // Lexicographic enumeration of the size-subsets of 0..n.
        let mut c: Vec<usize> = (0..size).collect();
        loop {
            out.push(c.clone());
            // Rightmost position that can still be increased.
            let Some(pos) = (0..size).rev().find(|&i| c[i] < n - size + i) else {
                break;
            };
            c[pos] += 1;
            for i in pos + 1..size {
                c[i] = c[i - 1] + 1;
            }
        }
    }
    Ok(out)
}

/// The paper's 1-based label of a coalition of 0-based players: `[0, 1]` → "{1,2}".
pub fn coalition_label(coalition: &[usize]) -> String {
    let inner: Vec<String> = coalition.iter().map(|p| (p + 1).to_string()).collect();
    format!("{{{}}}", inner.join(","))
}

/// Weight R of the allocations u = (ũ, s) in the running cost ½uᵀRu (Section 2).
#[derive(Debug, Clone, PartialEq)]
pub enum ControlWeight {
    /// R = r I with r > 0 (the paper takes r = 1 in (17)). Parameter `Param::ControlWeight`.
    Scalar(f64),
    /// R itself: (n+q−1)×(n+q−1), symmetric positive definite. Parameter `Param::ControlWeight`.
    Matrix(Array2<f64>),
}

/// Weight Γ of the disturbance w in the cost −½wᵀΓw (Section 2).
#[derive(Debug, Clone, PartialEq)]
pub enum DisturbanceWeight {
    /// Γ = γ² I with γ > 0, the setting of (17). Parameter `Param::Gamma`.
    Gamma(f64),
    /// Γ itself: q×q symmetric positive definite. Parameter `Param::GammaMatrix`.
    Matrix(Array2<f64>),
    /// Γ⁻¹ given directly: q×q symmetric positive definite. Parameter `Param::GammaMatrix`.
    InverseMatrix(Array2<f64>),
}

/// Relative threshold below which a symmetric matrix is not accepted as positive
/// definite: λ_min must exceed `SPD_TOL · λ_max` (so numerically singular R or Γ are
/// refused rather than inverted).
pub const SPD_TOL: f64 = 1e-12;

/// Inverse of a symmetric positive definite matrix, validating shape, finiteness,
/// symmetry and definiteness; errors name `field`. Returns (M⁻¹, eigenvalues, vectors).
fn spd_inverse_parts(
    m: &Array2<f64>,
    size: usize,
    field: Param,
    what: &str,
) -> Result<(Array1<f64>, Array2<f64>)> {
    if m.dim() != (size, size) {
        return Err(SolverError::invalid(
            field,
            format!(
                "{what} must be a {size}×{size} matrix, got {}×{}",
                m.nrows(),
                m.ncols()
            ),
        ));
    }
    if m.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::invalid(
            field,
            format!("{what}: entries must be finite"),
        ));
    }
    if !is_symmetric(m) {
        return Err(SolverError::invalid(
            field,
            format!("{what} must be symmetric"),
        ));
    }
    let (ev, vecs) = symmetric_eigen(m)?;
    let largest = ev[size - 1];
    let smallest = ev[0];
    if !(largest > 0.0 && smallest > SPD_TOL * largest) {
        return Err(SolverError::invalid(
            field,
            format!(
                "{what} must be positive definite; its eigenvalues range from {smallest:.6e} to {largest:.6e}"
            ),
        ));
    }
    Ok((ev, vecs))
}

/// U diag(f(λ)) Uᵀ, symmetrised.
fn spectral_apply(ev: &Array1<f64>, vecs: &Array2<f64>, f: impl Fn(f64) -> f64) -> Array2<f64> {
    let mut scaled = vecs.clone();
    for (mut col, &l) in scaled.axis_iter_mut(Axis(1)).zip(ev.iter()) {
        col *= f(l);
    }
    symmetrise(scaled.dot(&vecs.t()))
}

fn symmetrise(m: Array2<f64>) -> Array2<f64> {
    let t = m.t().to_owned();
    (m + t) * 0.5
}

fn check_positive(value: f64, field: Param, what: &str) -> Result<()> {
    if !(value.is_finite() && value > 0.0) {
        return Err(SolverError::invalid(
            field,
            format!("{what} must be finite and > 0, got {value}"),
        ));
    }
    Ok(())
}

impl DisturbanceWeight {
    /// Γ⁻¹ (q×q), validated: γ > 0 (`Param::Gamma`), or a symmetric positive definite q×q
    /// matrix (`Param::GammaMatrix`).
    pub fn inverse(&self, q: usize) -> Result<Array2<f64>> {
        match self {
            DisturbanceWeight::Gamma(g) => {
                check_positive(*g, Param::Gamma, "γ")?;
                Ok(Array2::eye(q) / (g * g))
            }
            DisturbanceWeight::Matrix(m) => {
                let (ev, vecs) = spd_inverse_parts(m, q, Param::GammaMatrix, "Γ")?;
                Ok(spectral_apply(&ev, &vecs, |l| 1.0 / l))
            }
            DisturbanceWeight::InverseMatrix(m) => {
                spd_inverse_parts(m, q, Param::GammaMatrix, "Γ⁻¹")?;
                Ok(symmetrise(m.clone()))
            }
        }
    }

    /// True for Γ = γ² I, the case in which (17) has a smallest admissible γ.
    pub fn is_scalar(&self) -> bool {
        matches!(self, DisturbanceWeight::Gamma(_))
    }
}

/// An n-player coalitional game: its coalitions in Table 1 order, the incidence matrix
/// B_H and the augmented matrix B of eq. (2).
#[derive(Debug, Clone, PartialEq)]
pub struct Game {
    n: usize,
    coalitions: Vec<Vec<usize>>,
    /// index_by_mask[bitmask of players] = coalition index (usize::MAX for the empty set).
    index_by_mask: Vec<usize>,
    b_h: Array2<f64>,
    b: Array2<f64>,
}

impl Game {
    /// The n-player game, 1 ≤ n ≤ [`MAX_PLAYERS`] (else `Param::Players`).
    ///
    /// B_H (q × n, Section 1.3.4): row j is the characteristic vector c^{S_j}, a 1 where
    /// player i belongs to S_j. B (eq. (2) and Table 1): q × (n+q−1),
    /// B = [B_H | (−I_{q−1} stacked over a zero row)], the last q−1 columns acting on the
    /// surplus variables s_1..s_{q−1} (the grand coalition, last row, has none). For n = 1,
    /// B = B_H = `[1]`.
    pub fn new(n: usize) -> Result<Self> {
        let coalitions = coalitions(n)?;
        let q = coalitions.len();
        let mut index_by_mask = vec![usize::MAX; 1 << n];
        let mut b_h = Array2::zeros((q, n));
        let mut b = Array2::zeros((q, n + q - 1));
        for (j, c) in coalitions.iter().enumerate() {
            let mask = c.iter().fold(0usize, |m, &p| m | (1 << p));
            index_by_mask[mask] = j;
            for &p in c {
                b_h[[j, p]] = 1.0;
                b[[j, p]] = 1.0;
            }
            if j + 1 < q {
                b[[j, n + j]] = -1.0;
            }
        }
        Ok(Game {
            n,
            coalitions,
            index_by_mask,
            b_h,
            b,
        })
    }

    /// Number of players n.
    pub fn players(&self) -> usize {
        self.n
    }

    /// Number of coalitions q = 2ⁿ − 1 (dimension of the excess state x of eq. (4)).
    pub fn num_coalitions(&self) -> usize {
        self.coalitions.len()
    }

    /// Number of controls n + q − 1 (allocations ũ and surpluses s, eq. (2)); the size of R.
    pub fn num_controls(&self) -> usize {
        self.n + self.coalitions.len() - 1
    }

    /// The coalitions in Table 1 order (0-based players).
    pub fn coalitions(&self) -> &[Vec<usize>] {
        &self.coalitions
    }

    /// The 1-based label of coalition `j` ("{1,2}"); `Param::Coalitions` if out of range.
    pub fn label(&self, j: usize) -> Result<String> {
        self.check_index(j)?;
        Ok(coalition_label(&self.coalitions[j]))
    }

    /// Labels of all coalitions, in order.
    pub fn labels(&self) -> Vec<String> {
        self.coalitions.iter().map(|c| coalition_label(c)).collect()
    }

    fn check_index(&self, j: usize) -> Result<()> {
        if j >= self.coalitions.len() {
            return Err(SolverError::invalid(
                Param::Coalitions,
                format!(
                    "coalition index {j} out of range (there are {} coalitions)",
                    self.coalitions.len()
                ),
            ));
        }
        Ok(())
    }

    /// Index (0-based, Table 1 order) of the coalition whose **1-based** players are
    /// listed, in any order, as a scenario writes them (e.g. `[2, 1]` → index of {1,2}).
    /// `Param::Coalitions` for an empty list, a player outside 1..=n, or a repeat.
    pub fn index_of(&self, players: &[i64]) -> Result<usize> {
        if players.is_empty() {
            return Err(SolverError::invalid(
                Param::Coalitions,
                "a coalition must name at least one player",
            ));
        }
        let mut mask = 0usize;
        for &p in players {
            if p < 1 || p > self.n as i64 {
                return Err(SolverError::invalid(
                    Param::Coalitions,
                    format!(
                        "unknown player {p} in {players:?}: players are 1..={}",
                        self.n
                    ),
                ));
            }
            let bit = 1usize << (p - 1);
            if mask & bit != 0 {
                return Err(SolverError::invalid(
                    Param::Coalitions,
                    format!("player {p} is listed twice in {players:?}"),
                ));
            }
            mask |= bit;
        }
        Ok(self.index_by_mask[mask])
    }

    /// The incidence matrix B_H (q × n) of Section 1.3.4 (eq. (1)).
    pub fn incidence(&self) -> &Array2<f64> {
        &self.b_h
    }

    /// The augmented matrix B (q × (n+q−1)) of eq. (2).
    pub fn b(&self) -> &Array2<f64> {
        &self.b
    }

    /// Checks a list J of coalition indices: non-empty, in range, no repeats
    /// (`Param::Coalitions`).
    pub fn check_selection(&self, selection: &[usize]) -> Result<()> {
        if selection.is_empty() {
            return Err(SolverError::invalid(
                Param::Coalitions,
                "select at least one coalition",
            ));
        }
        for (k, &j) in selection.iter().enumerate() {
            self.check_index(j)?;
            if selection[..k].contains(&j) {
                return Err(SolverError::invalid(
                    Param::Coalitions,
                    format!(
                        "coalition {} is selected twice",
                        coalition_label(&self.coalitions[j])
                    ),
                ));
            }
        }
        Ok(())
    }

    /// M = B R⁻¹ Bᵀ (q×q, symmetric positive semidefinite), the control part of
    /// A = −B R⁻¹ Bᵀ + Γ⁻¹ (Theorem 1, (11)-(12), (17)). R is validated (`Param::ControlWeight`).
    pub fn gram(&self, r: &ControlWeight) -> Result<Array2<f64>> {
        match r {
            ControlWeight::Scalar(r) => {
                check_positive(*r, Param::ControlWeight, "r (R = r I)")?;
                Ok(symmetrise(self.b.dot(&self.b.t())) / *r)
            }
            ControlWeight::Matrix(rm) => {
                let size = self.num_controls();
                let (ev, vecs) = spd_inverse_parts(rm, size, Param::ControlWeight, "R")?;
                // C = B U diag(λ^{-1/2}), M = C Cᵀ: positive semidefinite by construction.
                let mut c = self.b.dot(&vecs);
                for (mut col, &l) in c.axis_iter_mut(Axis(1)).zip(ev.iter()) {
                    col /= l.sqrt();
                }
                Ok(symmetrise(c.dot(&c.t())))
            }
        }
    }

    /// M_P = P B R⁻¹ Bᵀ Pᵀ for the row selector P of the coalitions `selection` (in the
    /// given order): the principal submatrix of [`Game::gram`] on J.
    pub fn projected_gram(&self, selection: &[usize], r: &ControlWeight) -> Result<Array2<f64>> {
        self.check_selection(selection)?;
        let m = self.gram(r)?;
        Ok(principal_submatrix(&m, selection))
    }

    /// The full-game matrix A = −B R⁻¹ Bᵀ + Γ⁻¹ (q×q, symmetric) of docs/design.md §1,
    /// **without** the check (17) (use [`full_game`] for a checked version).
    pub fn full_a(&self, r: &ControlWeight, gamma: &DisturbanceWeight) -> Result<Array2<f64>> {
        let m = self.gram(r)?;
        let gi = gamma.inverse(self.num_coalitions())?;
        Ok(gi - m)
    }

    /// The projected matrix A_P = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ (d×d, d = |J|, docs/design.md §2),
    /// **without** the check (17) (use [`projected_game`] for a checked version).
    /// Γ⁻¹ is the full q×q inverse restricted to J (not the inverse of Γ_JJ).
    pub fn projected_a(
        &self,
        selection: &[usize],
        r: &ControlWeight,
        gamma: &DisturbanceWeight,
    ) -> Result<Array2<f64>> {
        let m = self.projected_gram(selection, r)?;
        let gi = gamma.inverse(self.num_coalitions())?;
        Ok(principal_submatrix(&gi, selection) - m)
    }
}

/// X_JJ: rows and columns `idx` of X, in that order.
fn principal_submatrix(x: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn((idx.len(), idx.len()), |(a, b)| x[[idx[a], idx[b]]])
}

/// A game reduced to the grid axes, checked against (17): what the application needs to
/// build a [`crate::model::Model`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReducedGame {
    /// Selected coalition indices J (0-based, Table 1 order), one per grid axis.
    pub coalitions: Vec<usize>,
    /// Axis labels, the coalitions' 1-based labels ("{1,2}").
    pub axis_labels: Vec<String>,
    /// A_P = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ, symmetric negative definite.
    pub a: Array2<f64>,
    /// M_P = P B R⁻¹ Bᵀ Pᵀ (symmetric positive semidefinite).
    pub gram: Array2<f64>,
    /// Margin of (17): −λ_max(A_P) > 0.
    pub margin: f64,
    /// For Γ = γ² I: the infimum of admissible γ, 1/√λ_min(M_P) (see [`min_gamma`]);
    /// `None` for a general Γ.
    pub min_gamma: Option<f64>,
}

/// Builds the projected game of an n-player game on the coalitions `selection` (indices,
/// Table 1 order; any non-empty set without repeats, though the grid takes d ≤ 3) and
/// checks condition (17) on A_P, returning [`SolverError::IllPosed`] (with the smallest
/// admissible γ when Γ = γ² I) if A_P is not negative definite.
/// Input errors: `Param::Players`, `Coalitions`, `ControlWeight`, `Gamma`,
/// `GammaMatrix`.
pub fn projected_game(
    n: usize,
    selection: &[usize],
    r: &ControlWeight,
    gamma: &DisturbanceWeight,
) -> Result<ReducedGame> {
    let game = Game::new(n)?;
    let gram = game.projected_gram(selection, r)?;
    let gi = gamma.inverse(game.num_coalitions())?;
    let a = principal_submatrix(&gi, selection) - &gram;
    let scalar_gram = if gamma.is_scalar() { Some(&gram) } else { None };
    let margin = check_condition_17(&a, scalar_gram)?;
    let min_gamma = match scalar_gram {
        Some(m) => min_gamma(m)?,
        None => None,
    };
    Ok(ReducedGame {
        coalitions: selection.to_vec(),
        axis_labels: selection
            .iter()
            .map(|&j| coalition_label(&game.coalitions[j]))
            .collect(),
        a,
        gram,
        margin,
        min_gamma,
    })
}

/// The full q-dimensional game (J = all coalitions, in Table 1 order) checked against
/// (17): the A = −B R⁻¹ Bᵀ + Γ⁻¹ used by the modal decomposition (docs/design.md §2).
pub fn full_game(n: usize, r: &ControlWeight, gamma: &DisturbanceWeight) -> Result<ReducedGame> {
    let q = num_coalitions(n)?;
    let all: Vec<usize> = (0..q).collect();
    projected_game(n, &all, r, gamma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::symmetric_eigenvalues;
    use ndarray::array;

    fn field_of(e: SolverError) -> Param {
        match e {
            SolverError::InvalidParameter { field, .. } => field,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn table_1_order_and_labels_n3() {
        let labels: Vec<String> = coalitions(3)
            .unwrap()
            .iter()
            .map(|c| coalition_label(c))
            .collect();
        assert_eq!(
            labels,
            ["{1}", "{2}", "{3}", "{1,2}", "{1,3}", "{2,3}", "{1,2,3}"]
        );
        assert_eq!(Game::new(3).unwrap().labels(), labels);
    }

    #[test]
    fn order_is_size_then_lexicographic_for_all_n() {
        for n in 1..=MAX_PLAYERS {
            let cs = coalitions(n).unwrap();
            assert_eq!(cs.len(), (1 << n) - 1);
            assert_eq!(cs.last().unwrap(), &(0..n).collect::<Vec<_>>());
            for w in cs.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                assert!(a.windows(2).all(|p| p[0] < p[1]));
                assert!(
                    a.len() < b.len() || (a.len() == b.len() && a < b),
                    "{a:?} !< {b:?}"
                );
            }
        }
        assert_eq!(
            coalitions(4).unwrap()[4..10]
                .iter()
                .map(|c| coalition_label(c))
                .collect::<Vec<_>>(),
            ["{1,2}", "{1,3}", "{1,4}", "{2,3}", "{2,4}", "{3,4}"]
        );
    }

    #[test]
    fn player_count_is_validated() {
        for n in [0, 7, 100] {
            assert_eq!(field_of(Game::new(n).unwrap_err()), Param::Players);
            assert_eq!(field_of(coalitions(n).unwrap_err()), Param::Players);
            assert_eq!(field_of(num_coalitions(n).unwrap_err()), Param::Players);
        }
        assert_eq!(num_coalitions(6).unwrap(), 63);
    }

    #[test]
    fn incidence_n3_matches_section_8() {
        // Section 8.1 prints B_Hᵀ.
        let bht = array![
            [1., 0., 0., 1., 1., 0., 1.],
            [0., 1., 0., 1., 0., 1., 1.],
            [0., 0., 1., 0., 1., 1., 1.]
        ];
        assert_eq!(Game::new(3).unwrap().incidence().t(), bht);
    }

    #[test]
    fn augmented_b_n3_matches_table_1() {
        let b = array![
            [1., 0., 0., -1., 0., 0., 0., 0., 0.],
            [0., 1., 0., 0., -1., 0., 0., 0., 0.],
            [0., 0., 1., 0., 0., -1., 0., 0., 0.],
            [1., 1., 0., 0., 0., 0., -1., 0., 0.],
            [1., 0., 1., 0., 0., 0., 0., -1., 0.],
            [0., 1., 1., 0., 0., 0., 0., 0., -1.],
            [1., 1., 1., 0., 0., 0., 0., 0., 0.]
        ];
        let g = Game::new(3).unwrap();
        assert_eq!(g.b(), &b);
        assert_eq!(g.num_controls(), 9);
    }

    #[test]
    fn one_player_game() {
        let g = Game::new(1).unwrap();
        assert_eq!(g.num_coalitions(), 1);
        assert_eq!(g.num_controls(), 1);
        assert_eq!(g.b(), &array![[1.0]]);
        assert_eq!(g.incidence(), &array![[1.0]]);
        assert_eq!(g.labels(), ["{1}"]);
        // A = −1/r + 1/γ².
        let a = g
            .full_a(&ControlWeight::Scalar(2.0), &DisturbanceWeight::Gamma(4.0))
            .unwrap();
        assert!((a[[0, 0]] - (-0.5 + 1.0 / 16.0)).abs() < 1e-15);
        let fg = full_game(
            1,
            &ControlWeight::Scalar(1.0),
            &DisturbanceWeight::Gamma(2.0),
        )
        .unwrap();
        assert!((fg.margin - 0.75).abs() < 1e-15);
        assert_eq!(fg.min_gamma, Some(1.0));
    }

    #[test]
    fn index_lookup() {
        let g = Game::new(3).unwrap();
        assert_eq!(g.index_of(&[1]).unwrap(), 0);
        assert_eq!(g.index_of(&[3]).unwrap(), 2);
        assert_eq!(g.index_of(&[1, 2]).unwrap(), 3);
        assert_eq!(g.index_of(&[2, 1]).unwrap(), 3);
        assert_eq!(g.index_of(&[3, 1]).unwrap(), 4);
        assert_eq!(g.index_of(&[2, 3]).unwrap(), 5);
        assert_eq!(g.index_of(&[3, 1, 2]).unwrap(), 6);
        for n in 1..=MAX_PLAYERS {
            let g = Game::new(n).unwrap();
            for (j, c) in g.coalitions().iter().enumerate() {
                let players: Vec<i64> = c.iter().rev().map(|&p| p as i64 + 1).collect();
                assert_eq!(g.index_of(&players).unwrap(), j);
            }
        }
        for bad in [&[][..], &[0], &[4], &[-1], &[1, 1], &[2, 3, 2]] {
            assert_eq!(
                field_of(g.index_of(bad).unwrap_err()),
                Param::Coalitions,
                "{bad:?}"
            );
        }
        assert_eq!(field_of(g.label(7).unwrap_err()), Param::Coalitions);
        assert_eq!(g.label(4).unwrap(), "{1,3}");
    }

    fn min_eig(m: &Array2<f64>) -> f64 {
        symmetric_eigenvalues(m).unwrap()[0]
    }

    #[test]
    fn design_eigenvalue_facts() {
        let r = ControlWeight::Scalar(1.0);
        // Augmented B, R = I.
        let g3 = Game::new(3).unwrap();
        let l3 = min_eig(&g3.gram(&r).unwrap());
        assert!((l3 - 0.3467).abs() < 5e-5, "{l3}");
        let mg3 = min_gamma(&g3.gram(&r).unwrap()).unwrap().unwrap();
        assert!((mg3 - 1.698).abs() < 5e-4, "{mg3}");
        let g4 = Game::new(4).unwrap();
        let l4 = min_eig(&g4.gram(&r).unwrap());
        assert!((l4 - 0.1922).abs() < 5e-5, "{l4}");
        let mg4 = min_gamma(&g4.gram(&r).unwrap()).unwrap().unwrap();
        assert!((mg4 - 2.281).abs() < 5e-4, "{mg4}");
        // B_H alone: eigenvalues 0,0,0,0,2,2,8 for n = 3.
        let bh = g3.incidence();
        let ev = symmetric_eigenvalues(&bh.dot(&bh.t())).unwrap();
        let expected = [0., 0., 0., 0., 2., 2., 8.];
        for (l, e) in ev.iter().zip(expected) {
            assert!((l - e).abs() < 1e-12, "{ev}");
        }
        // ... so no γ works: min_gamma is None.
        assert_eq!(min_gamma(&bh.dot(&bh.t())).unwrap(), None);
    }

    #[test]
    fn gram_with_matrix_r_matches_scalar_r() {
        let g = Game::new(3).unwrap();
        let nc = g.num_controls();
        let m1 = g.gram(&ControlWeight::Scalar(2.5)).unwrap();
        let m2 = g
            .gram(&ControlWeight::Matrix(Array2::eye(nc) * 2.5))
            .unwrap();
        assert!((&m1 - &m2).iter().all(|v| v.abs() < 1e-13));
        // Non-scalar R: compare with B R⁻¹ Bᵀ for a diagonal R (inverse known exactly).
        let diag: Vec<f64> = (0..nc).map(|i| 1.0 + i as f64).collect();
        let rm = Array2::from_diag(&Array1::from(diag.clone()));
        let rinv = Array2::from_diag(&Array1::from_iter(diag.iter().map(|d| 1.0 / d)));
        let expect = g.b().dot(&rinv).dot(&g.b().t());
        let got = g.gram(&ControlWeight::Matrix(rm)).unwrap();
        assert!((&got - &expect).iter().all(|v| v.abs() < 1e-13));
    }

    #[test]
    fn projection_is_a_principal_submatrix_and_at_least_as_well_posed() {
        // Cauchy interlacing: every principal submatrix of BBᵀ has λ_min ≥ λ_min(BBᵀ).
        let g = Game::new(3).unwrap();
        let r = ControlWeight::Scalar(1.0);
        let full = g.gram(&r).unwrap();
        let lmin = min_eig(&full);
        let q = g.num_coalitions();
        let mut count = 0;
        for a in 0..q {
            for b in 0..q {
                for c in 0..q {
                    let mut sel = vec![a];
                    if b != a {
                        sel.push(b);
                    }
                    if c != a && c != b {
                        sel.push(c);
                    }
                    let mp = g.projected_gram(&sel, &r).unwrap();
                    for (x, &i) in sel.iter().enumerate() {
                        for (y, &k) in sel.iter().enumerate() {
                            assert_eq!(mp[[x, y]], full[[i, k]]);
                        }
                    }
                    assert!(min_eig(&mp) >= lmin - 1e-12);
                    count += 1;
                }
            }
        }
        assert_eq!(count, q * q * q);
    }

    #[test]
    fn projection_1_and_12_is_not_diagonal() {
        let g = Game::new(3).unwrap();
        let j = [g.index_of(&[1]).unwrap(), g.index_of(&[1, 2]).unwrap()];
        let a = g
            .projected_a(
                &j,
                &ControlWeight::Scalar(1.0),
                &DisturbanceWeight::Gamma(2.0),
            )
            .unwrap();
        // BBᵀ restricted to {1},{1,2}: [[2,1],[1,3]]; A_P = −that + I/4.
        assert_eq!(a, array![[-1.75, -1.0], [-1.0, -2.75]]);
        assert!(a[[0, 1]] != 0.0);
    }

    #[test]
    fn condition_17_refusals_and_acceptance_n3() {
        let r = ControlWeight::Scalar(1.0);
        // Full game, γ = 1: λ_max(A) = 1 − 0.3467 > 0 → refused with min γ ≈ 1.698.
        match full_game(3, &r, &DisturbanceWeight::Gamma(1.0)) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: Some(g),
            }) => {
                assert!((largest_eigenvalue - (1.0 - 0.3467)).abs() < 5e-5);
                assert!((g - 1.698).abs() < 5e-4);
            }
            other => panic!("expected IllPosed, got {other:?}"),
        }
        let ok = full_game(3, &r, &DisturbanceWeight::Gamma(2.0)).unwrap();
        assert!((ok.margin - (0.3467 - 0.25)).abs() < 5e-5);
        assert_eq!(ok.a.dim(), (7, 7));
        assert_eq!(ok.axis_labels.len(), 7);
        // Just below / above the threshold.
        let gstar = ok.min_gamma.unwrap();
        assert!(full_game(3, &r, &DisturbanceWeight::Gamma(gstar * 0.999)).is_err());
        assert!(full_game(3, &r, &DisturbanceWeight::Gamma(gstar * 1.001)).is_ok());

        // Projection J = {1},{1,2}: M_P = [[2,1],[1,3]], λ_min = (5−√5)/2 ≈ 1.382, so
        // γ* = 1/√1.382 ≈ 0.8507: γ = 1 is admissible here, γ = 0.8 is not.
        let j = [0, 3];
        let lam = (5.0 - 5f64.sqrt()) / 2.0;
        let p = projected_game(3, &j, &r, &DisturbanceWeight::Gamma(1.0)).unwrap();
        assert_eq!(p.axis_labels, ["{1}", "{1,2}"]);
        assert!((p.margin - (lam - 1.0)).abs() < 1e-12);
        assert!((p.min_gamma.unwrap() - 1.0 / lam.sqrt()).abs() < 1e-12);
        match projected_game(3, &j, &r, &DisturbanceWeight::Gamma(0.8)) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: Some(g),
            }) => {
                assert!((largest_eigenvalue - (1.0 / 0.64 - lam)).abs() < 1e-12);
                assert!((g - 1.0 / lam.sqrt()).abs() < 1e-12);
            }
            other => panic!("expected IllPosed, got {other:?}"),
        }
        // A projection refused at γ = 1: J = {1},{2},{1,2,3}: M_P = [[2,0,1],[0,2,1],[1,1,3]]
        // has eigenvalues 1, 2, 4 → λ_max(A_P) = 1 − 1 = 0: not negative definite.
        // And J = {1,2},{1,3},{2,3}: M_P = [[3,1,1],[1,3,1],[1,1,3]], eigenvalues 2,2,5: fine.
        let j = [0, 1, 6];
        match projected_game(3, &j, &r, &DisturbanceWeight::Gamma(1.0)) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: Some(g),
            }) => {
                assert!(largest_eigenvalue.abs() < 1e-12);
                assert!((g - 1.0).abs() < 1e-12);
            }
            other => panic!("expected IllPosed, got {other:?}"),
        }
        // J = {1,2},{1,3},{1,2,3}: M_P = [[3,1,2],[1,3,2],[2,2,3]], eigenvalues 2 and
        // (7 ± √33)/2, so λ_min = 0.6277 and γ* = 1.2622: clearly refused at γ = 1.
        let lam = (7.0 - 33f64.sqrt()) / 2.0;
        match projected_game(3, &[3, 4, 6], &r, &DisturbanceWeight::Gamma(1.0)) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: Some(g),
            }) => {
                assert!((largest_eigenvalue - (1.0 - lam)).abs() < 1e-12);
                assert!((g - 1.0 / lam.sqrt()).abs() < 1e-12);
                assert!((g - 1.2622).abs() < 5e-5);
            }
            other => panic!("expected IllPosed, got {other:?}"),
        }
        assert!(projected_game(3, &[3, 4, 6], &r, &DisturbanceWeight::Gamma(2.0)).is_ok());
        let ok = projected_game(3, &[3, 4, 5], &r, &DisturbanceWeight::Gamma(1.0)).unwrap();
        assert!((ok.margin - 1.0).abs() < 1e-12);
        // The refused projection at γ = 0.9 < 1 = γ*.
        assert!(projected_game(3, &j, &r, &DisturbanceWeight::Gamma(0.9)).is_err());
        assert!(projected_game(3, &j, &r, &DisturbanceWeight::Gamma(1.1)).is_ok());
    }

    #[test]
    fn b_h_alone_is_never_well_posed() {
        // With B_H in place of B (what Section 8 simulates), BBᵀ is singular: no γ works.
        let g = Game::new(3).unwrap();
        let bh = g.incidence();
        let m = bh.dot(&bh.t());
        let a = Array2::eye(7) / (100.0 * 100.0) - &m;
        match check_condition_17(&a, Some(&m)) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: None,
            }) => assert!((largest_eigenvalue - 1e-4).abs() < 1e-12),
            other => panic!("expected IllPosed without γ, got {other:?}"),
        }
    }

    #[test]
    fn general_gamma_matrix() {
        let g = Game::new(2).unwrap();
        let r = ControlWeight::Scalar(1.0);
        // Γ = diag(4, 9, 16) ⇔ Γ⁻¹ = diag(1/4, 1/9, 1/16).
        let gm = Array2::from_diag(&array![4.0, 9.0, 16.0]);
        let gi = Array2::from_diag(&array![0.25, 1.0 / 9.0, 1.0 / 16.0]);
        let a1 = g
            .full_a(&r, &DisturbanceWeight::Matrix(gm.clone()))
            .unwrap();
        let a2 = g
            .full_a(&r, &DisturbanceWeight::InverseMatrix(gi.clone()))
            .unwrap();
        let expect = &gi - &g.b().dot(&g.b().t());
        assert!((&a1 - &expect).iter().all(|v| v.abs() < 1e-14));
        assert!((&a2 - &expect).iter().all(|v| v.abs() < 1e-14));
        // Projection uses (Γ⁻¹)_JJ.
        let ap = g
            .projected_a(&[2, 0], &r, &DisturbanceWeight::Matrix(gm.clone()))
            .unwrap();
        assert!((ap[[0, 0]] - (1.0 / 16.0 - 2.0)).abs() < 1e-14);
        assert!((ap[[1, 1]] - (0.25 - 2.0)).abs() < 1e-14);
        assert!((ap[[0, 1]] + 1.0).abs() < 1e-14);
        // Not scalar: no min γ reported.
        let fg = full_game(2, &r, &DisturbanceWeight::Matrix(gm)).unwrap();
        assert_eq!(fg.min_gamma, None);
        let tiny = Array2::from_diag(&array![0.01, 0.01, 0.01]);
        match full_game(2, &r, &DisturbanceWeight::Matrix(tiny)) {
            Err(SolverError::IllPosed {
                min_gamma: None, ..
            }) => {}
            other => panic!("expected IllPosed without γ, got {other:?}"),
        }
    }

    #[test]
    fn input_errors_name_the_field() {
        let g = Game::new(3).unwrap();
        let r1 = ControlWeight::Scalar(1.0);
        let gam = DisturbanceWeight::Gamma(2.0);
        let cases: Vec<(Result<Array2<f64>>, Param)> = vec![
            (
                g.full_a(&ControlWeight::Scalar(0.0), &gam),
                Param::ControlWeight,
            ),
            (
                g.full_a(&ControlWeight::Scalar(f64::NAN), &gam),
                Param::ControlWeight,
            ),
            (
                g.full_a(&ControlWeight::Matrix(Array2::eye(7)), &gam),
                Param::ControlWeight,
            ),
            (
                g.full_a(&ControlWeight::Matrix(-Array2::<f64>::eye(9)), &gam),
                Param::ControlWeight,
            ),
            (
                g.full_a(
                    &ControlWeight::Matrix({
                        let mut m = Array2::<f64>::eye(9);
                        m[[0, 1]] = 0.5;
                        m
                    }),
                    &gam,
                ),
                Param::ControlWeight,
            ),
            (
                g.full_a(
                    &ControlWeight::Matrix({
                        let mut m = Array2::<f64>::eye(9);
                        m[[8, 8]] = 0.0;
                        m
                    }),
                    &gam,
                ),
                Param::ControlWeight,
            ),
            (g.full_a(&r1, &DisturbanceWeight::Gamma(0.0)), Param::Gamma),
            (g.full_a(&r1, &DisturbanceWeight::Gamma(-2.0)), Param::Gamma),
            (
                g.full_a(&r1, &DisturbanceWeight::Gamma(f64::INFINITY)),
                Param::Gamma,
            ),
            (
                g.full_a(&r1, &DisturbanceWeight::Matrix(Array2::eye(3))),
                Param::GammaMatrix,
            ),
            (
                g.full_a(&r1, &DisturbanceWeight::Matrix(-Array2::<f64>::eye(7))),
                Param::GammaMatrix,
            ),
            (
                g.full_a(
                    &r1,
                    &DisturbanceWeight::InverseMatrix(Array2::zeros((7, 7))),
                ),
                Param::GammaMatrix,
            ),
            (g.projected_a(&[], &r1, &gam), Param::Coalitions),
            (g.projected_a(&[7], &r1, &gam), Param::Coalitions),
            (g.projected_a(&[1, 1], &r1, &gam), Param::Coalitions),
        ];
        for (k, (res, field)) in cases.into_iter().enumerate() {
            assert_eq!(field_of(res.unwrap_err()), field, "case {k}");
        }
        assert_eq!(
            field_of(projected_game(0, &[0], &r1, &gam).unwrap_err()),
            Param::Players
        );
        assert_eq!(
            field_of(full_game(7, &r1, &gam).unwrap_err()),
            Param::Players
        );
    }
}
