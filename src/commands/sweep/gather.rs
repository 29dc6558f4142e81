//! `tufield sweep gather DIR`: every point's status and results in one netCDF-4/CF file
//! `DIR/summary.nc` (written with HDF5 dimension scales, so netCDF readers see the sweep
//! axes as dimensions), the same table as `DIR/summary.csv`, and PNG figures.
//!
//! Layout of `summary.nc` (`<axes>` = one dimension per swept key, or the single dimension
//! `point` for zipped axes):
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

use super::figures;
use super::manifest::{read_status, result_path, Manifest, State};
use crate::h5::AtomicH5;
use crate::output::schema;
use crate::progress::timestamp;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, H5Type};
use ndarray::{ArrayD, IxDyn};
use std::ffi::CString;
use std::os::raw::c_char;
use std::path::{Path, PathBuf};

/// Quantities that can be drawn against the axes (`--plot`).
pub const QUANTITIES: [&str; 7] = [
    "expected_cost",
    "final_mean",
    "lq_mean_distance",
    "iterations",
    "residual",
    "mass_error",
    "wall_time",
];

/// What was gathered of one point.
#[derive(Debug, Clone)]
pub struct PointResult {
    /// Status.
    pub state: State,
    /// Exit code of the solve (-1: none).
    pub exit_code: i32,
    /// Error message (empty when done).
    pub message: String,
    /// Fixed-point iterations (-1: no result file).
    pub iterations: i64,
    /// Last residual.
    pub residual: f64,
    /// Wall time of the solve.
    pub wall_s: f64,
    /// Largest |mass − 1|.
    pub mass_error: f64,
    /// Distance to the exact LQ means.
    pub lq_mean_distance: f64,
    /// m̄_k(T) per population and axis.
    pub means: Vec<Vec<f64>>,
    /// J_k per population.
    pub costs: Vec<f64>,
}

/// All points of a sweep.
#[derive(Debug)]
pub struct Summary {
    /// The sweep definition.
    pub manifest: Manifest,
    /// One entry per point.
    pub points: Vec<PointResult>,
    /// Population names (from the first result file).
    pub populations: Vec<String>,
    /// Axis labels (from the first result file).
    pub axis_labels: Vec<String>,
    /// Infimum of admissible γ of condition (17) (Γ = γ²I), when known.
    pub min_gamma: Option<f64>,
}

fn f64_attr(f: &hdf5::File, name: &str) -> f64 {
    f.attr(name)
        .and_then(|a| a.read_scalar::<f64>())
        .unwrap_or(f64::NAN)
}

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

/// Reads one point (status file and result file).
fn read_point(dir: &Path, i: usize) -> (PointResult, Vec<String>, Vec<String>) {
    let st = read_status(dir, i);
    let mut r = PointResult {
        state: st.status,
        exit_code: st.exit_code.unwrap_or(-1),
        message: st.message,
        iterations: -1,
        residual: f64::NAN,
        wall_s: st.wall_s,
        mass_error: f64::NAN,
        lq_mean_distance: f64::NAN,
        means: Vec::new(),
        costs: Vec::new(),
    };
    let (mut names, mut labels) = (Vec::new(), Vec::new());
    if matches!(st.status, State::Pending | State::Invalid) {
        return (r, names, labels);
    }
    let Ok(f) = hdf5::File::open(result_path(dir, i)) else {
        return (r, names, labels);
    };
    r.iterations = f
        .attr(schema::ATTR_ITERATIONS)
        .and_then(|a| a.read_scalar::<u64>())
        .map_or(-1, |n| n as i64);
    r.residual = f64_attr(&f, schema::ATTR_RESIDUAL);
    r.mass_error = f64_attr(&f, schema::ATTR_MASS_ERROR);
    r.lq_mean_distance = f64_attr(&f, schema::ATTR_LQ_MEAN_DISTANCE);
    labels = f
        .attr(schema::ATTR_AXIS_LABELS)
        .and_then(|a| a.read_raw::<VarLenUnicode>())
        .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
        .unwrap_or_default();
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
        names.push(
            f.group(&schema::member(schema::POPULATIONS, &k))
                .and_then(|g| g.attr(schema::ATTR_NAME))
                .and_then(|a| a.read_scalar::<VarLenUnicode>())
                .map_or_else(|_| format!("population {k}"), |s| s.as_str().to_string()),
        );
    }
    (r, names, labels)
}

/// Reads every point of the sweep in `dir`.
pub fn collect(dir: &Path) -> AppResult<Summary> {
    let manifest = Manifest::load(dir)?;
    let mut points = Vec::with_capacity(manifest.len());
    let (mut populations, mut axis_labels) = (Vec::new(), Vec::new());
    for i in 0..manifest.len() {
        let (r, names, labels) = read_point(dir, i);
        if names.len() > populations.len() {
            populations = names;
        }
        if labels.len() > axis_labels.len() {
            axis_labels = labels;
        }
        points.push(r);
    }
    let min_gamma = (0..manifest.len())
        .filter(|&i| manifest.point[i].invalid.is_none())
        .find_map(|i| {
            let o = manifest
                .all_overrides(i)
                .iter()
                .map(|s| crate::overrides::Override::parse(s))
                .collect::<AppResult<Vec<_>>>()
                .ok()?;
            Scenario::load(&manifest.scenario, &o).ok()?.min_gamma
        });
    Ok(Summary {
        manifest,
        points,
        populations,
        axis_labels,
        min_gamma,
    })
}

/// Runs `tufield sweep gather DIR`: summary.nc, summary.csv and the figures of `plot`.
pub fn gather(dir: &Path, plot: &[String], quiet: bool) -> AppResult<Vec<PathBuf>> {
    for q in plot {
        if !QUANTITIES.contains(&q.as_str()) {
            return Err(AppError::invalid(
                "--plot",
                q,
                format!("unknown quantity; allowed: {}", QUANTITIES.join(", ")),
            ));
        }
    }
    let sum = collect(dir)?;
    let mut written = vec![write_netcdf(dir, &sum)?, write_csv(dir, &sum)?];
    for q in plot {
        if let Some(p) = figures::quantity(dir, &sum, q)? {
            written.push(p);
        }
    }
    if !quiet {
        let count = |s: State| sum.points.iter().filter(|p| p.state == s).count();
        println!(
            "{}: {} point(s): {} done, {} failed, {} invalid, {} interrupted, {} pending",
            dir.display(),
            sum.points.len(),
            count(State::Done),
            count(State::Failed),
            count(State::Invalid),
            count(State::Interrupted),
            count(State::Pending)
        );
        for p in &written {
            println!("  wrote {}", p.display());
        }
    }
    Ok(written)
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
        self.w.str_attr(&ds, schema::ATTR_LONG_NAME, long_name)?;
        if let Some(u) = units {
            self.w.str_attr(&ds, schema::ATTR_UNITS, u)?;
        }
        Ok(ds)
    }
}

/// A per-point f64 variable: name, accessor, long_name, units.
type FloatVariable = (
    &'static str,
    fn(&PointResult) -> f64,
    &'static str,
    Option<&'static str>,
);

/// Writes `DIR/summary.nc` (layout in the module documentation).
pub fn write_netcdf(dir: &Path, sum: &Summary) -> AppResult<PathBuf> {
    let m = &sum.manifest;
    let dest = dir.join("summary.nc");
    let base_text = std::fs::read_to_string(&m.scenario).unwrap_or_default();
    let w = AtomicH5::create(&dest, &base_text)?;
    let nc = Nc {
        w: &w,
        path: dest.clone(),
    };
    let root = w.root()?.clone();
    // `Conventions` and the generic `title`, `source`, `history` come with every file of
    // the output layer; a summary says what it summarises instead.
    for name in ["title", "source", "history"] {
        root.delete_attr(name)
            .map_err(|e| AppError::hdf5(&dest, format!("replacing attribute {name}"), e))?;
    }
    w.str_attr(
        &root,
        "title",
        &format!(
            "tufield parameter sweep of {} over {}",
            m.scenario.display(),
            m.axis
                .iter()
                .map(|a| a.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )?;
    w.str_attr(
        &root,
        "source",
        &format!("tufield {} (sweep gather)", env!("CARGO_PKG_VERSION")),
    )?;
    w.str_attr(
        &root,
        "history",
        &format!("{} tufield sweep gather {}", timestamp(), dir.display()),
    )?;
    w.str_list_attr(&root, "sweep_set", &m.set)?;
    w.scalar_attr(&root, "points", m.len() as u64)?;
    if let Some(g) = sum.min_gamma {
        w.scalar_attr(&root, "condition_17_min_gamma", g)?;
    }

    // The sweep dimensions and their coordinate variables.
    let shape = m.shape();
    let mut scales: Vec<Dataset> = Vec::new();
    let mut dim_names: Vec<String> = Vec::new();
    let coord_values = |j: usize| -> Vec<f64> {
        let a = m.axis[j].axis();
        a.numbers()
            .unwrap_or_else(|| (0..a.values.len()).map(|i| i as f64).collect())
    };
    let describe = |ds: &Dataset, j: usize| -> AppResult<()> {
        let a = &m.axis[j];
        w.str_attr(ds, schema::ATTR_LONG_NAME, &a.key)?;
        let texts: Vec<String> = a.values.iter().map(super::axes::value_text).collect();
        w.str_list_attr(ds, "values", &texts)?;
        if a.axis().numbers().is_none() {
            w.str_attr(
                ds,
                "comment",
                "non-numeric values: the coordinate is the index into `values`",
            )?;
        }
        Ok(())
    };
    let mut aux = Vec::new();
    if m.zip {
        let idx: Vec<i32> = (0..m.len() as i32).collect();
        let ds = w.array(&root, "point", &ndarray::Array1::from(idx))?;
        mark_scale(&w, &ds, "point")?;
        w.str_attr(&ds, schema::ATTR_LONG_NAME, "sweep point index")?;
        scales.push(ds);
        dim_names.push("point".to_string());
        for (j, a) in m.axis.iter().enumerate() {
            let per_point: Vec<f64> = m
                .point
                .iter()
                .map(|p| coord_values(j)[p.coords[j]])
                .collect();
            let c = w.array(&root, &a.name, &ndarray::Array1::from(per_point))?;
            w.attach_scale(&c, &scales[0], 0)?;
            describe(&c, j)?;
            aux.push(a.name.clone());
        }
    } else {
        for (j, a) in m.axis.iter().enumerate() {
            let ds = w.array(&root, &a.name, &ndarray::Array1::from(coord_values(j)))?;
            describe(&ds, j)?;
            scales.push(ds);
            dim_names.push(a.name.clone());
        }
        // Marked here so that every axis is a dimension before anything is attached.
        for (ds, n) in scales.iter().zip(&dim_names) {
            mark_scale(&w, ds, n)?;
        }
    }
    let p = sum.populations.len();
    let d = sum.axis_labels.len();
    let pop_scale = (p > 0)
        .then(|| -> AppResult<Dataset> {
            let ds = w.array(
                &root,
                "population",
                &ndarray::Array1::from((0..p as i32).collect::<Vec<_>>()),
            )?;
            mark_scale(&w, &ds, "population")?;
            w.str_attr(&ds, schema::ATTR_LONG_NAME, "population index (0-based)")?;
            w.str_list_attr(&ds, "names", &sum.populations)?;
            Ok(ds)
        })
        .transpose()?;
    let axis_scale = (d > 0)
        .then(|| -> AppResult<Dataset> {
            let ds = w.array(
                &root,
                "model_axis",
                &ndarray::Array1::from((0..d as i32).collect::<Vec<_>>()),
            )?;
            mark_scale(&w, &ds, "model_axis")?;
            w.str_attr(
                &ds,
                schema::ATTR_LONG_NAME,
                "axis of the model (coalition excess)",
            )?;
            w.str_list_attr(&ds, "labels", &sum.axis_labels)?;
            Ok(ds)
        })
        .transpose()?;

    let dims: Vec<&Dataset> = scales.iter().collect();
    let coordinates = aux.join(" ");
    let pts = &sum.points;
    let add_coords = |ds: &Dataset| -> AppResult<()> {
        if !coordinates.is_empty() {
            w.str_attr(ds, "coordinates", &coordinates)?;
        }
        Ok(())
    };

    let status = nc.variable(
        "status",
        &grid(&shape, &[], pts.iter().map(|r| r.state.code()).collect()),
        &dims,
        &dim_names,
        "status of the point",
        None,
    )?;
    let codes: Vec<i8> = State::ALL.iter().map(|s| s.code()).collect();
    nc.array_attr(&status, "flag_values", &codes)?;
    let meanings: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
    w.str_attr(&status, "flag_meanings", &meanings.join(" "))?;
    add_coords(&status)?;

    let ints: [(&str, Vec<i64>, &str); 2] = [
        (
            "exit_code",
            pts.iter().map(|r| i64::from(r.exit_code)).collect(),
            "exit code of tufield solve (-1: none)",
        ),
        (
            "iterations",
            pts.iter().map(|r| r.iterations).collect(),
            "fixed-point iterations (-1: no result)",
        ),
    ];
    for (name, v, long) in ints {
        let ds = if name == "exit_code" {
            let v32: Vec<i32> = v.iter().map(|&x| x as i32).collect();
            nc.variable(name, &grid(&shape, &[], v32), &dims, &dim_names, long, None)?
        } else {
            nc.variable(name, &grid(&shape, &[], v), &dims, &dim_names, long, None)?
        };
        add_coords(&ds)?;
    }
    let floats: [FloatVariable; 4] = [
        (
            "residual",
            |r| r.residual,
            "last fixed-point residual (scaled sup-norm)",
            Some("1"),
        ),
        (
            "wall_time",
            |r| r.wall_s,
            "wall time of the solve",
            Some("s"),
        ),
        (
            "mass_error",
            |r| r.mass_error,
            "largest |mass - 1|",
            Some("1"),
        ),
        (
            "lq_mean_distance",
            |r| r.lq_mean_distance,
            "max |mean_PDE - mean_exact_LQ| over populations, times and axes",
            None,
        ),
    ];
    for (name, f, long, units) in floats {
        let ds = nc.variable(
            name,
            &grid(&shape, &[], pts.iter().map(f).collect()),
            &dims,
            &dim_names,
            long,
            units,
        )?;
        add_coords(&ds)?;
    }
    if let (Some(ps), Some(xs)) = (&pop_scale, &axis_scale) {
        let mut v = Vec::with_capacity(pts.len() * p * d);
        for r in pts {
            for k in 0..p {
                for i in 0..d {
                    v.push(
                        r.means
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
        names.push("population".into());
        names.push("model_axis".into());
        let ds = nc.variable(
            "final_mean",
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
        for r in pts {
            for k in 0..p {
                v.push(r.costs.get(k).copied().unwrap_or(f64::NAN));
            }
        }
        let mut all = dims.clone();
        all.push(ps);
        let mut names = dim_names.clone();
        names.push("population".into());
        let ds = nc.variable(
            "expected_cost",
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

#[link(name = "hdf5_hl")]
extern "C" {
    fn H5DSset_scale(dsid: hdf5_sys::h5i::hid_t, dimname: *const c_char) -> hdf5_sys::h5::herr_t;
}

/// Makes `ds` a dimension scale named `name` (a netCDF dimension with its coordinate
/// variable), also when nothing is attached to it yet.
fn mark_scale(w: &AtomicH5, ds: &Dataset, name: &str) -> AppResult<()> {
    let cname = CString::new(name).map_err(|_| AppError::Io {
        path: w.dest().display().to_string(),
        message: format!("dimension name {name:?} contains a NUL byte"),
    })?;
    // SAFETY: `ds` is an open dataset for the duration of the call and `cname` a valid C
    // string; the HDF5 library is serialised by `hdf5::sync::sync`.
    let status = hdf5::sync::sync(|| unsafe { H5DSset_scale(ds.id(), cname.as_ptr()) });
    if status < 0 {
        return Err(AppError::Io {
            path: w.dest().display().to_string(),
            message: format!("cannot make {name} a dimension scale"),
        });
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

/// Writes `DIR/summary.csv`: one row per point; numbers in shortest round-trip form, so
/// equal text means equal bits; empty = no value.
pub fn write_csv(dir: &Path, sum: &Summary) -> AppResult<PathBuf> {
    let m = &sum.manifest;
    let mut header: Vec<String> = vec!["index".into()];
    header.extend(m.axis.iter().map(|a| csv_field(&a.key)));
    for h in [
        "status",
        "exit_code",
        "iterations",
        "residual",
        "wall_time_s",
        "mass_error",
        "lq_mean_distance",
    ] {
        header.push(h.into());
    }
    for name in &sum.populations {
        for label in &sum.axis_labels {
            header.push(csv_field(&format!("final_mean[{name}][{label}]")));
        }
    }
    for name in &sum.populations {
        header.push(csv_field(&format!("expected_cost[{name}]")));
    }
    header.push("message".into());
    let mut text = header.join(",") + "\n";
    for (i, r) in sum.points.iter().enumerate() {
        let mut row: Vec<String> = vec![i.to_string()];
        for (j, a) in m.axis.iter().enumerate() {
            row.push(csv_field(&super::axes::value_text(
                &a.values[m.point[i].coords[j]],
            )));
        }
        row.push(r.state.as_str().into());
        row.push(if r.exit_code < 0 {
            String::new()
        } else {
            r.exit_code.to_string()
        });
        row.push(if r.iterations < 0 {
            String::new()
        } else {
            r.iterations.to_string()
        });
        for v in [r.residual, r.wall_s, r.mass_error, r.lq_mean_distance] {
            row.push(num(v));
        }
        for k in 0..sum.populations.len() {
            for ax in 0..sum.axis_labels.len() {
                row.push(num(r
                    .means
                    .get(k)
                    .and_then(|m| m.get(ax))
                    .copied()
                    .unwrap_or(f64::NAN)));
            }
        }
        for k in 0..sum.populations.len() {
            row.push(num(r.costs.get(k).copied().unwrap_or(f64::NAN)));
        }
        row.push(csv_field(&r.message));
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let dest = dir.join("summary.csv");
    super::manifest::write_atomic(&dest, &text)?;
    Ok(dest)
}
