//! The solve of a projected scenario (docs/design.md §4): the initial densities on the
//! grid, the mean-field map, its fixed point run once by the shared driver
//! ([`super::driver`]) with a checkpoint after every iteration, the file written by
//! `tufield solve` and the report. Modal scenarios go to [`super::modal`].

use super::driver::Driver;
use super::estimate;
use super::grid_for;
use super::observe::{Observers, Schedule, Scheduled, WallClock};
use crate::checkpoint::{self, checkpoint_path, CheckpointWriter, RunRecord};
use crate::initial::{self, FileData, InitialSpec};
use crate::interrupt::{self, StopSource};
use crate::oracle::LqResults;
use crate::output::solve::{begin_write, finish_write};
use crate::output::WriteTimes;
use crate::progress::ProgressMode;
use crate::report::format::num;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::Array2;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::fixed_point::{FixedPoint, FixedPointState, Observer, Outcome, RunError};
use tufield_solvers::grid::Grid;
use tufield_solvers::scheme::{NegativeDensity, SchemeKind};

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
pub(crate) fn interrupted(sc: &Scenario, detail: String) -> AppError {
    let signal = interrupt::received().unwrap_or(2);
    AppError::Interrupted {
        source_name: sc.source_name.clone(),
        signal,
        signal_name: signal_name(signal),
        detail,
    }
}

/// The fixed point of one scenario written to `out` (library entry point of the command).
pub fn solve(
    sc: &Scenario,
    out: &Path,
    resume: Option<Resume>,
    mode: ProgressMode,
    start: Instant,
) -> AppResult<SolveReport> {
    solve_with(
        sc,
        out,
        resume,
        mode,
        start,
        &StopSource::Signals,
        &mut Observers::new(),
    )
}

/// [`solve`] stopped by the token of `stop` (raised, the run ends as on a signal: the
/// checkpoint after the last completed iteration is kept and the error is
/// [`AppError::Interrupted`]), with `extra` observers told of every iteration after the
/// checkpoint and before the progress. A modal run has no checkpoint and tells `extra` of
/// each mode's run in turn (start, iterations, finish); a raised token ends it with
/// [`Outcome::Interrupted`] and no file.
pub fn solve_with(
    sc: &Scenario,
    out: &Path,
    resume: Option<Resume>,
    mode: ProgressMode,
    start: Instant,
    stop: &StopSource,
    extra: &mut dyn Observer<Error = AppError>,
) -> AppResult<SolveReport> {
    if sc.is_modal() {
        if resume.is_some() {
            return Err(modal_resume_refused(sc));
        }
        return super::modal::solve(sc, out, mode, start, stop, extra);
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
    let driver = Driver::new(mode, stop.watch(Some(hint.clone())));

    if mode != ProgressMode::Quiet {
        eprintln!("{}", header(sc, &grid, done));
        for line in initial_lines(sc, &normalisation) {
            eprintln!("{line}");
        }
        for line in super::warnings::warnings(sc, &oracle.exact)? {
            eprintln!("  {line}");
        }
    }
    // The point of the last completed evaluation, saved with every checkpoint.
    let evaluated = RefCell::new(evaluated);
    let run = {
        // Checkpoint first: a printed iteration is a checkpointed one.
        let mut observers = Observers::new();
        observers.push(Scheduled::new(
            CheckpointWriter {
                path: &ckpt,
                scenario: &sc.text,
                run: Some(&record),
                evaluated: &evaluated,
            },
            Schedule::EveryIterations(1),
            WallClock::new(),
        ));
        observers.push(extra);
        driver.run(&mut map, &mut fp, &evaluated, &mut observers)
    };
    let outcome = match run {
        Ok(o) => o,
        Err(RunError::Solver(e)) => return Err(err(e)),
        // A checkpoint that cannot be written is an I/O error.
        Err(RunError::Observer(e)) => return Err(e),
    };
    let evaluated = evaluated.into_inner();
    if outcome == Outcome::Interrupted || driver.stopped() {
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
        // coarse solve runs; that thread then writes the estimate's snapshot fields as
        // the estimate forms them, and the rest of the estimate is added once both are
        // done.
        let t_write = Instant::now();
        let (fields, received) = std::sync::mpsc::channel();
        let (opened, est, est_done) = std::thread::scope(|s| {
            let rep = &report;
            let (grid, map, fp, oracle) = (&grid, &map, &fp, &oracle);
            let normalisation = &normalisation;
            let writer = s.spawn(move || -> AppResult<_> {
                let mut open = begin_write(out, sc, grid, map, fp, oracle, rep, normalisation)?;
                open.receive_estimate(received, sc)?;
                Ok(open)
            });
            // The sender is dropped with this block: the writer stops waiting for fields.
            let est = {
                let fields = fields;
                with_estimate.then(|| {
                    estimate::compute(sc, grid, map, mode, &mut |e| {
                        // A writer that stopped reports its own error at the join.
                        let _ = fields.send(e);
                    })
                })
            };
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

pub(crate) fn modal_resume_refused(sc: &Scenario) -> AppError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tufield_solvers::fixed_point::{Control, IterationRecord};

    /// Two 1-D populations pulling each other's means: the iteration needs many steps.
    const TWO_POPULATIONS: &str = r#"
[model]
a = [[-0.75]]
[cost]
q = 1.0
s = 1.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
[[population]]
mean = [0.5]
std = [0.2]
[[population]]
mean = [-0.5]
std = [0.2]
[graph]
kind = "chain"
[solver]
points = 41
steps = 20
tol = 1e-300
max_iter = 10
acceleration = "none"
"#;

    /// Raises the token once the history has `at` iterations.
    struct RaiseAt(Arc<AtomicBool>, usize);

    impl Observer for RaiseAt {
        type Error = AppError;
        fn iteration(
            &mut self,
            state: &FixedPointState,
            _r: &IterationRecord,
            _g: &[f64],
        ) -> AppResult<Control> {
            if state.history.len() == self.1 {
                self.0.store(true, Ordering::SeqCst);
            }
            Ok(Control::Continue)
        }
    }

    #[test]
    fn a_raised_stop_token_ends_the_run_keeping_the_checkpoint_of_the_last_iteration() {
        let sc = Scenario::from_text("two.toml", "two", TWO_POPULATIONS, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("two.h5");
        let token = Arc::new(AtomicBool::new(false));
        let err = solve_with(
            &sc,
            &out,
            None,
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(token.clone()),
            &mut RaiseAt(token.clone(), 2),
        )
        .unwrap_err();
        assert!(matches!(err, AppError::Interrupted { .. }), "{err}");
        assert!(!out.exists(), "an interrupted run writes no output");
        let ck = checkpoint::load(&checkpoint_path(&out)).unwrap();
        assert_eq!(ck.state.history.len(), 2);
        assert!(ck.evaluated.is_some());
        // Resumed with a fresh token, the run goes on from iteration 2 to max_iter.
        let resume = Resume {
            state: ck.state,
            evaluated: ck.evaluated,
        };
        let report = solve_with(
            &sc,
            &out,
            Some(resume),
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(Arc::new(AtomicBool::new(false))),
            &mut Observers::new(),
        )
        .unwrap();
        assert_eq!(report.outcome, Outcome::MaxIterations);
        assert_eq!(report.iterations, 10);
        assert!(out.exists());
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_ends_the_run_as_an_io_error() {
        let sc = Scenario::from_text("two.toml", "two", TWO_POPULATIONS, &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("gone").join("two.h5");
        let err = solve_with(
            &sc,
            &out,
            None,
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(Arc::new(AtomicBool::new(false))),
            &mut Observers::new(),
        )
        .unwrap_err();
        match &err {
            AppError::Io { path, .. } => {
                assert_eq!(*path, checkpoint_path(&out).display().to_string())
            }
            other => panic!("expected an I/O error on the checkpoint, got {other}"),
        }
        assert!(!out.exists());
    }
}
