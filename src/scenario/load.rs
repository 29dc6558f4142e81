//! Loading a scenario: read the file, parse the TOML, apply the `--set` overrides,
//! deserialise into the raw form and build the validated [`Scenario`].

use super::build::build;
use super::messages::{serde_error, syntax_message};
use super::raw::RawScenario;
use super::Scenario;
use crate::error::{AppError, AppResult};
use crate::overrides::{self, Override};
use std::path::Path;
use toml::Table;

impl Scenario {
    /// Reads, overrides, validates and builds the scenario at `path`.
    ///
    /// A missing or unreadable file is invalid input (exit 2): it is a bad argument.
    pub fn load(path: &Path, overrides: &[Override]) -> AppResult<Scenario> {
        let source_name = path.display().to_string();
        let bytes =
            crate::budget::read_capped(path, crate::budget::MAX_SCENARIO_BYTES).map_err(|e| {
                AppError::InvalidFile {
                    source_name: source_name.clone(),
                    message: format!("cannot read the scenario file: {e}"),
                }
            })?;
        let text = String::from_utf8(bytes).map_err(|_| AppError::InvalidFile {
            source_name: source_name.clone(),
            message: "cannot read the scenario file: it is not UTF-8 text (a TOML file \
                      is expected)"
                .to_string(),
        })?;
        let default_name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_string());
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::from_text_in(&source_name, &default_name, &text, overrides, base)
    }

    /// Builds a scenario from TOML `text`; `source_name` is used in messages and
    /// `default_name` when the file has no `name`.
    pub fn from_text(
        source_name: &str,
        default_name: &str,
        text: &str,
        overrides: &[Override],
    ) -> AppResult<Scenario> {
        Self::from_text_in(source_name, default_name, text, overrides, Path::new("."))
    }

    /// [`Scenario::from_text`] with relative population `path`s resolved against `base`.
    pub fn from_text_in(
        source_name: &str,
        default_name: &str,
        text: &str,
        overrides: &[Override],
        base: &Path,
    ) -> AppResult<Scenario> {
        let mut table: Table =
            text.parse()
                .map_err(|e: toml::de::Error| AppError::InvalidFile {
                    source_name: source_name.to_string(),
                    message: syntax_message(text, &e),
                })?;
        let stored_text = if overrides.is_empty() {
            text.to_string()
        } else {
            overrides::apply_all(&mut table, overrides)?;
            let body = toml::to_string(&table).map_err(|e| AppError::InvalidFile {
                source_name: source_name.to_string(),
                message: format!("cannot serialise the overridden scenario: {e}"),
            })?;
            let mut header = String::from("# scenario after command-line overrides:\n");
            for o in overrides {
                header.push_str(&format!("#   --set {}\n", o.text));
            }
            header + &body
        };
        crate::limits::check_magnitudes(source_name, &table)?;
        let raw: RawScenario =
            serde_path_to_error::deserialize(table).map_err(|e| serde_error(source_name, e))?;
        let mut scenario = build(source_name, raw, base)?;
        if scenario.name.is_empty() {
            scenario.name = default_name.to_string();
        }
        scenario.text = stored_text;
        scenario.overrides = overrides.iter().map(|o| o.text.clone()).collect();
        Ok(scenario)
    }
}

/// The scenario `text` after `overrides`, checked only for its shape: TOML syntax, the
/// override paths, known keys and value types — no value ranges, no model. `tufield sweep`
/// uses it to refuse a bad sweep key or value (exit 2) before any point runs; the full
/// [`Scenario::from_text_in`] then decides whether each point is valid on its own.
pub fn overridden_text(source_name: &str, text: &str, overrides: &[Override]) -> AppResult<String> {
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| AppError::InvalidFile {
            source_name: source_name.to_string(),
            message: syntax_message(text, &e),
        })?;
    overrides::apply_all(&mut table, overrides)?;
    serde_path_to_error::deserialize::<_, RawScenario>(table.clone())
        .map_err(|e| serde_error(source_name, e))?;
    toml::to_string(&table).map_err(|e| AppError::InvalidFile {
        source_name: source_name.to_string(),
        message: format!("cannot serialise the overridden scenario: {e}"),
    })
}
