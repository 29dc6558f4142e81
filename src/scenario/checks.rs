//! Typed reads of TOML values (numbers, n×n matrices) and range checks, each error
//! naming the scenario key.

use super::MAX_DIM;
use crate::error::{AppError, AppResult};
use ndarray::Array2;
use toml::Value;
use tufield_solvers::linalg::{is_symmetric, symmetric_eigenvalues};

pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Boolean(_) => "a boolean".into(),
        Value::Datetime(_) => "a date".into(),
        Value::Table(_) => "a table".into(),
        Value::Array(rows) => {
            if rows.iter().all(|r| number(r).is_some()) {
                format!("a list of {} numbers", rows.len())
            } else if rows.iter().all(|r| matches!(r, Value::Array(_))) {
                let lens: Vec<usize> = rows
                    .iter()
                    .map(|r| r.as_array().map_or(0, |a| a.len()))
                    .collect();
                if lens.windows(2).all(|w| w[0] == w[1]) {
                    format!(
                        "a {}×{} matrix",
                        rows.len(),
                        lens.first().copied().unwrap_or(0)
                    )
                } else {
                    "a list of rows of different lengths".into()
                }
            } else {
                "a list of mixed values".into()
            }
        }
    }
}

pub(super) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// Reads an n×n matrix (rows of numbers); `allow_scalar` accepts a number c meaning cI.
pub(super) fn matrix(
    src: &str,
    key: &str,
    v: &Value,
    n: usize,
    allow_scalar: bool,
) -> AppResult<Array2<f64>> {
    let expected = if allow_scalar {
        format!("expected a number or a {n}×{n} matrix")
    } else {
        format!("expected a {n}×{n} matrix (a list of {n} rows of {n} numbers)")
    };
    let m = match v {
        Value::Integer(_) | Value::Float(_) if allow_scalar => {
            Array2::eye(n) * number(v).unwrap_or(f64::NAN)
        }
        Value::Array(rows) if rows.len() == n => {
            let mut m = Array2::zeros((n, n));
            for (i, row) in rows.iter().enumerate() {
                let Some(row) = row.as_array().filter(|r| r.len() == n) else {
                    return Err(AppError::invalid(
                        src,
                        key,
                        format!("{expected}, got {}", describe(v)),
                    ));
                };
                for (j, x) in row.iter().enumerate() {
                    m[[i, j]] = number(x).ok_or_else(|| {
                        AppError::invalid(
                            src,
                            key,
                            format!("{expected}, got {} in row {}", describe(x), i + 1),
                        )
                    })?;
                }
            }
            m
        }
        _ => {
            return Err(AppError::invalid(
                src,
                key,
                format!("{expected}, got {}", describe(v)),
            ))
        }
    };
    if m.iter().any(|x| !x.is_finite()) {
        return Err(AppError::invalid(
            src,
            key,
            "entries must be finite numbers",
        ));
    }
    Ok(m)
}

/// Reads a square matrix of any size (for an expert A).
pub(super) fn square_matrix(src: &str, key: &str, v: &Value) -> AppResult<Array2<f64>> {
    let n = match v {
        Value::Array(rows) if !rows.is_empty() => rows.len(),
        _ => {
            return Err(AppError::invalid(
                src,
                key,
                format!(
                    "expected a d×d matrix with d in 1..={MAX_DIM}, e.g. [[-0.75]], got {}",
                    describe(v)
                ),
            ))
        }
    };
    if n > MAX_DIM {
        return Err(AppError::invalid(
            src,
            key,
            format!("A is {n}×{n}; the grid has at most {MAX_DIM} axes"),
        ));
    }
    matrix(src, key, v, n, false)
}

pub(super) fn require_spd(src: &str, key: &str, m: &Array2<f64>) -> AppResult<()> {
    if !is_symmetric(m) {
        return Err(AppError::invalid(src, key, "matrix must be symmetric"));
    }
    let ev = symmetric_eigenvalues(m).map_err(|e| AppError::from_solver(src, key, e))?;
    if ev.iter().any(|&l| l <= 0.0) {
        return Err(AppError::invalid(
            src,
            key,
            format!(
                "matrix must be positive definite; its smallest eigenvalue is {:.3e}",
                ev.iter().cloned().fold(f64::INFINITY, f64::min)
            ),
        ));
    }
    Ok(())
}

pub(super) fn count(src: &str, key: &str, v: i64, min: i64, max: i64) -> AppResult<usize> {
    if v < min || v > max {
        return Err(AppError::invalid(
            src,
            key,
            format!("must be an integer in {min}..={max}, got {v}"),
        ));
    }
    Ok(v as usize)
}

pub(super) fn finite(
    src: &str,
    key: &str,
    v: f64,
    ok: impl Fn(f64) -> bool,
    allowed: &str,
) -> AppResult<f64> {
    if !v.is_finite() || !ok(v) {
        return Err(AppError::invalid(src, key, format!("got {v}; {allowed}")));
    }
    Ok(v)
}
