//! `tufield solve SCENARIO [--out FILE.h5] [--resume CHECKPOINT.h5]`: the mean-field
//! equilibrium by the HJI–FPK fixed point on the mean trajectories (docs/design.md §4), with
//! progress, a checkpoint after every iteration, and an HDF5 file of the result next to
//! the exact LQ oracle.
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index, `<i>` the
//! 0-based axis; the full description, with the netCDF dimensions, the quantities and the
//! XDMF sidecar, is docs/output-files.md):
//!
//! ```text
//! /                      attrs tufield_version, scenario (TOML after overrides), name,
//!                              command = "solve", axis_labels, status, iterations,
//!                              threads, residual, tol, mass_error, lq_mean_distance,
//!                              boundary_mass, steps, core_penalty (κ),
//!                              allocation_bound (ū), disturbance_bound (w̄) (∞ when
//!                              unbounded), lq_note (what lq_mean_distance means: an
//!                              error for LQ models, the distance to the LQ
//!                              approximation when κ > 0 or with bounds)
//! /time                  (steps+1)          dimension scale "time"
//! /snapshot_time         (snapshots)        dimension scale "snapshot_time"
//! /snapshot_level        (snapshots) u64    time level of each snapshot
//! /x<i>                  (n_i)              coordinate variable of grid axis i
//! /grid/x<i>             (n_i)              the same nodes; attrs label, lo, hi, spacing
//! /populations/<k>       attrs name, initial_kind (gaussian | mixture | uniform | file),
//!                              normalisation (factor applied to reach mass 1)
//!     mean, target       (steps+1, d)       m̄_k(t_n) and ρ_k(t_n) of the last evaluation
//!     cov                (steps+1, d, d)    covariance of m_k
//!     mass, boundary_mass (steps+1)
//!     density, value     (snapshots, n_0[, n_1[, n_2]]) chunked per snapshot;
//!                        scales snapshot_time and x<i>; rounded to [output]
//!                        significant_bits (attribute
//!                        _QuantizeBitRoundNumberOfSignificantBits)
//!     core_fraction (snapshots), expected_cost, expected_cost_lq, and the drift
//!     fields allocation_drift, disturbance_drift unless [output] feedback_fields =
//!     false (solve/quantities.rs)
//! /fixed_point           attrs outcome, tol, acceleration, damping
//!     residual, damping, wall_s (iterations) f64; accelerated (iterations) u8
//! /model, /lq/...        as written by `tufield lq` (same time levels,
//!                        crate::output::oracle)
//! ```
//!
//! The checkpoint (`<out stem>.checkpoint.h5`, see [`crate::checkpoint`]) is rewritten
//! after every iteration and removed once the run has converged and the output is written.
//!
//! # Modal scenarios (`reduction = "modal"`)
//!
//! The full q-dimensional game is solved as q independent 1-D equilibria, one mode after
//! the other ([`tufield_solvers::modal::solve_modal`], docs/design.md §2); `solver.points` is
//! the number of points of each mode's own 1-D grid. The file has the same root
//! attributes (axis_labels = the q coalitions, plus `reduction = "modal"` and `modes`;
//! `iterations` is the total over modes, `residual` the largest last residual), `/time`,
//! `/snapshot_time`, `/snapshot_level`, `/model` and `/lq` as above, and instead of
//! `/grid`, `/populations/<k>/{density, …}` and `/fixed_point`:
//!
//! ```text
//! /populations/<k>       attr name
//!     mean, target       (steps+1, q)       m̄_k = U ȳ_k and ρ_k in coalition coordinates
//! /modes                 attrs count; eigenvalues (q) λ_i, eigenvectors (q, q) U
//!                        (column i = mode i in coalition coordinates), q, s (q) the
//!                        mode cost weights (UᵀQU)_ii, (UᵀSU)_ii
//! /modes/<i>             attrs eigenvalue, q, s, outcome, iterations, residual,
//!                              mass_error
//!     grid               (n)                the mode's 1-D grid, dimension scale;
//!                                           attrs label, lo, hi, spacing
//!     populations/<k>    attr name
//!         mean, target, variance, mass, boundary_mass (steps+1)
//!         density, value (snapshots, n)     scales snapshot_time and grid
//!     fixed_point/residual, damping, wall_s (iterations) f64; accelerated u8
//! ```
//!
//! Modal runs write no checkpoint and refuse `--resume` (exit 2): each mode is a small
//! 1-D problem, so a stopped run is simply started again.

pub mod estimate;
mod modal;
mod quantities;

use super::format::num;
use crate::checkpoint::{self, checkpoint_path, Checkpoint, RunRecord};
use crate::cli::SolveArgs;
use crate::h5::AtomicH5;
use crate::initial::{self, FileData, InitialSpec};
use crate::interrupt;
use crate::oracle::LqResults;
use crate::outpath;
use crate::output::{layout, oracle as lq_output, schema, xdmf, WriteTimes};
use crate::progress::{FixedPointProgress, ProgressMode};
use crate::scenario::Scenario;
use crate::settings::Domain;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2, CowArray};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap, SweepEvent};
use tufield_solvers::fixed_point::{Control, FixedPoint, FixedPointState, Outcome, RunError};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};
use tufield_solvers::scheme::{NegativeDensity, SchemeKind};
use tufield_solvers::SolverError;

/// Boundary mass above which the summary warns that the walls are felt.
pub const BOUNDARY_MASS_WARNING: f64 = 1e-6;

/// Default output path: `output/<scenario file stem>.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    super::default_output_in(scenario, ".h5")
}

/// The grid of a scenario: `solver.points` per axis on the `solver.domain` box.
pub fn grid_for(sc: &Scenario) -> AppResult<Grid> {
    if sc.is_modal() {
        return Err(AppError::invalid(
            &sc.source_name,
            "game.reduction",
            "a modal scenario has one 1-D grid per mode, not a single grid",
        ));
    }
    let d = sc.dim();
    let points = sc.settings.points_per_axis(d);
    let map = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    match &sc.settings.domain {
        Domain::Auto => Grid::auto(&sc.model, &points, DEFAULT_STD_MULTIPLE).map_err(map),
        Domain::Explicit(b) => {
            let lo: Vec<f64> = b.iter().map(|p| p.0).collect();
            let hi: Vec<f64> = b.iter().map(|p| p.1).collect();
            Grid::from_bounds(&lo, &hi, &points).map_err(map)
        }
    }
}

/// What a finished (or stopped) run produced.
#[derive(Debug)]
pub struct SolveReport {
    /// Why the iteration stopped.
    pub outcome: Outcome,
    /// The output file, when one was written.
    pub out: Option<PathBuf>,
    /// The checkpoint left behind (None once converged).
    pub checkpoint: Option<PathBuf>,
    /// Iterations done (including those before a resume).
    pub iterations: usize,
    /// Last residual (∞ if none).
    pub residual: f64,
    /// Largest |mass − 1| in the last evaluation.
    pub mass_error: f64,
    /// max over populations, levels and axes of |m̄_PDE − m̄_LQ|.
    pub lq_mean_distance: f64,
    /// Largest mass on the boundary nodes over populations and levels (last evaluation).
    pub boundary_mass: f64,
    /// Wall time of the command.
    pub wall_s: f64,
    /// Wall time spent writing the output file and its sidecar.
    pub write_s: f64,
    /// Where the write time went, phase by phase (projected solves).
    pub write_times: WriteTimes,
    /// Message of the numerical failure, if any.
    pub failure: Option<String>,
    /// Final target paths ρ_k, (steps+1) × d per population (empty for modal runs).
    pub targets: Vec<Array2<f64>>,
    /// Final PDE means m̄_k, (steps+1) × d per population (empty for modal runs).
    pub means: Vec<Array2<f64>>,
    /// The error estimate when `solver.error_estimate` is on and the run converged
    /// (`Err` says why it could not be formed), see [`estimate`].
    pub error_estimate: Option<Result<estimate::ErrorEstimate, String>>,
    /// Where each population's density went negative in the last evaluation, if it did
    /// (possible with `scheme = "second-order"` only; empty for modal runs).
    pub negative_density: Vec<Option<NegativeDensity>>,
}

/// Where a resumed run starts: a checkpoint's iteration state and the point of its last
/// completed evaluation.
#[derive(Debug, Clone)]
pub struct Resume {
    /// The iteration state.
    pub state: FixedPointState,
    /// The point of the last completed evaluation (`None`: not recorded).
    pub evaluated: Option<Vec<f64>>,
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
        if let Some(a) = super::paper::claims::assess(&sc, None)? {
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

/// The command that resumes from checkpoint `ckpt`, as it must be typed.
pub fn resume_command(ckpt: &Path) -> String {
    format!(
        "tufield solve --resume {}",
        shell_quote(&ckpt.display().to_string())
    )
}

/// `s` quoted for a POSIX shell when it holds anything but plain path characters.
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".to_string(),
        15 => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    }
}

/// The error of a run stopped by a signal; `detail` starts with "; ".
fn interrupted(sc: &Scenario, detail: String) -> AppError {
    let signal = interrupt::received().unwrap_or(2);
    AppError::Interrupted {
        source_name: sc.source_name.clone(),
        signal,
        signal_name: signal_name(signal),
        detail,
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
        &super::scenario_stem(&scenario_path),
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

/// The fixed point of one scenario written to `out` (library entry point of the command).
pub fn solve(
    sc: &Scenario,
    out: &Path,
    resume: Option<Resume>,
    mode: ProgressMode,
    start: Instant,
) -> AppResult<SolveReport> {
    if sc.is_modal() {
        if resume.is_some() {
            return Err(modal_resume_refused(sc));
        }
        return modal::solve(sc, out, mode, start);
    }
    let err = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let st = &sc.settings;
    let grid = grid_for(sc)?;
    let levels = snapshot_levels(st.steps, st.snapshot_every());
    let initial = sc
        .initial
        .iter()
        .zip(&sc.model.populations)
        .enumerate()
        .map(|(k, (spec, pop))| initial::discretise(&sc.source_name, k, spec, pop, &grid))
        .collect::<AppResult<Vec<_>>>()?;
    let normalisation: Vec<f64> = initial.iter().map(|i| i.normalisation).collect();
    let mut map = MeanFieldMap::with_scheme(
        &sc.model,
        &grid,
        st.steps,
        levels,
        initial.into_iter().map(|i| i.density).collect(),
        st.scheme,
    )
    .map_err(err)?;
    let (state, evaluated) = match resume {
        Some(r) if r.state.x.len() != map.len() => {
            return Err(AppError::Invalid {
                source_name: sc.source_name.clone(),
                key: "--resume".to_string(),
                message: format!(
                    "checkpoint iterate has {} values, this run needs {}",
                    r.state.x.len(),
                    map.len()
                ),
            })
        }
        Some(r) => (r.state, r.evaluated),
        None => (FixedPointState::new(map.initial_guess()), None),
    };
    let done = state.history.len();
    let mut fp = FixedPoint::new(st.fixed_point(), map.scale(), state).map_err(err)?;
    let oracle = crate::oracle::compute(sc)?;
    let ckpt = checkpoint_path(out);
    let record = RunRecord {
        scenario_file: sc.source_name.clone(),
        base_dir: checkpoint::absolute(&sc.base_dir),
        overrides: sc.overrides.clone(),
        out: checkpoint::absolute(out),
    };
    let hint = format!(
        "the checkpoint {} is kept; continue with: {}",
        ckpt.display(),
        resume_command(&ckpt)
    );
    let flag = interrupt::watch(Some(hint.clone()));
    map.set_interrupt(flag.clone());
    let never = AtomicBool::new(false);
    let stop: &AtomicBool = flag.as_deref().unwrap_or(&never);

    if mode != ProgressMode::Quiet {
        eprintln!("{}", header(sc, &grid, done));
        for line in initial_lines(sc, &normalisation) {
            eprintln!("{line}");
        }
        for line in super::accuracy::warnings(sc, &oracle.exact)? {
            eprintln!("  {line}");
        }
    }
    let p = sc.model.num_populations();
    let progress = FixedPointProgress::new(mode, st.max_iter, 2 * p, done, st.tol);
    // The point of the last completed evaluation (saved with every checkpoint) and
    // whether the map's results in memory belong to it.
    let evaluated = RefCell::new(evaluated);
    let mut evaluated_here = false;
    // A checkpoint of a finished run resumes into its outcome without a new iteration.
    let finished = if evaluated.borrow().is_some() {
        fp.finished()
    } else {
        None
    };
    let outcome = match finished {
        Some(o) => Ok(o),
        None => {
            let mut eval = |x: &[f64]| {
                let r = map.evaluate(x, &mut |ev| match ev {
                    SweepEvent::HjiDone(k) => progress.sweep(&format!("HJI population {}", k + 1)),
                    SweepEvent::FpkDone(k) => progress.sweep(&format!("FPK population {}", k + 1)),
                });
                if r.is_ok() {
                    *evaluated.borrow_mut() = Some(x.to_vec());
                    evaluated_here = true;
                }
                r
            };
            let mut observe = |state: &FixedPointState, rec: &_, _g: &[f64]| {
                // Checkpoint first: a printed iteration is a checkpointed one.
                let ev = evaluated.borrow();
                let saved = checkpoint::save(&ckpt, &sc.text, Some(&record), state, ev.as_deref());
                progress.iteration(state.history.len() - 1, rec);
                saved.map(|()| Control::Continue)
            };
            fp.run_fallible(&mut eval, &mut observe, stop)
        }
    };
    progress.finish();
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(RunError::Solver(e)) => return Err(err(e)),
        // A checkpoint that cannot be written is an I/O error.
        Err(RunError::Observer(e)) => return Err(e),
    };
    let evaluated = evaluated.into_inner();
    // The results written must be those of the last completed evaluation: after a resume
    // that did not evaluate (a finished run, or a failure at once) evaluate that point again.
    if outcome != Outcome::Interrupted && !evaluated_here {
        if let Some(x) = &evaluated {
            match map.evaluate(x, &mut |_| {}) {
                Ok(_) => {}
                Err(SolverError::Interrupted) => outcome = Outcome::Interrupted,
                Err(e) => return Err(err(e)),
            }
        }
    }
    if outcome == Outcome::Interrupted || stop.load(Ordering::SeqCst) {
        // The interrupted evaluation (if any) is discarded: the state is the one after the
        // last completed iteration, and a resume redoes that evaluation.
        checkpoint::save(
            &ckpt,
            &sc.text,
            Some(&record),
            fp.state(),
            evaluated.as_deref(),
        )?;
        return Err(interrupted(sc, format!("; {hint}")));
    }
    // From here a signal ends the process at once: the checkpoint is complete and a resume
    // writes the same file.
    interrupt::unwatch(ckpt.is_file().then(|| hint.clone()));
    let history = &fp.state().history;
    let residual = history.last().map_or(f64::INFINITY, |r| r.residual);
    let failure = fp.failure().map(|e| e.to_string());
    let mut report = SolveReport {
        outcome,
        out: None,
        checkpoint: ckpt.is_file().then(|| ckpt.clone()),
        iterations: history.len(),
        residual,
        mass_error: map.mass_error(),
        lq_mean_distance: f64::NAN,
        boundary_mass: map.boundary_mass(),
        wall_s: 0.0,
        write_s: 0.0,
        write_times: WriteTimes::default(),
        failure,
        targets: map.results().iter().map(|r| r.target.clone()).collect(),
        means: map.results().iter().map(|r| r.fpk.mean.clone()).collect(),
        error_estimate: None,
        negative_density: map
            .results()
            .iter()
            .map(|r| r.negative_density.clone())
            .collect(),
    };
    if !map.results().is_empty() {
        report.lq_mean_distance = lq_distance(&map, &oracle);
        let with_estimate = outcome == Outcome::Converged && estimate::wanted(sc);
        // The fine solution is written by a second thread while the error estimate's
        // coarse solve runs; the estimate's datasets are added once both are done.
        let t_write = Instant::now();
        let (opened, est, est_done) = std::thread::scope(|s| {
            let rep = &report;
            let writer =
                s.spawn(|| begin_write(out, sc, &grid, &map, &fp, &oracle, rep, &normalisation));
            let est = with_estimate.then(|| estimate::compute(sc, &grid, &map, mode, &never));
            let est_done = Instant::now();
            let opened = writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (opened, est, est_done)
        });
        report.error_estimate = est.transpose()?;
        let opened = opened?;
        report.write_times = finish_write(opened, sc, &report)?;
        // The wall time writing adds: what remains after the estimate (or everything when
        // there is none).
        let critical_from = if with_estimate { est_done } else { t_write };
        report.write_s = critical_from.elapsed().as_secs_f64();
        report.out = Some(out.to_path_buf());
        if outcome == Outcome::Converged && ckpt.is_file() {
            std::fs::remove_file(&ckpt)
                .map_err(|e| AppError::io(&ckpt, "cannot remove the checkpoint", &e))?;
            report.checkpoint = None;
        }
    }
    report.wall_s = start.elapsed().as_secs_f64();
    Ok(report)
}

fn modal_resume_refused(sc: &Scenario) -> AppError {
    AppError::invalid(
        &sc.source_name,
        "--resume",
        "modal scenarios (reduction = \"modal\") cannot be resumed: they write no checkpoint; \
         run the solve again (each mode is a small 1-D problem)",
    )
}

/// max over populations, levels and axes of |m̄_PDE − m̄_exact LQ|.
fn lq_distance(map: &MeanFieldMap, oracle: &LqResults) -> f64 {
    map.results()
        .iter()
        .zip(&oracle.exact.populations)
        .flat_map(|(r, e)| {
            r.fpk
                .mean
                .iter()
                .zip(e.mean.iter())
                .map(|(a, b)| (a - b).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

/// Header lines on the initial laws: kind and normalisation factor of non-Gaussian
/// populations (a factor far from 1 means the law was cut by the grid or the file was not
/// normalised).
fn initial_lines(sc: &Scenario, normalisation: &[f64]) -> Vec<String> {
    let mut out = Vec::new();
    for (k, (spec, f)) in sc.initial.iter().zip(normalisation).enumerate() {
        if *spec == InitialSpec::Gaussian {
            continue;
        }
        let what = match spec {
            InitialSpec::File { path, data, .. } => format!(
                "file {} ({})",
                path.display(),
                match data {
                    FileData::Density(_) => "grid density".to_string(),
                    FileData::Samples(s) => format!("{} samples, cloud-in-cell", s.nrows()),
                }
            ),
            other => other.kind().to_string(),
        };
        out.push(format!(
            "  population {}: {what}; normalised to mass 1 by the factor {f:.6} (mass before {:.6})",
            k + 1,
            1.0 / f
        ));
        if (f - 1.0).abs() > 1e-3 {
            out.push(format!(
                "  warning: population {} changed mass by {:.2} % when normalised",
                k + 1,
                100.0 * (1.0 / f - 1.0)
            ));
        }
    }
    if let Some(terms) = sc.non_lq_terms() {
        out.push(format!(
            "  model is not LQ ({terms}): the distance to LQ is not an error"
        ));
    }
    out
}

fn header(sc: &Scenario, grid: &Grid, done: usize) -> String {
    let st = &sc.settings;
    let shape: Vec<String> = grid.shape().iter().map(|n| n.to_string()).collect();
    let boxes: Vec<String> = grid
        .axes()
        .iter()
        .map(|a| format!("[{}, {}]", num(a.lo(), 3), num(a.hi(), 3)))
        .collect();
    let mut s = format!(
        "{}: {} population(s), d = {}, grid {} on {}, {} steps, {}, tol {:.1e}, {} thread(s)",
        sc.name,
        sc.model.num_populations(),
        sc.dim(),
        shape.join("×"),
        boxes.join("×"),
        st.steps,
        st.acceleration_name(),
        st.tol,
        rayon::current_num_threads()
    );
    if st.scheme != SchemeKind::Monotone {
        s.push_str(&format!(", {} scheme", st.scheme.name()));
    }
    if done > 0 {
        s.push_str(&format!(" (resuming after iteration {done})"));
    }
    s
}

/// A solve file being written: everything but the error estimate is in it.
struct OpenOutput {
    w: AtomicH5,
    axes: layout::TimeAxes,
    coords: Vec<hdf5::Dataset>,
    grid: xdmf::UniformGrid,
    snapshot_times: Vec<f64>,
    times: WriteTimes,
}

/// Starts writing the results atomically (layout in the module docs): every dataset but
/// the error estimate's; [`finish_write`] adds those and commits.
#[allow(clippy::too_many_arguments)]
fn begin_write(
    out: &Path,
    sc: &Scenario,
    grid: &Grid,
    map: &MeanFieldMap,
    fp: &FixedPoint,
    oracle: &LqResults,
    report: &SolveReport,
    normalisation: &[f64],
) -> AppResult<OpenOutput> {
    let mut times = WriteTimes::start();
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    w.set_significant_bits(sc.output.quantization());
    let root = w.root()?.clone();
    let hist = &fp.state().history;
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SOLVE)?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    super::paper::claims::write_attributes(&w, &root, sc, None)?;
    w.str_attr(&root, "status", report.outcome.as_str())?;
    w.scalar_attr(&root, schema::ATTR_ITERATIONS, hist.len() as u64)?;
    w.scalar_attr(&root, "threads", rayon::current_num_threads() as u64)?;
    w.scalar_attr(&root, schema::ATTR_RESIDUAL, report.residual)?;
    w.scalar_attr(&root, schema::ATTR_TOL, sc.settings.tol)?;
    w.scalar_attr(&root, schema::ATTR_MASS_ERROR, report.mass_error)?;
    w.scalar_attr(
        &root,
        schema::ATTR_LQ_MEAN_DISTANCE,
        report.lq_mean_distance,
    )?;
    w.str_attr(&root, "lq_note", &lq_output::lq_note(sc))?;
    w.scalar_attr(&root, "core_penalty", sc.model.core_penalty)?;
    w.scalar_attr(
        &root,
        "allocation_bound",
        sc.bounds.allocation.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(
        &root,
        "disturbance_bound",
        sc.bounds.disturbance.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(&root, "boundary_mass", report.boundary_mass)?;
    w.scalar_attr(&root, "steps", sc.settings.steps as u64)?;
    w.str_attr(&root, "scheme", sc.settings.scheme.name())?;

    let axes_t = layout::time_axes(&w, &oracle.exact.time, map.snapshot_levels())?;
    let time = axes_t.time.clone();
    let coords = layout::grid(&w, grid, &sc.model.axis_labels)?;
    times.lap("file, attributes and axes");

    w.group(schema::POPULATIONS)?;
    for (k, (res, spec)) in map.results().iter().zip(&sc.model.populations).enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        w.str_attr(&pg, "initial_kind", sc.initial[k].kind())?;
        w.scalar_attr(&pg, "normalisation", normalisation[k])?;
        if let Some(neg) = &res.negative_density {
            w.scalar_attr(&pg, "negative_density_min", neg.min_value)?;
            w.scalar_attr(&pg, "negative_density_level", neg.level as u64)?;
            let at: Vec<String> = neg.point.iter().map(|x| format!("{x:e}")).collect();
            w.str_list_attr(&pg, "negative_density_point", &at)?;
            w.scalar_attr(&pg, "negative_mass", neg.negative_mass)?;
        }
        for (name, data) in [(schema::MEAN, &res.fpk.mean), (schema::TARGET, &res.target)] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        let cov = w.array(&pg, schema::COV, &res.fpk.cov)?;
        layout::over_time(&w, &cov, &time)?;
        for (name, data) in [
            (schema::MASS, &res.fpk.mass),
            (schema::BOUNDARY_MASS, &res.fpk.boundary_mass),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        times.lap("mean paths");
        let n = res.value.len();
        let mut writers = [
            w.quantized_snapshots(&pg, schema::DENSITY, n, grid.shape())?,
            w.quantized_snapshots(&pg, schema::VALUE, n, grid.shape())?,
        ];
        crate::h5::push_together(&mut writers, n, |s| {
            Ok(vec![
                CowArray::from(res.density[s].view()),
                CowArray::from(res.value[s].view()),
            ])
        })?;
        for sw in &writers {
            layout::over_snapshots(
                &w,
                sw.dataset(),
                &axes_t.snapshot,
                &coords,
                &sc.model.axis_labels,
            )?;
        }
        times.lap("density and value");
        quantities::write(
            &w,
            sc,
            grid,
            res,
            &axes_t,
            &coords,
            &oracle.exact,
            k,
            &mut times,
        )?;
    }

    let fpg = w.group(schema::FIXED_POINT)?;
    w.str_attr(&fpg, "outcome", report.outcome.as_str())?;
    w.scalar_attr(&fpg, "tol", sc.settings.tol)?;
    w.scalar_attr(&fpg, "damping", sc.settings.damping)?;
    w.str_attr(&fpg, "acceleration", &sc.settings.acceleration_name())?;
    let col = |f: fn(&tufield_solvers::fixed_point::IterationRecord) -> f64| -> Array1<f64> {
        hist.iter().map(f).collect()
    };
    for (name, data) in [
        (schema::ATTR_RESIDUAL, col(|r| r.residual)),
        ("damping", col(|r| r.damping)),
        ("wall_s", col(|r| r.wall_s)),
    ] {
        let ds = w.array(&fpg, name, &data)?;
        w.dims(&ds, &[schema::DIM_ITERATION])?;
    }
    let acc: Array1<u8> = hist.iter().map(|r| u8::from(r.accelerated)).collect();
    let ds = w.array(&fpg, "accelerated", &acc)?;
    w.dims(&ds, &[schema::DIM_ITERATION])?;
    times.lap("file, attributes and axes");

    lq_output::write_groups(&w, sc, oracle, &time)?;
    times.lap("lq oracle");
    let snapshot_times: Vec<f64> = map
        .snapshot_levels()
        .iter()
        .map(|&l| oracle.exact.time[l])
        .collect();
    let grid = xdmf::UniformGrid {
        origin: grid.axes().iter().map(|a| a.lo()).collect(),
        spacing: grid.axes().iter().map(|a| a.spacing()).collect(),
        shape: grid.shape().to_vec(),
    };
    Ok(OpenOutput {
        w,
        axes: axes_t,
        coords,
        grid,
        snapshot_times,
        times,
    })
}

/// Adds the error estimate of `report` to the open file, commits it and writes the XDMF
/// sidecar; returns the time of every phase of the write.
fn finish_write(open: OpenOutput, sc: &Scenario, report: &SolveReport) -> AppResult<WriteTimes> {
    let OpenOutput {
        w,
        axes,
        coords,
        grid,
        snapshot_times,
        mut times,
    } = open;
    times.lap("waiting for the error estimate");
    if let Some(Ok(est)) = &report.error_estimate {
        estimate::write(&w, est, &axes, &coords, &sc.model.axis_labels, &sc.output)?;
    }
    times.lap("error estimate");
    drop((axes, coords));
    let out = w.commit()?;
    times.lap("commit (netCDF dimensions, close, rename)");
    let collections: Vec<xdmf::Collection> = sc
        .model
        .populations
        .iter()
        .enumerate()
        .map(|(k, spec)| xdmf::Collection {
            name: format!("population {k} ({})", spec.name),
            grid: grid.clone(),
            fields: xdmf_fields(sc, k),
        })
        .collect();
    xdmf::write(&out, &snapshot_times, &collections)?;
    times.lap("XDMF sidecar");
    Ok(times)
}

/// The fields of population `k` in the XDMF sidecar: density, value and, when written,
/// every component of the drift fields.
fn xdmf_fields(sc: &Scenario, k: usize) -> Vec<xdmf::Field> {
    let path = |f: &str| format!("/{}", schema::population_dataset(k, f));
    let mut fields: Vec<xdmf::Field> = [schema::DENSITY, schema::VALUE]
        .iter()
        .map(|f| xdmf::Field::scalar(f, path(f)))
        .collect();
    if sc.output.feedback_fields {
        for f in [schema::ALLOCATION_DRIFT, schema::DISTURBANCE_DRIFT] {
            fields.extend(xdmf::Field::components(f, &path(f), sc.dim()));
        }
    }
    fields
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
        for line in estimate::summary_lines(sc, e) {
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
