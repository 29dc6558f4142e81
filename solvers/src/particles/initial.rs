//! Initial laws of the copies beyond the Gaussian: mixtures, uniform boxes, point samples
//! and gridded densities. Drawn from their own ChaCha8 stream per (seed,
//! population, chunk), so results stay independent of the thread count and Gaussian runs
//! keep their exact streams.

use super::{cholesky_psd, normals};
use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::model::{GaussianMixture, UniformBox};
use ndarray::{Array1, Array2};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the copies of one population are drawn at t = 0.
#[derive(Debug, Clone, PartialEq)]
pub enum InitialSampler {
    /// N(mean, cov) of the population (the default).
    Gaussian,
    /// Σ_c w_c N(μ_c, C_c): a component with probability w_c (weights ≥ 0, any positive
    /// sum), then a Gaussian draw.
    Mixture(GaussianMixture),
    /// Uniform on the box Π_i [low_i, high_i].
    Uniform(UniformBox),
    /// N × d points, resampled uniformly with replacement.
    Samples(Array2<f64>),
    /// A nodal density on a grid (row-major, ≥ 0, positive total): a node with
    /// probability proportional to its value, then uniform in its cell
    /// [x − h/2, x + h/2] clipped to the box (the piecewise-constant reading of the
    /// node-centred density).
    Grid {
        /// The grid of the density.
        grid: Grid,
        /// Nodal values, row-major.
        density: Vec<f64>,
    },
}

/// A sampler with its tables built (cumulative weights, Cholesky factors).
#[derive(Debug, Clone)]
pub(crate) enum Prepared {
    Gaussian,
    Mixture {
        cumulative: Vec<f64>,
        means: Vec<Array1<f64>>,
        chols: Vec<Array2<f64>>,
    },
    Uniform {
        low: Array1<f64>,
        high: Array1<f64>,
    },
    Samples(Array2<f64>),
    Grid {
        grid: Grid,
        cumulative: Vec<f64>,
    },
}

/// Normalised cumulative sums of non-negative weights with a positive total.
fn cumulative(w: &[f64], what: Param) -> Result<Vec<f64>> {
    if w.is_empty() || w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(SolverError::invalid(
            what,
            "weights must be finite and ≥ 0 (at least one)",
        ));
    }
    let mut acc = 0.0;
    let c: Vec<f64> = w
        .iter()
        .map(|v| {
            acc += v;
            acc
        })
        .collect();
    if acc <= 0.0 {
        return Err(SolverError::invalid(
            what,
            "weights must have a positive sum",
        ));
    }
    Ok(c.into_iter().map(|v| v / acc).collect())
}

impl InitialSampler {
    /// Checks the law against the state dimension `d` and builds its tables.
    pub(crate) fn prepare(&self, d: usize) -> Result<Prepared> {
        let dim_err = |what: &str| {
            SolverError::invalid(
                Param::InitialLaw,
                format!("{what} must have {d} coordinates"),
            )
        };
        Ok(match self {
            InitialSampler::Gaussian => Prepared::Gaussian,
            InitialSampler::Mixture(GaussianMixture {
                weights,
                means,
                covs,
            }) => {
                if means.len() != weights.len() || covs.len() != weights.len() {
                    return Err(SolverError::invalid(
                        Param::MixtureWeights,
                        "one weight, mean and covariance per component",
                    ));
                }
                if means.iter().any(|m| m.len() != d) || covs.iter().any(|c| c.dim() != (d, d)) {
                    return Err(dim_err("mixture components"));
                }
                Prepared::Mixture {
                    cumulative: cumulative(weights, Param::MixtureWeights)?,
                    means: means.clone(),
                    chols: covs.iter().map(cholesky_psd).collect::<Result<_>>()?,
                }
            }
            InitialSampler::Uniform(UniformBox { low, high }) => {
                if low.len() != d || high.len() != d {
                    return Err(dim_err("low and high"));
                }
                if low
                    .iter()
                    .zip(high)
                    .any(|(l, h)| !(l.is_finite() && h.is_finite() && l < h))
                {
                    return Err(SolverError::invalid(
                        Param::UniformBox,
                        "need finite low < high on every axis",
                    ));
                }
                Prepared::Uniform {
                    low: low.clone(),
                    high: high.clone(),
                }
            }
            InitialSampler::Samples(s) => {
                if s.ncols() != d || s.nrows() == 0 || s.iter().any(|v| !v.is_finite()) {
                    return Err(dim_err("samples (finite, at least one row)"));
                }
                Prepared::Samples(s.clone())
            }
            InitialSampler::Grid { grid, density } => {
                if grid.dim() != d || density.len() != grid.len() {
                    return Err(dim_err("the density's grid"));
                }
                Prepared::Grid {
                    grid: grid.clone(),
                    cumulative: cumulative(density, Param::InitialLawFile)?,
                }
            }
        })
    }
}

/// The stream of the non-Gaussian initial draws of chunk `chunk` of population `k`
/// (distinct from every Gaussian and Euler-step stream: top bit set).
pub(crate) fn initial_rng(seed: u64, k: usize, chunk: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((1u64 << 63) | ((k as u64) << 40) | chunk as u64);
    rng
}

/// Uniform draw in [0, 1).
fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Index of the first cumulative value > u (u ∈ [0, 1)).
fn pick(cumulative: &[f64], u: f64) -> usize {
    cumulative
        .partition_point(|&c| c <= u)
        .min(cumulative.len() - 1)
}

impl Prepared {
    /// True for the Gaussian default (drawn by the caller on its own stream).
    pub(crate) fn is_gaussian(&self) -> bool {
        matches!(self, Prepared::Gaussian)
    }

    /// One draw into `x` (length d); `z` is scratch of length d. A `Gaussian` sampler
    /// draws N(0, I) (the caller shifts and scales it).
    pub(crate) fn draw(&self, rng: &mut ChaCha8Rng, z: &mut [f64], x: &mut [f64]) {
        let d = x.len();
        match self {
            Prepared::Gaussian => normals(rng, x),
            Prepared::Mixture {
                cumulative,
                means,
                chols,
            } => {
                let c = pick(cumulative, uniform(rng));
                normals(rng, z);
                let (m, l) = (&means[c], &chols[c]);
                for i in 0..d {
                    x[i] = m[i] + (0..=i).map(|j| l[[i, j]] * z[j]).sum::<f64>();
                }
            }
            Prepared::Uniform { low, high } => {
                for i in 0..d {
                    x[i] = low[i] + (high[i] - low[i]) * uniform(rng);
                }
            }
            Prepared::Samples(s) => {
                let r = ((uniform(rng) * s.nrows() as f64) as usize).min(s.nrows() - 1);
                for (xi, v) in x.iter_mut().zip(s.row(r)) {
                    *xi = *v;
                }
            }
            Prepared::Grid { grid, cumulative } => {
                let mut node = pick(cumulative, uniform(rng));
                for i in (0..d).rev() {
                    let ax = grid.axis(i);
                    let n = ax.len();
                    let j = node % n;
                    node /= n;
                    let h = ax.spacing();
                    let centre = ax.lo() + j as f64 * h;
                    let (a, b) = (
                        (centre - 0.5 * h).max(ax.lo()),
                        (centre + 0.5 * h).min(ax.lo() + (n - 1) as f64 * h),
                    );
                    x[i] = a + (b - a) * uniform(rng);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn moments(p: &Prepared, d: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = initial_rng(3, 0, 0);
        let (mut z, mut x) = (vec![0.0; d], vec![0.0; d]);
        let (mut s1, mut s2) = (vec![0.0; d], vec![0.0; d]);
        for _ in 0..n {
            p.draw(&mut rng, &mut z, &mut x);
            for i in 0..d {
                s1[i] += x[i];
                s2[i] += x[i] * x[i];
            }
        }
        let m: Vec<f64> = s1.iter().map(|s| s / n as f64).collect();
        let v = s2
            .iter()
            .zip(&m)
            .map(|(s, m)| s / n as f64 - m * m)
            .collect();
        (m, v)
    }

    /// Sample mean and variance within 5 standard errors of the law's moments.
    #[test]
    fn mixture_and_uniform_draws_have_their_moments() {
        let n = 400_000;
        let mix = InitialSampler::Mixture(GaussianMixture {
            weights: vec![0.7, 0.3],
            means: vec![array![0.3], array![1.6]],
            covs: vec![array![[0.0225]], array![[0.09]]],
        })
        .prepare(1)
        .unwrap();
        let (m, v) = moments(&mix, 1, n);
        let mean = 0.7 * 0.3 + 0.3 * 1.6;
        let second = 0.7 * (0.0225 + 0.09) + 0.3 * (0.09 + 2.56);
        let var = second - mean * mean;
        assert!((m[0] - mean).abs() < 5.0 * (var / n as f64).sqrt(), "{m:?}");
        // SE of the sample variance ≤ √(μ₄/n); μ₄ ≤ 3·(max second moment)² here.
        assert!(
            (v[0] - var).abs() < 5.0 * (3.0 * 2.65f64.powi(2) / n as f64).sqrt(),
            "{v:?} vs {var}"
        );
        let uni = InitialSampler::Uniform(UniformBox {
            low: array![-1.0, 0.0],
            high: array![1.0, 3.0],
        })
        .prepare(2)
        .unwrap();
        let (m, v) = moments(&uni, 2, n);
        assert!(m[0].abs() < 5.0 * (1.0 / 3.0 / n as f64).sqrt(), "{m:?}");
        assert!((m[1] - 1.5).abs() < 5.0 * (0.75 / n as f64).sqrt(), "{m:?}");
        assert!(
            (v[1] - 0.75).abs() < 5.0 * (0.75 * 0.75 * 0.8 / n as f64).sqrt(),
            "{v:?}"
        );
    }

    /// Draws stay in the box and their mean is the density's (piecewise-constant) mean.
    #[test]
    fn grid_density_draws_stay_in_the_box_and_match_the_density_mean() {
        let g = Grid::from_bounds(&[-1.0], &[2.0], &[31]).unwrap();
        let x = g.axis(0).nodes();
        let dens: Vec<f64> = x
            .iter()
            .map(|x| (-(x - 0.5) * (x - 0.5) / 0.1).exp())
            .collect();
        // Tails are negligible at the walls, so the cell-uniform mean is the nodal mean.
        let mean =
            dens.iter().zip(x.iter()).map(|(m, x)| m * x).sum::<f64>() / dens.iter().sum::<f64>();
        let p = InitialSampler::Grid {
            grid: g,
            density: dens,
        }
        .prepare(1)
        .unwrap();
        let mut rng = initial_rng(1, 0, 0);
        let (mut z, mut y) = (vec![0.0], vec![0.0]);
        let (mut s, n) = (0.0, 200_000);
        for _ in 0..n {
            p.draw(&mut rng, &mut z, &mut y);
            assert!((-1.0..=2.0).contains(&y[0]));
            s += y[0];
        }
        // SE = std/√n with std ≈ √0.05 + cell jitter: 5 SE ≈ 2.6e-3.
        assert!(
            (s / n as f64 - mean).abs() < 2.6e-3,
            "{} vs {mean}",
            s / n as f64
        );
    }

    #[test]
    fn bad_laws_are_refused() {
        let bad_box = InitialSampler::Uniform(UniformBox {
            low: array![1.0],
            high: array![0.0],
        });
        assert!(bad_box.prepare(1).is_err());
        assert!(InitialSampler::Samples(Array2::zeros((0, 1)))
            .prepare(1)
            .is_err());
        let zero = InitialSampler::Mixture(GaussianMixture {
            weights: vec![0.0],
            means: vec![array![0.0]],
            covs: vec![array![[1.0]]],
        });
        assert!(zero.prepare(1).is_err());
    }
}
