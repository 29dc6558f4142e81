//! The solve driver of a modal scenario (`reduction = "modal"`): the full q-dimensional
//! game as q one-dimensional equilibria solved one after the other
//! ([`tufield_solvers::modal::solve_modal`], docs/design.md §2), with a progress bar per
//! mode; the file is written by `tufield solve`'s modal writer. No checkpoint is written.

use super::SolveReport;
use crate::interrupt::StopSource;
use crate::output::modal::write;
use crate::progress::{FixedPointProgress, ProgressMode};
use crate::report::format::num;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::path::Path;
use std::time::Instant;
use tufield_solvers::equilibrium::{snapshot_levels, SweepEvent};
use tufield_solvers::fixed_point::{Control, Outcome};
use tufield_solvers::grid::DEFAULT_STD_MULTIPLE;
use tufield_solvers::modal::{solve_modal, ModalEvent, ModalSettings, ModalSolution};

/// Solves a modal scenario and writes `out` (when every mode has results).
pub(crate) fn solve(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
    stop: &StopSource,
) -> AppResult<SolveReport> {
    solve_keeping_modes(sc, out, pmode, start, stop).map(|(report, _)| report)
}

/// The modal solve of [`crate::run::solve`], also returning the modes (for `tufield compare`), stopped by signals.
pub fn solve_modal_keeping_modes(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
) -> AppResult<(SolveReport, ModalSolution)> {
    solve_keeping_modes(sc, out, pmode, start, &StopSource::Signals)
}

/// As [`solve`], also returning the modes.
fn solve_keeping_modes(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
    stop: &StopSource,
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
    let flag = stop.watch(None);
    let never = std::sync::atomic::AtomicBool::new(false);
    let stop = flag.as_deref().unwrap_or(&never);
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
    let mut progress: Option<FixedPointProgress> = None;
    let sol = {
        let mut on_event = |ev: ModalEvent<'_>| -> Control {
            match ev {
                ModalEvent::ModeStarted { mode, grid } => {
                    if pmode != ProgressMode::Quiet {
                        let ax = grid.axis(0);
                        eprintln!(
                            "mode {}/{q}: grid {} on [{}, {}]",
                            mode + 1,
                            ax.len(),
                            num(ax.lo(), 3),
                            num(ax.hi(), 3)
                        );
                    }
                    progress = Some(FixedPointProgress::new(
                        pmode,
                        st.max_iter,
                        2 * p,
                        0,
                        st.tol,
                    ));
                }
                ModalEvent::Sweep { event, .. } => {
                    if let Some(pr) = &progress {
                        pr.sweep(&match event {
                            SweepEvent::HjiDone(k) => format!("HJI population {}", k + 1),
                            SweepEvent::FpkDone(k) => format!("FPK population {}", k + 1),
                        });
                    }
                }
                ModalEvent::Iteration { state, record, .. } => {
                    if let Some(pr) = &progress {
                        pr.iteration(state.history.len() - 1, record);
                    }
                }
                ModalEvent::ModeFinished { .. } => {
                    if let Some(pr) = progress.take() {
                        pr.finish();
                    }
                }
            }
            Control::Continue
        };
        solve_modal(&sc.model, &settings, stop, &mut on_event)
    };
    if let Some(pr) = progress.take() {
        pr.finish();
    }
    let sol = sol.map_err(err)?;
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
