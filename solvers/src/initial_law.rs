//! Discretisation of initial laws beyond the Gaussian on the grid: the FPK's initial
//! condition m(0) = m0 of docs/design.md §1 (the Gaussian itself is [`Grid::gaussian`]).
//!
//! * [`mixture_density`]: nodal values of Σ_c w_c N(μ_c, C_c).
//! * [`uniform_box_density`]: the uniform law on Π_i [low_i, high_i] by cell fractions
//!   (exact mass for a box inside the grid).
//! * [`cloud_in_cell`]: N × d samples histogrammed by multilinear weights (mass and sample
//!   mean exact).
//! * [`normalise`]: positivity and mass check, then scaling to Σ m · cell = 1.
//!
//! Errors name this crate's own parameters ([`Param`]); the caller maps them to its input.

use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::linalg::symmetric_eigen;
use crate::model::{GaussianMixture, UniformBox};
use ndarray::{Array2, ArrayD, IxDyn};

/// A discretised initial density m(·, 0) = m0 and the normalisation applied to it.
#[derive(Debug, Clone)]
pub struct InitialDensity {
    /// m(·, 0) on the grid, Σ m · cell = 1.
    pub density: ArrayD<f64>,
    /// Factor applied to reach mass 1 (1 / mass of the raw discretisation).
    pub normalisation: f64,
}

/// Nodal values of the mixture density m0(x) = Σ_c w_c N(x; μ_c, C_c) at every grid node
/// (not normalised: [`normalise`] scales the discrete mass to 1). Each N(·; μ, C) is
/// evaluated as exp(−½ Σ_i (u_iᵀ(x − μ))² / λ_i) / √((2π)^d Π_i λ_i) from the
/// eigen-decomposition C = U diag(λ) Uᵀ; the covariances are taken as given (positive
/// definite). Fails only when an eigen-decomposition fails.
pub fn mixture_density(grid: &Grid, mixture: &GaussianMixture) -> Result<ArrayD<f64>> {
    let GaussianMixture {
        weights,
        means,
        covs,
    } = mixture;
    let d = grid.dim();
    let mut m = ArrayD::<f64>::zeros(IxDyn(grid.shape()));
    for ((w, mu), c) in weights.iter().zip(means).zip(covs) {
        let (lambda, u) = symmetric_eigen(c)?;
        let norm = (2.0 * std::f64::consts::PI).powi(d as i32).sqrt()
            * lambda.iter().product::<f64>().sqrt();
        for (flat, v) in m.iter_mut().enumerate() {
            let x = grid.point(flat);
            let dx = &x - mu;
            let mut q = 0.0;
            for i in 0..d {
                let proj: f64 = u.column(i).dot(&dx);
                q += proj * proj / lambda[i];
            }
            *v += w * (-0.5 * q).exp() / norm;
        }
    }
    Ok(m)
}

/// Cell-average discretisation of the uniform law on the box Π_i [low_i, high_i]: node x
/// gets Π_i |[x_i − h_i/2, x_i + h_i/2] ∩ [lo_i, hi_i] ∩ [low_i, high_i]| / (h_i (high_i − low_i)),
/// the fraction of its cell (clipped to the grid) inside the box, divided by the box's
/// volume. For a box inside the grid the discrete mass Σ m · cell is exactly 1 (up to
/// round-off); in general it is the fraction of the box inside the grid. The box is taken
/// as given (high > low on every axis).
pub fn uniform_box_density(grid: &Grid, uniform: &UniformBox) -> ArrayD<f64> {
    let UniformBox { low, high } = uniform;
    let d = grid.dim();
    // Per axis: fraction of each node's cell [x − h/2, x + h/2] (clipped to the
    // grid) inside [low, high], divided by the box width.
    let fractions: Vec<Vec<f64>> = (0..d)
        .map(|i| {
            let ax = grid.axis(i);
            let h = ax.spacing();
            (0..ax.len())
                .map(|j| {
                    let x = ax.node(j);
                    let a = (x - 0.5 * h).max(ax.lo());
                    let b = (x + 0.5 * h).min(ax.hi());
                    let overlap = (b.min(high[i]) - a.max(low[i])).max(0.0);
                    overlap / h / (high[i] - low[i])
                })
                .collect()
        })
        .collect();
    ArrayD::from_shape_fn(IxDyn(grid.shape()), |idx| {
        (0..d).map(|i| fractions[i][idx[i]]).product::<f64>()
    })
}

/// Cloud-in-cell histogram of the empirical law (1/N) Σ_r δ_{x_r} of N × d samples: each
/// sample spreads weight 1/N over the 2^d nodes of its cell with multilinear weights;
/// density = weight / cell volume. The mass is 1 and the discrete mean equals the sample
/// mean (multilinear weights reproduce linear functions). A sample outside the grid (or
/// not finite) is refused as [`Param::InitialSamples`], naming the first such sample
/// (0-based) and axis (1-based).
pub fn cloud_in_cell(grid: &Grid, samples: &Array2<f64>) -> Result<ArrayD<f64>> {
    let d = grid.dim();
    let mut m = ArrayD::<f64>::zeros(IxDyn(grid.shape()));
    let w = 1.0 / samples.nrows() as f64 / grid.cell_volume();
    for (r, row) in samples.rows().into_iter().enumerate() {
        let mut base = [0usize; 3];
        let mut frac = [0.0f64; 3];
        for i in 0..d {
            let ax = grid.axis(i);
            let x = row[i];
            if !(x.is_finite() && x >= ax.lo() && x <= ax.hi()) {
                return Err(SolverError::invalid(
                    Param::InitialSamples,
                    format!(
                        "sample {r} (0-based) has coordinate {x} on axis {}, outside the grid [{}, {}]",
                        i + 1,
                        ax.lo(),
                        ax.hi()
                    ),
                ));
            }
            let t = (x - ax.lo()) / ax.spacing();
            let j = (t.floor() as usize).min(ax.len() - 2);
            base[i] = j;
            frac[i] = t - j as f64;
        }
        for corner in 0..(1usize << d) {
            let mut idx = vec![0usize; d];
            let mut weight = w;
            for i in 0..d {
                let up = (corner >> i) & 1 == 1;
                idx[i] = base[i] + usize::from(up);
                weight *= if up { frac[i] } else { 1.0 - frac[i] };
            }
            m[IxDyn(&idx)] += weight;
        }
    }
    Ok(m)
}

/// Multi-index of flat node `flat` (C order).
fn multi_index(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for i in (0..shape.len()).rev() {
        idx[i] = flat % shape[i];
        flat /= shape[i];
    }
    idx
}

/// Normalises a discretised initial density to Σ m · cell = 1 (the FPK's m(0) = m0 is a
/// probability density). Refuses, as an invalid `field` (the parameter the density was
/// built from), a negative or non-finite entry (naming the first one's 0-based
/// multi-index) and a zero or non-finite mass; returns the density times 1 / mass and
/// that factor.
pub fn normalise(field: Param, grid: &Grid, mut m: ArrayD<f64>) -> Result<InitialDensity> {
    if let Some((flat, v)) = m
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        let idx = multi_index(m.shape(), flat);
        return Err(SolverError::invalid(
            field,
            format!("density entries must be finite and ≥ 0; entry {idx:?} (0-based) is {v}"),
        ));
    }
    let mass = m.sum() * grid.cell_volume();
    if !(mass.is_finite() && mass > 0.0) {
        return Err(SolverError::invalid(
            field,
            format!("the density has no mass on the grid (mass {mass:e})"),
        ));
    }
    let factor = 1.0 / mass;
    m.mapv_inplace(|v| v * factor);
    Ok(InitialDensity {
        density: m,
        normalisation: factor,
    })
}
