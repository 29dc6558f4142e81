//! The Euler–Maruyama simulation of N copies per population (module docs of
//! [`crate::particles`]): initial sampling, empirical moments and targets, kept paths,
//! histograms and realised costs, bit-identical for any thread count.

use super::initial::{initial_rng, Prepared};
use super::noise::{cholesky_psd, chunk_rng, normals};
use super::statistics::{fraction, histogram, moments, quad};
use super::{
    in_excess_core, InitialSampler, ParticleSystem, Policy, SimulationOptions, CHUNK, MAX_COPIES,
};
use crate::error::{Param, Result, SolverError};
use ndarray::{s, Array1, Array2, Array3, ArrayD};
use rayon::prelude::*;

/// One population's results.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationRun {
    /// Empirical mean m̂_k,n, shape (steps+1, d).
    pub mean: Array2<f64>,
    /// Empirical covariance (divisor N − 1; zero for N = 1), shape (steps+1, d, d).
    pub cov: Array3<f64>,
    /// Empirical target ρ̂_k,n = Σ_j W_kj m̂_j,n, shape (steps+1, d).
    pub target: Array2<f64>,
    /// Paths of copies 0..K, shape (K, steps+1, d).
    pub trajectories: Array3<f64>,
    /// One histogram per requested level, shape of the grid, Σ m · cell = 1.
    pub histograms: Vec<ArrayD<f64>>,
    /// Mean of the realised costs J_i over the copies (NaN without cost weights).
    pub cost_mean: f64,
    /// Standard deviation (divisor N − 1) of the realised costs (NaN without weights).
    pub cost_std: f64,
    /// Fraction of the copies in the excess core (every coordinate ≥ 0) per level.
    pub core_fraction: Array1<f64>,
    /// Fraction of the copies whose allocation is in the core of the coalition values, per
    /// level ([`AllocationCore`](super::AllocationCore); `None` without a test).
    pub allocation_core_fraction: Option<Array1<f64>>,
}

/// Result of [`simulate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Level times t_n.
    pub time: Array1<f64>,
    /// Copies per population.
    pub copies: usize,
    /// Per population, in order.
    pub populations: Vec<PopulationRun>,
}

/// Simulates N copies per population under `policy` by Euler–Maruyama (module docs):
/// empirical means, covariances and targets per level, kept trajectories, histograms and
/// realised costs. Bit-identical for any number of rayon threads.
///
/// Errors (`InvalidParameter`): `copies` (0 or above [`MAX_COPIES`]), `trajectories`
/// (> copies), `Param::Noise`, `Horizon`, `Steps`, `PopulationMean`,
/// `PopulationCov`, `Graph`, `policy` (dimension, populations or levels do not match),
/// `histogram` (levels or axes out of range). A non-finite state gives
/// `NonFinite { stage: "particles", level, population }`.
pub fn simulate<P: Policy + ?Sized>(
    system: &ParticleSystem,
    policy: &P,
    options: &SimulationOptions,
) -> Result<Simulation> {
    simulate_observed(system, policy, options, &mut |_| {})
}

/// [`simulate`] calling `observer(level)` after each level is complete (for progress
/// reporting; the observer cannot change the run).
pub fn simulate_observed<P: Policy + ?Sized>(
    system: &ParticleSystem,
    policy: &P,
    options: &SimulationOptions,
    observer: &mut dyn FnMut(usize),
) -> Result<Simulation> {
    system.validate()?;
    let d = system.dim();
    let p = system.populations.len();
    let n = options.copies;
    let steps = system.steps;
    if n == 0 || n > MAX_COPIES {
        return Err(SolverError::invalid(
            Param::Argument("copies"),
            format!("must be between 1 and {MAX_COPIES}, got {n}"),
        ));
    }
    if options.trajectories > n {
        return Err(SolverError::invalid(
            Param::Argument("trajectories"),
            format!("cannot keep {} paths of {n} copies", options.trajectories),
        ));
    }
    if policy.dim() != d {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            format!(
                "the policy acts on {} axes, the state has {d}",
                policy.dim()
            ),
        ));
    }
    if policy.populations().is_some_and(|pp| pp != p) {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            format!(
                "the policy has data for {} population(s), the system has {p}",
                policy.populations().unwrap_or(0)
            ),
        ));
    }
    policy.check_steps(steps)?;
    let hist_axes: Option<Vec<usize>> = match &options.histogram {
        None => None,
        Some(h) => {
            let axes = h
                .axes
                .clone()
                .unwrap_or_else(|| (0..h.grid.dim()).collect());
            if axes.len() != h.grid.dim() || axes.iter().any(|&a| a >= d) {
                return Err(SolverError::invalid(
                    Param::Argument("histogram"),
                    format!(
                        "the {}-D grid needs {} state coordinates below {d}",
                        h.grid.dim(),
                        h.grid.dim()
                    ),
                ));
            }
            if h.levels.iter().any(|&l| l > steps) {
                return Err(SolverError::invalid(
                    Param::Argument("histogram"),
                    format!("histogram levels must be ≤ {steps}"),
                ));
            }
            Some(axes)
        }
    };
    let chols = system
        .populations
        .iter()
        .map(|pop| cholesky_psd(&pop.cov))
        .collect::<Result<Vec<_>>>()?;
    if !system.initial.is_empty() && system.initial.len() != p {
        return Err(SolverError::invalid(
            Param::InitialLaw,
            format!("{} initial laws for {p} populations", system.initial.len()),
        ));
    }
    let samplers = (0..p)
        .map(|k| {
            system
                .initial
                .get(k)
                .unwrap_or(&InitialSampler::Gaussian)
                .prepare(d)
        })
        .collect::<Result<Vec<Prepared>>>()?;

    let dt = system.dt();
    let sq = system.sigma * dt.sqrt();
    let levels = steps + 1;
    let kk = options.trajectories;
    let seed = options.seed;
    let chunk_len = CHUNK * d;

    // Initial states.
    let mut states: Vec<Vec<f64>> = vec![vec![0.0; n * d]; p];
    for (k, xs) in states.iter_mut().enumerate() {
        let mean = &system.populations[k].mean;
        let l = &chols[k];
        let sampler = &samplers[k];
        xs.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(c, chunk)| {
                let mut z = vec![0.0; d];
                if !sampler.is_gaussian() {
                    let mut rng = initial_rng(seed, k, c);
                    for x in chunk.chunks_mut(d) {
                        sampler.draw(&mut rng, &mut z, x);
                    }
                    return;
                }
                let mut rng = chunk_rng(seed, k, c, 0, d);
                for x in chunk.chunks_mut(d) {
                    normals(&mut rng, &mut z);
                    for i in 0..d {
                        x[i] = mean[i] + (0..=i).map(|j| l[[i, j]] * z[j]).sum::<f64>();
                    }
                }
            });
    }
    let mut costs: Vec<Vec<f64>> = vec![vec![0.0; n]; p];
    let mut runs: Vec<PopulationRun> = (0..p)
        .map(|_| PopulationRun {
            mean: Array2::zeros((levels, d)),
            cov: Array3::zeros((levels, d, d)),
            target: Array2::zeros((levels, d)),
            trajectories: Array3::zeros((kk, levels, d)),
            histograms: Vec::new(),
            cost_mean: f64::NAN,
            cost_std: f64::NAN,
            core_fraction: Array1::zeros(levels),
            allocation_core_fraction: system
                .allocation_core
                .as_ref()
                .map(|_| Array1::zeros(levels)),
        })
        .collect();

    for level in 0..levels {
        // Empirical moments (chunk-ordered reduction) and kept paths.
        for k in 0..p {
            let shift: Vec<f64> = if level == 0 {
                system.populations[k].mean.to_vec()
            } else {
                runs[k].mean.row(level - 1).to_vec()
            };
            let (mean, cov) = moments(&states[k], d, &shift);
            if mean.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::NonFinite {
                    stage: "particles",
                    level,
                    population: k,
                });
            }
            runs[k].mean.row_mut(level).assign(&mean);
            runs[k].cov.slice_mut(s![level, .., ..]).assign(&cov);
            runs[k].core_fraction[level] = fraction(&states[k], d, in_excess_core);
            if let (Some(test), Some(f)) = (
                &system.allocation_core,
                runs[k].allocation_core_fraction.as_mut(),
            ) {
                f[level] = fraction(&states[k], d, |x| test.contains(x));
            }
            for c in 0..kk {
                for i in 0..d {
                    runs[k].trajectories[[c, level, i]] = states[k][c * d + i];
                }
            }
        }
        for k in 0..p {
            let mut rho = Array1::<f64>::zeros(d);
            for j in 0..p {
                rho.scaled_add(system.averaging[[k, j]], &runs[j].mean.row(level));
            }
            runs[k].target.row_mut(level).assign(&rho);
        }
        if let (Some(h), Some(axes)) = (&options.histogram, &hist_axes) {
            if h.levels.contains(&level) {
                for k in 0..p {
                    let hist = histogram(&h.grid, h.deposit, &states[k], d, axes);
                    runs[k].histograms.push(hist);
                }
            }
        }
        if level == steps {
            if let Some(cw) = &system.cost {
                for k in 0..p {
                    let rho = runs[k].target.row(level).to_vec();
                    costs[k]
                        .par_chunks_mut(CHUNK)
                        .zip(states[k].par_chunks(chunk_len))
                        .for_each(|(cs, xs)| {
                            let mut e = vec![0.0; d];
                            for (ci, x) in cs.iter_mut().zip(xs.chunks(d)) {
                                for i in 0..d {
                                    e[i] = rho[i] - x[i];
                                }
                                *ci += 0.5 * quad(&cw.s, &e);
                            }
                        });
                }
            }
            observer(level);
            break;
        }
        // One Euler–Maruyama step of every copy.
        for k in 0..p {
            let rho = runs[k].target.row(level).to_vec();
            let cost = system.cost.as_ref();
            let sigma_zero = system.sigma == 0.0;
            states[k]
                .par_chunks_mut(chunk_len)
                .zip(costs[k].par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (xs, cs))| {
                    let mut rng = chunk_rng(seed, k, c, level + 1, d);
                    let (mut b, mut z, mut e) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
                    for (x, ci) in xs.chunks_mut(d).zip(cs.iter_mut()) {
                        let ell = policy.drift_and_cost(k, level, x, &rho, &mut b);
                        if let Some(cw) = cost {
                            for i in 0..d {
                                e[i] = rho[i] - x[i];
                            }
                            let control = match ell {
                                Some(l) => l,
                                None => 0.5 * quad(&cw.drift, &b),
                            };
                            let mut core = 0.0;
                            if cw.core_penalty > 0.0 {
                                for &xi in x.iter() {
                                    if xi < 0.0 {
                                        core += cw.core_penalty * xi * xi;
                                    }
                                }
                            }
                            *ci += dt * (0.5 * quad(&cw.q, &e) + control + core);
                        }
                        if sigma_zero {
                            for i in 0..d {
                                x[i] += b[i] * dt;
                            }
                        } else {
                            normals(&mut rng, &mut z);
                            for i in 0..d {
                                x[i] += b[i] * dt + sq * z[i];
                            }
                        }
                    }
                });
        }
        observer(level);
    }

    if system.cost.is_some() {
        for k in 0..p {
            let mean = costs[k].iter().sum::<f64>() / n as f64;
            let var = if n > 1 {
                costs[k].iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1) as f64
            } else {
                0.0
            };
            runs[k].cost_mean = mean;
            runs[k].cost_std = var.sqrt();
        }
    }
    Ok(Simulation {
        time: system.times(),
        copies: n,
        populations: runs,
    })
}
