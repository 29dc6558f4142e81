//! The N-study of `tufield simulate --study N1,N2,…`: the copies run again with
//! [`STUDY_SEEDS`] seeds for every copy count N, and the rates at which the empirical
//! means and the realised cost approach their N → ∞ limits.
//!
//! `mean_deviation` is the RMS over levels of |m̂_k − m_k^ref| averaged over populations
//! and seeds; the reference is the N → ∞ limit of the simulated scheme: the exact mean of
//! the Euler chain for `lq` and `least-squares`, the FPK mean for a FILE (which adds a
//! discretisation floor). `cost_gap` is |realised − reference_cost| (the exact cost at the
//! same time step; the solve file's value for a FILE, which keeps its discretisation
//! floor); for affine policies it splits into `cost_bias` = |J_N − J_∞| (exact, O(1/N))
//! and `cost_fluctuation` = |realised − J_N| (O(N^{-1/2})), docs/design.md §6.

use crate::progress::ProgressMode;
use crate::run::simulate::{run_copies, solver_err, Prepared};
use crate::scenario::Scenario;
use crate::AppResult;
use tufield_solvers::particles::{
    finite_n_cost, loglog_slope, mean_path_deviation, SimulationOptions,
};

/// Replicate seeds per N in a `--study` (seeds S, S+1, …).
pub const STUDY_SEEDS: u64 = 4;

/// Result of a `--study`.
#[derive(Debug, Clone)]
pub struct Study {
    /// Copy counts.
    pub copies: Vec<usize>,
    /// Mean deviation per count (module docs).
    pub mean_deviation: Vec<f64>,
    /// Cost gap per count and what it is measured against (`None` without costs).
    pub cost_gap: Option<CostGap>,
    /// Fitted log-log slope of the mean deviation (≈ −½ expected).
    pub mean_deviation_slope: f64,
}

/// The study's cost gap |realised − reference| (module docs).
#[derive(Debug, Clone)]
pub struct CostGap {
    /// Gap per copy count, averaged over populations and seeds.
    pub gap: Vec<f64>,
    /// Fitted log-log slope (≈ −½ expected).
    pub slope: f64,
    /// What the realised cost is compared with.
    pub reference: &'static str,
    /// Exact finite-N bias |J_N − J_∞| of the expected realised cost per copy count,
    /// averaged over populations, and its log-log slope (≈ −1); affine feedbacks only.
    pub bias: Option<(Vec<f64>, f64)>,
    /// Fluctuation |realised − J_N| about the exact N-copy expectation, averaged over
    /// populations and seeds, and its slope (≈ −½); affine feedbacks only.
    pub fluctuation: Option<(Vec<f64>, f64)>,
}

/// Which cost the study's cost gap is measured against: the exact N → ∞ cost at the same
/// time step when known, else the solve file's mean-field value (with its discretisation
/// floor). `None` when the policy has no costs.
fn gap_reference(prep: &Prepared) -> Option<(Vec<f64>, &'static str)> {
    prep.system.cost.as_ref()?;
    match &prep.reference_cost {
        Some(c) => Some((
            c.clone(),
            "exact expected realised cost of the Euler chain as N -> infinity (same time step)",
        )),
        None if prep.mean_field_cost.iter().all(|v| v.is_finite()) => Some((
            prep.mean_field_cost.clone(),
            "mean-field value of the solve file (includes its discretisation error)",
        )),
        None => None,
    }
}

/// Runs the N-study: [`STUDY_SEEDS`] seeds per copy count.
pub fn study(
    sc: &Scenario,
    prep: &Prepared,
    counts: &[usize],
    seed: u64,
    mode: ProgressMode,
) -> AppResult<Study> {
    let p = prep.system.populations.len() as f64;
    let reference = gap_reference(prep);
    // Exact expected realised cost J_N of a copy in the N-copy game (affine feedbacks,
    // N ≥ 2): the gap then measures the copies' fluctuation alone, the bias J_N − J_∞ is
    // reported next to it.
    let finite = match (&prep.feedback, &reference) {
        (Some(fb), Some(_)) if counts.iter().all(|&n| n >= 2) => Some(
            counts
                .iter()
                .map(|&n| {
                    (0..prep.system.populations.len())
                        .map(|k| finite_n_cost(&prep.system, fb, k, Some(n)))
                        .collect::<Result<Vec<f64>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| solver_err(sc, e))?,
        ),
        _ => None,
    };
    let mut dev = Vec::new();
    let mut gap = Vec::new();
    let mut fluct = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        let (mut dsum, mut gsum, mut fsum) = (0.0, 0.0, 0.0);
        for r in 0..STUDY_SEEDS {
            let opts = SimulationOptions {
                copies: n,
                seed: seed.wrapping_add(r),
                trajectories: 0,
                histogram: None,
            };
            let sim = run_copies(
                sc,
                prep,
                &opts,
                mode,
                format!("study N = {n}, seed {}", seed.wrapping_add(r)),
            )?;
            for (k, run) in sim.populations.iter().enumerate() {
                dsum += mean_path_deviation(&run.mean, &prep.reference_mean[k]);
                if let Some((cost, _)) = &reference {
                    gsum += (run.cost_mean - cost[k]).abs();
                    if let Some(f) = &finite {
                        fsum += (run.cost_mean - f[i][k]).abs();
                    }
                }
            }
        }
        dev.push(dsum / (p * STUDY_SEEDS as f64));
        gap.push(gsum / (p * STUDY_SEEDS as f64));
        fluct.push(fsum / (p * STUDY_SEEDS as f64));
    }
    let x: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
    let slope = |y: &[f64]| loglog_slope(&x, y).map_err(|e| solver_err(sc, e));
    let bias = match (&finite, &reference) {
        (Some(f), Some((cost, _))) => {
            let b: Vec<f64> = f
                .iter()
                .map(|jn| jn.iter().zip(cost).map(|(a, b)| (a - b).abs()).sum::<f64>() / p)
                .collect();
            // A zero bias (σ = 0 and point masses) has no rate.
            let s = loglog_slope(&x, &b).unwrap_or(f64::NAN);
            Some((b, s))
        }
        _ => None,
    };
    Ok(Study {
        mean_deviation_slope: slope(&dev)?,
        cost_gap: match reference {
            Some((_, note)) => Some(CostGap {
                slope: slope(&gap)?,
                gap,
                reference: note,
                bias,
                fluctuation: finite
                    .as_ref()
                    .map(|_| (fluct.clone(), loglog_slope(&x, &fluct).unwrap_or(f64::NAN))),
            }),
            None => None,
        },
        copies: counts.to_vec(),
        mean_deviation: dev,
    })
}
