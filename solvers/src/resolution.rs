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
}
