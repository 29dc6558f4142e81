//! The file of a modal `tufield solve` (`reduction = "modal"`, solved mode by mode by
//! [`crate::run::solve()`]). It has the root attributes of a projected solve file
//! ([`super::solve`]; axis_labels = the q coalitions, plus `reduction = "modal"` and
//! `modes`; `iterations` is the total over modes, `residual` the largest last residual),
//! `/time`, `/snapshot_time`, `/snapshot_level`, `/model` and `/lq` as there, and instead of
//! `/grid`, `/populations/<k>/{density, …}` and `/fixed_point`:
//!
//! ```text
//! /populations/<k>       attr name
//!     mean, target       (steps+1, q)       m̄_k = U ȳ_k and ρ_k in coalition coordinates
//! /modes                 attrs count; eigenvalues (q) λ_i, eigenvectors (q, q) U
//!                        (column i = mode i in coalition coordinates), q, s (q) the
//!                        mode cost weights (UᵀQU)_ii, (UᵀSU)_ii
//! /modes/<i>             attrs eigenvalue, q, s, outcome, iterations, residual,
//!                              mass_error
//!     grid               (n)                the mode's 1-D grid, dimension scale;
//!                                           attrs label, lo, hi, spacing
//!     populations/<k>    attr name
//!         mean, target, variance, mass, boundary_mass (steps+1)
//!         density, value (snapshots, n)     scales snapshot_time and grid
//!     fixed_point/residual, damping, wall_s (iterations) f64; accelerated u8
//! ```

use crate::h5::AtomicH5;
use crate::oracle::LqResults;
use crate::output::{layout, schema, xdmf};
use crate::run::SolveReport;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::Array1;
use std::path::Path;
use tufield_solvers::equilibrium::snapshot_levels;
use tufield_solvers::fixed_point::IterationRecord;
use tufield_solvers::modal::ModalSolution;

/// Writes the modal results atomically (layout in the module docs).
pub fn write(
    out: &Path,
    sc: &Scenario,
    sol: &ModalSolution,
    oracle: &LqResults,
    report: &SolveReport,
) -> AppResult<()> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    w.set_significant_bits(sc.output.quantization());
    let root = w.root()?.clone();
    let dec = &sol.decomposition;
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SOLVE)?;
    w.str_attr(&root, schema::ATTR_REDUCTION, schema::REDUCTION_MODAL)?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    crate::paper::claims::write_attributes(&w, &root, sc, None)?;
    super::solve::write_run_attributes(&w, &root, sc, report, report.iterations)?;
    w.scalar_attr(&root, schema::MODES, dec.num_modes() as u64)?;
    w.scalar_attr(&root, schema::ATTR_BOUNDARY_MASS, report.boundary_mass)?;
    w.scalar_attr(&root, schema::ATTR_STEPS, sc.settings.steps as u64)?;

    let levels = snapshot_levels(sc.settings.steps, sc.settings.snapshot_every());
    let axes_t = layout::time_axes(&w, &oracle.exact.time, &levels)?;
    let time = axes_t.time.clone();
    let snap = axes_t.snapshot.clone();

    let (Some(means), Some(targets)) = (sol.means.as_ref(), sol.targets.as_ref()) else {
        return Err(AppError::Io {
            path: out.display().to_string(),
            message: "no mean paths to write: a mode has no results".to_string(),
        });
    };
    w.group(schema::POPULATIONS)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        for (name, data) in [(schema::MEAN, &means[k]), (schema::TARGET, &targets[k])] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
    }

    let mg = w.group(schema::MODES)?;
    w.scalar_attr(&mg, schema::ATTR_COUNT, dec.num_modes() as u64)?;
    w.str_attr(
        &mg,
        schema::ATTR_NOTE,
        "exact modal decomposition: x = U y, mode i is a 1-D equilibrium with a = λ_i, \
         q = (UᵀQU)_ii, s = (UᵀSU)_ii (docs/design.md §2)",
    )?;
    for (name, data) in [
        (schema::EIGENVALUES, dec.eigenvalues()),
        (schema::MODE_Q, dec.q_diagonal()),
        (schema::MODE_S, dec.s_diagonal()),
    ] {
        let ds = w.array(&mg, name, data)?;
        w.dims(&ds, &[schema::DIM_MODE])?;
    }
    let ev = w.array(&mg, schema::EIGENVECTORS, dec.eigenvectors())?;
    w.dims(&ev, &[schema::DIM_AXIS, schema::DIM_MODE])?;
    for (i, m) in sol.modes.iter().enumerate() {
        let g = w.group(&schema::mode(i))?;
        w.scalar_attr(&g, schema::ATTR_EIGENVALUE, dec.eigenvalues()[i])?;
        w.scalar_attr(&g, schema::MODE_Q, dec.q_diagonal()[i])?;
        w.scalar_attr(&g, schema::MODE_S, dec.s_diagonal()[i])?;
        w.str_attr(&g, schema::ATTR_OUTCOME, m.outcome.as_str())?;
        w.scalar_attr(&g, schema::ATTR_ITERATIONS, m.history.len() as u64)?;
        w.scalar_attr(&g, schema::ATTR_RESIDUAL, m.residual())?;
        w.scalar_attr(&g, schema::ATTR_MASS_ERROR, m.mass_error)?;
        let label = &m.model.axis_labels[0];
        let ax = m.grid.axis(0);
        let gds = w.coordinate(
            &g,
            schema::GRID,
            &ax.nodes(),
            &format!("mode {i} coordinate y_{i}"),
            Some(schema::DIMENSIONLESS),
        )?;
        w.str_attr(&gds, schema::ATTR_LABEL, label)?;
        w.scalar_attr(&gds, schema::ATTR_LO, ax.lo())?;
        w.scalar_attr(&gds, schema::ATTR_HI, ax.hi())?;
        w.scalar_attr(&gds, schema::ATTR_SPACING, ax.spacing())?;
        for (k, (res, spec)) in m.populations.iter().zip(&sc.model.populations).enumerate() {
            let pg = w.group(&schema::population_in(&schema::mode(i), k))?;
            w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
            let variance: Array1<f64> = res.fpk.cov.outer_iter().map(|c| c[[0, 0]]).collect();
            let mean = res.fpk.mean.column(0).to_owned();
            let target = res.target.column(0).to_owned();
            for (name, data) in [
                (schema::MEAN, &mean),
                (schema::TARGET, &target),
                (schema::VARIANCE, &variance),
                (schema::MASS, &res.fpk.mass),
                (schema::BOUNDARY_MASS, &res.fpk.boundary_mass),
            ] {
                let ds = w.array(&pg, name, data)?;
                layout::over_time(&w, &ds, &time)?;
            }
            for (name, frames) in [(schema::DENSITY, &res.density), (schema::VALUE, &res.value)] {
                let mut sw = w.quantized_snapshots(&pg, name, frames.len(), m.grid.shape())?;
                sw.push_all(frames)?;
                let ds = sw.dataset().clone();
                layout::over_snapshots(
                    &w,
                    &ds,
                    &snap,
                    std::slice::from_ref(&gds),
                    std::slice::from_ref(label),
                )?;
            }
        }
        let fpg = w.group(&schema::member(&schema::mode(i), schema::FIXED_POINT))?;
        let col =
            |f: fn(&IterationRecord) -> f64| -> Array1<f64> { m.history.iter().map(f).collect() };
        for (name, data) in [
            (schema::HISTORY_RESIDUAL, col(|r| r.residual)),
            (schema::HISTORY_DAMPING, col(|r| r.damping)),
            (schema::HISTORY_WALL_S, col(|r| r.wall_s)),
        ] {
            let ds = w.array(&fpg, name, &data)?;
            w.dims(&ds, &[schema::DIM_ITERATION])?;
        }
        let acc: Array1<u8> = m.history.iter().map(|r| u8::from(r.accelerated)).collect();
        let ds = w.array(&fpg, schema::HISTORY_ACCELERATED, &acc)?;
        w.dims(&ds, &[schema::DIM_ITERATION])?;
    }

    crate::output::oracle::write_groups(&w, sc, oracle, &time)?;
    w.commit()?;
    let snap_time: Vec<f64> = levels.iter().map(|&l| oracle.exact.time[l]).collect();
    let mut collections = Vec::new();
    for (i, m) in sol.modes.iter().enumerate() {
        let ax = m.grid.axis(0);
        for (k, spec) in sc.model.populations.iter().enumerate() {
            collections.push(xdmf::Collection {
                name: format!("mode {i} population {k} ({})", spec.name),
                grid: xdmf::UniformGrid {
                    origin: vec![ax.lo()],
                    spacing: vec![ax.spacing()],
                    shape: vec![ax.len()],
                },
                fields: [schema::DENSITY, schema::VALUE]
                    .iter()
                    .map(|f| {
                        xdmf::Field::scalar(
                            f,
                            format!("/{}", schema::mode_population_dataset(i, k, f)),
                        )
                    })
                    .collect(),
            });
        }
    }
    xdmf::write(out, &snap_time, &collections)?;
    Ok(())
}
