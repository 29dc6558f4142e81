//! Statistics of the copies (fractions, moments, histograms, realised-cost quadratic
//! forms) and comparisons of runs (mean-field cost, path deviation, log-log slope, L1).

use super::cell::Cell;
use super::{Deposit, CHUNK, WEIGHT_BITS};
use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, IxDyn};
use rayon::prelude::*;

/// Fraction of the rows of `xs` (N×d flat) satisfying `test`; integer counts per chunk,
/// so the result does not depend on the thread count.
pub(super) fn fraction(xs: &[f64], d: usize, test: impl Fn(&[f64]) -> bool + Sync) -> f64 {
    let n = xs.len() / d;
    let count: usize = xs
        .par_chunks(CHUNK * d)
        .map(|chunk| chunk.chunks(d).filter(|x| test(x)).count())
        .sum();
    count as f64 / n as f64
}

/// eᵀMe.
pub(super) fn quad(m: &Array2<f64>, e: &[f64]) -> f64 {
    let d = e.len();
    let mut acc = 0.0;
    for i in 0..d {
        let mut row = 0.0;
        for j in 0..d {
            row += m[[i, j]] * e[j];
        }
        acc += e[i] * row;
    }
    acc
}

/// Mean and covariance (divisor N − 1) of the rows of `xs` (N×d flat), shifted by `shift`
/// to limit cancellation; partial sums per chunk, added in chunk order.
pub(super) fn moments(xs: &[f64], d: usize, shift: &[f64]) -> (Array1<f64>, Array2<f64>) {
    let n = xs.len() / d;
    let partials: Vec<Vec<f64>> = xs
        .par_chunks(CHUNK * d)
        .map(|chunk| {
            let mut acc = vec![0.0; d + d * d];
            for x in chunk.chunks(d) {
                for i in 0..d {
                    let yi = x[i] - shift[i];
                    acc[i] += yi;
                    for j in 0..=i {
                        acc[d + i * d + j] += yi * (x[j] - shift[j]);
                    }
                }
            }
            acc
        })
        .collect();
    let mut tot = vec![0.0; d + d * d];
    for part in &partials {
        for (t, v) in tot.iter_mut().zip(part) {
            *t += v;
        }
    }
    let nf = n as f64;
    let mean = Array1::from_shape_fn(d, |i| shift[i] + tot[i] / nf);
    let mut cov = Array2::zeros((d, d));
    if n > 1 {
        for i in 0..d {
            for j in 0..=i {
                let c = (tot[d + i * d + j] - tot[i] * tot[j] / nf) / (nf - 1.0);
                cov[[i, j]] = c;
                cov[[j, i]] = c;
            }
        }
    }
    (mean, cov)
}

/// Histogram of the copies (state coordinates `axes` on the grid axes), normalised so
/// that Σ m · cell = 1. Integer fixed-point weights: the sum does not depend on the order.
pub(super) fn histogram(
    grid: &Grid,
    deposit: Deposit,
    xs: &[f64],
    d: usize,
    axes: &[usize],
) -> ArrayD<f64> {
    let gd = grid.dim();
    let len = grid.len();
    let counts = xs
        .par_chunks(CHUNK * d)
        .fold(
            || vec![0u128; len],
            |mut acc, chunk| {
                for x in chunk.chunks(d) {
                    let cell = Cell::locate(grid, x, |i| axes[i]);
                    match deposit {
                        Deposit::NearestNode => {
                            acc[cell.nearest(gd)] += 1u128 << (WEIGHT_BITS * gd as u32)
                        }
                        Deposit::CloudInCell => {
                            for (idx, w) in cell.integer_corners(gd) {
                                acc[idx] += w;
                            }
                        }
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0u128; len],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    let n = xs.len() / d;
    let unit = (1u128 << (WEIGHT_BITS * gd as u32)) as f64;
    let scale = 1.0 / (unit * n as f64 * grid.cell_volume());
    let data: Vec<f64> = counts.iter().map(|&c| c as f64 * scale).collect();
    ArrayD::from_shape_vec(IxDyn(grid.shape()), data).expect("grid shape")
}

/// Mean-field cost of the LQ policy for a population starting from N(m, C):
/// E[v(0, X_0)] = ½tr(φ(0)(C + mmᵀ)) + h(0)·m + χ(0) (v = ½xᵀφx + hᵀx + χ, docs/design.md §3).
pub fn lq_mean_field_cost(
    phi0: ArrayView2<f64>,
    h0: ArrayView1<f64>,
    chi0: f64,
    mean: ArrayView1<f64>,
    cov: ArrayView2<f64>,
) -> f64 {
    let d = mean.len();
    let mut tr = 0.0;
    for i in 0..d {
        for j in 0..d {
            tr += phi0[[i, j]] * (cov[[j, i]] + mean[j] * mean[i]);
        }
    }
    0.5 * tr + h0.dot(&mean) + chi0
}

/// Root-mean-square over levels of the Euclidean distance between two paths of shape
/// (levels, d) — the deviation of an empirical mean path from the mean-field one.
pub fn mean_path_deviation(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let levels = a.nrows().min(b.nrows());
    let s: f64 = (0..levels)
        .map(|n| {
            a.row(n)
                .iter()
                .zip(b.row(n).iter())
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
        })
        .sum();
    (s / levels as f64).sqrt()
}

/// Least-squares slope of log y against log x (both positive, at least two distinct x).
/// Field `study` otherwise.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> Result<f64> {
    if x.len() != y.len() || x.len() < 2 || x.iter().chain(y).any(|v| !(v.is_finite() && *v > 0.0))
    {
        return Err(SolverError::invalid(
            Param::Argument("study"),
            "a log-log fit needs at least two positive finite (x, y) pairs",
        ));
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let m = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / m, ly.iter().sum::<f64>() / m);
    let sxx: f64 = lx.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx == 0.0 {
        return Err(SolverError::invalid(
            Param::Argument("study"),
            "the x values are all equal",
        ));
    }
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    Ok(sxy / sxx)
}

/// L1 distance Σ |a − b| · cell of two densities on `grid` (0 ≤ · ≤ 2 for densities).
pub fn density_l1(grid: &Grid, a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        * grid.cell_volume()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loglog_slope_of_power_law() {
        let x = [10.0, 100.0, 1000.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| 3.0 * v.powf(-0.5)).collect();
        assert!((loglog_slope(&x, &y).unwrap() + 0.5).abs() < 1e-12);
    }
}
