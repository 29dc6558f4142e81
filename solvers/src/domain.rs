//! Automatic domain of a model ([`Grid::auto`]).
//!
//! The PDE pair of docs/design.md §1 is linear-quadratic, so whatever the target path ρ, the
//! covariance of every population's density solves the closed-loop Lyapunov ODE
//!
//!   Σ' = AφΣ + ΣφA + σ²I,  Σ(0) = C_k,   with φ' = −φAφ − Q, φ(T) = S   (eq. (15))
//!
//! (ρ enters only the mean). [`Grid::auto`] integrates these small ODEs (classical RK4 with
//! a fixed step chosen from the stiffness bound ‖A‖(‖S‖ + T‖Q‖); the Riccati equation by the
//! LQ oracle's fixed-step entry point of [`mod@crate::lq::riccati`]), takes per axis the
//! largest standard deviation `s_i = max_k max_{t∈[0,T]} Σ_k,ii(t)^{1/2}`, and sets
//!
//!   lo_i = min_k m̄_k,i(0) − κ s_i,   hi_i = max_k m̄_k,i(0) + κ s_i,
//!
//! with κ = [`crate::grid::DEFAULT_STD_MULTIPLE`] = 6 unless told otherwise. Means of a single
//! population are constant at equilibrium (docs/design.md §3); for several populations the means
//! move towards each other (consensus), inside the hull of the initial means up to small
//! overshoots, which the κ-standard-deviation margin covers. A Gaussian puts less than
//! 1e-9 of its mass beyond 6 standard deviations on one side, so the mass reaching the
//! reflecting boundary is negligible ([`crate::grid::Moments::boundary_mass`] reports it).

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use crate::error::{Param, Result, SolverError};
use crate::grid::{broadcast_points, Grid, MAX_DIM};
use crate::linalg::frobenius;
use crate::lq::ode::{mm_small, rk4_step_small, Small};
use crate::lq::riccati::riccati_fixed_step;
use crate::model::Model;
use ndarray::Array2;

impl Grid {
    /// Automatic box from the model's populations (rule in the module docs):
    /// `[min_k m̄_k,i − κ s_i, max_k m̄_k,i + κ s_i]` with `s_i` the largest standard
    /// deviation along axis i over populations and time of the exact LQ covariance ODE,
    /// κ = `std_multiple` (use [`crate::grid::DEFAULT_STD_MULTIPLE`]).
    pub fn auto(model: &Model, points: &[usize], std_multiple: f64) -> Result<Self> {
        let d = model.dim();
        if d > MAX_DIM {
            return Err(SolverError::invalid(
                Param::Points,
                format!("grids have at most {MAX_DIM} axes; the model has {d}"),
            ));
        }
        if !(std_multiple.is_finite() && std_multiple > 0.0) {
            return Err(SolverError::invalid(
                Param::Domain,
                format!(
                    "the margin in standard deviations must be finite and > 0, got {std_multiple}"
                ),
            ));
        }
        let pts = broadcast_points(points, d)?;
        let var = lq_variance_bound(model);
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for pop in &model.populations {
            for i in 0..d {
                lo[i] = lo[i].min(pop.mean[i]);
                hi[i] = hi[i].max(pop.mean[i]);
            }
        }
        for i in 0..d {
            let s = var[i].sqrt();
            if !(s.is_finite() && s > 0.0) {
                return Err(SolverError::invalid(
                    Param::Domain,
                    format!(
                        "could not bound the spread along axis {} (got {s}); give explicit bounds",
                        i + 1
                    ),
                ));
            }
            lo[i] -= std_multiple * s;
            hi[i] += std_multiple * s;
        }
        Grid::from_bounds(&lo, &hi, &pts)
    }
}

fn to_small(a: &Array2<f64>) -> Small {
    let mut m = [[0.0; MAX_DIM]; MAX_DIM];
    for ((i, j), v) in a.indexed_iter() {
        m[i][j] = *v;
    }
    m
}

/// Per axis, max over populations and t ∈ [0, T] of the exact closed-loop variance
/// Σ_ii(t): Riccati φ backward ([`mod@crate::lq::riccati`]'s fixed-step RK4 on the half-step
/// grid), then Lyapunov Σ forward with the same RK4 (module docs).
fn lq_variance_bound(model: &Model) -> Vec<f64> {
    let d = model.dim();
    let (a, q, s) = (to_small(&model.a), to_small(&model.q), to_small(&model.s));
    let t = model.horizon;
    // φ ≤ S + TQ (zero control is admissible), so the linearised rates are ≤ 2‖A‖‖φ‖.
    let rate = 2.0 * frobenius(&model.a) * (frobenius(&model.s) + t * frobenius(&model.q));
    let steps = ((4.0 * t * rate).ceil() as usize).clamp(256, 100_000);
    let dt = t / steps as f64;
    // φ on the 2·steps half-step grid, index k ↔ time k·dt/2.
    let phi = riccati_fixed_step(&a, &q, &s, 0.5 * dt, 2 * steps);
    let sig2 = model.sigma * model.sigma;
    // dΣ/dt = AφΣ + ΣφA + σ²I.
    let rhs_cov = |c: &Small, ph: &Small| {
        let ap = mm_small(&a, ph);
        let mut r = mm_small(&ap, c);
        let rt = mm_small(c, &mm_small(ph, &a));
        for i in 0..MAX_DIM {
            for j in 0..MAX_DIM {
                r[i][j] += rt[i][j];
            }
        }
        for (i, row) in r.iter_mut().enumerate().take(d) {
            row[i] += sig2;
        }
        r
    };
    let mut var = vec![0.0f64; d];
    for pop in &model.populations {
        let mut c = to_small(&pop.cov);
        for i in 0..d {
            var[i] = var[i].max(c[i][i]);
        }
        for n in 0..steps {
            // φ at the stages' times t_n, t_n + dt/2 (twice), t_n + dt.
            let at = [
                &phi[2 * n],
                &phi[2 * n + 1],
                &phi[2 * n + 1],
                &phi[2 * n + 2],
            ];
            rk4_step_small(&mut c, dt, |stage, y| rhs_cov(y, at[stage]));
            for i in 0..d {
                var[i] = var[i].max(c[i][i]);
            }
        }
    }
    var
}
