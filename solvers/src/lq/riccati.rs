//! The Riccati coefficient φ of the value function v = ½xᵀφx + hᵀx + χ (first line of
//! (15), docs/design.md §3):
//!
//! ```text
//!   φ' = −φAφ − Q,   φ(T) = S.
//! ```
//!
//! In reversed time τ = T − t, ψ(τ) = φ(T − τ) solves ψ' = ψAψ + Q, ψ(0) = S. With A
//! negative definite and Q, S positive semidefinite this is the control Riccati equation
//! (−A plays B R⁻¹ Bᵀ): ψ stays symmetric PSD, bounded, and converges to the stabilising
//! root of φAφ + Q = 0. Backward in t is therefore the stable direction, and that is the
//! only direction in which it is integrated.

use super::ode::{integrate_levels, mm_small, rk4_step_small, Direction, OdeOptions, Small};
use super::{check_coefficients, mat, mat_mut, non_finite, symmetrize, TimeGrid};
use crate::error::Result;
use crate::grid::MAX_DIM;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3};

/// Writes dφ = −φAφ − Q (all d×d, row-major flat) using `work` (d² scratch).
pub(crate) fn riccati_rhs(
    a: &Array2<f64>,
    q: &Array2<f64>,
    phi: &[f64],
    dphi: &mut [f64],
    work: &mut [f64],
) {
    let d = a.nrows();
    let p = mat(phi, d, d);
    let mut w = mat_mut(work, d, d);
    general_mat_mul(1.0, &a.view(), &p, 0.0, &mut w);
    let mut out = mat_mut(dphi, d, d);
    out.assign(q);
    general_mat_mul(-1.0, &p, &w.view(), -1.0, &mut out);
}

/// φ at every level t_n of `grid`, shape (steps+1, d, d): the solution of
/// φ' = −φAφ − Q, φ(T) = S (first equation of (15), corrected per docs/design.md §3),
/// integrated backward with the adaptive Dormand–Prince 5(4) of [`super::ode`]
/// (rtol 1e-12) and symmetrised at each level.
///
/// `a`, `q`, `s` must be finite symmetric d×d matrices (`InvalidParameter` naming
/// `Param::Drift` / `RunningCost` / `TerminalCost` otherwise). A negative definite and Q, S PSD guarantee a
/// bounded solution; otherwise a finite-time blow-up is reported as
/// `NonFinite { stage: "riccati", level, population: 0 }`.
pub fn riccati(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
    grid: &TimeGrid,
) -> Result<Array3<f64>> {
    let d = check_coefficients(a, q, s)?;
    grid.validate()?;
    let mut out = Array3::zeros((grid.levels(), d, d));
    let mut y: Vec<f64> = s.iter().copied().collect();
    out.slice_mut(ndarray::s![grid.steps, .., ..]).assign(s);
    let mut work = vec![0.0; d * d];
    integrate_levels(
        grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, _| {},
        |_, _t, y, dy| riccati_rhs(a, q, y, dy, &mut work),
        |n, y| {
            let mut m = mat(y, d, d).to_owned();
            symmetrize(&mut m);
            out.slice_mut(ndarray::s![n, .., ..]).assign(&m);
        },
    )
    .map_err(|f| non_finite("riccati", f, 0))?;
    Ok(out)
}

/// dφ = −φAφ − Q for matrices of at most [`MAX_DIM`] × [`MAX_DIM`] ([`Small`], padded
/// with zeros): the right-hand side of [`riccati_fixed_step`], the same equation as
/// [`riccati_rhs`] with the products ([`mm_small`]) in a fixed index order.
pub(crate) fn riccati_rhs_small(a: &Small, q: &Small, phi: &Small) -> Small {
    let m = mm_small(&mm_small(phi, a), phi);
    let mut out = [[0.0; MAX_DIM]; MAX_DIM];
    for i in 0..MAX_DIM {
        for j in 0..MAX_DIM {
            out[i][j] = -m[i][j] - q[i][j];
        }
    }
    out
}

/// φ at the `intervals` + 1 levels t_k = T − (intervals − k)·h, k = 0..=intervals, of
/// φ' = −φAφ − Q, φ(T) = S (first equation of (15), docs/design.md §3), by `intervals`
/// classical RK4 steps ([`rk4_step_small`]) of fixed size h backward from T: the entry
/// point for small matrices (d ≤ [`MAX_DIM`]) and a step chosen by the caller, without
/// checks or error control (the automatic domain, [`crate::domain`], sizes h from the
/// stiffness bound). Entry k of the result is φ(t_k).
pub(crate) fn riccati_fixed_step(
    a: &Small,
    q: &Small,
    s: &Small,
    h: f64,
    intervals: usize,
) -> Vec<Small> {
    let mut phi = vec![[[0.0; MAX_DIM]; MAX_DIM]; intervals + 1];
    let mut p = *s;
    phi[intervals] = p;
    for k in (0..intervals).rev() {
        rk4_step_small(&mut p, -h, |_, y| riccati_rhs_small(a, q, y));
        phi[k] = p;
    }
    phi
}

/// tanh(x)/x, accurate near 0.
fn tanhc(x: f64) -> f64 {
    if x.abs() < 1e-3 {
        let x2 = x * x;
        1.0 - x2 / 3.0 + 2.0 * x2 * x2 / 15.0 - 17.0 * x2 * x2 * x2 / 315.0
    } else {
        x.tanh() / x
    }
}

/// Closed form of the scalar Riccati equation φ' = −aφ² − q, φ(T) = s (constant
/// coefficients, d = 1), evaluated at time t.
///
/// Derivation. With τ = T − t and α = −a ≥ 0, ψ(τ) = φ(T − τ) solves ψ' = q − αψ²,
/// ψ(0) = s. For q, α > 0 let ψ∞ = √(q/α) (the stable root) and k = √(qα); separating
/// variables gives
///
/// ```text
///   ψ(τ) = ψ∞ (s + ψ∞ tanh kτ) / (ψ∞ + s tanh kτ)
/// ```
///
/// (check: ψ(0) = s, and ψ' = ψ∞ k (1 − tanh²)(ψ∞² − s²)/(ψ∞ + s tanh)² = q − αψ²).
/// Dividing through by ψ∞ and writing c = tanh(kτ)/(kτ) (so that ψ∞ tanh kτ = qτc and
/// tanh(kτ)/ψ∞ = ατc) gives the form used here, which is regular in every edge case:
///
/// ```text
///   φ(t) = (s + q τ c) / (1 + α s τ c),   c = tanh(kτ)/(kτ) → 1 as kτ → 0.
/// ```
///
/// * q = 0: k = 0, c = 1, φ = s / (1 + α s τ) (pure decay of the terminal weight);
/// * s = 0: φ = qτc = √(q/α) tanh(√(qα) τ);
/// * a = 0: φ = s + qτ; q = s = 0: φ ≡ 0; τ → ∞ (q > 0): φ → √(q/α).
///
/// Domain: a ≤ 0, q ≥ 0, s ≥ 0, all finite, t ≤ T. Outside it the function returns NaN
/// (it never panics); with a > 0 the equation blows up in finite time.
pub fn scalar_riccati_closed_form(a: f64, q: f64, s: f64, horizon: f64, t: f64) -> f64 {
    let ok =
        a.is_finite() && q.is_finite() && s.is_finite() && horizon.is_finite() && t.is_finite();
    if !ok || a > 0.0 || q < 0.0 || s < 0.0 || t > horizon {
        return f64::NAN;
    }
    let tau = horizon - t;
    let alpha = -a;
    let k = (q * alpha).sqrt();
    let c = tanhc(k * tau);
    (s + q * tau * c) / (1.0 + alpha * s * tau * c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SolverError;
    use crate::linalg::symmetric_eigen;
    use ndarray::{array, Array2};

    /// Measured: over the cases below the largest deviation from the closed form is
    /// reported on stderr; the test requires ≤ 1e-9 absolute and relative.
    #[test]
    fn scalar_riccati_matches_closed_form() {
        let cases = [
            // (a, q, s, T, steps)
            (-0.75, 1.0, 0.5, 1.0, 50),
            (-2.0, 3.0, 0.0, 5.0, 50),
            (-0.5, 0.0, 2.0, 3.0, 30),
            (-1.0, 1.0, 0.0, 50.0, 500),
            (-9.0, 1.0, 10.0, 50.0, 500),
            (-0.3467, 1.0, 1.0, 50.0, 500),
            (-1.0, 0.01, 5.0, 50.0, 500),
            (-3.0, 4.0, 4.0, 50.0, 7),
        ];
        let mut worst: f64 = 0.0;
        for &(a, q, s, t_end, steps) in &cases {
            let grid = TimeGrid::new(t_end, steps).unwrap();
            let phi = riccati(&array![[a]], &array![[q]], &array![[s]], &grid).unwrap();
            for n in 0..=steps {
                let exact = scalar_riccati_closed_form(a, q, s, t_end, grid.t(n));
                let err = (phi[[n, 0, 0]] - exact).abs();
                let rel = err / exact.abs().max(1e-300);
                worst = worst.max(err);
                assert!(
                    err <= 1e-9 && (exact == 0.0 || rel <= 1e-9),
                    "a={a} q={q} s={s} T={t_end} n={n}: {} vs {exact}",
                    phi[[n, 0, 0]]
                );
            }
        }
        eprintln!("riccati vs scalar closed form: max abs error {worst:.3e}");
        assert!(worst < 1e-11, "expected ≤ 1e-11, got {worst:e}");
    }

    /// The fixed-step entry point against the closed form: fourth order (error ratio ≈ 16
    /// per halving of h; measured 4.01 and 4.15) and errors below 1e-8 at 512 steps, the
    /// domain sizing's step counts (≥ 512 half steps).
    #[test]
    fn fixed_step_riccati_is_fourth_order_against_closed_form() {
        for &(a, q, s, t_end) in &[(-0.75, 1.0, 0.5, 1.0), (-2.0, 3.0, 0.0, 5.0)] {
            let small = |v: f64| {
                let mut m = [[0.0; MAX_DIM]; MAX_DIM];
                m[0][0] = v;
                m
            };
            let err = |intervals: usize| {
                let h = t_end / intervals as f64;
                let phi = riccati_fixed_step(&small(a), &small(q), &small(s), h, intervals);
                assert_eq!(phi.len(), intervals + 1);
                (0..=intervals).fold(0.0f64, |e, k| {
                    let t = t_end - (intervals - k) as f64 * h;
                    let exact = scalar_riccati_closed_form(a, q, s, t_end, t);
                    e.max((phi[k][0][0] - exact).abs())
                })
            };
            let (e1, e2, e3) = (err(64), err(128), err(512));
            let order = (e1 / e2).log2();
            eprintln!(
                "a={a} q={q} s={s} T={t_end}: errors {e1:.3e}, {e2:.3e}, order {order:.2}; \
                 {e3:.3e} at 512 steps"
            );
            assert!((3.8..4.3).contains(&order), "observed order {order}");
            assert!(e3 < 1e-8, "error {e3:e} at 512 steps");
        }
    }

    /// The closed form satisfies its ODE (central differences) and its edge cases.
    #[test]
    fn closed_form_properties() {
        let (a, q, s, t_end) = (-1.3, 0.7, 2.0, 4.0);
        for &t in &[0.0, 1.0, 3.5] {
            let dt = 1e-4;
            let d = (scalar_riccati_closed_form(a, q, s, t_end, t + dt)
                - scalar_riccati_closed_form(a, q, s, t_end, t - dt))
                / (2.0 * dt);
            let phi = scalar_riccati_closed_form(a, q, s, t_end, t);
            assert!(
                (d + a * phi * phi + q).abs() < 1e-7,
                "ODE residual {}",
                d + a * phi * phi + q
            );
        }
        assert_eq!(scalar_riccati_closed_form(a, q, s, t_end, t_end), s);
        // q = 0, s = 0, a = 0 and the long-horizon limit.
        let v = scalar_riccati_closed_form(-0.5, 0.0, 2.0, 3.0, 1.0);
        assert!((v - 2.0 / (1.0 + 0.5 * 2.0 * 2.0)).abs() < 1e-15);
        let v = scalar_riccati_closed_form(-2.0, 3.0, 0.0, 1.0, 0.5);
        assert!((v - (1.5f64).sqrt() * ((6.0f64).sqrt() * 0.5).tanh()).abs() < 1e-15);
        assert_eq!(scalar_riccati_closed_form(0.0, 1.0, 2.0, 3.0, 1.0), 4.0);
        assert_eq!(scalar_riccati_closed_form(-1.0, 0.0, 0.0, 3.0, 1.0), 0.0);
        let v = scalar_riccati_closed_form(-4.0, 9.0, 0.3, 200.0, 0.0);
        assert!((v - 1.5).abs() < 1e-15);
        assert!(scalar_riccati_closed_form(1.0, 1.0, 1.0, 1.0, 0.0).is_nan());
        assert!(scalar_riccati_closed_form(-1.0, -1.0, 1.0, 1.0, 0.0).is_nan());
    }

    /// 2-D non-diagonal A with Q = qI, S = sI: in A's eigenbasis φ is diagonal with
    /// scalar closed forms. Independent check of the matrix integration (T = 50).
    #[test]
    fn matrix_riccati_matches_rotated_closed_form() {
        let a = array![[-1.0, 0.6], [0.6, -2.5]];
        let (q, s) = (0.8, 3.0);
        let grid = TimeGrid::new(50.0, 500).unwrap();
        let phi = riccati(&a, &(Array2::eye(2) * q), &(Array2::eye(2) * s), &grid).unwrap();
        let (lam, u) = symmetric_eigen(&a).unwrap();
        let mut worst: f64 = 0.0;
        for n in 0..=grid.steps {
            let diag = Array2::from_diag(
                &lam.mapv(|l| scalar_riccati_closed_form(l, q, s, 50.0, grid.t(n))),
            );
            let exact = u.dot(&diag).dot(&u.t());
            let got = phi.slice(ndarray::s![n, .., ..]);
            worst = worst.max((&got - &exact).iter().fold(0.0f64, |m, v| m.max(v.abs())));
            assert_eq!(got[[0, 1]], got[[1, 0]]);
        }
        eprintln!("2-D riccati vs rotated closed form: max abs error {worst:.3e}");
        assert!(worst < 1e-9, "{worst:e}");
    }

    #[test]
    fn bad_input_is_refused() {
        let grid = TimeGrid::new(1.0, 10).unwrap();
        let err = riccati(
            &array![[-1.0, 0.5], [0.0, -1.0]],
            &Array2::eye(2),
            &Array2::eye(2),
            &grid,
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == crate::Param::Drift),
            "{err}"
        );
        let err = riccati(&array![[-1.0]], &Array2::eye(2), &array![[1.0]], &grid).unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == crate::Param::RunningCost),
            "{err}"
        );
        let err = riccati(
            &array![[-1.0]],
            &array![[1.0]],
            &array![[1.0]],
            &TimeGrid {
                horizon: 1.0,
                steps: 0,
            },
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == crate::Param::OutputSteps),
            "{err}"
        );
    }

    /// A > 0 violates (17): ψ' = ψ² + 1 blows up at τ = π/4, reported as NonFinite.
    #[test]
    fn blow_up_reports_non_finite() {
        let grid = TimeGrid::new(5.0, 50).unwrap();
        let err = riccati(&array![[1.0]], &array![[1.0]], &array![[1.0]], &grid).unwrap_err();
        match err {
            SolverError::NonFinite { stage, level, .. } => {
                assert_eq!(stage, "riccati");
                // blow-up at t = 5 − π/4 ≈ 4.2146: inside the interval ending at level 42.
                assert_eq!(level, 42);
            }
            other => panic!("unexpected {other}"),
        }
    }
}
