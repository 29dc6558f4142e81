//! Condition (17) — A = −B R⁻¹ Bᵀ + Γ⁻¹ must be negative definite for the Riccati
//! equation (15) and the HJI to be well posed — and the pairwise commutation test that
//! decides whether the modal decomposition (docs/design.md §2) is exact.

use crate::error::{Param, Result, SolverError};
use crate::linalg::{frobenius, is_symmetric, symmetric_eigenvalues};
use ndarray::Array2;

/// Relative tolerance of the definiteness tests of (17): A counts as negative definite
/// only if λ_max(A) < −`DEFINITENESS_TOL` · max|λ(A)|, so a numerically singular A (γ at
/// the threshold itself) is refused; likewise M = P B R⁻¹ Bᵀ Pᵀ counts as singular (no
/// admissible γ) when λ_min(M) ≤ `DEFINITENESS_TOL` · λ_max(M).
pub const DEFINITENESS_TOL: f64 = 1e-12;

/// Default relative tolerance of [`commute_pairwise`].
pub const COMMUTE_TOL: f64 = 1e-10;

fn check_square(a: &Array2<f64>, field: Param, what: &str) -> Result<()> {
    if a.nrows() == 0 || a.nrows() != a.ncols() {
        return Err(SolverError::invalid(
            field,
            format!(
                "{what} must be a non-empty square matrix, got {}×{}",
                a.nrows(),
                a.ncols()
            ),
        ));
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::invalid(
            field,
            format!("{what}: entries must be finite"),
        ));
    }
    if !is_symmetric(a) {
        return Err(SolverError::invalid(
            field,
            format!("{what} must be symmetric"),
        ));
    }
    Ok(())
}

/// The margin of condition (17): −λ_max(A) for a symmetric A (`Param::Drift` if A is
/// not square, finite and symmetric). Positive exactly when A is negative definite; the
/// larger, the better conditioned the HJI (`tufield check` prints it).
pub fn condition_17_margin(a: &Array2<f64>) -> Result<f64> {
    check_square(a, Param::Drift, "A")?;
    let ev = symmetric_eigenvalues(a)?;
    Ok(-ev[ev.len() - 1])
}

/// The infimum of admissible γ when Γ = γ² I (condition (17) generalised to any R):
/// A = −M + γ⁻² I is negative definite iff γ > 1/√λ_min(M), where
/// M = P B R⁻¹ Bᵀ Pᵀ (the whole B R⁻¹ Bᵀ for the full game).
///
/// Returns `None` when M is singular (λ_min(M) ≤ [`DEFINITENESS_TOL`] · λ_max(M)): then
/// A has an eigenvalue ≥ γ⁻² > 0 for every γ and **no γ is admissible** — the case of
/// B_H alone, whose B_H B_Hᵀ has eigenvalues 0,0,0,0,2,2,8 for n = 3.
/// `Param::Drift` if M is not square, finite and symmetric.
pub fn min_gamma(gram: &Array2<f64>) -> Result<Option<f64>> {
    check_square(gram, Param::Drift, "P B R⁻¹ Bᵀ Pᵀ")?;
    let ev = symmetric_eigenvalues(gram)?;
    let (smallest, largest) = (ev[0], ev[ev.len() - 1]);
    if largest > 0.0 && smallest > DEFINITENESS_TOL * largest {
        Ok(Some(1.0 / smallest.sqrt()))
    } else {
        Ok(None)
    }
}

/// Checks condition (17): A must be negative definite (see [`DEFINITENESS_TOL`]).
/// Returns the margin −λ_max(A) > 0 on success.
///
/// `scalar_gamma_gram` is M = P B R⁻¹ Bᵀ Pᵀ when Γ = γ² I (so A = −M + γ⁻² I), and `None`
/// for a general Γ. On failure the error is [`SolverError::IllPosed`] with λ_max(A) and,
/// when M is given, the smallest admissible γ from [`min_gamma`] (γ must exceed it).
/// `min_gamma: None` in the error means one of two things, and the caller knows which
/// since it knows whether it passed M: either Γ is not of the form γ² I (there is no
/// single γ to suggest; Γ must be made larger), or M is singular so that **no** γ makes A
/// negative definite (the excess directions in the kernel of Bᵀ are not controlled; use
/// the augmented B of eq. (2), or a projection whose M is nonsingular).
/// `Param::Drift` if A (or M) is not a finite symmetric square matrix, or if the shapes
/// of A and M differ.
pub fn check_condition_17(a: &Array2<f64>, scalar_gamma_gram: Option<&Array2<f64>>) -> Result<f64> {
    check_square(a, Param::Drift, "A")?;
    if let Some(m) = scalar_gamma_gram {
        if m.dim() != a.dim() {
            return Err(SolverError::invalid(
                Param::Drift,
                format!(
                    "A is {}×{} but P B R⁻¹ Bᵀ Pᵀ is {}×{}",
                    a.nrows(),
                    a.ncols(),
                    m.nrows(),
                    m.ncols()
                ),
            ));
        }
    }
    let ev = symmetric_eigenvalues(a)?;
    let (smallest, largest) = (ev[0], ev[ev.len() - 1]);
    let scale = smallest.abs().max(largest.abs());
    if largest < -DEFINITENESS_TOL * scale {
        return Ok(-largest);
    }
    let min_gamma = match scalar_gamma_gram {
        Some(m) => min_gamma(m)?,
        None => None,
    };
    Err(SolverError::IllPosed {
        largest_eigenvalue: largest,
        min_gamma,
    })
}

/// True when the three matrices are square of one size and commute pairwise:
/// ‖XY − YX‖_F ≤ `tol` · ‖X‖_F ‖Y‖_F for each pair (X, Y) of (A, Q, S) — a relative test,
/// invariant under scaling each matrix ([`COMMUTE_TOL`] = 1e-10 is a sensible default for
/// matrices assembled in double precision). Zero matrices commute with everything.
/// Mismatched or non-square shapes give `false`.
///
/// When A, Q and S are symmetric and commute they share an orthonormal eigenbasis, and
/// the modal decomposition of docs/design.md §2 is exact.
pub fn commute_pairwise(a: &Array2<f64>, q: &Array2<f64>, s: &Array2<f64>, tol: f64) -> bool {
    let n = a.nrows();
    if [a, q, s].iter().any(|m| m.dim() != (n, n)) {
        return false;
    }
    let pair = |x: &Array2<f64>, y: &Array2<f64>| {
        let c = x.dot(y) - y.dot(x);
        frobenius(&c) <= tol * frobenius(x) * frobenius(y)
    };
    pair(a, q) && pair(a, s) && pair(q, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{ControlWeight, DisturbanceWeight, Game};
    use crate::linalg::symmetric_eigen;
    use ndarray::{array, Array1};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn margin_is_minus_largest_eigenvalue() {
        let a = array![[-2.0, 1.0], [1.0, -2.0]]; // eigenvalues −3, −1
        assert!((condition_17_margin(&a).unwrap() - 1.0).abs() < 1e-14);
        assert!((check_condition_17(&a, None).unwrap() - 1.0).abs() < 1e-14);
        let b = array![[-2.0, 3.0], [3.0, -2.0]]; // eigenvalues −5, 1
        assert!((condition_17_margin(&b).unwrap() + 1.0).abs() < 1e-14);
        match check_condition_17(&b, None) {
            Err(SolverError::IllPosed {
                largest_eigenvalue,
                min_gamma: None,
            }) => assert!((largest_eigenvalue - 1.0).abs() < 1e-14),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn min_gamma_is_the_threshold_for_any_r() {
        // Random SPD R (9×9) for n = 3: A = −M + γ⁻² I is negative definite exactly for
        // γ > min_gamma(M).
        let g = Game::new(3).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let x = Array2::from_shape_fn((9, 9), |_| rng.random_range(-1.0..1.0));
        let r = x.dot(&x.t()) + Array2::<f64>::eye(9) * 0.5;
        let cr = ControlWeight::Matrix(r);
        let m = g.gram(&cr).unwrap();
        let gstar = min_gamma(&m).unwrap().unwrap();
        for (factor, ok) in [(0.99, false), (1.01, true), (3.0, true), (0.5, false)] {
            let gamma = DisturbanceWeight::Gamma(gstar * factor);
            let a = g.full_a(&cr, &gamma).unwrap();
            let res = check_condition_17(&a, Some(&m));
            assert_eq!(res.is_ok(), ok, "factor {factor}");
            if let Err(SolverError::IllPosed { min_gamma, .. }) = res {
                assert!((min_gamma.unwrap() - gstar).abs() < 1e-12 * gstar);
            }
        }
    }

    #[test]
    fn shape_errors() {
        let a = Array2::<f64>::eye(2);
        let m = Array2::<f64>::eye(3);
        for e in [
            check_condition_17(&a, Some(&m)).unwrap_err(),
            check_condition_17(&Array2::zeros((2, 3)), None).unwrap_err(),
            check_condition_17(&array![[1.0, 2.0], [0.0, 1.0]], None).unwrap_err(),
            condition_17_margin(&array![[f64::NAN]]).unwrap_err(),
            min_gamma(&Array2::zeros((0, 0))).unwrap_err(),
        ] {
            assert!(
                matches!(e, SolverError::InvalidParameter { ref field, .. } if *field == Param::Drift)
            );
        }
    }

    #[test]
    fn commutation() {
        let g = Game::new(3).unwrap();
        let a = g
            .full_a(&ControlWeight::Scalar(1.0), &DisturbanceWeight::Gamma(2.0))
            .unwrap();
        let id = Array2::<f64>::eye(7);
        // Q, S scalar multiples of I (the paper's setting) commute with A.
        assert!(commute_pairwise(
            &a,
            &(&id * 2.0),
            &(&id * 0.5),
            COMMUTE_TOL
        ));
        // A polynomial in A commutes with A.
        let a2 = a.dot(&a);
        assert!(commute_pairwise(&a, &a2, &(&a2 * 3.0 - &a), COMMUTE_TOL));
        // A non-scalar diagonal Q does not (A has off-diagonal entries).
        let qd = Array2::from_diag(&Array1::from_iter((0..7).map(|i| 1.0 + i as f64)));
        assert!(!commute_pairwise(&a, &qd, &id, COMMUTE_TOL));
        // Q and S that both commute with A but not with each other.
        assert!(!commute_pairwise(&id, &qd, &a, COMMUTE_TOL));
        // Shared random eigenbasis: commute; a 1e-6 perturbation breaks it.
        let (_, u) = symmetric_eigen(&a).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut spectral = || {
            let d = Array1::from_iter((0..7).map(|_| rng.random_range(-3.0..3.0)));
            u.dot(&Array2::from_diag(&d)).dot(&u.t())
        };
        let (x, y, z) = (spectral(), spectral(), spectral());
        assert!(commute_pairwise(&x, &y, &z, COMMUTE_TOL));
        let mut zp = z.clone();
        zp[[0, 1]] += 1e-6;
        zp[[1, 0]] += 1e-6;
        assert!(!commute_pairwise(&x, &y, &zp, COMMUTE_TOL));
        // Shapes.
        assert!(!commute_pairwise(&x, &y, &Array2::eye(3), COMMUTE_TOL));
    }
}
