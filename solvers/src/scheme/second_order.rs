//! The second-order scheme (docs/design.md §4.5): Crank–Nicolson in time with the drift
//! frozen at the half step, central differences for the drift where the cell Péclet
//! number allows, approximate factorisation across axes, and the FPK as the exact
//! transpose of the HJI's linear step.
//!
//! *One backward step* (level n+1 → n, dt = T/N, a = dt/2):
//!
//! 1. gradient p at every node from v^{n+1} (centred inside, one-sided on the boundary),
//!    extrapolated to the half step, p* = 1.5 p(v^{n+1}) − 0.5 p(v^{n+2})
//!    (p(v^N) on the first step);
//! 2. frozen drift b* = b(p*) and control cost ℓ* = ℓ(p*) (solvers/src/scheme/pointwise.rs).
//!    With b frozen, b*·p + ℓ* differs from H(p) by a term quadratic in p − p* (½δpᵀAδp
//!    for the quadratic Hamiltonian: the envelope property), so the source is second order;
//! 3. one-axis generators L_i = b*_i D_i + σ²/2 D_ii: D_i central where the cell Péclet
//!    number |b*_i| h_i/(σ²/2) ≤ 2 (off-diagonals σ²/2h² ± b/2h ≥ 0), upwind elsewhere;
//!    reflecting boundary (couplings out of the grid dropped, rows sum to zero);
//! 4. approximate factorisation of Crank–Nicolson,
//!
//!    ```text
//!    (I − aL_0)⋯(I − aL_{d−1}) v^n = (I + aL_0)⋯(I + aL_{d−1}) v^{n+1}
//!                                     + dt (ℓ* + ½(f^n + f^{n+1})),
//!    ```
//!
//!    whose splitting error a²L_iL_k(v^n − v^{n+1}) is O(dt³) per step; tridiagonal line
//!    solves. The linear part is S_n = P₋⁻¹P₊ with P± the products above.
//!
//! *FPK.* m^{n+1} = S_nᵀ m^n = P₊ᵀ P₋⁻ᵀ m^n: the transposed implicit factors in reverse
//! order (axis d−1 first), then the transposed explicit factors (axis 0 first), with the
//! coefficients rebuilt bit-identically from the stored v^{n+1}, v^{n+2}. Every L_i has
//! zero row sums, so S_n 1 = 1 and mass is conserved to round-off. Positivity is not
//! guaranteed (the explicit half has a negative diagonal when a(|b|/h + σ²/h²) > 1);
//! the sweep reports the most negative density, where and when, and the negative mass
//! ([`NegativeDensity`]).
//!
//! *Determinism.* Coefficients are computed node by node (in chunks of `CHUNK` nodes
//! whose multi-indices are advanced node by node, not divided out), every line by the same
//! recurrence whatever its task (`super::lines`), the moments by [`Grid::moments`]
//! (fixed-order reduction): bit-identical for any thread count.

use super::lines::{self, Op};
use super::pointwise::Physics;
use super::{NegativeDensity, TimeStepper};
use crate::error::{Param, Result, SolverError};
use crate::grid::{Grid, MAX_DIM};
use crate::model::Model;
use crate::sweep::{FpkSummary, HjiSolution, TimeStepping};
use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Nodes per task of the pointwise passes (fixed, so the work split is thread-independent).
const CHUNK: usize = 1024;

/// The second-order HJI/FPK time stepper on one grid.
#[derive(Debug, Clone)]
pub struct SecondOrder {
    grid: Grid,
    time: TimeStepping,
    phys: Physics,
    diff: f64,
    /// Node coordinates per axis.
    nodes: Vec<Vec<f64>>,
    /// Per node: b*_0 … b*_{d−1}, ℓ* (interleaved, d+1 values per node).
    drift: Vec<f64>,
    /// Generator coefficients of each axis (lower and upper couplings per node).
    lo: Vec<Vec<f64>>,
    up: Vec<Vec<f64>>,
    density: Vec<f64>,
    policy: Option<HjiSolution>,
    interrupt: Option<Arc<AtomicBool>>,
    negative: Option<NegativeDensity>,
}

impl SecondOrder {
    /// Validates the model's coefficients against the grid and allocates the workspace.
    /// `steps ≥ 1` (`Param::Steps`).
    pub fn new(model: &Model, grid: &Grid, steps: usize) -> Result<Self> {
        if model.dim() != grid.dim() {
            return Err(SolverError::invalid(
                Param::Drift,
                format!(
                    "expected a {d}×{d} matrix (one row per grid axis), got {}×{}",
                    model.a.nrows(),
                    model.a.ncols(),
                    d = grid.dim()
                ),
            ));
        }
        if steps == 0 {
            return Err(SolverError::invalid(
                Param::Steps,
                "need at least 1 time step",
            ));
        }
        let d = grid.dim();
        let n = grid.len();
        Ok(SecondOrder {
            grid: grid.clone(),
            time: TimeStepping {
                horizon: model.horizon,
                steps,
            },
            phys: Physics::new(model),
            diff: 0.5 * model.sigma * model.sigma,
            nodes: (0..d).map(|i| grid.axis(i).nodes().to_vec()).collect(),
            drift: vec![0.0; n * (d + 1)],
            lo: vec![vec![0.0; n]; d],
            up: vec![vec![0.0; n]; d],
            density: vec![0.0; n],
            policy: None,
            interrupt: None,
            negative: None,
        })
    }

    fn check_interrupt(&self) -> Result<()> {
        match &self.interrupt {
            Some(f) if f.load(Ordering::Relaxed) => Err(SolverError::Interrupted),
            _ => Ok(()),
        }
    }

    fn check_field(&self, field: &'static str, len: usize) -> Result<()> {
        if len != self.grid.len() {
            return Err(SolverError::invalid(
                Param::Argument(field),
                format!(
                    "expected {} values (one per grid node), got {len}",
                    self.grid.len()
                ),
            ));
        }
        Ok(())
    }

    /// Multi-index of flat node `q`.
    #[inline]
    fn index(&self, q: usize) -> [usize; MAX_DIM] {
        let mut idx = [0; MAX_DIM];
        let (shape, strides) = (self.grid.shape(), self.grid.strides());
        for i in 0..self.grid.dim() {
            idx[i] = (q / strides[i]) % shape[i];
        }
        idx
    }

    /// The multi-index of the next node in memory order (the last axis fastest).
    #[inline]
    fn advance(&self, idx: &mut [usize; MAX_DIM]) {
        let shape = self.grid.shape();
        for i in (0..self.grid.dim()).rev() {
            idx[i] += 1;
            if idx[i] < shape[i] {
                return;
            }
            idx[i] = 0;
        }
    }

    /// Discrete gradient of `v` at node `q` (multi-index `idx`): centred inside, one-sided
    /// on the boundary.
    #[inline]
    fn gradient(&self, v: &[f64], q: usize, idx: &[usize; MAX_DIM], out: &mut [f64; MAX_DIM]) {
        let (shape, strides) = (self.grid.shape(), self.grid.strides());
        for i in 0..self.grid.dim() {
            let (j, n, s) = (idx[i], shape[i], strides[i]);
            let h = self.grid.axis(i).spacing();
            out[i] = if j == 0 {
                (v[q + s] - v[q]) / h
            } else if j + 1 == n {
                (v[q] - v[q - s]) / h
            } else {
                (v[q + s] - v[q - s]) * (0.5 / h)
            };
        }
    }

    /// Gradient at the half step: 1.5 p(v1) − 0.5 p(v2), or p(v1) without v2.
    #[inline]
    fn half_step_gradient(
        &self,
        v1: &[f64],
        v2: Option<&[f64]>,
        q: usize,
        idx: &[usize; MAX_DIM],
    ) -> [f64; MAX_DIM] {
        let mut p = [0.0; MAX_DIM];
        self.gradient(v1, q, idx, &mut p);
        if let Some(v2) = v2 {
            let mut p2 = [0.0; MAX_DIM];
            self.gradient(v2, q, idx, &mut p2);
            for i in 0..self.grid.dim() {
                p[i] = 1.5 * p[i] - 0.5 * p2[i];
            }
        }
        p
    }

    /// Builds b*, ℓ* and the generator coefficients of the step from level `n + 1` to `n`
    /// from the stored value levels n+1 and n+2 (and the policy's, in policy evaluation).
    fn coefficients(&mut self, hji: &[f64], n: usize) {
        let n_pts = self.grid.len();
        let steps = self.time.steps;
        // Flat ranges of levels n+1 and n+2 (the latter absent on the first step).
        let level = |l: usize| (l <= steps).then(|| l * n_pts..(l + 1) * n_pts);
        let r1 = level(n + 1).expect("n < steps");
        let r2 = level(n + 2);
        let d = self.grid.dim();
        let mut drift = std::mem::take(&mut self.drift);
        {
            let this = &*self;
            let v1 = &hji[r1.clone()];
            let v2 = r2.clone().map(|r| &hji[r]);
            let pol = this.policy.as_ref().map(|p| p.values());
            let pol_slices = pol.as_ref().map(|p| {
                let all = p.as_slice().expect("policy values are contiguous");
                (&all[r1.clone()], r2.clone().map(|r| &all[r]))
            });
            drift
                .par_chunks_mut(CHUNK * (d + 1))
                .enumerate()
                .for_each(|(t, chunk)| {
                    let mut idx = this.index(t * CHUNK);
                    for (k, node) in chunk.chunks_mut(d + 1).enumerate() {
                        let q = t * CHUNK + k;
                        if k > 0 {
                            this.advance(&mut idx);
                        }
                        let p = this.half_step_gradient(v1, v2, q, &idx);
                        let pi = match pol_slices {
                            Some((p1, p2)) => this.half_step_gradient(p1, p2, q, &idx),
                            None => p,
                        };
                        let mut b = [0.0; MAX_DIM];
                        let ell = this.phys.drift(&p, &pi, &mut b);
                        node[..d].copy_from_slice(&b[..d]);
                        node[d] = ell;
                    }
                });
        }
        self.drift = drift;
        let diff = self.diff;
        for i in 0..d {
            let (n_i, stride) = (self.grid.shape()[i], self.grid.strides()[i]);
            let h = self.grid.axis(i).spacing();
            let dh2 = diff / (h * h);
            let drift = &self.drift;
            self.lo[i]
                .par_chunks_mut(CHUNK)
                .zip(self.up[i].par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(t, (lo, up))| {
                    // Node q = t·CHUNK + k sits at position j = (q / stride) mod n_i on the
                    // axis and at offset (q mod stride) within its stride.
                    let q0 = t * CHUNK;
                    let (mut j, mut within) = ((q0 / stride) % n_i, q0 % stride);
                    for (k, (lo, up)) in lo.iter_mut().zip(up.iter_mut()).enumerate() {
                        let q = q0 + k;
                        if k > 0 {
                            within += 1;
                            if within == stride {
                                within = 0;
                                j += 1;
                                if j == n_i {
                                    j = 0;
                                }
                            }
                        }
                        let b = drift[q * (d + 1) + i];
                        let (l, u) = if b.abs() * h <= 2.0 * diff && diff > 0.0 {
                            let c = b * (0.5 / h);
                            (dh2 - c, dh2 + c)
                        } else {
                            let (bp, bm) = if b > 0.0 { (b, 0.0) } else { (0.0, -b) };
                            (dh2 + bm / h, dh2 + bp / h)
                        };
                        *lo = if j > 0 { l } else { 0.0 };
                        *up = if j + 1 < n_i { u } else { 0.0 };
                    }
                });
        }
    }

    fn view<'a>(grid: &Grid, x: &'a [f64]) -> ArrayViewD<'a, f64> {
        ArrayViewD::from_shape(IxDyn(grid.shape()), x).expect("field has the grid's size")
    }

    fn view_mut<'a>(grid: &Grid, x: &'a mut [f64]) -> ArrayViewMutD<'a, f64> {
        ArrayViewMutD::from_shape(IxDyn(grid.shape()), x).expect("field has the grid's size")
    }

    fn factor(&self, x: &mut [f64], axis: usize, op: Op, transpose: bool) {
        let a = 0.5 * self.time.dt();
        lines::apply(
            Self::view_mut(&self.grid, x),
            Self::view(&self.grid, &self.lo[axis]),
            Self::view(&self.grid, &self.up[axis]),
            axis,
            op,
            transpose,
            a,
        );
    }

    /// x ← S x = P₋⁻¹ P₊ x with the current coefficients.
    fn linear_step(&self, x: &mut [f64]) {
        let d = self.grid.dim();
        for axis in (0..d).rev() {
            self.factor(x, axis, Op::Explicit, false);
        }
        self.implicit_part(x);
    }

    fn implicit_part(&self, x: &mut [f64]) {
        for axis in 0..self.grid.dim() {
            self.factor(x, axis, Op::Implicit, false);
        }
    }

    /// y ← Sᵀ y = P₊ᵀ P₋⁻ᵀ y with the current coefficients.
    fn linear_step_transpose(&self, y: &mut [f64]) {
        let d = self.grid.dim();
        for axis in (0..d).rev() {
            self.factor(y, axis, Op::Implicit, true);
        }
        for axis in 0..d {
            self.factor(y, axis, Op::Explicit, true);
        }
    }

    fn check_hji(&self, hji: &HjiSolution) -> Result<()> {
        if hji.values().dim() != (self.time.steps + 1, self.grid.len()) {
            return Err(SolverError::invalid(
                Param::Argument("hji"),
                "value function does not belong to this grid and time stepping",
            ));
        }
        Ok(())
    }

    /// Coordinates of the node with multi-index `idx`.
    #[inline]
    fn node_point(&self, idx: &[usize; MAX_DIM]) -> [f64; MAX_DIM] {
        let mut x = [0.0; MAX_DIM];
        for i in 0..self.grid.dim() {
            x[i] = self.nodes[i][idx[i]];
        }
        x
    }

    /// Tracks the most negative density and the negative mass of level `level`.
    fn record_negative(&mut self, level: usize) {
        let cell = self.grid.cell_volume();
        let mut worst = (0.0f64, usize::MAX);
        let mut neg_sum = 0.0;
        for (q, &m) in self.density.iter().enumerate() {
            if m < 0.0 {
                neg_sum -= m;
                if m < worst.0 {
                    worst = (m, q);
                }
            }
        }
        if worst.1 == usize::MAX {
            return;
        }
        let neg_mass = neg_sum * cell;
        let idx = self.index(worst.1);
        let x = self.node_point(&idx);
        let rec = self.negative.get_or_insert(NegativeDensity {
            min_value: 0.0,
            level,
            point: Vec::new(),
            negative_mass: 0.0,
            negative_mass_level: level,
        });
        if worst.0 < rec.min_value {
            rec.min_value = worst.0;
            rec.level = level;
            rec.point = x[..self.grid.dim()].to_vec();
        }
        if neg_mass > rec.negative_mass {
            rec.negative_mass = neg_mass;
            rec.negative_mass_level = level;
        }
    }
}

impl TimeStepper for SecondOrder {
    fn name(&self) -> &'static str {
        super::SchemeKind::SecondOrder.name()
    }

    fn grid(&self) -> &Grid {
        &self.grid
    }

    fn time(&self) -> TimeStepping {
        self.time
    }

    fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.interrupt = flag;
    }

    fn set_designer_policy(&mut self, policy: Option<HjiSolution>) -> Result<()> {
        if let Some(p) = &policy {
            if self.phys.controls.is_none() {
                return Err(SolverError::invalid(
                    Param::Controls,
                    "policy evaluation needs the control channels of the game",
                ));
            }
            if p.values().dim() != (self.time.steps + 1, self.grid.len()) {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    "policy does not belong to this grid and time stepping",
                ));
            }
        }
        self.phys.set_policy(policy.is_some());
        self.policy = policy;
        Ok(())
    }

    fn solve_hji_into(
        &mut self,
        rho: ndarray::ArrayView2<f64>,
        population: usize,
        out: &mut HjiSolution,
    ) -> Result<()> {
        let steps = self.time.steps;
        let d = self.grid.dim();
        let want = (steps + 1, d);
        if rho.dim() != want {
            return Err(SolverError::invalid(
                Param::Argument("rho"),
                format!(
                    "target path must have shape {want:?} (levels × axes), got {:?}",
                    rho.dim()
                ),
            ));
        }
        let n_pts = self.grid.len();
        let dt = self.time.dt();
        let nonfinite = |level| SolverError::NonFinite {
            stage: "HJI",
            level,
            population,
        };
        let values = out.prepare(&self.grid, steps, population);
        let rho_at = |n: usize| {
            let mut r = [0.0; MAX_DIM];
            for i in 0..d {
                r[i] = rho[[n, i]];
            }
            r
        };
        {
            let r = rho_at(steps);
            let this = &*self;
            values[steps * n_pts..]
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(t, c)| {
                    let mut idx = this.index(t * CHUNK);
                    for (k, v) in c.iter_mut().enumerate() {
                        if k > 0 {
                            this.advance(&mut idx);
                        }
                        let x = this.node_point(&idx);
                        *v = this.phys.terminal_cost(&r, &x);
                    }
                });
            if values[steps * n_pts..].iter().any(|v| !v.is_finite()) {
                return Err(nonfinite(steps));
            }
        }
        for n in (0..steps).rev() {
            self.check_interrupt()?;
            self.coefficients(values, n);
            let (lower, upper) = values.split_at_mut((n + 1) * n_pts);
            let out_n = &mut lower[n * n_pts..];
            out_n.copy_from_slice(&upper[..n_pts]);
            for axis in (0..d).rev() {
                self.factor(out_n, axis, Op::Explicit, false);
            }
            let (r0, r1) = (rho_at(n), rho_at(n + 1));
            let this = &*self;
            out_n.par_chunks_mut(CHUNK).enumerate().for_each(|(t, c)| {
                let mut idx = this.index(t * CHUNK);
                for (k, v) in c.iter_mut().enumerate() {
                    let q = t * CHUNK + k;
                    if k > 0 {
                        this.advance(&mut idx);
                    }
                    let x = this.node_point(&idx);
                    let f =
                        0.5 * (this.phys.running_cost(&r0, &x) + this.phys.running_cost(&r1, &x));
                    *v += dt * (this.drift[q * (d + 1) + d] + f);
                }
            });
            self.implicit_part(out_n);
            if out_n.iter().any(|v| !v.is_finite()) {
                return Err(nonfinite(n));
            }
        }
        Ok(())
    }

    fn solve_fpk(
        &mut self,
        hji: &HjiSolution,
        m0: ArrayViewD<f64>,
        population: usize,
        observer: &mut dyn FnMut(usize, ArrayViewD<'_, f64>),
    ) -> Result<FpkSummary> {
        self.check_hji(hji)?;
        let steps = self.time.steps;
        let d = self.grid.dim();
        crate::sweep::check_initial_density(&self.grid, &m0, population)?;
        for (dst, src) in self.density.iter_mut().zip(m0.iter()) {
            *dst = *src;
        }
        self.negative = None;
        let mut summary = FpkSummary::zeros(steps, d);
        let values = hji.values();
        let all = values.as_slice().expect("value levels are contiguous");
        for n in 0..=steps {
            self.check_interrupt()?;
            if n > 0 {
                self.coefficients(all, n - 1);
                let mut m = std::mem::take(&mut self.density);
                self.linear_step_transpose(&mut m);
                self.density = m;
                self.record_negative(n);
            }
            let mom = self.grid.moments(&self.density)?;
            if self.density.iter().any(|v| !v.is_finite())
                || !mom.mass.is_finite()
                || mom.cov.iter().any(|v| !v.is_finite())
            {
                return Err(SolverError::NonFinite {
                    stage: "FPK",
                    level: n,
                    population,
                });
            }
            summary.record(n, &mom);
            observer(n, Self::view(&self.grid, &self.density));
        }
        Ok(summary)
    }

    fn negative_density(&self) -> Option<NegativeDensity> {
        self.negative.clone()
    }

    fn apply_step(&mut self, hji: &HjiSolution, n: usize, x: &mut [f64]) -> Result<()> {
        self.check_hji(hji)?;
        self.check_field("field", x.len())?;
        check_level(n, self.time.steps)?;
        let values = hji.values();
        self.coefficients(values.as_slice().expect("contiguous"), n);
        self.linear_step(x);
        Ok(())
    }

    fn apply_step_transpose(&mut self, hji: &HjiSolution, n: usize, y: &mut [f64]) -> Result<()> {
        self.check_hji(hji)?;
        self.check_field("field", y.len())?;
        check_level(n, self.time.steps)?;
        let values = hji.values();
        self.coefficients(values.as_slice().expect("contiguous"), n);
        self.linear_step_transpose(y);
        Ok(())
    }
}

/// The step from level n+1 to n exists for n < steps.
pub(super) fn check_level(n: usize, steps: usize) -> Result<()> {
    if n >= steps {
        return Err(SolverError::invalid(
            Param::Argument("level"),
            format!("step level {n} must be below steps = {steps}"),
        ));
    }
    Ok(())
}
