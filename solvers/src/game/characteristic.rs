//! Characteristic functions and the static solution concepts of Section 1.3: excess,
//! imputation set I(η) and core C(η).
//!
//! **Sign of the excess.** The paper's excess of coalition S_j under the allocation
//! x ∈ Rⁿ is what the coalition receives minus what it is worth,
//!
//!   e_j(x) = Σ_{i∈S_j} x_i − η_j,   i.e.   e(x) = B_H x − η,
//!
//! the static counterpart of the state x(t) of eq. (4) ("a positive x(t) means positive
//! cumulative excess", Section 2) and of the surplus s_j of eq. (2)/Table 1. It is the
//! **negative** of the classical excess η(S) − x(S) of Maschler–Peleg–Shapley (used for
//! the nucleolus). With this sign, x is in the core iff e(x) ≥ 0 componentwise with
//! e_q(x) = 0 (eq. (1)).

use super::coalitions;
use crate::error::{Param, Result, SolverError};
use ndarray::Array1;

/// A characteristic function η of an n-player TU game ⟨N, η⟩ (Section 1.3.1): one value
/// per non-empty coalition, in the order of Table 1 (grand coalition last).
#[derive(Debug, Clone, PartialEq)]
pub struct CharacteristicFunction {
    n: usize,
    coalitions: Vec<Vec<usize>>,
    values: Array1<f64>,
    /// Index of the grand coalition (q − 1); the singletons are indices 0..n.
    grand: usize,
}

fn check_tol(tol: f64) -> Result<()> {
    if !(tol.is_finite() && tol >= 0.0) {
        return Err(SolverError::invalid(
            Param::Argument("tolerance"),
            format!("must be finite and ≥ 0, got {tol}"),
        ));
    }
    Ok(())
}

impl CharacteristicFunction {
    /// η for n players from its q = 2ⁿ − 1 values in Table 1 order. Errors:
    /// `Param::Players` (n outside 1..=6), `CharacteristicFunction` (wrong length or
    /// non-finite value).
    pub fn new(n: usize, values: &[f64]) -> Result<Self> {
        let coalitions = coalitions(n)?;
        let q = coalitions.len();
        if values.len() != q {
            return Err(SolverError::invalid(
                Param::CharacteristicFunction,
                format!(
                    "expected {q} values (one per coalition), got {}",
                    values.len()
                ),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(
                Param::CharacteristicFunction,
                "values must be finite",
            ));
        }
        Ok(CharacteristicFunction {
            n,
            coalitions,
            values: Array1::from(values.to_vec()),
            grand: q - 1,
        })
    }

    /// Number of players n.
    pub fn players(&self) -> usize {
        self.n
    }

    /// All values η_1, …, η_q (Table 1 order).
    pub fn values(&self) -> &Array1<f64> {
        &self.values
    }

    /// Value of the grand coalition η_q = η(N).
    pub fn grand_value(&self) -> f64 {
        self.values[self.grand]
    }

    /// Value η({i}) of the singleton of 0-based player `i` (the first n coalitions are the
    /// singletons, in player order). Panics if i ≥ n (a programming error, not input).
    pub fn singleton_value(&self, i: usize) -> f64 {
        assert!(i < self.n, "player index {i} out of range");
        self.values[i]
    }

    /// The cost-saving game of a cost game c (Example 1):
    /// v(S) = Σ_{i∈S} c({i}) − c(S), so v({i}) = 0.
    pub fn savings_game(&self) -> CharacteristicFunction {
        let values = self
            .coalitions
            .iter()
            .zip(self.values.iter())
            .map(|(c, &cost)| c.iter().map(|&i| self.values[i]).sum::<f64>() - cost)
            .collect::<Vec<_>>();
        CharacteristicFunction {
            n: self.n,
            coalitions: self.coalitions.clone(),
            values: Array1::from(values),
            grand: self.grand,
        }
    }

    fn check_allocation(&self, x: &[f64]) -> Result<()> {
        check_allocation(self.n, x)
    }

    /// The excess vector e(x) = B_H x − η, e_j = Σ_{i∈S_j} x_i − η_j (see the module
    /// documentation for the sign convention). Field `allocation` if x has the wrong
    /// length or a non-finite entry.
    pub fn excess(&self, x: &[f64]) -> Result<Array1<f64>> {
        self.check_allocation(x)?;
        Ok(Array1::from_iter(
            self.coalitions
                .iter()
                .zip(self.values.iter())
                .map(|(c, &v)| c.iter().map(|&i| x[i]).sum::<f64>() - v),
        ))
    }

    /// Efficiency: |Σ_i x_i − η(N)| ≤ tol (absolute tolerance `tol` ≥ 0, field `tolerance`).
    pub fn is_efficient(&self, x: &[f64], tol: f64) -> Result<bool> {
        check_tol(tol)?;
        self.check_allocation(x)?;
        Ok((x.iter().sum::<f64>() - self.grand_value()).abs() <= tol)
    }

    /// Membership of the imputation set I(η) (Section 1.3.2): efficient and individually
    /// rational, x_i ≥ η({i}) − tol for every player, with absolute tolerance `tol`.
    pub fn is_imputation(&self, x: &[f64], tol: f64) -> Result<bool> {
        if !self.is_efficient(x, tol)? {
            return Ok(false);
        }
        Ok((0..self.n).all(|i| x[i] >= self.values[i] - tol))
    }

    /// Membership of the core C(η) (Definition 1, eq. (1)): efficient and
    /// Σ_{i∈S} x_i ≥ η(S) − tol for every non-empty coalition S, i.e. e(x) ≥ −tol.
    pub fn is_in_core(&self, x: &[f64], tol: f64) -> Result<bool> {
        if !self.is_efficient(x, tol)? {
            return Ok(false);
        }
        Ok(self.excess(x)?.iter().all(|&e| e >= -tol))
    }

    /// I(η) ≠ ∅ iff η(N) ≥ Σ_i η({i}) (Section 1.3.2).
    pub fn imputation_set_nonempty(&self) -> bool {
        self.grand_value() >= (0..self.n).map(|i| self.values[i]).sum::<f64>()
    }

    /// The points f¹, …, fⁿ of Section 1.3.2: f^i_k = η({k}) for k ≠ i and
    /// f^i_i = η(N) − Σ_{k≠i} η({k}) (player i gives everyone else their stand-alone
    /// value and keeps the rest). When I(η) ≠ ∅ it is their convex hull; otherwise they are
    /// efficient but not individually rational.
    pub fn imputation_vertices(&self) -> Vec<Array1<f64>> {
        let singles = self.values.slice(ndarray::s![..self.n]).to_owned();
        let total: f64 = singles.sum();
        (0..self.n)
            .map(|i| {
                let mut f = singles.clone();
                f[i] = self.grand_value() - (total - singles[i]);
                f
            })
            .collect()
    }
}

/// Checks an allocation of `n` players: one finite entry per player (field `allocation`).
pub(crate) fn check_allocation(n: usize, x: &[f64]) -> Result<()> {
    if x.len() != n {
        return Err(SolverError::invalid(
            Param::Argument("allocation"),
            format!("expected {n} entries (one per player), got {}", x.len()),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::invalid(
            Param::Argument("allocation"),
            "entries must be finite",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::Game;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Example 1, Fig. 2: node 0 is the power source, nodes 1..3 the communities.
    /// Source links cost 100, 90, 80; the text's trees use 2–1 at 40, 3–1 and 3–2 at 30.
    fn example_1_edges() -> [[f64; 4]; 4] {
        let mut w = [[f64::INFINITY; 4]; 4];
        for (a, b, c) in [
            (0, 1, 100.0),
            (0, 2, 90.0),
            (0, 3, 80.0),
            (1, 2, 40.0),
            (1, 3, 30.0),
            (2, 3, 30.0),
        ] {
            w[a][b] = c;
            w[b][a] = c;
        }
        w
    }

    /// Minimum spanning tree (Prim) of the source plus the communities in `coalition`
    /// (0-based players, community = player + 1): the cost c(S) of the MST game.
    fn mst_cost(coalition: &[usize]) -> f64 {
        let w = example_1_edges();
        let nodes: Vec<usize> = std::iter::once(0)
            .chain(coalition.iter().map(|p| p + 1))
            .collect();
        let mut in_tree = vec![nodes[0]];
        let mut cost = 0.0;
        while in_tree.len() < nodes.len() {
            let (best, c) = nodes
                .iter()
                .filter(|v| !in_tree.contains(v))
                .map(|&v| {
                    (
                        v,
                        in_tree
                            .iter()
                            .map(|&u| w[u][v])
                            .fold(f64::INFINITY, f64::min),
                    )
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            in_tree.push(best);
            cost += c;
        }
        cost
    }

    const PAPER_C: [f64; 7] = [100., 90., 80., 130., 110., 110., 140.];
    const PAPER_V: [f64; 7] = [0., 0., 0., 60., 70., 60., 130.];

    #[test]
    fn example_1_cost_game_is_the_mst_game() {
        let cs = coalitions(3).unwrap();
        let c: Vec<f64> = cs.iter().map(|s| mst_cost(s)).collect();
        assert_eq!(c, PAPER_C);
    }

    #[test]
    fn example_1_savings_game() {
        let c = CharacteristicFunction::new(3, &PAPER_C).unwrap();
        let v = c.savings_game();
        assert_eq!(v.values().to_vec(), PAPER_V);
        assert_eq!(v.grand_value(), 130.0); // "the three communities will save 130 $"
    }

    #[test]
    fn example_1_imputation_set() {
        let v = CharacteristicFunction::new(3, &PAPER_V).unwrap();
        assert!(v.imputation_set_nonempty()); // 130 ≥ 0 + 0 + 0
        let f = v.imputation_vertices();
        assert_eq!(f[0].to_vec(), [130., 0., 0.]);
        assert_eq!(f[1].to_vec(), [0., 130., 0.]);
        assert_eq!(f[2].to_vec(), [0., 0., 130.]);
        for fi in &f {
            assert!(v.is_imputation(fi.as_slice().unwrap(), 0.0).unwrap());
        }
        // Non-members: not efficient, not individually rational.
        assert!(!v.is_imputation(&[50., 40., 39.], 1e-9).unwrap());
        assert!(!v.is_imputation(&[140., -10., 0.], 1e-9).unwrap());
        // Tolerance is absolute.
        assert!(v.is_imputation(&[130. + 1e-9, 0., 0.], 1e-6).unwrap());
        assert!(!v.is_imputation(&[130. + 1e-9, 0., 0.], 0.0).unwrap());
    }

    #[test]
    fn example_1_core() {
        let v = CharacteristicFunction::new(3, &PAPER_V).unwrap();
        // Members: interior and on the face x1 + x2 = 60.
        assert!(v.is_in_core(&[50., 40., 40.], 0.0).unwrap());
        assert!(v.is_in_core(&[40., 20., 70.], 0.0).unwrap());
        // "Any redistribution ... that gives players 1 and 2 less than 60 $ cannot be
        // accepted": an imputation with x1 + x2 = 50 is not in the core.
        assert!(v.is_imputation(&[30., 20., 80.], 0.0).unwrap());
        assert!(!v.is_in_core(&[30., 20., 80.], 0.0).unwrap());
        // The vertices of I(v) are imputations but not in the core (the core is smaller).
        for fi in v.imputation_vertices() {
            assert!(!v.is_in_core(fi.as_slice().unwrap(), 0.0).unwrap());
        }
        // Against Definition 1 written out, on every integer efficient allocation.
        let mut members = 0;
        for x1 in -10..=140 {
            for x2 in -10..=140 {
                let x = [x1 as f64, x2 as f64, (130 - x1 - x2) as f64];
                let def = x.iter().all(|&xi| xi >= 0.0)
                    && x[0] + x[1] >= 60.0
                    && x[0] + x[2] >= 70.0
                    && x[1] + x[2] >= 60.0;
                assert_eq!(v.is_in_core(&x, 1e-9).unwrap(), def, "{x:?}");
                let imp = x.iter().all(|&xi| xi >= 0.0);
                assert_eq!(v.is_imputation(&x, 1e-9).unwrap(), imp, "{x:?}");
                members += def as usize;
            }
        }
        // Core = {x1 ∈ [0, 70], x2 ∈ [0, 60], x1 + x2 ≥ 60}: Σ_{x1=0}^{60} (x1 + 1) + 10·61
        // = 1891 + 610 integer points.
        assert_eq!(members, 2501);
    }

    #[test]
    fn excess_sign_and_equation_2() {
        let v = CharacteristicFunction::new(3, &PAPER_V).unwrap();
        let x = [50., 40., 40.];
        let e = v.excess(&x).unwrap();
        assert_eq!(e.to_vec(), [50., 40., 40., 30., 20., 20., 0.]);
        // e = B_H x − η.
        let g = Game::new(3).unwrap();
        let bh_x = g.incidence().dot(&Array1::from(x.to_vec()));
        assert_eq!(e, &bh_x - v.values());
        // Table 1 system: B [x; s] = η with surpluses s_j = e_j, j < q (efficient x).
        let mut u = x.to_vec();
        u.extend(e.iter().take(6));
        assert_eq!(g.b().dot(&Array1::from(u)), v.values());
    }

    #[test]
    fn imputation_set_is_hull_of_vertices() {
        // Random game with a nonempty imputation set, random imputations written as
        // convex combinations of the f^i with weights (x_i − η_i)/(η(N) − Σ η_k).
        // (For n = 1 the singleton is the grand coalition: I(η) = {η_1}, checked below.)
        let one = CharacteristicFunction::new(1, &[2.5]).unwrap();
        assert!(one.imputation_set_nonempty());
        assert_eq!(one.imputation_vertices()[0].to_vec(), [2.5]);
        assert!(one.is_in_core(&[2.5], 0.0).unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for n in 2..=6 {
            let q = (1 << n) - 1;
            let mut vals: Vec<f64> = (0..q).map(|_| rng.random_range(-5.0..5.0)).collect();
            let singles: f64 = vals[..n].iter().sum();
            vals[q - 1] = singles + rng.random_range(0.5..10.0);
            let eta = CharacteristicFunction::new(n, &vals).unwrap();
            assert!(eta.imputation_set_nonempty());
            let f = eta.imputation_vertices();
            let gap = vals[q - 1] - singles;
            for _ in 0..20 {
                let mut lam: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..1.0)).collect();
                let s: f64 = lam.iter().sum();
                lam.iter_mut().for_each(|l| *l /= s);
                let x: Array1<f64> = f
                    .iter()
                    .zip(&lam)
                    .map(|(fi, &l)| fi * l)
                    .fold(Array1::zeros(n), |a, b| a + b);
                assert!(eta.is_imputation(x.as_slice().unwrap(), 1e-10).unwrap());
                for i in 0..n {
                    let back = (x[i] - vals[i]) / gap;
                    assert!((back - lam[i]).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn empty_imputation_set() {
        // η({i}) = 1, η(N) = 2 < 3: empty; the f^i are efficient but not rational.
        let eta = CharacteristicFunction::new(3, &[1., 1., 1., 5., 5., 5., 2.]).unwrap();
        assert!(!eta.imputation_set_nonempty());
        for fi in eta.imputation_vertices() {
            let x = fi.as_slice().unwrap();
            assert!(eta.is_efficient(x, 0.0).unwrap());
            assert!(!eta.is_imputation(x, 1e-12).unwrap());
        }
        // Boundary: η(N) = Σ η({i}) gives the single imputation (1, 1, 1).
        let eta = CharacteristicFunction::new(3, &[1., 1., 1., 0., 0., 0., 3.]).unwrap();
        assert!(eta.imputation_set_nonempty());
        assert!(eta.is_imputation(&[1., 1., 1.], 0.0).unwrap());
    }

    #[test]
    fn errors_name_the_field() {
        let field = |e: SolverError| match e {
            SolverError::InvalidParameter { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(CharacteristicFunction::new(3, &[1.0; 6]).unwrap_err()),
            Param::CharacteristicFunction
        );
        assert_eq!(
            field(CharacteristicFunction::new(2, &[1.0, f64::NAN, 0.0]).unwrap_err()),
            Param::CharacteristicFunction
        );
        assert_eq!(
            field(CharacteristicFunction::new(7, &[]).unwrap_err()),
            Param::Players
        );
        let v = CharacteristicFunction::new(3, &PAPER_V).unwrap();
        assert_eq!(
            field(v.excess(&[1.0, 2.0]).unwrap_err()),
            Param::Argument("allocation")
        );
        assert_eq!(
            field(v.is_in_core(&[1.0, 2.0, f64::NAN], 0.0).unwrap_err()),
            Param::Argument("allocation")
        );
        assert_eq!(
            field(v.is_imputation(&[1.0, 2.0, 3.0], -1.0).unwrap_err()),
            Param::Argument("tolerance")
        );
    }
}
