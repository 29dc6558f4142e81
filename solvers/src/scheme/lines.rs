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
//! Every line is processed by one task with its own scratch, so the result does not
//! depend on how rayon distributes the lines (bit-identical for any thread count).

use ndarray::{ArrayViewD, ArrayViewMutD, Axis, Zip};
use std::cell::RefCell;

/// Which factor to apply along the lines of one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// x ← (I + a L_i) x, or its transpose.
    Explicit,
    /// x ← (I − a L_i)⁻¹ x, or its transpose.
    Implicit,
}

thread_local! {
    /// Per-thread scratch for one line: x, lo, up, the Thomas multipliers.
    static LINE: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

/// Applies `op` (or its transpose) with coefficient `a` along every line of `axis` of
/// `x`, the generator's coefficients being `lo`, `up` (same shape as `x`).
pub(crate) fn apply(
    mut x: ArrayViewMutD<'_, f64>,
    lo: ArrayViewD<'_, f64>,
    up: ArrayViewD<'_, f64>,
    axis: usize,
    op: Op,
    transpose: bool,
    a: f64,
) {
    let ax = Axis(axis);
    Zip::from(x.lanes_mut(ax))
        .and(lo.lanes(ax))
        .and(up.lanes(ax))
        .par_for_each(|mut xl, lol, upl| {
            let n = xl.len();
            LINE.with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < 4 * n {
                    s.resize(4 * n, 0.0);
                }
                let (xs, rest) = s.split_at_mut(n);
                let (los, rest) = rest.split_at_mut(n);
                let (ups, work) = rest.split_at_mut(n);
                for (d, v) in xs.iter_mut().zip(xl.iter()) {
                    *d = *v;
                }
                for (d, v) in los.iter_mut().zip(lol.iter()) {
                    *d = *v;
                }
                for (d, v) in ups.iter_mut().zip(upl.iter()) {
                    *d = *v;
                }
                line(xs, los, ups, &mut work[..n], op, transpose, a);
                for (d, v) in xl.iter_mut().zip(xs.iter()) {
                    *d = *v;
                }
            });
        });
}

/// Off-diagonal couplings of row j: (to x_{j−1}, to x_{j+1}) of L or of Lᵀ.
#[inline(always)]
fn couplings(lo: &[f64], up: &[f64], j: usize, transpose: bool) -> (f64, f64) {
    let n = lo.len();
    if transpose {
        let l = if j > 0 { up[j - 1] } else { 0.0 };
        let u = if j + 1 < n { lo[j + 1] } else { 0.0 };
        (l, u)
    } else {
        (lo[j], up[j])
    }
}

/// One line: x ← (I + aL)x or (I − aL)⁻¹x (or with Lᵀ); `work` has x's length.
fn line(x: &mut [f64], lo: &[f64], up: &[f64], work: &mut [f64], op: Op, transpose: bool, a: f64) {
    let n = x.len();
    match op {
        Op::Explicit => {
            // y_j = x_j + a(l_j x_{j−1} − c_j x_j + u_j x_{j+1}); x_{j−1} is kept in `prev`.
            let mut prev = 0.0;
            for j in 0..n {
                let (l, u) = couplings(lo, up, j, transpose);
                let c = lo[j] + up[j];
                let next = if j + 1 < n { x[j + 1] } else { 0.0 };
                let cur = x[j];
                x[j] = cur + a * (l * prev - c * cur + u * next);
                prev = cur;
            }
        }
        Op::Implicit => {
            // Row j: −a l_j x_{j−1} + (1 + a c_j) x_j − a u_j x_{j+1} = r_j.
            // Forward elimination: work_j = upper multiplier, x_j = modified rhs.
            let (_, u0) = couplings(lo, up, 0, transpose);
            let mut diag = 1.0 + a * (lo[0] + up[0]);
            work[0] = -a * u0 / diag;
            x[0] /= diag;
            for j in 1..n {
                let (l, u) = couplings(lo, up, j, transpose);
                let sub = -a * l;
                diag = 1.0 + a * (lo[j] + up[j]) - sub * work[j - 1];
                work[j] = -a * u / diag;
                x[j] = (x[j] - sub * x[j - 1]) / diag;
            }
            for j in (0..n - 1).rev() {
                x[j] -= work[j] * x[j + 1];
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
}
