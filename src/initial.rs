//! Initial populations beyond Gaussians: the `kind` of a `[[population]]`
//! table and its discretisation m_k(·, 0) on the solver's grid (the FPK's initial
//! condition m(0) = m0 of docs/design.md §1).
//!
//! * `gaussian` (default): N(mean, cov), [`Grid::gaussian`].
//! * `mixture`: Σ_c w_c N(μ_c, C_c), weights normalised to sum 1; nodal density values.
//! * `uniform`: the box Π_i [low_i, high_i]; each node gets the fraction of its cell
//!   inside the box (exact mass for a box inside the grid, cell-average discretisation).
//! * `file`: an HDF5 dataset (`dataset`, default `density`) or a `.npy` array (float64,
//!   C order): either a density on the solver's grid (shape = `solver.points`, needs an
//!   explicit `solver.domain`) or N × d samples, histogrammed onto the grid by
//!   cloud-in-cell (multilinear) weights.
//!
//! Every density is checked (finite, ≥ 0, positive mass) and normalised to mass 1;
//! [`Initial::normalisation`] is the factor applied (1 / mass before normalisation).
//! The numerics of these discretisations live in [`tufield_solvers::initial_law`]; this
//! module keeps the scenario side: the spec, reading files, and error keys.
//! The exact LQ oracle and the automatic domain use the law's mean and covariance
//! (moment matching, [`InitialSpec::moments`]): in the LQ model the mean and covariance
//! ODEs (docs/design.md §3) hold for any initial law.

use crate::error::{AppError, AppResult};
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use std::path::{Path, PathBuf};
use tufield_solvers::grid::Grid;
use tufield_solvers::initial_law;
use tufield_solvers::model::{GaussianMixture, Population, UniformBox};
use tufield_solvers::particles::InitialSampler;
use tufield_solvers::{Param, SolverError};

/// Contents of a population file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileData {
    /// A density with the grid's shape.
    Density(ArrayD<f64>),
    /// N × d samples.
    Samples(Array2<f64>),
}

/// What a `[[population]]` table asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum InitialSpec {
    /// N(mean, cov) of the [`Population`].
    Gaussian,
    /// Σ_c w_c N(μ_c, C_c) with Σ w_c = 1 (weights normalised, covariances SPD).
    Mixture(GaussianMixture),
    /// Uniform on Π_i [low_i, high_i].
    Uniform(UniformBox),
    /// Read from a file (resolved against the scenario file's directory).
    File {
        /// Resolved path.
        path: PathBuf,
        /// HDF5 dataset name (unused for `.npy`).
        dataset: String,
        /// What was read.
        data: FileData,
    },
}

/// A discretised initial density m_k(·, 0) and the normalisation applied to it.
pub use tufield_solvers::initial_law::InitialDensity as Initial;

impl InitialSpec {
    /// The law as a particle sampler for `tufield simulate`: Gaussian, mixture and uniform
    /// exactly; a file's samples resampled with replacement; a file's grid density node by
    /// node, uniform within each cell (`grid` is the solver grid the density lives on).
    pub fn sampler(&self, grid: impl FnOnce() -> AppResult<Grid>) -> AppResult<InitialSampler> {
        Ok(match self {
            InitialSpec::Gaussian => InitialSampler::Gaussian,
            InitialSpec::Mixture(m) => InitialSampler::Mixture(m.clone()),
            InitialSpec::Uniform(b) => InitialSampler::Uniform(b.clone()),
            InitialSpec::File { data, .. } => match data {
                FileData::Samples(s) => InitialSampler::Samples(s.clone()),
                FileData::Density(m) => InitialSampler::Grid {
                    grid: grid()?,
                    density: m.iter().cloned().collect(),
                },
            },
        })
    }

    /// `kind` as written in the scenario.
    pub fn kind(&self) -> &'static str {
        match self {
            InitialSpec::Gaussian => "gaussian",
            InitialSpec::Mixture(_) => "mixture",
            InitialSpec::Uniform(_) => "uniform",
            InitialSpec::File { .. } => "file",
        }
    }

    /// Mean and covariance of the law (moment matching), when they follow from the spec
    /// alone: analytic for mixtures and boxes, sample moments for sample files; `None`
    /// for a Gaussian (its own mean/cov) and a grid density (needs the grid).
    pub fn moments(&self) -> Option<(Array1<f64>, Array2<f64>)> {
        match self {
            InitialSpec::Gaussian => None,
            InitialSpec::Mixture(GaussianMixture {
                weights,
                means,
                covs,
            }) => {
                let d = means[0].len();
                let mut mean = Array1::zeros(d);
                let mut second = Array2::zeros((d, d));
                for ((w, mu), c) in weights.iter().zip(means).zip(covs) {
                    mean.scaled_add(*w, mu);
                    let outer = outer(mu, mu);
                    second.scaled_add(*w, &(c + &outer));
                }
                let cov = second - outer(&mean, &mean);
                Some((mean, cov))
            }
            InitialSpec::Uniform(UniformBox { low, high }) => {
                let mean = (low + high) * 0.5;
                let var = (high - low).mapv(|w| w * w / 12.0);
                Some((mean, Array2::from_diag(&var)))
            }
            InitialSpec::File { data, .. } => match data {
                FileData::Density(_) => None,
                FileData::Samples(s) => {
                    let n = s.nrows() as f64;
                    let mean = s.sum_axis(ndarray::Axis(0)) / n;
                    let c = s - &mean;
                    let cov = c.t().dot(&c) / n;
                    Some((mean, cov))
                }
            },
        }
    }
}

fn outer(a: &Array1<f64>, b: &Array1<f64>) -> Array2<f64> {
    Array2::from_shape_fn((a.len(), b.len()), |(i, j)| a[i] * b[j])
}

/// Maps an error of the initial-law numerics to scenario key `key` (the indexed
/// `population[k].…` the user wrote): an invalid parameter keeps its message under `key`;
/// anything else is mapped as [`AppError::from_solver`] does.
fn at_key(src: &str, key: &str, err: SolverError) -> AppError {
    match err {
        SolverError::InvalidParameter { message, .. } => AppError::invalid(src, key, message),
        e => AppError::from_solver(src, key, e),
    }
}

/// Discretises population `k`'s initial law on `grid` (errors name `population[k+1].…`):
/// the numerics are [`tufield_solvers::initial_law`] and [`Grid::gaussian`].
pub fn discretise(
    src: &str,
    k: usize,
    spec: &InitialSpec,
    pop: &Population,
    grid: &Grid,
) -> AppResult<Initial> {
    let key = |f: &str| format!("population[{}].{f}", k + 1);
    let solver_err = |f: &str| {
        let f = f.to_string();
        move |e| AppError::from_solver(src, &key(&f), e)
    };
    // The density built from `field` (scenario key `population[k+1].f`), normalised.
    let normalised = |field: Param, f: &str, m: ArrayD<f64>| {
        initial_law::normalise(field, grid, m).map_err(|e| at_key(src, &key(f), e))
    };
    match spec {
        InitialSpec::Gaussian => {
            let m = grid
                .gaussian(pop.mean.view(), pop.cov.view())
                .map_err(solver_err("cov"))?;
            Ok(Initial {
                density: m,
                normalisation: 1.0,
            })
        }
        InitialSpec::Mixture(mixture) => {
            let m = initial_law::mixture_density(grid, mixture).map_err(solver_err("covs"))?;
            normalised(Param::MixtureWeights, "weights", m)
        }
        InitialSpec::Uniform(uniform) => normalised(
            Param::UniformBox,
            "low",
            initial_law::uniform_box_density(grid, uniform),
        ),
        InitialSpec::File { data, .. } => match data {
            FileData::Density(m) => {
                if m.shape() != grid.shape() {
                    return Err(AppError::invalid(
                        src,
                        key("path"),
                        format!(
                            "the density has shape {:?} but the grid (solver.points) is {:?}",
                            m.shape(),
                            grid.shape()
                        ),
                    ));
                }
                normalised(Param::InitialLawFile, "path", m.clone())
            }
            FileData::Samples(s) => {
                let m = cloud_in_cell(src, &key("path"), grid, s)?;
                normalised(Param::InitialSamples, "path", m)
            }
        },
    }
}

/// Cloud-in-cell histogram of N × d samples ([`initial_law::cloud_in_cell`]); a sample
/// outside the grid is refused under scenario key `key`, naming the first.
pub fn cloud_in_cell(src: &str, key: &str, grid: &Grid, s: &Array2<f64>) -> AppResult<ArrayD<f64>> {
    initial_law::cloud_in_cell(grid, s).map_err(|e| at_key(src, key, e))
}

/// Reads a population file: `.npy` (float64, C order) or HDF5 (`dataset`). The key names
/// `population[k].path` in errors.
pub fn read_file(src: &str, key: &str, path: &Path, dataset: &str) -> AppResult<ArrayD<f64>> {
    let bad = |m: String| AppError::invalid(src, key, format!("{}: {m}", path.display()));
    if path.extension().and_then(|e| e.to_str()) == Some("npy") {
        let bytes = crate::budget::read_capped(path, crate::budget::MAX_DATA_BYTES)
            .map_err(|e| bad(format!("cannot read: {e}")))?;
        return parse_npy(&bytes).map_err(bad);
    }
    crate::output::reader::read_f64_dataset(path, dataset, crate::budget::MAX_DATA_BYTES)
        .map_err(bad)
}

/// Minimal `.npy` reader (format versions 1–3): little-endian float64 (`<f8`), C order.
pub fn parse_npy(bytes: &[u8]) -> Result<ArrayD<f64>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated .npy header")?;
    let field = |name: &str| -> Result<&str, String> {
        let at = header
            .find(&format!("'{name}'"))
            .ok_or(format!("header has no '{name}'"))?;
        let rest = &header[at + name.len() + 2..];
        Ok(rest.trim_start().trim_start_matches(':').trim_start())
    };
    let descr = field("descr")?;
    if !(descr.starts_with("'<f8'") || descr.starts_with("'float64'")) {
        return Err(format!(
            "dtype must be little-endian float64 ('<f8'), got {descr:.10}"
        ));
    }
    if !field("fortran_order")?.starts_with("False") {
        return Err("Fortran-order arrays are not supported (save with C order)".into());
    }
    let shape_txt = field("shape")?;
    let close = shape_txt.find(')').ok_or("bad shape in header")?;
    let shape: Vec<usize> = shape_txt[1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|e| format!("bad shape entry {s}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let data = &bytes[start + hlen..];
    if data.len() != 8 * n {
        return Err(format!(
            "expected {} bytes of data for shape {shape:?}, found {}",
            8 * n,
            data.len()
        ));
    }
    let values: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), values).map_err(|e| e.to_string())
}

/// Classifies a file array for a d-dimensional grid: a 2-D array with d columns and a
/// different shape from the grid is N × d samples; anything else is a grid density
/// (its shape is checked against the grid later).
pub fn classify(data: ArrayD<f64>, grid_shape: Option<&[usize]>, d: usize) -> FileData {
    let is_grid = grid_shape.is_some_and(|g| g == data.shape());
    if is_grid || data.ndim() != 2 || data.shape()[1] != d {
        return FileData::Density(data);
    }
    let rows = data.shape()[0];
    let flat: Vec<f64> = data.iter().cloned().collect();
    match Array2::from_shape_vec((rows, d), flat) {
        Ok(s) => FileData::Samples(s),
        Err(_) => FileData::Density(data),
    }
}
