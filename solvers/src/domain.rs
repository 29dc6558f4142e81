//! Automatic domain of a model ([`Grid::auto`]).
//!
//! The PDE pair of docs/design.md §1 is linear-quadratic, so whatever the target path ρ, the
//! covariance of every population's density solves the closed-loop Lyapunov ODE
//!
//!   Σ' = AφΣ + ΣφA + σ²I,  Σ(0) = C_k,   with φ' = −φAφ − Q, φ(T) = S   (eq. (15))
//!
//! (ρ enters only the mean). [`Grid::auto`] integrates these small ODEs (RK4, step count
//! chosen from the stiffness bound ‖A‖(‖S‖ + T‖Q‖)), takes per axis the largest standard
//! deviation `s_i = max_k max_{t∈[0,T]} Σ_k,ii(t)^{1/2}`, and sets
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

type M3 = [[f64; MAX_DIM]; MAX_DIM];

fn mm(a: &M3, b: &M3) -> M3 {
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

fn axpy(a: &M3, s: f64, b: &M3) -> M3 {
    let mut c = *a;
    for i in 0..MAX_DIM {
        for j in 0..MAX_DIM {
            c[i][j] += s * b[i][j];
        }
    }
    c
}

fn to_m3(a: &Array2<f64>) -> M3 {
    let mut m = [[0.0; MAX_DIM]; MAX_DIM];
    for ((i, j), v) in a.indexed_iter() {
        m[i][j] = *v;
    }
    m
}

/// Per axis, max over populations and t ∈ [0, T] of the exact closed-loop variance
/// Σ_ii(t): Riccati φ backward then Lyapunov Σ forward, both RK4 (module docs).
fn lq_variance_bound(model: &Model) -> Vec<f64> {
    let d = model.dim();
    let (a, q, s) = (to_m3(&model.a), to_m3(&model.q), to_m3(&model.s));
    let t = model.horizon;
    // φ ≤ S + TQ (zero control is admissible), so the linearised rates are ≤ 2‖A‖‖φ‖.
    let rate = 2.0 * frobenius(&model.a) * (frobenius(&model.s) + t * frobenius(&model.q));
    let steps = ((4.0 * t * rate).ceil() as usize).clamp(256, 100_000);
    let dt = t / steps as f64;
    // φ on the 2·steps half-step grid, index k ↔ time k·dt/2.
    let rhs_phi = |p: &M3| axpy(&mm(&mm(p, &a), p), 1.0, &q); // dφ/dτ = φAφ + Q, τ = T − t
    let mut phi = vec![[[0.0; MAX_DIM]; MAX_DIM]; 2 * steps + 1];
    let mut p = s;
    phi[2 * steps] = p;
    let hh = 0.5 * dt;
    for k in (0..2 * steps).rev() {
        let k1 = rhs_phi(&p);
        let k2 = rhs_phi(&axpy(&p, 0.5 * hh, &k1));
        let k3 = rhs_phi(&axpy(&p, 0.5 * hh, &k2));
        let k4 = rhs_phi(&axpy(&p, hh, &k3));
        for i in 0..MAX_DIM {
            for j in 0..MAX_DIM {
                p[i][j] += hh / 6.0 * (k1[i][j] + 2.0 * k2[i][j] + 2.0 * k3[i][j] + k4[i][j]);
            }
        }
        phi[k] = p;
    }
    let sig2 = model.sigma * model.sigma;
    let rhs_cov = |c: &M3, ph: &M3| {
        let ap = mm(&a, ph);
        let mut r = mm(&ap, c);
        let rt = mm(c, &mm(ph, &a));
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
        let mut c = to_m3(&pop.cov);
        for i in 0..d {
            var[i] = var[i].max(c[i][i]);
        }
        for n in 0..steps {
            let (p0, pm, p1) = (&phi[2 * n], &phi[2 * n + 1], &phi[2 * n + 2]);
            let k1 = rhs_cov(&c, p0);
            let k2 = rhs_cov(&axpy(&c, 0.5 * dt, &k1), pm);
            let k3 = rhs_cov(&axpy(&c, 0.5 * dt, &k2), pm);
            let k4 = rhs_cov(&axpy(&c, dt, &k3), p1);
            for i in 0..MAX_DIM {
                for j in 0..MAX_DIM {
                    c[i][j] += dt / 6.0 * (k1[i][j] + 2.0 * k2[i][j] + 2.0 * k3[i][j] + k4[i][j]);
                }
            }
            for i in 0..d {
                var[i] = var[i].max(c[i][i]);
            }
        }
    }
    var
}
