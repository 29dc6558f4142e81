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

    /// The drifts of the nodes `first, first + 1, …` (row-major flat indices), as many as
    /// `allocation` and `disturbance` hold per component: component i of node
    /// `first + j` goes to index `i·m + j` of each, m = `allocation.len() / d`
    /// (component-major, like a slice of the (d, n_0, …) fields).
    ///
    /// The block is evaluated component by component and channel by channel over all its
    /// nodes (loops the compiler vectorises); every node sees the same operations in the
    /// same order as one evaluated alone — s = Σ_k c_k p_k summed in k order from the
    /// neutral element of a float sum, a* = [`channel_control`], the drifts accumulated in
    /// channel order — so the values do not depend on the block.
    pub fn fill(&self, first: usize, allocation: &mut [f64], disturbance: &mut [f64]) {
        let d = self.d;
        let m = allocation.len() / d;
        debug_assert_eq!(allocation.len(), disturbance.len());
        let v = self.v.as_slice().expect("standard layout");
        BLOCK_SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            scratch.resize((d + 1) * m, 0.0);
            let (p, s) = scratch.split_at_mut(d * m);
            self.gradients(v, first, p);
            allocation.fill(0.0);
            disturbance.fill(0.0);
            // The neutral element `Sum` folds from (so that Σ matches `.sum()` bit for bit).
            let zero: f64 = std::iter::empty::<f64>().sum();
            match &self.model.controls {
                Some(law) => {
                    for (ch, &inv_r) in law.channels.iter().zip(&self.inv_weights) {
                        s.fill(zero);
                        for (c, pk) in ch.column.iter().zip(p.chunks_exact(m)) {
                            for (sj, pj) in s.iter_mut().zip(pk) {
                                *sj += c * pj;
                            }
                        }
                        for sj in s.iter_mut() {
                            *sj = channel_control(ch.player, inv_r, ch.bound, *sj);
                        }
                        let out = match ch.player {
                            Player::Designer => &mut *allocation,
                            Player::Disturbance => &mut *disturbance,
                        };
                        for (c, oi) in ch.column.iter().zip(out.chunks_exact_mut(m)) {
                            for (o, a) in oi.iter_mut().zip(&*s) {
                                *o += c * a;
                            }
                        }
                    }
                }
                None => {
                    for (i, oi) in allocation.chunks_exact_mut(m).enumerate() {
                        oi.fill(zero);
                        for (k, pk) in p.chunks_exact(m).enumerate() {
                            let a = self.model.a[[i, k]];
                            for (o, pj) in oi.iter_mut().zip(pk) {
                                *o += a * pj;
                            }
                        }
                    }
                }
            }
        });
    }

    /// The discrete gradients of the nodes `first, first + 1, …` into `p`, component-major
    /// (component k of node `first + j` at `k·m + j`): the rule of [`gradient`] (centred
    /// inside, one-sided on the walls), evaluated a grid row (last axis) at a time.
    fn gradients(&self, v: &[f64], first: usize, p: &mut [f64]) {
        let d = self.d;
        let m = p.len() / d;
        let last = d - 1;
        let row_len = self.shape[last];
        let mut j = 0;
        while j < m {
            let node = first + j;
            // The row of `node`: its nodes `node..node + run` share every index but the
            // last.
            let i_last = node % row_len;
            let run = (row_len - i_last).min(m - j);
            for k in 0..d {
                let (n, st, h) = (self.shape[k], self.strides[k], self.spacing[k]);
                let out = &mut p[k * m + j..k * m + j + run];
                if n < 2 {
                    out.fill(0.0);
                    continue;
                }
                let one_sided_lo = |f: usize| (v[f + st] - v[f]) / h;
                let one_sided_hi = |f: usize| (v[f] - v[f - st]) / h;
                let centred = |f: usize| (v[f + st] - v[f - st]) / (2.0 * h);
                if k == last {
                    for (r, o) in out.iter_mut().enumerate() {
                        let i = i_last + r;
                        let f = node + r;
                        *o = if i == 0 {
                            one_sided_lo(f)
                        } else if i + 1 == n {
                            one_sided_hi(f)
                        } else {
                            centred(f)
                        };
                    }
                } else {
                    // The row's index on axis k, the same for all its nodes.
                    let i = (node / st) % n;
                    if i == 0 {
                        for (r, o) in out.iter_mut().enumerate() {
                            *o = one_sided_lo(node + r);
                        }
                    } else if i + 1 == n {
                        for (r, o) in out.iter_mut().enumerate() {
                            *o = one_sided_hi(node + r);
                        }
                    } else {
                        // Centred along the row: a loop the compiler vectorises.
                        let h2 = 2.0 * h;
                        let hi = &v[node + st..node + st + run];
                        let lo = &v[node - st..node - st + run];
                        for ((o, a), b) in out.iter_mut().zip(hi).zip(lo) {
                            *o = (a - b) / h2;
                        }
                    }
                }
            }
            j += run;
        }
    }
}

thread_local! {
    /// The gradients and channel sums of one block of [`FeedbackDrifts::fill`], reused by
    /// the next block of the same thread.
    static BLOCK_SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
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
