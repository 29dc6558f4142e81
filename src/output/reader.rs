//! Reading HDF5 files back: a tufield output file opened for its figures (`plot`,
//! `paper`; [`Input`]) and a dataset of a user's HDF5 file (an initial law,
//! [`read_f64_dataset`]). The readers of other kinds live with their writers
//! ([`super::checkpoint`], [`super::solution`], [`super::sweep`]).

use crate::output::schema;
use crate::{AppError, AppResult};
use hdf5::types::VarLenUnicode;
use ndarray::{Array2, ArrayD};
use std::path::{Path, PathBuf};

/// A tufield output file opened for its figures; read errors name the file and `FILE`.
pub struct Input {
    /// The file's path (for messages).
    pub path: PathBuf,
    /// The open HDF5 file.
    pub file: hdf5::File,
}

impl Input {
    /// Opens `file` (exit 2 naming it when it is no HDF5 file).
    pub fn open(file: &Path) -> AppResult<Self> {
        Ok(Input {
            path: file.to_path_buf(),
            file: hdf5::File::open(file).map_err(|e| AppError::Invalid {
                source_name: file.display().to_string(),
                key: "FILE".to_string(),
                message: format!("cannot open as HDF5: {e}"),
            })?,
        })
    }

    /// An error naming the file (`FILE`) with `what` is wrong.
    pub fn bad(&self, what: impl Into<String>) -> AppError {
        AppError::Invalid {
            source_name: self.path.display().to_string(),
            key: "FILE".to_string(),
            message: what.into(),
        }
    }

    /// The root attribute `name` (a string; an error when it is missing).
    pub fn str_attr(&self, name: &str) -> AppResult<String> {
        self.file
            .attr(name)
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map(|s| s.as_str().to_string())
            .map_err(|_| {
                self.bad(format!(
                    "root attribute {name} missing: not a tufield output file"
                ))
            })
    }

    /// The root attribute `axis_labels` (empty when missing).
    pub fn labels(&self) -> Vec<String> {
        self.file
            .attr(schema::ATTR_AXIS_LABELS)
            .and_then(|a| a.read_raw::<VarLenUnicode>())
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default()
    }

    /// The dataset `name` as a flat vector.
    pub fn vec(&self, name: &str) -> AppResult<Vec<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    /// The 2-D dataset `name`.
    pub fn mat(&self, name: &str) -> AppResult<Array2<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_2d::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    /// The dataset `name` with its shape.
    pub fn nd(&self, name: &str) -> AppResult<ArrayD<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_dyn::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    /// Whether the path `name` exists in the file.
    pub fn has(&self, name: &str) -> bool {
        self.file.link_exists(name)
    }

    /// The `name` attribute of the population group `group` (`population k+1` when it
    /// has none).
    pub fn population_name(&self, group: &str, k: usize) -> String {
        self.file
            .group(group)
            .and_then(|g| g.attr(schema::ATTR_NAME))
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("population {}", k + 1))
    }
}

/// The float64 dataset `dataset` of the HDF5 file `path` (a population's initial law,
/// `population[k].path`), refused when it holds more than `max_bytes` of values; an error
/// is the message to show after the file's name.
pub fn read_f64_dataset(path: &Path, dataset: &str, max_bytes: u64) -> Result<ArrayD<f64>, String> {
    let file = hdf5::File::open(path).map_err(|e| format!("cannot open as HDF5: {e}"))?;
    let ds = file
        .dataset(dataset)
        .map_err(|e| format!("no dataset `{dataset}` (set population.dataset): {e}"))?;
    if (ds.size() as u64).saturating_mul(8) > max_bytes {
        return Err(format!(
            "dataset `{dataset}` has {} values, more than the {} allowed",
            ds.size(),
            crate::budget::human(max_bytes)
        ));
    }
    ds.read_dyn::<f64>()
        .map_err(|e| format!("cannot read dataset `{dataset}` as float64: {e}"))
}
