//! The LQ oracle's groups `/model` and `/lq/...` (written by `lq` and, beside their own
//! datasets, by `solve`; layout in docs/output-files.md) and the note that says what
//! `lq_mean_distance` means.

use super::{layout, schema};
use crate::h5::AtomicH5;
use crate::initial::InitialSpec;
use crate::oracle::LqResults;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use hdf5::Dataset;

/// Attribute `note` on every heuristic group.
pub const HEURISTIC_NOTE: &str = "heuristic of the paper (Section 5/7), not the exact equilibrium";

/// What `lq_mean_distance` means for this scenario (root attribute `lq_note` of `solve`
/// and `compare` files).
pub fn lq_note(sc: &Scenario) -> String {
    let start = if sc.initial.iter().all(|i| *i == InitialSpec::Gaussian) {
        ""
    } else {
        " The LQ oracle starts from each law's mean and covariance (moment matching; exact \
         for the LQ mean and covariance dynamics)."
    };
    match sc.non_lq_terms() {
        None => format!(
            "LQ model: lq_mean_distance is the discretisation error of the PDE means against \
             the exact LQ equilibrium.{start}"
        ),
        Some(terms) => format!(
            "not LQ ({terms}): lq_mean_distance measures the distance to the LQ \
             approximation (the model without these terms), not an error.{start}"
        ),
    }
}

/// Writes `/model` and `/lq/...` (layout in the module docs) into an open file whose
/// `/time` dataset is `time` (`lq` and `solve` write them).
pub fn write_groups(w: &AtomicH5, sc: &Scenario, res: &LqResults, time: &Dataset) -> AppResult<()> {
    let out = w.dest();
    let ex = &res.exact;
    let model = w.group(schema::MODEL)?;
    for (name, data) in [
        (schema::MODEL_A, &sc.model.a),
        (schema::MODEL_Q, &sc.model.q),
        (schema::MODEL_S, &sc.model.s),
    ] {
        let ds = w.array(&model, name, data)?;
        w.dims(&ds, &[schema::DIM_ROW, schema::DIM_COL])?;
    }
    w.scalar_attr(&model, schema::ATTR_SIGMA, sc.model.sigma)?;
    w.scalar_attr(&model, schema::ATTR_HORIZON, sc.model.horizon)?;
    w.scalar_attr(&model, schema::ATTR_STEPS, sc.settings.steps as u64)?;

    let exact = w.group(schema::LQ_EXACT)?;
    w.str_attr(
        &exact,
        schema::ATTR_NOTE,
        "exact LQ mean-field equilibrium (Riccati φ, forward–backward means and h, docs/design.md §3)",
    )?;
    w.scalar_attr(&exact, schema::ATTR_RESIDUAL_INITIAL, ex.residual_initial)?;
    w.scalar_attr(&exact, schema::ATTR_RESIDUAL_TERMINAL, ex.residual_terminal)?;
    let phi = w.array(&exact, schema::PHI, &ex.phi)?;
    time_axis(w, &phi, time)?;
    let pops = w.group(&schema::populations_in(schema::LQ_EXACT))?;
    for (k, (pop, spec)) in ex.populations.iter().zip(&sc.model.populations).enumerate() {
        let g = pops
            .create_group(&k.to_string())
            .map_err(|e| AppError::hdf5(out, format!("creating group populations/{k}"), e))?;
        w.str_attr(&g, schema::ATTR_NAME, &spec.name)?;
        for (name, data) in [
            (schema::MEAN, &pop.mean),
            (schema::LQ_H, &pop.h),
            (schema::TARGET, &pop.target),
        ] {
            let ds = w.array(&g, name, data)?;
            time_axis(w, &ds, time)?;
        }
        let chi = w.array(&g, schema::LQ_CHI, &pop.chi)?;
        time_axis(w, &chi, time)?;
        let cov = w.array(&g, schema::COV, &pop.cov)?;
        time_axis(w, &cov, time)?;
    }
    write_heuristics(w, sc, res, time)?;
    Ok(())
}

/// Writes `ds` with the time scale on its first dimension.
fn timed<'a, D: ndarray::Dimension>(
    w: &AtomicH5,
    g: &hdf5::Group,
    name: &str,
    data: impl Into<ndarray::ArrayView<'a, f64, D>>,
    time: &Dataset,
) -> AppResult<Dataset> {
    let ds = w.array(g, name, data)?;
    time_axis(w, &ds, time)?;
    Ok(ds)
}

fn write_heuristics(w: &AtomicH5, sc: &Scenario, res: &LqResults, time: &Dataset) -> AppResult<()> {
    let top = w.group(schema::LQ_HEURISTIC)?;
    w.str_attr(&top, schema::ATTR_NOTE, HEURISTIC_NOTE)?;

    let aug = &res.augmented;
    let g = w.group(schema::LQ_AUGMENTED_STATE)?;
    w.str_attr(&g, schema::ATTR_NOTE, HEURISTIC_NOTE)?;
    w.str_attr(
        &g,
        schema::ATTR_METHOD,
        "Section 5: internal model m̃' = −θm̃ (19), game Riccati (20) in (x, m̃), policies (21)-(22); \
         mean: policy fed the actual mean, m̄' = A(P11 + P12)m̄; mean_with_estimate: policy fed m̃",
    )?;
    w.scalar_attr(&g, schema::ATTR_THETA, aug.theta)?;
    let theorem_2 = aug
        .theorem_2(&sc.model.a)
        .map_err(|e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e))?;
    let status = if theorem_2.holds {
        "satisfied"
    } else {
        "violated"
    };
    w.str_attr(&g, schema::ATTR_THEOREM_2, status)?;
    w.scalar_attr(
        &g,
        schema::ATTR_THEOREM_2_MAX_EIGENVALUE,
        theorem_2.max_eigenvalue,
    )?;
    timed(w, &g, schema::AUGMENTED_P, &aug.p, time)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&schema::population_in(schema::LQ_AUGMENTED_STATE, k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        timed(w, &pg, schema::MEAN, &aug.mean[k], time)?;
        timed(
            w,
            &pg,
            schema::MEAN_WITH_ESTIMATE,
            &aug.mean_with_estimate[k],
            time,
        )?;
        timed(w, &pg, schema::ESTIMATE, &aug.estimate[k], time)?;
    }

    let con = &res.consensus;
    let g = w.group(schema::LQ_CONSENSUS)?;
    w.str_attr(&g, schema::ATTR_NOTE, HEURISTIC_NOTE)?;
    w.str_attr(
        &g,
        schema::ATTR_METHOD,
        "Section 7 (Theorem 4): h_k = −φρ_k, consensus dynamics m̄_k' = Aφ(m̄_k − ρ_k) on the graph",
    )?;
    timed(w, &g, schema::PHI, &con.phi, time)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&schema::population_in(schema::LQ_CONSENSUS, k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        timed(w, &pg, schema::MEAN, &con.mean[k], time)?;
        timed(w, &pg, schema::TARGET, &con.target[k], time)?;
        timed(w, &pg, schema::LQ_H, &con.h[k], time)?;
    }
    Ok(())
}

fn time_axis(w: &AtomicH5, ds: &Dataset, time: &Dataset) -> AppResult<()> {
    layout::over_time(w, ds, time)
}
