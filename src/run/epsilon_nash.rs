//! The ε-Nash study of `tufield simulate --epsilon-nash N1,N2,…` (docs/design.md §6). For
//! each copy count N and each population k, copy 0 of k best-responds (exact discrete-time
//! dynamic programming on its own state and the others' empirical means,
//! [`tufield_solvers::particles::epsilon_nash`]) while the other copies keep the policy's
//! affine feedback; ε_k(N) is its expected gain. A Monte Carlo estimate from sampled paths
//! (common random numbers for both feedbacks) gives a confidence interval; the rate is the
//! log-log slope of ε(N) − ε(∞) (ε(∞) = O(dt²) is the time-step floor for the exact LQ
//! feedback; for a heuristic it is what deviating gains even in the limit).
//!
//! The file's group `/epsilon_nash` is written by [`crate::output::simulate`].

use crate::run::simulate::{solver_err, Prepared};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use tufield_solvers::particles::{epsilon_nash, epsilon_nash_monte_carlo, loglog_slope};

/// Work budget of the Monte Carlo check: replicates × steps × (augmented dimension)².
const MONTE_CARLO_WORK: f64 = 4e8;

/// Result of the study, per copy count (rows) and population (columns).
#[derive(Debug, Clone)]
pub struct EpsilonStudy {
    /// Copy counts N.
    pub copies: Vec<usize>,
    /// Exact ε_k(N).
    pub epsilon: Array2<f64>,
    /// Expected cost of the deviator under the policy.
    pub mean_field_cost: Array2<f64>,
    /// Expected cost under the best response.
    pub best_response_cost: Array2<f64>,
    /// Monte Carlo estimate of ε_k(N).
    pub monte_carlo: Array2<f64>,
    /// Its standard error.
    pub standard_error: Array2<f64>,
    /// ε_k(∞).
    pub limit: Array1<f64>,
    /// Log-log slope of ε_k(N) − ε_k(∞) (NaN when not positive at every N).
    pub rate: Array1<f64>,
    /// Monte Carlo replicates per (N, k).
    pub replicates: usize,
}

/// policies without one).
pub fn study(
    sc: &Scenario,
    prep: &Prepared,
    counts: &[usize],
    seed: u64,
) -> AppResult<EpsilonStudy> {
    let feedback = prep.feedback.as_ref().ok_or_else(|| {
        AppError::invalid(
            &sc.source_name,
            "--epsilon-nash",
            "the ε-Nash study needs an affine feedback of the game's state: --policy lq or \
             second-order",
        )
    })?;
    let system = &prep.system;
    let p = system.populations.len();
    let m = counts.len();
    let dim = system.dim() * (1 + p);
    let replicates = (MONTE_CARLO_WORK / (system.steps as f64 * (dim * dim) as f64))
        .clamp(100.0, 4000.0) as usize;
    let err = |e| solver_err(sc, e);
    let mut out = EpsilonStudy {
        copies: counts.to_vec(),
        epsilon: Array2::zeros((m, p)),
        mean_field_cost: Array2::zeros((m, p)),
        best_response_cost: Array2::zeros((m, p)),
        monte_carlo: Array2::zeros((m, p)),
        standard_error: Array2::zeros((m, p)),
        limit: Array1::zeros(p),
        rate: Array1::from_elem(p, f64::NAN),
        replicates,
    };
    let x: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
    for k in 0..p {
        out.limit[k] = epsilon_nash(system, feedback, k, None)
            .map_err(err)?
            .epsilon;
        for (i, &n) in counts.iter().enumerate() {
            let e = epsilon_nash(system, feedback, k, Some(n)).map_err(err)?;
            out.epsilon[[i, k]] = e.epsilon;
            out.mean_field_cost[[i, k]] = e.mean_field_cost;
            out.best_response_cost[[i, k]] = e.best_response_cost;
            let mc = epsilon_nash_monte_carlo(
                system,
                feedback,
                k,
                Some(n),
                replicates,
                seed.wrapping_add(i as u64),
            )
            .map_err(err)?;
            out.monte_carlo[[i, k]] = mc.mean;
            out.standard_error[[i, k]] = mc.standard_error;
        }
        let above: Vec<f64> = (0..m).map(|i| out.epsilon[[i, k]] - out.limit[k]).collect();
        if let Ok(r) = loglog_slope(&x, &above) {
            out.rate[k] = r;
        }
    }
    Ok(out)
}
