//! Is a discretisation fine enough for the problem it solves? Quantities behind the
//! warnings that `check` and `solve` print before a silent error (docs/design.md §5).
//!
//! * **Fastest closed-loop mode.** With v = ½xᵀφx + …, the optimal drift is A(φx + h), so
//!   a copy relaxes at the rates −λ of the closed-loop matrix Aφ(t). With N = −A
//!   (symmetric positive definite, condition (17)) and φ symmetric, Aφ = −Nφ is similar
//!   to −N^{1/2} φ N^{1/2}, so its eigenvalues are real: λ = −eig(N^{1/2} φ N^{1/2}).
//!   [`fastest_closed_loop_rate`] returns max_t max |λ|; the implicit first-order time
//!   stepping resolves a mode only when |λ|·dt is small.
//! * **Spread per cell.** A Gaussian of standard deviation s on a grid of spacing h is
//!   resolved by the first-order scheme only when s/h is several cells.
//! * **Upwinded mass.** The second-order scheme differences the drift centrally only where
//!   the cell Péclet number |b_i|h_i/(σ²/2) ≤ 2, i.e. |b_i| ≤ σ²/h_i, and upwinds (first
//!   order) elsewhere (docs/design.md §4.5). Under the exact LQ equilibrium population k
//!   is N(m̄_k, Σ_k) and its drift b = A(φx + h_k) is affine in x, so b_i is Gaussian with
//!   mean (A(φm̄_k + h_k))_i and variance (AφΣ_kφA)_ii: [`upwinded_share`] is the share of
//!   the mass where axis i is upwinded, in closed form.

use crate::error::{Param, Result, SolverError};
use crate::linalg::symmetric_eigen;
use ndarray::{Array2, Array3, Axis};

/// max over time levels of the largest |eigenvalue| of the closed-loop matrix A·φ(t)
/// (module docs). `a` is d × d symmetric negative definite, `phi` (levels, d, d).
pub fn fastest_closed_loop_rate(a: &Array2<f64>, phi: &Array3<f64>) -> Result<f64> {
    let d = a.nrows();
    if a.ncols() != d || phi.shape()[1] != d || phi.shape()[2] != d {
        return Err(SolverError::invalid(
            Param::Argument("phi"),
            format!(
                "A is {}×{} but φ has shape {:?}",
                a.nrows(),
                a.ncols(),
                phi.shape()
            ),
        ));
    }
    let (lam, u) = symmetric_eigen(&(-a))?;
    if lam.iter().any(|&l| l <= 0.0) {
        return Err(SolverError::invalid(
            Param::Drift,
            "A must be negative definite for the closed-loop rates",
        ));
    }
    let root = u.dot(&Array2::from_diag(&lam.mapv(f64::sqrt))).dot(&u.t());
    let mut fastest: f64 = 0.0;
    for p in phi.axis_iter(Axis(0)) {
        let sym = 0.5 * (&p + &p.t());
        let m = root.dot(&sym).dot(&root);
        let m = 0.5 * (&m + &m.t());
        let (ev, _) = symmetric_eigen(&m)?;
        fastest = ev.iter().fold(fastest, |acc, v| acc.max(v.abs()));
    }
    Ok(fastest)
}

/// Fewest time steps on a horizon `t` for which `rate`·dt ≤ `max_product`.
pub fn steps_for_rate(rate: f64, t: f64, max_product: f64) -> usize {
    (rate * t / max_product).ceil().max(1.0) as usize
}

/// P(|b| > c) for b ~ N(mu, s²) (s ≥ 0).
fn gaussian_beyond(mu: f64, s: f64, c: f64) -> f64 {
    if s <= 0.0 {
        return if mu.abs() > c { 1.0 } else { 0.0 };
    }
    let z = s * std::f64::consts::SQRT_2;
    0.5 * (erfc((c - mu) / z) + erfc((c + mu) / z))
}

/// Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Mean and standard deviation of the drift component b_i = (A(φx + h))_i under
/// x ~ N(mean, cov) (module docs).
fn drift_law(
    a: &Array2<f64>,
    phi: ndarray::ArrayView2<f64>,
    mean: ndarray::ArrayView1<f64>,
    h: ndarray::ArrayView1<f64>,
    cov: ndarray::ArrayView2<f64>,
    i: usize,
) -> (f64, f64) {
    // Row i of Aφ and the mean drift.
    let row = a.row(i).dot(&phi);
    let mu = row.dot(&mean) + a.row(i).dot(&h);
    let var = row.dot(&cov.dot(&row));
    (mu, var.max(0.0).sqrt())
}

/// Where the second-order scheme upwinds the most mass (module docs): the largest share of
/// one population's mass, over populations, levels and axes.
#[derive(Debug, Clone, PartialEq)]
pub struct UpwindedShare {
    /// Share of the population's mass in cells upwinded along `axis`, in [0, 1].
    pub share: f64,
    pub population: usize,
    pub axis: usize,
    pub level: usize,
    /// Per axis, the largest spacing at which every population's upwinded share along
    /// that axis stays ≤ the `target` passed to [`upwinded_share`] at every level
    /// (∞ when no drift is met; 0 without noise).
    pub spacing_for_target: Vec<f64>,
}

/// The share of each population's mass in cells where the second-order scheme upwinds
/// (|b_i| > σ²/h_i), under the exact LQ equilibrium (module docs): `a` the d × d drift
/// matrix, `sigma` the noise, `spacing` the grid spacing per axis, `phi` (levels, d, d),
/// and per population its means (levels, d), h (levels, d) and covariances (levels, d, d).
/// Returns the worst share and the spacings that bring every share to ≤ `target`.
pub fn upwinded_share(
    a: &Array2<f64>,
    sigma: f64,
    spacing: &[f64],
    phi: &Array3<f64>,
    populations: &[(&Array2<f64>, &Array2<f64>, &Array3<f64>)],
    target: f64,
) -> Result<UpwindedShare> {
    let d = a.nrows();
    if spacing.len() != d || phi.shape()[1..] != [d, d] {
        return Err(SolverError::invalid(
            Param::Argument("spacing"),
            format!(
                "A is {d}×{d} but the grid has {} axes and φ the shape {:?}",
                spacing.len(),
                phi.shape()
            ),
        ));
    }
    let c2 = sigma * sigma;
    let mut worst = UpwindedShare {
        share: 0.0,
        population: 0,
        axis: 0,
        level: 0,
        spacing_for_target: vec![f64::INFINITY; d],
    };
    for (k, (mean, h, cov)) in populations.iter().enumerate() {
        for (n, p) in phi.outer_iter().enumerate() {
            for (i, &spacing_i) in spacing.iter().enumerate() {
                let (mu, s) = drift_law(a, p, mean.row(n), h.row(n), cov.index_axis(Axis(0), n), i);
                let share = gaussian_beyond(mu, s, c2 / spacing_i);
                if share > worst.share {
                    worst.share = share;
                    worst.population = k;
                    worst.axis = i;
                    worst.level = n;
                }
                // Smallest drift threshold c with P(|b_i| > c) ≤ target, by bisection
                // (the share falls monotonically in c).
                let (mut lo, mut hi) = (0.0, mu.abs() + 40.0 * s + f64::MIN_POSITIVE);
                if gaussian_beyond(mu, s, lo) > target {
                    for _ in 0..200 {
                        let mid = 0.5 * (lo + hi);
                        if gaussian_beyond(mu, s, mid) > target {
                            lo = mid;
                        } else {
                            hi = mid;
                        }
                    }
                    let h_max = c2 / hi;
                    worst.spacing_for_target[i] = worst.spacing_for_target[i].min(h_max);
                }
            }
        }
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, Array2, Array3};

    #[test]
    fn rates_are_the_closed_loop_eigenvalues() {
        // 1-D: Aφ = −0.75·2 → rate 1.5.
        let phi = Array3::from_shape_vec((2, 1, 1), vec![2.0, 1.0]).unwrap();
        let r = fastest_closed_loop_rate(&arr2(&[[-0.75]]), &phi).unwrap();
        assert!((r - 1.5).abs() < 1e-12);
        // Non-diagonal: compare with the eigenvalues of the product computed directly
        // (2×2 closed form).
        let a: Array2<f64> = arr2(&[[-2.0, 0.5], [0.5, -1.0]]);
        let p: Array2<f64> = arr2(&[[1.5, 0.2], [0.2, 0.7]]);
        let m = a.dot(&p);
        let (tr, det) = (
            m[[0, 0]] + m[[1, 1]],
            m[[0, 0]] * m[[1, 1]] - m[[0, 1]] * m[[1, 0]],
        );
        let disc = (tr * tr - 4.0 * det).sqrt();
        let expected = ((tr - disc) / 2.0).abs().max(((tr + disc) / 2.0).abs());
        let phi = p.insert_axis(Axis(0));
        let r = fastest_closed_loop_rate(&a, &phi).unwrap();
        assert!((r - expected).abs() < 1e-12 * expected, "{r} vs {expected}");
        assert_eq!(steps_for_rate(2.0, 6.0, 0.5), 24);
    }

    #[test]
    fn upwinded_share_is_the_gaussian_tail_of_the_drift() {
        // 1-D: A = −1, φ = 2, h = 0, population N(0.5, 0.1²): b = −2x ~ N(−1, 0.2²).
        let a = arr2(&[[-1.0]]);
        let phi = Array3::from_elem((1, 1, 1), 2.0);
        let mean = arr2(&[[0.5]]);
        let h = arr2(&[[0.0]]);
        let cov = Array3::from_elem((1, 1, 1), 0.01);
        let pops = [(&mean, &h, &cov)];
        // σ² = 0.09, h = 0.09: threshold |b| > 1, half the mass.
        let w = upwinded_share(&a, 0.3, &[0.09], &phi, &pops, 0.01).unwrap();
        assert!((w.share - 0.5).abs() < 1e-6, "{w:?}");
        // Share 1 % at |b| > c with c = 1 + 0.2·z_{0.99} (the far tail is ~1e-21), so
        // the largest spacing is σ²/c.
        let c = 1.0 + 0.2 * 2.326_347_874;
        let want = 0.09 / c;
        assert!(
            (w.spacing_for_target[0] - want).abs() < 1e-5 * want,
            "{w:?} vs {want}"
        );
        let fine = upwinded_share(&a, 0.3, &[want * 0.999], &phi, &pops, 0.01).unwrap();
        assert!(fine.share <= 0.01, "{fine:?}");
        // The error function against known values.
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 2e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 2e-7);
    }
}
