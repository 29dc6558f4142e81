//! The mean-field fixed point on the stacked mean trajectories (docs/design.md §4).
//!
//! The unknown is x = (m̄_1, …, m̄_p) sampled at every time level (p × (steps+1) × d
//! numbers). One evaluation of the map G solves, for every population, the HJI backward
//! against its target ρ_k = Σ_j W_kj m̄_j and the FPK forward, and returns the new means.
//! The equilibrium is x = G(x).
//!
//! [`FixedPoint::step`] performs one iteration: evaluate G at the current iterate, measure
//! the residual ‖G(x) − x‖∞ (each component divided by a caller-supplied scale, the domain
//! width of its axis), then move to the next iterate by damped Picard
//! x ← x + α (G(x) − x) or by Anderson acceleration (type II, depth m, with damping α
//! and a restart safeguard). [`FixedPoint::run`] is the driver: caps, tolerance, divergence
//! and stagnation detection, interrupts and observers. The whole state (iterate, Anderson
//! memory, history) is plain data ([`FixedPointState`]) so a run can be checkpointed and
//! resumed bit for bit.

use crate::error::{Param, Result, SolverError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How the next iterate is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Acceleration {
    /// Damped Picard: x ← x + α (G(x) − x).
    None,
    /// Anderson acceleration (type II) over the last `depth` differences.
    Anderson {
        /// Number of previous differences kept (≥ 1).
        depth: usize,
    },
}

/// Settings of the fixed-point iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointSettings {
    /// Damping α ∈ (0, 1]: weight of the new map value in the update.
    pub damping: f64,
    /// Stop when the scaled sup-norm of G(x) − x is ≤ tol.
    pub tol: f64,
    /// Maximum number of map evaluations.
    pub max_iter: usize,
    /// Picard or Anderson.
    pub acceleration: Acceleration,
    /// Declare divergence when the residual exceeds this factor times the smallest
    /// residual seen so far (and the smallest one is not already below tol).
    pub divergence_factor: f64,
    /// Declare stagnation when the best residual has not improved by 1 % over this many
    /// consecutive iterations (0 disables the check).
    pub stagnation_window: usize,
}

impl Default for FixedPointSettings {
    fn default() -> Self {
        FixedPointSettings {
            damping: 1.0,
            tol: 1e-6,
            max_iter: 100,
            acceleration: Acceleration::Anderson { depth: 5 },
            divergence_factor: 1e4,
            stagnation_window: 30,
        }
    }
}

impl FixedPointSettings {
    /// Checks the settings; errors name the parameter ([`Param`]).
    pub fn validate(&self) -> Result<()> {
        if !(self.damping > 0.0 && self.damping <= 1.0) {
            return Err(SolverError::invalid(
                Param::Damping,
                format!("must lie in (0, 1], got {}", self.damping),
            ));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(SolverError::invalid(
                Param::Tolerance,
                "must be a positive number",
            ));
        }
        if self.max_iter == 0 {
            return Err(SolverError::invalid(
                Param::MaxIterations,
                "must be at least 1",
            ));
        }
        if let Acceleration::Anderson { depth } = self.acceleration {
            if depth == 0 || depth > 50 {
                return Err(SolverError::invalid(
                    Param::AndersonDepth,
                    format!("must lie in 1..=50, got {depth}"),
                ));
            }
        }
        if self.divergence_factor.is_nan() || self.divergence_factor <= 1.0 {
            return Err(SolverError::invalid(
                Param::DivergenceFactor,
                "must exceed 1",
            ));
        }
        Ok(())
    }
}

/// Why the iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The residual fell to or below `tol`.
    Converged,
    /// `max_iter` evaluations without convergence.
    MaxIterations,
    /// No progress over `stagnation_window` iterations.
    Stagnated,
    /// The residual grew beyond `divergence_factor` × its minimum.
    Diverged,
    /// The map produced NaN or infinity.
    NonFinite,
    /// An interrupt (Ctrl-C) was requested; the state is consistent and resumable.
    Interrupted,
}

impl Outcome {
    /// Lower-case name used in outputs (`status` attribute).
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Converged => "converged",
            Outcome::MaxIterations => "max_iterations",
            Outcome::Stagnated => "stagnated",
            Outcome::Diverged => "diverged",
            Outcome::NonFinite => "non_finite",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One line of the iteration history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterationRecord {
    /// Scaled sup-norm of G(x) − x at this iteration.
    pub residual: f64,
    /// Damping used to form the next iterate.
    pub damping: f64,
    /// Whether the next iterate came from an Anderson step (false: plain damped Picard).
    pub accelerated: bool,
    /// Wall time of this iteration in seconds.
    pub wall_s: f64,
}

/// Complete, plain-data state of the iteration: enough to resume bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointState {
    /// The next point at which G will be evaluated.
    pub x: Vec<f64>,
    /// Anderson memory: previous iterates x_j (oldest first).
    pub past_x: Vec<Vec<f64>>,
    /// Anderson memory: previous residual vectors f_j = G(x_j) − x_j (same order).
    pub past_f: Vec<Vec<f64>>,
    /// History of completed iterations.
    pub history: Vec<IterationRecord>,
}

impl FixedPointState {
    /// Fresh state starting at `x0`.
    pub fn new(x0: Vec<f64>) -> Self {
        FixedPointState {
            x: x0,
            past_x: Vec::new(),
            past_f: Vec::new(),
            history: Vec::new(),
        }
    }
}

/// What an observer can ask the driver to do after an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep iterating.
    Continue,
    /// Stop now with [`Outcome::Interrupted`].
    Stop,
}

/// The fixed-point iteration x = G(x) on a flat vector.
#[derive(Debug, Clone)]
pub struct FixedPoint {
    settings: FixedPointSettings,
    scale: Vec<f64>,
    state: FixedPointState,
    failure: Option<SolverError>,
}

/// Why [`FixedPoint::run_fallible`] failed: the map (a numerical error that is not a
/// non-finite value or an interrupt) or the observer.
#[derive(Debug)]
pub enum RunError<E> {
    /// The map failed.
    Solver(SolverError),
    /// The observer failed.
    Observer(E),
}

/// Watches a fixed-point run ([`FixedPoint::run_observed`]): progress, checkpoints and logs
/// are observers. No method changes the iteration; `iteration` may only stop it.
pub trait Observer {
    /// What a failed observation is (e.g. a checkpoint that cannot be written).
    type Error;

    /// The run starts from `state` (`state.history` holds the iterations of earlier runs).
    fn start(&mut self, _state: &FixedPointState) -> std::result::Result<(), Self::Error> {
        Ok(())
    }

    /// An iteration finished: `record` is its residual, `g` the map value at the point it
    /// evaluated; `state` is already advanced to the next iterate.
    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        g: &[f64],
    ) -> std::result::Result<Control, Self::Error>;

    /// The run ended with `outcome` (not called when the map or an observer failed).
    fn finish(
        &mut self,
        _state: &FixedPointState,
        _outcome: Outcome,
    ) -> std::result::Result<(), Self::Error> {
        Ok(())
    }
}

impl<O: Observer + ?Sized> Observer for &mut O {
    type Error = O::Error;

    fn start(&mut self, state: &FixedPointState) -> std::result::Result<(), O::Error> {
        (**self).start(state)
    }

    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        g: &[f64],
    ) -> std::result::Result<Control, O::Error> {
        (**self).iteration(state, record, g)
    }

    fn finish(
        &mut self,
        state: &FixedPointState,
        outcome: Outcome,
    ) -> std::result::Result<(), O::Error> {
        (**self).finish(state, outcome)
    }
}

/// An observer that only watches iterations: a closure of [`FixedPoint::run_fallible`].
struct EachIteration<'a, O>(&'a mut O);

impl<O, E> Observer for EachIteration<'_, O>
where
    O: FnMut(&FixedPointState, &IterationRecord, &[f64]) -> std::result::Result<Control, E>,
{
    type Error = E;

    fn iteration(
        &mut self,
        state: &FixedPointState,
        record: &IterationRecord,
        g: &[f64],
    ) -> std::result::Result<Control, E> {
        (self.0)(state, record, g)
    }
}

impl FixedPoint {
    /// Starts from `state` (use [`FixedPointState::new`] for a fresh run). `scale[i] > 0`
    /// divides component i of the residual (the domain width of its axis).
    pub fn new(
        settings: FixedPointSettings,
        scale: Vec<f64>,
        state: FixedPointState,
    ) -> Result<Self> {
        settings.validate()?;
        if scale.len() != state.x.len() {
            return Err(SolverError::invalid(
                Param::FixedPointScale,
                "scale and iterate have different lengths",
            ));
        }
        if scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(SolverError::invalid(
                Param::FixedPointScale,
                "every scale must be positive",
            ));
        }
        Ok(FixedPoint {
            settings,
            scale,
            state,
            failure: None,
        })
    }

    /// The current state (for checkpoints).
    pub fn state(&self) -> &FixedPointState {
        &self.state
    }

    /// The settings in use.
    pub fn settings(&self) -> &FixedPointSettings {
        &self.settings
    }

    /// One iteration: evaluates `g = map(x)`, records the residual, and (unless converged)
    /// moves the state to the next iterate. Returns the record, the map value at the
    /// evaluated point and whether the tolerance was met. Errors from the map are passed on;
    /// a non-finite map value is reported as [`SolverError::NonFinite`] with stage
    /// "fixed point" and `level` = iteration index.
    pub fn step<F>(&mut self, map: &mut F) -> Result<(IterationRecord, Vec<f64>, bool)>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
    {
        let start = Instant::now();
        let x = self.state.x.clone();
        let g = map(&x)?;
        if g.len() != x.len() {
            return Err(SolverError::invalid(
                Param::FixedPointMap,
                "map returned a vector of the wrong length",
            ));
        }
        if g.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::NonFinite {
                stage: "fixed point",
                level: self.state.history.len(),
                population: 0,
            });
        }
        let f: Vec<f64> = g.iter().zip(&x).map(|(gi, xi)| gi - xi).collect();
        let residual = f
            .iter()
            .zip(&self.scale)
            .map(|(fi, s)| (fi / s).abs())
            .fold(0.0, f64::max);
        let converged = residual <= self.settings.tol;
        let alpha = self.settings.damping;
        let mut accelerated = false;
        if !converged {
            let next = match self.settings.acceleration {
                Acceleration::None => picard(&x, &f, alpha),
                Acceleration::Anderson { depth } => {
                    // Restart the memory when the residual grew: the secant model is stale.
                    let grew = self
                        .state
                        .history
                        .last()
                        .is_some_and(|r| residual > r.residual);
                    if grew {
                        self.state.past_x.clear();
                        self.state.past_f.clear();
                    }
                    let step = anderson(&x, &f, &self.state.past_x, &self.state.past_f, alpha);
                    self.state.past_x.push(x.clone());
                    self.state.past_f.push(f.clone());
                    while self.state.past_x.len() > depth {
                        self.state.past_x.remove(0);
                        self.state.past_f.remove(0);
                    }
                    match step {
                        Some(next) => {
                            accelerated = true;
                            next
                        }
                        None => picard(&x, &f, alpha),
                    }
                }
            };
            self.state.x = next;
        }
        let record = IterationRecord {
            residual,
            damping: alpha,
            accelerated,
            wall_s: start.elapsed().as_secs_f64(),
        };
        self.state.history.push(record);
        Ok((record, g, converged))
    }

    /// Runs iterations until an [`Outcome`]. After each iteration `observer` sees the state
    /// (already advanced to the next iterate), the record and the map value at the
    /// evaluated point; it may stop the run. `interrupt` is polled before each
    /// evaluation; a map that returns [`SolverError::Interrupted`] (it polled its own flag
    /// part-way) also ends the run with [`Outcome::Interrupted`], the state unchanged by
    /// the abandoned evaluation. A non-finite value ends the run with
    /// [`Outcome::NonFinite`] and its cause in [`FixedPoint::failure`]. Map errors other
    /// than non-finite values are returned as `Err`.
    pub fn run<F, O>(
        &mut self,
        map: &mut F,
        observer: &mut O,
        interrupt: &AtomicBool,
    ) -> Result<Outcome>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
        O: FnMut(&FixedPointState, &IterationRecord, &[f64]) -> Control,
    {
        let mut infallible = |state: &FixedPointState, record: &IterationRecord, g: &[f64]| {
            Ok::<_, std::convert::Infallible>(observer(state, record, g))
        };
        self.run_fallible(map, &mut infallible, interrupt)
            .map_err(|e| match e {
                RunError::Solver(e) => e,
                RunError::Observer(never) => match never {},
            })
    }

    /// [`FixedPoint::run`] with an observer that can fail (e.g. writing a checkpoint): its
    /// error ends the run as [`RunError::Observer`], with the state already advanced past
    /// the iteration the observer saw.
    pub fn run_fallible<F, O, E>(
        &mut self,
        map: &mut F,
        observer: &mut O,
        interrupt: &AtomicBool,
    ) -> std::result::Result<Outcome, RunError<E>>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
        O: FnMut(&FixedPointState, &IterationRecord, &[f64]) -> std::result::Result<Control, E>,
    {
        self.run_observed(map, &mut EachIteration(observer), interrupt)
    }

    /// [`FixedPoint::run_fallible`] with an [`Observer`]: told when the run starts, after
    /// every iteration (it may stop the run), and with the outcome when the run ends
    /// without an error. An error of any of the three ends the run as
    /// [`RunError::Observer`].
    pub fn run_observed<F, O>(
        &mut self,
        map: &mut F,
        observer: &mut O,
        interrupt: &AtomicBool,
    ) -> std::result::Result<Outcome, RunError<O::Error>>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
        O: Observer + ?Sized,
    {
        observer.start(&self.state).map_err(RunError::Observer)?;
        let outcome = self.iterate(map, observer, interrupt)?;
        observer
            .finish(&self.state, outcome)
            .map_err(RunError::Observer)?;
        Ok(outcome)
    }

    /// The loop of [`FixedPoint::run_observed`], between `start` and `finish`.
    fn iterate<F, O>(
        &mut self,
        map: &mut F,
        observer: &mut O,
        interrupt: &AtomicBool,
    ) -> std::result::Result<Outcome, RunError<O::Error>>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
        O: Observer + ?Sized,
    {
        self.failure = None;
        loop {
            if self.state.history.len() >= self.settings.max_iter {
                return Ok(Outcome::MaxIterations);
            }
            if interrupt.load(Ordering::SeqCst) {
                return Ok(Outcome::Interrupted);
            }
            let (record, g, converged) = match self.step(map) {
                Ok(r) => r,
                Err(e @ SolverError::NonFinite { .. }) => {
                    self.failure = Some(e);
                    return Ok(Outcome::NonFinite);
                }
                // The map stopped part-way; `step` changes the state only after a complete
                // evaluation, so the state is the one before it and the evaluation is redone
                // on resume.
                Err(SolverError::Interrupted) => return Ok(Outcome::Interrupted),
                Err(e) => return Err(RunError::Solver(e)),
            };
            match observer.iteration(&self.state, &record, &g) {
                Ok(Control::Continue) => {}
                Ok(Control::Stop) => return Ok(Outcome::Interrupted),
                Err(e) => return Err(RunError::Observer(e)),
            }
            if converged {
                return Ok(Outcome::Converged);
            }
            if let Some(outcome) = self.judge() {
                return Ok(outcome);
            }
        }
    }

    /// Where the last run's non-finite value appeared (stage, level, population) when it
    /// ended with [`Outcome::NonFinite`]; `None` otherwise.
    pub fn failure(&self) -> Option<&SolverError> {
        self.failure.as_ref()
    }

    /// The outcome this state has already reached, if any: what [`FixedPoint::run`]
    /// would return before evaluating the map again (the last iteration converged, the
    /// history shows divergence or stagnation, or `max_iter` iterations are done). A run
    /// resumed from the checkpoint of a finished run thus ends with the same outcome and
    /// history, without a new iteration.
    pub fn finished(&self) -> Option<Outcome> {
        let last = self.state.history.last()?;
        if last.residual <= self.settings.tol {
            return Some(Outcome::Converged);
        }
        if let Some(outcome) = self.judge() {
            return Some(outcome);
        }
        (self.state.history.len() >= self.settings.max_iter).then_some(Outcome::MaxIterations)
    }

    /// Divergence and stagnation checks on the history.
    fn judge(&self) -> Option<Outcome> {
        let h = &self.state.history;
        let last = h.last()?.residual;
        let best = h.iter().map(|r| r.residual).fold(f64::INFINITY, f64::min);
        if last > self.settings.divergence_factor * best {
            return Some(Outcome::Diverged);
        }
        let w = self.settings.stagnation_window;
        if w > 0 && h.len() > w {
            let best_before = h[..h.len() - w]
                .iter()
                .map(|r| r.residual)
                .fold(f64::INFINITY, f64::min);
            let best_recent = h[h.len() - w..]
                .iter()
                .map(|r| r.residual)
                .fold(f64::INFINITY, f64::min);
            if best_recent > 0.99 * best_before {
                return Some(Outcome::Stagnated);
            }
        }
        None
    }
}

fn picard(x: &[f64], f: &[f64], alpha: f64) -> Vec<f64> {
    x.iter().zip(f).map(|(xi, fi)| xi + alpha * fi).collect()
}

/// Anderson type-II step: with ΔX_j = x − x_j and ΔF_j = f − f_j over the memory, solve
/// min_γ ‖f − ΔF γ‖₂ and return x + α f − (ΔX + α ΔF) γ. Returns `None` when the memory is
/// empty or the least-squares problem is numerically rank deficient.
fn anderson(
    x: &[f64],
    f: &[f64],
    past_x: &[Vec<f64>],
    past_f: &[Vec<f64>],
    alpha: f64,
) -> Option<Vec<f64>> {
    let m = past_x.len();
    if m == 0 {
        return None;
    }
    let n = x.len();
    let dx: Vec<Vec<f64>> = past_x
        .iter()
        .map(|xj| x.iter().zip(xj).map(|(a, b)| a - b).collect())
        .collect();
    let df: Vec<Vec<f64>> = past_f
        .iter()
        .map(|fj| f.iter().zip(fj).map(|(a, b)| a - b).collect())
        .collect();
    let gamma = least_squares(&df, f, n)?;
    let mut next = vec![0.0; n];
    for i in 0..n {
        let mut v = x[i] + alpha * f[i];
        for j in 0..m {
            v -= (dx[j][i] + alpha * df[j][i]) * gamma[j];
        }
        next[i] = v;
    }
    if next.iter().all(|v| v.is_finite()) {
        Some(next)
    } else {
        None
    }
}

/// Least squares min ‖b − Σ_j γ_j c_j‖ over the columns `cols` (each of length n) by
/// modified Gram–Schmidt QR with re-orthogonalisation; `None` if a column is (numerically)
/// dependent on the previous ones.
fn least_squares(cols: &[Vec<f64>], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let m = cols.len();
    let mut q: Vec<Vec<f64>> = Vec::with_capacity(m);
    let mut r = vec![vec![0.0; m]; m];
    for (j, c) in cols.iter().enumerate() {
        let mut v = c.clone();
        let norm0 = dot(&v, &v).sqrt();
        for _pass in 0..2 {
            for (i, qi) in q.iter().enumerate() {
                let coef = dot(qi, &v);
                r[i][j] += coef;
                for k in 0..n {
                    v[k] -= coef * qi[k];
                }
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm.is_nan() || norm <= 1e-10 * norm0 || norm == 0.0 {
            return None;
        }
        r[j][j] = norm;
        v.iter_mut().for_each(|vi| *vi /= norm);
        q.push(v);
    }
    let qtb: Vec<f64> = q.iter().map(|qi| dot(qi, b)).collect();
    let mut gamma = vec![0.0; m];
    for j in (0..m).rev() {
        let mut s = qtb[j];
        for k in j + 1..m {
            s -= r[j][k] * gamma[k];
        }
        gamma[j] = s / r[j][j];
    }
    Some(gamma)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear contraction G(x) = M x + c with known fixed point.
    fn linear_map(x: &[f64]) -> Result<Vec<f64>> {
        // M = diag(0.9, 0.5, -0.7) plus coupling; fixed point solved below.
        let m = [[0.9, 0.05, 0.0], [0.0, 0.5, 0.1], [0.02, 0.0, -0.7]];
        let c = [1.0, -2.0, 0.5];
        Ok((0..3)
            .map(|i| (0..3).map(|j| m[i][j] * x[j]).sum::<f64>() + c[i])
            .collect())
    }

    fn fixed_point_of_linear() -> Vec<f64> {
        // Solve (I - M) x = c by Gauss elimination on the 3x3.
        let a = [[0.1, -0.05, 0.0], [0.0, 0.5, -0.1], [-0.02, 0.0, 1.7]];
        let b = [1.0, -2.0, 0.5];
        let mut aug: Vec<Vec<f64>> = (0..3)
            .map(|i| {
                let mut r = a[i].to_vec();
                r.push(b[i]);
                r
            })
            .collect();
        for k in 0..3 {
            for i in k + 1..3 {
                let f = aug[i][k] / aug[k][k];
                let pivot_row = aug[k].clone();
                for (a, p) in aug[i].iter_mut().zip(&pivot_row).skip(k) {
                    *a -= f * p;
                }
            }
        }
        let mut x = [0.0; 3];
        for i in (0..3).rev() {
            let mut s = aug[i][3];
            for j in i + 1..3 {
                s -= aug[i][j] * x[j];
            }
            x[i] = s / aug[i][i];
        }
        x.to_vec()
    }

    fn solve(acc: Acceleration, damping: f64) -> (Outcome, Vec<f64>, usize) {
        let settings = FixedPointSettings {
            damping,
            tol: 1e-10,
            max_iter: 2000,
            acceleration: acc,
            ..Default::default()
        };
        let mut fp =
            FixedPoint::new(settings, vec![1.0; 3], FixedPointState::new(vec![0.0; 3])).unwrap();
        let mut last = Vec::new();
        let outcome = fp
            .run(
                &mut linear_map,
                &mut |_, _, g: &[f64]| {
                    last = g.to_vec();
                    Control::Continue
                },
                &AtomicBool::new(false),
            )
            .unwrap();
        (outcome, last, fp.state().history.len())
    }

    #[test]
    fn picard_and_anderson_reach_the_fixed_point() {
        let exact = fixed_point_of_linear();
        let (o1, x1, n1) = solve(Acceleration::None, 1.0);
        let (o2, x2, n2) = solve(Acceleration::Anderson { depth: 3 }, 1.0);
        assert_eq!(o1, Outcome::Converged);
        assert_eq!(o2, Outcome::Converged);
        for i in 0..3 {
            assert!(
                (x1[i] - exact[i]).abs() < 1e-8,
                "picard {x1:?} vs {exact:?}"
            );
            assert!(
                (x2[i] - exact[i]).abs() < 1e-8,
                "anderson {x2:?} vs {exact:?}"
            );
        }
        // Anderson on a 3-D linear map is exact after a few steps; Picard contracts at 0.9.
        assert!(n2 * 4 < n1, "anderson {n2} vs picard {n1}");
    }

    #[test]
    fn damping_slows_picard_on_a_fast_contraction() {
        let (_, _, n_full) = solve(Acceleration::None, 1.0);
        let (o, _, n_half) = solve(Acceleration::None, 0.5);
        assert_eq!(o, Outcome::Converged);
        assert!(n_half > n_full, "damped {n_half} vs undamped {n_full}");
    }

    #[test]
    fn divergence_is_detected() {
        let settings = FixedPointSettings {
            acceleration: Acceleration::None,
            max_iter: 500,
            ..Default::default()
        };
        let mut fp = FixedPoint::new(settings, vec![1.0], FixedPointState::new(vec![1.0])).unwrap();
        let outcome = fp
            .run(
                &mut |x: &[f64]| Ok(vec![3.0 * x[0]]),
                &mut |_, _, _: &[f64]| Control::Continue,
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(outcome, Outcome::Diverged);
    }

    #[test]
    fn non_finite_map_value_is_reported() {
        let mut fp = FixedPoint::new(
            FixedPointSettings::default(),
            vec![1.0],
            FixedPointState::new(vec![1.0]),
        )
        .unwrap();
        let outcome = fp
            .run(
                &mut |_: &[f64]| Ok(vec![f64::NAN]),
                &mut |_, _, _: &[f64]| Control::Continue,
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(outcome, Outcome::NonFinite);
    }

    #[test]
    fn stagnation_is_detected() {
        // G(x) = -x + 2 oscillates between 0 and 2 under undamped Picard: no progress.
        let settings = FixedPointSettings {
            acceleration: Acceleration::None,
            max_iter: 500,
            stagnation_window: 10,
            ..Default::default()
        };
        let mut fp = FixedPoint::new(settings, vec![1.0], FixedPointState::new(vec![0.0])).unwrap();
        let outcome = fp
            .run(
                &mut |x: &[f64]| Ok(vec![2.0 - x[0]]),
                &mut |_, _, _: &[f64]| Control::Continue,
                &AtomicBool::new(false),
            )
            .unwrap();
        assert_eq!(outcome, Outcome::Stagnated);
    }

    #[test]
    fn interrupt_and_resume_is_bit_identical() {
        let settings = FixedPointSettings {
            tol: 1e-12,
            acceleration: Acceleration::Anderson { depth: 2 },
            ..Default::default()
        };
        let mut full = FixedPoint::new(
            settings.clone(),
            vec![1.0; 3],
            FixedPointState::new(vec![0.0; 3]),
        )
        .unwrap();
        let never = AtomicBool::new(false);
        full.run(
            &mut linear_map,
            &mut |_, _, _: &[f64]| Control::Continue,
            &never,
        )
        .unwrap();
        let mut first = FixedPoint::new(
            settings.clone(),
            vec![1.0; 3],
            FixedPointState::new(vec![0.0; 3]),
        )
        .unwrap();
        let mut count = 0;
        let o = first
            .run(
                &mut linear_map,
                &mut |_, _, _: &[f64]| {
                    count += 1;
                    if count == 3 {
                        Control::Stop
                    } else {
                        Control::Continue
                    }
                },
                &never,
            )
            .unwrap();
        assert_eq!(o, Outcome::Interrupted);
        let saved = first.state().clone();
        let mut resumed = FixedPoint::new(settings, vec![1.0; 3], saved).unwrap();
        resumed
            .run(
                &mut linear_map,
                &mut |_, _, _: &[f64]| Control::Continue,
                &never,
            )
            .unwrap();
        assert_eq!(resumed.state().x, full.state().x);
        let r1: Vec<f64> = resumed.state().history.iter().map(|r| r.residual).collect();
        let r2: Vec<f64> = full.state().history.iter().map(|r| r.residual).collect();
        assert_eq!(r1, r2);
    }

    #[test]
    fn an_interrupted_evaluation_leaves_the_state_unchanged() {
        let settings = FixedPointSettings {
            tol: 1e-12,
            acceleration: Acceleration::Anderson { depth: 2 },
            ..Default::default()
        };
        let mut fp =
            FixedPoint::new(settings, vec![1.0; 3], FixedPointState::new(vec![0.0; 3])).unwrap();
        let never = AtomicBool::new(false);
        let mut calls = 0;
        let o = fp
            .run(
                &mut |x: &[f64]| {
                    calls += 1;
                    if calls == 4 {
                        Err(SolverError::Interrupted)
                    } else {
                        linear_map(x)
                    }
                },
                &mut |_, _, _: &[f64]| Control::Continue,
                &never,
            )
            .unwrap();
        assert_eq!(o, Outcome::Interrupted);
        assert_eq!(fp.state().history.len(), 3);
        assert_eq!(fp.finished(), None);
        // Resuming redoes the abandoned evaluation: same iterates as an uninterrupted run.
        let mut full = FixedPoint::new(
            fp.settings().clone(),
            vec![1.0; 3],
            FixedPointState::new(vec![0.0; 3]),
        )
        .unwrap();
        full.run(
            &mut linear_map,
            &mut |_, _, _: &[f64]| Control::Continue,
            &never,
        )
        .unwrap();
        let mut resumed =
            FixedPoint::new(fp.settings().clone(), vec![1.0; 3], fp.state().clone()).unwrap();
        let o = resumed
            .run(
                &mut linear_map,
                &mut |_, _, _: &[f64]| Control::Continue,
                &never,
            )
            .unwrap();
        assert_eq!(o, Outcome::Converged);
        assert_eq!(resumed.state(), &{
            let mut s = full.state().clone();
            for (a, b) in s.history.iter_mut().zip(&resumed.state().history) {
                a.wall_s = b.wall_s;
            }
            s
        });
        // A finished state reports its outcome without a new evaluation.
        assert_eq!(resumed.finished(), Some(Outcome::Converged));
        let capped = FixedPointSettings {
            max_iter: 2,
            ..fp.settings().clone()
        };
        let mut short =
            FixedPoint::new(capped, vec![1.0; 3], FixedPointState::new(vec![0.0; 3])).unwrap();
        let o = short
            .run(
                &mut linear_map,
                &mut |_, _, _: &[f64]| Control::Continue,
                &never,
            )
            .unwrap();
        assert_eq!((o, short.finished()), (Outcome::MaxIterations, Some(o)));
    }

    #[test]
    fn bad_settings_name_the_key() {
        let s = FixedPointSettings {
            damping: 1.5,
            ..Default::default()
        };
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains(&Param::Damping.to_string()), "{e}");
    }

    /// Records what it is told; fails at iteration `fail_at` (1-based) if set.
    struct Recorder {
        events: Vec<String>,
        fail_at: Option<usize>,
    }

    impl Observer for Recorder {
        type Error = String;

        fn start(&mut self, state: &FixedPointState) -> std::result::Result<(), String> {
            self.events.push(format!("start {}", state.history.len()));
            Ok(())
        }

        fn iteration(
            &mut self,
            state: &FixedPointState,
            record: &IterationRecord,
            _g: &[f64],
        ) -> std::result::Result<Control, String> {
            let n = state.history.len();
            assert_eq!(state.history.last(), Some(record));
            if self.fail_at == Some(n) {
                return Err(format!("failed at {n}"));
            }
            self.events.push(format!("iteration {n}"));
            Ok(Control::Continue)
        }

        fn finish(
            &mut self,
            state: &FixedPointState,
            outcome: Outcome,
        ) -> std::result::Result<(), String> {
            self.events.push(format!(
                "finish {} {}",
                outcome.as_str(),
                state.history.len()
            ));
            Ok(())
        }
    }

    #[test]
    fn observer_sees_start_every_iteration_and_finish_in_order() {
        let settings = FixedPointSettings {
            acceleration: Acceleration::None,
            tol: 1e-10,
            max_iter: 4,
            ..Default::default()
        };
        let mut fp =
            FixedPoint::new(settings, vec![1.0; 3], FixedPointState::new(vec![0.0; 3])).unwrap();
        let mut rec = Recorder {
            events: Vec::new(),
            fail_at: None,
        };
        let outcome = fp
            .run_observed(&mut linear_map, &mut rec, &AtomicBool::new(false))
            .unwrap();
        assert_eq!(outcome, Outcome::MaxIterations);
        assert_eq!(
            rec.events,
            [
                "start 0",
                "iteration 1",
                "iteration 2",
                "iteration 3",
                "iteration 4",
                &format!("finish {} 4", Outcome::MaxIterations.as_str())
            ]
        );
        // A failing observer ends the run with its error, the state past the iteration it
        // saw, and no finish.
        let mut fp = FixedPoint::new(
            settings_of(&fp),
            vec![1.0; 3],
            FixedPointState::new(vec![0.0; 3]),
        )
        .unwrap();
        let mut rec = Recorder {
            events: Vec::new(),
            fail_at: Some(2),
        };
        match fp.run_observed(&mut linear_map, &mut rec, &AtomicBool::new(false)) {
            Err(RunError::Observer(e)) => assert_eq!(e, "failed at 2"),
            other => panic!("expected the observer's error, got {other:?}"),
        }
        assert_eq!(rec.events, ["start 0", "iteration 1"]);
        assert_eq!(fp.state().history.len(), 2);
    }

    fn settings_of(fp: &FixedPoint) -> FixedPointSettings {
        fp.settings().clone()
    }
}
