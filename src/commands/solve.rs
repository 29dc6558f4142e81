//! `tufield solve SCENARIO [--out FILE.h5] [--resume CHECKPOINT.h5]`: the mean-field
//! equilibrium by the HJI–FPK fixed point on the mean trajectories (docs/design.md §4), with
//! progress, a checkpoint after every iteration, and an HDF5 file of the result next to
//! the exact LQ oracle.
//!
//! The file is written by the output layer, whose modules list its layout (paths are a
//! contract): [`crate::output::solve`] for projected scenarios, [`crate::output::modal`]
//! for modal ones, [`crate::output::estimate`] for the error estimate; the full
//! description, with the netCDF dimensions, the quantities and the XDMF sidecar, is
//! docs/output-files.md.
//!
//! The checkpoint (`<out stem>.checkpoint.h5`, see [`crate::checkpoint`]) is rewritten
//! after every iteration and removed once the run has converged and the output is written.
//!
//! # Modal scenarios (`reduction = "modal"`)
//!
//! The full q-dimensional game is solved as q independent 1-D equilibria, one mode after
//! the other ([`tufield_solvers::modal::solve_modal`], docs/design.md §2); `solver.points` is
//! the number of points of each mode's own 1-D grid.
//!
//! Modal runs write no checkpoint and refuse `--resume` (exit 2): each mode is a small
//! 1-D problem, so a stopped run is simply started again.

use crate::checkpoint::{self, checkpoint_path, Checkpoint};
use crate::cli::SolveArgs;
use crate::outpath;
use crate::progress::ProgressMode;
use crate::run::estimate::ErrorEstimate;
use crate::run::solve::{interrupted, modal_resume_refused};
use crate::run::{resume_command, solve, Resume, SolveReport};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::fixed_point::Outcome;

/// Boundary mass above which the summary warns that the walls are felt.
pub const BOUNDARY_MASS_WARNING: f64 = 1e-6;

/// Orders of magnitude by which the estimated error (scaled like the residual) may exceed
/// `solver.tol` before the summary says that iterating further is pointless.
pub const TOL_GAP_WARNING: f64 = 100.0;

/// Summary lines: the estimate, and a warning when it exceeds `solver.tol` by orders of
/// magnitude.
pub fn estimate_lines(sc: &Scenario, est: &Result<ErrorEstimate, String>) -> Vec<String> {
    let e = match est {
        Ok(e) => e,
        Err(why) => return vec![format!("  error estimate    not available: {why}")],
    };
    let pts: Vec<String> = e.coarse_points.iter().map(|n| n.to_string()).collect();
    let mut out = vec![format!(
        "  error estimate    means ± {:.1e}, cost ± {:.1e} (Richardson against the coarse \
         grid {}, {} steps; {:.2} s)",
        e.mean_error_max(),
        e.cost_error_max(),
        pts.join("×"),
        e.coarse_steps,
        e.wall_s
    )];
    let tol = sc.settings.tol;
    if e.scaled_mean_error > TOL_GAP_WARNING * tol {
        out.push(format!(
            "  warning: the estimated discretisation error of the means ({:.1e} of the domain \
             width) exceeds solver.tol = {tol:.1e} by {:.0} orders of magnitude: iterating \
             that far is pointless; raise solver.tol or refine solver.points and solver.steps",
            e.scaled_mean_error,
            (e.scaled_mean_error / tol).log10().floor()
        ));
    }
    out
}

/// Default output path: `output/<scenario file stem>.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    crate::outpath::default_output_in(scenario, ".h5")
}

/// Runs the command: load, (resume), iterate with progress and checkpoints, write,
/// summarise. Exit status via the error: not converged → [`AppError::NotConverged`],
/// stopped by a signal → [`AppError::Interrupted`].
pub fn run(args: &SolveArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let overrides = args.scenario.overrides()?;
    let given = match &args.scenario.scenario {
        Some(path) => Some((Scenario::load(path, &overrides)?, path.clone())),
        None => None,
    };
    if let (Some((sc, _)), Some(_)) = (&given, &args.resume) {
        if sc.is_modal() {
            return Err(modal_resume_refused(sc));
        }
    }
    let ck = match &args.resume {
        Some(p) => Some((p, checkpoint::load(p)?)),
        None => None,
    };
    let (sc, scenario_path) = match (given, &ck) {
        (Some(given), _) => given,
        (None, Some((p, ck))) => scenario_of_checkpoint(p, ck, &overrides)?,
        (None, None) => {
            return Err(AppError::invalid(
                "tufield solve",
                "SCENARIO",
                "give a scenario file, or --resume CHECKPOINT.h5",
            ))
        }
    };
    crate::budget::check(&sc, &crate::budget::solve(&sc))?;
    let out = match (&args.out, ck.as_ref().and_then(|(_, c)| c.run.as_ref())) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => default_output(&scenario_path),
    };
    // Before any work: the output (and the checkpoint next to it) is no input, can be
    // written, and no other run writes it.
    let mut inputs = outpath::scenario_inputs(&sc, args.scenario.scenario.as_deref());
    outpath::refuse_inputs(&checkpoint_path(&out), "--out", &inputs)?;
    if let Some((p, _)) = &ck {
        inputs.push(outpath::Input::new("the checkpoint resumed from", p));
    }
    outpath::prepare_file(&out, "--out", &inputs)?;
    let _locks = (
        outpath::RunLock::acquire(&out, "--out")?,
        outpath::RunLock::acquire(&checkpoint_path(&out), "--out")?,
    );
    let resume = match ck {
        Some(_) if sc.is_modal() => return Err(modal_resume_refused(&sc)),
        Some((p, ck)) => Some(check_compatible(p, ck, &sc)?),
        None => None,
    };
    let report = solve(&sc, &out, resume, ProgressMode::detect(quiet), start)?;
    if !quiet {
        print!("{}", summary(&sc, &report));
        if let Some(a) = crate::paper::claims::assess(&sc, None)? {
            print!("{}", a.summary());
        }
    }
    match report.outcome {
        Outcome::Converged => Ok(()),
        Outcome::Interrupted => Err(interrupted(
            &sc,
            "; modal runs write no checkpoint: run the solve again".to_string(),
        )),
        o => Err(AppError::NotConverged {
            source_name: sc.source_name.clone(),
            outcome: o.as_str().to_string(),
            iterations: report.iterations,
            residual: report.residual,
            detail: match (&report.failure, &report.checkpoint) {
                (Some(f), _) => format!("; {f}"),
                (None, Some(c)) if !sc.is_modal() && o == Outcome::MaxIterations => format!(
                    "; continue with: {} --set solver.max_iter={}",
                    resume_command(c),
                    (2 * sc.settings.max_iter).min(1_000_000)
                ),
                (None, Some(c)) if !sc.is_modal() => {
                    format!("; the state is kept in {}", c.display())
                }
                _ => String::new(),
            },
        }),
    }
}

/// The scenario recorded in a checkpoint (text after the original overrides, with
/// `overrides` applied on top) and the scenario path it was started with.
fn scenario_of_checkpoint(
    path: &Path,
    ck: &Checkpoint,
    overrides: &[crate::overrides::Override],
) -> AppResult<(Scenario, PathBuf)> {
    let run = ck.run.as_ref().ok_or_else(|| {
        AppError::invalid(
            path.display().to_string(),
            "--resume",
            "this checkpoint does not record its scenario file; give the scenario too: \
             tufield solve SCENARIO --resume CHECKPOINT.h5",
        )
    })?;
    let scenario_path = PathBuf::from(&run.scenario_file);
    let mut sc = Scenario::from_text_in(
        &run.scenario_file,
        &crate::outpath::scenario_stem(&scenario_path),
        &ck.scenario,
        overrides,
        &run.base_dir,
    )?;
    let mut all = run.overrides.clone();
    all.extend(sc.overrides.iter().cloned());
    sc.overrides = all;
    Ok((sc, scenario_path))
}

/// Checks that a checkpoint belongs to this scenario: same model, grid and time steps
/// (fixed-point settings such as `tol` or `max_iter` may change).
fn check_compatible(path: &Path, ck: Checkpoint, sc: &Scenario) -> AppResult<Resume> {
    let bad = |what: &str| AppError::Invalid {
        source_name: path.display().to_string(),
        key: "--resume".to_string(),
        message: format!(
            "the checkpoint was written for a different {what}; resume with the scenario \
             and --set overrides it was started with"
        ),
    };
    let base = ck
        .run
        .as_ref()
        .map_or(sc.base_dir.clone(), |r| r.base_dir.clone());
    let old = Scenario::from_text_in(
        &path.display().to_string(),
        &sc.name,
        &ck.scenario,
        &[],
        &base,
    )
    .map_err(|_| bad("scenario (its stored text no longer loads)"))?;
    if old.model != sc.model {
        return Err(bad("model"));
    }
    let (a, b) = (&old.settings, &sc.settings);
    if a.steps != b.steps
        || a.points_per_axis(old.dim()) != b.points_per_axis(sc.dim())
        || a.domain != b.domain
    {
        return Err(bad("grid or number of time steps"));
    }
    Ok(Resume {
        state: ck.state,
        evaluated: ck.evaluated,
    })
}

/// The closing summary.
pub fn summary(sc: &Scenario, r: &SolveReport) -> String {
    let mut s = format!(
        "{}: {} after {} iteration(s), residual {:.3e} (tol {:.1e})\n",
        sc.name,
        r.outcome.as_str(),
        r.iterations,
        r.residual,
        sc.settings.tol
    );
    if let Some(f) = &r.failure {
        s.push_str(&format!("  failure           {f}\n"));
    }
    s.push_str(&format!("  mass error        {:.2e}\n", r.mass_error));
    s.push_str(&format!(
        "  boundary mass     {:.2e} (largest mass on the walls over populations and times)\n",
        r.boundary_mass
    ));
    if r.boundary_mass > BOUNDARY_MASS_WARNING {
        s.push_str(&format!(
            "  warning: more than {BOUNDARY_MASS_WARNING:.0e} of the mass reached the walls; the \
             reflecting boundary may dominate the error: widen solver.domain\n"
        ));
    }
    for (k, neg) in r.negative_density.iter().enumerate() {
        if let Some(n) = neg {
            let at: Vec<String> = n.point.iter().map(|x| format!("{x:.3}")).collect();
            s.push_str(&format!(
                "  warning: population {k}'s density went negative: {:.2e} at ({}) at time \
                 level {}, negative mass up to {:.2e} (level {}); refine solver.steps or use \
                 scheme = \"monotone\"\n",
                n.min_value,
                at.join(", "),
                n.level,
                n.negative_mass,
                n.negative_mass_level
            ));
        }
    }
    if r.lq_mean_distance.is_finite() {
        s.push_str(&format!(
            "  distance to LQ    {:.3e} (max |m̄_PDE − m̄_exact| over populations, times, axes)\n",
            r.lq_mean_distance
        ));
        if let Some(terms) = sc.non_lq_terms() {
            s.push_str(&format!(
                "  note: the model is not LQ ({terms}); the distance to LQ measures how far \
                 the LQ approximation is, not an error\n"
            ));
        }
    }
    if let Some(e) = &r.error_estimate {
        for line in estimate_lines(sc, e) {
            s.push_str(&format!("{line}\n"));
        }
    }
    match &r.out {
        Some(o) => s.push_str(&format!("  wrote {}\n", o.display())),
        None => s.push_str("  no output written (no iteration completed)\n"),
    }
    if let Some(c) = &r.checkpoint {
        s.push_str(&format!("  checkpoint {}\n", c.display()));
    }
    s.push_str(&format!("  wall time {:.2} s\n", r.wall_s));
    s
}
