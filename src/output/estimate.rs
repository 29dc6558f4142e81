//! The error estimate's datasets in the solve file (the estimate is computed by
//! [`crate::run::estimate`]; [`super::solve::finish_write`] calls [`write()`]).
//!
//! Datasets added to the solve file (nothing else changes; the fine datasets are the same
//! bits as without the estimate):
//!
//! ```text
//! /populations/<k>       attrs cost (J_k = Σ v_k(x,0) m_k(x,0) cell on the fine grid),
//!                              cost_error, cost_extrapolated
//!     mean_error, mean_extrapolated      (steps+1, d)       like mean
//!     value_error, value_extrapolated    (snapshots, n_0[, n_1[, n_2]]) like value
//!     density_error                      (snapshots, n_0[, n_1[, n_2]]) like density
//!                                        (chunked by snapshot, shuffle + deflate;
//!                                        *_error rounded to at most 12 significant
//!                                        bits, value_extrapolated to the bits of a
//!                                        scheme one order higher: 32 for the monotone
//!                                        scheme; every bit with significant_bits = "all")
//! /error_estimate        attrs method, coarse_steps, iterations, mean_error_max (largest
//!                              |mean_error|), cost_error_max
//!     coarse_points      (d) u64            points per axis of the coarse grid
//! ```
//!
//! Every `*_error` is signed: the estimate of (fine result − exact solution).

use crate::h5::{AtomicH5, ChunkEncoder, SnapshotWriter};
use crate::output::chunk::Search;
use crate::output::{layout, schema, OutputSettings};
use crate::run::estimate::{ErrorEstimate, SnapshotErrors};
use crate::{AppError, AppResult};
use rayon::prelude::*;
use std::sync::mpsc::Receiver;

/// The estimate's snapshot datasets of every population (`value_error`,
/// `value_extrapolated`, `density_error`), filled by [`stream`] while the estimate forms
/// them and completed by [`write()`].
#[derive(Debug)]
pub struct EstimateFields {
    /// Per population, the three datasets in the order of [`SnapshotErrors`]' fields.
    writers: Vec<[SnapshotWriter; 3]>,
    /// Per population, the three datasets' chunk encoders (`None`: unfiltered datasets).
    encoders: Vec<Option<Vec<ChunkEncoder>>>,
}

/// What [`stream`] needs to create the estimate's snapshot datasets.
#[derive(Debug, Clone, Copy)]
pub struct FieldsLayout<'a> {
    /// Populations of the run.
    pub populations: usize,
    /// Snapshots per population.
    pub snapshots: usize,
    /// Shape of one snapshot (the fine grid's).
    pub frame: &'a [usize],
    /// Order of the scheme (the extrapolated values keep the bits of one order higher).
    pub order: u32,
}

/// Writes the estimate's snapshot fields as they arrive on `fields` (population by
/// population, snapshot by snapshot, as [`crate::run::estimate::compute`] forms them):
/// the datasets are created when the first arrives, and each snapshot's three fields are
/// encoded in parallel and written while the estimate forms the next. `None` when none
/// arrives (no estimate, or the coarse solve did not converge): the file then has none of
/// these datasets.
pub fn stream(
    w: &AtomicH5,
    fields: Receiver<SnapshotErrors>,
    layout: FieldsLayout<'_>,
    output: &OutputSettings,
) -> AppResult<Option<EstimateFields>> {
    let mut open: Option<EstimateFields> = None;
    for errors in fields {
        let all = match &mut open {
            Some(all) => all,
            None => open.insert(create(w, layout, output)?),
        };
        let k = errors.population;
        let (Some(writers), Some(encoders)) = (all.writers.get_mut(k), all.encoders.get(k)) else {
            return Err(AppError::Io {
                path: w.dest().display().to_string(),
                message: format!("error estimate of population {k} not expected"),
            });
        };
        let frames = [
            &errors.value_error,
            &errors.value_extrapolated,
            &errors.density_error,
        ];
        match encoders {
            Some(encoders) => {
                let chunks = frames
                    .par_iter()
                    .zip(encoders)
                    .map(|(f, e)| e.encode(f.view()))
                    .collect::<AppResult<Vec<_>>>()?;
                for (sw, c) in writers.iter_mut().zip(&chunks) {
                    sw.push_encoded(c)?;
                }
                crate::output::chunk::recycle(chunks);
            }
            None => {
                for (sw, f) in writers.iter_mut().zip(frames) {
                    sw.push(f.view())?;
                }
            }
        }
    }
    Ok(open)
}

/// The estimate's three snapshot datasets of every population, empty.
fn create(
    w: &AtomicH5,
    layout: FieldsLayout<'_>,
    output: &OutputSettings,
) -> AppResult<EstimateFields> {
    // Chunked by snapshot and encoded in parallel like value: the errors rounded to few
    // bits, the extrapolated values to the bits of a scheme one order higher.
    let fields = [
        (schema::VALUE_ERROR, output.error_quantization()),
        (
            schema::VALUE_EXTRAPOLATED,
            output.extrapolated_quantization(layout.order),
        ),
        (schema::DENSITY_ERROR, output.error_quantization()),
    ];
    let mut writers = Vec::with_capacity(layout.populations);
    for k in 0..layout.populations {
        let pg = w.group(&schema::population(k))?;
        let [a, b, c] = fields.map(|(name, bits)| {
            let sw = w.rounded_snapshots(&pg, name, layout.snapshots, layout.frame, bits);
            sw.map(|mut sw| {
                if name != schema::VALUE_EXTRAPOLATED {
                    // Errors: runs and noise, stored smaller by runs than by matches.
                    sw.set_search(Search::Runs);
                }
                sw
            })
        });
        writers.push([a?, b?, c?]);
    }
    let encoders = writers
        .iter()
        .map(|ws| ws.iter().map(SnapshotWriter::encoder).collect())
        .collect();
    Ok(EstimateFields { writers, encoders })
}

/// Writes the estimate's datasets into the open solve file (layout in the module docs);
/// the `/populations/<k>` groups exist already, and `fields` holds the snapshot fields
/// [`stream`] wrote (each must have every snapshot).
pub fn write(
    w: &AtomicH5,
    est: &ErrorEstimate,
    fields: Option<EstimateFields>,
    axes: &layout::TimeAxes,
    coords: &[hdf5::Dataset],
    labels: &[String],
) -> AppResult<()> {
    for (k, p) in est.populations.iter().enumerate() {
        let pg = w.group(&schema::population(k))?;
        // Beside the dataset `expected_cost` (the same J_k) of the output layer.
        w.scalar_attr(&pg, schema::ATTR_EXPECTED_COST_ERROR, p.cost_error)?;
        w.scalar_attr(
            &pg,
            schema::ATTR_EXPECTED_COST_EXTRAPOLATED,
            p.cost_extrapolated,
        )?;
        for (name, data) in [
            (schema::MEAN_ERROR, &p.mean_error),
            (schema::MEAN_EXTRAPOLATED, &p.mean_extrapolated),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(w, &ds, &axes.time)?;
        }
    }
    let all = fields.map_or_else(Vec::new, |f| f.writers);
    for sw in all.iter().flatten() {
        if sw.written() != axes.snapshot.size() {
            return Err(AppError::Io {
                path: w.dest().display().to_string(),
                message: format!(
                    "the error estimate's {} has {} of {} snapshots",
                    sw.dataset().name(),
                    sw.written(),
                    axes.snapshot.size()
                ),
            });
        }
        layout::over_snapshots(w, sw.dataset(), &axes.snapshot, coords, labels)?;
    }
    let g = w.group(schema::ERROR_ESTIMATE)?;
    let method = if est.order == 1 {
        "Richardson for a first-order scheme: the equilibrium solved again with half the \
         points per axis (coarse node J = fine node 2J) and half the time steps; \
         *_error = u_2h − u_h (estimate of fine − exact), *_extrapolated = 2u_h − u_2h; \
         the coarse result is interpolated linearly in time and multilinearly in space off \
         the common nodes and levels"
    } else {
        "Richardson for a second-order scheme: the equilibrium solved again with half the \
         points per axis (coarse node J = fine node 2J) and half the time steps; \
         *_error = (u_2h − u_h)/3 (estimate of fine − exact), *_extrapolated = \
         (4u_h − u_2h)/3; the coarse result is interpolated by cubics in space (and in \
         time for the means; linearly for snapshots between coarse levels) off the common \
         nodes and levels"
    };
    w.str_attr(&g, schema::ATTR_METHOD, method)?;
    w.scalar_attr(&g, schema::ATTR_ORDER, est.order as u64)?;
    let pts: ndarray::Array1<u64> = est.coarse_points.iter().map(|&n| n as u64).collect();
    w.array(&g, schema::COARSE_POINTS, &pts)?;
    w.scalar_attr(&g, schema::ATTR_COARSE_STEPS, est.coarse_steps as u64)?;
    w.scalar_attr(&g, schema::ATTR_ITERATIONS, est.iterations as u64)?;
    w.scalar_attr(&g, schema::ATTR_MEAN_ERROR_MAX, est.mean_error_max())?;
    w.scalar_attr(&g, schema::ATTR_COST_ERROR_MAX, est.cost_error_max())?;
    Ok(())
}
