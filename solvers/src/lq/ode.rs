//! Adaptive Dormand–Prince 5(4) integration of ODE systems on flat `f64` states, and a
//! driver that walks a [`TimeGrid`] level by level in either direction.
//!
//! Method: the explicit embedded Runge–Kutta pair of Dormand & Prince (1980), 7 stages with
//! the FSAL property; the 5th-order solution is propagated (local extrapolation) and the
//! difference to the embedded 4th-order solution estimates the local error. A step is
//! accepted when, for every component i,
//!
//! ```text
//!   |err_i| ≤ atol + rtol · max(|y_i|, |y_new_i|)
//! ```
//!
//! (a max-norm, so no component is diluted by others), and the next step is
//! h·clamp(0.9·err^(−1/5), 0.2, 5). The integrator never steps over the end of an output
//! interval: every output level is hit exactly, and the right-hand side is smooth inside
//! each interval (target paths are interpolated linearly *between* levels), so kinks at
//! levels cost nothing. The accepted step size is carried from one interval to the next.
//!
//! Accuracy: with the defaults rtol = 1e-12, atol = 1e-13 the global error measured
//! against closed forms (tests of [`mod@crate::lq::riccati`], [`crate::lq::heuristic`]) is a
//! few 1e-13 relative, including horizons T = 50 integrated in the stable direction; the
//! brief's target is ≤ 1e-11.

use super::TimeGrid;
use crate::grid::MAX_DIM;

/// Tolerances and limits of [`Dopri5`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OdeOptions {
    /// Relative tolerance of the local error (per component).
    pub rtol: f64,
    /// Absolute tolerance of the local error (per component).
    pub atol: f64,
    /// Most steps (accepted + rejected) one call of [`Dopri5::integrate`] may take.
    pub max_steps: usize,
}

impl Default for OdeOptions {
    fn default() -> Self {
        OdeOptions {
            rtol: 1e-12,
            atol: 1e-13,
            max_steps: 2_000_000,
        }
    }
}

/// Why an integration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdeFailure {
    /// The state or a stage was not finite and smaller steps did not help.
    NonFinite,
    /// The step size fell below round-off of t (typically a finite-time blow-up).
    StepSizeUnderflow,
    /// More than [`OdeOptions::max_steps`] steps in one interval.
    TooManySteps,
}

/// An [`OdeFailure`] located at the time level the failing interval was heading to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelFailure {
    /// Target level of the failing interval.
    pub level: usize,
    /// What went wrong.
    pub kind: OdeFailure,
}

/// Direction of a sweep over the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From t_0 to t_steps.
    Forward,
    /// From t_steps down to t_0.
    Backward,
}

// Dormand–Prince 5(4) coefficients (Hairer, Nørsett & Wanner, Table II.5.2).
const C: [f64; 7] = [0.0, 0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
const A2: [f64; 1] = [0.2];
const A3: [f64; 2] = [3.0 / 40.0, 9.0 / 40.0];
const A4: [f64; 3] = [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0];
const A5: [f64; 4] = [
    19372.0 / 6561.0,
    -25360.0 / 2187.0,
    64448.0 / 6561.0,
    -212.0 / 729.0,
];
const A6: [f64; 5] = [
    9017.0 / 3168.0,
    -355.0 / 33.0,
    46732.0 / 5247.0,
    49.0 / 176.0,
    -5103.0 / 18656.0,
];
// 5th-order weights (= the 7th stage's row, FSAL).
const B: [f64; 6] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
];
// b5 − b4 (error weights, 7 stages).
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// Adaptive Dormand–Prince 5(4) integrator for y' = f(t, y), y ∈ Rⁿ stored flat.
/// Integrates forward or backward in time (t1 < t0 is allowed).
#[derive(Debug, Clone)]
pub struct Dopri5 {
    opts: OdeOptions,
    k: [Vec<f64>; 7],
    ytmp: Vec<f64>,
    ynew: Vec<f64>,
    h_next: Option<f64>,
    /// Accepted steps so far (statistics).
    pub accepted: usize,
    /// Rejected steps so far (statistics).
    pub rejected: usize,
}

impl Dopri5 {
    /// An integrator for states of length `dim`.
    pub fn new(dim: usize, opts: OdeOptions) -> Self {
        Dopri5 {
            opts,
            k: std::array::from_fn(|_| vec![0.0; dim]),
            ytmp: vec![0.0; dim],
            ynew: vec![0.0; dim],
            h_next: None,
            accepted: 0,
            rejected: 0,
        }
    }

    /// Forgets the carried step size (the next call chooses a starting step afresh).
    pub fn reset_step(&mut self) {
        self.h_next = None;
    }

    fn resize(&mut self, n: usize) {
        if self.ytmp.len() != n {
            for k in self.k.iter_mut() {
                k.resize(n, 0.0);
            }
            self.ytmp.resize(n, 0.0);
            self.ynew.resize(n, 0.0);
            self.h_next = None;
        }
    }

    fn scale(&self, y: f64) -> f64 {
        self.opts.atol + self.opts.rtol * y.abs()
    }

    /// Hairer's starting-step heuristic (RMS norms).
    #[allow(clippy::needless_range_loop)] // several arrays indexed in step
    fn initial_step<F>(&mut self, f: &mut F, t0: f64, y: &[f64], span: f64) -> f64
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let n = y.len().max(1) as f64;
        let dir = span.signum();
        let (mut d0, mut d1) = (0.0, 0.0);
        for (yi, fi) in y.iter().zip(&self.k[0]) {
            let sc = self.scale(*yi);
            d0 += (yi / sc).powi(2);
            d1 += (fi / sc).powi(2);
        }
        let (d0, d1) = ((d0 / n).sqrt(), (d1 / n).sqrt());
        let mut h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        };
        h0 = h0.min(span.abs());
        for i in 0..y.len() {
            self.ytmp[i] = y[i] + dir * h0 * self.k[0][i];
        }
        let (k0, rest) = self.k.split_at_mut(1);
        let (k0, k1) = (&k0[0], &mut rest[0]);
        f(t0 + dir * h0, &self.ytmp, k1);
        let mut d2 = 0.0;
        for i in 0..y.len() {
            let sc = self.opts.atol + self.opts.rtol * y[i].abs();
            d2 += ((k1[i] - k0[i]) / sc).powi(2);
        }
        let d2 = (d2 / n).sqrt() / h0;
        let dm = d1.max(d2);
        let h1 = if !dm.is_finite() {
            h0 * 1e-3
        } else if dm <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / dm).powf(0.2)
        };
        (100.0 * h0).min(h1).min(span.abs())
    }

    /// Integrates y' = f(t, y) from `t0` to `t1` in place. `f(t, y, dy)` writes dy.
    /// Lands exactly on `t1`; keeps the last accepted step size for the next call.
    #[allow(clippy::needless_range_loop)] // several arrays indexed in step
    pub fn integrate<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), OdeFailure>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let n = y.len();
        self.resize(n);
        if t1 == t0 {
            return Ok(());
        }
        if y.iter().any(|v| !v.is_finite()) {
            return Err(OdeFailure::NonFinite);
        }
        let span = t1 - t0;
        let dir = span.signum();
        f(t0, y, &mut self.k[0]);
        if self.k[0].iter().any(|v| !v.is_finite()) {
            return Err(OdeFailure::NonFinite);
        }
        let mut h = match self.h_next {
            Some(h) => h.min(span.abs()),
            None => self.initial_step(f, t0, y, span),
        };
        let mut t = t0;
        let mut steps = 0usize;
        let mut after_reject = false;
        let mut saw_non_finite = false;
        loop {
            let remaining = (t1 - t).abs();
            let last = h >= remaining;
            let hs = if last { remaining } else { h };
            let hd = dir * hs;
            // Stages 2..7.
            let rows: [&[f64]; 6] = [&A2, &A3, &A4, &A5, &A6, &B];
            for (s, row) in rows.iter().enumerate() {
                let stage = s + 1;
                for i in 0..n {
                    let mut acc = 0.0;
                    for (j, aij) in row.iter().enumerate() {
                        acc += aij * self.k[j][i];
                    }
                    self.ytmp[i] = y[i] + hd * acc;
                }
                if stage == 6 {
                    self.ynew.copy_from_slice(&self.ytmp);
                }
                let tail = &mut self.k[stage];
                f(t + C[stage] * hd, &self.ytmp, tail);
            }
            // Error estimate (max-norm).
            let mut err: f64 = 0.0;
            let mut finite = true;
            for i in 0..n {
                let mut e = 0.0;
                for (j, ej) in E.iter().enumerate() {
                    e += ej * self.k[j][i];
                }
                e *= hd;
                let yn = self.ynew[i];
                if !yn.is_finite() || !e.is_finite() || !self.k[6][i].is_finite() {
                    finite = false;
                    break;
                }
                let sc = self.opts.atol + self.opts.rtol * y[i].abs().max(yn.abs());
                err = err.max(e.abs() / sc);
            }
            steps += 1;
            if steps > self.opts.max_steps {
                return Err(OdeFailure::TooManySteps);
            }
            if finite && err <= 1.0 {
                self.accepted += 1;
                y.copy_from_slice(&self.ynew);
                let (k0, rest) = self.k.split_at_mut(1);
                k0[0].copy_from_slice(&rest[5]);
                let mut fac = if err == 0.0 {
                    5.0
                } else {
                    (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
                };
                if after_reject {
                    fac = fac.min(1.0);
                }
                if last {
                    // A shortened final step must not shrink the carried step size.
                    let proposal = if hs < h && fac >= 1.0 { h } else { hs * fac };
                    self.h_next = Some(proposal);
                    return Ok(());
                }
                t += hd;
                h = hs * fac;
                after_reject = false;
            } else {
                self.rejected += 1;
                saw_non_finite |= !finite;
                let fac = if finite {
                    (0.9 * err.powf(-0.2)).clamp(0.2, 1.0)
                } else {
                    0.2
                };
                h = hs * fac;
                after_reject = true;
                let floor = 16.0 * f64::EPSILON * t.abs().max(t1.abs()).max(span.abs());
                if h <= floor {
                    return Err(if saw_non_finite {
                        OdeFailure::NonFinite
                    } else {
                        OdeFailure::StepSizeUnderflow
                    });
                }
            }
        }
    }
}

/// Walks `grid` interval by interval in `direction`, integrating `y` with one [`Dopri5`].
///
/// Forward: for n = 0..steps, `before(n, y)`, integrate [t_n → t_{n+1}], `after(n+1, y)`.
/// Backward: for n = steps−1 down to 0, `before(n+1, y)`, integrate [t_{n+1} → t_n],
/// `after(n, y)`. `rhs(n, t, y, dy)` receives the index n of the interval [t_n, t_{n+1}]
/// being integrated, so piecewise data (linear interpolation between levels) is exact.
/// `before` may overwrite parts of the state (restarts, transition matrices reset to I).
/// The caller stores the state at the starting level itself.
pub fn integrate_levels<B, F, A>(
    grid: &TimeGrid,
    direction: Direction,
    y: &mut [f64],
    opts: OdeOptions,
    mut before: B,
    mut rhs: F,
    mut after: A,
) -> Result<(), LevelFailure>
where
    B: FnMut(usize, &mut [f64]),
    F: FnMut(usize, f64, &[f64], &mut [f64]),
    A: FnMut(usize, &[f64]),
{
    let mut ode = Dopri5::new(y.len(), opts);
    let steps = grid.steps;
    for i in 0..steps {
        let (n, from, to) = match direction {
            Direction::Forward => (i, i, i + 1),
            Direction::Backward => (steps - 1 - i, steps - i, steps - 1 - i),
        };
        before(from, y);
        let mut f = |t: f64, y: &[f64], dy: &mut [f64]| rhs(n, t, y, dy);
        ode.integrate(&mut f, grid.t(from), grid.t(to), y)
            .map_err(|kind| LevelFailure { level: to, kind })?;
        after(to, y);
    }
    Ok(())
}

/// A d×d matrix (d ≤ [`MAX_DIM`]) padded with zeros: the state of [`rk4_step_small`].
pub(crate) type Small = [[f64; MAX_DIM]; MAX_DIM];

/// The product ab of two [`Small`] matrices (every entry summed over all padded columns
/// from 0.0, in index order).
pub(crate) fn mm_small(a: &Small, b: &Small) -> Small {
    let mut c = [[0.0; MAX_DIM]; MAX_DIM];
    for i in 0..MAX_DIM {
        for k in 0..MAX_DIM {
            for j in 0..MAX_DIM {
                c[i][j] += a[i][k] * b[k][j];
            }
        }
    }
    c
}

/// a + s·b.
fn axpy_small(a: &Small, s: f64, b: &Small) -> Small {
    let mut c = *a;
    for i in 0..MAX_DIM {
        for j in 0..MAX_DIM {
            c[i][j] += s * b[i][j];
        }
    }
    c
}

/// One step of the classical fourth-order Runge–Kutta method for y' = f(t, y) on a
/// [`Small`] matrix, of signed size `h` (negative: backward in t):
///
/// ```text
///   k1 = f(0, y),  k2 = f(1, y + h/2 k1),  k3 = f(2, y + h/2 k2),  k4 = f(3, y + h k3),
///   y ← y + h/6 (k1 + 2k2 + 2k3 + k4).
/// ```
///
/// `f(stage, y)` evaluates the right-hand side at the stage's time: stage 0 at t, 1 and 2
/// at t + h/2, 3 at t + h (so time-dependent coefficients are read per stage). The fixed
/// step has no error control: the caller sizes h from the problem's rates.
pub(crate) fn rk4_step_small(y: &mut Small, h: f64, mut f: impl FnMut(usize, &Small) -> Small) {
    let k1 = f(0, y);
    let k2 = f(1, &axpy_small(y, 0.5 * h, &k1));
    let k3 = f(2, &axpy_small(y, 0.5 * h, &k2));
    let k4 = f(3, &axpy_small(y, h, &k3));
    for i in 0..MAX_DIM {
        for j in 0..MAX_DIM {
            y[i][j] += h / 6.0 * (k1[i][j] + 2.0 * k2[i][j] + 2.0 * k3[i][j] + k4[i][j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y' = λ y (forward, decaying) against exp: relative error ≤ 1e-11 while rtol rules
    /// (measured 1.0e-12 at t = 1), absolute ≤ 1e-13 once y is below atol/rtol.
    #[test]
    fn exponential_decay_forward() {
        for (t_end, rel_tol, abs_tol) in [(1.0f64, 1e-11, 1.0), (3.0, 1.0, 1e-13)] {
            let mut ode = Dopri5::new(1, OdeOptions::default());
            let mut y = [1.0];
            let mut f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = -3.0 * y[0];
            ode.integrate(&mut f, 0.0, t_end, &mut y).unwrap();
            let exact = (-3.0 * t_end).exp();
            let err = (y[0] - exact).abs();
            assert!(
                err / exact < rel_tol && err < abs_tol,
                "t = {t_end}: {} vs {exact}",
                y[0]
            );
        }
    }

    /// Harmonic oscillator integrated backward over many periods: energy-free check
    /// against cos/sin, global error below 1e-10.
    #[test]
    fn oscillator_backward_hits_levels() {
        let grid = TimeGrid::new(20.0, 37).unwrap();
        let mut y = vec![1.0, 0.0]; // (x, v) at t = 20: x = cos(t − 20)
        let mut worst: f64 = 0.0;
        integrate_levels(
            &grid,
            Direction::Backward,
            &mut y,
            OdeOptions::default(),
            |_, _| {},
            |_, _t, y, dy| {
                dy[0] = y[1];
                dy[1] = -y[0];
            },
            |n, y| {
                let s = grid.t(n) - 20.0;
                worst = worst
                    .max((y[0] - s.cos()).abs())
                    .max((y[1] + s.sin()).abs());
            },
        )
        .unwrap();
        assert!(worst < 1e-10, "worst error {worst:e}");
    }

    /// A finite-time blow-up y' = y² (y(0)=1, blows up at t=1) is reported, not looped on.
    #[test]
    fn blow_up_is_reported() {
        let mut ode = Dopri5::new(1, OdeOptions::default());
        let mut y = [1.0];
        let mut f = |_t: f64, y: &[f64], dy: &mut [f64]| dy[0] = y[0] * y[0];
        let err = ode.integrate(&mut f, 0.0, 2.0, &mut y).unwrap_err();
        assert!(matches!(
            err,
            OdeFailure::NonFinite | OdeFailure::StepSizeUnderflow | OdeFailure::TooManySteps
        ));
    }
}
