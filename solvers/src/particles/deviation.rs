//! ε-Nash property of the finite game (docs/design.md §6): what one copy gains by
//! deviating alone while the other copies keep the mean-field feedback.
//!
//! Copy 0 of population k deviates; every other copy of every population plays the affine
//! mean-field feedback b = F_n x + g_j,n ([`super::AffineFeedback`] with T = 0, e.g. the
//! exact LQ feedback). Because the others' drift is affine, the empirical mean z_j of the
//! others of population j (N − 1 copies for j = k, N for j ≠ k) is itself an Euler chain,
//!
//! ```text
//!   z_j,n+1 = z_j,n + dt (F_n z_j,n + g_j,n) + σ √(dt/N_j) ξ_j,n,
//! ```
//!
//! and the deviator's target is ρ̂_k = Σ_j W_kj m̂_j with m̂_k = ((N − 1)z_k + x)/N,
//! m̂_j = z_j. On the augmented state y = (x, z_1, …, z_p) the deviator's problem
//!
//! ```text
//!   min E Σ_{n<steps} dt [½(ρ̂_k − x)ᵀQ(ρ̂_k − x) + ½bᵀKb] + ½(ρ̂_k − x)ᵀS(ρ̂_k − x)|_steps,
//!   x_{n+1} = x_n + b_n dt + σ √dt ξ_n,
//! ```
//!
//! is a discrete-time LQ problem, solved exactly by dynamic programming: with
//! V_n(y) = ½yᵀP_n y + p_nᵀy + c_n, the optimal drift is b = L_n y + l_n,
//! L_n = −H⁻¹GᵀP_{n+1}Φ_n, l_n = −H⁻¹Gᵀ(P_{n+1}f_n + p_{n+1}), H = K + dt GᵀP_{n+1}G
//! (G selects x, Φ_n and f_n the uncontrolled step), and every feedback b = L_n y + l_n is
//! evaluated by the same backward recursion (policy evaluation):
//!
//! ```text
//!   P_n = dt EᵀQE + dt L_nᵀKL_n + M_nᵀP_{n+1}M_n,       M_n = Φ_n + dt G L_n,
//!   p_n = dt L_nᵀK l_n + M_nᵀ(P_{n+1} g_n + p_{n+1}),   g_n = f_n + dt G l_n,
//!   c_n = c_{n+1} + dt ½l_nᵀKl_n + ½g_nᵀP_{n+1}g_n + p_{n+1}ᵀg_n + ½tr(P_{n+1}Ω),
//! ```
//!
//! (e = Ey the tracking error, Ω the step's noise covariance), expected over the initial
//! law y_0 ~ N((m_k, m_1, …, m_p), diag(C_k, C_1/N_1, …, C_p/N_p)).
//!
//! ε(N) = J(mean-field feedback) − J(best response) ≥ 0 exactly (the mean-field feedback
//! is one of the feedbacks the best response minimises over). As N → ∞ the target becomes
//! the deterministic mean path of the chain and the best response is the discrete-time
//! tracking feedback, which differs from the sampled continuous-time mean-field feedback
//! Aφ(t_n) by O(dt): ε(∞) = O(dt²), and ε(N) − ε(∞) = O(1/N) (the value of observing
//! fluctuations of size N^{-1/2}).

use super::closed_loop::trace_product;
use super::{cholesky_psd, normals, AffineFeedback, ParticleSystem};
use crate::error::{Param, Result, SolverError};
use ndarray::{s, Array1, Array2, Array3};
use ndarray_linalg::Inverse;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// A feedback b = L_n y + l_n on the augmented state, per level n < steps.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentedFeedback {
    /// L_n, shape (steps, d, D) with D = d(1 + p).
    pub gain: Array3<f64>,
    /// l_n, shape (steps, d).
    pub offset: Array2<f64>,
}

/// ε-Nash gain of one deviating copy (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct EpsilonNash {
    /// Expected cost of the deviator under the mean-field feedback (= any copy's expected
    /// realised cost when nobody deviates).
    pub mean_field_cost: f64,
    /// Expected cost under the best response.
    pub best_response_cost: f64,
    /// ε = mean_field_cost − best_response_cost ≥ 0.
    pub epsilon: f64,
    /// The best response b = L_n y + l_n.
    pub best_response: AugmentedFeedback,
}

/// Monte Carlo estimate of ε from sampled paths of the augmented chain (common random
/// numbers for both feedbacks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpsilonEstimate {
    /// Sample mean of J(mean field) − J(best response) over the replicates.
    pub mean: f64,
    /// Its standard error (sample std / √replicates).
    pub standard_error: f64,
    /// Number of replicates.
    pub replicates: usize,
}

/// The deviator's augmented problem for population `k` and `copies` per population
/// (`None`: N → ∞).
struct Augmented {
    d: usize,
    dim: usize,
    steps: usize,
    dt: f64,
    /// Φ_n (dim×dim) per level.
    phi: Vec<Array2<f64>>,
    /// f_n (dim) per level.
    f: Vec<Array1<f64>>,
    /// Noise variance per coordinate of one step.
    noise: Array1<f64>,
    /// Tracking error e = E y (d×dim).
    e: Array2<f64>,
    q: Array2<f64>,
    s: Array2<f64>,
    k: Array2<f64>,
    mean0: Array1<f64>,
    cov0: Array2<f64>,
    /// The mean-field feedback as an augmented feedback.
    mean_field: AugmentedFeedback,
}

impl Augmented {
    fn new(
        system: &ParticleSystem,
        feedback: &AffineFeedback,
        k: usize,
        copies: Option<usize>,
    ) -> Result<Self> {
        system.validate()?;
        feedback.check(system)?;
        let p = system.populations.len();
        if k >= p {
            return Err(SolverError::invalid(
                Param::Argument("deviator"),
                format!("population index {k} is not below {p}"),
            ));
        }
        if copies.is_some_and(|n| n < 2) {
            return Err(SolverError::invalid(
                Param::Argument("copies"),
                "a deviation needs at least 2 copies per population",
            ));
        }
        if feedback.tracking.iter().any(|&v| v != 0.0) {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                "the ε-Nash study needs a feedback b = F x + g that does not track the \
                 empirical target (e.g. the exact LQ feedback)",
            ));
        }
        let cw = system.cost.as_ref().ok_or_else(|| {
            SolverError::invalid(
                Param::Argument("policy"),
                "the ε-Nash study needs the cost weights",
            )
        })?;
        if cw.core_penalty != 0.0 {
            return Err(SolverError::invalid(
                Param::CorePenalty,
                "the ε-Nash study is exact for LQ costs only",
            ));
        }
        let d = system.dim();
        let dim = d * (1 + p);
        let steps = system.steps;
        let dt = system.dt();
        let w = &system.averaging;
        // Inverse sizes 1/N_j of the others' empirical means (0 as N → ∞).
        let inv = |j: usize| match copies {
            None => 0.0,
            Some(n) if j == k => 1.0 / (n - 1) as f64,
            Some(n) => 1.0 / n as f64,
        };
        let own = copies.map_or(0.0, |n| 1.0 / n as f64);
        let mut e = Array2::zeros((d, dim));
        for i in 0..d {
            e[[i, i]] = w[[k, k]] * own - 1.0;
            for j in 0..p {
                let weight = if j == k {
                    w[[k, k]] * (1.0 - own)
                } else {
                    w[[k, j]]
                };
                e[[i, d * (1 + j) + i]] = weight;
            }
        }
        let mut phi = Vec::with_capacity(steps);
        let mut f = Vec::with_capacity(steps);
        let mut mf_gain = Array3::zeros((steps, d, dim));
        let mut mf_offset = Array2::zeros((steps, d));
        for n in 0..steps {
            let fn_ = feedback.gain.slice(s![n, .., ..]);
            let mut m = Array2::<f64>::eye(dim);
            let mut fv = Array1::zeros(dim);
            for j in 0..p {
                let o = d * (1 + j);
                let mut block = m.slice_mut(s![o..o + d, o..o + d]);
                block.scaled_add(dt, &fn_);
                fv.slice_mut(s![o..o + d])
                    .assign(&(&feedback.offset[j].row(n) * dt));
            }
            phi.push(m);
            f.push(fv);
            mf_gain.slice_mut(s![n, .., 0..d]).assign(&fn_);
            mf_offset.row_mut(n).assign(&feedback.offset[k].row(n));
        }
        let var = system.sigma * system.sigma * dt;
        let mut noise = Array1::zeros(dim);
        noise.slice_mut(s![0..d]).fill(var);
        let mut mean0 = Array1::zeros(dim);
        let mut cov0 = Array2::zeros((dim, dim));
        mean0
            .slice_mut(s![0..d])
            .assign(&system.populations[k].mean);
        cov0.slice_mut(s![0..d, 0..d])
            .assign(&system.populations[k].cov);
        for j in 0..p {
            let o = d * (1 + j);
            noise.slice_mut(s![o..o + d]).fill(var * inv(j));
            mean0
                .slice_mut(s![o..o + d])
                .assign(&system.populations[j].mean);
            cov0.slice_mut(s![o..o + d, o..o + d])
                .assign(&(&system.populations[j].cov * inv(j)));
        }
        Ok(Augmented {
            d,
            dim,
            steps,
            dt,
            phi,
            f,
            noise,
            e,
            q: cw.q.clone(),
            s: cw.s.clone(),
            k: cw.drift.clone(),
            mean0,
            cov0,
            mean_field: AugmentedFeedback {
                gain: mf_gain,
                offset: mf_offset,
            },
        })
    }

    /// Backward recursion (module docs): evaluates `given`, or minimises when `None`.
    /// Returns the expected cost over the initial law and the feedback used.
    fn backward(&self, given: Option<&AugmentedFeedback>) -> Result<(f64, AugmentedFeedback)> {
        let (d, dim, dt) = (self.d, self.dim, self.dt);
        let mut pm = self.e.t().dot(&self.s).dot(&self.e);
        let mut pv = Array1::<f64>::zeros(dim);
        let mut c = 0.0;
        let eqe = self.e.t().dot(&self.q).dot(&self.e);
        let mut used = AugmentedFeedback {
            gain: Array3::zeros((self.steps, d, dim)),
            offset: Array2::zeros((self.steps, d)),
        };
        for n in (0..self.steps).rev() {
            let (l, lo) = match given {
                Some(g) => (
                    g.gain.slice(s![n, .., ..]).to_owned(),
                    g.offset.row(n).to_owned(),
                ),
                None => {
                    let gpg = pm.slice(s![0..d, 0..d]).to_owned();
                    let h = &self.k + &(gpg * dt);
                    let hinv = h.inv().map_err(|e| SolverError::LinearAlgebra {
                        context: "best-response Riccati step",
                        message: e.to_string(),
                    })?;
                    let gp = pm.slice(s![0..d, ..]).to_owned();
                    let l = -hinv.dot(&gp.dot(&self.phi[n]));
                    let lo = -hinv.dot(&(gp.dot(&self.f[n]) + pv.slice(s![0..d])));
                    (l, lo)
                }
            };
            let mut m = self.phi[n].clone();
            m.slice_mut(s![0..d, ..]).scaled_add(dt, &l);
            let mut g = self.f[n].clone();
            g.slice_mut(s![0..d]).scaled_add(dt, &lo);
            let kl = self.k.dot(&l);
            let noise_term: f64 = (0..dim).map(|i| pm[[i, i]] * self.noise[i]).sum();
            let pg = pm.dot(&g);
            c += dt * 0.5 * lo.dot(&self.k.dot(&lo))
                + 0.5 * g.dot(&pg)
                + pv.dot(&g)
                + 0.5 * noise_term;
            let next_pv = l.t().dot(&self.k.dot(&lo)) * dt + m.t().dot(&(&pg + &pv));
            let mut next_pm = &eqe * dt + &(l.t().dot(&kl) * dt) + &m.t().dot(&pm).dot(&m);
            next_pm = (&next_pm + &next_pm.t()) * 0.5;
            pm = next_pm;
            pv = next_pv;
            used.gain.slice_mut(s![n, .., ..]).assign(&l);
            used.offset.row_mut(n).assign(&lo);
        }
        let second = &self.cov0 + &outer(&self.mean0);
        let cost = 0.5 * trace_product(&pm, &second) + pv.dot(&self.mean0) + c;
        if !cost.is_finite() {
            return Err(SolverError::NonFinite {
                stage: "best response",
                level: 0,
                population: 0,
            });
        }
        Ok((cost, used))
    }

    /// Cost of one sampled path of the augmented chain under `fb` (left-point rule, the
    /// realised cost of the copies) from the normals in `rng`.
    fn path_cost(&self, fb: &AugmentedFeedback, rng: &mut ChaCha8Rng, chol: &Array2<f64>) -> f64 {
        let (d, dim, dt) = (self.d, self.dim, self.dt);
        let mut z = vec![0.0; dim];
        normals(rng, &mut z);
        let mut y = &self.mean0 + &chol.dot(&Array1::from(z.clone()));
        let mut cost = 0.0;
        let sd: Array1<f64> = self.noise.mapv(f64::sqrt);
        for n in 0..self.steps {
            let e = self.e.dot(&y);
            let b = fb.gain.slice(s![n, .., ..]).dot(&y) + fb.offset.row(n);
            cost += dt * (0.5 * e.dot(&self.q.dot(&e)) + 0.5 * b.dot(&self.k.dot(&b)));
            let mut next = self.phi[n].dot(&y) + &self.f[n];
            next.slice_mut(s![0..d]).scaled_add(dt, &b);
            normals(rng, &mut z);
            for i in 0..dim {
                next[i] += sd[i] * z[i];
            }
            y = next;
        }
        let e = self.e.dot(&y);
        cost + 0.5 * e.dot(&self.s.dot(&e))
    }
}

fn outer(v: &Array1<f64>) -> Array2<f64> {
    let n = v.len();
    Array2::from_shape_fn((n, n), |(i, j)| v[i] * v[j])
}

/// ε-Nash gain of copy 0 of population `population` with `copies` copies per population
/// (`None`: N → ∞) when every other copy plays the affine `feedback` (T = 0). Exact
/// (module docs). Fields: `deviator`, `copies` (< 2), `policy`, `cost.core_penalty`.
pub fn epsilon_nash(
    system: &ParticleSystem,
    feedback: &AffineFeedback,
    population: usize,
    copies: Option<usize>,
) -> Result<EpsilonNash> {
    let aug = Augmented::new(system, feedback, population, copies)?;
    let (mf, _) = aug.backward(Some(&aug.mean_field))?;
    let (br, best) = aug.backward(None)?;
    Ok(EpsilonNash {
        mean_field_cost: mf,
        best_response_cost: br,
        epsilon: mf - br,
        best_response: best,
    })
}

/// Expected realised cost of a copy of population `population` in the game with `copies`
/// copies per population (`None`: N → ∞) when every copy plays the affine `feedback`
/// (T = 0), at the simulation's time step: the policy evaluation of [`epsilon_nash`]
/// without a deviation. It differs from the N → ∞ value by O(1/N) (the copy's own weight
/// in the empirical target and the others' fluctuations). Same fields as [`epsilon_nash`].
pub fn finite_n_cost(
    system: &ParticleSystem,
    feedback: &AffineFeedback,
    population: usize,
    copies: Option<usize>,
) -> Result<f64> {
    let aug = Augmented::new(system, feedback, population, copies)?;
    Ok(aug.backward(Some(&aug.mean_field))?.0)
}

/// Monte Carlo estimate of [`epsilon_nash`]'s ε from `replicates` sampled paths of the
/// augmented chain: each replicate draws one path under the mean-field feedback and one
/// under the best response from the same normals (ChaCha8 stream `replicate` of `seed`),
/// so the estimate is bit-identical for any thread count. An independent check of the
/// backward recursion, with its standard error.
pub fn epsilon_nash_monte_carlo(
    system: &ParticleSystem,
    feedback: &AffineFeedback,
    population: usize,
    copies: Option<usize>,
    replicates: usize,
    seed: u64,
) -> Result<EpsilonEstimate> {
    if replicates < 2 {
        return Err(SolverError::invalid(
            Param::Argument("replicates"),
            "at least 2 replicates are needed for a standard error",
        ));
    }
    let aug = Augmented::new(system, feedback, population, copies)?;
    let (_, best) = aug.backward(None)?;
    let chol = cholesky_psd(&aug.cov0)?;
    let diffs: Vec<f64> = (0..replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(r as u64);
            let mut twin = rng.clone();
            aug.path_cost(&aug.mean_field, &mut rng, &chol) - aug.path_cost(&best, &mut twin, &chol)
        })
        .collect();
    let m = replicates as f64;
    let mean = diffs.iter().sum::<f64>() / m;
    let var = diffs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
    Ok(EpsilonEstimate {
        mean,
        standard_error: (var / m).sqrt(),
        replicates,
    })
}
