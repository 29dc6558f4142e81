//! The N → ∞ limit of the Euler–Maruyama copies under an affine feedback, with the exact
//! expected realised cost **at the same time step** (docs/design.md §6).
//!
//! An affine feedback drives every copy of population k by
//!
//! ```text
//!   b = F_n x + T ρ_k,n + g_k,n,      ρ_k,n = Σ_j W_kj m_j,n                       (26)
//! ```
//!
//! (the LQ feedback A(φx + h_k) has F = Aφ, T = 0, g = Ah_k; the least-squares control
//! Π(ρ − x) has F = −Π, T = Π). As N → ∞ the empirical means become the deterministic
//! means m_k,n of the chain, and the law of a copy is Gaussian with
//!
//! ```text
//!   m_k,n+1 = m_k,n + dt (F_n m_k,n + T ρ_k,n + g_k,n),
//!   Σ_k,n+1 = M_n Σ_k,n M_nᵀ + σ² dt I,        M_n = I + dt F_n.
//! ```
//!
//! The realised cost of [`super`] (left-point rule, dt = T/steps) then has the exact
//! expectation
//!
//! ```text
//!   E J_k = Σ_{n<steps} dt [½tr(QΣ_n) + ½e_nᵀQe_n + ½b̄_nᵀKb̄_n + ½tr(F_nᵀKF_n Σ_n)]
//!           + ½tr(SΣ_steps) + ½e_stepsᵀS e_steps,
//! ```
//!
//! e_n = ρ_k,n − m_k,n, b̄_n = F_n m_k,n + Tρ_k,n + g_k,n. The finite-N realised cost
//! differs from it by the Monte Carlo error O(N^{-1/2}) and a bias O(1/N) (the copy's
//! own weight in the empirical target), not by the O(dt) time-step error that separates it
//! from the continuous-time value E v_k(0, X_0).

use super::{LeastSquaresPolicy, LeastSquaresTarget, LqPolicy, ParticleSystem};
use crate::error::{Param, Result, SolverError};
use ndarray::{s, Array1, Array2, Array3};

/// An affine feedback b = F_n x + T ρ_k,n + g_k,n (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AffineFeedback {
    /// F_n, shape (levels, d, d) (levels = steps + 1; the last level is not used).
    pub gain: Array3<f64>,
    /// T (d×d), the weight of the population's target ρ_k.
    pub tracking: Array2<f64>,
    /// g_k,n per population, shape (levels, d) each.
    pub offset: Vec<Array2<f64>>,
}

impl AffineFeedback {
    pub(super) fn check(&self, system: &ParticleSystem) -> Result<()> {
        let d = system.dim();
        let levels = system.steps + 1;
        let ok = self.gain.dim() == (levels, d, d)
            && self.tracking.dim() == (d, d)
            && self.offset.len() == system.populations.len()
            && self.offset.iter().all(|g| g.dim() == (levels, d));
        if !ok {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!(
                    "an affine feedback for {} population(s) needs F ({levels}, {d}, {d}), \
                     T ({d}, {d}) and g ({levels}, {d}) per population",
                    system.populations.len()
                ),
            ));
        }
        Ok(())
    }
}

/// Law and expected realised cost of the Euler chain as N → ∞ (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteLimit {
    /// m_k,n per population, shape (steps+1, d).
    pub mean: Vec<Array2<f64>>,
    /// Σ_k,n per population, shape (steps+1, d, d).
    pub cov: Vec<Array3<f64>>,
    /// ρ_k,n = Σ_j W_kj m_j,n per population, shape (steps+1, d).
    pub target: Vec<Array2<f64>>,
    /// E J_k per population (`None` when the system has no cost weights).
    pub cost: Option<Vec<f64>>,
}

/// The N → ∞ limit of [`super::simulate`] under `feedback` from the populations' initial
/// means and covariances (the law's first two moments are all an affine feedback sees).
/// Fields: `policy` (shapes), `cost.core_penalty` (the penalty κ max(0, −x)² is not
/// quadratic, so the cost has no closed form).
pub fn discrete_limit(system: &ParticleSystem, feedback: &AffineFeedback) -> Result<DiscreteLimit> {
    system.validate()?;
    feedback.check(system)?;
    if let Some(c) = &system.cost {
        if c.core_penalty != 0.0 {
            return Err(SolverError::invalid(
                Param::CorePenalty,
                "the expected cost of the Euler chain has a closed form only without the core \
                 penalty",
            ));
        }
    }
    let d = system.dim();
    let p = system.populations.len();
    let steps = system.steps;
    let dt = system.dt();
    let w = &system.averaging;
    let mut mean: Vec<Array2<f64>> = vec![Array2::zeros((steps + 1, d)); p];
    let mut cov: Vec<Array3<f64>> = vec![Array3::zeros((steps + 1, d, d)); p];
    let mut target: Vec<Array2<f64>> = vec![Array2::zeros((steps + 1, d)); p];
    for (k, pop) in system.populations.iter().enumerate() {
        mean[k].row_mut(0).assign(&pop.mean);
        cov[k].slice_mut(s![0, .., ..]).assign(&pop.cov);
    }
    let mut cost = vec![0.0; p];
    for n in 0..=steps {
        for k in 0..p {
            let mut rho = Array1::<f64>::zeros(d);
            for j in 0..p {
                rho.scaled_add(w[[k, j]], &mean[j].row(n));
            }
            target[k].row_mut(n).assign(&rho);
        }
        if n == steps {
            if let Some(c) = &system.cost {
                for k in 0..p {
                    let e = &target[k].row(n) - &mean[k].row(n);
                    let sig = cov[k].slice(s![n, .., ..]);
                    cost[k] +=
                        0.5 * trace_product(&c.s, &sig.to_owned()) + 0.5 * e.dot(&c.s.dot(&e));
                }
            }
            break;
        }
        let f = feedback.gain.slice(s![n, .., ..]).to_owned();
        let mut step = Array2::<f64>::eye(d);
        step.scaled_add(dt, &f);
        for k in 0..p {
            let m = mean[k].row(n).to_owned();
            let sig = cov[k].slice(s![n, .., ..]).to_owned();
            let rho = target[k].row(n).to_owned();
            let drift = f.dot(&m) + feedback.tracking.dot(&rho) + feedback.offset[k].row(n);
            if let Some(c) = &system.cost {
                let e = &rho - &m;
                let ftkf = f.t().dot(&c.drift).dot(&f);
                cost[k] += dt
                    * (0.5 * trace_product(&c.q, &sig)
                        + 0.5 * e.dot(&c.q.dot(&e))
                        + 0.5 * drift.dot(&c.drift.dot(&drift))
                        + 0.5 * trace_product(&ftkf, &sig));
            }
            mean[k].row_mut(n + 1).assign(&(&m + &(drift * dt)));
            let mut next = step.dot(&sig).dot(&step.t());
            for i in 0..d {
                next[[i, i]] += system.sigma * system.sigma * dt;
            }
            cov[k].slice_mut(s![n + 1, .., ..]).assign(&next);
        }
    }
    if mean.iter().any(|m| m.iter().any(|v| !v.is_finite())) {
        return Err(SolverError::NonFinite {
            stage: "discrete limit",
            level: steps,
            population: 0,
        });
    }
    Ok(DiscreteLimit {
        mean,
        cov,
        target,
        cost: system.cost.as_ref().map(|_| cost),
    })
}

/// tr(AB) for square A, B of the same size.
pub(crate) fn trace_product(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter().zip(b.t().iter()).map(|(x, y)| x * y).sum()
}

impl LqPolicy {
    /// This feedback as F_n = Aφ_n, T = 0, g_k,n = Ah_k,n.
    pub fn affine_feedback(&self) -> AffineFeedback {
        let (levels, d, _) = self.phi.dim();
        let mut gain = Array3::zeros((levels, d, d));
        for n in 0..levels {
            gain.slice_mut(s![n, .., ..])
                .assign(&self.a.dot(&self.phi.slice(s![n, .., ..])));
        }
        AffineFeedback {
            gain,
            tracking: Array2::zeros((d, d)),
            offset: self.h.iter().map(|h| h.dot(&self.a.t())).collect(),
        }
    }
}

impl LeastSquaresPolicy {
    /// This control as F = −Π and, towards the empirical target, T = Π, g = 0; towards
    /// given paths μ_k, T = 0, g_k,n = Πμ_k,n. `populations` and `steps` size the result.
    pub fn affine_feedback(&self, populations: usize, steps: usize) -> AffineFeedback {
        let q = self.proj.nrows();
        let levels = steps + 1;
        let mut gain = Array3::zeros((levels, q, q));
        for n in 0..levels {
            gain.slice_mut(s![n, .., ..]).assign(&(-&self.proj));
        }
        match &self.target {
            LeastSquaresTarget::Empirical => AffineFeedback {
                gain,
                tracking: self.proj.clone(),
                offset: vec![Array2::zeros((levels, q)); populations],
            },
            LeastSquaresTarget::Given(paths) => AffineFeedback {
                gain,
                tracking: Array2::zeros((q, q)),
                offset: paths.iter().map(|m| m.dot(&self.proj.t())).collect(),
            },
        }
    }
}
