//! Closed-loop Gaussian moments. Under the feedback drift b = A(φx + h) of (11)-(12) with
//! noise σ dW, a Gaussian population stays Gaussian, with
//!
//! ```text
//!   mean' = A(φ mean + h),        mean(0) = m̄(0)
//!   Σ'    = AφΣ + ΣφA + σ²I,      Σ(0)   = population covariance
//! ```
//!
//! (A and φ symmetric, so (Aφ)ᵀ = φA). Both are integrated forward, their stable direction
//! (Aφ is similar to φ^½Aφ^½ ≤ 0).

use super::ode::{integrate_levels, Direction, OdeOptions};
use super::riccati::riccati_rhs;
use super::{
    check_coefficients, check_sigma, check_vector, mat, mat_mut, non_finite, set_identity,
    symmetrize, TimeGrid,
};
use crate::error::{Param, Result, SolverError};
use crate::linalg::is_symmetric;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array3, ArrayView1};

/// Mean and covariance of a Gaussian population at every level.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMoments {
    /// Mean, shape (steps+1, d).
    pub mean: Array2<f64>,
    /// Covariance, shape (steps+1, d, d).
    pub cov: Array3<f64>,
}

fn check_cov(field: Param, cov: &Array2<f64>, d: usize) -> Result<()> {
    if cov.dim() != (d, d) {
        return Err(SolverError::invalid(
            field,
            format!("expected a {d}×{d} matrix"),
        ));
    }
    if cov.iter().any(|v| !v.is_finite()) || !is_symmetric(cov) {
        return Err(SolverError::invalid(
            field,
            "covariance must be finite and symmetric",
        ));
    }
    Ok(())
}

/// Closed-loop moments for a **given** (φ, h) path at the levels of `grid`:
/// mean' = A(φ mean + h), Σ' = AφΣ + ΣφA + σ²I, from `mean0`, `cov0`.
///
/// φ (shape (steps+1, d, d)) and h (shape (steps+1, d)) are interpolated **linearly
/// between levels**; the moments are then exact (to the integrator's ~1e-12) for that
/// piecewise-linear feedback, and within O(dt²) of the moments for smooth φ, h. For the
/// exact Riccati covariance use [`exact_covariance`]; the exact equilibrium
/// ([`crate::lq::exact_equilibrium`]) already carries exact means and covariances.
/// Parameters in errors: `Param::Drift`, `Noise`, `Argument("phi")`, `Argument("h")`,
/// `PopulationMean`, `PopulationCov`.
pub fn closed_loop_moments(
    a: &Array2<f64>,
    sigma: f64,
    phi: &Array3<f64>,
    h: &Array2<f64>,
    mean0: &Array1<f64>,
    cov0: &Array2<f64>,
    grid: &TimeGrid,
) -> Result<GaussianMoments> {
    let d = check_coefficients(a, a, a)?;
    check_sigma(sigma)?;
    grid.validate()?;
    let levels = grid.levels();
    if phi.dim() != (levels, d, d) || phi.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::invalid(
            Param::Argument("phi"),
            format!("expected finite entries of shape ({levels}, {d}, {d})"),
        ));
    }
    if h.dim() != (levels, d) || h.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::invalid(
            Param::Argument("h"),
            format!("expected finite entries of shape ({levels}, {d})"),
        ));
    }
    check_vector(Param::PopulationMean(None), mean0, d)?;
    check_cov(Param::PopulationCov(None), cov0, d)?;

    let mut mean = Array2::zeros((levels, d));
    let mut cov = Array3::zeros((levels, d, d));
    mean.row_mut(0).assign(mean0);
    cov.slice_mut(ndarray::s![0, .., ..]).assign(cov0);
    let mut y: Vec<f64> = mean0.iter().chain(cov0.iter()).copied().collect();
    let s2 = sigma * sigma;
    let (mut ph, mut hh, mut af) = (
        Array2::zeros((d, d)),
        Array1::zeros(d),
        Array2::zeros((d, d)),
    );
    integrate_levels(
        grid,
        Direction::Forward,
        &mut y,
        OdeOptions::default(),
        |_, _| {},
        |n, t, y, dy| {
            let w = ((t - grid.t(n)) / grid.dt()).clamp(0.0, 1.0);
            ph.assign(&phi.slice(ndarray::s![n, .., ..]));
            ph *= 1.0 - w;
            ph.scaled_add(w, &phi.slice(ndarray::s![n + 1, .., ..]));
            hh.assign(&h.row(n));
            hh *= 1.0 - w;
            hh.scaled_add(w, &h.row(n + 1));
            general_mat_mul(1.0, a, &ph, 0.0, &mut af);
            let m = ArrayView1::from(&y[..d]);
            let dm = af.dot(&m) + a.dot(&hh);
            dy[..d].copy_from_slice(dm.as_slice().expect("contiguous"));
            let sig = mat(&y[d..], d, d);
            let mut ds = mat_mut(&mut dy[d..], d, d);
            general_mat_mul(1.0, &af, &sig, 0.0, &mut ds);
            general_mat_mul(1.0, &sig, &af.t(), 1.0, &mut ds);
            for i in 0..d {
                ds[[i, i]] += s2;
            }
        },
        |n, y| {
            mean.row_mut(n).assign(&ArrayView1::from(&y[..d]));
            let mut c = mat(&y[d..], d, d).to_owned();
            symmetrize(&mut c);
            cov.slice_mut(ndarray::s![n, .., ..]).assign(&c);
        },
    )
    .map_err(|f| non_finite("lq", f, 0))?;
    Ok(GaussianMoments { mean, cov })
}

/// (φ at levels, Φ_n, G_n): one-interval transitions of x' = Aφ(t)x under the Riccati φ of (15), computed
/// backward (stable): for each interval n, Φ_n = Ψ(t_{n+1}, t_n) and
/// G_n = ∫_{t_n}^{t_{n+1}} Ψ(t_{n+1}, s)Ψ(t_{n+1}, s)ᵀ ds, from
/// ∂_sΨ(t₁, s) = −Ψ(t₁, s)Aφ(s), Ψ(t₁, t₁) = I (contracting as s decreases).
pub(crate) type Transitions = (Array3<f64>, Vec<Array2<f64>>, Vec<Array2<f64>>);

/// Computes the [`Transitions`] of the Riccati feedback on `grid`.
pub(crate) fn covariance_transitions(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
    grid: &TimeGrid,
) -> Result<Transitions> {
    let d = check_coefficients(a, q, s)?;
    grid.validate()?;
    let dd = d * d;
    let mut phi_out = Array3::zeros((grid.levels(), d, d));
    phi_out.slice_mut(ndarray::s![grid.steps, .., ..]).assign(s);
    let mut trans = vec![Array2::zeros((d, d)); grid.steps];
    let mut gram = vec![Array2::zeros((d, d)); grid.steps];
    let mut y: Vec<f64> = s
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0.0, 2 * dd))
        .collect();
    let (mut work, mut af) = (vec![0.0; dd], Array2::zeros((d, d)));
    integrate_levels(
        grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, y| {
            set_identity(&mut y[dd..2 * dd], d);
            y[2 * dd..].fill(0.0);
        },
        |_, _t, y, dy| {
            let (dphi, drest) = dy.split_at_mut(dd);
            riccati_rhs(a, q, &y[..dd], dphi, &mut work);
            general_mat_mul(1.0, a, &mat(&y[..dd], d, d), 0.0, &mut af);
            let psi = mat(&y[dd..2 * dd], d, d);
            let (dpsi, dg) = drest.split_at_mut(dd);
            general_mat_mul(-1.0, &psi, &af, 0.0, &mut mat_mut(dpsi, d, d));
            general_mat_mul(-1.0, &psi, &psi.t(), 0.0, &mut mat_mut(dg, d, d));
        },
        |n, y| {
            let mut m = mat(&y[..dd], d, d).to_owned();
            symmetrize(&mut m);
            phi_out.slice_mut(ndarray::s![n, .., ..]).assign(&m);
            trans[n].assign(&mat(&y[dd..2 * dd], d, d));
            let mut g = mat(&y[2 * dd..], d, d).to_owned();
            symmetrize(&mut g);
            gram[n].assign(&g);
        },
    )
    .map_err(|f| non_finite("lq", f, 0))?;
    Ok((phi_out, trans, gram))
}

/// Chains Σ_{n+1} = Φ_n Σ_n Φ_nᵀ + σ² G_n from Σ_0 = `cov0`.
pub(crate) fn propagate_covariance(
    cov0: &Array2<f64>,
    sigma: f64,
    trans: &[Array2<f64>],
    gram: &[Array2<f64>],
) -> Array3<f64> {
    let d = cov0.nrows();
    let mut out = Array3::zeros((trans.len() + 1, d, d));
    let mut c = cov0.clone();
    out.slice_mut(ndarray::s![0, .., ..]).assign(&c);
    for (n, (t, g)) in trans.iter().zip(gram).enumerate() {
        c = t.dot(&c).dot(&t.t()) + g * (sigma * sigma);
        symmetrize(&mut c);
        out.slice_mut(ndarray::s![n + 1, .., ..]).assign(&c);
    }
    out
}

/// Exact covariance Σ' = AφΣ + ΣφA + σ²I, Σ(0) = `cov0`, under the Riccati φ of (15)
/// for (A, Q, S): propagated with the one-interval transition matrices and Gramians of
/// x' = Aφx (computed backward, the stable direction), so it is exact at every level to
/// integrator accuracy, whatever dt. Parameters: `Param::Drift`,
/// `RunningCost`, `TerminalCost`, `Noise`, `PopulationCov`.
pub fn exact_covariance(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
    sigma: f64,
    cov0: &Array2<f64>,
    grid: &TimeGrid,
) -> Result<Array3<f64>> {
    let d = check_coefficients(a, q, s)?;
    check_sigma(sigma)?;
    check_cov(Param::PopulationCov(None), cov0, d)?;
    let (_, trans, gram) = covariance_transitions(a, q, s, grid)?;
    Ok(propagate_covariance(cov0, sigma, &trans, &gram))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lq::riccati::riccati;
    use ndarray::array;

    /// 1-D, S = steady-state φ∞ = √(q/α), so φ ≡ φ∞ and, with constant h,
    ///   Var(t) = V∞ + (V0 − V∞) e^{2aφ∞t},  V∞ = σ²/(−2aφ∞),
    ///   m(t)   = m∞ + (m0 − m∞) e^{aφ∞t},   m∞ = −h/φ∞.
    #[test]
    fn constant_phi_matches_closed_form() {
        let (a, q, sigma, h0, m0, v0) = (-0.75f64, 1.2f64, 0.3, 0.4, 2.0, 0.05);
        let phi_inf = (q / -a).sqrt();
        let grid = TimeGrid::new(50.0, 500).unwrap();
        let phi = riccati(&array![[a]], &array![[q]], &array![[phi_inf]], &grid).unwrap();
        let h = Array2::from_elem((grid.levels(), 1), h0);
        let mom = closed_loop_moments(
            &array![[a]],
            sigma,
            &phi,
            &h,
            &array![m0],
            &array![[v0]],
            &grid,
        )
        .unwrap();
        let ex_cov = exact_covariance(
            &array![[a]],
            &array![[q]],
            &array![[phi_inf]],
            sigma,
            &array![[v0]],
            &grid,
        )
        .unwrap();
        let v_inf = sigma * sigma / (-2.0 * a * phi_inf);
        let m_inf = -h0 / phi_inf;
        let (mut em, mut ev, mut ex): (f64, f64, f64) = (0.0, 0.0, 0.0);
        for n in 0..grid.levels() {
            let t = grid.t(n);
            let var = v_inf + (v0 - v_inf) * (2.0 * a * phi_inf * t).exp();
            let mean = m_inf + (m0 - m_inf) * (a * phi_inf * t).exp();
            em = em.max((mom.mean[[n, 0]] - mean).abs());
            ev = ev.max((mom.cov[[n, 0, 0]] - var).abs());
            ex = ex.max((ex_cov[[n, 0, 0]] - var).abs());
        }
        eprintln!(
            "closed-loop moments vs closed form: mean {em:.2e}, var {ev:.2e}, exact-cov {ex:.2e}"
        );
        assert!(
            em < 1e-10 && ev < 1e-10 && ex < 1e-10,
            "{em:e} {ev:e} {ex:e}"
        );
    }

    /// Time-varying φ (S ≠ φ∞): with u(τ) = cosh kτ + (αs/k) sinh kτ, τ = T − t, the
    /// Riccati solution is φ = u'/(αu), the transition of x' = aφx is u(T−t)/u(T−s), and
    ///   Var(t) = (u(T−t)/u(T))² V0 + σ² u(T−t)² [sinh(kτ)/(k u(τ))]_{τ=T−t}^{τ=T}
    /// (since d/dτ[sinh kτ / u] = k/u²). Checks `exact_covariance` at coarse dt.
    #[test]
    fn exact_covariance_time_varying_phi() {
        let (a, q, s, sigma, v0, t_end) = (-1.5f64, 0.8f64, 3.0f64, 0.7f64, 0.2f64, 5.0f64);
        let alpha = -a;
        let k = (q * alpha).sqrt();
        let beta = alpha * s / k;
        let u = |tau: f64| (k * tau).cosh() + beta * (k * tau).sinh();
        let grid = TimeGrid::new(t_end, 10).unwrap();
        let cov = exact_covariance(
            &array![[a]],
            &array![[q]],
            &array![[s]],
            sigma,
            &array![[v0]],
            &grid,
        )
        .unwrap();
        let mut worst: f64 = 0.0;
        for n in 0..grid.levels() {
            let tau = t_end - grid.t(n);
            let var = (u(tau) / u(t_end)).powi(2) * v0
                + sigma
                    * sigma
                    * u(tau).powi(2)
                    * ((k * t_end).sinh() / (k * u(t_end)) - (k * tau).sinh() / (k * u(tau)));
            worst = worst.max(((cov[[n, 0, 0]] - var) / var).abs());
        }
        eprintln!("exact covariance (time-varying φ, dt = 0.5) rel error {worst:.2e}");
        assert!(worst < 1e-10, "{worst:e}");
    }

    #[test]
    fn bad_shapes_are_refused() {
        let grid = TimeGrid::new(1.0, 4).unwrap();
        let phi = Array3::zeros((5, 1, 1));
        let err = closed_loop_moments(
            &array![[-1.0]],
            0.1,
            &phi,
            &Array2::zeros((4, 1)),
            &array![0.0],
            &array![[1.0]],
            &grid,
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::Argument("h")),
            "{err}"
        );
        let err = closed_loop_moments(
            &array![[-1.0]],
            0.1,
            &phi,
            &Array2::zeros((5, 1)),
            &array![0.0, 1.0],
            &array![[1.0]],
            &grid,
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::PopulationMean(None)),
            "{err}"
        );
    }
}
