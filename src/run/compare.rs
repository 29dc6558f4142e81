//! The comparison of `tufield compare`: the full-PDE equilibrium's policy, the exact LQ
//! equilibrium's and the paper's Section 7 heuristic, each played by a designer in the
//! full model against the best-responding disturbance — their means, robust costs, drifts
//! and loss fields ([`Comparison`]). [`compare`] evaluates a projected scenario on its
//! grid, [`modal::compare`] a modal one mode by mode; the numerics are
//! [`tufield_solvers::policy_eval`]. The file is written by [`crate::output::compare`],
//! the figures drawn by [`crate::plotting::compare`].

pub mod modal;

use crate::initial;
use crate::output::schema;
use crate::run::grid_for;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis, IxDyn};
use tufield_solvers::hamiltonian::ControlLaw;
use tufield_solvers::lq::LqEquilibrium;
use tufield_solvers::policy_eval::{evaluate_policy, node_coordinates, quadratic_policy};
use tufield_solvers::sweep::Sweeper;

/// The three policies compared, in report order (also the names of their groups in
/// `compare.h5`).
pub const POLICIES: [&str; 3] = [schema::PDE, schema::LQ, schema::HEURISTIC];

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

impl Comparison {
    /// The comparison of `sc` from its parts: the three policies' means (the PDE
    /// equilibrium's `pde_means`, the exact LQ and the consensus heuristic's of `oracle`),
    /// the costs and played means of the evaluations, the exact LQ cost of every
    /// population ([`riccati_cost`]), names, labels, `fields` and `exact_costs`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        sc: &Scenario,
        oracle: &crate::oracle::LqResults,
        pde_means: Vec<Array2<f64>>,
        costs: [Vec<f64>; 3],
        played_means: [Vec<Array2<f64>>; 3],
        fields: Fields,
        exact_costs: Option<[Vec<f64>; 2]>,
    ) -> Self {
        let exact = &oracle.exact;
        Comparison {
            time: exact.time.clone(),
            means: [
                pde_means,
                exact.populations.iter().map(|q| q.mean.clone()).collect(),
                oracle.consensus.mean.clone(),
            ],
            costs,
            played_means,
            riccati_cost: (0..sc.model.num_populations())
                .map(|k| riccati_cost(sc, exact, k))
                .collect(),
            names: sc
                .model
                .populations
                .iter()
                .map(|q| q.name.clone())
                .collect(),
            labels: sc.model.axis_labels.clone(),
            fields,
            exact_costs,
        }
    }
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

/// The three policies' means, robust costs, drifts and loss fields ([`Comparison`]).
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
    let (mut drift_pde, mut drift_lq, mut initial_fields) = (Vec::new(), Vec::new(), Vec::new());
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
        initial_fields.push(m0);
    }
    sw.set_designer_policy(None).map_err(err)?;
    Ok(Comparison::assemble(
        sc,
        &oracle,
        pde_means.to_vec(),
        costs,
        played_means,
        Fields::Grid(GridFields {
            axes: (0..d).map(|i| grid.axis(i).nodes()).collect(),
            drift_pde,
            drift_lq,
            loss,
            initial: initial_fields,
        }),
        None,
    ))
}
