//! `--set key.path=value` overrides applied to the parsed TOML tree before it is
//! deserialised into a scenario.
//!
//! The value is parsed as a TOML value (`401`, `0.2`, `[[1,0],[0,2]]`, `"anderson"`,
//! `{ lo = 1 }`); when it is not valid TOML it is taken as a plain string, so
//! `--set solver.acceleration=none` works without quotes. Missing tables on the path are
//! created. An array of tables is indexed 1-based: `population.2.mean=[0.5]`.

use crate::error::{AppError, AppResult};
use toml::{Table, Value};

/// One parsed override: dotted key segments and the new value.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The text as given on the command line (for messages and provenance).
    pub text: String,
    /// Key segments (`["solver", "points"]`).
    pub path: Vec<String>,
    /// The value to store.
    pub value: Value,
}

impl Override {
    /// Parses `key.path=value`. Errors (exit 2) when `=` is missing or a key segment is
    /// empty.
    pub fn parse(text: &str) -> AppResult<Self> {
        let source = format!("--set {text}");
        let Some((key, raw)) = text.split_once('=') else {
            return Err(AppError::invalid(
                source,
                text,
                "missing `=`; write --set key.path=value, e.g. --set solver.points=401",
            ));
        };
        let key = key.trim();
        let path: Vec<String> = key.split('.').map(|s| s.trim().to_string()).collect();
        if path.iter().any(|s| s.is_empty()) {
            return Err(AppError::invalid(
                source,
                key,
                "empty key segment; keys are dotted names such as noise.sigma or population.1.mean",
            ));
        }
        Ok(Override {
            text: text.to_string(),
            path,
            value: parse_value(raw.trim()),
        })
    }

    /// Applies the override to `root`, creating missing tables. Errors (exit 2) name the
    /// key prefix that is not a table (or not a valid array index).
    pub fn apply(&self, root: &mut Table) -> AppResult<()> {
        set_in_table(root, &self.path, 0, self.value.clone()).map_err(|(depth, message)| {
            AppError::invalid(
                format!("--set {}", self.text),
                self.path[..depth.max(1)].join("."),
                message,
            )
        })
    }
}

/// Applies every override in order.
pub fn apply_all(root: &mut Table, overrides: &[Override]) -> AppResult<()> {
    overrides.iter().try_for_each(|o| o.apply(root))
}

type SetError = (usize, String);

fn set_in_table(
    table: &mut Table,
    path: &[String],
    depth: usize,
    value: Value,
) -> Result<(), SetError> {
    let seg = &path[depth];
    if depth + 1 == path.len() {
        table.insert(seg.clone(), value);
        return Ok(());
    }
    let entry = table
        .entry(seg.clone())
        .or_insert_with(|| Value::Table(Table::new()));
    set_in_value(entry, path, depth + 1, value)
}

/// `container` is the value at `path[..depth]`; set `path[depth..]` inside it.
fn set_in_value(
    container: &mut Value,
    path: &[String],
    depth: usize,
    value: Value,
) -> Result<(), SetError> {
    match container {
        Value::Table(t) => set_in_table(t, path, depth, value),
        Value::Array(items) => {
            let seg = &path[depth];
            let n = items.len();
            let index = seg.parse::<usize>().ok().filter(|&i| (1..=n).contains(&i));
            let Some(i) = index else {
                return Err((
                    depth,
                    format!(
                        "is an array of {n} entries; index it 1-based with 1..={n}, e.g. {}.1",
                        path[..depth].join(".")
                    ),
                ));
            };
            if depth + 1 == path.len() {
                items[i - 1] = value;
                Ok(())
            } else {
                set_in_value(&mut items[i - 1], path, depth + 1, value)
            }
        }
        other => Err((
            depth,
            format!(
                "is {} {}, not a table; `{}` cannot be set inside it",
                article(other.type_str()),
                other.type_str(),
                path.join(".")
            ),
        )),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Parses a command-line value as TOML, falling back to a plain string.
fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match doc.parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    #[test]
    fn sets_numbers_matrices_and_strings() {
        let mut t = table("[solver]\npoints = 101\n");
        for o in [
            "solver.points=401",
            "noise.sigma=0.2",
            "cost.q=[[1,0],[0,2]]",
            "solver.acceleration=none",
        ] {
            Override::parse(o).unwrap().apply(&mut t).unwrap();
        }
        assert_eq!(t["solver"]["points"].as_integer(), Some(401));
        assert_eq!(t["noise"]["sigma"].as_float(), Some(0.2));
        assert_eq!(t["cost"]["q"].as_array().unwrap().len(), 2);
        assert_eq!(t["solver"]["acceleration"].as_str(), Some("none"));
    }

    #[test]
    fn indexes_arrays_of_tables_one_based() {
        let mut t = table("[[population]]\nmean = [0.0]\n[[population]]\nmean = [1.0]\n");
        Override::parse("population.2.mean=[0.5]")
            .unwrap()
            .apply(&mut t)
            .unwrap();
        let pops = t["population"].as_array().unwrap();
        assert_eq!(pops[1]["mean"].as_array().unwrap()[0].as_float(), Some(0.5));
        assert_eq!(pops[0]["mean"].as_array().unwrap()[0].as_float(), Some(0.0));
        let err = Override::parse("population.3.mean=[0.5]")
            .unwrap()
            .apply(&mut t)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("population: is an array of 2 entries"),
            "{err}"
        );
        let err = Override::parse("population.0.mean=[0.5]")
            .unwrap()
            .apply(&mut t)
            .unwrap_err();
        assert!(err.to_string().contains("1..=2"), "{err}");
    }

    #[test]
    fn refuses_paths_through_non_tables() {
        let mut t = table("[noise]\nsigma = 0.3\n");
        let err = Override::parse("noise.sigma.x=1")
            .unwrap()
            .apply(&mut t)
            .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_INVALID);
        assert!(
            err.to_string()
                .contains("noise.sigma: is a float, not a table"),
            "{err}"
        );
        assert!(Override::parse("noise.sigma").is_err());
        assert!(Override::parse("noise..sigma=1").is_err());
    }
}
