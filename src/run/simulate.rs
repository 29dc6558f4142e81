//! The particle run of `tufield simulate` and `tufield paper` (docs/design.md §6): the
//! policy chosen, the particle system and its mean-field references ([`prepare`]), and the
//! copies run with progress ([`run_copies`]).

use crate::output::solution::{Solution, SolveFile};
use crate::progress::{bar_style, ProgressMode};
use crate::reduction::GameSpec;
use crate::scenario::{Reduction, Scenario};
use crate::{AppError, AppResult};
use indicatif::ProgressBar;
use ndarray::{s, Array1, Array2, ArrayD};
use std::path::{Path, PathBuf};
use tufield_solvers::equilibrium::snapshot_levels;
use tufield_solvers::game::Game;
use tufield_solvers::grid::Grid;
use tufield_solvers::lq::{exact_equilibrium, SecondOrderParams};
use tufield_solvers::model::Population;
use tufield_solvers::particles::{
    discrete_limit, internal_model_path, lq_mean_field_cost, simulate_observed, AffineFeedback,
    CostWeights, GridPolicy, LeastSquaresPolicy, LeastSquaresTarget, LqPolicy, ParticleSystem,
    Policy, Simulation, SimulationOptions,
};
use tufield_solvers::{Param, SolverError};

/// Which policy drives the copies.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyChoice {
    /// Exact LQ feedback.
    Lq,
    /// Section 8 least-squares control in the full coalition space.
    LeastSquares,
    /// Section 8.1 heuristic: least-squares control towards the internal model
    /// m̃' = −θm̃ (Table 3, (41)).
    InternalModel,
    /// Section 8.2 heuristic: Section 7 feedback Aφ(x − μ_k) towards the second-order
    /// consensus means μ_k of (43) (Table 4).
    SecondOrder,
    /// Drift from the value function of a `tufield solve` output.
    File(PathBuf),
}

impl PolicyChoice {
    /// `lq`, `least-squares` or a path.
    pub fn parse(s: &str) -> Self {
        match s {
            "lq" => PolicyChoice::Lq,
            "least-squares" | "least_squares" => PolicyChoice::LeastSquares,
            "internal-model" | "internal_model" => PolicyChoice::InternalModel,
            "second-order" | "second_order" => PolicyChoice::SecondOrder,
            p => PolicyChoice::File(PathBuf::from(p)),
        }
    }

    /// The policy as files and summaries name it.
    pub fn name(&self) -> String {
        match self {
            PolicyChoice::Lq => "lq".into(),
            PolicyChoice::LeastSquares => "least-squares".into(),
            PolicyChoice::InternalModel => "internal-model (paper's Section 8.1 heuristic)".into(),
            PolicyChoice::SecondOrder => "second-order (paper's Section 8.2 heuristic)".into(),
            PolicyChoice::File(p) => p.display().to_string(),
        }
    }
}

/// Everything needed to run the copies and compare them with the mean field.
pub struct Prepared {
    /// What is simulated.
    pub system: ParticleSystem,
    /// The drift.
    pub policy: Box<dyn Policy>,
    /// Histogram grid.
    pub grid: Grid,
    /// State coordinate on each grid axis.
    pub hist_axes: Vec<usize>,
    /// Histogram levels.
    pub snapshot_levels: Vec<usize>,
    /// Mean-field mean path per population (oracle, FPK or Euler limit).
    pub mean_field_mean: Vec<Array2<f64>>,
    /// Reference of the study's mean deviation (N → ∞ limit of the scheme).
    pub reference_mean: Vec<Array2<f64>>,
    /// Mean-field cost per population (NaN when not defined).
    pub mean_field_cost: Vec<f64>,
    /// Expected realised cost of the copies as N → ∞ at the simulation's own time step
    /// (the exact cost of the Euler chain, [`discrete_limit`]); `None` when the policy is
    /// not affine (a solve file) or the model's costs do not apply to its state.
    pub reference_cost: Option<Vec<f64>>,
    /// The affine feedback of the policy (lq, second-order): what the ε-Nash study's
    /// other copies play.
    pub feedback: Option<AffineFeedback>,
    /// FPK densities at the snapshot levels (FILE policy).
    pub fpk_density: Option<Vec<Vec<ArrayD<f64>>>>,
    /// Labels of the state axes.
    pub axis_labels: Vec<String>,
    /// What the study reference is.
    pub reference_note: &'static str,
    /// The paper's heuristic macroscopic means (internal-model and second-order policies).
    pub heuristic: Option<HeuristicMeans>,
}

/// Macroscopic means of the paper's Section 8 heuristics, stored under `/heuristic`.
#[derive(Debug, Clone)]
pub enum HeuristicMeans {
    /// Internal model m̃_k(t_n) per population (Section 8.1), shape (steps+1, q) each.
    InternalModel {
        /// θ of m̃' = −θm̃.
        theta: f64,
        /// m̃_k per population.
        mean: Vec<Array2<f64>>,
    },
    /// Second-order consensus (43) (Section 8.2).
    SecondOrder {
        /// θ, θ̃, θ̂.
        params: SecondOrderParams,
        /// μ₁ per population, shape (steps+1, q) each (one iteration of (43) per step).
        mean: Vec<Array2<f64>>,
        /// μ₂ per population.
        increment: Vec<Array2<f64>>,
        /// Spectral radius of (43)'s step matrix off the consensus value.
        spectral_radius: f64,
    },
}

/// A numerical error of the particle run as the user sees it: a bad `--copies`,
/// `--trajectories`, `--policy` or `--study` names the option, anything else the scenario key.
pub fn solver_err(sc: &Scenario, e: SolverError) -> AppError {
    match e {
        SolverError::InvalidParameter {
            field: Param::Argument(name @ ("copies" | "trajectories" | "policy" | "study")),
            message,
        } => AppError::invalid(&sc.source_name, format!("--{name}"), message),
        e => AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e),
    }
}

/// Builds the system, policy and mean-field references for `choice`.
pub fn prepare(sc: &Scenario, choice: &PolicyChoice) -> AppResult<Prepared> {
    let steps = sc.settings.steps;
    let err = |e| solver_err(sc, e);
    match choice {
        PolicyChoice::Lq => {
            let eq = exact_equilibrium(&sc.model, steps).map_err(err)?;
            let policy = LqPolicy::from_equilibrium(&sc.model, &eq).map_err(err)?;
            let system = ParticleSystem::from_model(&sc.model, steps).map_err(err)?;
            let dt = system.dt();
            let mut reference = Vec::new();
            let mut cost = Vec::new();
            for (k, pop) in sc.model.populations.iter().enumerate() {
                let law =
                    policy.euler_moments(k, pop.mean.view(), pop.cov.view(), sc.model.sigma, dt);
                reference.push(law.mean);
                let ex = &eq.populations[k];
                cost.push(lq_mean_field_cost(
                    eq.phi.slice(s![0, .., ..]),
                    ex.h.row(0),
                    ex.chi[0],
                    pop.mean.view(),
                    pop.cov.view(),
                ));
            }
            let grid = histogram_grid(sc)?;
            let feedback = policy.affine_feedback();
            let limit = discrete_limit(&system, &feedback).map_err(err)?;
            Ok(Prepared {
                system,
                policy: Box::new(policy),
                hist_axes: (0..grid.dim()).collect(),
                grid,
                snapshot_levels: snapshot_levels(steps, sc.settings.snapshot_every()),
                mean_field_mean: eq.populations.iter().map(|p| p.mean.clone()).collect(),
                reference_mean: reference,
                mean_field_cost: cost,
                reference_cost: limit.cost,
                feedback: Some(feedback),
                fpk_density: None,
                axis_labels: sc.model.axis_labels.clone(),
                reference_note: "exact mean of the Euler–Maruyama chain under the LQ feedback",
                heuristic: None,
            })
        }
        PolicyChoice::LeastSquares => prepare_least_squares(sc, false),
        PolicyChoice::InternalModel => prepare_least_squares(sc, true),
        PolicyChoice::SecondOrder => prepare_second_order(sc),
        PolicyChoice::File(path) => prepare_file(sc, path),
    }
}

/// Histogram grid: the scenario's solver grid; for a modal scenario (one 1-D grid per
/// mode, no q-dimensional grid) a 1-D grid on coalition axis 0 spanning every population's
/// mean ± 6 std and the origin (states outside are clamped by the deposit).
fn histogram_grid(sc: &Scenario) -> AppResult<Grid> {
    if !sc.is_modal() {
        return crate::run::grid_for(sc);
    }
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for p in &sc.model.populations {
        let sd = p.cov[[0, 0]].max(0.0).sqrt();
        lo = lo.min(p.mean[0] - 6.0 * sd);
        hi = hi.max(p.mean[0] + 6.0 * sd);
    }
    if let Some(v) = sc.internal_model_mean.as_ref().and_then(|v| v.first()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let pad = 0.05 * (hi - lo).max(1e-6);
    let points = sc.settings.points_per_axis(1);
    Grid::from_bounds(&[lo - pad], &[hi + pad], &points)
        .map_err(|e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e))
}

fn prepare_second_order(sc: &Scenario) -> AppResult<Prepared> {
    let err = |e| solver_err(sc, e);
    let steps = sc.settings.steps;
    let eq = exact_equilibrium(&sc.model, steps).map_err(err)?;
    let (params, cons) = sc.second_order_consensus().map_err(err)?;
    let policy = LqPolicy::towards(sc.model.a.clone(), eq.phi.clone(), &cons.mean).map_err(err)?;
    // The heuristic is charged the game's costs (Q, S and −½bᵀA⁻¹b) against the
    // empirical target, like the equilibrium feedback.
    let system = ParticleSystem::from_model(&sc.model, steps).map_err(err)?;
    let feedback = policy.affine_feedback();
    let reference_cost = discrete_limit(&system, &feedback).map_err(err)?.cost;
    let dt = system.dt();
    let limit: Vec<Array2<f64>> = sc
        .model
        .populations
        .iter()
        .enumerate()
        .map(|(k, pop)| {
            policy
                .euler_moments(k, pop.mean.view(), pop.cov.view(), sc.model.sigma, dt)
                .mean
        })
        .collect();
    let grid = histogram_grid(sc)?;
    Ok(Prepared {
        system,
        policy: Box::new(policy),
        hist_axes: (0..grid.dim()).collect(),
        grid,
        snapshot_levels: snapshot_levels(steps, sc.settings.snapshot_every()),
        mean_field_mean: limit.clone(),
        reference_mean: limit,
        mean_field_cost: vec![f64::NAN; sc.model.num_populations()],
        reference_cost,
        feedback: Some(feedback),
        fpk_density: None,
        axis_labels: sc.model.axis_labels.clone(),
        reference_note: "exact mean of the Euler chain under the second-order heuristic feedback",
        heuristic: Some(HeuristicMeans::SecondOrder {
            params,
            mean: cons.mean,
            increment: cons.increment,
            spectral_radius: cons.spectral_radius,
        }),
    })
}

fn prepare_least_squares(sc: &Scenario, internal_model: bool) -> AppResult<Prepared> {
    let err = |e| solver_err(sc, e);
    let spec: &GameSpec = match &sc.reduction {
        Reduction::Projected(spec) | Reduction::Modal(spec) => spec,
        Reduction::Expert => {
            return Err(AppError::invalid(
                &sc.source_name,
                "--policy",
                "least-squares acts on the full coalition space and needs a scenario with a \
                 [game] table (this one gives A directly)",
            ))
        }
    };
    let game = Game::new(spec.players).map_err(err)?;
    let q = game.num_coalitions();
    let selection = spec
        .coalitions
        .iter()
        .map(|c| game.index_of(c))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(err)?;
    let populations: Vec<Population> = sc
        .model
        .populations
        .iter()
        .map(|p| {
            let mut mean = Array1::zeros(q);
            let mut cov = Array2::zeros((q, q));
            for (a, &i) in selection.iter().enumerate() {
                mean[i] = p.mean[a];
                for (b, &j) in selection.iter().enumerate() {
                    cov[[i, j]] = p.cov[[a, b]];
                }
            }
            Population {
                name: p.name.clone(),
                mean,
                cov,
            }
        })
        .collect();
    let steps = sc.settings.steps;
    let averaging = sc.model.graph.averaging_matrix();
    let system = ParticleSystem {
        sigma: sc.model.sigma,
        horizon: sc.model.horizon,
        steps,
        populations,
        averaging: averaging.clone(),
        cost: full_space_costs(sc, &selection, q)?,
        initial: Vec::new(),
        allocation_core: None,
    };
    let m0: Vec<Array1<f64>> = system.populations.iter().map(|p| p.mean.clone()).collect();
    let (target, heuristic) = if internal_model {
        let starts: Vec<Array1<f64>> = match &sc.internal_model_mean {
            Some(v) if v.len() != q => {
                return Err(AppError::invalid(
                    &sc.source_name,
                    "heuristic.internal_model_mean",
                    format!("needs {q} numbers (one per coalition), got {}", v.len()),
                ))
            }
            Some(v) => vec![Array1::from(v.clone()); m0.len()],
            None => m0.clone(),
        };
        let paths = starts
            .iter()
            .map(|m| internal_model_path(m.view(), sc.theta, system.dt(), steps))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        (
            LeastSquaresTarget::Given(paths.clone()),
            Some(HeuristicMeans::InternalModel {
                theta: sc.theta,
                mean: paths,
            }),
        )
    } else {
        (LeastSquaresTarget::Empirical, None)
    };
    let policy = LeastSquaresPolicy::new(spec.players, target).map_err(err)?;
    let limit = policy.euler_means(&m0, &averaging, system.dt(), steps);
    let reference_cost = if system.cost.is_some() {
        let feedback = policy.affine_feedback(system.populations.len(), steps);
        discrete_limit(&system, &feedback).map_err(err)?.cost
    } else {
        None
    };
    let grid = histogram_grid(sc)?;
    Ok(Prepared {
        system,
        policy: Box::new(policy),
        grid,
        hist_axes: if sc.is_modal() { vec![0] } else { selection },
        snapshot_levels: snapshot_levels(steps, sc.settings.snapshot_every()),
        mean_field_mean: limit.clone(),
        reference_mean: limit,
        mean_field_cost: vec![f64::NAN; sc.model.num_populations()],
        reference_cost,
        feedback: None,
        fpk_density: None,
        axis_labels: game.labels(),
        reference_note: "exact mean of the Euler chain under the least-squares control",
        heuristic,
    })
}

/// The game's cost weights in the full coalition space of the least-squares control when
/// the scenario's axes are all q coalitions (a modal scenario; `selection[a]` is the
/// coalition of scenario axis a): Q, S and K = −A⁻¹ permuted to the game's order. `None`
/// when the scenario keeps fewer coalitions (its costs do not price the other axes).
fn full_space_costs(
    sc: &Scenario,
    selection: &[usize],
    q: usize,
) -> AppResult<Option<CostWeights>> {
    if selection.len() != q {
        return Ok(None);
    }
    let mut w = CostWeights::from_model(&sc.model).map_err(|e| solver_err(sc, e))?;
    let permute = |m: &Array2<f64>| {
        let mut out = Array2::zeros((q, q));
        for (a, &i) in selection.iter().enumerate() {
            for (b, &j) in selection.iter().enumerate() {
                out[[i, j]] = m[[a, b]];
            }
        }
        out
    };
    w.q = permute(&w.q);
    w.s = permute(&w.s);
    w.drift = permute(&w.drift);
    Ok(Some(w))
}

fn prepare_file(sc: &Scenario, path: &Path) -> AppResult<Prepared> {
    let err = |e| solver_err(sc, e);
    let sol = read_solution(sc, path)?;
    let policy = GridPolicy::new(
        sc.model.a.clone(),
        sol.grid.clone(),
        sol.levels.clone(),
        &sol.values,
    )
    .map_err(|e| match e {
        SolverError::InvalidParameter { message, .. } => {
            AppError::invalid(path.display().to_string(), "--policy", message)
        }
        e => err(e),
    })?
    .with_controls(sc.model.controls.clone().filter(|l| l.is_bounded()));
    // The copies' realised cost includes the core penalty and, with bounds, the channel
    // control cost of the saturated feedback: it estimates the PDE value ∫ v(0) m(0).
    let system = ParticleSystem::from_model(&sc.model, sc.settings.steps).map_err(err)?;
    let cell = sol.grid.cell_volume();
    let cost: Vec<f64> = sol
        .values
        .iter()
        .zip(&sol.densities)
        .map(|(v, m)| (&v[0] * &m[0]).sum() * cell)
        .collect();
    Ok(Prepared {
        system,
        policy: Box::new(policy),
        hist_axes: (0..sol.grid.dim()).collect(),
        grid: sol.grid,
        snapshot_levels: sol.levels,
        mean_field_mean: sol.means.clone(),
        reference_mean: sol.means,
        mean_field_cost: cost,
        reference_cost: None,
        feedback: None,
        fpk_density: Some(sol.densities),
        axis_labels: sc.model.axis_labels.clone(),
        reference_note: "FPK mean of the solve file (includes its discretisation error)",
        heuristic: None,
    })
}

/// The `tufield solve` file `path` read back for the drift field, refused (naming
/// `--policy`) when it was solved for another model or number of time steps.
fn read_solution(sc: &Scenario, path: &Path) -> AppResult<Solution> {
    let file = SolveFile::open(path)?;
    let text = file.scenario()?;
    let old = Scenario::from_text(&path.display().to_string(), &sc.name, &text, &[])
        .map_err(|_| file.bad("its stored scenario no longer loads".into()))?;
    if old.model != sc.model {
        return Err(file.bad(
            "the solution was computed for a different model than this scenario (with its \
             --set overrides); simulate the scenario it was solved for"
                .into(),
        ));
    }
    if old.settings.steps != sc.settings.steps {
        return Err(file.bad(format!(
            "the solution has {} time steps, this run {}; pass --set solver.steps={}",
            old.settings.steps, sc.settings.steps, old.settings.steps
        )));
    }
    file.read(sc.dim(), sc.model.num_populations(), sc.settings.steps)
}

/// Progress of the copies: a bar on a terminal, a line every 10 % otherwise.
struct SimProgress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    steps: usize,
    label: String,
    last_decile: usize,
}

impl SimProgress {
    fn new(mode: ProgressMode, steps: usize, label: String) -> Self {
        let bar = (mode == ProgressMode::Bars).then(|| {
            let b = ProgressBar::new(steps as u64 + 1);
            b.set_style(bar_style(
                "{msg} {bar:30.cyan/blue} {pos:>6}/{len:6} levels {elapsed_precise}",
            ));
            b.set_message(label.clone());
            b
        });
        SimProgress {
            mode,
            bar,
            steps,
            label,
            last_decile: 0,
        }
    }

    fn level(&mut self, level: usize) {
        match self.mode {
            ProgressMode::Bars => {
                if let Some(b) = &self.bar {
                    b.set_position(level as u64 + 1);
                }
            }
            ProgressMode::Lines => {
                let decile = (10 * level) / self.steps.max(1);
                if decile > self.last_decile || level == self.steps {
                    self.last_decile = decile;
                    eprintln!(
                        "{}: level {level}/{} ({}%)",
                        self.label,
                        self.steps,
                        10 * decile
                    );
                }
            }
            ProgressMode::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Runs `prep` with `options`, showing progress.
/// Runs the copies of `prep` with `options`, with a progress bar labelled `label`.
pub fn run_copies(
    sc: &Scenario,
    prep: &Prepared,
    options: &SimulationOptions,
    mode: ProgressMode,
    label: String,
) -> AppResult<Simulation> {
    let mut progress = SimProgress::new(mode, prep.system.steps, label);
    let res = simulate_observed(&prep.system, prep.policy.as_ref(), options, &mut |l| {
        progress.level(l)
    });
    progress.finish();
    res.map_err(|e| solver_err(sc, e))
}
