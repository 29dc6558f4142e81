//! The error estimate of a solve (`[solver] error_estimate`): after the fine equilibrium
//! has converged, the same equilibrium is solved on the grid coarsened by 2 in space and
//! time ([`tufield_solvers::richardson`]) and the two are compared by Richardson's rule
//! (for a scheme of order p: estimated error of the fine result e_h ≈ (u_2h − u_h)/(2ᵖ − 1),
//! extrapolated value u_h − e_h) on the common nodes and levels (elsewhere the coarse
//! result is interpolated). The datasets it adds to the solve file are written by
//! [`crate::output::estimate`], which lists them.
//!
//! Default: on when the coarse solve costs at most ~15 % of the fine one
//! ([`crate::settings::default_error_estimate`]: 2-D and 3-D grids). Modal scenarios have
//! no estimate (their modes are 1-D problems; use `error_estimate = false` there).

use super::driver::Driver;
use crate::progress::ProgressMode;
use crate::scenario::Scenario;
use crate::settings::SolverSettings;
use crate::{AppError, AppResult};
use ndarray::{Array2, ArrayD};
use std::time::Instant;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{FixedPoint, FixedPointState, Outcome};
use tufield_solvers::grid::Grid;
use tufield_solvers::richardson::{self as rich, Richardson, MIN_POINTS, MIN_STEPS};

/// The estimate of one population.
#[derive(Debug, Clone)]
pub struct PopulationEstimate {
    /// Estimated error of the mean path, (steps+1) × d.
    pub mean_error: Array2<f64>,
    /// Extrapolated mean path, (steps+1) × d.
    pub mean_extrapolated: Array2<f64>,
    /// Expected cost J_k = Σ v_k(x, 0) m_k(x, 0) cell on the fine grid.
    pub cost: f64,
    /// Estimated error of the cost.
    pub cost_error: f64,
    /// Extrapolated cost.
    pub cost_extrapolated: f64,
}

/// The estimated errors of one population's fields at one snapshot, handed to the caller
/// of [`compute`] as they are formed (the output layer encodes them while the next are
/// computed) instead of being held for all snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotErrors {
    /// Population index.
    pub population: usize,
    /// Snapshot index (the fine run's snapshots, in order).
    pub snapshot: usize,
    /// Estimated error of the value snapshot (grid-shaped).
    pub value_error: ArrayD<f64>,
    /// Extrapolated value snapshot.
    pub value_extrapolated: ArrayD<f64>,
    /// Estimated error of the density snapshot.
    pub density_error: ArrayD<f64>,
}

/// The estimate of a run.
#[derive(Debug, Clone)]
pub struct ErrorEstimate {
    /// One per population.
    pub populations: Vec<PopulationEstimate>,
    /// Points per axis of the coarse grid.
    pub coarse_points: Vec<usize>,
    /// Coarse time steps.
    pub coarse_steps: usize,
    /// Fixed-point iterations of the coarse solve.
    pub iterations: usize,
    /// Wall time of the coarse solve and the comparison.
    pub wall_s: f64,
    /// Largest |mean_error| scaled by the domain width of its axis (comparable with
    /// `solver.tol`).
    pub scaled_mean_error: f64,
    /// Order p of the scheme that Richardson's rule assumes (1 monotone, 2 second order).
    pub order: u32,
}

impl ErrorEstimate {
    /// Largest |mean_error| over populations, levels and axes.
    pub fn mean_error_max(&self) -> f64 {
        self.populations
            .iter()
            .flat_map(|p| p.mean_error.iter())
            .fold(0.0, |a, v| a.max(v.abs()))
    }

    /// Largest |cost_error| over populations.
    pub fn cost_error_max(&self) -> f64 {
        self.populations
            .iter()
            .fold(0.0, |a, p| a.max(p.cost_error.abs()))
    }
}

/// Refuses `error_estimate = true` where no coarse grid can be formed (exit 2 naming
/// `solver.error_estimate` and the limit). `d` is the grid dimension.
pub fn validate(src: &str, s: &SolverSettings, d: usize, modal: bool) -> AppResult<()> {
    if s.error_estimate != Some(true) {
        return Ok(());
    }
    let bad = |m: String| Err(AppError::invalid(src, "solver.error_estimate", m));
    if modal {
        return bad(
            "not available with reduction = \"modal\" (each mode is its own 1-D problem); \
             remove it or set it to false"
                .to_string(),
        );
    }
    let pts = s.points_per_axis(d);
    if let Some(&n) = pts.iter().find(|&&n| n < MIN_POINTS) {
        return bad(format!(
            "the grid is too small to coarsen: {n} points on an axis, at least {MIN_POINTS} \
             per axis are needed (raise solver.points or set error_estimate = false)"
        ));
    }
    if s.steps < MIN_STEPS {
        return bad(format!(
            "{} time step(s) cannot be halved: at least {MIN_STEPS} are needed (raise \
             solver.steps or set error_estimate = false)",
            s.steps
        ));
    }
    Ok(())
}

/// Whether this run computes the estimate: on by request, or by default when the grid can
/// be coarsened.
pub fn wanted(sc: &Scenario) -> bool {
    match sc.settings.error_estimate {
        Some(on) => on && !sc.is_modal(),
        None => sc.settings.error_estimate_on(sc.dim()) && possible(sc),
    }
}

/// Whether the scenario's grid and time stepping can be coarsened (not modal, at least
/// [`MIN_POINTS`] points per axis and [`MIN_STEPS`] steps).
pub fn possible(sc: &Scenario) -> bool {
    let st = &sc.settings;
    let d = sc.dim();
    !sc.is_modal()
        && st.points_per_axis(d).iter().all(|&n| n >= MIN_POINTS)
        && st.steps >= MIN_STEPS
}

/// Solves the coarse equilibrium and compares it with the fine one in `fine` (the map of
/// the converged run). `Err(reason)` inside `Ok` when the estimate could not be formed
/// (the coarse solve did not converge); the run itself is not affected. The coarse fixed
/// point is run by the solves' driver without progress of its own (in `mode` other than
/// quiet one line says it started), so that every iteration line is the fine solve's.
/// The estimated snapshot fields go to `fields` as they are formed, population by
/// population, snapshot by snapshot, only once the coarse solve has converged.
pub fn compute(
    sc: &Scenario,
    fine_grid: &Grid,
    fine: &MeanFieldMap,
    mode: ProgressMode,
    fields: &mut dyn FnMut(SnapshotErrors),
) -> AppResult<Result<ErrorEstimate, String>> {
    let start = Instant::now();
    let err = |e| AppError::from_solver(&sc.source_name, "solver.error_estimate", e);
    let st = &sc.settings;
    let grid = rich::coarse_grid(fine_grid).map_err(err)?;
    let steps = rich::coarse_steps(st.steps).map_err(err)?;
    let fine_levels = fine.snapshot_levels().to_vec();
    let levels = rich::coarse_levels_for(&fine_levels, st.steps, steps);
    if mode != ProgressMode::Quiet {
        let shape: Vec<String> = grid.shape().iter().map(|n| n.to_string()).collect();
        eprintln!(
            "error estimate: solving again on the coarse grid {} with {steps} steps",
            shape.join("×")
        );
    }
    let initial = fine
        .results()
        .iter()
        .map(|r| rich::restrict_density(r.density[0].view(), fine_grid, &grid))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let scheme = fine.scheme();
    let rule = Richardson {
        order: scheme.order(),
    };
    let mut map =
        MeanFieldMap::with_scheme(&sc.model, &grid, steps, levels.clone(), initial, scheme)
            .map_err(err)?;
    let state = FixedPointState::new(map.initial_guess());
    let mut fp = FixedPoint::new(st.fixed_point(), map.scale(), state).map_err(err)?;
    let outcome = Driver::new(ProgressMode::Quiet, None).run_afresh(&mut map, &mut fp, err)?;
    let iterations = fp.state().history.len();
    if outcome != Outcome::Converged {
        return Ok(Err(format!(
            "the coarse solve stopped ({}) after {iterations} iteration(s)",
            outcome.as_str()
        )));
    }

    let d = sc.dim();
    let widths: Vec<f64> = fine_grid.axes().iter().map(|a| a.hi() - a.lo()).collect();
    let mut scaled: f64 = 0.0;
    let mut populations = Vec::new();
    for (k, (f, c)) in fine.results().iter().zip(map.results()).enumerate() {
        let n_f = st.steps;
        let mut mean_error = Array2::<f64>::zeros((n_f + 1, d));
        let mut mean_extrapolated = Array2::<f64>::zeros((n_f + 1, d));
        for l in 0..=n_f {
            for i in 0..d {
                let at = |j| c.fpk.mean[[j, i]];
                let uc = if rule.order == 1 {
                    rich::at_fine_level(l, n_f, steps, at)
                } else {
                    rich::at_fine_level_cubic(l, n_f, steps, at)
                };
                let uh = f.fpk.mean[[l, i]];
                mean_error[[l, i]] = rule.error(uh, uc);
                mean_extrapolated[[l, i]] = rule.extrapolated(uh, uc);
                scaled = scaled.max(mean_error[[l, i]].abs() / widths[i]);
            }
        }
        // Linear in time on the coarse grid, then multilinear in space (the two commute).
        let coarse_at = |frames: &[ArrayD<f64>], l: usize| -> AppResult<ArrayD<f64>> {
            let (j, w) = rich::time_position(l, n_f, steps);
            let pos = |lev: usize| levels.binary_search(&lev).expect("coarse level kept");
            let a = &frames[pos(j)];
            let at_t = if w == 0.0 {
                a.clone()
            } else {
                a * (1.0 - w) + &frames[pos(j + 1)] * w
            };
            if rule.order == 1 {
                rich::interpolate_to_fine(at_t.view(), &grid, fine_grid).map_err(err)
            } else {
                rich::interpolate_to_fine_cubic(at_t.view(), &grid, fine_grid).map_err(err)
            }
        };
        for (s, &l) in fine_levels.iter().enumerate() {
            let vc = coarse_at(&c.value, l)?;
            let vh = &f.value[s];
            let mc = coarse_at(&c.density, l)?;
            let value_extrapolated = combine(vh, &vc, |a, b| rule.extrapolated(a, b));
            fields(SnapshotErrors {
                population: k,
                snapshot: s,
                value_error: combine_into(vh, vc, |a, b| rule.error(a, b)),
                value_extrapolated,
                density_error: combine_into(&f.density[s], mc, |a, b| rule.error(a, b)),
            });
        }
        let cost =
            rich::expected_cost(fine_grid, f.value[0].view(), f.density[0].view()).map_err(err)?;
        let cost_c =
            rich::expected_cost(&grid, c.value[0].view(), c.density[0].view()).map_err(err)?;
        populations.push(PopulationEstimate {
            mean_error,
            mean_extrapolated,
            cost,
            cost_error: rule.error(cost, cost_c),
            cost_extrapolated: rule.extrapolated(cost, cost_c),
        });
    }
    Ok(Ok(ErrorEstimate {
        populations,
        coarse_points: grid.shape().to_vec(),
        coarse_steps: steps,
        iterations,
        wall_s: start.elapsed().as_secs_f64(),
        scaled_mean_error: scaled,
        order: rule.order,
    }))
}

/// f(fine, coarse) node by node, in the buffer of `coarse` (the interpolated coarse
/// result, not needed afterwards: no new field of the grid's size).
fn combine_into(
    fine: &ArrayD<f64>,
    mut coarse: ArrayD<f64>,
    f: impl Fn(f64, f64) -> f64,
) -> ArrayD<f64> {
    coarse.zip_mut_with(fine, |b, &a| *b = f(a, *b));
    coarse
}

/// f(fine, coarse) node by node, as a new field.
fn combine(fine: &ArrayD<f64>, coarse: &ArrayD<f64>, f: impl Fn(f64, f64) -> f64) -> ArrayD<f64> {
    let mut out = fine.clone();
    out.zip_mut_with(coarse, |a, &b| *a = f(*a, b));
    out
}
