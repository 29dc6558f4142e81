//! The checks of the paper's claims (Section 8, Figures 5–9) named in a scenario's
//! `[paper]` table, computed from the scenario's own parameters (and, for `simulate`,
//! from the run), with the reason for a departure in words and the overrides that
//! restore the paper's behaviour. `solve`, `lq` and `simulate` print the assessment and
//! store it in their files' root attributes; `tufield paper` puts it in its report.
//!
//! * `copies-settle`: the copies' feedback drift Aφ(t)(x − target) relaxes a deviation
//!   along the eigenvector u_i of A at the rate |λ_i|φ_i(t), φ_i = u_iᵀφ(t)u_i (exact when
//!   A, Q and S commute, as in the paper's scenarios). Over the horizon a deviation
//!   keeps the fraction F_i = exp(−∫₀ᵀ |λ_i|φ_i dt); the claim holds when the slowest
//!   direction keeps at most e⁻³ ≈ 5 %.
//! * `consensus-stable`: the step matrix of (43) has spectral radius ρ < 1.
//! * `state-near-origin`: the internal model decays by (1 − θ dt)^N ≤ e⁻³ over the N
//!   steps; the run reports |x̄(T)| against |m̃(0)| and the part (I − Π)x̄(0) of the
//!   initial state outside range B_H, which the least-squares control (41) never moves.
//! * `least-squares-limit`: θ = 0 (constant internal model) and the error of the
//!   least-squares allocation, which falls by (1 − dt) per step, is below e⁻³ at T; the
//!   run reports |(B_HᵀB_H)⁻¹B_Hᵀ(x̄(T) − m̄(0))|.

use crate::h5::AtomicH5;
use crate::output::schema;
use crate::reduction::GameSpec;
use crate::report::format::num;
use crate::report::stability::consensus_verdict;
use crate::scenario::{PaperCheck, PaperRef, Reduction, Scenario};
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use tufield_solvers::game::Game;
use tufield_solvers::linalg::symmetric_eigen;
use tufield_solvers::lq::exact_equilibrium;

/// The largest fraction of a deviation the slowest direction may keep over the horizon
/// for "settles" (e⁻³).
pub const SETTLE_FRACTION: f64 = 0.049_787_068_367_863_944;

/// What a `simulate` run measured, for the run-level evidence.
pub struct RunEvidence<'a> {
    /// The copies' empirical mean per population, (steps+1) × q.
    pub empirical_mean: &'a [Array2<f64>],
    /// The heuristic's macroscopic target per population (μ_k of (43) or m̃_k), if any.
    pub target: Option<&'a [Array2<f64>]>,
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Which check.
    pub check: PaperCheck,
    /// Whether the run shows what the paper claims.
    pub holds: bool,
    /// What was computed (and measured), in words.
    pub finding: String,
}

/// The assessment of a scenario against its `[paper]` figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The scenario's `[paper]` table.
    pub paper: PaperRef,
    /// One verdict per check, in the table's order.
    pub verdicts: Vec<Verdict>,
}

impl Assessment {
    /// True when every check holds.
    pub fn reproduced(&self) -> bool {
        self.verdicts.iter().all(|v| v.holds)
    }

    /// "reproduced" or "departs" (the root attribute `paper_check`).
    pub fn status(&self) -> &'static str {
        if self.reproduced() {
            "reproduced"
        } else {
            "departs"
        }
    }

    /// Where and why the run departs ("" when it reproduces the figure).
    pub fn departure(&self) -> String {
        self.verdicts
            .iter()
            .filter(|v| !v.holds)
            .map(|v| v.finding.clone())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `--set` options that restore the paper's behaviour.
    pub fn restore_options(&self) -> String {
        self.paper
            .restore
            .iter()
            .map(|r| format!("--set {r}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How the figure's policy reads the paper, where that matters ("" otherwise): the
    /// second-order policy tracks μ_k of (43), Theorem 4 tracks ρ_k.
    pub fn policy_note(&self) -> &'static str {
        if self.paper.policy == "second-order" {
            "the second-order policy feeds every copy back towards μ_k of (43), its own \
             population's mean (Table 4, step 7); Theorem 4 and Section 7's heuristic track \
             ρ_k, the neighbours' average (`tufield lq`: \"Section 7, consensus\"); both end \
             at the same consensus, the transients differ."
        } else {
            ""
        }
    }

    /// The lines of a run summary.
    pub fn summary(&self) -> String {
        let p = &self.paper;
        let mut s = format!(
            "  paper         Figure {} (Section {}): {}\n",
            p.figure, p.section, p.shows
        );
        if !self.policy_note().is_empty() {
            s.push_str(&format!("    note: {}\n", self.policy_note()));
        }
        for v in &self.verdicts {
            s.push_str(&format!(
                "    {} {}: {}\n",
                if v.holds { "holds  " } else { "DEPARTS" },
                v.check.key(),
                v.finding
            ));
        }
        if !self.reproduced() {
            if p.restore.is_empty() {
                s.push_str("    this run departs from the paper's figure\n");
            } else {
                s.push_str(&format!(
                    "    this run departs from the paper's figure; restore its behaviour with {}\n",
                    self.restore_options()
                ));
            }
        }
        s
    }

    /// Root attributes (name, text): `paper_figure`, `paper_claim`, `paper_check`,
    /// `paper_findings`, `paper_departure`, `paper_policy_note`, `paper_restore`.
    pub fn attributes(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                schema::ATTR_PAPER_FIGURE,
                format!(
                    "Figure {} (Section {})",
                    self.paper.figure, self.paper.section
                ),
            ),
            (schema::ATTR_PAPER_CLAIM, self.paper.shows.clone()),
            (schema::ATTR_PAPER_CHECK, self.status().to_string()),
            (
                schema::ATTR_PAPER_FINDINGS,
                self.verdicts
                    .iter()
                    .map(|v| {
                        format!(
                            "{} {}: {}",
                            v.check.key(),
                            if v.holds { "holds" } else { "departs" },
                            v.finding
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" | "),
            ),
            (schema::ATTR_PAPER_DEPARTURE, self.departure()),
            (
                schema::ATTR_PAPER_POLICY_NOTE,
                self.policy_note().to_string(),
            ),
            (schema::ATTR_PAPER_RESTORE, self.restore_options()),
        ]
    }
}

/// Assesses `sc` (and the run, if given) and writes the assessment's root attributes
/// ([`Assessment::attributes`]) into the open file `w`; nothing without a `[paper]` table.
pub fn write_attributes(
    w: &AtomicH5,
    root: &hdf5::Location,
    sc: &Scenario,
    run: Option<&RunEvidence<'_>>,
) -> AppResult<Option<Assessment>> {
    let assessment = assess(sc, run)?;
    if let Some(a) = &assessment {
        for (name, value) in a.attributes() {
            w.str_attr(root, name, &value)?;
        }
    }
    Ok(assessment)
}

/// Assesses `sc` against its `[paper]` figure (`None` without a `[paper]` table).
pub fn assess(sc: &Scenario, run: Option<&RunEvidence<'_>>) -> AppResult<Option<Assessment>> {
    let Some(paper) = &sc.paper else {
        return Ok(None);
    };
    let verdicts = paper
        .checks
        .iter()
        .map(|c| match c {
            PaperCheck::CopiesSettle => copies_settle(sc, run),
            PaperCheck::ConsensusStable => consensus_stable(sc, run),
            PaperCheck::StateNearOrigin => state_near_origin(sc, run),
            PaperCheck::LeastSquaresLimit => least_squares_limit(sc, run),
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Some(Assessment {
        paper: paper.clone(),
        verdicts,
    }))
}

fn solver(sc: &Scenario) -> impl Fn(tufield_solvers::SolverError) -> AppError + '_ {
    move |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e)
}

/// The slowest closed-loop direction of the copies: the eigenvalue of A, the smallest and
/// largest rate |λ|φ_i(t), the fraction of a deviation kept over the horizon, and the
/// coalition of the eigenvector's largest entry.
struct SlowDirection {
    eigenvalue: f64,
    rate: (f64, f64),
    kept: f64,
    coalition: String,
}

fn slowest_direction(sc: &Scenario) -> AppResult<SlowDirection> {
    let m = &sc.model;
    let eq = exact_equilibrium(m, sc.settings.steps).map_err(solver(sc))?;
    let (lambda, u) = symmetric_eigen(&m.a).map_err(solver(sc))?;
    let dt = m.horizon / sc.settings.steps as f64;
    let levels = eq.phi.shape()[0];
    let mut best: Option<SlowDirection> = None;
    for i in 0..lambda.len() {
        let ui = u.column(i);
        let rates: Vec<f64> = (0..levels)
            .map(|n| {
                let phi = eq.phi.index_axis(ndarray::Axis(0), n);
                -lambda[i] * ui.dot(&phi.dot(&ui))
            })
            .collect();
        let integral: f64 = rates.windows(2).map(|w| 0.5 * (w[0] + w[1]) * dt).sum();
        let kept = (-integral).exp();
        let (lo, hi) = rates
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| {
                (a.min(*r), b.max(*r))
            });
        let top = (0..ui.len())
            .max_by(|&a, &b| ui[a].abs().total_cmp(&ui[b].abs()))
            .unwrap_or(0);
        if best.as_ref().is_none_or(|b| kept > b.kept) {
            best = Some(SlowDirection {
                eigenvalue: lambda[i],
                rate: (lo, hi),
                kept,
                coalition: m
                    .axis_labels
                    .get(top)
                    .cloned()
                    .unwrap_or_else(|| format!("x{top}")),
            });
        }
    }
    best.ok_or_else(|| AppError::invalid(&sc.source_name, "paper.checks", "the model has no axes"))
}

fn percent(x: f64) -> String {
    format!("{} %", num(100.0 * x, 3))
}

/// Largest |x̄_k(T) − target_k(T)| over populations and coalitions, with its coalition.
fn final_lag(sc: &Scenario, run: &RunEvidence<'_>, target: &[Array2<f64>]) -> (f64, String) {
    let mut worst = (0.0f64, String::new());
    for (m, t) in run.empirical_mean.iter().zip(target) {
        let n = m.nrows().min(t.nrows());
        if n == 0 {
            continue;
        }
        for j in 0..m.ncols().min(t.ncols()) {
            let lag = (m[[n - 1, j]] - t[[n - 1, j]]).abs();
            if lag > worst.0 {
                let label = sc
                    .model
                    .axis_labels
                    .get(j)
                    .cloned()
                    .unwrap_or_else(|| format!("x{j}"));
                worst = (lag, label);
            }
        }
    }
    worst
}

fn copies_settle(sc: &Scenario, run: Option<&RunEvidence<'_>>) -> AppResult<Verdict> {
    let slow = slowest_direction(sc)?;
    let holds = slow.kept <= SETTLE_FRACTION;
    let mut finding = if holds {
        format!(
            "every closed-loop direction settles within T = {}: the slowest (eigenvalue {} of A, \
             mostly the coalition {}) relaxes at the rate |λ|φ(t) ∈ [{}, {}] and keeps {} of a \
             deviation (≤ e⁻³ ≈ 5 %).",
            num(sc.model.horizon, 4),
            num(slow.eigenvalue, 4),
            slow.coalition,
            num(slow.rate.0, 4),
            num(slow.rate.1, 4),
            percent(slow.kept)
        )
    } else {
        format!(
            "the copies do not settle on their target within T = {}: the slowest closed-loop \
             direction (eigenvalue {} of A, mostly the coalition {}) relaxes at the rate \
             |λ|φ(t) ∈ [{}, {}] with Q = {}, S = {} and keeps {} of a deviation (more than \
             e⁻³ ≈ 5 %), so the fast time scale of the paper is missing.",
            num(sc.model.horizon, 4),
            num(slow.eigenvalue, 4),
            slow.coalition,
            num(slow.rate.0, 4),
            num(slow.rate.1, 4),
            scalar_or_matrix(&sc.model.q),
            scalar_or_matrix(&sc.model.s),
            percent(slow.kept)
        )
    };
    if let Some(run) = run {
        if let Some(target) = run.target {
            let (lag, label) = final_lag(sc, run, target);
            finding.push_str(&format!(
                " Measured: the copies' mean is at most {} off its target at T (on {label}).",
                num(lag, 3)
            ));
        }
    }
    Ok(Verdict {
        check: PaperCheck::CopiesSettle,
        holds,
        finding,
    })
}

fn scalar_or_matrix(m: &Array2<f64>) -> String {
    let d = m.nrows();
    let c = m[[0, 0]];
    let scalar = (0..d).all(|i| (0..d).all(|j| m[[i, j]] == if i == j { c } else { 0.0 }));
    if scalar {
        if c == 1.0 {
            "I".to_string()
        } else {
            format!("{}·I", num(c, 4))
        }
    } else {
        "(matrix)".to_string()
    }
}

fn consensus_stable(sc: &Scenario, run: Option<&RunEvidence<'_>>) -> AppResult<Verdict> {
    let (params, cons) = sc.second_order_consensus().map_err(solver(sc))?;
    let rho = cons.spectral_radius;
    let holds = rho < 1.0;
    let spread = |n: usize| {
        (0..cons.mean[0].ncols())
            .map(|j| {
                let v: Vec<f64> = cons.mean.iter().map(|m| m[[n, j]]).collect();
                v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                    - v.iter().cloned().fold(f64::INFINITY, f64::min)
            })
            .fold(0.0f64, f64::max)
    };
    let last = cons.mean[0].nrows() - 1;
    let mut finding = format!(
        "the consensus step (43) with θ = {}, θ̃ = {}, θ̂ = {} is {}; the spread of the \
         population means goes {} → {} at T.",
        num(params.theta, 3),
        num(params.theta_tilde, 3),
        num(params.theta_hat, 3),
        consensus_verdict(rho),
        num(spread(0), 4),
        num(spread(last), 4)
    );
    if !holds {
        finding.push_str(
            " The paper's oscillations that settle need ρ < 1; these grow on longer horizons.",
        );
    }
    let _ = run;
    Ok(Verdict {
        check: PaperCheck::ConsensusStable,
        holds,
        finding,
    })
}

/// B_H of the scenario's game (for the least-squares checks).
fn incidence(sc: &Scenario) -> AppResult<Array2<f64>> {
    let spec: &GameSpec = match &sc.reduction {
        Reduction::Projected(spec) | Reduction::Modal(spec) => spec,
        Reduction::Expert => {
            return Err(AppError::invalid(
                &sc.source_name,
                "paper.checks",
                "the least-squares checks need a [game] table (B_H)",
            ))
        }
    };
    Ok(Game::new(spec.players)
        .map_err(solver(sc))?
        .incidence()
        .clone())
}

/// (B_HᵀB_H)⁻¹B_Hᵀ v, by the normal equations (B_HᵀB_H is small and well conditioned).
fn least_squares(bh: &Array2<f64>, v: &Array1<f64>) -> Array1<f64> {
    let g = bh.t().dot(bh);
    let rhs = bh.t().dot(v);
    let n = g.nrows();
    // Gaussian elimination with partial pivoting.
    let mut a = g.clone();
    let mut b = rhs.clone();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[[i, c]].abs().total_cmp(&a[[j, c]].abs()))
            .unwrap_or(c);
        for k in 0..n {
            a.swap([c, k], [p, k]);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[[r, c]] / a[[c, c]];
            for k in c..n {
                a[[r, k]] -= f * a[[c, k]];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = Array1::zeros(n);
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[[r, k]] * x[k]).sum();
        x[r] = (b[r] - s) / a[[r, r]];
    }
    x
}

fn norm(v: &Array1<f64>) -> f64 {
    v.dot(v).sqrt()
}

/// The internal model's start m̃(0): `[heuristic] internal_model_mean` or the first
/// population's mean.
fn internal_start(sc: &Scenario, q: usize) -> Array1<f64> {
    match &sc.internal_model_mean {
        Some(v) if v.len() == q => Array1::from(v.clone()),
        _ => sc.model.populations[0].mean.clone(),
    }
}

fn state_near_origin(sc: &Scenario, run: Option<&RunEvidence<'_>>) -> AppResult<Verdict> {
    let steps = sc.settings.steps as i32;
    let dt = sc.model.horizon / steps as f64;
    let decay = (1.0 - sc.theta * dt).abs().powi(steps);
    let holds = decay <= SETTLE_FRACTION;
    let mut finding = format!(
        "the internal model m̃' = −θm̃ (θ = {}) decays by (1 − θ dt)^N = {} over the {} steps \
         ({}).",
        num(sc.theta, 3),
        num(decay, 4),
        steps,
        if holds {
            "≤ e⁻³: the target reaches a neighbourhood of the origin"
        } else {
            "more than e⁻³: the target stays far from the origin within the horizon"
        }
    );
    if let Some(run) = run {
        let bh = incidence(sc)?;
        let m = &run.empirical_mean[0];
        let x0 = m.row(0).to_owned();
        let xt = m.row(m.nrows() - 1).to_owned();
        let start = internal_start(sc, xt.len());
        if bh.nrows() == xt.len() {
            let resid = &x0 - &bh.dot(&least_squares(&bh, &x0));
            finding.push_str(&format!(
                " Measured: |x̄(T)| = {} against |m̃(0)| = {}; of it, the part (I − Π)x̄(0) of \
                 the initial state outside range B_H, which the least-squares control (41) \
                 never moves, has norm {}.",
                num(norm(&xt), 3),
                num(norm(&start), 4),
                num(norm(&resid), 3)
            ));
        }
    }
    Ok(Verdict {
        check: PaperCheck::StateNearOrigin,
        holds,
        finding,
    })
}

fn least_squares_limit(sc: &Scenario, run: Option<&RunEvidence<'_>>) -> AppResult<Verdict> {
    let steps = sc.settings.steps as i32;
    let dt = sc.model.horizon / steps as f64;
    let decay = (1.0 - dt).abs().powi(steps);
    let holds = sc.theta == 0.0 && decay <= SETTLE_FRACTION;
    let mut finding = if sc.theta != 0.0 {
        format!(
            "θ = {} ≠ 0: the internal model moves, so the state tracks it instead of the \
             least-squares approximation of m̄(0).",
            num(sc.theta, 3)
        )
    } else {
        format!(
            "θ = 0: the target m̄(0) is constant and the error of the least-squares allocation \
             falls by (1 − dt) per step, to {} of its start at T.",
            num(decay, 4)
        )
    };
    if let Some(run) = run {
        let bh = incidence(sc)?;
        let m = &run.empirical_mean[0];
        let xt = m.row(m.nrows() - 1).to_owned();
        let start = internal_start(sc, xt.len());
        if bh.nrows() == xt.len() {
            let err = norm(&(least_squares(&bh, &xt) - least_squares(&bh, &start)));
            finding.push_str(&format!(
                " Measured: |(B_HᵀB_H)⁻¹B_Hᵀ(x̄(T) − m̄(0))| = {} (allocation of m̄(0): {}).",
                num(err, 3),
                crate::report::format::vector(least_squares(&bh, &start).view(), 4)
            ));
        }
    }
    Ok(Verdict {
        check: PaperCheck::LeastSquaresLimit,
        holds,
        finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn least_squares_allocation_of_the_paper_section_8_1() {
        let g = Game::new(3).unwrap();
        let m0 = array![10.0, 20.0, 50.0, 30.0, 20.0, 50.0, 40.0];
        let a = least_squares(g.incidence(), &m0);
        // (B_HᵀB_H)⁻¹B_Hᵀm̄(0) = (0, 20, 30), checked by hand from the normal equations.
        for (x, y) in a.iter().zip([0.0, 20.0, 30.0]) {
            assert!((x - y).abs() < 1e-12, "{a}");
        }
    }
}
