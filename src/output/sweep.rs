//! The files of a parameter sweep (`tufield sweep gather DIR`): the reading of each point's
//! result file (a `tufield solve` file, read through the solve writer's names) and the
//! summary `DIR/summary.nc`, a netCDF-4/CF file (written with HDF5 dimension scales, so
//! netCDF readers see the sweep axes as dimensions).
//!
//! Layout of `summary.nc` (`<axes>` = one dimension per swept key, or the single dimension
//! `point` for zipped axes; the names are [`schema`]'s sweep-summary constants):
//!
//! ```text
//! /                        attrs Conventions = "CF-1.10", title, source, history,
//!                                tufield_version, scenario (base scenario text),
//!                                sweep_set (fixed overrides), points,
//!                                condition_17_min_gamma (when Γ = γ²I)
//! /<key id>(<key id>)      coordinate variable per swept key (`cost_gamma`); attrs
//!                          long_name = the key, values (TOML text of each value);
//!                          non-numeric values are stored as their index
//! /point(point)            zipped sweeps only: point index; the keys are auxiliary
//!                          coordinates `<key id>(point)`
//! /population(population)  population index; attr names
//! /model_axis(model_axis)  axis index; attr labels
//! status(<axes>) i8        flag_values 0..4, flag_meanings
//!                          "pending done failed invalid interrupted"
//! exit_code(<axes>) i32    exit code of the solve (-1: none)
//! iterations(<axes>) i64   fixed-point iterations (-1: no result)
//! residual, wall_time, mass_error, lq_mean_distance (<axes>) f64 (NaN: no result)
//! final_mean(<axes>, population, model_axis) f64   m̄_k(T)
//! expected_cost(<axes>, population) f64            J_k = ∫ v(x,0) m_k(x,0) dx
//! ```

use super::netcdf;
use super::schema::{self, ATTR_LONG_NAME, ATTR_UNITS};
use crate::h5::AtomicH5;
use crate::progress::timestamp;
use crate::{AppError, AppResult};
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, H5Type};
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

/// What a point's result file (a `tufield solve` file) says about its run.
#[derive(Debug, Clone)]
pub struct SolveResult {
    /// Fixed-point iterations (root attribute `iterations`; -1 when unreadable).
    pub iterations: i64,
    /// Last fixed-point residual (NaN when unreadable).
    pub residual: f64,
    /// Largest |mass − 1| (NaN when unreadable).
    pub mass_error: f64,
    /// Distance to the exact LQ means (NaN when unreadable).
    pub lq_mean_distance: f64,
    /// m̄_k(T) per population and axis (empty for a population without a mean path).
    pub means: Vec<Vec<f64>>,
    /// J_k per population (NaN when the file has none, e.g. a modal solve).
    pub costs: Vec<f64>,
    /// Population names (`population <k>` for a group without one).
    pub populations: Vec<String>,
    /// The root attribute `axis_labels` (empty when missing).
    pub axis_labels: Vec<String>,
}

impl SolveResult {
    /// What is known without a readable result file: no iterations (-1), NaN figures, no
    /// populations.
    pub fn unread() -> Self {
        Self {
            iterations: -1,
            residual: f64::NAN,
            mass_error: f64::NAN,
            lq_mean_distance: f64::NAN,
            means: Vec::new(),
            costs: Vec::new(),
            populations: Vec::new(),
            axis_labels: Vec::new(),
        }
    }
}

fn f64_attr(f: &hdf5::File, name: &str) -> f64 {
    f.attr(name)
        .and_then(|a| a.read_scalar::<f64>())
        .unwrap_or(f64::NAN)
}

/// The population groups of a solve file, in numeric order.
fn population_keys(f: &hdf5::File) -> Vec<String> {
    let mut keys: Vec<String> = f
        .group(schema::POPULATIONS)
        .and_then(|g| g.member_names())
        .unwrap_or_default();
    keys.sort_by_key(|k| k.parse::<usize>().unwrap_or(usize::MAX));
    keys
}

/// J_k = ∫ v(x,0) m_k(x,0) dx: the population's `expected_cost` written by `solve`
/// (NaN when the file has none, e.g. a modal solve).
fn expected_cost(f: &hdf5::File, k: &str) -> f64 {
    f.dataset(&schema::member(
        &schema::member(schema::POPULATIONS, k),
        schema::EXPECTED_COST,
    ))
    .and_then(|d| d.read_raw::<f64>())
    .ok()
    .and_then(|v| v.first().copied())
    .unwrap_or(f64::NAN)
}

/// Reads the solve file `path` (`None` when it cannot be opened; missing parts read as
/// "no value").
pub fn read_result(path: &Path) -> Option<SolveResult> {
    let f = hdf5::File::open(path).ok()?;
    let mut r = SolveResult {
        iterations: f
            .attr(schema::ATTR_ITERATIONS)
            .and_then(|a| a.read_scalar::<u64>())
            .map_or(-1, |n| n as i64),
        residual: f64_attr(&f, schema::ATTR_RESIDUAL),
        mass_error: f64_attr(&f, schema::ATTR_MASS_ERROR),
        lq_mean_distance: f64_attr(&f, schema::ATTR_LQ_MEAN_DISTANCE),
        axis_labels: f
            .attr(schema::ATTR_AXIS_LABELS)
            .and_then(|a| a.read_raw::<VarLenUnicode>())
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default(),
        ..SolveResult::unread()
    };
    for k in population_keys(&f) {
        let mean = f
            .dataset(&schema::member(
                &schema::member(schema::POPULATIONS, &k),
                schema::MEAN,
            ))
            .and_then(|d| d.read_2d::<f64>())
            .ok()
            .and_then(|m| (m.nrows() > 0).then(|| m.row(m.nrows() - 1).to_vec()))
            .unwrap_or_default();
        r.means.push(mean);
        r.costs.push(expected_cost(&f, &k));
        r.populations.push(
            f.group(&schema::member(schema::POPULATIONS, &k))
                .and_then(|g| g.attr(schema::ATTR_NAME))
                .and_then(|a| a.read_scalar::<VarLenUnicode>())
                .map_or_else(|_| format!("population {k}"), |s| s.as_str().to_string()),
        );
    }
    Some(r)
}

/// The root attribute `status` of the solve file `out`, if readable.
pub fn result_status(out: &Path) -> Option<String> {
    let f = hdf5::File::open(out).ok()?;
    let s = f
        .attr(schema::ATTR_STATUS)
        .ok()?
        .read_scalar::<VarLenUnicode>()
        .ok()?;
    Some(s.as_str().to_string())
}

/// One swept key of the summary.
#[derive(Debug, Clone)]
pub struct SummaryAxis {
    /// The dotted scenario key (`cost.gamma`): the coordinate's `long_name`.
    pub key: String,
    /// The identifier of its dimension and coordinate variable (`cost_gamma`).
    pub name: String,
    /// The TOML text of each value (attribute `values`).
    pub values: Vec<String>,
    /// The values as numbers, when every value is one (else the coordinate is the index).
    pub numbers: Option<Vec<f64>>,
}

impl SummaryAxis {
    /// The coordinate values: the numbers, or the indices of non-numeric values.
    fn coordinates(&self) -> Vec<f64> {
        self.numbers
            .clone()
            .unwrap_or_else(|| (0..self.values.len()).map(|i| i as f64).collect())
    }
}

/// What a sweep knows of one point's solve: from its status file and its result file.
#[derive(Debug, Clone)]
pub struct PointValues {
    /// Exit code of the solve (-1: none).
    pub exit_code: i32,
    /// Wall time of the solve in seconds.
    pub wall_s: f64,
    /// What its result file says ([`SolveResult::unread`] without one).
    pub result: SolveResult,
}

/// One point of the summary.
#[derive(Debug, Clone)]
pub struct SummaryPoint {
    /// Index into each axis.
    pub coords: Vec<usize>,
    /// The status code (one of [`Summary::states`]).
    pub status: i8,
    /// Its solve's values.
    pub values: PointValues,
}

/// Everything `summary.nc` holds.
#[derive(Debug, Clone)]
pub struct Summary<'a> {
    /// The sweep directory (named in `history`).
    pub dir: &'a Path,
    /// The base scenario file (named in `title`).
    pub scenario: &'a Path,
    /// The base scenario text (root attribute `scenario`).
    pub scenario_text: &'a str,
    /// The fixed overrides of every point.
    pub set: &'a [String],
    /// Zipped axes (one dimension `point`) instead of the cartesian product.
    pub zip: bool,
    /// The swept keys.
    pub axes: Vec<SummaryAxis>,
    /// The points, row-major over the axes (in sweep order when zipped).
    pub points: Vec<SummaryPoint>,
    /// The point states as (code, name), in the order of their codes.
    pub states: Vec<(i8, &'static str)>,
    /// Population names.
    pub populations: &'a [String],
    /// Axis labels of the model.
    pub axis_labels: &'a [String],
    /// Infimum of admissible γ of condition (17) (Γ = γ²I), when known.
    pub min_gamma: Option<f64>,
}

impl Summary<'_> {
    /// Shape of the per-point arrays: one length per axis, or (points) when zipped.
    fn shape(&self) -> Vec<usize> {
        if self.zip {
            vec![self.points.len()]
        } else {
            self.axes.iter().map(|a| a.values.len()).collect()
        }
    }
}

/// One value per point of the whole sweep, shaped like the axes (+ `extra` dims).
fn grid<T: Clone>(shape: &[usize], extra: &[usize], values: Vec<T>) -> ArrayD<T> {
    let mut dims = shape.to_vec();
    dims.extend_from_slice(extra);
    // Point order is row-major over the axes, which is the layout of `values`.
    ArrayD::from_shape_vec(IxDyn(&dims), values).unwrap_or_else(|e| {
        unreachable!("the point count matches the axes: {e}");
    })
}

struct Nc<'a> {
    w: &'a AtomicH5,
    path: PathBuf,
}

impl Nc<'_> {
    fn err(&self, what: String) -> impl FnOnce(hdf5::Error) -> AppError + '_ {
        move |e| AppError::hdf5(&self.path, what, e)
    }

    fn array_attr<T: H5Type + Clone>(&self, ds: &Dataset, name: &str, v: &[T]) -> AppResult<()> {
        ds.new_attr::<T>()
            .shape(v.len())
            .create(name)
            .and_then(|a| a.write_raw(v))
            .map_err(self.err(format!("writing attribute {name}")))
    }

    /// A data variable on `dims` (names of scales), with long_name and units.
    fn variable<T: H5Type + Clone>(
        &self,
        name: &str,
        data: &ArrayD<T>,
        dims: &[&Dataset],
        dim_names: &[String],
        long_name: &str,
        units: Option<&str>,
    ) -> AppResult<Dataset> {
        let root = self.w.root()?.clone();
        let ds = self.w.array(&root, name, data)?;
        for (j, (scale, n)) in dims.iter().zip(dim_names).enumerate() {
            // A netCDF dimension is named after its scale dataset.
            debug_assert!(scale.name().ends_with(&format!("/{n}")));
            self.w.attach_scale(&ds, scale, j)?;
        }
        self.w.str_attr(&ds, ATTR_LONG_NAME, long_name)?;
        if let Some(u) = units {
            self.w.str_attr(&ds, ATTR_UNITS, u)?;
        }
        Ok(ds)
    }

    /// Makes `ds` a dimension scale (a netCDF dimension with its coordinate variable, named
    /// after the dataset), also when nothing is attached to it yet.
    fn mark_scale(&self, ds: &Dataset) -> AppResult<()> {
        netcdf::set_scale(ds).map_err(|e| AppError::hdf5(&self.path, "marking a dimension", e))
    }
}

/// A per-point f64 variable: name, accessor, long_name, units.
type FloatVariable = (
    &'static str,
    fn(&PointValues) -> f64,
    &'static str,
    Option<&'static str>,
);

/// Writes `<dir>/summary.nc` (layout in the module documentation) and returns its path.
pub fn write_summary(sum: &Summary<'_>) -> AppResult<PathBuf> {
    use schema::{
        SUMMARY_COMMENT, SUMMARY_CONDITION_17_MIN_GAMMA, SUMMARY_COORDINATES, SUMMARY_EXIT_CODE,
        SUMMARY_EXPECTED_COST, SUMMARY_FILE, SUMMARY_FINAL_MEAN, SUMMARY_FLAG_MEANINGS,
        SUMMARY_FLAG_VALUES, SUMMARY_ITERATIONS, SUMMARY_LABELS, SUMMARY_LQ_MEAN_DISTANCE,
        SUMMARY_MASS_ERROR, SUMMARY_MODEL_AXIS, SUMMARY_NAMES, SUMMARY_POINT, SUMMARY_POINTS,
        SUMMARY_POPULATION, SUMMARY_RESIDUAL, SUMMARY_STATUS, SUMMARY_SWEEP_SET, SUMMARY_VALUES,
        SUMMARY_WALL_TIME,
    };
    let dest = sum.dir.join(SUMMARY_FILE);
    let w = AtomicH5::create(&dest, sum.scenario_text)?;
    let nc = Nc {
        w: &w,
        path: dest.clone(),
    };
    let root = w.root()?.clone();
    // `Conventions` and the generic `title`, `source`, `history` come with every file of
    // the output layer; a summary says what it summarises instead.
    for name in [
        schema::ATTR_TITLE,
        schema::ATTR_SOURCE,
        schema::ATTR_HISTORY,
    ] {
        root.delete_attr(name)
            .map_err(|e| AppError::hdf5(&dest, format!("replacing attribute {name}"), e))?;
    }
    w.str_attr(
        &root,
        schema::ATTR_TITLE,
        &format!(
            "tufield parameter sweep of {} over {}",
            sum.scenario.display(),
            sum.axes
                .iter()
                .map(|a| a.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    w.str_attr(
        &root,
        schema::ATTR_SOURCE,
        &format!("tufield {} (sweep gather)", env!("CARGO_PKG_VERSION")),
    )?;
    w.str_attr(
        &root,
        schema::ATTR_HISTORY,
        &format!("{} tufield sweep gather {}", timestamp(), sum.dir.display()),
    )?;
    w.str_list_attr(&root, SUMMARY_SWEEP_SET, sum.set)?;
    w.scalar_attr(&root, SUMMARY_POINTS, sum.points.len() as u64)?;
    if let Some(g) = sum.min_gamma {
        w.scalar_attr(&root, SUMMARY_CONDITION_17_MIN_GAMMA, g)?;
    }

    // The sweep dimensions and their coordinate variables.
    let shape = sum.shape();
    let mut scales: Vec<Dataset> = Vec::new();
    let mut dim_names: Vec<String> = Vec::new();
    let describe = |ds: &Dataset, a: &SummaryAxis| -> AppResult<()> {
        w.str_attr(ds, ATTR_LONG_NAME, &a.key)?;
        w.str_list_attr(ds, SUMMARY_VALUES, &a.values)?;
        if a.numbers.is_none() {
            w.str_attr(
                ds,
                SUMMARY_COMMENT,
                "non-numeric values: the coordinate is the index into `values`",
            )?;
        }
        Ok(())
    };
    let mut aux = Vec::new();
    if sum.zip {
        let idx: Vec<i32> = (0..sum.points.len() as i32).collect();
        let ds = w.array(&root, SUMMARY_POINT, &ndarray::Array1::from(idx))?;
        nc.mark_scale(&ds)?;
        w.str_attr(&ds, ATTR_LONG_NAME, "sweep point index")?;
        scales.push(ds);
        dim_names.push(SUMMARY_POINT.to_string());
        for (j, a) in sum.axes.iter().enumerate() {
            let coordinates = a.coordinates();
            let per_point: Vec<f64> = sum
                .points
                .iter()
                .map(|p| coordinates[p.coords[j]])
                .collect();
            let c = w.array(&root, &a.name, &ndarray::Array1::from(per_point))?;
            w.attach_scale(&c, &scales[0], 0)?;
            describe(&c, a)?;
            aux.push(a.name.clone());
        }
    } else {
        for a in &sum.axes {
            let ds = w.array(&root, &a.name, &ndarray::Array1::from(a.coordinates()))?;
            describe(&ds, a)?;
            scales.push(ds);
            dim_names.push(a.name.clone());
        }
        // Marked here so that every axis is a dimension before anything is attached.
        for ds in &scales {
            nc.mark_scale(ds)?;
        }
    }
    let p = sum.populations.len();
    let d = sum.axis_labels.len();
    let pop_scale = (p > 0)
        .then(|| -> AppResult<Dataset> {
            let ds = w.array(
                &root,
                SUMMARY_POPULATION,
                &ndarray::Array1::from((0..p as i32).collect::<Vec<_>>()),
            )?;
            nc.mark_scale(&ds)?;
            w.str_attr(&ds, ATTR_LONG_NAME, "population index (0-based)")?;
            w.str_list_attr(&ds, SUMMARY_NAMES, sum.populations)?;
            Ok(ds)
        })
        .transpose()?;
    let axis_scale = (d > 0)
        .then(|| -> AppResult<Dataset> {
            let ds = w.array(
                &root,
                SUMMARY_MODEL_AXIS,
                &ndarray::Array1::from((0..d as i32).collect::<Vec<_>>()),
            )?;
            nc.mark_scale(&ds)?;
            w.str_attr(&ds, ATTR_LONG_NAME, "axis of the model (coalition excess)")?;
            w.str_list_attr(&ds, SUMMARY_LABELS, sum.axis_labels)?;
            Ok(ds)
        })
        .transpose()?;

    let dims: Vec<&Dataset> = scales.iter().collect();
    let coordinates = aux.join(" ");
    let pts: Vec<&PointValues> = sum.points.iter().map(|p| &p.values).collect();
    let add_coords = |ds: &Dataset| -> AppResult<()> {
        if !coordinates.is_empty() {
            w.str_attr(ds, SUMMARY_COORDINATES, &coordinates)?;
        }
        Ok(())
    };

    let status = nc.variable(
        SUMMARY_STATUS,
        &grid(&shape, &[], sum.points.iter().map(|r| r.status).collect()),
        &dims,
        &dim_names,
        "status of the point",
        None,
    )?;
    let codes: Vec<i8> = sum.states.iter().map(|s| s.0).collect();
    nc.array_attr(&status, SUMMARY_FLAG_VALUES, &codes)?;
    let meanings: Vec<&str> = sum.states.iter().map(|s| s.1).collect();
    w.str_attr(&status, SUMMARY_FLAG_MEANINGS, &meanings.join(" "))?;
    add_coords(&status)?;

    let exit_codes: Vec<i32> = pts.iter().map(|r| r.exit_code).collect();
    let ds = nc.variable(
        SUMMARY_EXIT_CODE,
        &grid(&shape, &[], exit_codes),
        &dims,
        &dim_names,
        "exit code of tufield solve (-1: none)",
        None,
    )?;
    add_coords(&ds)?;
    let ds = nc.variable(
        SUMMARY_ITERATIONS,
        &grid(
            &shape,
            &[],
            pts.iter().map(|r| r.result.iterations).collect(),
        ),
        &dims,
        &dim_names,
        "fixed-point iterations (-1: no result)",
        None,
    )?;
    add_coords(&ds)?;
    let floats: [FloatVariable; 4] = [
        (
            SUMMARY_RESIDUAL,
            |r| r.result.residual,
            "last fixed-point residual (scaled sup-norm)",
            Some(schema::DIMENSIONLESS),
        ),
        (
            SUMMARY_WALL_TIME,
            |r| r.wall_s,
            "wall time of the solve",
            Some(schema::SECONDS),
        ),
        (
            SUMMARY_MASS_ERROR,
            |r| r.result.mass_error,
            "largest |mass - 1|",
            Some(schema::DIMENSIONLESS),
        ),
        (
            SUMMARY_LQ_MEAN_DISTANCE,
            |r| r.result.lq_mean_distance,
            "max |mean_PDE - mean_exact_LQ| over populations, times and axes",
            None,
        ),
    ];
    for (name, f, long, units) in floats {
        let ds = nc.variable(
            name,
            &grid(&shape, &[], pts.iter().map(|r| f(r)).collect()),
            &dims,
            &dim_names,
            long,
            units,
        )?;
        add_coords(&ds)?;
    }
    if let (Some(ps), Some(xs)) = (&pop_scale, &axis_scale) {
        let mut v = Vec::with_capacity(pts.len() * p * d);
        for r in &pts {
            for k in 0..p {
                for i in 0..d {
                    v.push(
                        r.result
                            .means
                            .get(k)
                            .and_then(|m| m.get(i))
                            .copied()
                            .unwrap_or(f64::NAN),
                    );
                }
            }
        }
        let mut all = dims.clone();
        all.push(ps);
        all.push(xs);
        let mut names = dim_names.clone();
        names.push(SUMMARY_POPULATION.into());
        names.push(SUMMARY_MODEL_AXIS.into());
        let ds = nc.variable(
            SUMMARY_FINAL_MEAN,
            &grid(&shape, &[p, d], v),
            &all,
            &names,
            "mean of each population at the final time T",
            None,
        )?;
        add_coords(&ds)?;
    }
    if let Some(ps) = &pop_scale {
        let mut v = Vec::with_capacity(pts.len() * p);
        for r in &pts {
            for k in 0..p {
                v.push(r.result.costs.get(k).copied().unwrap_or(f64::NAN));
            }
        }
        let mut all = dims.clone();
        all.push(ps);
        let mut names = dim_names.clone();
        names.push(SUMMARY_POPULATION.into());
        let ds = nc.variable(
            SUMMARY_EXPECTED_COST,
            &grid(&shape, &[p], v),
            &all,
            &names,
            "expected cost J_k = integral of v(x,0) m_k(x,0) dx",
            None,
        )?;
        add_coords(&ds)?;
    }
    w.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr0, Array2};

    #[test]
    fn a_result_file_is_read_through_the_solve_names() {
        let dir = tempfile::TempDir::new().unwrap();
        assert!(read_result(&dir.path().join("missing.h5")).is_none());
        assert!(result_status(&dir.path().join("missing.h5")).is_none());
        let p = dir.path().join("point.h5");
        let w = AtomicH5::create(&p, "").unwrap();
        let root = w.root().unwrap().clone();
        w.scalar_attr(&root, schema::ATTR_ITERATIONS, 7u64).unwrap();
        w.scalar_attr(&root, schema::ATTR_RESIDUAL, 1.5e-9).unwrap();
        w.str_attr(&root, schema::ATTR_STATUS, "converged").unwrap();
        w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &["{1}".to_string()])
            .unwrap();
        w.group(schema::POPULATIONS).unwrap();
        // Populations in numeric order (10 after 2), the second without a name or a cost.
        for (k, name) in [(2, Some("b")), (10, None)] {
            let g = w.group(&schema::population(k)).unwrap();
            if let Some(n) = name {
                w.str_attr(&g, schema::ATTR_NAME, n).unwrap();
                w.array(&g, schema::EXPECTED_COST, arr0(0.25).view())
                    .unwrap();
            }
            let mean = Array2::from_shape_vec((2, 1), vec![0.0, k as f64]).unwrap();
            w.array(&g, schema::MEAN, &mean).unwrap();
        }
        w.commit().unwrap();
        let r = read_result(&p).unwrap();
        assert_eq!(r.iterations, 7);
        assert_eq!(r.residual, 1.5e-9);
        assert!(r.mass_error.is_nan() && r.lq_mean_distance.is_nan());
        assert_eq!(r.axis_labels, ["{1}"]);
        assert_eq!(r.populations, ["b", "population 10"]);
        assert_eq!(r.means, [vec![2.0], vec![10.0]]);
        assert_eq!(r.costs[0], 0.25);
        assert!(r.costs[1].is_nan());
        assert_eq!(result_status(&p).as_deref(), Some("converged"));
    }
}
