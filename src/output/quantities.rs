//! The quantities researchers read off a projected solve, written per population on the
//! snapshot times (numerics in [`tufield_solvers::diagnostics`]):
//!
//! ```text
//! /populations/<k>/allocation_drift, disturbance_drift
//!                        (snapshots, d, n_0[, n_1[, n_2]]) the designer's and the
//!                        worst-case disturbance's drift ∇H split by player at ∇v(t_s)
//!                        (rounded to 12 significant bits, 24 under the
//!                        second-order scheme, at most value's;
//!                        [output] feedback_fields = false leaves them out)
//!     core_fraction      (snapshots) mass of m_k(t_s) where every excess is ≥ 0
//!     expected_cost      scalar J_k = ∫ v_k(0, x) m_k(0, x) dx
//!     expected_cost_lq   scalar E[½Xᵀφ(0)X + h_k(0)ᵀX + χ_k(0)] under the initial law's
//!                        mean and covariance (the exact LQ value; LQ models only)
//! ```

use crate::h5::AtomicH5;
use crate::output::layout::TimeAxes;
use crate::output::{schema, WriteTimes};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use hdf5::Dataset;
use ndarray::{arr0, Array1, ArrayD, Axis, CowArray};
use rayon::prelude::*;
use tufield_solvers::diagnostics::{core_fraction, expected_cost, feedback_fields};
use tufield_solvers::equilibrium::PopulationResult;
use tufield_solvers::grid::Grid;
use tufield_solvers::lq::LqEquilibrium;

/// Writes the quantities of population `k` into `/populations/<k>`.
#[allow(clippy::too_many_arguments)]
pub(super) fn write(
    w: &AtomicH5,
    sc: &Scenario,
    grid: &Grid,
    res: &PopulationResult,
    axes: &TimeAxes,
    coords: &[Dataset],
    exact: &LqEquilibrium,
    k: usize,
    times: &mut WriteTimes,
) -> AppResult<()> {
    let err = |e| AppError::from_solver(&sc.source_name, "solver", e);
    let pg = w.group(&schema::population(k))?;
    let d = grid.dim();
    if sc.output.feedback_fields {
        let mut frame = vec![d];
        frame.extend_from_slice(grid.shape());
        let n = res.value.len();
        let bits = sc.output.drift_quantization(sc.settings.scheme.order());
        let alloc = w.rounded_snapshots(&pg, schema::ALLOCATION_DRIFT, n, &frame, bits)?;
        let dist = w.rounded_snapshots(&pg, schema::DISTURBANCE_DRIFT, n, &frame, bits)?;
        // Each snapshot's fields computed and encoded by one task, a few snapshots at a
        // time (the fields of all snapshots would take 2·d times the memory of the values).
        let mut writers = [alloc, dist];
        /// Nodes whose drifts are computed at a time (a few hundred KiB).
        const DRIFT_BLOCK: usize = 4096;
        let encoders: Option<Vec<crate::h5::ChunkEncoder>> =
            writers.iter().map(|w| w.encoder()).collect();
        match encoders {
            // Filtered: the drifts of a block of nodes at a time go straight into the
            // chunks' shuffled bytes (no field of the snapshot is held whole).
            Some(enc) => crate::h5::push_encoded_together(&mut writers, n, |s| {
                let drifts = tufield_solvers::diagnostics::FeedbackDrifts::new(
                    &sc.model,
                    grid,
                    res.value[s].view(),
                )
                .map_err(err)?;
                let len = drifts.len();
                let (mut al, mut di) = (enc[0].chunk(), enc[1].chunk());
                let mut a = vec![0.0; d * DRIFT_BLOCK];
                let mut b = vec![0.0; d * DRIFT_BLOCK];
                for first in (0..len).step_by(DRIFT_BLOCK) {
                    let m = DRIFT_BLOCK.min(len - first);
                    drifts.fill(first, &mut a[..d * m], &mut b[..d * m]);
                    for i in 0..d {
                        al.put(i * len + first, &a[i * m..(i + 1) * m]);
                        di.put(i * len + first, &b[i * m..(i + 1) * m]);
                    }
                }
                Ok(vec![enc[0].finish(al), enc[1].finish(di)])
            })?,
            None => crate::h5::push_together(&mut writers, n, |s| {
                let f = feedback_fields(&sc.model, grid, res.value[s].view()).map_err(err)?;
                Ok(vec![
                    CowArray::from(f.allocation),
                    CowArray::from(f.disturbance),
                ])
            })?,
        }
        let [alloc, dist] = writers;
        times.lap("drift fields");
        for (sw, long) in [
            (
                &alloc,
                "the designer's allocation drift (designer channels of ∇H(∇v))",
            ),
            (
                &dist,
                "the worst-case disturbance drift (disturbance channels of ∇H(∇v))",
            ),
        ] {
            let ds = sw.dataset().clone();
            w.attach_scale(&ds, &axes.snapshot, 0)?;
            for (i, c) in coords.iter().enumerate() {
                w.attach_scale(&ds, c, i + 2)?;
            }
            let mut names = vec![schema::SNAPSHOT_TIME, schema::DIM_AXIS];
            names.extend(std::iter::repeat_n(schema::DIM_SCALED, d));
            w.dims(&ds, &names)?;
            w.str_attr(&ds, schema::ATTR_LONG_NAME, long)?;
        }
    }
    let fractions: Vec<f64> = res
        .density
        .par_iter()
        .map(|m| core_fraction(grid, m.view()))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let fractions = Array1::from(fractions);
    let cf = w.array(&pg, schema::CORE_FRACTION, &fractions)?;
    w.attach_scale(&cf, &axes.snapshot, 0)?;
    w.str_attr(
        &cf,
        schema::ATTR_LONG_NAME,
        "fraction of the population in the core (every coalition excess ≥ 0)",
    )?;
    w.str_attr(&cf, schema::ATTR_UNITS, schema::DIMENSIONLESS)?;

    let first = |frames: &[ArrayD<f64>]| frames.first().cloned();
    if let (Some(v0), Some(m0)) = (first(&res.value), first(&res.density)) {
        let j = expected_cost(grid, v0.view(), m0.view()).map_err(err)?;
        let ds = w.array(&pg, schema::EXPECTED_COST, arr0(j).view())?;
        w.str_attr(
            &ds,
            schema::ATTR_LONG_NAME,
            "expected cost J_k = ∫ v_k(0, x) m_k(0, x) dx",
        )?;
    }
    if sc.non_lq_terms().is_none() {
        let phi0 = exact.phi.index_axis(Axis(0), 0);
        let pop = &sc.model.populations[k];
        let lq = &exact.populations[k];
        let h0 = lq.h.row(0);
        let tr: f64 = (0..d).map(|i| phi0.row(i).dot(&pop.cov.column(i))).sum();
        let j = 0.5 * tr + 0.5 * pop.mean.dot(&phi0.dot(&pop.mean)) + h0.dot(&pop.mean) + lq.chi[0];
        let ds = w.array(&pg, schema::EXPECTED_COST_LQ, arr0(j).view())?;
        w.str_attr(
            &ds,
            schema::ATTR_LONG_NAME,
            "exact LQ expected cost E[½Xᵀφ(0)X + h_k(0)ᵀX + χ_k(0)] under the initial mean and covariance",
        )?;
    }
    times.lap("core fraction and costs");
    Ok(())
}
