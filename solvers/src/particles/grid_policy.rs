//! The drift b = A∇v of value functions stored on a grid (a PDE solution).

use super::cell::Cell;
use super::Policy;
use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::hamiltonian::ControlLaw;
use ndarray::{Array2, ArrayD};

/// Drift b = A∇v_k from value functions stored on a grid at some levels (e.g. a PDE
/// solution): ∇v at the nodes by centred differences inside and one-sided differences at
/// the edges, interpolated multilinearly (states outside the box are clamped onto it),
/// piecewise constant in time from the latest stored level ≤ t_n.
#[derive(Debug, Clone)]
pub struct GridPolicy {
    a: Array2<f64>,
    grid: Grid,
    levels: Vec<usize>,
    /// grads[k][snapshot][axis] = ∂_axis v_k at every node (row-major).
    grads: Vec<Vec<Vec<Vec<f64>>>>,
    /// Channels of a bounded model (drift ∇H(∇v)); `None`: b = A∇v.
    controls: Option<ControlLaw>,
}

impl GridPolicy {
    /// `values[k][j]` is v_k on `grid` at level `levels[j]` (`levels` strictly increasing,
    /// starting at 0). Field `policy` on inconsistent input.
    pub fn new(
        a: Array2<f64>,
        grid: Grid,
        levels: Vec<usize>,
        values: &[Vec<ArrayD<f64>>],
    ) -> Result<Self> {
        let d = grid.dim();
        let bad = |m: String| SolverError::invalid(Param::Argument("policy"), m);
        if a.dim() != (d, d) {
            return Err(bad(format!("A must be {d}×{d} for a {d}-D grid")));
        }
        if levels.first() != Some(&0) || levels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad(
                "value levels must start at 0 and increase strictly".to_string()
            ));
        }
        if values.is_empty() {
            return Err(bad("no population values given".to_string()));
        }
        let mut grads = Vec::with_capacity(values.len());
        for (k, vk) in values.iter().enumerate() {
            if vk.len() != levels.len() {
                return Err(bad(format!(
                    "population {k}: {} value snapshots for {} levels",
                    vk.len(),
                    levels.len()
                )));
            }
            let mut per = Vec::with_capacity(vk.len());
            for v in vk {
                if v.shape() != grid.shape() || v.iter().any(|x| !x.is_finite()) {
                    return Err(bad(format!(
                        "population {k}: value snapshots must be finite with shape {:?}",
                        grid.shape()
                    )));
                }
                let flat: Vec<f64> = v.iter().copied().collect();
                per.push((0..d).map(|i| gradient_along(&grid, &flat, i)).collect());
            }
            grads.push(per);
        }
        Ok(GridPolicy {
            a,
            grid,
            levels,
            grads,
            controls: None,
        })
    }

    /// With bounded controls the drift is the saturated optimum b = ∇H(∇v) of the
    /// channels ([`crate::hamiltonian`]) instead of A∇v; `None` keeps A∇v.
    pub fn with_controls(mut self, controls: Option<ControlLaw>) -> Self {
        self.controls = controls;
        self
    }

    /// ∇v_k interpolated at `x` (clamped to the box) from the snapshot in force at `level`.
    pub fn gradient(&self, k: usize, level: usize, x: &[f64]) -> Vec<f64> {
        let d = self.grid.dim();
        let j = self.levels.partition_point(|&l| l <= level) - 1;
        let cell = Cell::locate(&self.grid, x, |i| i);
        let mut g = vec![0.0; d];
        for (c, w) in cell.corners(d) {
            for (i, gi) in g.iter_mut().enumerate() {
                *gi += w * self.grads[k][j][i][c];
            }
        }
        g
    }
}

/// ∂v/∂x_i at every node: centred inside, one-sided at the two edges.
pub(super) fn gradient_along(grid: &Grid, v: &[f64], i: usize) -> Vec<f64> {
    let n = grid.shape()[i];
    let st = grid.strides()[i];
    let h = grid.axis(i).spacing();
    (0..v.len())
        .map(|f| {
            let j = (f / st) % n;
            if j == 0 {
                (v[f + st] - v[f]) / h
            } else if j == n - 1 {
                (v[f] - v[f - st]) / h
            } else {
                (v[f + st] - v[f - st]) / (2.0 * h)
            }
        })
        .collect()
}

impl Policy for GridPolicy {
    fn dim(&self) -> usize {
        self.grid.dim()
    }

    fn populations(&self) -> Option<usize> {
        Some(self.grads.len())
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]) {
        self.drift_and_cost(k, level, x, target, out);
    }

    /// With bounded controls: b = ∇H(∇v) and its control cost ℓ (channel optimum).
    fn drift_and_cost(
        &self,
        k: usize,
        level: usize,
        x: &[f64],
        _target: &[f64],
        out: &mut [f64],
    ) -> Option<f64> {
        let g = self.gradient(k, level, x);
        let d = g.len();
        if let Some(law) = &self.controls {
            return Some(law.drift_into(&g, &mut out[..d]));
        }
        for i in 0..d {
            out[i] = (0..d).map(|j| self.a[[i, j]] * g[j]).sum();
        }
        None
    }
}
