//! Result types of the exact LQ equilibria and the independent boundary-condition check
//! shared by [`super::single`] and [`super::multi`].

use super::ode::{integrate_levels, Direction, OdeOptions};
use super::riccati::riccati_rhs;
use super::{mat, non_finite, TimeGrid};
use crate::error::Result;
use crate::linalg::frobenius;
use ndarray::{Array1, Array2, Array3, ArrayView1};

/// One population of the exact LQ equilibrium, at every level t_n.
#[derive(Debug, Clone, PartialEq)]
pub struct LqPopulation {
    /// m̄_k(t_n), shape (steps+1, d).
    pub mean: Array2<f64>,
    /// h_k(t_n) of v_k = ½xᵀφx + h_kᵀx + χ_k, shape (steps+1, d).
    pub h: Array2<f64>,
    /// χ_k(t_n), length steps+1.
    pub chi: Array1<f64>,
    /// Covariance of m_k(·, t_n) (Gaussian initial data stay Gaussian): Σ' = AφΣ + ΣφA + σ²I,
    /// shape (steps+1, d, d). Exact at every level (transition matrices).
    pub cov: Array3<f64>,
    /// The tracked signal ρ_k(t_n) = Σ_j W_kj m̄_j(t_n) (26), shape (steps+1, d).
    pub target: Array2<f64>,
}

/// The exact linear-quadratic mean-field equilibrium (docs/design.md §3) on the output levels.
#[derive(Debug, Clone, PartialEq)]
pub struct LqEquilibrium {
    /// Level times t_n = n·T/steps.
    pub time: Array1<f64>,
    /// φ(t_n), shape (steps+1, d, d) (shared by all populations).
    pub phi: Array3<f64>,
    /// One entry per population, in model order.
    pub populations: Vec<LqPopulation>,
    /// Check of the forward equation and the initial condition, computed independently of
    /// the solution method: the mean ODE m̄_k' = A(φm̄_k + h_k) is integrated forward from
    /// the *given* m̄_k(0), restarting h (and φ) from the computed values at every level,
    /// and compared with the computed means at every level (sup norm, including
    /// |m̄(0) − given|). Scaled by max(1, sup|m̄|, sup|h|), i.e. absolute for O(1) data.
    pub residual_initial: f64,
    /// Check of the backward equation and the terminal condition: h_k' = −φAh_k + Qρ_k is
    /// integrated backward from h_k(T) = −Sρ_k(T) (ρ from the computed final means),
    /// restarting the means (and φ) from the computed values at every level, and compared
    /// with the computed h at every level down to t = 0 (sup norm). Same scaling.
    pub residual_terminal: f64,
}

/// Steps per output interval used for the residual check (and for the computation that
/// feeds it): the check integrates each interval in the direction in which φ and one of
/// (m̄, h) grow, at rate ≲ 2‖Aφ‖, so intervals are split until ‖Aφ‖_F·δ ≤ 1 (error
/// amplification ≤ e² per sub-interval). Typically 1 (dt = 0.1, ‖Aφ‖ ≤ 10).
pub(crate) fn refinement_factor(a: &Array2<f64>, phi: &Array3<f64>, grid: &TimeGrid) -> usize {
    let mu = phi
        .outer_iter()
        .map(|p| frobenius(&a.dot(&p).view()))
        .fold(0.0f64, f64::max);
    ((mu * grid.dt()).ceil() as usize).clamp(1, 1000)
}

/// Independent boundary residuals (see [`LqEquilibrium::residual_initial`] and
/// [`LqEquilibrium::residual_terminal`]) of stacked paths on `grid`: `phi` (levels, d, d),
/// `mean` and `h` (levels, p·d), `w` the p×p averaging matrix, `mean0` the given stacked
/// initial means. Returns (residual_initial, residual_terminal).
#[allow(clippy::too_many_arguments)]
pub(crate) fn boundary_residuals(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
    w: &Array2<f64>,
    grid: &TimeGrid,
    phi: &Array3<f64>,
    mean: &Array2<f64>,
    h: &Array2<f64>,
    mean0: &Array1<f64>,
) -> Result<(f64, f64)> {
    let d = a.nrows();
    let p = w.nrows();
    let n = p * d;
    let dd = d * d;
    let steps = grid.steps;
    let scale = mean
        .iter()
        .chain(h.iter())
        .fold(1.0f64, |m, v| m.max(v.abs()));
    let max_diff = |x: &[f64], y: ArrayView1<f64>| {
        x.iter()
            .zip(y.iter())
            .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()))
    };

    // Coupled right-hand side on [φ | H | M] (stacked by population).
    let mut work = vec![0.0; dd];
    let mut rhs = move |y: &[f64], dy: &mut [f64]| {
        let (dphi, drest) = dy.split_at_mut(dd);
        riccati_rhs(a, q, &y[..dd], dphi, &mut work);
        let ph = mat(&y[..dd], d, d);
        let hs = &y[dd..dd + n];
        let ms = &y[dd + n..];
        for k in 0..p {
            let hk = ArrayView1::from(&hs[k * d..(k + 1) * d]);
            let mk = ArrayView1::from(&ms[k * d..(k + 1) * d]);
            let mut rho = Array1::<f64>::zeros(d);
            for j in 0..p {
                if w[[k, j]] != 0.0 {
                    rho.scaled_add(w[[k, j]], &ArrayView1::from(&ms[j * d..(j + 1) * d]));
                }
            }
            let ah = a.dot(&hk);
            let dh = q.dot(&rho) - ph.dot(&ah);
            let dm = a.dot(&(ph.dot(&mk) + hk));
            drest[k * d..(k + 1) * d].copy_from_slice(dh.as_slice().expect("contiguous"));
            drest[n + k * d..n + (k + 1) * d].copy_from_slice(dm.as_slice().expect("contiguous"));
        }
    };

    // Forward: means carried from the given initial values; φ and h restarted.
    let mut y = vec![0.0; dd + 2 * n];
    for (t, v) in y[dd + n..].iter_mut().zip(mean0.iter()) {
        *t = *v;
    }
    let mut res_init = max_diff(&y[dd + n..], mean.row(0));
    integrate_levels(
        grid,
        Direction::Forward,
        &mut y,
        OdeOptions::default(),
        |l, y| {
            y[..dd].copy_from_slice(
                phi.slice(ndarray::s![l, .., ..])
                    .as_slice()
                    .expect("contiguous"),
            );
            y[dd..dd + n].copy_from_slice(h.row(l).as_slice().expect("contiguous"));
        },
        |_, _t, y, dy| rhs(y, dy),
        |l, y| res_init = res_init.max(max_diff(&y[dd + n..], mean.row(l))),
    )
    .map_err(|f| non_finite("lq", f, 0))?;

    // Backward: h carried from the terminal condition; φ and means restarted.
    let mut y = vec![0.0; dd + 2 * n];
    let mut h_end = vec![0.0; n];
    for k in 0..p {
        let mut rho = Array1::<f64>::zeros(d);
        for j in 0..p {
            rho.scaled_add(
                w[[k, j]],
                &mean.slice(ndarray::s![steps, j * d..(j + 1) * d]),
            );
        }
        h_end[k * d..(k + 1) * d].copy_from_slice((-s.dot(&rho)).as_slice().expect("contiguous"));
    }
    y[dd..dd + n].copy_from_slice(&h_end);
    let mut res_term = max_diff(&h_end, h.row(steps));
    integrate_levels(
        grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |l, y| {
            y[..dd].copy_from_slice(
                phi.slice(ndarray::s![l, .., ..])
                    .as_slice()
                    .expect("contiguous"),
            );
            y[dd + n..].copy_from_slice(mean.row(l).as_slice().expect("contiguous"));
        },
        |_, _t, y, dy| rhs(y, dy),
        |l, y| res_term = res_term.max(max_diff(&y[dd..dd + n], h.row(l))),
    )
    .map_err(|f| non_finite("lq", f, 0))?;
    Ok((res_init / scale, res_term / scale))
}

/// Every `r`-th level of a path (levels along axis 0).
pub(crate) fn subsample2(x: &Array2<f64>, r: usize) -> Array2<f64> {
    x.slice(ndarray::s![..;r, ..]).to_owned()
}

/// Every `r`-th level of a matrix path.
pub(crate) fn subsample3(x: &Array3<f64>, r: usize) -> Array3<f64> {
    x.slice(ndarray::s![..;r, .., ..]).to_owned()
}
