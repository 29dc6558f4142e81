//! Quantities of an equilibrium that researchers read off its snapshots: the feedback
//! fields of the two players, the expected cost of a population and the fraction of it
//! in the core.
//!
//! * Feedback fields. The optimal drift b(∇v) = ∇H(∇v) = Σ_channels c a*(c·∇v)
//!   (see [`crate::hamiltonian`]) splits into the designer's allocation drift (designer
//!   channels) and the worst-case disturbance drift (disturbance channels); their sum is
//!   the drift the FPK sweep uses ([`crate::sweep::Sweeper::optimal_drift`]). The gradient
//!   is the sweeps' discrete gradient: centred inside, one-sided on the walls. For an
//!   expert A (no channels) the whole drift b = A∇v is the allocation drift.
//! * Expected cost J_k = ∫ v_k(0, x) m_k(0, x) dx with the grid's quadrature (Σ · cell
//!   volume, the same rule as the mass).
//! * In-core fraction: the mass on the nodes where every reduced coordinate (a coalition
//!   excess) is ≥ 0, i.e. where the allocation is in the core.

use crate::error::{Param, Result, SolverError};
use crate::grid::{Grid, MAX_DIM};
use crate::hamiltonian::{channel_control, Player};
use crate::model::Model;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

/// The two players' drift fields of one value snapshot, each of shape (d, n_0, …).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackFields {
    /// The designer's allocation drift Σ_designer c a*.
    pub allocation: ArrayD<f64>,
    /// The worst-case disturbance drift Σ_disturbance c a*.
    pub disturbance: ArrayD<f64>,
}

/// (allocation, disturbance) drift at one node.
type NodeDrifts = ([f64; MAX_DIM], [f64; MAX_DIM]);

/// (allocation, disturbance) drifts of a block of nodes, component-major.
type BlockDrifts = (Vec<f64>, Vec<f64>);

fn check_shape(grid: &Grid, field: &'static str, shape: &[usize]) -> Result<()> {
    if shape != grid.shape() {
        return Err(SolverError::invalid(
            Param::Argument(field),
            "field must have the grid's shape",
        ));
    }
    Ok(())
}

/// The discrete gradient of `v` (the sweeps' rule: centred differences inside, one-sided
/// on the walls): d fields of the grid's length in row-major order.
pub fn gradient(grid: &Grid, v: ArrayViewD<f64>) -> Result<Vec<Vec<f64>>> {
    check_shape(grid, "value", v.shape())?;
    let v: Vec<f64> = v.iter().cloned().collect();
    let shape = grid.shape();
    let strides = grid.strides();
    let mut out = vec![vec![0.0; v.len()]; grid.dim()];
    for (k, g) in out.iter_mut().enumerate() {
        let n = shape[k];
        let s = strides[k];
        let h = grid.axis(k).spacing();
        for (flat, gk) in g.iter_mut().enumerate() {
            if n < 2 {
                continue;
            }
            let i = (flat / s) % n;
            *gk = if i == 0 {
                (v[flat + s] - v[flat]) / h
            } else if i + 1 == n {
                (v[flat] - v[flat - s]) / h
            } else {
                (v[flat + s] - v[flat - s]) / (2.0 * h)
            };
        }
    }
    Ok(out)
}

/// Nodes per task of [`feedback_fields`].
const FEEDBACK_BLOCK: usize = 4096;

/// The two players' drifts (module docs) at any node of one value snapshot, evaluated a
/// block of nodes at a time, so that a caller can consume them block by block without
/// holding the whole fields ([`feedback_fields`] assembles them).
#[derive(Debug)]
pub struct FeedbackDrifts<'a> {
    model: &'a Model,
    v: ndarray::CowArray<'a, f64, IxDyn>,
    shape: [usize; MAX_DIM],
    strides: [usize; MAX_DIM],
    spacing: [f64; MAX_DIM],
    d: usize,
    /// 1/r of every channel of the model's control law.
    inv_weights: Vec<f64>,
}

impl<'a> FeedbackDrifts<'a> {
    /// The drifts of the value snapshot `v` (the grid's shape) under `model`.
    pub fn new(model: &'a Model, grid: &Grid, v: ArrayViewD<'a, f64>) -> Result<Self> {
        let d = grid.dim();
        if model.dim() != d {
            return Err(SolverError::invalid(
                Param::Argument("value"),
                "model and grid dimensions differ",
            ));
        }
        check_shape(grid, "value", v.shape())?;
        let mut shape = [1; MAX_DIM];
        let mut strides = [1; MAX_DIM];
        let mut spacing = [1.0; MAX_DIM];
        for k in 0..d {
            shape[k] = grid.shape()[k];
            strides[k] = grid.strides()[k];
            spacing[k] = grid.axis(k).spacing();
        }
        Ok(Self {
            model,
            v: if v.is_standard_layout() {
                ndarray::CowArray::from(v)
            } else {
                ndarray::CowArray::from(v.as_standard_layout().into_owned())
            },
            shape,
            strides,
            spacing,
            d,
            inv_weights: model
                .controls
                .iter()
                .flat_map(|law| law.channels.iter().map(|ch| 1.0 / ch.weight))
                .collect(),
        })
    }

    /// Nodes of the grid.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Whether the grid has no node.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// The sweeps' discrete gradient at the node `flat` of multi-index `idx` (centred
    /// inside, one-sided on the walls), as [`gradient`].
    fn gradient_at(&self, v: &[f64], flat: usize, idx: &[usize; MAX_DIM]) -> [f64; MAX_DIM] {
        let mut p = [0.0; MAX_DIM];
        for (k, pk) in p.iter_mut().enumerate().take(self.d) {
            let (n, s, h) = (self.shape[k], self.strides[k], self.spacing[k]);
            if n < 2 {
                continue;
            }
            let i = idx[k];
            *pk = if i == 0 {
                (v[flat + s] - v[flat]) / h
            } else if i + 1 == n {
                (v[flat] - v[flat - s]) / h
            } else {
                (v[flat + s] - v[flat - s]) / (2.0 * h)
            };
        }
        p
    }

    /// (allocation, disturbance) drift at gradient `p`.
    fn drifts_at(&self, p: &[f64; MAX_DIM]) -> NodeDrifts {
        let d = self.d;
        let mut al = [0.0; MAX_DIM];
        let mut di = [0.0; MAX_DIM];
        match &self.model.controls {
            Some(law) => {
                for (ch, &inv_r) in law.channels.iter().zip(&self.inv_weights) {
                    let s: f64 = ch.column.iter().zip(p).map(|(c, p)| c * p).sum();
                    let a = channel_control(ch.player, inv_r, ch.bound, s);
                    let out = match ch.player {
                        Player::Designer => &mut al,
                        Player::Disturbance => &mut di,
                    };
                    for (o, c) in out.iter_mut().zip(&ch.column) {
                        *o += c * a;
                    }
                }
            }
            None => {
                for (i, o) in al.iter_mut().enumerate().take(d) {
                    *o = (0..d).map(|k| self.model.a[[i, k]] * p[k]).sum();
                }
            }
        }
        (al, di)
    }

    /// The drifts of the nodes `first, first + 1, …` (row-major flat indices), as many as
    /// `allocation` and `disturbance` hold per component: component i of node
    /// `first + j` goes to index `i·m + j` of each, m = `allocation.len() / d`
    /// (component-major, like a slice of the (d, n_0, …) fields).
    pub fn fill(&self, first: usize, allocation: &mut [f64], disturbance: &mut [f64]) {
        let d = self.d;
        let m = allocation.len() / d;
        debug_assert_eq!(allocation.len(), disturbance.len());
        let v = self.v.as_slice().expect("standard layout");
        // The multi-index of `first`, then advanced node by node (row-major, last axis
        // fastest) without a division per node.
        let mut idx = [0; MAX_DIM];
        for (k, i) in idx.iter_mut().enumerate().take(d) {
            *i = (first / self.strides[k]) % self.shape[k];
        }
        for j in 0..m {
            let (a, w) = self.drifts_at(&self.gradient_at(v, first + j, &idx));
            for i in 0..d {
                allocation[i * m + j] = a[i];
                disturbance[i * m + j] = w[i];
            }
            for k in (0..d).rev() {
                idx[k] += 1;
                if idx[k] < self.shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
    }
}

/// The allocation and disturbance drift fields of the value snapshot `v` (module docs).
/// Nodes are computed in parallel blocks (the gradient on the fly, the sweeps' rule of
/// [`gradient`]); every node is independent, so the result does not depend on the number
/// of threads.
pub fn feedback_fields(model: &Model, grid: &Grid, v: ArrayViewD<f64>) -> Result<FeedbackFields> {
    let drifts = FeedbackDrifts::new(model, grid, v)?;
    let d = grid.dim();
    let len = grid.len();
    // Per block: the d components of each player, component-major.
    let blocks: Vec<BlockDrifts> = (0..len.div_ceil(FEEDBACK_BLOCK))
        .into_par_iter()
        .map(|b| {
            let nodes = b * FEEDBACK_BLOCK..((b + 1) * FEEDBACK_BLOCK).min(len);
            let m = nodes.len();
            let mut al = vec![0.0; d * m];
            let mut di = vec![0.0; d * m];
            drifts.fill(nodes.start, &mut al, &mut di);
            (al, di)
        })
        .collect();
    let assemble = |pick: fn(&BlockDrifts) -> &Vec<f64>| {
        let mut out = vec![0.0; d * len];
        out.par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(i, comp)| {
                for (b, block) in blocks.iter().enumerate() {
                    let part = pick(block);
                    let m = part.len() / d;
                    let at = b * FEEDBACK_BLOCK;
                    comp[at..at + m].copy_from_slice(&part[i * m..(i + 1) * m]);
                }
            });
        let mut shape = vec![d];
        shape.extend_from_slice(grid.shape());
        ArrayD::from_shape_vec(IxDyn(&shape), out).expect("d fields of grid size")
    };
    Ok(FeedbackFields {
        allocation: assemble(|b| &b.0),
        disturbance: assemble(|b| &b.1),
    })
}

/// J = Σ v·m · cell volume: the expected cost ∫ v(0, x) m(0, x) dx of a population whose
/// initial density is `m0` and whose value at t = 0 is `v0`.
pub fn expected_cost(grid: &Grid, v0: ArrayViewD<f64>, m0: ArrayViewD<f64>) -> Result<f64> {
    check_shape(grid, "value", v0.shape())?;
    check_shape(grid, "density", m0.shape())?;
    let s: f64 = v0.iter().zip(m0.iter()).map(|(v, m)| v * m).sum();
    Ok(s * grid.cell_volume())
}

/// The mass of `m` on the nodes where every coordinate is ≥ 0 (the core of the excess
/// coordinates), with the grid's quadrature.
pub fn core_fraction(grid: &Grid, m: ArrayViewD<f64>) -> Result<f64> {
    check_shape(grid, "density", m.shape())?;
    let shape = grid.shape();
    let d = grid.dim();
    // Per axis, whether each node's coordinate is ≥ 0; the nodes are visited in row-major
    // order with their multi-index advanced node by node (the sum in the same order).
    let inside_axis: Vec<Vec<bool>> = grid
        .axes()
        .iter()
        .map(|a| {
            (0..a.len())
                .map(|i| a.lo() + i as f64 * a.spacing() >= 0.0)
                .collect()
        })
        .collect();
    let mut idx = [0usize; MAX_DIM];
    let mut s = 0.0;
    for &mv in m.iter() {
        if (0..d).all(|k| inside_axis[k][idx[k]]) {
            s += mv;
        }
        for k in (0..d).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    Ok(s * grid.cell_volume())
}
