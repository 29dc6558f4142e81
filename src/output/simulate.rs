//! The file of `tufield simulate` (the particle run of [`crate::run::simulate`], its
//! N-study [`crate::run::study`] and ε-Nash study [`crate::run::epsilon_nash`]).
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index):
//!
//! ```text
//! /                      attrs tufield_version, scenario, name, command = "simulate",
//!                              copies, seed, policy, axis_labels, steps, threads
//! /time                  (steps+1)
//! /snapshot_time         (snapshots); /snapshot_level (snapshots) u64
//! /grid/x<i>             (n_i) histogram grid; attrs label, lo, hi, spacing
//! /populations/<k>       attrs name, state_axes (state coordinate of each grid axis)
//!     empirical_mean, empirical_target, mean_field_mean   (steps+1, d)
//!     reference_mean     (steps+1, d) the N → ∞ limit of the simulated scheme (attr note:
//!                        the Euler chain's exact mean, or the solve file's FPK mean)
//!     empirical_cov      (steps+1, d, d)
//!     trajectories       (K, steps+1, d) the first K copies
//!     histogram          (snapshots, n_0[, n_1[, n_2]]) cloud-in-cell, Σ m·cell = 1
//!     realised_cost      (2) = [mean, std] over copies; attr standard_error   (with costs)
//!     mean_field_cost    scalar: E[v_k(0, X0)]                                (lq, FILE)
//!     reference_cost     scalar: exact E J_k of the Euler chain as N → ∞ at this dt
//!                        (affine policies with costs)
//!     core_fraction      (steps+1) fraction of copies with every excess ≥ 0
//!     allocation_core_fraction (steps+1) with [game.values] on the full coalition space:
//!                        fraction whose efficient least-squares allocation is in the core
//!     density_l1         (snapshots) Σ|histogram − FPK density|·cell          (FILE)
//! /heuristic             (internal-model, second-order) attr note
//!     internal_model/mean       (steps+1, p, q) m̃_k(t_n); attr theta
//!     second_order/mean, increment  (steps+1, p, q) μ₁, μ₂ of (43);
//!                               attrs theta, theta_tilde, theta_hat, spectral_radius,
//!                               stability ("stable" iff spectral_radius < 1)
//! /study                 (with --study) attrs mean_deviation_slope, cost_gap_slope,
//!                        cost_reference, cost_bias_slope, cost_fluctuation_slope, seeds,
//!                        reference; copies (m) u64, mean_deviation (m), cost_gap (m),
//!                        cost_bias (m), cost_fluctuation (m)
//! /epsilon_nash          (with --epsilon-nash) attrs replicates, note; copies (m) u64;
//!                        epsilon, mean_field_cost, best_response_cost,
//!                        monte_carlo_epsilon, monte_carlo_standard_error (m, p);
//!                        epsilon_limit (p), rate (p, NaN where ε(N) − ε(∞) is not
//!                        positive at every N)
//! ```
//!
//! The quantities of `/study` are described in [`crate::run::study`].

use super::{layout, schema};
use crate::h5::AtomicH5;
use crate::paper::claims::{self, Assessment, RunEvidence};
use crate::run::epsilon_nash::EpsilonStudy;
use crate::run::simulate::{HeuristicMeans, PolicyChoice, Prepared};
use crate::run::study::{Study, STUDY_SEEDS};
use crate::scenario::Scenario;
use crate::AppResult;
use ndarray::{arr0, Array1, Array2};
use std::path::Path;
use tufield_solvers::particles::Simulation;

/// What the run measured for the checks of the scenario's `[paper]` figure.
pub fn paper_evidence<'a>(prep: &'a Prepared, empirical: &'a [Array2<f64>]) -> RunEvidence<'a> {
    RunEvidence {
        empirical_mean: empirical,
        target: match &prep.heuristic {
            Some(HeuristicMeans::SecondOrder { mean, .. }) => Some(mean),
            Some(HeuristicMeans::InternalModel { mean, .. }) => Some(mean),
            None => None,
        },
    }
}

/// Writes the output file atomically; returns the assessment of the scenario's `[paper]`
/// figure (also in the root attributes) when it has one.
#[allow(clippy::too_many_arguments)]
pub fn write(
    out: &Path,
    sc: &Scenario,
    choice: &PolicyChoice,
    prep: &Prepared,
    sim: &Simulation,
    seed: u64,
    l1: Option<&[Array1<f64>]>,
    (st, eps): (Option<&Study>, Option<&EpsilonStudy>),
) -> AppResult<Option<Assessment>> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    let root = w.root()?.clone();
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SIMULATE)?;
    w.scalar_attr(&root, schema::ATTR_COPIES, sim.copies as u64)?;
    w.scalar_attr(&root, schema::ATTR_SEED, seed)?;
    w.str_attr(&root, schema::ATTR_POLICY, &choice.name())?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &prep.axis_labels)?;
    w.scalar_attr(&root, schema::ATTR_STEPS, prep.system.steps as u64)?;
    w.scalar_attr(
        &root,
        schema::ATTR_THREADS,
        rayon::current_num_threads() as u64,
    )?;
    let empirical: Vec<Array2<f64>> = sim.populations.iter().map(|r| r.mean.clone()).collect();
    let paper = claims::write_attributes(&w, &root, sc, Some(&paper_evidence(prep, &empirical)))?;

    let axes_t = layout::time_axes(&w, &sim.time, &prep.snapshot_levels)?;
    let time = axes_t.time.clone();
    let grid_labels: Vec<String> = prep
        .hist_axes
        .iter()
        .map(|&i| prep.axis_labels[i].clone())
        .collect();
    let axes = layout::grid(&w, &prep.grid, &grid_labels)?;

    w.group(schema::POPULATIONS)?;
    let state_axes: Array1<u64> = prep.hist_axes.iter().map(|&i| i as u64).collect();
    for (k, run) in sim.populations.iter().enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &prep.system.populations[k].name)?;
        let sa = w.array(&pg, schema::STATE_AXES, &state_axes)?;
        w.dims(&sa, &[schema::DIM_GRID_AXIS])?;
        for (name, data) in [
            (schema::EMPIRICAL_MEAN, &run.mean),
            (schema::EMPIRICAL_TARGET, &run.target),
            (schema::MEAN_FIELD_MEAN, &prep.mean_field_mean[k]),
            (schema::REFERENCE_MEAN, &prep.reference_mean[k]),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
            if name == schema::REFERENCE_MEAN {
                w.str_attr(&ds, schema::ATTR_NOTE, prep.reference_note)?;
            }
        }
        let cov = w.array(&pg, schema::EMPIRICAL_COV, &run.cov)?;
        layout::over_time(&w, &cov, &time)?;
        let cf = w.array(&pg, schema::CORE_FRACTION, &run.core_fraction)?;
        layout::over_time(&w, &cf, &time)?;
        w.str_attr(
            &cf,
            schema::ATTR_NOTE,
            "fraction of the copies whose every excess coordinate is >= 0 (the excess core)",
        )?;
        if let Some(f) = &run.allocation_core_fraction {
            let ds = w.array(&pg, schema::ALLOCATION_CORE_FRACTION, f)?;
            layout::over_time(&w, &ds, &time)?;
            w.str_attr(
                &ds,
                schema::ATTR_NOTE,
                "fraction of the copies whose efficient least-squares allocation \
                 a = (B_H^T B_H)^-1 B_H^T (x + v) + (v(N) - a(N))/n is in the core of [game.values]",
            )?;
        }
        let tr = w.array(&pg, schema::TRAJECTORIES, &run.trajectories)?;
        w.attach_scale(&tr, &time, 1)?;
        w.label_dim(&tr, 0, schema::DIM_COPY)?;
        w.label_dim(&tr, 1, schema::TIME)?;
        let mut names = vec![schema::DIM_COPY, schema::TIME, schema::DIM_AXIS];
        names.truncate(tr.ndim());
        w.dims(&tr, &names)?;
        let mut sw = w.snapshots(
            &pg,
            schema::HISTOGRAM,
            run.histograms.len(),
            prep.grid.shape(),
        )?;
        for h in &run.histograms {
            sw.push(h.view())?;
        }
        let ds = sw.dataset().clone();
        layout::over_snapshots(&w, &ds, &axes_t.snapshot, &axes, &grid_labels)?;
        w.str_attr(
            &ds,
            schema::ATTR_DEPOSIT,
            "cloud-in-cell, states clamped to the box",
        )?;
        if prep.system.cost.is_some() {
            let rc = w.array(
                &pg,
                schema::REALISED_COST,
                &Array1::from(vec![run.cost_mean, run.cost_std]),
            )?;
            w.str_attr(&rc, schema::ATTR_ENTRIES, "mean, std over copies")?;
            w.dims(&rc, &[schema::DIM_STATISTIC])?;
            w.scalar_attr(
                &rc,
                schema::ATTR_STANDARD_ERROR,
                run.cost_std / (sim.copies as f64).sqrt(),
            )?;
            if prep.mean_field_cost[k].is_finite() {
                let mf = w.array(
                    &pg,
                    schema::MEAN_FIELD_COST,
                    arr0(prep.mean_field_cost[k]).view(),
                )?;
                w.str_attr(&mf, schema::ATTR_NOTE, "E[v_k(0, X0)] over the initial law")?;
            }
            if let Some(rc) = &prep.reference_cost {
                let ds = w.array(&pg, schema::REFERENCE_COST, arr0(rc[k]).view())?;
                w.str_attr(
                    &ds,
                    schema::ATTR_NOTE,
                    "exact expected realised cost of the Euler chain as N -> infinity, at the \
                     simulation's time step (no time-step bias)",
                )?;
            }
        }
        if let Some(l1) = l1 {
            let ds = w.array(&pg, schema::DENSITY_L1, &l1[k])?;
            w.attach_scale(&ds, &axes_t.snapshot, 0)?;
        }
    }
    if let Some(h) = &prep.heuristic {
        let g = w.group(schema::HEURISTIC)?;
        // One (time, population, axis) dataset of the populations' paths.
        let paths_dataset = |sg: &hdf5::Group, name: &str, paths: &[Array2<f64>]| {
            let (levels, q) = paths[0].dim();
            let stacked = ndarray::Array3::from_shape_fn((levels, paths.len(), q), |(n, k, j)| {
                paths[k][[n, j]]
            });
            let ds = w.array(sg, name, &stacked)?;
            w.attach_scale(&ds, &time, 0)?;
            w.label_dim(&ds, 0, schema::TIME)?;
            w.label_dim(&ds, 1, schema::DIM_POPULATION)?;
            w.dims(
                &ds,
                &[schema::TIME, schema::DIM_POPULATION, schema::DIM_AXIS],
            )
        };
        match h {
            HeuristicMeans::InternalModel { theta, mean } => {
                let sg = w.group(schema::HEURISTIC_INTERNAL_MODEL)?;
                w.str_attr(
                    &g,
                    schema::ATTR_NOTE,
                    "the paper's Section 8.1 heuristic (not an equilibrium): least-squares \
                     control (41) towards the internal model m~(t+dt) = m~(t)(1 - theta dt)",
                )?;
                w.scalar_attr(&sg, schema::ATTR_THETA, *theta)?;
                paths_dataset(&sg, schema::MEAN, mean)?;
            }
            HeuristicMeans::SecondOrder {
                params,
                mean,
                increment,
                spectral_radius,
            } => {
                let sg = w.group(schema::HEURISTIC_SECOND_ORDER)?;
                w.str_attr(
                    &g,
                    schema::ATTR_NOTE,
                    "the paper's Section 8.2 heuristic (not an equilibrium): feedback \
                     A phi (x - mu_k) towards the second-order consensus means of (43), one \
                     iteration per time step",
                )?;
                w.scalar_attr(&sg, schema::ATTR_THETA, params.theta)?;
                w.scalar_attr(&sg, schema::ATTR_THETA_TILDE, params.theta_tilde)?;
                w.scalar_attr(&sg, schema::ATTR_THETA_HAT, params.theta_hat)?;
                w.scalar_attr(&sg, schema::ATTR_SPECTRAL_RADIUS, *spectral_radius)?;
                w.str_attr(
                    &sg,
                    schema::ATTR_STABILITY,
                    crate::report::stability::iteration_stability(*spectral_radius),
                )?;
                paths_dataset(&sg, schema::MEAN, mean)?;
                paths_dataset(&sg, schema::INCREMENT, increment)?;
            }
        }
    }
    if let Some(st) = st {
        let g = w.group(schema::STUDY)?;
        w.scalar_attr(
            &g,
            schema::ATTR_MEAN_DEVIATION_SLOPE,
            st.mean_deviation_slope,
        )?;
        if let Some(cg) = &st.cost_gap {
            w.scalar_attr(&g, schema::ATTR_COST_GAP_SLOPE, cg.slope)?;
            w.str_attr(&g, schema::ATTR_COST_REFERENCE, cg.reference)?;
        }
        w.scalar_attr(&g, schema::ATTR_SEEDS, STUDY_SEEDS)?;
        w.str_attr(&g, schema::ATTR_REFERENCE, prep.reference_note)?;
        let c: Array1<u64> = st.copies.iter().map(|&n| n as u64).collect();
        let cds = w.array(&g, schema::COPIES, &c)?;
        w.dims(&cds, &[schema::DIM_STUDY_RUN])?;
        let md = w.array(
            &g,
            schema::MEAN_DEVIATION,
            &Array1::from(st.mean_deviation.clone()),
        )?;
        w.dims(&md, &[schema::DIM_STUDY_RUN])?;
        if let Some(cg) = &st.cost_gap {
            let ds = w.array(&g, schema::COST_GAP, &Array1::from(cg.gap.clone()))?;
            w.dims(&ds, &[schema::DIM_STUDY_RUN])?;
            for (name, part) in [
                (schema::COST_BIAS, &cg.bias),
                (schema::COST_FLUCTUATION, &cg.fluctuation),
            ] {
                if let Some((v, slope)) = part {
                    let ds = w.array(&g, name, &Array1::from(v.clone()))?;
                    w.dims(&ds, &[schema::DIM_STUDY_RUN])?;
                    w.scalar_attr(&g, &schema::slope_of(name), *slope)?;
                }
            }
        }
    }
    if let Some(e) = eps {
        epsilon_nash(&mut w, e)?;
    }
    w.commit()?;
    Ok(paper)
}

/// Writes `/epsilon_nash` (layout in the module docs).
fn epsilon_nash(w: &mut AtomicH5, st: &EpsilonStudy) -> AppResult<()> {
    let g = w.group(schema::EPSILON_NASH)?;
    w.str_attr(
        &g,
        schema::ATTR_NOTE,
        "gain of one copy that best-responds (exact discrete-time dynamic programming on its \
         own state and the others' empirical means) while the others keep the policy; \
         monte_carlo_* from sampled paths with common random numbers",
    )?;
    w.scalar_attr(&g, schema::ATTR_REPLICATES, st.replicates as u64)?;
    let c: Array1<u64> = st.copies.iter().map(|&n| n as u64).collect();
    let ds = w.array(&g, schema::COPIES, &c)?;
    w.dims(&ds, &[schema::DIM_EPSILON_RUN])?;
    for (name, data) in [
        (schema::EPSILON, &st.epsilon),
        (schema::MEAN_FIELD_COST, &st.mean_field_cost),
        (schema::BEST_RESPONSE_COST, &st.best_response_cost),
        (schema::MONTE_CARLO_EPSILON, &st.monte_carlo),
        (schema::MONTE_CARLO_STANDARD_ERROR, &st.standard_error),
    ] {
        let ds = w.array(&g, name, data)?;
        w.dims(&ds, &[schema::DIM_EPSILON_RUN, schema::DIM_POPULATION])?;
    }
    for (name, data) in [(schema::EPSILON_LIMIT, &st.limit), (schema::RATE, &st.rate)] {
        let ds = w.array(&g, name, data)?;
        w.dims(&ds, &[schema::DIM_POPULATION])?;
    }
    Ok(())
}
