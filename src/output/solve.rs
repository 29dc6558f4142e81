//! The file of a projected `tufield solve` (written for [`crate::run::solve()`]): every
//! dataset but the error estimate's by [`begin_write`], which the driver calls while the
//! estimate is computed; [`finish_write`] adds the estimate ([`super::estimate`]), commits
//! the file and writes its XDMF sidecar ([`super::xdmf`]).
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index, `<i>` the
//! 0-based axis; the full description, with the netCDF dimensions, the quantities and the
//! XDMF sidecar, is docs/output-files.md):
//!
//! ```text
//! /                      attrs tufield_version, scenario (TOML after overrides), name,
//!                              command = "solve", axis_labels, status, iterations,
//!                              threads, residual, tol, mass_error, lq_mean_distance,
//!                              boundary_mass, steps, core_penalty (κ),
//!                              allocation_bound (ū), disturbance_bound (w̄) (∞ when
//!                              unbounded), lq_note (what lq_mean_distance means: an
//!                              error for LQ models, the distance to the LQ
//!                              approximation when κ > 0 or with bounds)
//! /time                  (steps+1)          dimension scale "time"
//! /snapshot_time         (snapshots)        dimension scale "snapshot_time"
//! /snapshot_level        (snapshots) u64    time level of each snapshot
//! /x<i>                  (n_i)              coordinate variable of grid axis i
//! /grid/x<i>             (n_i)              the same nodes; attrs label, lo, hi, spacing
//! /populations/<k>       attrs name, initial_kind (gaussian | mixture | uniform | file),
//!                              normalisation (factor applied to reach mass 1)
//!     mean, target       (steps+1, d)       m̄_k(t_n) and ρ_k(t_n) of the last evaluation
//!     cov                (steps+1, d, d)    covariance of m_k
//!     mass, boundary_mass (steps+1)
//!     density, value     (snapshots, n_0[, n_1[, n_2]]) chunked per snapshot;
//!                        scales snapshot_time and x<i>; rounded to [output]
//!                        significant_bits (attribute
//!                        _QuantizeBitRoundNumberOfSignificantBits)
//!     core_fraction (snapshots), expected_cost, expected_cost_lq, and the drift
//!     fields allocation_drift, disturbance_drift unless [output] feedback_fields =
//!     false ([`super::quantities`])
//! /fixed_point           attrs outcome, tol, acceleration, damping
//!     residual, damping, wall_s (iterations) f64; accelerated (iterations) u8
//! /model, /lq/...        as written by `tufield lq` (same time levels,
//!                        crate::output::oracle)
//! ```

use super::{estimate, layout, oracle as lq_output, quantities, schema, xdmf, WriteTimes};
use crate::h5::AtomicH5;
use crate::oracle::LqResults;
use crate::run::estimate::SnapshotErrors;
use crate::run::SolveReport;
use crate::scenario::Scenario;
use crate::AppResult;
use ndarray::{Array1, CowArray};
use std::path::Path;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::FixedPoint;
use tufield_solvers::grid::Grid;

/// A solve file being written: everything but the error estimate is in it.
pub struct OpenOutput {
    w: AtomicH5,
    axes: layout::TimeAxes,
    coords: Vec<hdf5::Dataset>,
    grid: xdmf::UniformGrid,
    snapshot_times: Vec<f64>,
    times: WriteTimes,
    /// The error estimate's snapshot fields, written as the estimate forms them.
    estimate_fields: Option<estimate::EstimateFields>,
}

impl OpenOutput {
    /// Writes the error estimate's snapshot fields as they arrive on `fields` until the
    /// estimate is done (the sender dropped); [`finish_write`] completes them.
    pub fn receive_estimate(
        &mut self,
        fields: std::sync::mpsc::Receiver<SnapshotErrors>,
        sc: &Scenario,
    ) -> AppResult<()> {
        let layout = estimate::FieldsLayout {
            populations: sc.model.populations.len(),
            snapshots: self.snapshot_times.len(),
            frame: &self.grid.shape,
            order: sc.settings.scheme.order(),
        };
        self.estimate_fields = estimate::stream(&self.w, fields, layout, &sc.output)?;
        self.times
            .lap("error estimate fields, as the estimate forms them");
        Ok(())
    }
}

/// Starts writing the results atomically (layout in the module docs): every dataset but
/// the error estimate's; [`finish_write`] adds those and commits.
#[allow(clippy::too_many_arguments)]
pub fn begin_write(
    out: &Path,
    sc: &Scenario,
    grid: &Grid,
    map: &MeanFieldMap,
    fp: &FixedPoint,
    oracle: &LqResults,
    report: &SolveReport,
    normalisation: &[f64],
) -> AppResult<OpenOutput> {
    let mut times = WriteTimes::start();
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    w.set_significant_bits(sc.output.quantization());
    let root = w.root()?.clone();
    let hist = &fp.state().history;
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SOLVE)?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    crate::paper::claims::write_attributes(&w, &root, sc, None)?;
    write_run_attributes(&w, &root, sc, report, hist.len())?;
    w.str_attr(&root, schema::ATTR_LQ_NOTE, &lq_output::lq_note(sc))?;
    w.scalar_attr(&root, schema::ATTR_CORE_PENALTY, sc.model.core_penalty)?;
    w.scalar_attr(
        &root,
        schema::ATTR_ALLOCATION_BOUND,
        sc.bounds.allocation.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(
        &root,
        schema::ATTR_DISTURBANCE_BOUND,
        sc.bounds.disturbance.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(&root, schema::ATTR_BOUNDARY_MASS, report.boundary_mass)?;
    w.scalar_attr(&root, schema::ATTR_STEPS, sc.settings.steps as u64)?;
    w.str_attr(&root, schema::ATTR_SCHEME, sc.settings.scheme.name())?;

    let axes_t = layout::time_axes(&w, &oracle.exact.time, map.snapshot_levels())?;
    let time = axes_t.time.clone();
    let coords = layout::grid(&w, grid, &sc.model.axis_labels)?;
    times.lap("file, attributes and axes");

    w.group(schema::POPULATIONS)?;
    for (k, (res, spec)) in map.results().iter().zip(&sc.model.populations).enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        w.str_attr(&pg, schema::ATTR_INITIAL_KIND, sc.initial[k].kind())?;
        w.scalar_attr(&pg, schema::ATTR_NORMALISATION, normalisation[k])?;
        if let Some(neg) = &res.negative_density {
            w.scalar_attr(&pg, schema::ATTR_NEGATIVE_DENSITY_MIN, neg.min_value)?;
            w.scalar_attr(&pg, schema::ATTR_NEGATIVE_DENSITY_LEVEL, neg.level as u64)?;
            let at: Vec<String> = neg.point.iter().map(|x| format!("{x:e}")).collect();
            w.str_list_attr(&pg, schema::ATTR_NEGATIVE_DENSITY_POINT, &at)?;
            w.scalar_attr(&pg, schema::ATTR_NEGATIVE_MASS, neg.negative_mass)?;
        }
        for (name, data) in [(schema::MEAN, &res.fpk.mean), (schema::TARGET, &res.target)] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        let cov = w.array(&pg, schema::COV, &res.fpk.cov)?;
        layout::over_time(&w, &cov, &time)?;
        for (name, data) in [
            (schema::MASS, &res.fpk.mass),
            (schema::BOUNDARY_MASS, &res.fpk.boundary_mass),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        times.lap("mean paths");
        let n = res.value.len();
        let mut writers = [
            w.quantized_snapshots(&pg, schema::DENSITY, n, grid.shape())?,
            w.quantized_snapshots(&pg, schema::VALUE, n, grid.shape())?,
        ];
        crate::h5::push_together(&mut writers, n, |s| {
            Ok(vec![
                CowArray::from(res.density[s].view()),
                CowArray::from(res.value[s].view()),
            ])
        })?;
        for sw in &writers {
            layout::over_snapshots(
                &w,
                sw.dataset(),
                &axes_t.snapshot,
                &coords,
                &sc.model.axis_labels,
            )?;
        }
        times.lap("density and value");
        quantities::write(
            &w,
            sc,
            grid,
            res,
            &axes_t,
            &coords,
            &oracle.exact,
            k,
            &mut times,
        )?;
    }

    let fpg = w.group(schema::FIXED_POINT)?;
    w.str_attr(&fpg, schema::ATTR_OUTCOME, report.outcome.as_str())?;
    w.scalar_attr(&fpg, schema::ATTR_TOL, sc.settings.tol)?;
    w.scalar_attr(&fpg, schema::ATTR_DAMPING, sc.settings.damping)?;
    w.str_attr(
        &fpg,
        schema::ATTR_ACCELERATION,
        &sc.settings.acceleration_name(),
    )?;
    let col = |f: fn(&tufield_solvers::fixed_point::IterationRecord) -> f64| -> Array1<f64> {
        hist.iter().map(f).collect()
    };
    for (name, data) in [
        (schema::HISTORY_RESIDUAL, col(|r| r.residual)),
        (schema::HISTORY_DAMPING, col(|r| r.damping)),
        (schema::HISTORY_WALL_S, col(|r| r.wall_s)),
    ] {
        let ds = w.array(&fpg, name, &data)?;
        w.dims(&ds, &[schema::DIM_ITERATION])?;
    }
    let acc: Array1<u8> = hist.iter().map(|r| u8::from(r.accelerated)).collect();
    let ds = w.array(&fpg, schema::HISTORY_ACCELERATED, &acc)?;
    w.dims(&ds, &[schema::DIM_ITERATION])?;
    times.lap("file, attributes and axes");

    lq_output::write_groups(&w, sc, oracle, &time)?;
    times.lap("lq oracle");
    let snapshot_times: Vec<f64> = map
        .snapshot_levels()
        .iter()
        .map(|&l| oracle.exact.time[l])
        .collect();
    let grid = xdmf::UniformGrid {
        origin: grid.axes().iter().map(|a| a.lo()).collect(),
        spacing: grid.axes().iter().map(|a| a.spacing()).collect(),
        shape: grid.shape().to_vec(),
    };
    Ok(OpenOutput {
        w,
        axes: axes_t,
        coords,
        grid,
        snapshot_times,
        times,
        estimate_fields: None,
    })
}

/// Root attributes of every solve file (projected and modal) that describe its run: the
/// outcome, the fixed-point `iterations`, the worker threads, the last residual and the
/// tolerance, the largest mass error and the distance of the means to the exact LQ means.
pub(crate) fn write_run_attributes(
    w: &AtomicH5,
    root: &hdf5::Group,
    sc: &Scenario,
    report: &SolveReport,
    iterations: usize,
) -> AppResult<()> {
    w.str_attr(root, schema::ATTR_STATUS, report.outcome.as_str())?;
    w.scalar_attr(root, schema::ATTR_ITERATIONS, iterations as u64)?;
    w.scalar_attr(
        root,
        schema::ATTR_THREADS,
        rayon::current_num_threads() as u64,
    )?;
    w.scalar_attr(root, schema::ATTR_RESIDUAL, report.residual)?;
    w.scalar_attr(root, schema::ATTR_TOL, sc.settings.tol)?;
    w.scalar_attr(root, schema::ATTR_MASS_ERROR, report.mass_error)?;
    w.scalar_attr(root, schema::ATTR_LQ_MEAN_DISTANCE, report.lq_mean_distance)?;
    Ok(())
}

/// Adds the error estimate of `report` to the open file, commits it and writes the XDMF
/// sidecar; returns the time of every phase of the write.
pub fn finish_write(
    open: OpenOutput,
    sc: &Scenario,
    report: &SolveReport,
) -> AppResult<WriteTimes> {
    let OpenOutput {
        w,
        axes,
        coords,
        grid,
        snapshot_times,
        mut times,
        estimate_fields,
    } = open;
    times.lap("waiting for the error estimate");
    if let Some(Ok(est)) = &report.error_estimate {
        let labels = &sc.model.axis_labels;
        estimate::write(&w, est, estimate_fields, &axes, &coords, labels)?;
    }
    times.lap("error estimate");
    drop((axes, coords));
    let out = w.commit()?;
    times.lap("commit (netCDF dimensions, close, rename)");
    let collections: Vec<xdmf::Collection> = sc
        .model
        .populations
        .iter()
        .enumerate()
        .map(|(k, spec)| xdmf::Collection {
            name: format!("population {k} ({})", spec.name),
            grid: grid.clone(),
            fields: xdmf_fields(sc, k),
        })
        .collect();
    xdmf::write(&out, &snapshot_times, &collections)?;
    times.lap("XDMF sidecar");
    Ok(times)
}

/// The fields of population `k` in the XDMF sidecar: density, value and, when written,
/// every component of the drift fields.
fn xdmf_fields(sc: &Scenario, k: usize) -> Vec<xdmf::Field> {
    let path = |f: &str| format!("/{}", schema::population_dataset(k, f));
    let mut fields: Vec<xdmf::Field> = [schema::DENSITY, schema::VALUE]
        .iter()
        .map(|f| xdmf::Field::scalar(f, path(f)))
        .collect();
    if sc.output.feedback_fields {
        for f in [schema::ALLOCATION_DRIFT, schema::DISTURBANCE_DRIFT] {
            fields.extend(xdmf::Field::components(f, &path(f), sc.dim()));
        }
    }
    fields
}
