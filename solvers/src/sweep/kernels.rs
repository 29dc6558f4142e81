//! The inner loops of the sweeps (scheme in the docs of [`crate::sweep`]).
//!
//! Two kinds of pass apply one splitting factor E_i = (I − dt L_i)⁻¹ (or its transpose):
//!
//! * the **row pass** (last, contiguous axis): rows are taken [`LANES`] at a time; the drift
//!   component and the right-hand side are computed along each row (SIMD along the row) and
//!   stored transposed in a small tile, the tridiagonal systems of the [`LANES`] rows are
//!   solved together (SIMD across rows, which hides the latency of the Thomas recurrence),
//!   and the results are written back. In the HJI the right-hand side v + dt g_{d−1} is
//!   formed here; in the FPK the moments of the new density are accumulated here.
//! * the **block pass** (any other axis i): the field is seen as (outer, n_i, inner) and a
//!   task sweeps along axis i over a segment of [`SEG`] consecutive nodes of one last-axis
//!   row (SIMD across the segment). In the HJI it first adds the factor's source share
//!   −dt b_i ∂_i v.
//!
//! Both compute the drift b_i(∇v) on the fly from the stored value function with the same
//! expressions ([`seg_grad`], [`Hamiltonian::drift_axis_seg`]), so the HJI and the FPK see
//! bit-identical coefficients without storing the drift. The task functions are generic
//! over the [`Hamiltonian`] and the [`RunningCost`] ([`crate::physics`]), instantiated
//! once per implementation like the dimension `D`, so the inner loops carry no physics
//! branch. Every pass is parallel over fixed tasks; each
//! output element is computed by exactly one task, so results are bit-identical for any
//! number of threads. The task functions are compiled twice, plain and with AVX2 (chosen
//! at run time); neither contracts a·b + c into an FMA, so both give identical bits.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths
#![allow(clippy::too_many_arguments)]

use super::par::SharedMut;
use crate::grid::{Grid, MomentPartial, MAX_DIM, ROW_GROUP};
use crate::physics::{
    with_hamiltonian, with_running_cost, Hamiltonian, ModelPhysics, RunningCost, Seg, M3, SEG,
};
use rayon::prelude::*;
use std::cell::RefCell;

/// Rows solved together in the row pass.
pub(crate) const LANES: usize = ROW_GROUP;

/// Everything the kernels need about the grid, the diffusion, the terminal cost and the
/// time step (the Hamiltonian and running cost come as [`crate::physics`] types).
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
    /// ½S (terminal cost).
    pub half_s: M3,
    pub dt: f64,
    /// σ²/2.
    pub diff: f64,
    /// dt/h_i: upwind drift coefficient of (I − dt L_i).
    pub c1: [f64; MAX_DIM],
    /// dt σ²/(2h_i²): diffusion coefficient of (I − dt L_i).
    pub c2: [f64; MAX_DIM],
    /// Row tasks: row length, rows, rows per task (multiple of LANES), tasks.
    pub nl: usize,
    pub rows: usize,
    pub per: usize,
    pub tasks: usize,
    /// Use the AVX2 build of the task functions.
    pub simd: bool,
    /// Coordinates of the last axis's nodes.
    pub xl: Vec<f64>,
    /// Their offsets from the box centre ([`Grid::last_offsets`]).
    pub zl: Vec<f64>,
}

impl Geometry {
    /// The best build of the task functions this CPU runs.
    pub(crate) fn detect_simd() -> bool {
        simd_available()
    }

    pub(crate) fn new(grid: &Grid, s: M3, sigma: f64, dt: f64) -> Self {
        let d = grid.dim();
        let xl = grid.axis(d - 1).nodes().to_vec();
        let (nl, rows, per, tasks) = grid.row_tasks();
        let mut g = Geometry {
            d,
            len: grid.len(),
            shape: [1; MAX_DIM],
            strides: [1; MAX_DIM],
            lo: [0.0; MAX_DIM],
            h: [1.0; MAX_DIM],
            inv_h: [0.0; MAX_DIM],
            inv_2h: [0.0; MAX_DIM],
            half_s: [[0.0; MAX_DIM]; MAX_DIM],
            dt,
            diff: 0.5 * sigma * sigma,
            c1: [0.0; MAX_DIM],
            c2: [0.0; MAX_DIM],
            nl,
            rows,
            per,
            tasks,
            simd: simd_available(),
            xl,
            zl: grid.last_offsets(),
        };
        for i in 0..d {
            let ax = grid.axis(i);
            let h = ax.spacing();
            g.shape[i] = ax.len();
            g.strides[i] = grid.strides()[i];
            g.lo[i] = ax.lo();
            g.h[i] = h;
            g.inv_h[i] = 1.0 / h;
            g.inv_2h[i] = 0.5 / h;
            g.c1[i] = dt / h;
            g.c2[i] = dt * g.diff / (h * h);
            for k in 0..d {
                g.half_s[i][k] = 0.5 * s[i][k];
            }
        }
        g
    }
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

thread_local! {
    /// Per-thread scratch (tiles of the row pass, drift column of the block pass); grown
    /// once, reused by every task the thread runs.
    static SCRATCH: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0.0);
        }
        f(&mut s[..len])
    })
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

/// Rows ahead that the strided sweeps prefetch.
const PREFETCH_ROWS: usize = 6;

/// Hints the cache to fetch the `w` doubles at `ptr` (a segment of a row reached with a large
/// stride, which hardware prefetchers do not follow). No effect on results.
#[inline(always)]
fn prefetch(ptr: *const f64, w: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = w * 8;
        let mut off = 0;
        while off < bytes + 63 {
            // SAFETY: prefetching never faults, whatever the address; `wrapping_add` keeps
            // the pointer arithmetic defined.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>((ptr as *const i8).wrapping_add(off.min(bytes - 1)))
            };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, w);
}

/// 1 when `v` is NaN or ±∞ (exponent bits all ones), else 0; vectorisable.
#[inline(always)]
fn nonfinite_bit(v: f64) -> u64 {
    ((v.to_bits() >> 52) & 0x7ff == 0x7ff) as u64
}

/// Outer multi-index (axes 0..D−1) of row `r`.
#[inline(always)]
fn row_outer<const D: usize>(g: &Geometry, r: usize) -> [usize; MAX_DIM] {
    let mut idx = [0usize; MAX_DIM];
    let mut rem = r;
    for k in (0..D - 1).rev() {
        idx[k] = rem % g.shape[k];
        rem /= g.shape[k];
    }
    idx
}

/// ∇v on the nodes j0..j0+w of row `r` (outer multi-index `idx`, see [`row_outer`]):
/// `p[k][q]` = ∂_k v at node j0 + q. Centred differences inside, one-sided on the boundary
/// faces.
#[inline(always)]
fn seg_grad<const D: usize>(
    g: &Geometry,
    v: &[f64],
    r: usize,
    idx: &[usize; MAX_DIM],
    j0: usize,
    w: usize,
    p: &mut Seg<D>,
) {
    let nl = g.nl;
    let off = r * nl;
    for k in 0..D - 1 {
        let s = g.strides[k];
        let (up, dn, inv) = if idx[k] == 0 {
            (off + s, off, g.inv_h[k])
        } else if idx[k] + 1 == g.shape[k] {
            (off, off - s, g.inv_h[k])
        } else {
            (off + s, off - s, g.inv_2h[k])
        };
        let vu = &v[up + j0..up + j0 + w];
        let vd = &v[dn + j0..dn + j0 + w];
        for ((pk, &a), &b) in p[k][..w].iter_mut().zip(vu).zip(vd) {
            *pk = (a - b) * inv;
        }
    }
    let l = D - 1;
    let row = &v[off..off + nl];
    let lo = j0.max(1);
    let hi = (j0 + w).min(nl - 1);
    if lo < hi {
        let ih2 = g.inv_2h[l];
        for ((pk, &a), &b) in p[l][lo - j0..hi - j0]
            .iter_mut()
            .zip(&row[lo + 1..hi + 1])
            .zip(&row[lo - 1..hi - 1])
        {
            *pk = (a - b) * ih2;
        }
    }
    if j0 == 0 {
        p[l][0] = (row[1] - row[0]) * g.inv_h[l];
    }
    if j0 + w == nl {
        p[l][w - 1] = (row[nl - 1] - row[nl - 2]) * g.inv_h[l];
    }
}

// ---------------------------------------------------------------------------------------
// Tridiagonal core
// ---------------------------------------------------------------------------------------

// Row updates of the elimination (one row = one node of `w` independent systems). Separate
// functions with distinct slice arguments let the compiler vectorise across the systems.

#[inline(always)]
fn fwd_first(x: &mut [f64], b: &mut [f64], c1: f64, c2: f64) {
    let n = x.len();
    let b = &mut b[..n];
    for k in 0..n {
        let beta = c1 * pos(b[k]) + c2;
        let inv = 1.0 / (1.0 + beta);
        b[k] = beta * inv;
        x[k] *= inv;
    }
}

#[inline(always)]
fn fwd_mid(x: &mut [f64], b: &mut [f64], xp: &[f64], ep: &[f64], c1: f64, c2: f64) {
    let n = x.len();
    let (b, xp, ep) = (&mut b[..n], &xp[..n], &ep[..n]);
    for k in 0..n {
        let bv = b[k];
        let alpha = c1 * neg(bv) + c2;
        let beta = c1 * pos(bv) + c2;
        let inv = 1.0 / (1.0 + beta + alpha * (1.0 - ep[k]));
        b[k] = beta * inv;
        x[k] = (x[k] + alpha * xp[k]) * inv;
    }
}

#[inline(always)]
fn fwd_last(x: &mut [f64], b: &[f64], xp: &[f64], ep: &[f64], c1: f64, c2: f64) {
    let n = x.len();
    let (b, xp, ep) = (&b[..n], &xp[..n], &ep[..n]);
    for k in 0..n {
        let alpha = c1 * neg(b[k]) + c2;
        x[k] = (x[k] + alpha * xp[k]) / (1.0 + alpha * (1.0 - ep[k]));
    }
}

#[inline(always)]
fn fwdt_first(x: &mut [f64], b: &mut [f64], bn: &[f64], bp: &mut [f64], c1: f64, c2: f64) {
    let n = x.len();
    let (b, bn, bp) = (&mut b[..n], &bn[..n], &mut bp[..n]);
    for k in 0..n {
        let beta0 = c1 * pos(b[k]) + c2;
        let alpha1 = c1 * neg(bn[k]) + c2;
        let inv = 1.0 / (1.0 + beta0);
        b[k] = alpha1 * inv;
        x[k] *= inv;
        bp[k] = beta0;
    }
}

#[inline(always)]
fn fwdt_mid(
    x: &mut [f64],
    b: &mut [f64],
    bn: &[f64],
    xp: &[f64],
    ep: &[f64],
    bp: &mut [f64],
    c1: f64,
    c2: f64,
) {
    let n = x.len();
    let (b, bn, xp, ep, bp) = (&mut b[..n], &bn[..n], &xp[..n], &ep[..n], &mut bp[..n]);
    for k in 0..n {
        let bv = b[k];
        let alpha = c1 * neg(bv) + c2;
        let beta = c1 * pos(bv) + c2;
        let alpha_next = c1 * neg(bn[k]) + c2;
        let inv = 1.0 / (1.0 + alpha + beta - bp[k] * ep[k]);
        x[k] = (x[k] + bp[k] * xp[k]) * inv;
        b[k] = alpha_next * inv;
        bp[k] = beta;
    }
}

#[inline(always)]
fn fwdt_last(x: &mut [f64], b: &[f64], xp: &[f64], ep: &[f64], bp: &[f64], c1: f64, c2: f64) {
    let n = x.len();
    let (b, xp, ep, bp) = (&b[..n], &xp[..n], &ep[..n], &bp[..n]);
    for k in 0..n {
        let alpha = c1 * neg(b[k]) + c2;
        x[k] = (x[k] + bp[k] * xp[k]) / (1.0 + alpha - bp[k] * ep[k]);
    }
}

#[inline(always)]
fn back_row(x: &mut [f64], e: &[f64], xn: &[f64]) -> u64 {
    let n = x.len();
    let (e, xn) = (&e[..n], &xn[..n]);
    let mut bad = 0u64;
    for k in 0..n {
        x[k] += e[k] * xn[k];
        bad |= nonfinite_bit(x[k]);
    }
    bad
}

/// Solves `w` independent tridiagonal systems of size `n` in place, vectorised across the
/// systems. Row j of the right-hand sides is `xs[xb + j·xst ..][..w]`, row j of the drift
/// component `bs[bb + j·bst ..][..w]` (overwritten with elimination coefficients).
///
/// The matrix of each system is M = I − dt L: sub-diagonal −α_j, super-diagonal −β_j,
/// diagonal 1 + α_j + β_j, with α_j = c1 b_j⁻ + c2 (0 at j = 0) and β_j = c1 b_j⁺ + c2
/// (0 at j = n−1). `T = false` solves M x = r: e_j = β_j/den_j,
/// den_j = 1 + β_j + α_j(1 − e_{j−1}), r'_j = (r_j + α_j r'_{j−1})/den_j,
/// x_j = r'_j + e_j x_{j+1}. `T = true` solves Mᵀ y = m, whose row j has −β_{j−1} below and
/// −α_{j+1} above the diagonal: den_j = 1 + α_j + β_j − β_{j−1} e_{j−1}, e_j = α_{j+1}/den_j,
/// r'_j = (m_j + β_{j−1} r'_{j−1})/den_j, y_j = r'_j + e_j y_{j+1}.
///
/// Returns a non-zero value if a result is not finite.
///
/// # Safety
/// The caller has exclusive access to these rows of `xs` and `bs`; `n ≥ 3`, `w ≤ max(SEG, LANES)`.
#[inline(always)]
unsafe fn thomas<'a, const T: bool>(
    xs: SharedMut<'a>,
    xb: usize,
    xst: usize,
    bs: SharedMut<'a>,
    bb: usize,
    bst: usize,
    n: usize,
    w: usize,
    c1: f64,
    c2: f64,
) -> u64 {
    // SAFETY (all `slice` calls): rows owned by the caller; rows j−1, j, j+1 are distinct and
    // every &mut row is dropped before the same row is borrowed again.
    let xr = |j: usize| -> &'a mut [f64] { unsafe { xs.slice(xb + j * xst, w) } };
    let br = |j: usize| -> &'a mut [f64] { unsafe { bs.slice(bb + j * bst, w) } };
    const MAXW: usize = if SEG > LANES { SEG } else { LANES };
    let mut beta_prev = [0.0f64; MAXW];
    let bp = &mut beta_prev[..w];
    if !T {
        fwd_first(xr(0), br(0), c1, c2);
        for j in 1..n - 1 {
            fwd_mid(xr(j), br(j), xr(j - 1), br(j - 1), c1, c2);
        }
        fwd_last(xr(n - 1), br(n - 1), xr(n - 2), br(n - 2), c1, c2);
    } else {
        fwdt_first(xr(0), br(0), br(1), bp, c1, c2);
        for j in 1..n - 1 {
            fwdt_mid(xr(j), br(j), br(j + 1), xr(j - 1), br(j - 1), bp, c1, c2);
        }
        fwdt_last(xr(n - 1), br(n - 1), xr(n - 2), br(n - 2), bp, c1, c2);
    }
    let mut bad = 0u64;
    for &x in xr(n - 1).iter() {
        bad |= nonfinite_bit(x);
    }
    for j in (0..n - 1).rev() {
        bad |= back_row(xr(j), br(j), xr(j + 1));
    }
    bad
}

// ---------------------------------------------------------------------------------------
// Row pass (last axis)
// ---------------------------------------------------------------------------------------

/// Rows `r0..r1` of the row pass with Hamiltonian `h` and running cost `c`. `HJI`: the
/// right-hand side is v + dt g_{d−1} (g from ρ: the running cost f along the row, then
/// [`Hamiltonian::last_source_seg`]), the output goes to `x`; otherwise `x` is solved in
/// place (`c` is not read). `T`: transposed factor. With `partial`, the moments of the
/// output rows are accumulated. Returns non-zero if an output is not finite.
#[inline(always)]
fn row_task<const D: usize, const HJI: bool, const T: bool, H: Hamiltonian, C: RunningCost>(
    g: &Geometry,
    h: &H,
    c: &C,
    grid: &Grid,
    v: &[f64],
    pol: Option<&[f64]>,
    x: SharedMut<'_>,
    rho: &[f64; MAX_DIM],
    r0: usize,
    r1: usize,
    mut partial: Option<&mut MomentPartial>,
    scratch: &mut [f64],
) -> u64 {
    let nl = g.nl;
    let l = D - 1;
    let (tx, tb) = scratch.split_at_mut(LANES * nl);
    let mut p = [[0.0; SEG]; D];
    let mut pp = [[0.0; SEG]; D];
    let mut lb = [[0.0f64; SEG]; LANES];
    let mut lx = [[0.0f64; SEG]; LANES];
    let mut bad = 0u64;
    let mut rg = r0;
    let mut idxs = [[0usize; MAX_DIM]; LANES];
    let mut costs = [C::Row::default(); LANES];
    while rg < r1 {
        let nr = LANES.min(r1 - rg);
        for lane in 0..nr {
            idxs[lane] = row_outer::<D>(g, rg + lane);
            if HJI {
                let mut xo = [0.0; MAX_DIM];
                for k in 0..l {
                    xo[k] = g.lo[k] + idxs[lane][k] as f64 * g.h[k];
                }
                costs[lane] = c.row::<D>(rho, &xo);
            }
        }
        // Phase 1: drift component and right-hand side along each row, then transposed
        // into the node-major tiles.
        for j0 in (0..nl).step_by(SEG) {
            let w = SEG.min(nl - j0);
            for lane in 0..nr {
                let r = rg + lane;
                let off = r * nl;
                let idx = &idxs[lane];
                seg_grad::<D>(g, v, r, idx, j0, w, &mut p);
                if let Some(pv) = pol {
                    seg_grad::<D>(g, pv, r, idx, j0, w, &mut pp);
                }
                let pd = if pol.is_some() { &pp } else { &p };
                if HJI {
                    // v + dt g_{d−1}: running cost f, then the Hamiltonian's share.
                    let vr = &v[off + j0..off + j0 + w];
                    let fg = &mut lx[lane][..w];
                    c.along_row::<D>(costs[lane], rho[l], &g.xl[j0..j0 + w], fg);
                    h.last_source_seg::<D>(&p, pd, &mut lb[lane][..w], fg);
                    for (o, &vq) in fg.iter_mut().zip(vr) {
                        *o = vq + g.dt * *o;
                    }
                } else {
                    h.drift_axis_seg::<D>(l, &p, pd, &mut lb[lane][..w]);
                    // SAFETY: row r belongs to this task; no other borrow of it is alive.
                    let xr = unsafe { x.slice(off + j0, w) };
                    lx[lane][..w].copy_from_slice(xr);
                }
            }
            // (a full group gets the constant trip count, which the compiler unrolls)
            let lanes = if nr == LANES { LANES } else { nr };
            for q in 0..w {
                let tbr = &mut tb[(j0 + q) * LANES..(j0 + q + 1) * LANES];
                let txr = &mut tx[(j0 + q) * LANES..(j0 + q + 1) * LANES];
                for lane in 0..lanes {
                    tbr[lane] = lb[lane][q];
                    txr[lane] = lx[lane][q];
                }
            }
        }
        // Phase 2: the nr ≤ LANES systems at once.
        // SAFETY: the tiles are this task's scratch.
        unsafe {
            thomas::<T>(
                SharedMut::new(tx),
                0,
                LANES,
                SharedMut::new(tb),
                0,
                LANES,
                nl,
                nr,
                g.c1[l],
                g.c2[l],
            );
        }
        // Phase 3: transpose back and write (and moments).
        for j0 in (0..nl).step_by(SEG) {
            let w = SEG.min(nl - j0);
            for q in 0..w {
                let txr = &tx[(j0 + q) * LANES..(j0 + q + 1) * LANES];
                for lane in 0..if nr == LANES { LANES } else { nr } {
                    lx[lane][q] = txr[lane];
                }
            }
            for lane in 0..nr {
                // SAFETY: row rg + lane belongs to this task; no other borrow of it is alive.
                let xr = unsafe { x.slice((rg + lane) * nl + j0, w) };
                for (o, &val) in xr.iter_mut().zip(&lx[lane][..w]) {
                    *o = val;
                    bad |= nonfinite_bit(val);
                }
            }
        }
        if let Some(acc) = partial.as_deref_mut() {
            for lane in 0..nr {
                let r = rg + lane;
                // SAFETY: as above (read only).
                let xr = unsafe { x.slice(r * nl, nl) };
                grid.accumulate_row(acc, r, xr, &g.zl);
            }
        }
        rg += nr;
    }
    bad
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_task_avx2<
    const D: usize,
    const HJI: bool,
    const T: bool,
    H: Hamiltonian,
    C: RunningCost,
>(
    g: &Geometry,
    h: &H,
    c: &C,
    grid: &Grid,
    v: &[f64],
    pol: Option<&[f64]>,
    x: SharedMut<'_>,
    rho: &[f64; MAX_DIM],
    r0: usize,
    r1: usize,
    partial: Option<&mut MomentPartial>,
    scratch: &mut [f64],
) -> u64 {
    row_task::<D, HJI, T, H, C>(g, h, c, grid, v, pol, x, rho, r0, r1, partial, scratch)
}

fn row_task_dispatch<
    const D: usize,
    const HJI: bool,
    const T: bool,
    H: Hamiltonian,
    C: RunningCost,
>(
    g: &Geometry,
    h: &H,
    c: &C,
    grid: &Grid,
    v: &[f64],
    pol: Option<&[f64]>,
    x: SharedMut<'_>,
    rho: &[f64; MAX_DIM],
    t: usize,
    mut partial: Option<&mut MomentPartial>,
) -> u64 {
    if let Some(p) = partial.as_deref_mut() {
        *p = MomentPartial::new();
    }
    let r0 = t * g.per;
    let r1 = (r0 + g.per).min(g.rows);
    with_scratch(2 * LANES * g.nl, |scratch| {
        #[cfg(target_arch = "x86_64")]
        if g.simd {
            // SAFETY: AVX2 was detected at run time (`simd_available`).
            return unsafe {
                row_task_avx2::<D, HJI, T, H, C>(
                    g, h, c, grid, v, pol, x, rho, r0, r1, partial, scratch,
                )
            };
        }
        row_task::<D, HJI, T, H, C>(g, h, c, grid, v, pol, x, rho, r0, r1, partial, scratch)
    })
}

fn row_pass_d<const D: usize, const HJI: bool, const T: bool, H: Hamiltonian, C: RunningCost>(
    g: &Geometry,
    h: &H,
    c: &C,
    grid: &Grid,
    v: &[f64],
    pol: Option<&[f64]>,
    x: &mut [f64],
    rho: &[f64; MAX_DIM],
    partials: Option<&mut [MomentPartial]>,
) -> bool {
    let xs = SharedMut::new(x);
    let bad = match partials {
        Some(parts) => parts
            .par_iter_mut()
            .enumerate()
            .map(|(t, p)| {
                row_task_dispatch::<D, HJI, T, H, C>(g, h, c, grid, v, pol, xs, rho, t, Some(p))
            })
            .reduce(|| 0, |a, b| a | b),
        None => (0..g.tasks)
            .into_par_iter()
            .map(|t| row_task_dispatch::<D, HJI, T, H, C>(g, h, c, grid, v, pol, xs, rho, t, None))
            .reduce(|| 0, |a, b| a | b),
    };
    bad == 0
}

/// Applies E_{d−1} (or its transpose) along the last axis with the drift of `v` under the
/// Hamiltonian of `phys`.
/// `rho = Some(ρ^n)`: HJI step, `x ← E (v + dt g)` (never transposed); `None`: `x ← E x` in
/// place.
/// `partials` (one per row task): accumulate the moments of the result.
/// Returns false if a result is not finite.
pub(crate) fn row_pass(
    g: &Geometry,
    phys: &ModelPhysics,
    grid: &Grid,
    v: &[f64],
    pol: Option<&[f64]>,
    x: &mut [f64],
    rho: Option<&[f64]>,
    transpose: bool,
    partials: Option<&mut [MomentPartial]>,
) -> bool {
    debug_assert!(v.len() == g.len && x.len() == g.len);
    debug_assert!(!(rho.is_some() && transpose));
    let mut r = [0.0; MAX_DIM];
    if let Some(rho) = rho {
        r[..g.d].copy_from_slice(&rho[..g.d]);
    }
    // One instance per (dimension, HJI or FPK/transpose, Hamiltonian, running cost); the
    // passes without a right-hand side do not read the running cost and take its
    // quadratic part's type.
    let plain = phys.cost.quadratic();
    macro_rules! go {
        ($d:literal) => {
            with_hamiltonian!(&phys.hamiltonian, h => match (rho.is_some(), transpose) {
                (true, _) => with_running_cost!(&phys.cost, c => {
                    row_pass_d::<$d, true, false, _, _>(g, h, c, grid, v, pol, x, &r, partials)
                }),
                (false, false) => {
                    row_pass_d::<$d, false, false, _, _>(g, h, plain, grid, v, pol, x, &r, partials)
                }
                (false, true) => {
                    row_pass_d::<$d, false, true, _, _>(g, h, plain, grid, v, pol, x, &r, partials)
                }
            })
        };
    }
    match g.d {
        1 => go!(1),
        2 => go!(2),
        _ => go!(3),
    }
}

// ---------------------------------------------------------------------------------------
// Block pass (axes other than the last)
// ---------------------------------------------------------------------------------------

/// Task `t` of the block pass along `axis`: the drift component b_axis of the task's
/// nodes under the Hamiltonian `h` into the scratch column, then the solves in place.
#[inline(always)]
fn block_task<const D: usize, const T: bool, H: Hamiltonian>(
    g: &Geometry,
    h: &H,
    v: &[f64],
    pol: Option<&[f64]>,
    x: SharedMut<'_>,
    axis: usize,
    hji: bool,
    t: usize,
    scratch: &mut [f64],
) -> u64 {
    let n = g.shape[axis];
    let stride = g.strides[axis];
    let nl = g.nl;
    let rows_in = stride / nl;
    let nseg = nl.div_ceil(SEG);
    let (o, rem) = (t / (rows_in * nseg), t % (rows_in * nseg));
    let (q, s) = (rem / nseg, rem % nseg);
    let j0 = s * SEG;
    let w = SEG.min(nl - j0);
    let row0 = o * n * stride + q * nl; // flat offset of the task's row at position 0 on `axis`
    let mut p = [[0.0; SEG]; D];
    let mut pp = [[0.0; SEG]; D];
    let r0 = row0 / nl;
    let rstride = stride / nl;
    let mut idx = row_outer::<D>(g, r0);
    for j in 0..n {
        if j + PREFETCH_ROWS < n {
            let ahead = row0 + (j + PREFETCH_ROWS) * stride + j0;
            prefetch(v[ahead..].as_ptr(), w);
            prefetch(x.ptr_at(ahead), w);
        }
        idx[axis] = j;
        seg_grad::<D>(g, v, r0 + j * rstride, &idx, j0, w, &mut p);
        if let Some(pv) = pol {
            seg_grad::<D>(g, pv, r0 + j * rstride, &idx, j0, w, &mut pp);
        }
        let pd = if pol.is_some() { &pp } else { &p };
        h.drift_axis_seg::<D>(axis, &p, pd, &mut scratch[j * SEG..j * SEG + w]);
        if hji {
            // HJI: this factor's share −b_axis ∂_axis v of the source, added before the solve.
            // SAFETY: node row j of the task's segment column belongs to this task.
            let xr = unsafe { x.slice(row0 + j * stride + j0, w) };
            let (bcol, pa, dt) = (&scratch[j * SEG..j * SEG + w], &p[axis][..w], g.dt);
            for ((o, &b), &pk) in xr.iter_mut().zip(bcol).zip(pa) {
                *o -= dt * (b * pk);
            }
        }
    }
    // SAFETY: the task owns nodes row0 + j·stride + j0 + [0, w) for j < n (distinct tasks
    // differ in o, q or s), and the scratch column.
    unsafe {
        thomas::<T>(
            x,
            row0 + j0,
            stride,
            SharedMut::new(scratch),
            0,
            SEG,
            n,
            w,
            g.c1[axis],
            g.c2[axis],
        )
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_task_avx2<const D: usize, const T: bool, H: Hamiltonian>(
    g: &Geometry,
    h: &H,
    v: &[f64],
    pol: Option<&[f64]>,
    x: SharedMut<'_>,
    axis: usize,
    hji: bool,
    t: usize,
    scratch: &mut [f64],
) -> u64 {
    block_task::<D, T, H>(g, h, v, pol, x, axis, hji, t, scratch)
}

fn block_pass_d<const D: usize, const T: bool, H: Hamiltonian>(
    g: &Geometry,
    h: &H,
    v: &[f64],
    pol: Option<&[f64]>,
    x: &mut [f64],
    axis: usize,
    hji: bool,
) -> bool {
    let n = g.shape[axis];
    let stride = g.strides[axis];
    let tasks = (g.len / (n * stride)) * (stride / g.nl) * g.nl.div_ceil(SEG);
    let xs = SharedMut::new(x);
    let bad = (0..tasks)
        .into_par_iter()
        .map(|t| {
            with_scratch(n * SEG, |scratch| {
                #[cfg(target_arch = "x86_64")]
                if g.simd {
                    // SAFETY: AVX2 was detected at run time (`simd_available`).
                    return unsafe {
                        block_task_avx2::<D, T, H>(g, h, v, pol, xs, axis, hji, t, scratch)
                    };
                }
                block_task::<D, T, H>(g, h, v, pol, xs, axis, hji, t, scratch)
            })
        })
        .reduce(|| 0, |a, b| a | b);
    bad == 0
}

/// Applies E_axis (or its transpose), `axis < d − 1`, to `x` in place with the drift of `v`
/// under the Hamiltonian of `phys`: `x ← E x`, or with `hji` (not transposed) the HJI
/// factor `x ← E (x − dt b_axis ∂_axis v)`. Returns false if a result is not finite.
pub(crate) fn block_pass(
    g: &Geometry,
    phys: &ModelPhysics,
    v: &[f64],
    pol: Option<&[f64]>,
    x: &mut [f64],
    axis: usize,
    transpose: bool,
    hji: bool,
) -> bool {
    debug_assert!(axis + 1 < g.d && v.len() == g.len && x.len() == g.len);
    debug_assert!(!(hji && transpose));
    with_hamiltonian!(&phys.hamiltonian, h => match (g.d, transpose) {
        (2, false) => block_pass_d::<2, false, _>(g, h, v, pol, x, axis, hji),
        (2, true) => block_pass_d::<2, true, _>(g, h, v, pol, x, axis, false),
        (_, false) => block_pass_d::<3, false, _>(g, h, v, pol, x, axis, hji),
        (_, true) => block_pass_d::<3, true, _>(g, h, v, pol, x, axis, false),
    })
}

// ---------------------------------------------------------------------------------------
// Other passes
// ---------------------------------------------------------------------------------------

fn drift_field_d<const D: usize, H: Hamiltonian>(
    g: &Geometry,
    h: &H,
    v: &[f64],
    pol: Option<&[f64]>,
    out: &mut [Vec<f64>],
) {
    let nl = g.nl;
    let outs: Vec<SharedMut<'_>> = out.iter_mut().map(|o| SharedMut::new(o)).collect();
    (0..g.rows).into_par_iter().for_each(|r| {
        let mut p = [[0.0; SEG]; D];
        let mut pp = [[0.0; SEG]; D];
        let idx = row_outer::<D>(g, r);
        for j0 in (0..nl).step_by(SEG) {
            let w = SEG.min(nl - j0);
            seg_grad::<D>(g, v, r, &idx, j0, w, &mut p);
            if let Some(pv) = pol {
                seg_grad::<D>(g, pv, r, &idx, j0, w, &mut pp);
            }
            let pd = if pol.is_some() { &pp } else { &p };
            let mut b = [[0.0; SEG]; D];
            h.drift_seg::<D>(&p, pd, w, &mut b);
            for i in 0..D {
                // SAFETY: row r of every output belongs to this task only.
                let o = unsafe { outs[i].slice(r * nl + j0, w) };
                o.copy_from_slice(&b[i][..w]);
            }
        }
    });
}

/// All drift components b(∇v) of the Hamiltonian of `phys` (b = A∇v for ½pᵀAp; the
/// coefficients the passes use) into `out[0..d]`.
pub(crate) fn drift_field(
    g: &Geometry,
    phys: &ModelPhysics,
    v: &[f64],
    pol: Option<&[f64]>,
    out: &mut [Vec<f64>],
) {
    with_hamiltonian!(&phys.hamiltonian, h => match g.d {
        1 => drift_field_d::<1, _>(g, h, v, pol, out),
        2 => drift_field_d::<2, _>(g, h, v, pol, out),
        _ => drift_field_d::<3, _>(g, h, v, pol, out),
    })
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

/// True when every entry is finite.
pub(crate) fn all_finite(g: &Geometry, x: &[f64]) -> bool {
    x.par_chunks(g.per * g.nl)
        .map(|c| c.iter().fold(0u64, |bad, &v| bad | nonfinite_bit(v)))
        .reduce(|| 0, |a, b| a | b)
        == 0
}
