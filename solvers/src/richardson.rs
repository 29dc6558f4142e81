//! Richardson error estimates for the first-order scheme (docs/design.md §5), and for a
//! scheme of order p ([`Richardson`]).
//!
//! The monotone scheme of docs/design.md §4 is first order in the spacing h and the time
//! step dt. A quantity computed on the fine discretisation (h, dt) and on the coarse one
//! (2h, 2dt) behaves as
//!
//! ```text
//!     u_h  = u + C·h + O(h²),        u_2h = u + 2C·h + O(h²),
//! ```
//!
//! so, at a common node and time level,
//!
//! ```text
//!     estimated error of u_h   e_h   = u_h − u  ≈ u_2h − u_h      (|e_h| = |u_h − u_2h|)
//!     extrapolated value       u_ext = 2u_h − u_2h = u + O(h²)
//! ```
//!
//! This module holds the numerics: the coarse grid and time stepping whose nodes and
//! levels are a subset of the fine ones, restriction of a density to the coarse nodes,
//! interpolation of coarse fields back to the fine nodes and levels, and the combination.
//!
//! **Coarse grid.** An axis with n fine nodes (spacing h on `[lo, hi]`):
//! * n odd: (n+1)/2 nodes on the same `[lo, hi]` — coarse node J is fine node 2J;
//! * n even: n/2 + 1 nodes on `[lo, hi + h]` — again coarse node J is fine node 2J, and
//!   the last coarse node lies one fine cell beyond the fine box (the coarse box covers
//!   the fine one, so every fine node is interpolated, never extrapolated).
//!
//! **Coarse time stepping.** N fine steps → ⌈N/2⌉ coarse steps on the same horizon. For
//! even N the coarse level j is the fine level 2j; for odd N the coarse step is
//! 2N/(N+1)·dt (slightly less than 2dt) and values at fine levels are interpolated
//! linearly in time, which biases the time part of the estimate by 1 − (N−1)/(N+1)
//! relative (3 % for N = 61).
//!
//! Interpolation is linear in time and multilinear in space; on the common nodes and
//! levels it is the identity, elsewhere its error is O(h²) and does not disturb the
//! first-order estimate.

use crate::error::{Param, Result, SolverError};
use crate::grid::{Axis, Grid};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// Fewest grid points per axis for which a coarse grid is formed (the coarse grid then
/// has at least 5 points per axis).
pub const MIN_POINTS: usize = 9;

/// Fewest time steps for which a coarse time stepping is formed.
pub const MIN_STEPS: usize = 2;

/// The coarse axis whose node J is node 2J of `fine` (rule in the module docs).
pub fn coarse_axis(fine: &Axis) -> Result<Axis> {
    let n = fine.len();
    if n < MIN_POINTS {
        return Err(SolverError::invalid(
            Param::ErrorEstimate,
            format!("an axis needs at least {MIN_POINTS} points to be coarsened, got {n}"),
        ));
    }
    if n % 2 == 1 {
        Axis::new(fine.lo(), fine.hi(), n.div_ceil(2))
    } else {
        let nc = n / 2 + 1;
        Axis::new(fine.lo(), fine.lo() + n as f64 * fine.spacing(), nc)
    }
}

/// The coarse grid: [`coarse_axis`] on every axis.
pub fn coarse_grid(fine: &Grid) -> Result<Grid> {
    Grid::new(
        fine.axes()
            .iter()
            .map(coarse_axis)
            .collect::<Result<Vec<_>>>()?,
    )
}

/// Coarse number of time steps ⌈N/2⌉ (N ≥ [`MIN_STEPS`]).
pub fn coarse_steps(steps: usize) -> Result<usize> {
    if steps < MIN_STEPS {
        return Err(SolverError::invalid(
            Param::ErrorEstimate,
            format!("at least {MIN_STEPS} time steps are needed to coarsen, got {steps}"),
        ));
    }
    Ok(steps.div_ceil(2))
}

/// Position of fine level `l` (of `fine_steps`) on the coarse time stepping: the coarse
/// level j below it and the weight w of level j+1, t_l = (1−w)·t_j + w·t_{j+1}.
/// Integer arithmetic: exact (w = 0) on the common levels.
pub fn time_position(l: usize, fine_steps: usize, coarse_steps: usize) -> (usize, f64) {
    let num = l * coarse_steps;
    let j = num / fine_steps;
    let r = num % fine_steps;
    (j, r as f64 / fine_steps as f64)
}

/// The coarse levels needed to interpolate the fine levels `fine_levels` in time (sorted,
/// unique).
pub fn coarse_levels_for(
    fine_levels: &[usize],
    fine_steps: usize,
    coarse_steps: usize,
) -> Vec<usize> {
    let mut out = Vec::new();
    for &l in fine_levels {
        let (j, w) = time_position(l, fine_steps, coarse_steps);
        out.push(j);
        if w > 0.0 {
            out.push(j + 1);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Linear interpolation in time of a quantity known at every coarse level (`at(j)` for
/// j = 0..=coarse_steps) to fine level `l`: (1−w)·u_j + w·u_{j+1}.
pub fn at_fine_level<F>(l: usize, fine_steps: usize, coarse_steps: usize, at: F) -> f64
where
    F: Fn(usize) -> f64,
{
    let (j, w) = time_position(l, fine_steps, coarse_steps);
    if w == 0.0 {
        at(j)
    } else {
        (1.0 - w) * at(j) + w * at(j + 1)
    }
}

/// Cubic Lagrange weights at the real position `t` on nodes 0..n (n ≥ 4): the first of
/// the four stencil nodes (the two on each side of t, shifted inwards at the ends) and
/// their weights. Exact on the nodes (weights 1 and 0 bit for bit).
pub fn cubic_weights(t: f64, n: usize) -> (usize, [f64; 4]) {
    debug_assert!(n >= 4);
    let start = (t.floor() as isize - 1).clamp(0, n as isize - 4) as usize;
    let mut w = [1.0; 4];
    for (k, wk) in w.iter_mut().enumerate() {
        for m in 0..4 {
            if m != k {
                *wk *= (t - (start + m) as f64) / (k as f64 - m as f64);
            }
        }
    }
    (start, w)
}

/// Cubic interpolation in time of a quantity known at every coarse level (`at(j)` for
/// j = 0..=coarse_steps) to fine level `l`: the time counterpart of
/// [`interpolate_to_fine_cubic`], O(dt⁴), for the estimate of a second-order scheme.
/// Falls back to [`at_fine_level`] with fewer than 4 coarse levels.
pub fn at_fine_level_cubic<F>(l: usize, fine_steps: usize, coarse_steps: usize, at: F) -> f64
where
    F: Fn(usize) -> f64,
{
    let (j, w) = time_position(l, fine_steps, coarse_steps);
    if w == 0.0 || coarse_steps + 1 < 4 {
        return at_fine_level(l, fine_steps, coarse_steps, at);
    }
    let (start, wts) = cubic_weights(j as f64 + w, coarse_steps + 1);
    (0..4).map(|k| wts[k] * at(start + k)).sum()
}

/// Tensor-product cubic interpolation of a coarse field to the fine nodes (fine node j of
/// an axis at coarse position j/2): O(h⁴), so that off the common nodes the interpolation
/// does not swamp the O(h²) error of a second-order scheme. Identity on the common nodes.
/// Axes with fewer than 4 coarse nodes are interpolated linearly.
pub fn interpolate_to_fine_cubic(
    coarse: ArrayViewD<f64>,
    coarse_grid: &Grid,
    fine: &Grid,
) -> Result<ArrayD<f64>> {
    check_shape(coarse.shape(), coarse_grid, "coarse field")?;
    let mut cur = coarse.to_owned();
    for axis in 0..fine.dim() {
        let nc = coarse_grid.shape()[axis];
        let nf = fine.shape()[axis];
        let mut shape = cur.shape().to_vec();
        shape[axis] = nf;
        let mut next = ArrayD::<f64>::zeros(IxDyn(&shape));
        for j in 0..nf {
            let t = j as f64 / 2.0;
            let mut lane = next.index_axis_mut(ndarray::Axis(axis), j);
            if j % 2 == 0 {
                lane.assign(&cur.index_axis(ndarray::Axis(axis), j / 2));
            } else if nc < 4 {
                let a = cur.index_axis(ndarray::Axis(axis), j / 2);
                let b = cur.index_axis(ndarray::Axis(axis), j / 2 + 1);
                lane.assign(&((&a + &b) * 0.5));
            } else {
                let (start, w) = cubic_weights(t, nc);
                for (k, wk) in w.iter().enumerate() {
                    lane.scaled_add(*wk, &cur.index_axis(ndarray::Axis(axis), start + k));
                }
            }
        }
        cur = next;
    }
    Ok(cur)
}

/// Restriction of a fine density to the coarse grid by injection (coarse node J takes the
/// value of fine node 2J; coarse nodes outside the fine box get 0), renormalised to mass 1
/// on the coarse grid. Errors if the shapes do not belong to the grids or the restricted
/// mass is not positive.
pub fn restrict_density(
    fine: ArrayViewD<f64>,
    fine_grid: &Grid,
    coarse: &Grid,
) -> Result<ArrayD<f64>> {
    check_shape(fine.shape(), fine_grid, "density")?;
    let d = coarse.dim();
    let mut out = ArrayD::<f64>::zeros(IxDyn(coarse.shape()));
    let fine_flat = fine.as_standard_layout();
    let fine_flat = fine_flat.as_slice().expect("standard layout");
    for (flat, v) in out.iter_mut().enumerate() {
        let mut rem = flat;
        let mut src = 0usize;
        let mut inside = true;
        for i in 0..d {
            let ji = rem / coarse.strides()[i];
            rem %= coarse.strides()[i];
            let fi = 2 * ji;
            if fi >= fine_grid.shape()[i] {
                inside = false;
                break;
            }
            src += fi * fine_grid.strides()[i];
        }
        if inside {
            *v = fine_flat[src];
        }
    }
    let mass = coarse.mass(out.as_slice().expect("standard layout"));
    if !(mass.is_finite() && mass > 0.0) {
        return Err(SolverError::invalid(
            Param::Argument("density"),
            "the density restricted to the coarse grid has no positive mass",
        ));
    }
    out.mapv_inplace(|v| v / mass);
    Ok(out)
}

/// Multilinear interpolation of a coarse field to the fine nodes. Fine node j of an axis
/// lies at coarse node j/2 (j even) or midway between j/2 and j/2 + 1 (j odd), so the
/// weights are exactly 1 or ½ per axis.
pub fn interpolate_to_fine(
    coarse: ArrayViewD<f64>,
    coarse_grid: &Grid,
    fine: &Grid,
) -> Result<ArrayD<f64>> {
    check_shape(coarse.shape(), coarse_grid, "coarse field")?;
    let d = fine.dim();
    let c = coarse.as_standard_layout();
    let c = c.as_slice().expect("standard layout");
    // Per axis and fine index: offset of the coarse node below and, for a midpoint, the
    // stride to the one above (0 on common nodes).
    let tables: Vec<Vec<(usize, usize)>> = (0..d)
        .map(|i| {
            let cs = coarse_grid.strides()[i];
            (0..fine.shape()[i])
                .map(|j| ((j / 2) * cs, if j % 2 == 1 { cs } else { 0 }))
                .collect()
        })
        .collect();
    let mut out = ArrayD::<f64>::zeros(IxDyn(fine.shape()));
    let o = out.as_slice_mut().expect("standard layout");
    let mut idx = [0usize; 3];
    for v in o.iter_mut() {
        let mut base = 0usize;
        let mut mids = [0usize; 3];
        let mut nm = 0;
        for i in 0..d {
            let (b, m) = tables[i][idx[i]];
            base += b;
            if m != 0 {
                mids[nm] = m;
                nm += 1;
            }
        }
        *v = match nm {
            0 => c[base],
            1 => 0.5 * (c[base] + c[base + mids[0]]),
            _ => {
                let mut acc = 0.0;
                for corner in 0..(1usize << nm) {
                    let mut k = base;
                    for (bit, stride) in mids.iter().enumerate().take(nm) {
                        if corner >> bit & 1 == 1 {
                            k += stride;
                        }
                    }
                    acc += c[k];
                }
                acc / (1usize << nm) as f64
            }
        };
        // Advance the multi-index (last axis fastest).
        for i in (0..d).rev() {
            idx[i] += 1;
            if idx[i] < fine.shape()[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    Ok(out)
}

/// Estimated error of the fine value, e_h ≈ u_2h − u_h (module docs).
pub fn estimated_error(fine: f64, coarse: f64) -> f64 {
    coarse - fine
}

/// Richardson-extrapolated value 2u_h − u_2h (second order for a first-order scheme).
pub fn extrapolated(fine: f64, coarse: f64) -> f64 {
    2.0 * fine - coarse
}

/// Richardson's rule for a scheme of order p: with u_h = u + Ch^p + …, the error of the
/// fine value is e_h ≈ (u_2h − u_h)/(2^p − 1) and the extrapolated value is
/// u_h − e_h = (2^p u_h − u_2h)/(2^p − 1). For p = 1 these are [`estimated_error`] and
/// [`extrapolated`], bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Richardson {
    /// The scheme's order p ≥ 1.
    pub order: u32,
}

impl Richardson {
    /// Estimated error of the fine value, e_h ≈ (u_2h − u_h)/(2^p − 1).
    pub fn error(self, fine: f64, coarse: f64) -> f64 {
        if self.order == 1 {
            return estimated_error(fine, coarse);
        }
        (coarse - fine) / self.denominator()
    }

    /// Extrapolated value u_h − e_h = (2^p u_h − u_2h)/(2^p − 1).
    pub fn extrapolated(self, fine: f64, coarse: f64) -> f64 {
        if self.order == 1 {
            return extrapolated(fine, coarse);
        }
        fine - self.error(fine, coarse)
    }

    fn denominator(self) -> f64 {
        (1u64 << self.order) as f64 - 1.0
    }
}

/// Expected cost J = Σ_x v(x, 0) m₀(x) · cell of one population: the value at time 0
/// integrated against the initial density.
pub fn expected_cost(grid: &Grid, value0: ArrayViewD<f64>, m0: ArrayViewD<f64>) -> Result<f64> {
    check_shape(value0.shape(), grid, "value")?;
    check_shape(m0.shape(), grid, "density")?;
    let s: f64 = value0.iter().zip(m0.iter()).map(|(v, m)| v * m).sum();
    Ok(s * grid.cell_volume())
}

fn check_shape(shape: &[usize], grid: &Grid, what: &'static str) -> Result<()> {
    if shape != grid.shape() {
        return Err(SolverError::invalid(
            Param::Argument(what),
            format!("shape {shape:?} does not match the grid {:?}", grid.shape()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;

    #[test]
    fn coarse_nodes_are_every_other_fine_node() {
        for n in [9usize, 10, 101, 202] {
            let f = Axis::new(-1.5, 2.0, n).unwrap();
            let c = coarse_axis(&f).unwrap();
            for j in 0..c.len() {
                let x = c.node(j);
                assert!((x - (f.lo() + 2.0 * j as f64 * f.spacing())).abs() < 1e-12);
            }
            assert!(c.hi() >= f.hi() - 1e-12);
        }
        assert!(coarse_axis(&Axis::new(0.0, 1.0, 8).unwrap()).is_err());
        assert_eq!(coarse_steps(100).unwrap(), 50);
        assert_eq!(coarse_steps(61).unwrap(), 31);
        assert!(coarse_steps(1).is_err());
    }

    #[test]
    fn interpolation_is_exact_for_multilinear_fields_and_injection_on_common_nodes() {
        let fine = Grid::from_bounds(&[0.0, -1.0], &[1.0, 1.0], &[11, 10]).unwrap();
        let coarse = coarse_grid(&fine).unwrap();
        let f = |x: &Array1<f64>| 1.0 + 2.0 * x[0] - 3.0 * x[1] + 0.5 * x[0] * x[1];
        let cv = ArrayD::from_shape_vec(
            IxDyn(coarse.shape()),
            (0..coarse.len()).map(|i| f(&coarse.point(i))).collect(),
        )
        .unwrap();
        let out = interpolate_to_fine(cv.view(), &coarse, &fine).unwrap();
        for (i, v) in out.iter().enumerate() {
            assert!((v - f(&fine.point(i))).abs() < 1e-12);
        }
    }

    #[test]
    fn restriction_keeps_mass_one_and_time_positions_are_exact_on_common_levels() {
        let fine = Grid::from_bounds(&[-3.0], &[3.0], &[41]).unwrap();
        let coarse = coarse_grid(&fine).unwrap();
        let m = fine
            .gaussian(
                ndarray::arr1(&[0.2]).view(),
                ndarray::arr2(&[[0.25]]).view(),
            )
            .unwrap();
        let r = restrict_density(m.view(), &fine, &coarse).unwrap();
        assert!((coarse.mass(r.as_slice().unwrap()) - 1.0).abs() < 1e-14);
        assert_eq!(time_position(40, 100, 50), (20, 0.0));
        assert_eq!(time_position(41, 100, 50), (20, 0.5));
        assert_eq!(coarse_levels_for(&[0, 5, 10], 10, 5), vec![0, 2, 3, 5]);
        let v = at_fine_level(3, 10, 5, |j| j as f64 * 2.0);
        assert!((v - 3.0).abs() < 1e-15);
    }

    #[test]
    fn richardson_removes_a_first_order_error() {
        // u_h = u + C h + D h², u_2h = u + 2C h + 4D h²: the extrapolation leaves −2D h².
        let (u, c, dd, h) = (1.0, 0.3, 0.1, 0.01);
        let fine = u + c * h + dd * h * h;
        let coarse = u + 2.0 * c * h + 4.0 * dd * h * h;
        assert!((extrapolated(fine, coarse) - (u - 2.0 * dd * h * h)).abs() < 1e-15);
        assert!((estimated_error(fine, coarse) - (c * h + 3.0 * dd * h * h)).abs() < 1e-15);
    }

    #[test]
    fn cubic_interpolation_is_exact_for_cubics_and_the_identity_on_common_nodes() {
        let fine = Grid::from_bounds(&[0.0, -1.0], &[1.0, 1.0], &[13, 10]).unwrap();
        let coarse = coarse_grid(&fine).unwrap();
        let f = |x: f64, y: f64| 1.0 + x - 2.0 * x * x * x + 0.5 * y * y * y - x * y * y;
        let field = |g: &Grid| {
            let mut a = ArrayD::<f64>::zeros(IxDyn(g.shape()));
            for (k, v) in a.iter_mut().enumerate() {
                let p = g.point(k);
                *v = f(p[0], p[1]);
            }
            a
        };
        let c = field(&coarse);
        let up = interpolate_to_fine_cubic(c.view(), &coarse, &fine).unwrap();
        let exact = field(&fine);
        for (a, b) in up.iter().zip(exact.iter()) {
            assert!((a - b).abs() < 1e-13, "{a} vs {b}");
        }
        for i in 0..7 {
            for j in 0..5 {
                assert_eq!(up[[2 * i, 2 * j]], c[[i, j]]);
            }
        }
        // In time: a cubic in t at odd fine levels, exact at even ones.
        let g = |t: f64| 0.3 - t + 2.0 * t * t * t;
        for l in 0..=20 {
            let v = at_fine_level_cubic(l, 20, 10, |j| g(j as f64 / 10.0));
            assert!((v - g(l as f64 / 20.0)).abs() < 1e-14, "level {l}");
        }
    }

    #[test]
    fn richardson_of_order_two_removes_a_second_order_error() {
        // u_h = u + C h² + D h³, u_2h = u + 4C h² + 8D h³: the extrapolation leaves
        // −(4/3) D h³ and the error estimate is C h² + (7/3) D h³.
        let (u, c, dd, h): (f64, f64, f64, f64) = (1.0, 0.3, 0.1, 0.01);
        let fine = u + c * h * h + dd * h.powi(3);
        let coarse = u + 4.0 * c * h * h + 8.0 * dd * h.powi(3);
        let r = Richardson { order: 2 };
        assert!((r.extrapolated(fine, coarse) - (u - 4.0 / 3.0 * dd * h.powi(3))).abs() < 1e-15);
        assert!((r.error(fine, coarse) - (c * h * h + 7.0 / 3.0 * dd * h.powi(3))).abs() < 1e-15);
        let one = Richardson { order: 1 };
        assert_eq!(one.error(fine, coarse), estimated_error(fine, coarse));
        assert_eq!(one.extrapolated(fine, coarse), extrapolated(fine, coarse));
    }
}
