//! The file `compare.h5` of `tufield compare` (layout in docs/scenario-format.md, section
//! compare): the three policies' costs and means ([`crate::run::compare`]), the fields at
//! t = 0 on the grid or, for a modal scenario, mode by mode.

use super::{layout, schema};
use crate::h5::AtomicH5;
use crate::run::compare::{Comparison, Fields, ModeFields, POLICIES, POLICY_NAMES};
use crate::run::estimate::ErrorEstimate;
use crate::scenario::Scenario;
use crate::AppResult;
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};

/// Writes `compare.h5` (layout in docs/scenario-format.md) atomically; `est` is the PDE
/// equilibrium's error estimate (or why there is none).
pub fn write(
    out: &Path,
    sc: &Scenario,
    cmp: &Comparison,
    iterations: usize,
    est: &Result<&ErrorEstimate, String>,
) -> AppResult<PathBuf> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    let root = w.root()?.clone();
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_COMPARE)?;
    w.str_attr(
        &root,
        schema::ATTR_LQ_NOTE,
        &crate::output::oracle::lq_note(sc),
    )?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    w.str_list_attr(
        &root,
        schema::ATTR_POLICIES,
        &POLICIES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    )?;
    w.scalar_attr(&root, schema::ATTR_PDE_ITERATIONS, iterations as u64)?;
    w.str_attr(
        &root,
        schema::ATTR_COST_DEFINITION,
        "robust cost J_k = ∫ v_k(0,x) m_k(0,x) dx of a designer playing the policy's \
         allocation (clipped to bounds.allocation) against the best-responding disturbance, \
         the population at the full-PDE equilibrium",
    )?;
    let time = w.coordinate(
        &root,
        schema::TIME,
        &cmp.time.to_owned(),
        schema::TIME_LONG_NAME,
        Some(schema::DIMENSIONLESS),
    )?;
    let mut scales = Vec::new();
    let axes: &[Array1<f64>] = match &cmp.fields {
        Fields::Grid(g) => &g.axes,
        Fields::Modal(_) => &[],
    };
    let grid_g = if axes.is_empty() {
        None
    } else {
        Some(w.group(schema::GRID)?)
    };
    for (i, ax) in axes.iter().enumerate() {
        let label = cmp.labels.get(i).map_or("", String::as_str);
        let c = w.coordinate(
            &root,
            &schema::axis_name(i),
            &ax.to_owned(),
            &format!("reduced coordinate {i} (excess of coalition {label})"),
            Some(schema::DIMENSIONLESS),
        )?;
        w.str_attr(&c, schema::ATTR_LABEL, label)?;
        let Some(grid_g) = &grid_g else { break };
        let g = w.array(grid_g, &schema::axis_name(i), ax.view())?;
        w.attach_scale(&g, &c, 0)?;
        scales.push(c);
    }
    for (pi, name) in POLICIES.iter().enumerate() {
        let g = w.group(name)?;
        w.str_attr(&g, schema::ATTR_DESCRIPTION, POLICY_NAMES[pi])?;
        let costs = w.array(&g, schema::COST, Array1::from(cmp.costs[pi].clone()).view())?;
        w.str_attr(
            &costs,
            schema::ATTR_UNITS,
            "robust cost per population (see root attr cost_definition)",
        )?;
        let rel: Vec<f64> = (0..cmp.names.len())
            .map(|k| cmp.relative_loss(pi, k))
            .collect();
        w.dims(&costs, &[schema::DIM_POPULATION])?;
        let rd = w.array(
            &g,
            schema::RELATIVE_COST_DIFFERENCE,
            Array1::from(rel).view(),
        )?;
        w.dims(&rd, &[schema::DIM_POPULATION])?;
        if let (Some(exact), 1..) = (&cmp.exact_costs, pi) {
            let ds = w.array(
                &g,
                schema::EXACT_COST,
                Array1::from(exact[pi - 1].clone()).view(),
            )?;
            w.dims(&ds, &[schema::DIM_POPULATION])?;
            w.str_attr(
                &ds,
                schema::ATTR_DEFINITION,
                "robust cost without a grid: per mode the Riccati/Lyapunov ODE of the \
                 disturbance's best response to the linear policy, the population at the \
                 exact LQ equilibrium, summed over the modes",
            )?;
        }
        if let (Ok(e), Fields::Modal(_), 0) = (est, &cmp.fields, pi) {
            let err: Array1<f64> = e.populations.iter().map(|p| p.cost_error).collect();
            let ds = w.array(&g, schema::COST_ERROR, err.view())?;
            w.dims(&ds, &[schema::DIM_POPULATION])?;
            w.str_attr(
                &ds,
                schema::ATTR_DEFINITION,
                "estimated discretisation error of the equilibrium cost (Richardson against \
                 every mode on its grid coarsened by 2 in space and time)",
            )?;
        }
        for (k, m) in cmp.means[pi].iter().enumerate() {
            let pg = w.group(&schema::population_in(name, k))?;
            let ds = w.array(&pg, schema::MEAN, m.view())?;
            layout::over_time(&w, &ds, &time)?;
            let pm = w.array(&pg, schema::PLAYED_MEAN, cmp.played_means[pi][k].view())?;
            layout::over_time(&w, &pm, &time)?;
        }
    }
    let rc = w.array(
        &w.group(schema::LQ)?,
        schema::RICCATI_COST,
        Array1::from(cmp.riccati_cost.clone()).view(),
    )?;
    w.dims(&rc, &[schema::DIM_POPULATION])?;
    let fields = match &cmp.fields {
        Fields::Grid(g) => g,
        Fields::Modal(modes) => {
            write_mode_fields(&w, &root, sc, cmp, modes)?;
            return w.commit();
        }
    };
    for k in 0..cmp.names.len() {
        let g = w.group(&schema::fields(k))?;
        w.str_attr(&g, schema::ATTR_NAME, &cmp.names[k])?;
        let dp = w.array(&g, schema::DRIFT_PDE_T0, fields.drift_pde[k].view())?;
        let dl = w.array(&g, schema::DRIFT_LQ_T0, fields.drift_lq[k].view())?;
        let lq = w.array(&g, schema::LOSS_LQ, fields.loss[0][k].view())?;
        let lh = w.array(&g, schema::LOSS_HEURISTIC, fields.loss[1][k].view())?;
        let m0 = w.array(&g, schema::INITIAL_DENSITY, fields.initial[k].view())?;
        for (i, s) in scales.iter().enumerate() {
            for ds in [&dp, &dl] {
                w.attach_scale(ds, s, i + 1)?;
            }
            for ds in [&lq, &lh, &m0] {
                w.attach_scale(ds, s, i)?;
            }
        }
        for ds in [&dp, &dl] {
            let mut names = vec![schema::DIM_AXIS];
            names.extend(std::iter::repeat_n(schema::DIM_SCALED, scales.len()));
            w.dims(ds, &names)?;
        }
    }
    w.commit()
}

/// The modal part of `compare.h5`: the decomposition (`/modes/eigenvalues`,
/// `/modes/eigenvectors`) and per mode i `/modes/<i>` with its grid coordinate, each
/// policy's share of the cost (`cost`, policy × population) and per population the
/// fields over the mode grid (`fields/<k>/drift_pde_t0`, `drift_lq_t0`, `loss_lq`,
/// `loss_heuristic`, `initial_density`).
fn write_mode_fields(
    w: &AtomicH5,
    root: &hdf5::Group,
    sc: &Scenario,
    cmp: &Comparison,
    modes: &[ModeFields],
) -> AppResult<()> {
    w.str_attr(root, schema::ATTR_REDUCTION, schema::REDUCTION_MODAL)?;
    w.scalar_attr(root, schema::ATTR_MODES, modes.len() as u64)?;
    let mg = w.group(schema::MODES)?;
    w.str_attr(
        &mg,
        schema::ATTR_NOTE,
        "exact modal decomposition x = U y: the robust cost of each policy is the sum of \
         its mode costs, the drift is U times the mode drifts (docs/design.md §2)",
    )?;
    let ev: Array1<f64> = modes.iter().map(|m| m.eigenvalue).collect();
    let ds = w.array(&mg, schema::EIGENVALUES, ev.view())?;
    w.dims(&ds, &[schema::DIM_MODE])?;
    if let Some(dec) = &sc.modal {
        let ds = w.array(&mg, schema::EIGENVECTORS, dec.eigenvectors())?;
        w.dims(&ds, &[schema::DIM_AXIS, schema::DIM_MODE])?;
    }
    for (i, m) in modes.iter().enumerate() {
        let g = w.group(&schema::mode(i))?;
        w.scalar_attr(&g, schema::ATTR_EIGENVALUE, m.eigenvalue)?;
        let grid = w.coordinate(
            &g,
            schema::GRID,
            &m.axis,
            &format!("mode {i} coordinate y_{i}"),
            Some(schema::DIMENSIONLESS),
        )?;
        let costs = Array2::from_shape_fn((3, cmp.names.len()), |(pi, k)| m.costs[pi][k]);
        let ds = w.array(&g, schema::COST, costs.view())?;
        w.dims(&ds, &[schema::DIM_POLICY, schema::DIM_POPULATION])?;
        for k in 0..cmp.names.len() {
            let fg = w.group(&schema::member(&schema::mode(i), &schema::fields(k)))?;
            w.str_attr(&fg, schema::ATTR_NAME, &cmp.names[k])?;
            for (name, data) in [
                (schema::DRIFT_PDE_T0, &m.drift_pde[k]),
                (schema::DRIFT_LQ_T0, &m.drift_lq[k]),
                (schema::LOSS_LQ, &m.loss[0][k]),
                (schema::LOSS_HEURISTIC, &m.loss[1][k]),
                (schema::INITIAL_DENSITY, &m.initial[k]),
            ] {
                let ds = w.array(&fg, name, data.view())?;
                w.attach_scale(&ds, &grid, 0)?;
            }
        }
    }
    Ok(())
}
