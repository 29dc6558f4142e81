//! Tridiagonal operators along the grid lines of one axis, for the second-order scheme
//! ([`super::second_order`]).
//!
//! On a line of n nodes, the one-axis generator L_i has row j
//! `lo_j x_{j−1} − (lo_j + up_j) x_j + up_j x_{j+1}` with `lo_0 = up_{n−1} = 0`
//! (reflecting wall: couplings that would leave the grid are dropped, rows sum to zero).
//! Its transpose has row j `up_{j−1} x_{j−1} − (lo_j + up_j) x_j + lo_{j+1} x_{j+1}`.
//! With a = dt/2 the scheme needs, on every line of axis i,
//!
//! * the explicit half G_i = I + a L_i (or G_iᵀ): [`Op::Explicit`];
//! * the implicit half F_i = I − a L_i (or F_iᵀ), solved by the Thomas algorithm without
//!   pivoting ([`Op::Implicit`]); with lo, up ≥ 0, F_i is a strictly diagonally dominant
//!   M-matrix, so the recurrence is stable.
//!
//! Every line is computed by the same recurrence, whatever task it falls to: the lines of
//! an axis are processed in blocks of `BLOCK` neighbouring lines (neighbours in the
//! memory order, so a block reads and writes contiguous rows of `BLOCK` values and the
//! recurrence runs across the block's lines at once), each block by one task with its own
//! scratch. Each line's arithmetic does not depend on its block or its task, so the result
//! is bit-identical for any thread count and any block width.

use ndarray::parallel::prelude::*;
use ndarray::{ArrayView2, ArrayViewD, ArrayViewMut2, ArrayViewMutD, Axis};
use std::cell::RefCell;

/// Lines per block (neighbours in the memory order; a block of an axis other than the last
/// is a contiguous strip of `BLOCK` values in every row).
const BLOCK: usize = 16;

/// Which factor to apply along the lines of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// x ← (I + a L_i) x, or its transpose.
    Explicit,
    /// x ← (I − a L_i)⁻¹ x, or its transpose.
    Implicit,
}

thread_local! {
    /// Per-thread scratch for one block: x, lo, up, the Thomas multipliers (n × width
    /// each, row-major), and one row of the previous x.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Applies `op` (or its transpose) with coefficient `a` along every line of `axis` of
/// `x`, the generator's coefficients being `lo`, `up` (same shape as `x`, standard
/// layout).
pub(crate) fn apply(
    x: ArrayViewMutD<'_, f64>,
    lo: ArrayViewD<'_, f64>,
    up: ArrayViewD<'_, f64>,
    axis: usize,
    op: Op,
    transpose: bool,
    a: f64,
) {
    let shape = x.shape().to_vec();
    let n = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let dims = (outer, n, inner);
    if inner == 1 {
        // Lines of the last axis are contiguous: no copies, one line per task.
        let mut x2 = x
            .into_shape_with_order((outer, n))
            .expect("fields are in standard layout");
        let lo2 = lo
            .into_shape_with_order((outer, n))
            .expect("coefficients are in standard layout");
        let up2 = up
            .into_shape_with_order((outer, n))
            .expect("coefficients are in standard layout");
        x2.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(lo2.axis_iter(Axis(0)).into_par_iter())
            .zip(up2.axis_iter(Axis(0)).into_par_iter())
            .for_each(|((mut xl, ll), ul)| {
                let xs = xl
                    .as_slice_mut()
                    .expect("a line of the last axis is contiguous");
                let rows = Rows {
                    lo: ll.to_slice().expect("contiguous"),
                    up: ul.to_slice().expect("contiguous"),
                    w: 1,
                };
                SCRATCH.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.len() < n + 1 {
                        s.resize(n + 1, 0.0);
                    }
                    match op {
                        Op::Explicit => rows.explicit(xs, &mut s[..1], transpose, a),
                        Op::Implicit => rows.implicit(xs, &mut s[..n], transpose, a),
                    }
                });
            });
        return;
    }
    let mut x3 = x
        .into_shape_with_order(dims)
        .expect("fields are in standard layout");
    let lo3 = lo
        .into_shape_with_order(dims)
        .expect("coefficients are in standard layout");
    let up3 = up
        .into_shape_with_order(dims)
        .expect("coefficients are in standard layout");
    x3.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(lo3.axis_iter(Axis(0)).into_par_iter())
        .zip(up3.axis_iter(Axis(0)).into_par_iter())
        .for_each(|((mut xo, loo), upo)| {
            xo.axis_chunks_iter_mut(Axis(1), BLOCK)
                .into_par_iter()
                .zip(loo.axis_chunks_iter(Axis(1), BLOCK).into_par_iter())
                .zip(upo.axis_chunks_iter(Axis(1), BLOCK).into_par_iter())
                .for_each(|((xb, lb), ub)| block(xb, lb, ub, op, transpose, a));
        });
}

/// Copies the (n × w) view `src` (contiguous rows) into the row-major slice `dst`.
fn gather(dst: &mut [f64], src: &ArrayView2<'_, f64>) {
    let w = src.ncols();
    for (row, s) in dst.chunks_exact_mut(w).zip(src.rows()) {
        row.copy_from_slice(s.to_slice().expect("a block's rows are contiguous"));
    }
}

/// One block of lines: columns of the (n × w) views, one line per column.
fn block(
    mut xb: ArrayViewMut2<'_, f64>,
    lb: ArrayView2<'_, f64>,
    ub: ArrayView2<'_, f64>,
    op: Op,
    transpose: bool,
    a: f64,
) {
    let (n, w) = xb.dim();
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let len = n * w;
        if s.len() < 4 * len + w {
            s.resize(4 * len + w, 0.0);
        }
        let (xs, rest) = s.split_at_mut(len);
        let (los, rest) = rest.split_at_mut(len);
        let (ups, rest) = rest.split_at_mut(len);
        let (work, rest) = rest.split_at_mut(len);
        gather(xs, &xb.view());
        gather(los, &lb);
        gather(ups, &ub);
        let rows = Rows {
            lo: los,
            up: ups,
            w,
        };
        match op {
            Op::Explicit => rows.explicit(xs, &mut rest[..w], transpose, a),
            Op::Implicit => rows.implicit(xs, work, transpose, a),
        }
        for (row, mut d) in xs.chunks_exact(w).zip(xb.rows_mut()) {
            d.as_slice_mut()
                .expect("a block's rows are contiguous")
                .copy_from_slice(row);
        }
    });
}

/// The coefficients of a block, row-major (n × w).
struct Rows<'a> {
    lo: &'a [f64],
    up: &'a [f64],
    w: usize,
}

impl Rows<'_> {
    fn n(&self) -> usize {
        self.lo.len() / self.w
    }

    /// Off-diagonal couplings of row j, line r: (to x_{j−1}, to x_{j+1}) of L or of Lᵀ.
    #[inline(always)]
    fn couplings(&self, j: usize, r: usize, transpose: bool) -> (f64, f64) {
        let (n, w) = (self.n(), self.w);
        if transpose {
            let l = if j > 0 { self.up[(j - 1) * w + r] } else { 0.0 };
            let u = if j + 1 < n {
                self.lo[(j + 1) * w + r]
            } else {
                0.0
            };
            (l, u)
        } else {
            (self.lo[j * w + r], self.up[j * w + r])
        }
    }

    /// Diagonal −c_j = −(lo_j + up_j) of row j, line r (the same for L and Lᵀ).
    #[inline(always)]
    fn centre(&self, j: usize, r: usize) -> f64 {
        let q = j * self.w + r;
        self.lo[q] + self.up[q]
    }

    /// x ← (I + aL)x (or with Lᵀ) on every line; `prev` holds x_{j−1} per line.
    fn explicit(&self, x: &mut [f64], prev: &mut [f64], transpose: bool, a: f64) {
        let (n, w) = (self.n(), self.w);
        prev.fill(0.0);
        for j in 0..n {
            for r in 0..w {
                // y_j = x_j + a(l_j x_{j−1} − c_j x_j + u_j x_{j+1}).
                let (l, u) = self.couplings(j, r, transpose);
                let c = self.centre(j, r);
                let next = if j + 1 < n { x[(j + 1) * w + r] } else { 0.0 };
                let cur = x[j * w + r];
                x[j * w + r] = cur + a * (l * prev[r] - c * cur + u * next);
                prev[r] = cur;
            }
        }
    }

    /// x ← (I − aL)⁻¹x (or with Lᵀ) on every line by the Thomas algorithm; `work` holds
    /// the upper multipliers.
    fn implicit(&self, x: &mut [f64], work: &mut [f64], transpose: bool, a: f64) {
        let (n, w) = (self.n(), self.w);
        // Row j: −a l_j x_{j−1} + (1 + a c_j) x_j − a u_j x_{j+1} = r_j.
        // Forward elimination: work_j = upper multiplier, x_j = modified rhs.
        for r in 0..w {
            let (_, u0) = self.couplings(0, r, transpose);
            let diag = 1.0 + a * self.centre(0, r);
            work[r] = -a * u0 / diag;
            x[r] /= diag;
        }
        for j in 1..n {
            for r in 0..w {
                let (l, u) = self.couplings(j, r, transpose);
                let sub = -a * l;
                let diag = 1.0 + a * self.centre(j, r) - sub * work[(j - 1) * w + r];
                work[j * w + r] = -a * u / diag;
                x[j * w + r] = (x[j * w + r] - sub * x[(j - 1) * w + r]) / diag;
            }
        }
        for j in (0..n - 1).rev() {
            for r in 0..w {
                x[j * w + r] -= work[j * w + r] * x[(j + 1) * w + r];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ArrayD, IxDyn};

    fn dense(lo: &[f64], up: &[f64], transpose: bool) -> Array2<f64> {
        let n = lo.len();
        let mut l = Array2::zeros((n, n));
        for j in 0..n {
            if j > 0 {
                l[[j, j - 1]] = lo[j];
            }
            if j + 1 < n {
                l[[j, j + 1]] = up[j];
            }
            l[[j, j]] = -(lo[j] + up[j]);
        }
        if transpose {
            l.reversed_axes()
        } else {
            l
        }
    }

    #[test]
    fn line_operators_match_dense_matrices() {
        let n = 7;
        let lo: Vec<f64> = (0..n)
            .map(|j| if j == 0 { 0.0 } else { 0.3 + 0.1 * j as f64 })
            .collect();
        let up: Vec<f64> = (0..n)
            .map(|j| {
                if j + 1 == n {
                    0.0
                } else {
                    1.1 - 0.05 * j as f64
                }
            })
            .collect();
        let x0: Vec<f64> = (0..n).map(|j| (j as f64 * 0.7).sin() + 0.2).collect();
        let a = 0.4;
        for transpose in [false, true] {
            let l = dense(&lo, &up, transpose);
            let eye = Array2::<f64>::eye(n);
            let g = &eye + &(&l * a);
            let f = &eye - &(&l * a);
            let xv = ndarray::Array1::from(x0.clone());
            let mut x = ArrayD::from_shape_vec(IxDyn(&[n]), x0.clone()).unwrap();
            let lod = ArrayD::from_shape_vec(IxDyn(&[n]), lo.clone()).unwrap();
            let upd = ArrayD::from_shape_vec(IxDyn(&[n]), up.clone()).unwrap();
            apply(
                x.view_mut(),
                lod.view(),
                upd.view(),
                0,
                Op::Explicit,
                transpose,
                a,
            );
            let want = g.dot(&xv);
            for j in 0..n {
                assert!((x[[j]] - want[j]).abs() < 1e-14);
            }
            apply(
                x.view_mut(),
                lod.view(),
                upd.view(),
                0,
                Op::Implicit,
                transpose,
                a,
            );
            let back = f.dot(&ndarray::Array1::from(
                x.iter().cloned().collect::<Vec<_>>(),
            ));
            for j in 0..n {
                assert!((back[j] - want[j]).abs() < 1e-13, "{transpose} {j}");
            }
        }
    }

    /// Along an axis other than the last, lines go in blocks (a partial one here: 37 =
    /// 16 + 16 + 5 lines); every line gives the same bits as alone on a 1-D grid.
    #[test]
    fn blocks_of_lines_give_the_bits_of_single_lines() {
        let (n, m) = (7, 37);
        let f = |j: usize, r: usize, s: f64| ((j * m + r) as f64 * s).sin().abs() + 0.1;
        let x0 = ArrayD::from_shape_fn(IxDyn(&[n, m]), |i| f(i[0], i[1], 0.37) - 0.5);
        let lo = ArrayD::from_shape_fn(IxDyn(&[n, m]), |i| {
            if i[0] == 0 {
                0.0
            } else {
                f(i[0], i[1], 0.11)
            }
        });
        let up = ArrayD::from_shape_fn(IxDyn(&[n, m]), |i| {
            if i[0] + 1 == n {
                0.0
            } else {
                f(i[0], i[1], 0.23)
            }
        });
        for op in [Op::Explicit, Op::Implicit] {
            for transpose in [false, true] {
                let mut x = x0.clone();
                apply(x.view_mut(), lo.view(), up.view(), 0, op, transpose, 0.3);
                for r in 0..m {
                    let col =
                        |a: &ArrayD<f64>| ArrayD::from_shape_fn(IxDyn(&[n]), |i| a[[i[0], r]]);
                    let mut line = col(&x0);
                    apply(
                        line.view_mut(),
                        col(&lo).view(),
                        col(&up).view(),
                        0,
                        op,
                        transpose,
                        0.3,
                    );
                    for j in 0..n {
                        assert_eq!(
                            x[[j, r]].to_bits(),
                            line[[j]].to_bits(),
                            "{op:?} {transpose} line {r} node {j}"
                        );
                    }
                }
            }
        }
    }
}
