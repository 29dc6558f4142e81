//! The solve of a modal scenario (`reduction = "modal"`): the full q-dimensional game as
//! q one-dimensional equilibria solved one after the other
//! ([`tufield_solvers::modal::solve_modal`], docs/design.md §2), each mode's fixed point
//! run by the shared driver ([`super::driver`]) with a progress bar per mode; the file is
//! written by `tufield solve`'s modal writer. No checkpoint is written.

use super::driver::Driver;
use super::observe::Observers;
use super::SolveReport;
use crate::interrupt::StopSource;
use crate::output::modal::write;
use crate::progress::ProgressMode;
use crate::report::format::num;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::cell::RefCell;
use std::path::Path;
use std::time::Instant;
use tufield_solvers::equilibrium::snapshot_levels;
use tufield_solvers::fixed_point::{Observer, Outcome, RunError};
use tufield_solvers::grid::DEFAULT_STD_MULTIPLE;
use tufield_solvers::modal::{solve_modal, ModalSettings, ModalSolution, ModeRun};

/// Solves a modal scenario and writes `out` (when every mode has results); `extra` is
/// told of every mode's run.
pub(crate) fn solve(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
    stop: &StopSource,
    extra: &mut dyn Observer<Error = AppError>,
) -> AppResult<SolveReport> {
    solve_keeping_modes(sc, out, pmode, start, stop, extra).map(|(report, _)| report)
}

/// The modal solve of [`crate::run::solve`], also returning the modes (for `tufield compare`), stopped by signals.
pub fn solve_modal_keeping_modes(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
) -> AppResult<(SolveReport, ModalSolution)> {
    solve_keeping_modes(
        sc,
        out,
        pmode,
        start,
        &StopSource::Signals,
        &mut Observers::new(),
    )
}

/// As [`solve`], also returning the modes: each mode's fixed point is run by the shared
/// driver ([`super::driver`]) with its own progress bar after its header line.
fn solve_keeping_modes(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
    stop: &StopSource,
    extra: &mut dyn Observer<Error = AppError>,
) -> AppResult<(SolveReport, ModalSolution)> {
    let err = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let st = &sc.settings;
    let points = st.points_per_axis(1)[0];
    let settings = ModalSettings {
        points,
        steps: st.steps,
        std_multiple: DEFAULT_STD_MULTIPLE,
        fixed_point: st.fixed_point(),
        snapshot_levels: snapshot_levels(st.steps, st.snapshot_every()),
    };
    let oracle = crate::oracle::compute(sc)?;
    let driver = Driver::new(pmode, stop.watch(None));
    let q = sc.dim();
    let p = sc.model.num_populations();
    if pmode != ProgressMode::Quiet {
        eprintln!(
            "{}: modal decomposition, {q} modes of the full {q}-D game, {p} population(s), \
             {points} points per mode, {} steps, {}, tol {:.1e}, {} thread(s)",
            sc.name,
            st.steps,
            st.acceleration_name(),
            st.tol,
            rayon::current_num_threads()
        );
        for line in super::warnings::warnings(sc, &oracle.exact)? {
            eprintln!("  {line}");
        }
    }
    let sol = solve_modal(&sc.model, &settings, &mut |run: ModeRun<'_>| {
        if pmode != ProgressMode::Quiet {
            let ax = run.grid.axis(0);
            eprintln!(
                "mode {}/{q}: grid {} on [{}, {}]",
                run.index + 1,
                ax.len(),
                num(ax.lo(), 3),
                num(ax.hi(), 3)
            );
        }
        driver.run(run.map, run.fixed_point, &RefCell::new(None), &mut *extra)
    });
    let sol = match sol {
        Ok(sol) => sol,
        Err(RunError::Solver(e)) => return Err(err(e)),
        Err(RunError::Observer(e)) => return Err(e),
    };
    let failure = sol
        .modes
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.failure.as_ref().map(|e| format!("mode {}: {e}", i + 1)));
    let mut report = SolveReport {
        outcome: sol.outcome,
        out: None,
        checkpoint: None,
        iterations: sol.iterations(),
        residual: if sol.modes.is_empty() {
            f64::INFINITY
        } else {
            sol.residual()
        },
        mass_error: sol.mass_error(),
        lq_mean_distance: f64::NAN,
        boundary_mass: sol
            .modes
            .iter()
            .map(|m| m.boundary_mass)
            .fold(0.0, f64::max),
        wall_s: 0.0,
        write_s: 0.0,
        write_times: crate::output::WriteTimes::default(),
        failure: if sol.outcome == Outcome::NonFinite {
            failure
        } else {
            None
        },
        targets: Vec::new(),
        means: Vec::new(),
        error_estimate: None,
        negative_density: Vec::new(),
    };
    if let Some(means) = &sol.means {
        report.lq_mean_distance = means
            .iter()
            .zip(&oracle.exact.populations)
            .flat_map(|(m, e)| m.iter().zip(e.mean.iter()).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        let t_write = Instant::now();
        write(out, sc, &sol, &oracle, &report)?;
        report.write_s = t_write.elapsed().as_secs_f64();
        report.out = Some(out.to_path_buf());
    }
    report.wall_s = start.elapsed().as_secs_f64();
    Ok((report, sol))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tufield_solvers::fixed_point::{Control, FixedPointState, IterationRecord};

    /// The 3-player game (q = 7 modes), three populations on a chain (every mode iterates),
    /// coarse.
    const MODAL: &str = r#"
[game]
players = 3
reduction = "modal"
[cost]
q = 1.0
s = 1.0
gamma = 2.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
[[population]]
mean = [-0.6, -0.4, -0.5, -0.8, -0.7, -0.6, -1.0]
std = [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
[[population]]
mean = [0.0, 0.1, -0.1, 0.0, 0.2, 0.0, 0.1]
std = [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
[[population]]
mean = [0.5, 0.7, 0.6, 0.9, 0.8, 1.0, 1.2]
std = [0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.4]
[graph]
kind = "chain"
[solver]
points = 41
steps = 20
"#;

    /// Records, run by run, the history length at every iteration and the outcome; raises
    /// `raise` at iteration `at` of run `run` (both 1-based).
    #[derive(Default)]
    struct Runs {
        seen: Vec<Vec<usize>>,
        outcomes: Vec<Outcome>,
        raise: Option<(Arc<AtomicBool>, usize, usize)>,
    }

    impl Observer for Runs {
        type Error = AppError;
        fn start(&mut self, state: &FixedPointState) -> AppResult<()> {
            assert!(state.history.is_empty(), "every mode starts afresh");
            self.seen.push(Vec::new());
            Ok(())
        }
        fn iteration(
            &mut self,
            state: &FixedPointState,
            _r: &IterationRecord,
            _g: &[f64],
        ) -> AppResult<Control> {
            let n = state.history.len();
            self.seen.last_mut().expect("told of the start").push(n);
            if let Some((token, run, at)) = &self.raise {
                if self.seen.len() == *run && n == *at {
                    token.store(true, Ordering::SeqCst);
                }
            }
            Ok(Control::Continue)
        }
        fn finish(&mut self, _state: &FixedPointState, outcome: Outcome) -> AppResult<()> {
            self.outcomes.push(outcome);
            Ok(())
        }
    }

    fn scenario() -> Scenario {
        Scenario::from_text("modal.toml", "modal", MODAL, &[]).unwrap()
    }

    #[test]
    fn the_driver_tells_an_observer_of_every_iteration_of_every_mode() {
        let sc = scenario();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("modal.h5");
        let mut runs = Runs::default();
        let (report, sol) = solve_keeping_modes(
            &sc,
            &out,
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(Arc::new(AtomicBool::new(false))),
            &mut runs,
        )
        .unwrap();
        assert_eq!(sol.outcome, Outcome::Converged);
        assert_eq!(sol.modes.len(), 7);
        assert_eq!(runs.seen.len(), sol.modes.len(), "one run per mode");
        for (seen, mode) in runs.seen.iter().zip(&sol.modes) {
            let n = mode.history.len();
            assert!(n >= 2, "each mode iterates");
            assert_eq!(*seen, (1..=n).collect::<Vec<_>>());
        }
        let outcomes: Vec<Outcome> = sol.modes.iter().map(|m| m.outcome).collect();
        assert_eq!(runs.outcomes, outcomes);
        assert_eq!(
            report.iterations,
            runs.seen.iter().map(Vec::len).sum::<usize>()
        );
        assert_eq!(report.out.as_deref(), Some(out.as_path()));
        assert!(out.exists());
    }

    #[test]
    fn a_raised_stop_token_ends_a_modal_solve_as_an_interruption_without_a_file() {
        let sc = scenario();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("modal.h5");
        let token = Arc::new(AtomicBool::new(false));
        // Raised after the first iteration of the second mode: that mode stops before
        // its next evaluation, and no further mode runs.
        let mut runs = Runs {
            raise: Some((token.clone(), 2, 1)),
            ..Runs::default()
        };
        let (report, sol) = solve_keeping_modes(
            &sc,
            &out,
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(token.clone()),
            &mut runs,
        )
        .unwrap();
        assert_eq!(report.outcome, Outcome::Interrupted);
        assert_eq!(sol.modes.len(), 2);
        assert_eq!(sol.modes[0].outcome, Outcome::Converged);
        assert_eq!(sol.modes[1].outcome, Outcome::Interrupted);
        assert_eq!(sol.modes[1].history.len(), 1);
        assert_eq!(runs.outcomes, [Outcome::Converged, Outcome::Interrupted]);
        assert!(sol.means.is_none());
        assert!(report.out.is_none());
        assert!(!out.exists(), "an interrupted modal run writes no output");
        // Through the public entry, a token raised from the start stops the first mode
        // before any evaluation.
        let report = crate::run::solve_with(
            &sc,
            &out,
            None,
            ProgressMode::Quiet,
            Instant::now(),
            &StopSource::Token(token),
            &mut Observers::new(),
        )
        .unwrap();
        assert_eq!(report.outcome, Outcome::Interrupted);
        assert_eq!(report.iterations, 0);
        assert!(report.out.is_none());
        assert!(!out.exists());
    }
}
