//! Observers of a fixed-point run ([`tufield_solvers::fixed_point::Observer`]) and when
//! they fire: every n iterations or at most once per wall-time interval, read from a
//! [`Clock`] that tests replace. Progress, checkpoints and logs are observers; a run
//! tells them in order with [`Observers`].

use crate::AppError;
use std::time::{Duration, Instant};
use tufield_solvers::fixed_point::{Control, FixedPointState, IterationRecord, Observer, Outcome};

/// The time since some fixed origin (a monotonic clock; tests inject their own).
pub trait Clock {
    /// Time elapsed since the clock's origin.
    fn now(&self) -> Duration;
}

/// The process's monotonic clock, with its origin when it was created.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    origin: Instant,
}

impl WallClock {
    /// A clock starting now.
    pub fn new() -> Self {
        WallClock {
            origin: Instant::now(),
        }
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for WallClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// When a scheduled observer is told of an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// After iterations n, 2n, 3n, … of the run's history (n ≥ 1; 1 = every iteration).
    EveryIterations(usize),
    /// After the first iteration seen, then once at least this long has passed since the
    /// last time it fired.
    Every(Duration),
}

/// Decides, iteration by iteration, whether a [`Schedule`] fires.
#[derive(Debug, Clone)]
pub struct Timer<C: Clock> {
    schedule: Schedule,
    clock: C,
    last: Option<Duration>,
}

impl<C: Clock> Timer<C> {
    /// A timer that has not fired yet.
    pub fn new(schedule: Schedule, clock: C) -> Self {
        Timer {
            schedule,
            clock,
            last: None,
        }
    }

    /// Whether the schedule fires after iteration `done` (the length of the history, 1 for
    /// the first iteration); a firing wall-time schedule restarts its interval.
    pub fn due(&mut self, done: usize) -> bool {
        match self.schedule {
            Schedule::EveryIterations(n) => n > 0 && done % n == 0,
            Schedule::Every(interval) => {
                let now = self.clock.now();
                let due = self.last.is_none_or(|t| now.saturating_sub(t) >= interval);
                if due {
                    self.last = Some(now);
                }
                due
            }
        }
    }
}

/// An observer told of an iteration only when its [`Timer`] fires (start and finish
/// always).
pub struct Scheduled<O, C: Clock> {
    inner: O,
    timer: Timer<C>,
}

impl<O, C: Clock> Scheduled<O, C> {
    /// `inner` on `schedule`, timed by `clock`.
    pub fn new(inner: O, schedule: Schedule, clock: C) -> Self {
        Scheduled {
            inner,
            timer: Timer::new(schedule, clock),
        }
    }
}

impl<O: Observer, C: Clock> Observer for Scheduled<O, C> {
    type Error = O::Error;

    fn start(&mut self, state: &FixedPointState) -> Result<(), O::Error> {
        self.inner.start(state)
    }

    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        g: &[f64],
    ) -> Result<Control, O::Error> {
        if self.timer.due(state.history.len()) {
            self.inner.iteration(state, record, g)
        } else {
            Ok(Control::Continue)
        }
    }

    fn finish(&mut self, state: &FixedPointState, outcome: Outcome) -> Result<(), O::Error> {
        self.inner.finish(state, outcome)
    }
}

/// Several observers told in order. Every one is told of every event; the first error
/// (in order) is returned after all were told, and the run stops if any asks to.
#[derive(Default)]
pub struct Observers<'a> {
    list: Vec<Box<dyn Observer<Error = AppError> + 'a>>,
}

impl<'a> Observers<'a> {
    /// No observer yet.
    pub fn new() -> Self {
        Observers { list: Vec::new() }
    }

    /// Adds `o` after the ones already there.
    pub fn push(&mut self, o: impl Observer<Error = AppError> + 'a) {
        self.list.push(Box::new(o));
    }
}

impl Observer for Observers<'_> {
    type Error = AppError;

    fn start(&mut self, state: &FixedPointState) -> Result<(), AppError> {
        let mut first = Ok(());
        for o in &mut self.list {
            let r = o.start(state);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        g: &[f64],
    ) -> Result<Control, AppError> {
        let mut first: Result<Control, AppError> = Ok(Control::Continue);
        for o in &mut self.list {
            let r = o.iteration(state, record, g);
            match (&first, r) {
                (Err(_), _) => {}
                (Ok(_), Err(e)) => first = Err(e),
                (Ok(_), Ok(Control::Stop)) => first = Ok(Control::Stop),
                (Ok(_), Ok(Control::Continue)) => {}
            }
        }
        first
    }

    fn finish(&mut self, state: &FixedPointState, outcome: Outcome) -> Result<(), AppError> {
        let mut first = Ok(());
        for o in &mut self.list {
            let r = o.finish(state, outcome);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A clock the test moves by hand.
    #[derive(Clone, Default)]
    struct ManualClock(Rc<Cell<Duration>>);

    impl ManualClock {
        fn advance(&self, secs: u64) {
            self.0.set(self.0.get() + Duration::from_secs(secs));
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            self.0.get()
        }
    }

    /// Counts the iterations it is told of; fails at iteration `fail_at`.
    struct Count {
        seen: Rc<Cell<Vec<usize>>>,
        fail_at: Option<usize>,
        stop_at: Option<usize>,
    }

    impl Count {
        fn new(seen: &Rc<Cell<Vec<usize>>>) -> Self {
            Count {
                seen: seen.clone(),
                fail_at: None,
                stop_at: None,
            }
        }
    }

    impl Observer for Count {
        type Error = AppError;
        fn iteration(
            &mut self,
            state: &FixedPointState,
            _r: &IterationRecord,
            _g: &[f64],
        ) -> Result<Control, AppError> {
            let n = state.history.len();
            let mut v = self.seen.take();
            v.push(n);
            self.seen.set(v);
            if self.fail_at == Some(n) {
                return Err(AppError::invalid(
                    "test",
                    "observer",
                    format!("failed at {n}"),
                ));
            }
            Ok(if self.stop_at == Some(n) {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }

    fn record() -> IterationRecord {
        IterationRecord {
            residual: 1.0,
            damping: 1.0,
            accelerated: false,
            wall_s: 0.0,
        }
    }

    /// Drives `o` through iterations 1..=n, advancing `clock` by `step[i]` seconds
    /// before iteration i + 1.
    fn drive(o: &mut dyn Observer<Error = AppError>, clock: &ManualClock, steps: &[u64]) {
        let mut state = FixedPointState::new(vec![0.0]);
        for s in steps {
            clock.advance(*s);
            state.history.push(record());
            o.iteration(&state, &record(), &[0.0]).unwrap();
        }
    }

    #[test]
    fn every_n_iterations_fires_on_multiples_of_n() {
        let seen = Rc::new(Cell::new(Vec::new()));
        let clock = ManualClock::default();
        let mut o = Scheduled::new(
            Count::new(&seen),
            Schedule::EveryIterations(3),
            clock.clone(),
        );
        drive(&mut o, &clock, &[0; 10]);
        assert_eq!(seen.take(), [3, 6, 9]);
        let mut every = Scheduled::new(
            Count::new(&seen),
            Schedule::EveryIterations(1),
            clock.clone(),
        );
        drive(&mut every, &clock, &[0; 4]);
        assert_eq!(seen.take(), [1, 2, 3, 4]);
    }

    #[test]
    fn wall_time_schedule_fires_first_then_after_each_interval() {
        let seen = Rc::new(Cell::new(Vec::new()));
        let clock = ManualClock::default();
        let mut o = Scheduled::new(
            Count::new(&seen),
            Schedule::Every(Duration::from_secs(10)),
            clock.clone(),
        );
        // Seconds before iterations 1..=8: fires at 1 (t = 0), 4 (t = 12), 5 (t = 22),
        // 8 (t = 35); not at t = 4, 8 (< 10 after 0) nor 24, 30 (< 10 after 22).
        drive(&mut o, &clock, &[0, 4, 4, 4, 10, 2, 6, 5]);
        assert_eq!(seen.take(), [1, 4, 5, 8]);
    }

    #[test]
    fn observers_are_all_told_and_the_first_error_or_stop_wins() {
        let (a, b) = (
            Rc::new(Cell::new(Vec::new())),
            Rc::new(Cell::new(Vec::new())),
        );
        let mut all = Observers::new();
        all.push(Count {
            fail_at: Some(2),
            ..Count::new(&a)
        });
        all.push(Count::new(&b));
        let mut state = FixedPointState::new(vec![0.0]);
        state.history.push(record());
        assert_eq!(
            all.iteration(&state, &record(), &[0.0]).unwrap(),
            Control::Continue
        );
        state.history.push(record());
        let e = all.iteration(&state, &record(), &[0.0]).unwrap_err();
        assert!(e.to_string().contains("failed at 2"), "{e}");
        // The observer after the failing one was still told.
        assert_eq!(a.take(), [1, 2]);
        assert_eq!(b.take(), [1, 2]);
        let mut stopping = Observers::new();
        stopping.push(Count {
            stop_at: Some(1),
            ..Count::new(&a)
        });
        stopping.push(Count::new(&b));
        let mut state = FixedPointState::new(vec![0.0]);
        state.history.push(record());
        assert_eq!(
            stopping.iteration(&state, &record(), &[0.0]).unwrap(),
            Control::Stop
        );
        assert_eq!(b.take(), [1]);
    }
}
