//! The fixed-point driver of every solve (docs/design.md §4.4): one mean-field map run
//! from a fixed-point state to its outcome x = G(x), its sweeps and iterations shown by a
//! [`ProgressObserver`], the caller's observers told of every iteration before the
//! progress (so a printed iteration is a checkpointed one), and the run's stop token
//! polled between iterations and before every time step of the sweeps. A projected solve
//! ([`super::solve`]) runs it once, a modal solve ([`super::modal`]) once per mode.

use super::observe::Observers;
use crate::progress::{FixedPointProgress, ProgressMode, ProgressObserver};
use crate::AppError;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tufield_solvers::equilibrium::{MeanFieldMap, SweepEvent};
use tufield_solvers::fixed_point::{FixedPoint, Observer, Outcome, RunError};
use tufield_solvers::SolverError;

/// How the fixed points of one solve are run: the progress they show and the stop token
/// they poll.
#[derive(Debug, Clone)]
pub(crate) struct Driver {
    progress: ProgressMode,
    stop: Option<Arc<AtomicBool>>,
}

impl Driver {
    /// Runs shown in `progress` mode and stopped by `stop`, the run's token
    /// ([`crate::interrupt::StopSource::watch`]; `None`: never raised).
    pub(crate) fn new(progress: ProgressMode, stop: Option<Arc<AtomicBool>>) -> Self {
        Driver { progress, stop }
    }

    /// Whether the run's stop token is raised.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Runs the fixed point `fp` of `map` from its state to its [`Outcome`]
    /// ([`FixedPoint::run_observed`]) with a progress bar of its own (finished when the
    /// run ends), `observers` told of the run before the progress.
    ///
    /// `evaluated` is the point of the map's last completed evaluation (`None` for a fresh
    /// run, a checkpoint's point for a resumed one); it is updated after every completed
    /// evaluation, before the observers are told, so a checkpoint saves it. A state that
    /// has already reached its outcome (the checkpoint of a finished run, its point known)
    /// ends at once without a new iteration. A run that ends, not interrupted, without a
    /// completed evaluation of its own evaluates `evaluated` again, so that the map's
    /// results are always those of that point.
    ///
    /// Errors: [`RunError::Solver`] for a numerical error that is not a non-finite value
    /// (a non-finite value is [`Outcome::NonFinite`] with its cause in
    /// [`FixedPoint::failure`]), [`RunError::Observer`] for a failed observer.
    pub(crate) fn run(
        &self,
        map: &mut MeanFieldMap,
        fp: &mut FixedPoint,
        evaluated: &RefCell<Option<Vec<f64>>>,
        observers: &mut dyn Observer<Error = AppError>,
    ) -> Result<Outcome, RunError<AppError>> {
        map.set_interrupt(self.stop.clone());
        let never = AtomicBool::new(false);
        let stop: &AtomicBool = self.stop.as_deref().unwrap_or(&never);
        let progress = FixedPointProgress::new(
            self.progress,
            fp.settings().max_iter,
            2 * map.num_populations(),
            fp.state().history.len(),
            fp.settings().tol,
        );
        let finished = if evaluated.borrow().is_some() {
            fp.finished()
        } else {
            None
        };
        // Whether the map's results in memory belong to a completed evaluation of this run.
        let mut evaluated_here = false;
        let outcome = match finished {
            Some(o) => Ok(o),
            None => {
                let mut eval = |x: &[f64]| {
                    let r = map.evaluate(x, &mut |ev| match ev {
                        SweepEvent::HjiDone(k) => {
                            progress.sweep(&format!("HJI population {}", k + 1))
                        }
                        SweepEvent::FpkDone(k) => {
                            progress.sweep(&format!("FPK population {}", k + 1))
                        }
                    });
                    if r.is_ok() {
                        *evaluated.borrow_mut() = Some(x.to_vec());
                        evaluated_here = true;
                    }
                    r
                };
                let mut all = Observers::new();
                all.push(observers);
                all.push(ProgressObserver(&progress));
                fp.run_observed(&mut eval, &mut all, stop)
            }
        };
        progress.finish();
        let mut outcome = outcome?;
        if outcome != Outcome::Interrupted && !evaluated_here {
            if let Some(x) = evaluated.borrow().as_deref() {
                match map.evaluate(x, &mut |_| {}) {
                    Ok(_) => {}
                    Err(SolverError::Interrupted) => outcome = Outcome::Interrupted,
                    Err(e) => return Err(RunError::Solver(e)),
                }
            }
        }
        Ok(outcome)
    }

    /// Runs a fresh fixed point `fp` of `map` (no completed evaluation yet, no observers
    /// of the caller) with [`Driver::run`]; a numerical error that is not a non-finite value
    /// is mapped by `solver_error`.
    pub(crate) fn run_afresh(
        &self,
        map: &mut MeanFieldMap,
        fp: &mut FixedPoint,
        solver_error: impl Fn(SolverError) -> AppError,
    ) -> Result<Outcome, AppError> {
        self.run(map, fp, &RefCell::new(None), &mut Observers::new())
            .map_err(|e| match e {
                RunError::Solver(e) => solver_error(e),
                RunError::Observer(e) => e,
            })
    }
}
