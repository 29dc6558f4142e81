//! Sweep axes: `--vary KEY=VALUES` (or `[[axis]]` tables of a sweep file) and the points
//! they span.
//!
//! VALUES is a list in `--set` syntax, `[0.1, 0.2]`, `[[0.5], [1.0]]`, `[none, anderson]`
//! (each element is parsed like a `--set` value), or a range: `linspace(a, b, n)` (n
//! evenly spaced numbers from a to b) or `logspace(a, b, n)` (10^x for x in
//! `linspace(a, b, n)`, as numpy's). Points are the cartesian product of the axes (the
//! last axis varies fastest) or, zipped, the i-th value of every axis together.

use crate::overrides::Override;
use crate::{AppError, AppResult};
use serde::Deserialize;
use std::path::Path;
use toml::Value;

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted scenario key, as for `--set` (`cost.gamma`, `population.2.mean`).
    pub key: String,
    /// The values, in order.
    pub values: Vec<Value>,
}

impl Axis {
    /// Parses `KEY=VALUES` of `--vary`.
    pub fn parse(text: &str) -> AppResult<Axis> {
        let source = format!("--vary {text}");
        let Some((key, raw)) = text.split_once('=') else {
            return Err(AppError::invalid(
                source,
                text,
                "missing `=`; write --vary key.path=[v1,v2,...], e.g. --vary noise.sigma=[0.2,0.3]",
            ));
        };
        let key = key.trim().to_string();
        let values = parse_values(&key, raw.trim())?;
        Axis::new(key, values)
    }

    /// An axis from a key and its values; errors (exit 2) on an empty key or axis.
    pub fn new(key: String, values: Vec<Value>) -> AppResult<Axis> {
        // The key is checked the way `--set` checks it.
        Override::parse(&format!("{key}=0")).map_err(|e| rename_source(e, &key))?;
        if values.is_empty() {
            return Err(AppError::invalid(
                format!("--vary {key}"),
                &key,
                "empty axis; give at least one value",
            ));
        }
        Ok(Axis { key, values })
    }

    /// The `--set` text of value `j`: `key=value`.
    pub fn set_text(&self, j: usize) -> String {
        format!("{}={}", self.key, value_text(&self.values[j]))
    }

    /// The values as numbers, when every value is one.
    pub fn numbers(&self) -> Option<Vec<f64>> {
        self.values.iter().map(number).collect()
    }
}

fn rename_source(err: AppError, key: &str) -> AppError {
    match err {
        AppError::Invalid {
            key: k, message, ..
        } => AppError::Invalid {
            source_name: format!("--vary {key}"),
            key: k,
            message,
        },
        e => e,
    }
}

/// A TOML value as a number (integers and floats).
pub fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// A value as `--set` text (TOML inline syntax; floats round-trip exactly).
pub fn value_text(v: &Value) -> String {
    v.to_string()
}

/// Parses the VALUES of `--vary KEY=VALUES` (see the module documentation).
pub fn parse_values(key: &str, raw: &str) -> AppResult<Vec<Value>> {
    let source = format!("--vary {key}");
    for (name, log) in [("linspace", false), ("logspace", true)] {
        if let Some(args) = raw
            .strip_prefix(name)
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('('))
            .and_then(|r| r.strip_suffix(')'))
        {
            return range(&source, key, name, args, log);
        }
    }
    let Some(body) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return Err(AppError::invalid(
            source,
            key,
            format!(
                "`{raw}` is not a list of values; write [v1, v2, ...], linspace(a, b, n) \
                 or logspace(a, b, n)"
            ),
        ));
    };
    split_top_level(body)
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            Override::parse(&format!("{key}={}", s.trim()))
                .map(|o| o.value)
                .map_err(|e| rename_source(e, key))
        })
        .collect()
}

/// `linspace(a, b, n)` / `logspace(a, b, n)`.
fn range(source: &str, key: &str, name: &str, args: &str, log: bool) -> AppResult<Vec<Value>> {
    let parts: Vec<&str> = args.split(',').map(str::trim).collect();
    let bad = |what: &str| {
        AppError::invalid(
            source,
            key,
            format!(
                "{name}({args}): {what}; write {name}(a, b, n) with numbers a, b and a count n ≥ 1"
            ),
        )
    };
    let [a, b, n] = parts.as_slice() else {
        return Err(bad("expected three arguments"));
    };
    let a: f64 = a.parse().map_err(|_| bad("a is not a number"))?;
    let b: f64 = b.parse().map_err(|_| bad("b is not a number"))?;
    let n: usize = n.parse().map_err(|_| bad("n is not a whole number"))?;
    if !a.is_finite() || !b.is_finite() {
        return Err(bad("a and b must be finite"));
    }
    if n == 0 {
        return Err(AppError::invalid(
            source,
            key,
            format!("{name}({args}): empty axis; n must be at least 1"),
        ));
    }
    Ok(linspace(a, b, n)
        .into_iter()
        .map(|x| Value::Float(if log { 10f64.powf(x) } else { x }))
        .collect())
}

/// n evenly spaced numbers from a to b, both ends exact.
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![a];
    }
    (0..n)
        .map(|i| {
            if i == n - 1 {
                b
            } else {
                a + (b - a) * (i as f64) / ((n - 1) as f64)
            }
        })
        .collect()
}

/// Splits at the commas that are not inside brackets, braces or quotes.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    let mut parts = Vec::new();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The points of `axes`: for each point, the index into every axis. Cartesian product
/// (last axis fastest) or, when `zip`, the i-th value of every axis (equal lengths
/// required, exit 2 otherwise).
pub fn points(axes: &[Axis], zip: bool) -> AppResult<Vec<Vec<usize>>> {
    if zip {
        let n = axes[0].values.len();
        if let Some(other) = axes.iter().find(|a| a.values.len() != n) {
            return Err(AppError::invalid(
                format!("--vary {}", other.key),
                &other.key,
                format!(
                    "zipped axes need equal lengths: {} has {n} values, {} has {}",
                    axes[0].key,
                    other.key,
                    other.values.len()
                ),
            ));
        }
        return Ok((0..n).map(|i| vec![i; axes.len()]).collect());
    }
    let mut out = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..axis.values.len()).map(move |j| {
                    let mut q = p.clone();
                    q.push(j);
                    q
                })
            })
            .collect();
    }
    Ok(out)
}

/// A netCDF/CF-friendly identifier for a key: `cost.gamma` → `cost_gamma`.
pub fn identifier(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "v_");
    }
    s
}

/// A sweep file (`--sweep FILE`):
///
/// ```toml
/// zip = false                       # optional: zip the axes instead of the product
/// set = ["solver.points=101"]       # optional: fixed overrides of every point
/// [[axis]]
/// key = "cost.gamma"
/// values = [1.5, 2.0, 3.0]          # a list, or a range as a string:
/// [[axis]]
/// key = "noise.sigma"
/// values = "linspace(0.1, 0.3, 3)"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    #[serde(default)]
    zip: bool,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    axis: Vec<FileAxis>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAxis {
    key: String,
    values: Value,
}

/// The contents of a sweep file: axes, zip flag and fixed overrides.
#[derive(Debug)]
pub struct SweepSpec {
    /// The axes in file order.
    pub axes: Vec<Axis>,
    /// Zip instead of the cartesian product.
    pub zip: bool,
    /// Fixed `--set` overrides of every point.
    pub set: Vec<String>,
}

/// Reads a sweep file (format above); errors name the file and the key (exit 2).
pub fn read_sweep_file(path: &Path) -> AppResult<SweepSpec> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AppError::InvalidFile {
        source_name: name.clone(),
        message: format!("cannot read the sweep file: {e}"),
    })?;
    let file: SweepFile = toml::from_str(&text).map_err(|e| AppError::InvalidFile {
        source_name: name.clone(),
        message: format!(
            "{}; allowed: zip = true|false, set = [\"key=value\", ...], [[axis]] tables with key and values",
            e.message().trim()
        ),
    })?;
    let axes = file
        .axis
        .into_iter()
        .map(|a| {
            let values = match a.values {
                Value::Array(items) => items,
                Value::String(s) => parse_values(&a.key, s.trim())?,
                other => {
                    return Err(AppError::invalid(
                        &name,
                        format!("axis {}.values", a.key),
                        format!(
                            "is {}; give a list or a range such as \"linspace(0.1, 0.3, 3)\"",
                            other.type_str()
                        ),
                    ))
                }
            };
            Axis::new(a.key, values)
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(SweepSpec {
        axes,
        zip: file.zip,
        set: file.set,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_parse_like_set_values() {
        let a = Axis::parse("noise.sigma=[0.1, 0.2,0.3]").unwrap();
        assert_eq!(a.numbers().unwrap(), vec![0.1, 0.2, 0.3]);
        assert_eq!(a.set_text(1), "noise.sigma=0.2");
        let m = Axis::parse("population.1.mean=[[0.5], [1.0]]").unwrap();
        assert_eq!(m.values.len(), 2);
        assert_eq!(m.set_text(0), "population.1.mean=[0.5]");
        let s = Axis::parse("solver.acceleration=[none, anderson]").unwrap();
        assert_eq!(s.values[1].as_str(), Some("anderson"));
        let l = Axis::parse("cost.gamma=linspace(1, 2, 5)").unwrap();
        assert_eq!(l.numbers().unwrap(), vec![1.0, 1.25, 1.5, 1.75, 2.0]);
        let g = Axis::parse("noise.sigma=logspace(-2, 0, 3)").unwrap();
        assert_eq!(g.numbers().unwrap(), vec![0.01, 0.1, 1.0]);
    }

    #[test]
    fn bad_axes_are_refused_naming_the_key() {
        for (text, needle) in [
            ("noise.sigma=[]", "noise.sigma: empty axis"),
            ("noise.sigma=linspace(0,1,0)", "empty axis"),
            ("noise.sigma=linspace(0,1)", "three arguments"),
            ("noise.sigma=0.3", "not a list"),
            ("noise.sigma", "missing `=`"),
            ("noise..sigma=[1]", "empty key segment"),
        ] {
            let err = Axis::parse(text).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_INVALID);
            assert!(err.to_string().contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn product_and_zip() {
        let a = Axis::parse("a.x=[1,2]").unwrap();
        let b = Axis::parse("a.y=[1,2,3]").unwrap();
        let p = points(&[a.clone(), b.clone()], false).unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(p[1], vec![0, 1]);
        assert_eq!(p[3], vec![1, 0]);
        assert!(points(&[a.clone(), b], true).is_err());
        assert_eq!(
            points(&[a.clone(), a], true).unwrap(),
            vec![vec![0, 0], vec![1, 1]]
        );
        assert_eq!(identifier("population.2.mean"), "population_2_mean");
        assert_eq!(identifier("2x"), "v_2x");
    }
}
