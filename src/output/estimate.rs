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

use crate::h5::AtomicH5;
use crate::output::chunk::Search;
use crate::output::{layout, schema, OutputSettings};
use crate::run::estimate::ErrorEstimate;
use crate::AppResult;
use ndarray::CowArray;

/// Writes the estimate's datasets into the open solve file (layout in the module docs);
/// the `/populations/<k>` groups exist already.
pub fn write(
    w: &AtomicH5,
    est: &ErrorEstimate,
    axes: &layout::TimeAxes,
    coords: &[hdf5::Dataset],
    labels: &[String],
    output: &OutputSettings,
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
        // Chunked by snapshot and encoded in parallel like value: the errors rounded to
        // few bits, the extrapolated values to the bits of a scheme one order higher.
        let fields = [
            (
                schema::VALUE_ERROR,
                &p.value_error,
                output.error_quantization(),
            ),
            (
                schema::VALUE_EXTRAPOLATED,
                &p.value_extrapolated,
                output.extrapolated_quantization(est.order),
            ),
            (
                schema::DENSITY_ERROR,
                &p.density_error,
                output.error_quantization(),
            ),
        ];
        let count = p.value_error.len();
        let mut writers = Vec::new();
        for (name, frames, bits) in &fields {
            let frame = frames.first().map_or(&[][..], |f| f.shape()).to_vec();
            let mut sw = w.rounded_snapshots(&pg, name, count, &frame, *bits)?;
            if *name != schema::VALUE_EXTRAPOLATED {
                // Errors: runs and noise, stored smaller by runs than by matches.
                sw.set_search(Search::Runs);
            }
            writers.push(sw);
        }
        crate::h5::push_together(&mut writers, count, |s| {
            Ok(fields
                .iter()
                .map(|(_, frames, _)| CowArray::from(frames[s].view()))
                .collect())
        })?;
        for sw in &writers {
            layout::over_snapshots(w, sw.dataset(), &axes.snapshot, coords, labels)?;
        }
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
