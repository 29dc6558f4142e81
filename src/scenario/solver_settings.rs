//! The `[solver]` table: grid, steps, domain, fixed-point and scheme settings.

use super::checks::{count, describe, finite, number};
use super::raw::RawSolver;
use super::{MAX_GRID_POINTS, MAX_STEPS};
use crate::error::{AppError, AppResult};
use crate::settings::{Domain, Points, SolverSettings};
use toml::Value;
use tufield_solvers::fixed_point::Acceleration;
use tufield_solvers::scheme::SchemeKind;
use tufield_solvers::SolverError;

/// `d` is the grid dimension (1 for a modal scenario, whose grids are per mode).
pub(super) fn solver_settings(
    src: &str,
    raw: RawSolver,
    d: usize,
    modal: bool,
) -> AppResult<SolverSettings> {
    let mut s = SolverSettings::default();
    if let Some(v) = raw.points {
        let bad = || {
            AppError::invalid(
                src,
                "solver.points",
                format!(
                    "expected an integer ≥ 3 or a list of {d} such integers (one per axis), got {}",
                    describe(&v)
                ),
            )
        };
        s.points = match &v {
            Value::Integer(n) if *n >= 3 => Points::Uniform(*n as usize),
            Value::Array(items) if items.len() == d => {
                let mut per = Vec::with_capacity(d);
                for it in items {
                    match it {
                        Value::Integer(n) if *n >= 3 => per.push(*n as usize),
                        _ => return Err(bad()),
                    }
                }
                Points::PerAxis(per)
            }
            _ => return Err(bad()),
        };
        let total = s
            .points_per_axis(d)
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .unwrap_or(usize::MAX);
        if total > MAX_GRID_POINTS {
            return Err(AppError::invalid(
                src,
                "solver.points",
                format!(
                    "the grid would have {total} points; at most {MAX_GRID_POINTS} are allowed"
                ),
            ));
        }
    }
    if let Some(n) = raw.steps {
        s.steps = count(src, "solver.steps", n, 1, MAX_STEPS as i64)?;
    }
    if let Some(v) = raw.domain {
        s.domain = match &v {
            Value::String(a) if a == "auto" => Domain::Auto,
            _ if modal => {
                return Err(AppError::invalid(
                    src,
                    "solver.domain",
                    format!(
                        "with reduction = \"modal\" every mode gets its own automatic 1-D domain; only \"auto\" is allowed, got {}",
                        describe(&v)
                    ),
                ))
            }
            Value::Array(rows) if rows.len() == d => {
                let mut lims = Vec::with_capacity(d);
                for (i, row) in rows.iter().enumerate() {
                    let pair: Option<Vec<f64>> = row
                        .as_array()
                        .map(|r| r.iter().filter_map(number).collect());
                    match pair.as_deref() {
                        Some(&[lo, hi])
                            if row.as_array().map(|r| r.len()) == Some(2)
                                && lo.is_finite()
                                && hi.is_finite()
                                && lo < hi =>
                        {
                            lims.push((lo, hi))
                        }
                        _ => {
                            return Err(AppError::invalid(
                                src,
                                "solver.domain",
                                format!(
                                    "axis {}: expected [lo, hi] with finite lo < hi, got {}",
                                    i + 1,
                                    describe(row)
                                ),
                            ))
                        }
                    }
                }
                Domain::Explicit(lims)
            }
            _ => {
                return Err(AppError::invalid(
                    src,
                    "solver.domain",
                    format!(
                        "expected \"auto\" or {d} pairs [[lo, hi], …] (one per axis), got {}",
                        describe(&v)
                    ),
                ))
            }
        };
    }
    if let Some(x) = raw.damping {
        s.damping = finite(
            src,
            "solver.damping",
            x,
            |x| x > 0.0 && x <= 1.0,
            "the damping must lie in (0, 1]",
        )?;
    }
    if let Some(x) = raw.tol {
        s.tol = finite(
            src,
            "solver.tol",
            x,
            |x| x > 0.0,
            "the tolerance must be a finite number > 0",
        )?;
    }
    if let Some(n) = raw.max_iter {
        s.max_iter = count(src, "solver.max_iter", n, 1, 1_000_000)?;
    }
    let depth = match raw.anderson_depth {
        Some(n) => Some(count(src, "solver.anderson_depth", n, 1, 50)?),
        None => None,
    };
    match raw.acceleration.as_deref() {
        None | Some("anderson") => {
            s.acceleration = Acceleration::Anderson {
                depth: depth.unwrap_or(5),
            }
        }
        Some("none") => {
            if depth.is_some() {
                return Err(AppError::invalid(
                    src,
                    "solver.anderson_depth",
                    "only used with acceleration = \"anderson\"; remove it or set acceleration = \"anderson\"",
                ));
            }
            s.acceleration = Acceleration::None;
        }
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "solver.acceleration",
                format!("unknown acceleration {other:?}; allowed: \"none\", \"anderson\""),
            ))
        }
    }
    if let Some(n) = raw.snapshot_every {
        s.snapshot_every = Some(count(src, "solver.snapshot_every", n, 1, MAX_STEPS as i64)?);
    }
    if let Some(x) = raw.divergence_factor {
        s.divergence_factor = finite(
            src,
            "solver.divergence_factor",
            x,
            |x| x > 1.0,
            "the factor must exceed 1",
        )?;
    }
    if let Some(n) = raw.stagnation_window {
        s.stagnation_window = count(src, "solver.stagnation_window", n, 0, 1_000_000)?;
    }
    s.error_estimate = raw.error_estimate;
    if let Some(name) = raw.scheme.as_deref() {
        s.scheme = SchemeKind::from_name(name).map_err(|e| match e {
            SolverError::InvalidParameter { message, .. } => {
                AppError::invalid(src, "solver.scheme", message)
            }
            other => AppError::from_solver(src, "solver.scheme", other),
        })?;
        if modal && s.scheme != SchemeKind::Monotone {
            return Err(AppError::invalid(
                src,
                "solver.scheme",
                "reduction = \"modal\" solves its 1-D modes with the monotone scheme; remove \
                 solver.scheme or set it to \"monotone\"",
            ));
        }
    }
    crate::run::estimate::validate(src, &s, d, modal)?;
    s.fixed_point()
        .validate()
        .map_err(|e| AppError::from_solver(src, "solver", e))?;
    Ok(s)
}
