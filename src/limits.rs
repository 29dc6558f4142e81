//! Magnitude limits on scenario numbers, checked before anything is built: a value such as
//! `cost.gamma = 1e300` or `cost.r = 1e-300` is refused at once naming its key, instead of
//! failing seconds later deep in the numerics under another name.
//!
//! Every number of the model (`[model]`, `[game]`, `[cost]`, `[noise]`, `[horizon]`,
//! `[[population]]`, `[bounds]`, `[heuristic]`) and `solver.domain` must have magnitude at
//! most [`MAX_MAGNITUDE`]; a non-zero one at least [`MIN_MAGNITUDE`] (rescale the units of
//! the model otherwise). The other `[solver]` settings have their own ranges (`tol` may be
//! tiny, `divergence_factor` large).

use crate::{AppError, AppResult};
use toml::{Table, Value};

/// Largest magnitude of a scenario number.
pub const MAX_MAGNITUDE: f64 = 1e12;
/// Smallest magnitude of a non-zero scenario number.
pub const MIN_MAGNITUDE: f64 = 1e-12;

/// Checks every number of the scenario table (see the module docs); the error names the
/// key with 1-based indices (`population[1].std`, `model.a[1][1]`).
pub fn check_magnitudes(source_name: &str, table: &Table) -> AppResult<()> {
    for (key, value) in table {
        if key == "solver" {
            if let Some(domain) = value.get("domain") {
                walk(source_name, "solver.domain", domain)?;
            }
            continue;
        }
        walk(source_name, key, value)?;
    }
    Ok(())
}

fn walk(source_name: &str, path: &str, value: &Value) -> AppResult<()> {
    match value {
        Value::Float(x) => check(source_name, path, *x),
        Value::Integer(i) => check(source_name, path, *i as f64),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| walk(source_name, &format!("{path}[{}]", i + 1), v)),
        Value::Table(t) => t
            .iter()
            .try_for_each(|(k, v)| walk(source_name, &format!("{path}.{k}"), v)),
        _ => Ok(()),
    }
}

fn check(source_name: &str, path: &str, x: f64) -> AppResult<()> {
    // NaN and ±∞ are left to the keys' own checks (which say what is allowed).
    if !x.is_finite() || x == 0.0 {
        return Ok(());
    }
    let m = x.abs();
    if !(MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&m) {
        return Err(AppError::invalid(
            source_name,
            path,
            format!(
                "{x:e} is outside the range of magnitudes tufield accepts \
                 ({MIN_MAGNITUDE:e} to {MAX_MAGNITUDE:e}, or 0); rescale the model's units"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_numbers_name_their_key() {
        let t: Table = "[cost]\ngamma = 1e300\n[[population]]\nstd = [0.3]\n[[population]]\nstd = [1e-300]\n[solver]\ntol = 1e-15\n"
            .parse()
            .unwrap();
        let e = check_magnitudes("s.toml", &t).unwrap_err().to_string();
        assert!(e.contains("cost.gamma"), "{e}");
        let t: Table = "[[population]]\nstd = [0.3]\n[[population]]\nmean = [0.0, -1e300]\n[solver]\ntol = 1e-15\n"
            .parse()
            .unwrap();
        let e = check_magnitudes("s.toml", &t).unwrap_err().to_string();
        assert!(e.contains("population[2].mean[2]"), "{e}");
        let ok: Table = "[solver]\ntol = 1e-15\ndivergence_factor = 1e20\n"
            .parse()
            .unwrap();
        assert!(check_magnitudes("s.toml", &ok).is_ok());
    }
}
