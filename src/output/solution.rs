//! Reading a `tufield solve` file back for the fields a policy is built from (`tufield
//! simulate --policy FILE`): the grid, the snapshot levels, and each population's value and
//! density snapshots and mean path, read through the names the solve writer uses
//! ([`super::schema`], [`super::solve`]). Errors name the file and `--policy` (exit 2).

use super::schema;
use crate::{AppError, AppResult};
use hdf5::types::VarLenUnicode;
use ndarray::{Array2, ArrayD, Axis};
use std::path::Path;
use tufield_solvers::grid::Grid;

/// A solve file's fields, read back.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The grid of the solve (from `/grid/x<i>`: lo, hi and the node count).
    pub grid: Grid,
    /// The time level of each snapshot (`/snapshot_level`).
    pub levels: Vec<usize>,
    /// v_k at each snapshot, per population.
    pub values: Vec<Vec<ArrayD<f64>>>,
    /// m_k at each snapshot, per population.
    pub densities: Vec<Vec<ArrayD<f64>>>,
    /// The mean path m̄_k (steps+1, d), per population.
    pub means: Vec<Array2<f64>>,
}

/// A `tufield solve` file opened for `--policy`.
pub struct SolveFile {
    source: String,
    file: hdf5::File,
}

impl SolveFile {
    /// Opens `path` and checks that `tufield solve` wrote it (root attribute `command`).
    pub fn open(path: &Path) -> AppResult<SolveFile> {
        let source = path.display().to_string();
        let bad = |m: String| AppError::invalid(&source, "--policy", m);
        if !path.is_file() {
            return Err(bad(
                "no such file; give lq, least-squares or a `tufield solve` output".into(),
            ));
        }
        let file =
            hdf5::File::open(path).map_err(|e| bad(format!("not a readable HDF5 file ({e})")))?;
        let f = SolveFile { source, file };
        if f.str_attr(schema::ATTR_COMMAND)? != schema::COMMAND_SOLVE {
            return Err(f.bad("the file was not written by `tufield solve`".into()));
        }
        Ok(f)
    }

    /// An error naming the file and `--policy`.
    pub fn bad(&self, message: String) -> AppError {
        AppError::invalid(&self.source, "--policy", message)
    }

    fn str_attr(&self, name: &str) -> AppResult<String> {
        let a = self.file.attr(name).map_err(|_| {
            self.bad(format!(
                "missing root attribute {name}; not a tufield solve output"
            ))
        })?;
        let s: VarLenUnicode = a
            .read_scalar()
            .map_err(|e| self.bad(format!("attribute {name}: {e}")))?;
        Ok(s.as_str().to_string())
    }

    /// The scenario text (after overrides) the file was solved for.
    pub fn scenario(&self) -> AppResult<String> {
        self.str_attr(schema::ATTR_SCENARIO)
    }

    /// The fields of a solve on `d` axes with `populations` populations and `steps` time
    /// steps (each dataset's shape is checked against the grid and the snapshots).
    pub fn read(&self, d: usize, populations: usize, steps: usize) -> AppResult<Solution> {
        let h5 = |what: String| move |e: hdf5::Error| self.bad(format!("{what}: {e}"));
        let mut axes = Vec::with_capacity(d);
        for i in 0..d {
            let name = schema::grid_axis(i);
            let ds = self.file.dataset(&name).map_err(h5(name.clone()))?;
            let n = ds.size();
            let lo: f64 = ds
                .attr(schema::ATTR_LO)
                .and_then(|a| a.read_scalar())
                .map_err(h5(format!("{name} attribute {}", schema::ATTR_LO)))?;
            let hi: f64 = ds
                .attr(schema::ATTR_HI)
                .and_then(|a| a.read_scalar())
                .map_err(h5(format!("{name} attribute {}", schema::ATTR_HI)))?;
            axes.push((lo, hi, n));
        }
        let grid = Grid::from_bounds(
            &axes.iter().map(|a| a.0).collect::<Vec<_>>(),
            &axes.iter().map(|a| a.1).collect::<Vec<_>>(),
            &axes.iter().map(|a| a.2).collect::<Vec<_>>(),
        )
        .map_err(|e| self.bad(format!("grid: {e}")))?;
        let levels: Vec<usize> = self
            .file
            .dataset(schema::SNAPSHOT_LEVEL)
            .and_then(|ds| ds.read_raw::<u64>())
            .map_err(h5(schema::SNAPSHOT_LEVEL.into()))?
            .into_iter()
            .map(|l| l as usize)
            .collect();
        let frames = |name: &str| -> AppResult<Vec<ArrayD<f64>>> {
            let a = self
                .file
                .dataset(name)
                .and_then(|ds| ds.read_dyn::<f64>())
                .map_err(h5(name.to_string()))?;
            if a.ndim() != d + 1 || a.shape()[0] != levels.len() || &a.shape()[1..] != grid.shape()
            {
                return Err(self.bad(format!("{name} has shape {:?}", a.shape())));
            }
            Ok(a.axis_iter(Axis(0)).map(|f| f.to_owned()).collect())
        };
        let mut values = Vec::with_capacity(populations);
        let mut densities = Vec::with_capacity(populations);
        let mut means = Vec::with_capacity(populations);
        for k in 0..populations {
            values.push(frames(&schema::population_dataset(k, schema::VALUE))?);
            densities.push(frames(&schema::population_dataset(k, schema::DENSITY))?);
            let name = schema::population_dataset(k, schema::MEAN);
            let m = self
                .file
                .dataset(&name)
                .and_then(|ds| ds.read_2d::<f64>())
                .map_err(h5(name.clone()))?;
            if m.dim() != (steps + 1, d) {
                return Err(self.bad(format!("{name} has shape {:?}", m.dim())));
            }
            means.push(m);
        }
        Ok(Solution {
            grid,
            levels,
            values,
            densities,
            means,
        })
    }
}
