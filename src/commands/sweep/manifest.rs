//! The sweep directory: `manifest.toml` (the definition and every point with its
//! overrides and resolved scenario text) and `points/<i>/status.toml` (what became of
//! point i). Both are written atomically (temporary file + rename).
//!
//! ```text
//! DIR/manifest.toml        tufield_version, scenario (absolute path), set, zip,
//!                          [[axis]] key, name, values; [[point]] index, coords,
//!                          overrides, invalid (message, when invalid on its own),
//!                          scenario_text
//! DIR/points/<i>/          result.h5 (and result.checkpoint.h5 while unfinished),
//!                          solve.log (the solve's output, appended per attempt),
//!                          status.toml (absent = pending)
//! ```

use super::axes::Axis;
use crate::{AppError, AppResult};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Value;

/// File name of the manifest in a sweep directory.
pub const MANIFEST: &str = "manifest.toml";

/// One axis as stored in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisEntry {
    /// Dotted scenario key.
    pub key: String,
    /// Identifier used for the netCDF dimension and variable (`cost_gamma`).
    pub name: String,
    /// The values.
    pub values: Vec<Value>,
}

impl AxisEntry {
    /// The axis as parsed.
    pub fn axis(&self) -> Axis {
        Axis {
            key: self.key.clone(),
            values: self.values.clone(),
        }
    }
}

/// One point of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// 0-based index (the Slurm array task id).
    pub index: usize,
    /// Index into each axis.
    pub coords: Vec<usize>,
    /// The point's own `--set` overrides (after the sweep's fixed ones).
    pub overrides: Vec<String>,
    /// Why the point is invalid on its own (e.g. condition (17)); such a point is not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// The scenario after all overrides.
    pub scenario_text: String,
}

/// The definition of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of tufield that wrote it.
    pub tufield_version: String,
    /// The scenario file (absolute).
    pub scenario: PathBuf,
    /// Fixed overrides of every point.
    pub set: Vec<String>,
    /// Zipped axes (one dimension) instead of the cartesian product.
    pub zip: bool,
    /// The axes.
    pub axis: Vec<AxisEntry>,
    /// The points.
    pub point: Vec<Point>,
}

impl Manifest {
    /// Reads `DIR/manifest.toml`; a missing or unreadable manifest is invalid input
    /// (exit 2: DIR is not a sweep directory).
    pub fn load(dir: &Path) -> AppResult<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| AppError::InvalidFile {
            source_name: path.display().to_string(),
            message: format!(
                "cannot read the manifest ({e}); {} is not a sweep directory written by tufield sweep",
                dir.display()
            ),
        })?;
        toml::from_str(&text).map_err(|e| AppError::InvalidFile {
            source_name: path.display().to_string(),
            message: format!("not a tufield sweep manifest: {}", e.message().trim()),
        })
    }

    /// The manifest as TOML.
    pub fn to_text(&self) -> AppResult<String> {
        toml::to_string(self).map_err(|e| AppError::Io {
            path: MANIFEST.to_string(),
            message: format!("cannot serialise the manifest: {e}"),
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.point.len()
    }

    /// True when the sweep has no point.
    pub fn is_empty(&self) -> bool {
        self.point.is_empty()
    }

    /// Shape of the gathered arrays: one length per axis, or (points) when zipped.
    pub fn shape(&self) -> Vec<usize> {
        if self.zip {
            vec![self.point.len()]
        } else {
            self.axis.iter().map(|a| a.values.len()).collect()
        }
    }

    /// The point's overrides after the fixed ones, as `--set` texts.
    pub fn all_overrides(&self, i: usize) -> Vec<String> {
        self.set
            .iter()
            .chain(&self.point[i].overrides)
            .cloned()
            .collect()
    }

    /// Short description of point `i`: `cost.gamma=2, noise.sigma=0.2`.
    pub fn describe(&self, i: usize) -> String {
        self.point[i].overrides.join(", ")
    }
}

/// What became of a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not run yet (no status file).
    Pending,
    /// The solve converged.
    Done,
    /// The solve failed (not converged, numerical failure, I/O); re-run with
    /// `--retry-failed`.
    Failed,
    /// The point's scenario is invalid on its own; it is not run.
    Invalid,
    /// Stopped by a signal (time limit, preemption, Ctrl-C); resumed from its checkpoint
    /// on the next run.
    Interrupted,
}

impl State {
    /// All states in the order of their codes in `summary.nc`.
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Done,
        State::Failed,
        State::Invalid,
        State::Interrupted,
    ];

    /// The name in status files, the CSV and the flag meanings.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::Failed => "failed",
            State::Invalid => "invalid",
            State::Interrupted => "interrupted",
        }
    }

    /// Code in `summary.nc` (index in [`State::ALL`]).
    pub fn code(self) -> i8 {
        State::ALL.iter().position(|&s| s == self).unwrap_or(0) as i8
    }
}

/// `points/<i>/status.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointStatus {
    /// What became of the point.
    pub status: State,
    /// Exit code of the solve (absent when it did not run or was killed by a signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The error message (empty when done).
    #[serde(default)]
    pub message: String,
    /// Wall time of the solve process in seconds.
    #[serde(default)]
    pub wall_s: f64,
    /// Worker threads of the solve.
    #[serde(default)]
    pub threads: usize,
    /// Whether the solve resumed from a checkpoint.
    #[serde(default)]
    pub resumed: bool,
    /// UTC time the status was written.
    #[serde(default)]
    pub finished: String,
}

/// Directory of point `i`.
pub fn point_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join("points").join(i.to_string())
}

/// The solve output of point `i`.
pub fn result_path(dir: &Path, i: usize) -> PathBuf {
    point_dir(dir, i).join("result.h5")
}

/// The status of point `i` ([`State::Pending`] without a status file).
pub fn read_status(dir: &Path, i: usize) -> PointStatus {
    let path = point_dir(dir, i).join("status.toml");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or(PointStatus {
            status: State::Pending,
            exit_code: None,
            message: String::new(),
            wall_s: f64::NAN,
            threads: 0,
            resumed: false,
            finished: String::new(),
        })
}

/// Writes the status of point `i` atomically.
pub fn write_status(dir: &Path, i: usize, status: &PointStatus) -> AppResult<()> {
    let text = toml::to_string(status).map_err(|e| AppError::Io {
        path: point_dir(dir, i).display().to_string(),
        message: format!("cannot serialise the status: {e}"),
    })?;
    write_atomic(&point_dir(dir, i).join("status.toml"), &text)
}

/// Writes `text` to `path` through a temporary file in the same directory.
pub fn write_atomic(path: &Path, text: &str) -> AppResult<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".to_string(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&tmp, "cannot write", &e)
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(path, "cannot move the file into place", &e)
    })
}
