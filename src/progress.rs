//! Progress reporting of long runs (stderr, so stdout stays the summary).
//!
//! * On a terminal: two indicatif bars, the outer one over fixed-point iterations showing
//!   the latest residual, the inner one over the HJI/FPK sweeps of the current iteration.
//! * Not a terminal (a log file, CI, a batch job): timestamped plain lines, at most one
//!   every [`line_interval`] (10 s by default, `TUFIELD_PROGRESS_INTERVAL` seconds if set;
//!   the first iteration is always reported).
//! * `--quiet`: nothing.

use crate::run::observe::{Schedule, Timer, WallClock};
use crate::AppError;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;
use tufield_solvers::fixed_point::{Control, FixedPointState, IterationRecord, Observer};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// indicatif bars on stderr.
    Bars,
    /// One line per iteration on stderr.
    Lines,
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// Bars when stderr is a terminal, lines otherwise, nothing when `quiet`.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

/// Progress of a fixed-point run: `max_iter` iterations of `sweeps` sweeps each.
/// All methods take `&self` so the map and the observer of the iteration can share it.
#[derive(Debug)]
pub struct FixedPointProgress {
    mode: ProgressMode,
    _multi: Option<MultiProgress>,
    outer: Option<ProgressBar>,
    inner: Option<ProgressBar>,
    tol: f64,
    /// When the next plain line is due ([`line_interval`] apart, the first at once).
    lines: Mutex<Timer<WallClock>>,
}

impl FixedPointProgress {
    /// Starts the bars (if any); `done` iterations are already behind (a resumed run).
    pub fn new(mode: ProgressMode, max_iter: usize, sweeps: usize, done: usize, tol: f64) -> Self {
        if mode != ProgressMode::Bars {
            return FixedPointProgress {
                mode,
                _multi: None,
                outer: None,
                inner: None,
                tol,
                lines: Mutex::new(line_timer()),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let outer = multi.add(ProgressBar::new(max_iter as u64));
        outer.set_style(bar_style(
            "iterations {bar:30.cyan/blue} {pos:>4}/{len:4} {elapsed_precise} {msg}",
        ));
        outer.set_position(done as u64);
        outer.set_message(format!("tol {tol:.1e}"));
        let inner = multi.add(ProgressBar::new(sweeps as u64));
        inner.set_style(bar_style(
            "sweeps     {bar:30.green/white} {pos:>4}/{len:4} {msg}",
        ));
        FixedPointProgress {
            mode,
            _multi: Some(multi),
            outer: Some(outer),
            inner: Some(inner),
            tol,
            lines: Mutex::new(line_timer()),
        }
    }

    /// One HJI or FPK sweep finished; `what` names it (e.g. "FPK population 2").
    pub fn sweep(&self, what: &str) {
        if let Some(b) = &self.inner {
            b.inc(1);
            b.set_message(what.to_string());
        }
    }

    /// Iteration `index` (0-based) finished with `record`.
    pub fn iteration(&self, index: usize, record: &IterationRecord) {
        match self.mode {
            ProgressMode::Bars => {
                if let Some(b) = &self.outer {
                    b.set_position(index as u64 + 1);
                    b.set_message(format!(
                        "residual {:.3e} (tol {:.1e}){}",
                        record.residual,
                        self.tol,
                        if record.accelerated { " anderson" } else { "" }
                    ));
                }
                if let Some(b) = &self.inner {
                    b.reset();
                }
            }
            ProgressMode::Lines if !self.line_due() => {}
            ProgressMode::Lines => eprintln!(
                "{} iteration {:4}: residual {:.3e} (tol {:.1e}), {:.2} s{}",
                timestamp(),
                index + 1,
                record.residual,
                self.tol,
                record.wall_s,
                if record.accelerated {
                    ", next step anderson"
                } else {
                    ""
                }
            ),
            ProgressMode::Quiet => {}
        }
    }

    /// True when a progress line is due: the first one, or [`line_interval`] after the
    /// last one.
    fn line_due(&self) -> bool {
        let Ok(mut timer) = self.lines.lock() else {
            return true;
        };
        // A wall-time schedule does not look at the iteration count.
        timer.due(0)
    }

    /// Removes the bars (before the summary is printed).
    pub fn finish(&self) {
        for b in [&self.inner, &self.outer].into_iter().flatten() {
            b.finish_and_clear();
        }
    }
}

/// The schedule of plain progress lines: at once, then every [`line_interval`].
fn line_timer() -> Timer<WallClock> {
    Timer::new(Schedule::Every(line_interval()), WallClock::new())
}

/// A [`FixedPointProgress`] as an observer of the fixed point: reports every iteration
/// it is told of (the plain lines keep their own wall-time schedule).
pub struct ProgressObserver<'a>(pub &'a FixedPointProgress);

impl Observer for ProgressObserver<'_> {
    type Error = AppError;

    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        _g: &[f64],
    ) -> Result<Control, AppError> {
        self.0.iteration(state.history.len() - 1, record);
        Ok(Control::Continue)
    }
}

/// The bar style of every progress bar: `template` (an indicatif template) with "=> "
/// progress characters; the plain default bar if the template does not parse.
pub fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// Shortest time between two progress lines when stderr is not a terminal: 10 s, or
/// `TUFIELD_PROGRESS_INTERVAL` seconds (0 = every iteration).
pub fn line_interval() -> Duration {
    std::env::var("TUFIELD_PROGRESS_INTERVAL")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

/// The current UTC time as `2026-01-31T12:00:00Z` (the prefix of progress lines).
pub fn timestamp() -> String {
    crate::clock::utc_now()
}
