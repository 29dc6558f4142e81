//! The inner loops of the sweeps: drift/source pass, tridiagonal line solves (and their
//! transposes), terminal condition, finiteness check. See the module docs of
//! [`crate::sweep`] for the scheme; everything here is parallel over fixed tasks and every
//! output element is computed by exactly one task from inputs no task writes, so results
//! are bit-identical for any number of threads.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use super::par::SharedMut;
use crate::grid::{Grid, MAX_DIM};
use rayon::prelude::*;

/// Columns of one task in the sweeps along a non-contiguous axis (fixed, thread-count
/// independent; a multiple of the SIMD width).
pub(crate) const BLOCK: usize = 32;

pub(crate) type M3 = [[f64; MAX_DIM]; MAX_DIM];

/// Everything the kernels need about the grid, the coefficients and the time step.
#[derive(Debug, Clone)]
pub(crate) struct Geometry {
    pub d: usize,
    pub len: usize,
    pub shape: [usize; MAX_DIM],
    pub strides: [usize; MAX_DIM],
    pub lo: [f64; MAX_DIM],
    pub h: [f64; MAX_DIM],
    pub inv_h: [f64; MAX_DIM],
    pub inv_2h: [f64; MAX_DIM],
    /// A (drift b = A p).
    pub a: M3,
    /// ½Q (running cost ½wᵀQw).
    pub half_q: M3,
    /// ½S (terminal cost).
    pub half_s: M3,
    pub dt: f64,
    /// σ²/2.
    pub diff: f64,
    /// dt/h_i: upwind drift coefficient of (I − dt L_i).
    pub c1: [f64; MAX_DIM],
    /// dt σ²/(2h_i²): diffusion coefficient of (I − dt L_i).
    pub c2: [f64; MAX_DIM],
    /// Row tasks: row length, rows, rows per task, tasks.
    pub nl: usize,
    pub rows: usize,
    pub per: usize,
    pub tasks: usize,
}

impl Geometry {
    pub(crate) fn new(grid: &Grid, a: M3, q: M3, s: M3, sigma: f64, dt: f64) -> Self {
        let d = grid.dim();
        let mut g = Geometry {
            d,
            len: grid.len(),
            shape: [1; MAX_DIM],
            strides: [1; MAX_DIM],
            lo: [0.0; MAX_DIM],
            h: [1.0; MAX_DIM],
            inv_h: [0.0; MAX_DIM],
            inv_2h: [0.0; MAX_DIM],
            a,
            half_q: [[0.0; MAX_DIM]; MAX_DIM],
            half_s: [[0.0; MAX_DIM]; MAX_DIM],
            dt,
            diff: 0.5 * sigma * sigma,
            c1: [0.0; MAX_DIM],
            c2: [0.0; MAX_DIM],
            nl: 0,
            rows: 0,
            per: 0,
            tasks: 0,
        };
        let diff = g.diff;
        for i in 0..d {
            let ax = grid.axis(i);
            g.shape[i] = ax.len();
            g.strides[i] = grid.strides()[i];
            g.lo[i] = ax.lo();
            g.h[i] = ax.spacing();
            g.inv_h[i] = 1.0 / ax.spacing();
            g.inv_2h[i] = 0.5 / ax.spacing();
            g.c1[i] = dt / ax.spacing();
            g.c2[i] = dt * diff / (ax.spacing() * ax.spacing());
            for k in 0..d {
                g.half_q[i][k] = 0.5 * q[i][k];
                g.half_s[i][k] = 0.5 * s[i][k];
            }
        }
        let (nl, rows, per, tasks) = grid.row_tasks();
        g.nl = nl;
        g.rows = rows;
        g.per = per;
        g.tasks = tasks;
        g
    }
}

#[inline(always)]
fn pos(b: f64) -> f64 {
    if b > 0.0 {
        b
    } else {
        0.0
    }
}

#[inline(always)]
fn neg(b: f64) -> f64 {
    if b < 0.0 {
        -b
    } else {
        0.0
    }
}

/// Drift b = A∇v (centred differences inside, one-sided at the boundary) into `b[0..d]`,
/// and, when `hji = Some((rhs, ρ))`, the right-hand side `rhs = v + dt g` with
/// `g = ½(ρ−x)ᵀQ(ρ−x) − ½ b·∇v` (= f − ½bᵀA⁻¹b at b = A∇v).
pub(crate) fn drift_pass(
    g: &Geometry,
    v: &[f64],
    b: &mut [Vec<f64>],
    hji: Option<(&mut [f64], &[f64])>,
) {
    debug_assert_eq!(v.len(), g.len);
    let bs: Vec<SharedMut<'_>> = b.iter_mut().map(|x| SharedMut::new(x)).collect();
    let mut dummy: [f64; 0] = [];
    match hji {
        Some((rhs, rho)) => {
            let r = SharedMut::new(rhs);
            match g.d {
                1 => drift_d::<1, true>(g, v, [bs[0]], r, [rho[0]]),
                2 => drift_d::<2, true>(g, v, [bs[0], bs[1]], r, [rho[0], rho[1]]),
                _ => drift_d::<3, true>(g, v, [bs[0], bs[1], bs[2]], r, [rho[0], rho[1], rho[2]]),
            }
        }
        None => {
            let r = SharedMut::new(&mut dummy);
            match g.d {
                1 => drift_d::<1, false>(g, v, [bs[0]], r, [0.0]),
                2 => drift_d::<2, false>(g, v, [bs[0], bs[1]], r, [0.0; 2]),
                _ => drift_d::<3, false>(g, v, [bs[0], bs[1], bs[2]], r, [0.0; 3]),
            }
        }
    }
}

fn drift_d<const D: usize, const HJI: bool>(
    g: &Geometry,
    v: &[f64],
    b: [SharedMut<'_>; D],
    rhs: SharedMut<'_>,
    rho: [f64; D],
) {
    let nl = g.nl;
    (0..g.tasks).into_par_iter().for_each(|t| {
        let r1 = ((t + 1) * g.per).min(g.rows);
        for r in t * g.per..r1 {
            let off = r * nl;
            let mut up = [off; D];
            let mut dn = [off; D];
            let mut inv = [0.0; D];
            let mut w = [0.0; D];
            let mut rem = r;
            for k in (0..D - 1).rev() {
                let i = rem % g.shape[k];
                rem /= g.shape[k];
                let s = g.strides[k];
                if i == 0 {
                    up[k] = off + s;
                    inv[k] = g.inv_h[k];
                } else if i == g.shape[k] - 1 {
                    dn[k] = off - s;
                    inv[k] = g.inv_h[k];
                } else {
                    up[k] = off + s;
                    dn[k] = off - s;
                    inv[k] = g.inv_2h[k];
                }
                w[k] = rho[k] - (g.lo[k] + i as f64 * g.h[k]);
            }
            let vr = &v[off..off + nl];
            let vu: [&[f64]; D] = std::array::from_fn(|k| &v[up[k]..up[k] + nl]);
            let vd: [&[f64]; D] = std::array::from_fn(|k| &v[dn[k]..dn[k] + nl]);
            // SAFETY: rows [off, off + nl) belong to this task only (tasks own disjoint row ranges).
            let mut bo: [&mut [f64]; D] = std::array::from_fn(|k| unsafe { b[k].slice(off, nl) });
            let ro: &mut [f64] = if HJI {
                // SAFETY: as above.
                unsafe { rhs.slice(off, nl) }
            } else {
                &mut []
            };
            let l = D - 1;
            let rho_l = rho[l];
            node::<D, HJI>(
                g,
                0,
                (vr[1] - vr[0]) * g.inv_h[l],
                vr,
                &vu,
                &vd,
                &inv,
                &w,
                rho_l,
                &mut bo,
                ro,
            );
            for j in 1..nl - 1 {
                let pl = (vr[j + 1] - vr[j - 1]) * g.inv_2h[l];
                node::<D, HJI>(g, j, pl, vr, &vu, &vd, &inv, &w, rho_l, &mut bo, ro);
            }
            let pl = (vr[nl - 1] - vr[nl - 2]) * g.inv_h[l];
            node::<D, HJI>(g, nl - 1, pl, vr, &vu, &vd, &inv, &w, rho_l, &mut bo, ro);
        }
    });
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn node<const D: usize, const HJI: bool>(
    g: &Geometry,
    j: usize,
    p_last: f64,
    vr: &[f64],
    vu: &[&[f64]; D],
    vd: &[&[f64]; D],
    inv: &[f64; D],
    w_outer: &[f64; D],
    rho_last: f64,
    bo: &mut [&mut [f64]; D],
    ro: &mut [f64],
) {
    let mut p = [0.0; D];
    for k in 0..D - 1 {
        p[k] = (vu[k][j] - vd[k][j]) * inv[k];
    }
    p[D - 1] = p_last;
    let mut bp = 0.0;
    for i in 0..D {
        let mut s = 0.0;
        for k in 0..D {
            s += g.a[i][k] * p[k];
        }
        bo[i][j] = s;
        bp += s * p[i];
    }
    if HJI {
        let mut w = *w_outer;
        w[D - 1] = rho_last - (g.lo[D - 1] + j as f64 * g.h[D - 1]);
        let mut f = 0.0;
        for i in 0..D {
            for k in 0..D {
                f += g.half_q[i][k] * w[i] * w[k];
            }
        }
        ro[j] = vr[j] + g.dt * (f - 0.5 * bp);
    }
}

/// Terminal condition v = ½(ρ−x)ᵀS(ρ−x) into `out`.
pub(crate) fn terminal_pass(g: &Geometry, out: &mut [f64], rho: &[f64]) {
    let d = g.d;
    let nl = g.nl;
    out.par_chunks_mut(g.per * nl)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (rr, row) in chunk.chunks_mut(nl).enumerate() {
                let mut rem = t * g.per + rr;
                let mut w = [0.0; MAX_DIM];
                for k in (0..d - 1).rev() {
                    let i = rem % g.shape[k];
                    rem /= g.shape[k];
                    w[k] = rho[k] - (g.lo[k] + i as f64 * g.h[k]);
                }
                for (j, o) in row.iter_mut().enumerate() {
                    w[d - 1] = rho[d - 1] - (g.lo[d - 1] + j as f64 * g.h[d - 1]);
                    let mut f = 0.0;
                    for i in 0..d {
                        for k in 0..d {
                            f += g.half_s[i][k] * w[i] * w[k];
                        }
                    }
                    *o = f;
                }
            }
        });
}

/// True when every entry is finite (bit test on the exponent; vectorisable).
pub(crate) fn all_finite(g: &Geometry, x: &[f64]) -> bool {
    x.par_chunks(g.per * g.nl).all(|c| {
        let mut bad = 0u64;
        for &v in c {
            bad |= ((v.to_bits() >> 52) & 0x7ff == 0x7ff) as u64;
        }
        bad == 0
    })
}

/// Applies E_axis = (I − dt L_axis)⁻¹ (or its transpose) to `x` in place; `b` holds the
/// drift component b_axis on entry and is overwritten (elimination coefficients).
pub(crate) fn solve_axis(g: &Geometry, axis: usize, transpose: bool, x: &mut [f64], b: &mut [f64]) {
    let n = g.shape[axis];
    let inner = g.strides[axis];
    let (c1, c2) = (g.c1[axis], g.c2[axis]);
    if inner == 1 {
        let chunk = g.per * n;
        x.par_chunks_mut(chunk)
            .zip(b.par_chunks_mut(chunk))
            .for_each(|(xc, bc)| {
                for (xr, br) in xc.chunks_mut(n).zip(bc.chunks_mut(n)) {
                    if transpose {
                        line_t(xr, br, c1, c2);
                    } else {
                        line(xr, br, c1, c2);
                    }
                }
            });
    } else {
        let outer = g.len / (n * inner);
        let nchunks = inner.div_ceil(BLOCK);
        let xs = SharedMut::new(x);
        let bs = SharedMut::new(b);
        (0..outer * nchunks).into_par_iter().for_each(|t| {
            let (o, c) = (t / nchunks, t % nchunks);
            let k0 = c * BLOCK;
            let w = BLOCK.min(inner - k0);
            let base = o * n * inner + k0;
            // SAFETY: task t owns the columns [k0, k0 + w) of slab o, i.e. the elements
            // base + j·inner + [0, w) for j < n; distinct tasks own disjoint sets.
            unsafe {
                if transpose {
                    block_t(xs, bs, base, n, inner, w, c1, c2);
                } else {
                    block(xs, bs, base, n, inner, w, c1, c2);
                }
            }
        });
    }
}

/// Thomas algorithm for (I − dt L) x = r on one contiguous line, L = upwind drift +
/// diffusion with reflecting ends: sub-diagonal −α_j, super-diagonal −β_j, diagonal
/// 1 + α_j + β_j, α_j = c1 b_j⁻ + c2 (0 at j = 0), β_j = c1 b_j⁺ + c2 (0 at j = n−1).
/// Elimination: e_j = β_j/den_j, den_j = 1 + β_j + α_j(1 − e_{j−1}); x_j = r'_j + e_j x_{j+1}.
#[inline]
pub(crate) fn line(x: &mut [f64], bb: &mut [f64], c1: f64, c2: f64) {
    let n = x.len();
    debug_assert!(n >= 3 && bb.len() == n);
    let beta = c1 * pos(bb[0]) + c2;
    let inv = 1.0 / (1.0 + beta);
    let mut e = beta * inv;
    let mut r = x[0] * inv;
    bb[0] = e;
    x[0] = r;
    for j in 1..n - 1 {
        let b = bb[j];
        let alpha = c1 * neg(b) + c2;
        let beta = c1 * pos(b) + c2;
        let inv = 1.0 / (1.0 + beta + alpha * (1.0 - e));
        e = beta * inv;
        r = (x[j] + alpha * r) * inv;
        bb[j] = e;
        x[j] = r;
    }
    let alpha = c1 * neg(bb[n - 1]) + c2;
    let mut xn = (x[n - 1] + alpha * r) / (1.0 + alpha * (1.0 - e));
    x[n - 1] = xn;
    for j in (0..n - 1).rev() {
        xn = x[j] + bb[j] * xn;
        x[j] = xn;
    }
}

/// Thomas algorithm for the transpose (I − dt L)ᵀ y = m on one contiguous line:
/// sub-diagonal −β_{j−1}, super-diagonal −α_{j+1}, same diagonal as [`line`].
#[inline]
pub(crate) fn line_t(x: &mut [f64], bb: &mut [f64], c1: f64, c2: f64) {
    let n = x.len();
    debug_assert!(n >= 3 && bb.len() == n);
    let beta0 = c1 * pos(bb[0]) + c2;
    let alpha1 = c1 * neg(bb[1]) + c2;
    let inv = 1.0 / (1.0 + beta0);
    let mut e = alpha1 * inv;
    let mut r = x[0] * inv;
    bb[0] = e;
    x[0] = r;
    let mut beta_prev = beta0;
    for j in 1..n - 1 {
        let b = bb[j];
        let alpha = c1 * neg(b) + c2;
        let beta = c1 * pos(b) + c2;
        let alpha_next = c1 * neg(bb[j + 1]) + c2;
        let inv = 1.0 / (1.0 + alpha + beta - beta_prev * e);
        r = (x[j] + beta_prev * r) * inv;
        e = alpha_next * inv;
        bb[j] = e;
        x[j] = r;
        beta_prev = beta;
    }
    let alpha = c1 * neg(bb[n - 1]) + c2;
    let mut xn = (x[n - 1] + beta_prev * r) / (1.0 + alpha - beta_prev * e);
    x[n - 1] = xn;
    for j in (0..n - 1).rev() {
        xn = x[j] + bb[j] * xn;
        x[j] = xn;
    }
}

/// [`line`] on `w ≤ BLOCK` independent lines along a non-contiguous axis, vectorised across
/// lines: element (j, k) at `base + j·inner + k`.
///
/// # Safety
/// The caller owns these elements of `xs` and `bs` exclusively.
#[allow(clippy::too_many_arguments)]
unsafe fn block<'a>(
    xs: SharedMut<'a>,
    bs: SharedMut<'a>,
    base: usize,
    n: usize,
    inner: usize,
    w: usize,
    c1: f64,
    c2: f64,
) {
    // SAFETY (all `slice` calls): rows of this task; at most one &mut per row alive at once
    // and rows j−1, j, j+1 are distinct.
    let row =
        |s: &SharedMut<'a>, j: usize| -> &'a mut [f64] { unsafe { s.slice(base + j * inner, w) } };
    {
        let (x0, b0) = (row(&xs, 0), row(&bs, 0));
        for (x, b) in x0.iter_mut().zip(b0.iter_mut()) {
            let beta = c1 * pos(*b) + c2;
            let inv = 1.0 / (1.0 + beta);
            *b = beta * inv;
            *x *= inv;
        }
    }
    for j in 1..n - 1 {
        let (xp, ep) = (&*row(&xs, j - 1), &*row(&bs, j - 1));
        let (xc, bc) = (row(&xs, j), row(&bs, j));
        for (((x, b), &xp), &ep) in xc.iter_mut().zip(bc.iter_mut()).zip(xp).zip(ep) {
            let bv = *b;
            let alpha = c1 * neg(bv) + c2;
            let beta = c1 * pos(bv) + c2;
            let inv = 1.0 / (1.0 + beta + alpha * (1.0 - ep));
            *b = beta * inv;
            *x = (*x + alpha * xp) * inv;
        }
    }
    {
        let j = n - 1;
        let (xp, ep) = (&*row(&xs, j - 1), &*row(&bs, j - 1));
        let (xc, bc) = (row(&xs, j), &*row(&bs, j));
        for (((x, &b), &xp), &ep) in xc.iter_mut().zip(bc).zip(xp).zip(ep) {
            let alpha = c1 * neg(b) + c2;
            *x = (*x + alpha * xp) / (1.0 + alpha * (1.0 - ep));
        }
    }
    back_substitute(xs, bs, base, n, inner, w);
}

/// [`line_t`] on `w ≤ BLOCK` lines along a non-contiguous axis (see [`block`]).
///
/// # Safety
/// The caller owns these elements of `xs` and `bs` exclusively.
#[allow(clippy::too_many_arguments)]
unsafe fn block_t<'a>(
    xs: SharedMut<'a>,
    bs: SharedMut<'a>,
    base: usize,
    n: usize,
    inner: usize,
    w: usize,
    c1: f64,
    c2: f64,
) {
    // SAFETY: as in `block`.
    let row =
        |s: &SharedMut<'a>, j: usize| -> &'a mut [f64] { unsafe { s.slice(base + j * inner, w) } };
    let mut beta_prev = [0.0f64; BLOCK];
    let beta_prev = &mut beta_prev[..w];
    {
        let (x0, b0, b1) = (row(&xs, 0), row(&bs, 0), &*row(&bs, 1));
        for (((x, b), &bn), bp) in x0
            .iter_mut()
            .zip(b0.iter_mut())
            .zip(b1)
            .zip(beta_prev.iter_mut())
        {
            let beta0 = c1 * pos(*b) + c2;
            let alpha1 = c1 * neg(bn) + c2;
            let inv = 1.0 / (1.0 + beta0);
            *b = alpha1 * inv;
            *x *= inv;
            *bp = beta0;
        }
    }
    for j in 1..n - 1 {
        let (xp, ep) = (&*row(&xs, j - 1), &*row(&bs, j - 1));
        let (xc, bc, bn) = (row(&xs, j), row(&bs, j), &*row(&bs, j + 1));
        for (((((x, b), &bn), &xp), &ep), bp) in xc
            .iter_mut()
            .zip(bc.iter_mut())
            .zip(bn)
            .zip(xp)
            .zip(ep)
            .zip(beta_prev.iter_mut())
        {
            let bv = *b;
            let alpha = c1 * neg(bv) + c2;
            let beta = c1 * pos(bv) + c2;
            let alpha_next = c1 * neg(bn) + c2;
            let inv = 1.0 / (1.0 + alpha + beta - *bp * ep);
            *x = (*x + *bp * xp) * inv;
            *b = alpha_next * inv;
            *bp = beta;
        }
    }
    {
        let j = n - 1;
        let (xp, ep) = (&*row(&xs, j - 1), &*row(&bs, j - 1));
        let (xc, bc) = (row(&xs, j), &*row(&bs, j));
        for ((((x, &b), &xp), &ep), &bp) in
            xc.iter_mut().zip(bc).zip(xp).zip(ep).zip(beta_prev.iter())
        {
            let alpha = c1 * neg(b) + c2;
            *x = (*x + bp * xp) / (1.0 + alpha - bp * ep);
        }
    }
    back_substitute(xs, bs, base, n, inner, w);
}

/// x_j += e_j x_{j+1}, j = n−2 … 0, on a block of lines.
///
/// # Safety
/// As for [`block`].
unsafe fn back_substitute<'a>(
    xs: SharedMut<'a>,
    bs: SharedMut<'a>,
    base: usize,
    n: usize,
    inner: usize,
    w: usize,
) {
    // SAFETY: as in `block`.
    let row =
        |s: &SharedMut<'a>, j: usize| -> &'a mut [f64] { unsafe { s.slice(base + j * inner, w) } };
    for j in (0..n - 1).rev() {
        let xn = &*row(&xs, j + 1);
        let (xc, ec) = (row(&xs, j), &*row(&bs, j));
        for ((x, &e), &xn) in xc.iter_mut().zip(ec).zip(xn) {
            *x += e * xn;
        }
    }
}
