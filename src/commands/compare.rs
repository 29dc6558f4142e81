//! `tufield compare SCENARIO [--out DIR]`: how far is the LQ approximation from the full
//! model's equilibrium?
//!
//! For one projected scenario (any model: LQ, bounded controls, core penalty, any initial
//! law), or the full game of a modal one ([`modal`]: mode by mode, exact), it computes
//!
//! 1. the full-PDE equilibrium (as `tufield solve`, written to `DIR/<stem>_pde.h5`);
//! 2. the exact LQ equilibrium of the model without its non-LQ terms (Riccati,
//!    docs/design.md §3) and the paper's Section 7 heuristic (h_k = −φρ_k, consensus);
//! 3. the **robust cost of each policy in the full model**: a designer of population k
//!    plays the policy's allocation (the channel optimum at the policy's value gradient,
//!    clipped to `bounds.allocation`), the disturbance best-responds, and the rest of the
//!    population is at the full-model equilibrium (target ρ_k of step 1). (With an expert
//!    `[model] a` there is no allocation/disturbance split: the designer controls the drift
//!    b at cost −½bᵀA⁻¹b, docs/design.md §4.) Its value solves
//!    the HJI with the designer's channels frozen and the cost is
//!    J_k = ∫ v_k(0, x) m_k(0, x) dx ([`tufield_solvers::policy_eval`]: the numerics live
//!    there, this module orchestrates and writes). The PDE policy is the optimum, so
//!    (J_π − J_PDE)/|J_PDE| is what a designer loses by using π (up to discretisation);
//!    the field v_π(0, ·) − v_PDE(0, ·) shows *where* it loses. The FPK of the same
//!    evaluation gives the means of a population whose designers all play π
//!    (`played_mean`), next to the means π's own theory predicts.
//!
//! Outputs in DIR: `report.md` (tables and figures), `compare.h5` (every number),
//! `<stem>_means.png`, `<stem>_drift.png`, `<stem>_loss.png`, and the PDE solve file.

mod accuracy;
mod figures;
pub mod modal;

use crate::cli::CompareArgs;
use crate::h5::AtomicH5;
use crate::initial;
use crate::output::{layout, schema};
use crate::progress::ProgressMode;
use crate::run::{self, grid_for};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis, IxDyn};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::fixed_point::Outcome;
use tufield_solvers::hamiltonian::ControlLaw;
use tufield_solvers::lq::LqEquilibrium;
use tufield_solvers::policy_eval::{evaluate_policy, node_coordinates, quadratic_policy};
use tufield_solvers::sweep::Sweeper;

/// The three policies compared, in report order.
pub const POLICIES: [&str; 3] = ["pde", "lq", "heuristic"];

/// Human names of [`POLICIES`].
pub const POLICY_NAMES: [&str; 3] = [
    "full-PDE equilibrium",
    "exact LQ equilibrium",
    "paper's heuristic (Sec. 7)",
];

/// Everything compare computes (also what the report and the HDF5 file hold).
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Level times.
    pub time: Array1<f64>,
    /// Means per policy (index as [`POLICIES`]) and population, (steps+1) × d.
    pub means: [Vec<Array2<f64>>; 3],
    /// Robust cost J_k per policy and population.
    pub costs: [Vec<f64>; 3],
    /// Means of a population whose designers all play the policy (disturbance at its
    /// best response, targets at the PDE equilibrium): the FPK of the evaluation, per
    /// policy and population, (steps+1) × d. For the PDE policy this is the equilibrium
    /// mean itself.
    pub played_means: [Vec<Array2<f64>>; 3],
    /// The exact LQ value E[½xᵀφ(0)x + h_k(0)ᵀx + χ_k(0)] under m_k(0) (Riccati), per
    /// population: the LQ model's own equilibrium cost.
    pub riccati_cost: Vec<f64>,
    /// Population names.
    pub names: Vec<String>,
    /// Axis labels (coalitions; for a modal scenario all q of them).
    pub labels: Vec<String>,
    /// Drift and loss fields: on the grid, or mode by mode.
    pub fields: Fields,
    /// Modal scenarios: the robust cost of the LQ policy and of the heuristic without a
    /// grid (per mode the Riccati/Lyapunov ODE of the disturbance's best response,
    /// [`tufield_solvers::policy_eval::modal::linear_policy_cost`], the rest of the
    /// population at the exact LQ equilibrium), per population.
    pub exact_costs: Option<[Vec<f64>; 2]>,
}

/// Where the drift and loss fields live.
#[derive(Debug, Clone)]
pub enum Fields {
    /// A projected scenario's grid.
    Grid(GridFields),
    /// A modal scenario: one 1-D field per mode (the full field is their sum, or, for the
    /// drift, U times the mode drifts).
    Modal(Vec<ModeFields>),
}

/// Fields of a projected scenario on its grid.
#[derive(Debug, Clone)]
pub struct GridFields {
    /// Grid node coordinates per axis.
    pub axes: Vec<Array1<f64>>,
    /// Drift fields at t = 0 per population: PDE feedback ∇H(∇v) and LQ feedback
    /// A(φx + h_k), shape (d, grid…).
    pub drift_pde: Vec<ArrayD<f64>>,
    /// See `drift_pde`.
    pub drift_lq: Vec<ArrayD<f64>>,
    /// v_π(0, ·) − v_PDE(0, ·) for π = LQ and heuristic, per population (grid-shaped).
    pub loss: [Vec<ArrayD<f64>>; 2],
    /// Initial densities (grid-shaped), for weighting the figures.
    pub initial: Vec<ArrayD<f64>>,
}

/// Fields of one mode y_i = u_iᵀx of a modal scenario on the mode's 1-D grid.
#[derive(Debug, Clone)]
pub struct ModeFields {
    /// λ_i, the mode's drift coefficient.
    pub eigenvalue: f64,
    /// The mode grid's nodes.
    pub axis: Array1<f64>,
    /// The mode's share ∫ v_k,i(0, y) m_k,i(0, y) dy of each policy's robust cost, per
    /// policy and population (the full cost is the sum over modes).
    pub costs: [Vec<f64>; 3],
    /// Mode drift at t = 0 per population: PDE λ_i ∂_y v_i, LQ λ_i(φ_i y + h_k,i).
    pub drift_pde: Vec<Array1<f64>>,
    /// See `drift_pde`.
    pub drift_lq: Vec<Array1<f64>>,
    /// v_π,i(0, ·) − v_PDE,i(0, ·) for π = LQ and heuristic, per population.
    pub loss: [Vec<Array1<f64>>; 2],
    /// The mode's initial density per population.
    pub initial: Vec<Array1<f64>>,
}

impl Comparison {
    /// (J_π − J_PDE)/|J_PDE| for population k.
    pub fn relative_loss(&self, policy: usize, k: usize) -> f64 {
        (self.costs[policy][k] - self.costs[0][k]) / self.costs[0][k].abs().max(1e-300)
    }

    /// max over levels and axes of |m̄_π − m̄_PDE| for population k.
    pub fn mean_distance(&self, policy: usize, k: usize) -> f64 {
        max_abs_diff(self.means[policy][k].view(), self.means[0][k].view())
    }

    /// max over levels and axes of |m̄ played under π − m̄_PDE| for population k (how far
    /// a population whose designers all use π ends up from the equilibrium).
    pub fn played_distance(&self, policy: usize, k: usize) -> f64 {
        max_abs_diff(self.played_means[policy][k].view(), self.means[0][k].view())
    }

    /// max over the grid of |b_PDE − b_LQ| (Euclidean norm over axes) at t = 0. Modal:
    /// the drift difference is U δ with δ_i(y_i) the mode differences and U orthonormal,
    /// so its largest norm over the product of the mode grids is (Σ_i max δ_i²)^½.
    pub fn drift_difference(&self, k: usize) -> f64 {
        match &self.fields {
            Fields::Grid(g) => drift_norm(&g.drift_pde[k], &g.drift_lq[k])
                .iter()
                .cloned()
                .fold(0.0, f64::max),
            Fields::Modal(modes) => modes
                .iter()
                .map(|m| {
                    let d = max_abs_diff1(&m.drift_pde[k], &m.drift_lq[k]);
                    d * d
                })
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// The same, weighted: ∫ |b_PDE − b_LQ| m_k(0) dx / ∫ m_k(0) dx. Modal: the root mean
    /// square (E|U δ|²)^½ = (Σ_i E δ_i(Y_i)²)^½ under m_k(0), which separates by modes.
    pub fn drift_difference_mean(&self, k: usize) -> f64 {
        match &self.fields {
            Fields::Grid(g) => {
                let n = drift_norm(&g.drift_pde[k], &g.drift_lq[k]);
                let m = &g.initial[k];
                let mass: f64 = m.iter().sum();
                n.iter().zip(m.iter()).map(|(a, b)| a * b).sum::<f64>() / mass.max(1e-300)
            }
            Fields::Modal(modes) => modes
                .iter()
                .map(|m| {
                    let w = &m.initial[k];
                    let mass: f64 = w.iter().sum();
                    m.drift_pde[k]
                        .iter()
                        .zip(&m.drift_lq[k])
                        .zip(w)
                        .map(|((a, b), w)| (a - b) * (a - b) * w)
                        .sum::<f64>()
                        / mass.max(1e-300)
                })
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// Grid points per axis as text ("101×101"; modal: "7 modes × 401").
    pub fn grid_text(&self) -> String {
        match &self.fields {
            Fields::Grid(g) => g
                .axes
                .iter()
                .map(|a| a.len().to_string())
                .collect::<Vec<_>>()
                .join("×"),
            Fields::Modal(modes) => format!(
                "{} modes × {}",
                modes.len(),
                modes.first().map_or(0, |m| m.axis.len())
            ),
        }
    }
}

fn max_abs_diff1(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The exact LQ value E[½Xᵀφ(0)X + h_k(0)ᵀX + χ_k(0)] = ½tr(φΣ) + ½m̄ᵀφm̄ + hᵀm̄ + χ of
/// population k under its initial law (mean m̄, covariance Σ): the LQ model's own
/// equilibrium cost (Riccati, docs/design.md §3).
pub fn riccati_cost(sc: &Scenario, exact: &LqEquilibrium, k: usize) -> f64 {
    let d = sc.dim();
    let phi0 = exact.phi.index_axis(Axis(0), 0);
    let h0 = exact.populations[k].h.row(0);
    let pop = &sc.model.populations[k];
    let pm = phi0.dot(&pop.mean);
    let tr: f64 = (0..d).map(|i| phi0.row(i).dot(&pop.cov.column(i))).sum();
    0.5 * tr + 0.5 * pop.mean.dot(&pm) + h0.dot(&pop.mean) + exact.populations[k].chi[0]
}

fn max_abs_diff(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// |b − c| over the first axis (the drift components), grid-shaped.
pub fn drift_norm(b: &ArrayD<f64>, c: &ArrayD<f64>) -> ArrayD<f64> {
    let diff = b - c;
    diff.map_axis(Axis(0), |col| col.iter().map(|v| v * v).sum::<f64>().sqrt())
}

/// Default output directory: `output/<scenario file stem>_compare/`.
pub fn default_output(scenario: &Path) -> PathBuf {
    crate::outpath::default_output_in(scenario, "_compare")
}

/// Runs the command.
pub fn run(args: &CompareArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let mut sc = Scenario::load(&args.scenario.scenario, &args.scenario.overrides()?)?;
    // The PDE's own error is stated next to every difference: estimate it unless the
    // scenario turns it off (modal scenarios: estimated here, mode by mode).
    if !sc.is_modal() && sc.settings.error_estimate.is_none() {
        sc.settings.error_estimate = Some(run::estimate::possible(&sc));
    }
    // A solve and the policy evaluations (each as large as a solve).
    let mut est = crate::budget::solve(&sc);
    est.bytes = est.bytes.saturating_mul(2);
    crate::budget::check(&sc, &est)?;
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => default_output(&args.scenario.scenario),
    };
    let inputs = crate::outpath::scenario_inputs(&sc, Some(&args.scenario.scenario));
    crate::outpath::prepare_dir(&dir, "--out", &inputs)?;
    let _lock = crate::outpath::RunLock::acquire(&dir, "--out")?;
    let stem = crate::outpath::scenario_stem(&args.scenario.scenario);
    let pde_path = dir.join(format!("{stem}_pde.h5"));
    let mode = ProgressMode::detect(quiet);
    let mut progress = |msg: &str| {
        if !quiet {
            eprintln!("  {msg}");
        }
    };
    let (cmp, iterations, estimate) = if sc.is_modal() {
        let (report, sol) = run::solve_modal_keeping_modes(&sc, &pde_path, mode, start)?;
        // The comparison cannot stop part-way: a signal from now on ends the run at once
        // (removing the temporary files).
        crate::interrupt::unwatch(None);
        require_converged(&sc, &report, quiet)?;
        let cmp = modal::compare(&sc, &sol, &mut progress)?;
        let estimate = if sc.settings.error_estimate == Some(false) {
            Err("solver.error_estimate is off".to_string())
        } else {
            progress("error estimate: every mode again on its grid coarsened by 2");
            modal::estimate(&sc, &sol)?
        };
        (cmp, report.iterations, estimate)
    } else {
        let report = run::solve(&sc, &pde_path, None, mode, start)?;
        require_converged(&sc, &report, quiet)?;
        let cmp = compare(&sc, &report.targets, &report.means, &mut progress)?;
        let estimate = report.error_estimate.unwrap_or_else(|| {
            Err("solver.error_estimate is off or the grid is too small".to_string())
        });
        (cmp, report.iterations, estimate)
    };
    let est: accuracy::Estimate = estimate.as_ref().map_err(Clone::clone);
    let h5 = write_h5(&dir.join("compare.h5"), &sc, &cmp, iterations, &est)?;
    let figs = vec![
        figures::means(&dir, &stem, &cmp)?,
        figures::drift(&dir, &stem, &cmp)?,
        figures::loss(&dir, &stem, &cmp)?,
    ];
    let md = write_report(&dir, &sc, &cmp, &figs, &h5, &pde_path, start, &est)?;
    if !quiet {
        print!("{}", summary(&sc, &cmp, &est));
        println!("  wrote {}", md.display());
        println!("  wall time {:.2} s", start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The comparison needs the PDE equilibrium: a solve that did not converge ends the run
/// (its state is in the `_pde.h5` file when one was written).
fn require_converged(sc: &Scenario, report: &run::SolveReport, quiet: bool) -> AppResult<()> {
    if report.outcome != Outcome::Converged {
        return Err(AppError::NotConverged {
            source_name: sc.source_name.clone(),
            outcome: report.outcome.as_str().to_string(),
            iterations: report.iterations,
            residual: report.residual,
            detail: "; the PDE equilibrium is needed for the comparison (its state is in the \
                     _pde.h5 file)"
                .to_string(),
        });
    }
    if !quiet {
        eprintln!(
            "PDE equilibrium: {} iterations, {:.2} s; evaluating the policies…",
            report.iterations, report.wall_s
        );
    }
    Ok(())
}

/// The three policies' means, robust costs, drifts and loss fields (module docs).
/// `targets`/`pde_means`: the PDE equilibrium's ρ_k and m̄_k.
/// `progress(message)` is called before each policy evaluation (one HJI sweep each).
/// Projected scenarios; modal ones go through [`modal::compare`].
pub fn compare(
    sc: &Scenario,
    targets: &[Array2<f64>],
    pde_means: &[Array2<f64>],
    progress: &mut dyn FnMut(&str),
) -> AppResult<Comparison> {
    let err = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let grid = grid_for(sc)?;
    let steps = sc.settings.steps;
    let oracle = crate::oracle::compute(sc)?;
    let exact = &oracle.exact;
    let heur = &oracle.consensus;
    let p = sc.model.num_populations();
    // The policy evaluation freezes the designer's channels. An expert A does not say
    // which part is allocation and which disturbance: the designer then controls the drift
    // itself (the Hamiltonian over the drift of docs/design.md §4, no disturbance).
    let mut params = sc.model.clone();
    if params.controls.is_none() {
        params.controls = Some(ControlLaw::drift_control(&sc.model.a).map_err(err)?);
        params.validate().map_err(err)?;
    }
    let mut sw = Sweeper::new(&params, &grid, steps).map_err(err)?;
    let nodes = node_coordinates(&grid);
    let d = grid.dim();
    let mut costs: [Vec<f64>; 3] = Default::default();
    let mut played_means: [Vec<Array2<f64>>; 3] = Default::default();
    let mut loss: [Vec<ArrayD<f64>>; 2] = Default::default();
    let (mut drift_pde, mut drift_lq, mut initial_fields, mut riccati_cost) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if targets.len() != p || pde_means.len() != p {
        return Err(AppError::invalid(
            &sc.source_name,
            "populations",
            "the PDE equilibrium has a different number of populations",
        ));
    }
    for (k, target) in targets.iter().enumerate() {
        let m0 = initial::discretise(
            &sc.source_name,
            k,
            &sc.initial[k],
            &sc.model.populations[k],
            &grid,
        )?
        .density;
        let rho = target.view();
        sw.set_designer_policy(None).map_err(err)?;
        let v_pde = sw.solve_hji(rho, k).map_err(err)?;
        drift_pde.push(sw.optimal_drift(v_pde.value(0)).map_err(err)?);
        // LQ feedback drift A(φ(0)x + h_k(0)) at every node.
        let a = &sc.model.a;
        let phi0 = exact.phi.index_axis(Axis(0), 0);
        let h0 = exact.populations[k].h.row(0);
        let mut b = vec![0.0; d * grid.len()];
        for (j, x) in nodes.outer_iter().enumerate() {
            let bj = a.dot(&(phi0.dot(&x) + h0));
            for i in 0..d {
                b[i * grid.len() + j] = bj[i];
            }
        }
        let mut shape = vec![d];
        shape.extend_from_slice(grid.shape());
        drift_lq.push(ArrayD::from_shape_vec(IxDyn(&shape), b).map_err(|e| {
            AppError::invalid(&sc.source_name, "grid", format!("drift field shape: {e}"))
        })?);
        let policies = [
            v_pde.clone(),
            quadratic_policy(&grid, &exact.phi, &exact.populations[k].h).map_err(err)?,
            quadratic_policy(&grid, &heur.phi, &heur.h[k]).map_err(err)?,
        ];
        let mut values = Vec::with_capacity(3);
        for (pi, pol) in policies.into_iter().enumerate() {
            progress(&format!(
                "population {} ({}): robust cost of the {}",
                k + 1,
                sc.model.populations[k].name,
                POLICY_NAMES[pi]
            ));
            let ev = evaluate_policy(&mut sw, &grid, Some(pol), rho, k, m0.view()).map_err(err)?;
            costs[pi].push(ev.cost);
            played_means[pi].push(ev.played_mean);
            values.push(ev.value0);
        }
        loss[0].push(&values[1] - &values[0]);
        loss[1].push(&values[2] - &values[0]);
        riccati_cost.push(self::riccati_cost(sc, exact, k));
        initial_fields.push(m0);
    }
    sw.set_designer_policy(None).map_err(err)?;
    Ok(Comparison {
        time: exact.time.clone(),
        means: [
            pde_means.to_vec(),
            exact.populations.iter().map(|q| q.mean.clone()).collect(),
            heur.mean.clone(),
        ],
        costs,
        played_means,
        riccati_cost,
        names: sc
            .model
            .populations
            .iter()
            .map(|q| q.name.clone())
            .collect(),
        labels: sc.model.axis_labels.clone(),
        fields: Fields::Grid(GridFields {
            axes: (0..d).map(|i| grid.axis(i).nodes()).collect(),
            drift_pde,
            drift_lq,
            loss,
            initial: initial_fields,
        }),
        exact_costs: None,
    })
}

/// Writes `compare.h5` (layout in docs/scenario-format.md) atomically.
fn write_h5(
    out: &Path,
    sc: &Scenario,
    cmp: &Comparison,
    iterations: usize,
    est: &accuracy::Estimate,
) -> AppResult<PathBuf> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    let root = w.root()?.clone();
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_COMPARE)?;
    w.str_attr(&root, "lq_note", &crate::output::oracle::lq_note(sc))?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    w.str_list_attr(
        &root,
        "policies",
        &POLICIES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    )?;
    w.scalar_attr(&root, "pde_iterations", iterations as u64)?;
    w.str_attr(
        &root,
        "cost_definition",
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
        w.str_attr(&g, "description", POLICY_NAMES[pi])?;
        let costs = w.array(&g, "cost", Array1::from(cmp.costs[pi].clone()).view())?;
        w.str_attr(
            &costs,
            "units",
            "robust cost per population (see root attr cost_definition)",
        )?;
        let rel: Vec<f64> = (0..cmp.names.len())
            .map(|k| cmp.relative_loss(pi, k))
            .collect();
        w.dims(&costs, &[schema::DIM_POPULATION])?;
        let rd = w.array(&g, "relative_cost_difference", Array1::from(rel).view())?;
        w.dims(&rd, &[schema::DIM_POPULATION])?;
        if let (Some(exact), 1..) = (&cmp.exact_costs, pi) {
            let ds = w.array(&g, "exact_cost", Array1::from(exact[pi - 1].clone()).view())?;
            w.dims(&ds, &[schema::DIM_POPULATION])?;
            w.str_attr(
                &ds,
                "definition",
                "robust cost without a grid: per mode the Riccati/Lyapunov ODE of the \
                 disturbance's best response to the linear policy, the population at the \
                 exact LQ equilibrium, summed over the modes",
            )?;
        }
        if let (Ok(e), Fields::Modal(_), 0) = (est, &cmp.fields, pi) {
            let err: Array1<f64> = e.populations.iter().map(|p| p.cost_error).collect();
            let ds = w.array(&g, "cost_error", err.view())?;
            w.dims(&ds, &[schema::DIM_POPULATION])?;
            w.str_attr(
                &ds,
                "definition",
                "estimated discretisation error of the equilibrium cost (Richardson against \
                 every mode on its grid coarsened by 2 in space and time)",
            )?;
        }
        for (k, m) in cmp.means[pi].iter().enumerate() {
            let pg = w.group(&schema::population_in(name, k))?;
            let ds = w.array(&pg, "mean", m.view())?;
            layout::over_time(&w, &ds, &time)?;
            let pm = w.array(&pg, "played_mean", cmp.played_means[pi][k].view())?;
            layout::over_time(&w, &pm, &time)?;
        }
    }
    let rc = w.array(
        &w.group(schema::LQ)?,
        "riccati_cost",
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
        w.str_attr(&g, "name", &cmp.names[k])?;
        let dp = w.array(&g, "drift_pde_t0", fields.drift_pde[k].view())?;
        let dl = w.array(&g, "drift_lq_t0", fields.drift_lq[k].view())?;
        let lq = w.array(&g, "loss_lq", fields.loss[0][k].view())?;
        let lh = w.array(&g, "loss_heuristic", fields.loss[1][k].view())?;
        let m0 = w.array(&g, "initial_density", fields.initial[k].view())?;
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
            names.extend(std::iter::repeat_n("x", scales.len()));
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
    w.str_attr(root, schema::ATTR_REDUCTION, "modal")?;
    w.scalar_attr(root, "modes", modes.len() as u64)?;
    let mg = w.group(schema::MODES)?;
    w.str_attr(
        &mg,
        schema::ATTR_NOTE,
        "exact modal decomposition x = U y: the robust cost of each policy is the sum of \
         its mode costs, the drift is U times the mode drifts (docs/design.md §2)",
    )?;
    let ev: Array1<f64> = modes.iter().map(|m| m.eigenvalue).collect();
    let ds = w.array(&mg, "eigenvalues", ev.view())?;
    w.dims(&ds, &[schema::DIM_MODE])?;
    if let Some(dec) = &sc.modal {
        let ds = w.array(&mg, "eigenvectors", dec.eigenvectors())?;
        w.dims(&ds, &[schema::DIM_AXIS, schema::DIM_MODE])?;
    }
    for (i, m) in modes.iter().enumerate() {
        let g = w.group(&schema::mode(i))?;
        w.scalar_attr(&g, "eigenvalue", m.eigenvalue)?;
        let grid = w.coordinate(
            &g,
            "grid",
            &m.axis,
            &format!("mode {i} coordinate y_{i}"),
            Some(schema::DIMENSIONLESS),
        )?;
        let costs = Array2::from_shape_fn((3, cmp.names.len()), |(pi, k)| m.costs[pi][k]);
        let ds = w.array(&g, "cost", costs.view())?;
        w.dims(&ds, &["policy", schema::DIM_POPULATION])?;
        for k in 0..cmp.names.len() {
            let fg = w.group(&schema::member(&schema::mode(i), &schema::fields(k)))?;
            w.str_attr(&fg, "name", &cmp.names[k])?;
            for (name, data) in [
                ("drift_pde_t0", &m.drift_pde[k]),
                ("drift_lq_t0", &m.drift_lq[k]),
                ("loss_lq", &m.loss[0][k]),
                ("loss_heuristic", &m.loss[1][k]),
                ("initial_density", &m.initial[k]),
            ] {
                let ds = w.array(&fg, name, data.view())?;
                w.attach_scale(&ds, &grid, 0)?;
            }
        }
    }
    Ok(())
}

fn fmt_rel(x: f64) -> String {
    format!("{:+.3} %", 100.0 * x)
}

/// The console summary: one line per population and policy.
pub fn summary(sc: &Scenario, cmp: &Comparison, est: &accuracy::Estimate) -> String {
    let mut s = format!(
        "{}: robust cost of each policy in the full model\n",
        sc.name
    );
    for k in 0..cmp.names.len() {
        s.push_str(&format!("  population {} ({}):\n", k + 1, cmp.names[k]));
        for (pi, pname) in POLICY_NAMES.iter().enumerate() {
            s.push_str(&format!(
                "    {:<28} J = {:<12.6} {}  max |Δm̄| {:.3e} {}\n",
                pname,
                cmp.costs[pi][k],
                if pi == 0 {
                    format!("(optimum, {})", accuracy::cost_note(est, cmp, k))
                } else {
                    format!(
                        "({} vs PDE, {})",
                        fmt_rel(cmp.relative_loss(pi, k)),
                        accuracy::cost_note(est, cmp, k)
                    )
                },
                cmp.mean_distance(pi, k),
                accuracy::mean_note(est, k),
            ));
        }
    }
    let negative = (1..3).any(|pi| (0..cmp.names.len()).any(|k| cmp.relative_loss(pi, k) < 0.0));
    if negative {
        s.push_str(
            "  (a negative difference is discretisation error of the PDE policy; refine \
             solver.points and solver.steps to separate it from a real loss, see report.md)\n",
        );
    }
    for line in accuracy::lines(sc, cmp, est) {
        s.push_str(&format!("{line}\n"));
    }
    for line in exact_lines(cmp) {
        s.push_str(&format!("{line}\n"));
    }
    s
}

/// Modal scenarios: the linear policies' robust costs without a grid next to their grid
/// values, and the heuristic's exact loss against the exact LQ policy.
fn exact_lines(cmp: &Comparison) -> Vec<String> {
    let Some([lq, heur]) = &cmp.exact_costs else {
        return Vec::new();
    };
    let rel = |a: f64, b: f64| (a - b) / b.abs().max(1e-300);
    let mut out = vec![
        "  without a grid (per mode the Riccati/Lyapunov ODE of the disturbance's best \
         response, the rest of the population at the exact LQ equilibrium):"
            .to_string(),
    ];
    for (k, name) in cmp.names.iter().enumerate() {
        out.push(format!(
            "    population {} ({name}): LQ policy {:.6} ({:+.2e} % from Riccati {:.6}; grid \
             {:+.2} %), heuristic {:.6} (grid {:+.2} %): heuristic loss {} exact, {} on \
             the grid",
            k + 1,
            lq[k],
            100.0 * rel(lq[k], cmp.riccati_cost[k]),
            cmp.riccati_cost[k],
            100.0 * rel(cmp.costs[1][k], lq[k]),
            heur[k],
            100.0 * rel(cmp.costs[2][k], heur[k]),
            fmt_rel(rel(heur[k], lq[k])),
            fmt_rel(cmp.relative_loss(2, k)),
        ));
    }
    out
}

/// The report's section on the modes: how the comparison is exact, and each mode's share
/// of every policy's cost with the heuristic's extra cost.
fn modal_section(cmp: &Comparison, modes: &[ModeFields]) -> String {
    let mut r = String::from("## Mode by mode\n\n");
    r.push_str(&format!(
        "The full {q}-dimensional game is compared exactly through its {q} modes y_i = u_iᵀx \
         (docs/design.md §2): with R = rI and Γ = γ²I the designer's and the disturbance's \
         parts of A are diagonal in the modes, so every policy's robust value is a sum of \
         1-D mode values and J_k = Σ_i J_k,i. Each policy (the linear ones as their quadratic \
         values) is evaluated on each mode's PDE grid against the mode's equilibrium \
         targets. Each mode's share of the costs (J_k,i; the heuristic's extra cost \
         J_heur − J_PDE in the last column):\n\n",
        q = modes.len()
    ));
    r.push_str("| mode | λ_i | population | J_PDE,i | J_LQ,i | J_heur,i | J_heur,i − J_PDE,i |\n");
    r.push_str("|---:|---:|---|---:|---:|---:|---:|\n");
    for (i, m) in modes.iter().enumerate() {
        for (k, name) in cmp.names.iter().enumerate() {
            r.push_str(&format!(
                "| {} | {:.4} | {name} | {:.6} | {:.6} | {:.6} | {:+.3e} |\n",
                i + 1,
                m.eigenvalue,
                m.costs[0][k],
                m.costs[1][k],
                m.costs[2][k],
                m.costs[2][k] - m.costs[0][k]
            ));
        }
    }
    r.push('\n');
    r
}

/// Writes `report.md` next to the figures.
#[allow(clippy::too_many_arguments)]
fn write_report(
    dir: &Path,
    sc: &Scenario,
    cmp: &Comparison,
    figs: &[PathBuf],
    h5: &Path,
    pde: &Path,
    start: Instant,
    est: &accuracy::Estimate,
) -> AppResult<PathBuf> {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut r = String::new();
    r.push_str(&format!("# tufield compare: {}\n\n", sc.name));
    if !sc.description.is_empty() {
        r.push_str(&format!("{}\n\n", sc.description));
    }
    r.push_str(&format!(
        "Scenario `{}`; {}\n\n",
        sc.source_name,
        match sc.non_lq_terms() {
            Some(t) => format!(
                "**not LQ** ({t}): the exact LQ equilibrium is an approximation of this model."
            ),
            None => "an LQ model: the PDE and the exact LQ equilibrium must agree within the \
                     discretisation error."
                .to_string(),
        }
    ));
    r.push_str(&format!(
        "Grid {} points, {} time steps, T = {}. Policies: the full-PDE equilibrium \
         (`{}`), the exact LQ equilibrium (Riccati, docs/design.md §3) and the paper's Section 7 \
         heuristic (h_k = −φρ_k).\n\n",
        cmp.grid_text(),
        sc.settings.steps,
        sc.model.horizon,
        name(pde)
    ));
    r.push_str("## Cost of each policy in the full model\n\n");
    r.push_str(
        "Robust cost J_k = ∫ v_k(0,x) m_k(0,x) dx of a designer of population k who plays the \
         policy's allocation (clipped to the bounds) against the best-responding disturbance, \
         with the population at the full-PDE equilibrium. The PDE policy is the optimum; the \
         relative difference is what the policy loses, up to discretisation error: the \
         scheme's policy (lagged, from centred gradients) is optimal only in the limit, so on \
         coarse grids a smooth policy can come out slightly cheaper (negative differences; \
         on LQ scenarios they fall at second order under refinement, e.g. 3-D 21/31/41 \
         points: −8.2/−3.8/−2.2 %). Refine `solver.points` and `solver.steps` to separate \
         a real loss from this error. \"Its theory\": the mean path the policy's own \
         equilibrium predicts; \"played\": the mean of a population whose designers all play \
         the policy in the full model (disturbance at its best response, targets at the PDE \
         equilibrium).\n\n",
    );
    r.push_str(
        "| population | policy | J | vs PDE | max \\|m̄ − m̄_PDE\\| (its theory) | max \\|m̄ − m̄_PDE\\| (played) |\n",
    );
    r.push_str("|---|---|---:|---:|---:|---:|\n");
    for k in 0..cmp.names.len() {
        for (pi, pname) in POLICY_NAMES.iter().enumerate() {
            r.push_str(&format!(
                "| {} | {} | {:.6} | {} | {:.3e} | {:.3e} |\n",
                cmp.names[k],
                pname,
                cmp.costs[pi][k],
                if pi == 0 {
                    "—".to_string()
                } else {
                    fmt_rel(cmp.relative_loss(pi, k))
                },
                cmp.mean_distance(pi, k),
                cmp.played_distance(pi, k)
            ));
        }
    }
    r.push_str(
        "\nFor reference, the LQ model's own equilibrium value E[v_LQ(0, X)] (Riccati, \
         moment-matched initial law): ",
    );
    r.push_str(
        &cmp.riccati_cost
            .iter()
            .zip(&cmp.names)
            .map(|(c, n)| format!("{n} {c:.6}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    r.push_str(".\n\n");
    if let Fields::Modal(modes) = &cmp.fields {
        r.push_str(&modal_section(cmp, modes));
    }
    r.push_str("## Accuracy of the PDE reference\n\n");
    r.push_str(&format!(
        "{}\n",
        summary(sc, cmp, est)
            .lines()
            .skip(1)
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    ));
    r.push_str("\n## Mean trajectories\n\n");
    r.push_str(&format!(
        "Solid: full PDE; dashed: exact LQ; dotted: heuristic.\n\n![means]({})\n\n",
        name(&figs[0])
    ));
    r.push_str("## Feedback drifts at t = 0\n\n");
    let modal = matches!(cmp.fields, Fields::Modal(_));
    r.push_str(&format!(
        "| population | max \\|b_PDE − b_LQ\\| | {} under m(0) |\n|---|---:|---:|\n",
        if modal { "root mean square" } else { "mean" }
    ));
    for k in 0..cmp.names.len() {
        r.push_str(&format!(
            "| {} | {:.4e} | {:.4e} |\n",
            cmp.names[k],
            cmp.drift_difference(k),
            cmp.drift_difference_mean(k)
        ));
    }
    if modal {
        r.push_str(&format!(
            "\nThe full-game drift difference is U δ with δ_i = b_PDE,i − b_LQ,i the mode \
             differences (b_PDE,i = λ_i ∂_y v_i, b_LQ,i = λ_i(φ_i y + h_k,i)); U is \
             orthonormal, so its largest norm over the mode grids is (Σ_i max δ_i²)^½ and its \
             root mean square under m_k(0) is (Σ_i E δ_i²)^½. The figure shows |δ_i| per mode.\
             \n\n![drift]({})\n\n",
            name(&figs[1])
        ));
        r.push_str("## Where the heuristic loses\n\n");
        r.push_str(&format!(
            "v_heur,i(0, y) − v_PDE,i(0, y) per mode: the extra robust cost of a designer whose \
             copy starts at y_i = u_iᵀx on mode i and who plays the Section 7 heuristic (the \
             full field is the sum over modes).\n\n![loss]({})\n\n",
            name(&figs[2])
        ));
    } else {
        r.push_str(&format!(
            "\nb_PDE = ∇H(∇v) (the saturated optimum with bounds), b_LQ = A(φx + h_k) as the LQ \
             theory prescribes it (unclipped).\n\n![drift]({})\n\n",
            name(&figs[1])
        ));
        r.push_str("## Where the LQ policy loses\n\n");
        r.push_str(&format!(
            "v_LQ(0, x) − v_PDE(0, x): the extra robust cost of a designer starting at x who \
             plays the LQ policy (white contour: the initial population).\n\n![loss]({})\n\n",
            name(&figs[2])
        ));
    }
    r.push_str(&format!(
        "All numbers: `{}` (groups pde, lq, heuristic, {}); PDE equilibrium: `{}`. \
         Wall time {:.1} s.\n",
        name(h5),
        if modal { "modes/<i>" } else { "fields/<k>" },
        name(pde),
        start.elapsed().as_secs_f64()
    ));
    let dest = dir.join("report.md");
    let tmp = dir.join(format!(".report.md.tmp-{}", std::process::id()));
    std::fs::write(&tmp, r).map_err(|e| AppError::io(&tmp, "cannot write the report", &e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&dest, "cannot move the report into place", &e)
    })?;
    Ok(dest)
}
