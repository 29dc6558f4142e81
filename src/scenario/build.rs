//! Validation and construction: the raw scenario checked against the dimension d and
//! turned into the solvers [`Model`] and the [`Scenario`].

use super::checks::{finite, matrix, square_matrix};
use super::game::{control_law, game_spec, ill_posed_key};
use super::graph::graph;
use super::output_settings::output_settings;
use super::population::population_any;
use super::raw::RawScenario;
use super::solver_settings::solver_settings;
use super::{
    paper, values, Reduction, Scenario, DEFAULT_THETA, DEFAULT_THETA_HAT, DEFAULT_THETA_TILDE,
};
use crate::error::{AppError, AppResult};
use crate::reduction;
use std::path::Path;
use tufield_solvers::linalg::{is_symmetric, symmetric_eigenvalues};
use tufield_solvers::modal::ModalDecomposition;
use tufield_solvers::model::Model;

/// Longest horizon T accepted (`horizon.t`): the exact LQ oracle integrates over [0, T]
/// at a cost linear in T.
pub const MAX_HORIZON: f64 = 1e4;

pub(super) fn build(src: &str, mut raw: RawScenario, base: &Path) -> AppResult<Scenario> {
    let raw_values = raw.game.as_mut().and_then(|g| g.values.take());
    let (reduction, a, labels, min_gamma) = match (raw.game, raw.model) {
        (None, None) => {
            return Err(AppError::invalid(
                src,
                "game",
                "missing; give [game] (players and coalitions) or [model] (an expert A), exactly one of them",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "model",
                "[model] cannot be combined with [game]; give exactly one of them",
            ))
        }
        (None, Some(model)) => {
            for (key, given) in [
                ("cost.r", raw.cost.r.is_some()),
                ("cost.gamma", raw.cost.gamma.is_some()),
                ("cost.gamma_matrix", raw.cost.gamma_matrix.is_some()),
            ] {
                if given {
                    return Err(AppError::invalid(
                        src,
                        key,
                        "only used with [game] (with [model] the matrix A is given directly); remove it",
                    ));
                }
            }
            let a = square_matrix(src, "model.a", &model.a)?;
            if !is_symmetric(&a) {
                return Err(AppError::invalid(
                    src,
                    "model.a",
                    "matrix must be symmetric (A = −B R⁻¹ Bᵀ + Γ⁻¹ always is)",
                ));
            }
            let d = a.nrows();
            let labels = match model.labels {
                Some(l) if l.len() != d => {
                    return Err(AppError::invalid(
                        src,
                        "model.labels",
                        format!("expected {d} labels (one per axis of A), got {}", l.len()),
                    ))
                }
                Some(l) => l,
                None => (1..=d).map(|i| format!("x{i}")).collect(),
            };
            (Reduction::Expert, a, labels, None)
        }
        (Some(game), None) => {
            let (spec, modal) = game_spec(src, game, &raw.cost)?;
            let reduction = if modal {
                Reduction::Modal(spec.clone())
            } else {
                Reduction::Projected(spec.clone())
            };
            let red = reduction::reduce(&spec)
                .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?;
            (reduction, red.a, red.axis_labels, red.min_gamma)
        }
    };
    let values = match (&reduction, raw_values) {
        (Reduction::Projected(g) | Reduction::Modal(g), Some(t)) => {
            Some(values::parse(src, g.players, t)?)
        }
        _ => None,
    };
    let d = a.nrows();
    let is_modal = matches!(reduction, Reduction::Modal(_));
    let q = matrix(src, "cost.q", &raw.cost.q, d, true)?;
    let s = matrix(src, "cost.s", &raw.cost.s, d, true)?;
    let sigma = finite(
        src,
        "noise.sigma",
        raw.noise.sigma,
        |x| x >= 0.0,
        "σ must be a finite number ≥ 0",
    )?;
    let horizon = finite(
        src,
        "horizon.t",
        raw.horizon.t,
        |x| x > 0.0 && x <= MAX_HORIZON,
        "T must be a finite number in (0, 10000]: the exact LQ oracle that every command \
         computes integrates over the horizon, at a cost linear in T (T = 10⁵ takes half a \
         minute), and the equilibrium is stationary long before",
    )?;

    let core_penalty = match raw.cost.core_penalty {
        Some(k) => finite(
            src,
            "cost.core_penalty",
            k,
            |x| x >= 0.0,
            "κ must be a finite number ≥ 0",
        )?,
        None => 0.0,
    };
    if core_penalty > 0.0 && is_modal {
        return Err(AppError::invalid(
            src,
            "cost.core_penalty",
            "the core-stability cost does not separate into modes; use a projected reduction \
             (game.coalitions) or core_penalty = 0",
        ));
    }
    let (controls, bounds) = control_law(src, &reduction, raw.bounds)?;
    let settings = solver_settings(src, raw.solver, if is_modal { 1 } else { d }, is_modal)?;
    let settings_order = settings.scheme.order();
    if raw.population.is_empty() {
        return Err(AppError::invalid(
            src,
            "population",
            "missing; at least one [[population]] table (mean and std or cov) is required",
        ));
    }
    let mut populations = Vec::with_capacity(raw.population.len());
    let mut initial = Vec::with_capacity(raw.population.len());
    for (k, p) in raw.population.into_iter().enumerate() {
        let kind = p.kind.clone().unwrap_or_else(|| "gaussian".to_string());
        if kind != "gaussian" && is_modal {
            return Err(AppError::invalid(
                src,
                format!("population[{}].kind", k + 1),
                "modal scenarios need Gaussian populations (each mode's marginal is Gaussian)",
            ));
        }
        let (pop, spec) = population_any(src, k, p, d, &settings, base)?;
        populations.push(pop);
        initial.push(spec);
    }
    let (graph, graph_kind) = graph(src, raw.graph, populations.len())?;
    let theta = match raw.heuristic.theta {
        Some(x) => finite(
            src,
            "heuristic.theta",
            x,
            |x| x >= 0.0,
            "θ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA,
    };
    let theta_tilde = match raw.heuristic.theta_tilde {
        Some(x) => finite(
            src,
            "heuristic.theta_tilde",
            x,
            |x| x >= 0.0,
            "θ̃ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA_TILDE,
    };
    let theta_hat = match raw.heuristic.theta_hat {
        Some(x) => finite(
            src,
            "heuristic.theta_hat",
            x,
            |x| x >= 0.0,
            "θ̂ must be a finite number ≥ 0",
        )?,
        None => DEFAULT_THETA_HAT,
    };
    let internal_model_mean = match raw.heuristic.internal_model_mean {
        Some(v) => {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(AppError::invalid(
                    src,
                    "heuristic.internal_model_mean",
                    "entries must be finite numbers",
                ));
            }
            Some(v)
        }
        None => None,
    };

    let model = Model::builder(a)
        .axis_labels(labels)
        .q(q)
        .s(s)
        .sigma(sigma)
        .horizon(horizon)
        .populations(populations)
        .graph(graph)
        .core_penalty(core_penalty)
        .controls(controls)
        .build()
        .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?;
    let modal = if is_modal {
        Some(
            ModalDecomposition::new(&model)
                .map_err(|e| AppError::from_solver(src, ill_posed_key(&reduction), e))?,
        )
    } else {
        None
    };
    let margin = -symmetric_eigenvalues(&model.a)
        .map_err(|e| AppError::from_solver(src, "model.a", e))?
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Scenario {
        source_name: src.to_string(),
        name: raw.name.unwrap_or_default(),
        description: raw.description.unwrap_or_default(),
        reduction,
        model,
        modal,
        settings,
        theta,
        theta_tilde,
        theta_hat,
        internal_model_mean,
        graph_kind,
        margin,
        min_gamma,
        text: String::new(),
        overrides: Vec::new(),
        initial,
        base_dir: base.to_path_buf(),
        bounds,
        values,
        output: output_settings(src, raw.output, settings_order)?,
        paper: raw.paper.map(|p| paper::parse(src, p)).transpose()?,
    })
}
