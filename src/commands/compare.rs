//! `tufield compare SCENARIO [--out DIR]`: how far is the LQ approximation from the full
//! model's equilibrium?
//!
//! For one projected scenario (any model: LQ, bounded controls, core penalty, any initial
//! law), or the full game of a modal one ([`crate::run::compare::modal`]: mode by mode, exact), it computes
//!
//! 1. the full-PDE equilibrium (as `tufield solve`, written to `DIR/<stem>_pde.h5`);
//! 2. the exact LQ equilibrium of the model without its non-LQ terms (Riccati,
//!    docs/design.md §3) and the paper's Section 7 heuristic (h_k = −φρ_k, consensus);
//! 3. the **robust cost of each policy in the full model**: a designer of population k
//!    plays the policy's allocation (the channel optimum at the policy's value gradient,
//!    clipped to `bounds.allocation`), the disturbance best-responds, and the rest of the
//!    population is at the full-model equilibrium (target ρ_k of step 1). (With an expert
//!    `[model] a` there is no allocation/disturbance split: the designer controls the drift
//!    b at cost −½bᵀA⁻¹b, docs/design.md §4.) Its value solves
//!    the HJI with the designer's channels frozen and the cost is
//!    J_k = ∫ v_k(0, x) m_k(0, x) dx ([`tufield_solvers::policy_eval`]: the numerics live
//!    there, [`crate::run::compare`] evaluates the policies, [`crate::output::compare`] writes
//!    the file). The PDE policy is the optimum, so
//!    (J_π − J_PDE)/|J_PDE| is what a designer loses by using π (up to discretisation);
//!    the field v_π(0, ·) − v_PDE(0, ·) shows *where* it loses. The FPK of the same
//!    evaluation gives the means of a population whose designers all play π
//!    (`played_mean`), next to the means π's own theory predicts.
//!
//! Outputs in DIR: `report.md` (tables and figures), `compare.h5` (every number),
//! `<stem>_means.png`, `<stem>_drift.png`, `<stem>_loss.png`, and the PDE solve file.

mod accuracy;

use crate::cli::CompareArgs;
use crate::output::compare::write as write_h5;
use crate::plotting::compare as figures;
use crate::progress::ProgressMode;
use crate::run;
use crate::run::compare::{compare, modal, Comparison, Fields, ModeFields, POLICY_NAMES};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::fixed_point::Outcome;

/// Default output directory: `output/<scenario file stem>_compare/`.
pub fn default_output(scenario: &Path) -> PathBuf {
    crate::outpath::default_output_in(scenario, "_compare")
}

/// Runs the command.
pub fn run(args: &CompareArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let mut sc = Scenario::load(&args.scenario.scenario, &args.scenario.overrides()?)?;
    // The PDE's own error is stated next to every difference: estimate it unless the
    // scenario turns it off (modal scenarios: estimated here, mode by mode).
    if !sc.is_modal() && sc.settings.error_estimate.is_none() {
        sc.settings.error_estimate = Some(run::estimate::possible(&sc));
    }
    // A solve and the policy evaluations (each as large as a solve).
    let mut est = crate::budget::solve(&sc);
    est.bytes = est.bytes.saturating_mul(2);
    crate::budget::check(&sc, &est)?;
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => default_output(&args.scenario.scenario),
    };
    let inputs = crate::outpath::scenario_inputs(&sc, Some(&args.scenario.scenario));
    crate::outpath::prepare_dir(&dir, "--out", &inputs)?;
    let _lock = crate::outpath::RunLock::acquire(&dir, "--out")?;
    let stem = crate::outpath::scenario_stem(&args.scenario.scenario);
    let pde_path = dir.join(format!("{stem}_pde.h5"));
    let mode = ProgressMode::detect(quiet);
    let mut progress = |msg: &str| {
        if !quiet {
            eprintln!("  {msg}");
        }
    };
    let (cmp, iterations, estimate) = if sc.is_modal() {
        let (report, sol) = run::solve_modal_keeping_modes(&sc, &pde_path, mode, start)?;
        // The comparison cannot stop part-way: a signal from now on ends the run at once
        // (removing the temporary files).
        crate::interrupt::unwatch(None);
        require_converged(&sc, &report, quiet)?;
        let cmp = modal::compare(&sc, &sol, &mut progress)?;
        let estimate = if sc.settings.error_estimate == Some(false) {
            Err("solver.error_estimate is off".to_string())
        } else {
            progress("error estimate: every mode again on its grid coarsened by 2");
            modal::estimate(&sc, &sol)?
        };
        (cmp, report.iterations, estimate)
    } else {
        let report = run::solve(&sc, &pde_path, None, mode, start)?;
        require_converged(&sc, &report, quiet)?;
        let cmp = compare(&sc, &report.targets, &report.means, &mut progress)?;
        let estimate = report.error_estimate.unwrap_or_else(|| {
            Err("solver.error_estimate is off or the grid is too small".to_string())
        });
        (cmp, report.iterations, estimate)
    };
    let est: accuracy::Estimate = estimate.as_ref().map_err(Clone::clone);
    let h5 = write_h5(&dir.join("compare.h5"), &sc, &cmp, iterations, &est)?;
    let figs = vec![
        figures::means(&dir, &stem, &cmp)?,
        figures::drift(&dir, &stem, &cmp)?,
        figures::loss(&dir, &stem, &cmp)?,
    ];
    let md = write_report(&dir, &sc, &cmp, &figs, &h5, &pde_path, start, &est)?;
    if !quiet {
        print!("{}", summary(&sc, &cmp, &est));
        println!("  wrote {}", md.display());
        println!("  wall time {:.2} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The comparison needs the PDE equilibrium: a solve that did not converge ends the run
/// (its state is in the `_pde.h5` file when one was written).
fn require_converged(sc: &Scenario, report: &run::SolveReport, quiet: bool) -> AppResult<()> {
    if report.outcome != Outcome::Converged {
        return Err(AppError::NotConverged {
            source_name: sc.source_name.clone(),
            outcome: report.outcome.as_str().to_string(),
            iterations: report.iterations,
            residual: report.residual,
            detail: "; the PDE equilibrium is needed for the comparison (its state is in the \
                     _pde.h5 file)"
                .to_string(),
        });
    }
    if !quiet {
        eprintln!(
            "PDE equilibrium: {} iterations, {:.2} s; evaluating the policies…",
            report.iterations, report.wall_s
        );
    }
    Ok(())
}

fn fmt_rel(x: f64) -> String {
    format!("{:+.3} %", 100.0 * x)
}

/// The console summary: one line per population and policy.
pub fn summary(sc: &Scenario, cmp: &Comparison, est: &accuracy::Estimate) -> String {
    let mut s = format!(
        "{}: robust cost of each policy in the full model\n",
        sc.name
    );
    for k in 0..cmp.names.len() {
        s.push_str(&format!("  population {} ({}):\n", k + 1, cmp.names[k]));
        for (pi, pname) in POLICY_NAMES.iter().enumerate() {
            s.push_str(&format!(
                "    {:<28} J = {:<12.6} {}  max |Δm̄| {:.3e} {}\n",
                pname,
                cmp.costs[pi][k],
                if pi == 0 {
                    format!("(optimum, {})", accuracy::cost_note(est, cmp, k))
                } else {
                    format!(
                        "({} vs PDE, {})",
                        fmt_rel(cmp.relative_loss(pi, k)),
                        accuracy::cost_note(est, cmp, k)
                    )
                },
                cmp.mean_distance(pi, k),
                accuracy::mean_note(est, k),
            ));
        }
    }
    let negative = (1..3).any(|pi| (0..cmp.names.len()).any(|k| cmp.relative_loss(pi, k) < 0.0));
    if negative {
        s.push_str(
            "  (a negative difference is discretisation error of the PDE policy; refine \
             solver.points and solver.steps to separate it from a real loss, see report.md)\n",
        );
    }
    for line in accuracy::lines(sc, cmp, est) {
        s.push_str(&format!("{line}\n"));
    }
    for line in exact_lines(cmp) {
        s.push_str(&format!("{line}\n"));
    }
    s
}

/// Modal scenarios: the linear policies' robust costs without a grid next to their grid
/// values, and the heuristic's exact loss against the exact LQ policy.
fn exact_lines(cmp: &Comparison) -> Vec<String> {
    let Some([lq, heur]) = &cmp.exact_costs else {
        return Vec::new();
    };
    let rel = |a: f64, b: f64| (a - b) / b.abs().max(1e-300);
    let mut out = vec![
        "  without a grid (per mode the Riccati/Lyapunov ODE of the disturbance's best \
         response, the rest of the population at the exact LQ equilibrium):"
            .to_string(),
    ];
    for (k, name) in cmp.names.iter().enumerate() {
        out.push(format!(
            "    population {} ({name}): LQ policy {:.6} ({:+.2e} % from Riccati {:.6}; grid \
             {:+.2} %), heuristic {:.6} (grid {:+.2} %): heuristic loss {} exact, {} on \
             the grid",
            k + 1,
            lq[k],
            100.0 * rel(lq[k], cmp.riccati_cost[k]),
            cmp.riccati_cost[k],
            100.0 * rel(cmp.costs[1][k], lq[k]),
            heur[k],
            100.0 * rel(cmp.costs[2][k], heur[k]),
            fmt_rel(rel(heur[k], lq[k])),
            fmt_rel(cmp.relative_loss(2, k)),
        ));
    }
    out
}

/// The report's section on the modes: how the comparison is exact, and each mode's share
/// of every policy's cost with the heuristic's extra cost.
fn modal_section(cmp: &Comparison, modes: &[ModeFields]) -> String {
    let mut r = String::from("## Mode by mode\n\n");
    r.push_str(&format!(
        "The full {q}-dimensional game is compared exactly through its {q} modes y_i = u_iᵀx \
         (docs/design.md §2): with R = rI and Γ = γ²I the designer's and the disturbance's \
         parts of A are diagonal in the modes, so every policy's robust value is a sum of \
         1-D mode values and J_k = Σ_i J_k,i. Each policy (the linear ones as their quadratic \
         values) is evaluated on each mode's PDE grid against the mode's equilibrium \
         targets. Each mode's share of the costs (J_k,i; the heuristic's extra cost \
         J_heur − J_PDE in the last column):\n\n",
        q = modes.len()
    ));
    r.push_str("| mode | λ_i | population | J_PDE,i | J_LQ,i | J_heur,i | J_heur,i − J_PDE,i |\n");
    r.push_str("|---:|---:|---|---:|---:|---:|---:|\n");
    for (i, m) in modes.iter().enumerate() {
        for (k, name) in cmp.names.iter().enumerate() {
            r.push_str(&format!(
                "| {} | {:.4} | {name} | {:.6} | {:.6} | {:.6} | {:+.3e} |\n",
                i + 1,
                m.eigenvalue,
                m.costs[0][k],
                m.costs[1][k],
                m.costs[2][k],
                m.costs[2][k] - m.costs[0][k]
            ));
        }
    }
    r.push('\n');
    r
}

/// Writes `report.md` next to the figures.
#[allow(clippy::too_many_arguments)]
fn write_report(
    dir: &Path,
    sc: &Scenario,
    cmp: &Comparison,
    figs: &[PathBuf],
    h5: &Path,
    pde: &Path,
    start: Instant,
    est: &accuracy::Estimate,
) -> AppResult<PathBuf> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut r = String::new();
    r.push_str(&format!("# tufield compare: {}\n\n", sc.name));
    if !sc.description.is_empty() {
        r.push_str(&format!("{}\n\n", sc.description));
    }
    r.push_str(&format!(
        "Scenario `{}`; {}\n\n",
        sc.source_name,
        match sc.non_lq_terms() {
            Some(t) => format!(
                "**not LQ** ({t}): the exact LQ equilibrium is an approximation of this model."
            ),
            None => "an LQ model: the PDE and the exact LQ equilibrium must agree within the \
                     discretisation error."
                .to_string(),
        }
    ));
    r.push_str(&format!(
        "Grid {} points, {} time steps, T = {}. Policies: the full-PDE equilibrium \
         (`{}`), the exact LQ equilibrium (Riccati, docs/design.md §3) and the paper's Section 7 \
         heuristic (h_k = −φρ_k).\n\n",
        cmp.grid_text(),
        sc.settings.steps,
        sc.model.horizon,
        name(pde)
    ));
    r.push_str("## Cost of each policy in the full model\n\n");
    r.push_str(
        "Robust cost J_k = ∫ v_k(0,x) m_k(0,x) dx of a designer of population k who plays the \
         policy's allocation (clipped to the bounds) against the best-responding disturbance, \
         with the population at the full-PDE equilibrium. The PDE policy is the optimum; the \
         relative difference is what the policy loses, up to discretisation error: the \
         scheme's policy (lagged, from centred gradients) is optimal only in the limit, so on \
         coarse grids a smooth policy can come out slightly cheaper (negative differences; \
         on LQ scenarios they fall at second order under refinement, e.g. 3-D 21/31/41 \
         points: −8.2/−3.8/−2.2 %). Refine `solver.points` and `solver.steps` to separate \
         a real loss from this error. \"Its theory\": the mean path the policy's own \
         equilibrium predicts; \"played\": the mean of a population whose designers all play \
         the policy in the full model (disturbance at its best response, targets at the PDE \
         equilibrium).\n\n",
    );
    r.push_str(
        "| population | policy | J | vs PDE | max \\|m̄ − m̄_PDE\\| (its theory) | max \\|m̄ − m̄_PDE\\| (played) |\n",
    );
    r.push_str("|---|---|---:|---:|---:|---:|\n");
    for k in 0..cmp.names.len() {
        for (pi, pname) in POLICY_NAMES.iter().enumerate() {
            r.push_str(&format!(
                "| {} | {} | {:.6} | {} | {:.3e} | {:.3e} |\n",
                cmp.names[k],
                pname,
                cmp.costs[pi][k],
                if pi == 0 {
                    "—".to_string()
                } else {
                    fmt_rel(cmp.relative_loss(pi, k))
                },
                cmp.mean_distance(pi, k),
                cmp.played_distance(pi, k)
            ));
        }
    }
    r.push_str(
        "\nFor reference, the LQ model's own equilibrium value E[v_LQ(0, X)] (Riccati, \
         moment-matched initial law): ",
    );
    r.push_str(
        &cmp.riccati_cost
            .iter()
            .zip(&cmp.names)
            .map(|(c, n)| format!("{n} {c:.6}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    r.push_str(".\n\n");
    if let Fields::Modal(modes) = &cmp.fields {
        r.push_str(&modal_section(cmp, modes));
    }
    r.push_str("## Accuracy of the PDE reference\n\n");
    r.push_str(&format!(
        "{}\n",
        summary(sc, cmp, est)
            .lines()
            .skip(1)
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    ));
    r.push_str("\n## Mean trajectories\n\n");
    r.push_str(&format!(
        "Solid: full PDE; dashed: exact LQ; dotted: heuristic.\n\n![means]({})\n\n",
        name(&figs[0])
    ));
    r.push_str("## Feedback drifts at t = 0\n\n");
    let modal = matches!(cmp.fields, Fields::Modal(_));
    r.push_str(&format!(
        "| population | max \\|b_PDE − b_LQ\\| | {} under m(0) |\n|---|---:|---:|\n",
        if modal { "root mean square" } else { "mean" }
    ));
    for k in 0..cmp.names.len() {
        r.push_str(&format!(
            "| {} | {:.4e} | {:.4e} |\n",
            cmp.names[k],
            cmp.drift_difference(k),
            cmp.drift_difference_mean(k)
        ));
    }
    if modal {
        r.push_str(&format!(
            "\nThe full-game drift difference is U δ with δ_i = b_PDE,i − b_LQ,i the mode \
             differences (b_PDE,i = λ_i ∂_y v_i, b_LQ,i = λ_i(φ_i y + h_k,i)); U is \
             orthonormal, so its largest norm over the mode grids is (Σ_i max δ_i²)^½ and its \
             root mean square under m_k(0) is (Σ_i E δ_i²)^½. The figure shows |δ_i| per mode.\
             \n\n![drift]({})\n\n",
            name(&figs[1])
        ));
        r.push_str("## Where the heuristic loses\n\n");
        r.push_str(&format!(
            "v_heur,i(0, y) − v_PDE,i(0, y) per mode: the extra robust cost of a designer whose \
             copy starts at y_i = u_iᵀx on mode i and who plays the Section 7 heuristic (the \
             full field is the sum over modes).\n\n![loss]({})\n\n",
            name(&figs[2])
        ));
    } else {
        r.push_str(&format!(
            "\nb_PDE = ∇H(∇v) (the saturated optimum with bounds), b_LQ = A(φx + h_k) as the LQ \
             theory prescribes it (unclipped).\n\n![drift]({})\n\n",
            name(&figs[1])
        ));
        r.push_str("## Where the LQ policy loses\n\n");
        r.push_str(&format!(
            "v_LQ(0, x) − v_PDE(0, x): the extra robust cost of a designer starting at x who \
             plays the LQ policy (white contour: the initial population).\n\n![loss]({})\n\n",
            name(&figs[2])
        ));
    }
    r.push_str(&format!(
        "All numbers: `{}` (groups pde, lq, heuristic, {}); PDE equilibrium: `{}`. \
         Wall time {:.1} s.\n",
        name(h5),
        if modal { "modes/<i>" } else { "fields/<k>" },
        name(pde),
        start.elapsed().as_secs_f64()
    ));
    let dest = dir.join("report.md");
    let tmp = dir.join(format!(".report.md.tmp-{}", std::process::id()));
    std::fs::write(&tmp, r).map_err(|e| AppError::io(&tmp, "cannot write the report", &e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&dest, "cannot move the report into place", &e)
    })?;
    Ok(dest)
}
