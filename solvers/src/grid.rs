//! Uniform node-centred tensor grids in d = 1, 2 or 3 dimensions (docs/design.md §4).
//!
//! Axis i has `n_i ≥ 3` nodes `x = lo_i + j h_i`, `j = 0..n_i`, `h_i = (hi_i − lo_i)/(n_i − 1)`.
//! Fields on the grid are flat `f64` arrays in row-major (C) order, the last axis contiguous;
//! every node carries the cell volume `Π h_i`, so a density `m` has mass `Σ m · Π h_i`.
//!
//! The automatic box of a model ([`Grid::auto`]) is sized in [`crate::domain`].

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use crate::error::{Param, Result, SolverError};
use crate::linalg::symmetric_eigen;
use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, IxDyn};
use rayon::prelude::*;

/// Largest supported grid dimension.
pub const MAX_DIM: usize = 3;

/// Default half-width of the automatic domain, in standard deviations (see module docs).
pub const DEFAULT_STD_MULTIPLE: f64 = 6.0;

/// Largest number of nodes a grid may have (memory guard).
pub const MAX_POINTS: usize = 1 << 32;

/// Target number of nodes per parallel task for row-wise passes (fixed: results do not
/// depend on the number of threads).
pub(crate) const ROW_TASK_POINTS: usize = 8192;

/// Rows along the last axis that the sweeps solve together (SIMD across rows); row tasks
/// hold a multiple of this many rows.
pub(crate) const ROW_GROUP: usize = 16;

/// One grid axis: `n` equally spaced nodes from `lo` to `hi` inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    lo: f64,
    hi: f64,
    n: usize,
    h: f64,
}

impl Axis {
    /// Axis with `n ≥ 3` nodes on `[lo, hi]`, `lo < hi` finite.
    /// Errors name `Param::Points` / `Param::Domain`.
    pub fn new(lo: f64, hi: f64, n: usize) -> Result<Self> {
        if n < 3 {
            return Err(SolverError::invalid(
                Param::Points,
                format!("each axis needs at least 3 points, got {n}"),
            ));
        }
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(SolverError::invalid(
                Param::Domain,
                format!("axis bounds must be finite with lo < hi, got [{lo}, {hi}]"),
            ));
        }
        let h = (hi - lo) / (n - 1) as f64;
        if !(h.is_finite() && h > 0.0) {
            return Err(SolverError::invalid(
                Param::Domain,
                format!("axis [{lo}, {hi}] with {n} points has no positive finite spacing"),
            ));
        }
        Ok(Axis { lo, hi, n, h })
    }

    /// Lower bound (first node).
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper bound (last node, up to rounding of `lo + (n−1)h`).
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false (an axis has at least 3 nodes).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Spacing h.
    pub fn spacing(&self) -> f64 {
        self.h
    }

    /// Coordinate of node `j`: `lo + j h`.
    pub fn node(&self, j: usize) -> f64 {
        self.lo + j as f64 * self.h
    }

    /// All node coordinates.
    pub fn nodes(&self) -> Array1<f64> {
        Array1::from_iter((0..self.n).map(|j| self.node(j)))
    }
}

/// A uniform tensor grid of dimension 1..=3 (row-major, last axis contiguous).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    axes: Vec<Axis>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    len: usize,
}

/// Mass and moments of a density on the grid (mean and covariance are normalised by the
/// mass, i.e. they are those of the probability `m / mass`).
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// `Σ m · cell`.
    pub mass: f64,
    /// `Σ x m · cell / mass`.
    pub mean: Array1<f64>,
    /// `Σ (x − mean)(x − mean)ᵀ m · cell / mass`.
    pub cov: Array2<f64>,
    /// `Σ m · cell` over the nodes on the boundary of the box (any index 0 or n−1).
    pub boundary_mass: f64,
    /// Smallest nodal value.
    pub min_density: f64,
}

/// Partial sums of one row task (combined in task order: fixed-order reduction).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MomentPartial {
    s0: f64,
    s1: [f64; MAX_DIM],
    s2: [[f64; MAX_DIM]; MAX_DIM],
    boundary: f64,
    min: f64,
}

impl Grid {
    /// Grid from its axes (1 to 3 of them).
    pub fn new(axes: Vec<Axis>) -> Result<Self> {
        let d = axes.len();
        if d == 0 || d > MAX_DIM {
            return Err(SolverError::invalid(
                Param::Points,
                format!("grids have 1 to {MAX_DIM} axes, got {d}"),
            ));
        }
        let shape: Vec<usize> = axes.iter().map(|a| a.n).collect();
        let mut len = 1usize;
        for &n in &shape {
            len = len
                .checked_mul(n)
                .filter(|&l| l <= MAX_POINTS)
                .ok_or_else(|| {
                    SolverError::invalid(
                        Param::Points,
                        format!("grid {shape:?} has more than {MAX_POINTS} points"),
                    )
                })?;
        }
        let mut strides = vec![1usize; d];
        for i in (0..d - 1).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        Ok(Grid {
            axes,
            shape,
            strides,
            len,
        })
    }

    /// Grid on the box `[lo_i, hi_i]` with `points[i]` nodes per axis (`points` may also have
    /// a single entry used for every axis).
    pub fn from_bounds(lo: &[f64], hi: &[f64], points: &[usize]) -> Result<Self> {
        let d = lo.len();
        if hi.len() != d {
            return Err(SolverError::invalid(
                Param::Domain,
                format!("{d} lower bounds but {} upper bounds", hi.len()),
            ));
        }
        let pts = broadcast_points(points, d)?;
        let axes = (0..d)
            .map(|i| Axis::new(lo[i], hi[i], pts[i]))
            .collect::<Result<Vec<_>>>()?;
        Grid::new(axes)
    }

    /// Dimension d.
    pub fn dim(&self) -> usize {
        self.axes.len()
    }

    /// Number of nodes `Π n_i`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false (a grid has at least 3 nodes).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes per axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Row-major strides (in elements) per axis; the last is 1.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The axes.
    pub fn axes(&self) -> &[Axis] {
        &self.axes
    }

    /// Axis `i`.
    pub fn axis(&self, i: usize) -> &Axis {
        &self.axes[i]
    }

    /// Cell volume `Π h_i` (the quadrature weight of every node).
    pub fn cell_volume(&self) -> f64 {
        self.axes.iter().map(|a| a.h).product()
    }

    /// Coordinates of the node with flat (row-major) index `flat`.
    pub fn point(&self, flat: usize) -> Array1<f64> {
        let mut rem = flat;
        let mut x = Array1::zeros(self.dim());
        for i in (0..self.dim()).rev() {
            let j = rem % self.shape[i];
            rem /= self.shape[i];
            x[i] = self.axes[i].node(j);
        }
        x
    }

    /// Rows along the last (contiguous) axis and how they are split into parallel tasks:
    /// `(row_len, rows, rows_per_task, tasks)`; independent of the thread count.
    /// `rows_per_task` is a multiple of [`ROW_GROUP`].
    pub(crate) fn row_tasks(&self) -> (usize, usize, usize, usize) {
        let nl = self.shape[self.dim() - 1];
        let rows = self.len / nl;
        let per = (ROW_TASK_POINTS / nl).max(1).div_ceil(ROW_GROUP) * ROW_GROUP;
        (nl, rows, per, rows.div_ceil(per))
    }

    /// Outer multi-index (axes 0..d−1) of row `r`, and whether the row lies on the boundary
    /// of one of those axes.
    pub(crate) fn row_index(&self, r: usize) -> ([usize; MAX_DIM], bool) {
        let d = self.dim();
        let mut idx = [0usize; MAX_DIM];
        let mut rem = r;
        let mut on_boundary = false;
        for i in (0..d - 1).rev() {
            idx[i] = rem % self.shape[i];
            rem /= self.shape[i];
            on_boundary |= idx[i] == 0 || idx[i] == self.shape[i] - 1;
        }
        (idx, on_boundary)
    }

    /// Discretised Gaussian N(mean, cov): nodal values of the normal density, scaled so that
    /// `Σ m · cell = 1` exactly (up to round-off). Initial condition m(0) = m0 of the FPK.
    /// Errors name [`Param::PopulationMean`] / [`Param::PopulationCov`].
    pub fn gaussian(&self, mean: ArrayView1<f64>, cov: ArrayView2<f64>) -> Result<ArrayD<f64>> {
        let d = self.dim();
        if mean.len() != d || mean.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(
                Param::PopulationMean(None),
                format!("expected {d} finite entries"),
            ));
        }
        if cov.dim() != (d, d) || cov.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(
                Param::PopulationCov(None),
                format!("expected a finite {d}×{d} matrix"),
            ));
        }
        let (ev, u) = symmetric_eigen(&cov.to_owned())?;
        if ev.iter().any(|&l| l <= 0.0) {
            return Err(SolverError::invalid(
                Param::PopulationCov(None),
                "covariance must be positive definite",
            ));
        }
        // Precision matrix P = U diag(1/λ) Uᵀ.
        let mut p = [[0.0; MAX_DIM]; MAX_DIM];
        for i in 0..d {
            for j in 0..d {
                p[i][j] = (0..d).map(|k| u[[i, k]] * u[[j, k]] / ev[k]).sum();
            }
        }
        let mu: Vec<f64> = mean.to_vec();
        let mut out = vec![0.0; self.len];
        let (nl, _rows, per, _tasks) = self.row_tasks();
        let last = &self.axes[d - 1];
        out.par_chunks_mut(per * nl)
            .enumerate()
            .for_each(|(t, chunk)| {
                for (rr, row) in chunk.chunks_mut(nl).enumerate() {
                    let (idx, _) = self.row_index(t * per + rr);
                    let mut w = [0.0; MAX_DIM];
                    for i in 0..d - 1 {
                        w[i] = self.axes[i].node(idx[i]) - mu[i];
                    }
                    for (j, m) in row.iter_mut().enumerate() {
                        w[d - 1] = last.node(j) - mu[d - 1];
                        let mut qf = 0.0;
                        for i in 0..d {
                            for k in 0..d {
                                qf += w[i] * p[i][k] * w[k];
                            }
                        }
                        *m = (-0.5 * qf).exp();
                    }
                }
            });
        let total = self.mass(&out);
        if !(total.is_finite() && total > 0.0) {
            return Err(SolverError::invalid(
                Param::PopulationMean(None),
                "the Gaussian has no mass on the grid (mean far outside the domain?)",
            ));
        }
        let scale = 1.0 / total;
        out.par_chunks_mut(per * nl)
            .for_each(|c| c.iter_mut().for_each(|m| *m *= scale));
        Ok(ArrayD::from_shape_vec(IxDyn(&self.shape), out).expect("shape matches length"))
    }

    /// `Σ m · cell` in a fixed summation order (thread-count independent).
    pub fn mass(&self, m: &[f64]) -> f64 {
        let (nl, _rows, per, _tasks) = self.row_tasks();
        let partial: Vec<f64> = m
            .par_chunks(per * nl)
            .map(|c| c.iter().sum::<f64>())
            .collect();
        partial.iter().sum::<f64>() * self.cell_volume()
    }

    /// Mass, mean, covariance, boundary mass and minimum of a density (fixed-order
    /// reduction). Errors (`density`) if `m` does not have `len()` entries.
    pub fn moments(&self, m: &[f64]) -> Result<Moments> {
        if m.len() != self.len {
            return Err(SolverError::invalid(
                Param::Argument("density"),
                format!("expected {} values, got {}", self.len, m.len()),
            ));
        }
        let mut partials = vec![MomentPartial::default(); self.row_tasks().3];
        Ok(self.moments_with(m, &mut partials))
    }

    /// [`Grid::moments`] with a caller-provided buffer of `row_tasks().3` partials.
    pub(crate) fn moments_with(&self, m: &[f64], partials: &mut [MomentPartial]) -> Moments {
        let (nl, _rows, per, tasks) = self.row_tasks();
        debug_assert_eq!(partials.len(), tasks);
        let z = self.last_offsets();
        partials
            .par_iter_mut()
            .zip(m.par_chunks(per * nl))
            .enumerate()
            .for_each(|(t, (p, chunk))| {
                *p = MomentPartial::new();
                for (rr, row) in chunk.chunks(nl).enumerate() {
                    self.accumulate_row(p, t * per + rr, row, &z);
                }
            });
        self.combine(partials)
    }

    /// Centre of the box (moments are accumulated about it to limit cancellation in
    /// E[xxᵀ] − E[x]E[x]ᵀ).
    fn centre(&self, i: usize) -> f64 {
        0.5 * (self.axes[i].lo + self.axes[i].hi)
    }

    /// Offsets z_j = x_j − c of the last axis's nodes from the box centre (the weights of
    /// [`Grid::accumulate_row`]).
    pub(crate) fn last_offsets(&self) -> Vec<f64> {
        let d = self.dim();
        let last = &self.axes[d - 1];
        let z0 = last.lo - self.centre(d - 1);
        (0..last.n).map(|j| z0 + j as f64 * last.h).collect()
    }

    /// Adds row `r` (values `row` along the last axis) to a partial sum; `z` =
    /// [`Grid::last_offsets`]. The same code serves [`Grid::moments`] and the fused FPK
    /// sweep, so both give identical bits.
    #[inline(always)]
    pub(crate) fn accumulate_row(&self, acc: &mut MomentPartial, r: usize, row: &[f64], z: &[f64]) {
        let d = self.dim();
        let nl = row.len();
        let z = &z[..nl];
        let (idx, row_boundary) = self.row_index(r);
        // Row sums Σm, Σm z, Σm z² in 8 fixed lanes (vectorisable, fixed order).
        const L: usize = 8;
        let mut l0 = [0.0; L];
        let mut l1 = [0.0; L];
        let mut l2 = [0.0; L];
        let mut lmin = [f64::INFINITY; L];
        let mut rows = row.chunks_exact(L);
        let mut zs = z.chunks_exact(L);
        for (q, zq) in (&mut rows).zip(&mut zs) {
            for l in 0..L {
                let v = q[l];
                let vz = v * zq[l];
                l0[l] += v;
                l1[l] += vz;
                l2[l] += vz * zq[l];
                lmin[l] = if v < lmin[l] { v } else { lmin[l] };
            }
        }
        for (l, (&v, &zv)) in rows.remainder().iter().zip(zs.remainder()).enumerate() {
            let vz = v * zv;
            l0[l] += v;
            l1[l] += vz;
            l2[l] += vz * zv;
            lmin[l] = if v < lmin[l] { v } else { lmin[l] };
        }
        let fold = |a: &[f64; L]| ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        let (s0, s1, s2) = (fold(&l0), fold(&l1), fold(&l2));
        for &v in &lmin {
            acc.min = acc.min.min(v);
        }
        let mut y = [0.0; MAX_DIM];
        for i in 0..d - 1 {
            y[i] = self.axes[i].node(idx[i]) - self.centre(i);
        }
        acc.s0 += s0;
        for i in 0..d - 1 {
            acc.s1[i] += y[i] * s0;
            for k in 0..d - 1 {
                acc.s2[i][k] += y[i] * y[k] * s0;
            }
            acc.s2[i][d - 1] += y[i] * s1;
            acc.s2[d - 1][i] += y[i] * s1;
        }
        acc.s1[d - 1] += s1;
        acc.s2[d - 1][d - 1] += s2;
        acc.boundary += if row_boundary {
            s0
        } else {
            row[0] + row[nl - 1]
        };
    }

    /// Combines per-task partials in task order into [`Moments`].
    pub(crate) fn combine(&self, partials: &[MomentPartial]) -> Moments {
        let d = self.dim();
        let mut tot = MomentPartial::new();
        for p in partials.iter() {
            tot.s0 += p.s0;
            for i in 0..d {
                tot.s1[i] += p.s1[i];
                for k in 0..d {
                    tot.s2[i][k] += p.s2[i][k];
                }
            }
            tot.boundary += p.boundary;
            tot.min = tot.min.min(p.min);
        }
        let cell = self.cell_volume();
        let mut mean = Array1::zeros(d);
        let mut cov = Array2::zeros((d, d));
        for i in 0..d {
            mean[i] = self.centre(i) + tot.s1[i] / tot.s0;
        }
        for i in 0..d {
            for k in 0..d {
                cov[[i, k]] = tot.s2[i][k] / tot.s0 - (tot.s1[i] / tot.s0) * (tot.s1[k] / tot.s0);
            }
        }
        Moments {
            mass: tot.s0 * cell,
            mean,
            cov,
            boundary_mass: tot.boundary * cell,
            min_density: tot.min,
        }
    }
}

impl MomentPartial {
    /// Empty partial sum.
    pub(crate) fn new() -> Self {
        MomentPartial {
            min: f64::INFINITY,
            ..Default::default()
        }
    }
}

pub(crate) fn broadcast_points(points: &[usize], d: usize) -> Result<Vec<usize>> {
    match points.len() {
        1 => Ok(vec![points[0]; d]),
        l if l == d => Ok(points.to_vec()),
        l => Err(SolverError::invalid(
            Param::Points,
            format!("give one point count or one per axis ({d}), got {l}"),
        )),
    }
}
