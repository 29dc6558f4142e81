//! The game part of a scenario: `[game]` and the game keys of `[cost]`, the `[bounds]`
//! control channels, and the key a violation of condition (17) is reported under.

use super::checks::{count, finite, matrix, number};
use super::raw::{RawBounds, RawCost, RawGame};
use super::{Bounds, Reduction, MAX_DIM, MAX_PLAYERS};
use crate::error::{AppError, AppResult};
use crate::reduction::{self, GameSpec};
use tufield_solvers::game::{ControlWeight, DisturbanceWeight};
use tufield_solvers::hamiltonian::ControlLaw;

/// `[bounds]`: the control channels of a projected game with the allocation and
/// disturbance bounds (absent = unbounded). Bounds need a projected `[game]`: an expert A
/// has no designer/disturbance split and bounds do not separate into modes.
pub(super) fn control_law(
    src: &str,
    reduction: &Reduction,
    bounds: Option<RawBounds>,
) -> AppResult<(Option<ControlLaw>, Bounds)> {
    let (mut alloc, mut dist) = (None, None);
    if let Some(b) = bounds {
        for (key, value, slot) in [
            ("bounds.allocation", b.allocation, &mut alloc),
            ("bounds.disturbance", b.disturbance, &mut dist),
        ] {
            if let Some(v) = value {
                *slot = Some(finite(
                    src,
                    key,
                    v,
                    |x| x > 0.0,
                    "the bound must be a finite number > 0 (leave the key out for no bound)",
                )?);
            }
        }
    }
    let key = if alloc.is_some() {
        "bounds.allocation"
    } else {
        "bounds.disturbance"
    };
    let bounded = alloc.is_some() || dist.is_some();
    let bounds = Bounds {
        allocation: alloc,
        disturbance: dist,
    };
    match reduction {
        Reduction::Projected(spec) => reduction::control_law(spec, alloc, dist)
            .map(|law| (Some(law), bounds))
            .map_err(|e| AppError::from_solver(src, key, e)),
        Reduction::Modal(_) if bounded => Err(AppError::invalid(
            src,
            key,
            "bounded controls do not separate into modes; use a projected reduction \
             (game.coalitions) or remove [bounds]",
        )),
        Reduction::Expert if bounded => Err(AppError::invalid(
            src,
            key,
            "bounds need [game]: with an expert [model] A the allocation and disturbance \
             channels are not known",
        )),
        _ => Ok((None, bounds)),
    }
}

pub(super) fn ill_posed_key(reduction: &Reduction) -> &'static str {
    match reduction {
        Reduction::Expert => "model.a",
        Reduction::Projected(g) | Reduction::Modal(g) => match g.gamma {
            DisturbanceWeight::Gamma(_) => "cost.gamma",
            _ => "cost.gamma_matrix",
        },
    }
}

/// The game part of a scenario and whether it asks for the modal decomposition.
pub(super) fn game_spec(src: &str, game: RawGame, cost: &RawCost) -> AppResult<(GameSpec, bool)> {
    let modal = match game.reduction.as_deref() {
        None | Some("projection") => false,
        Some("modal") => true,
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "game.reduction",
                format!(
                    "unknown reduction {other:?}; allowed: \"projection\" (default), \"modal\""
                ),
            ))
        }
    };
    let players = game.players.ok_or_else(|| {
        AppError::invalid(
            src,
            "game.players",
            "missing; the number of players n is required",
        )
    })?;
    let n = count(src, "game.players", players, 1, MAX_PLAYERS as i64)?;
    let raw_coalitions = if modal {
        if game.coalitions.is_some() {
            return Err(AppError::invalid(
                src,
                "game.coalitions",
                "not used with reduction = \"modal\": the modal decomposition solves the full game on all q = 2ⁿ − 1 coalitions; remove `coalitions`",
            ));
        }
        reduction::all_coalitions(n).map_err(|e| AppError::from_solver(src, "game.players", e))?
    } else {
        game.coalitions.ok_or_else(|| {
            AppError::invalid(
                src,
                "game.coalitions",
                "missing; list the coalitions that become grid axes, e.g. [[1], [1, 2]]",
            )
        })?
    };
    if !modal && (raw_coalitions.is_empty() || raw_coalitions.len() > MAX_DIM) {
        return Err(AppError::invalid(
            src,
            "game.coalitions",
            format!(
                "got {} coalitions; the projection needs 1..={MAX_DIM} (one per grid axis)",
                raw_coalitions.len()
            ),
        ));
    }
    let mut coalitions: Vec<Vec<i64>> = Vec::new();
    for (i, c) in raw_coalitions.iter().enumerate() {
        let key = format!("game.coalitions[{}]", i + 1);
        if c.is_empty() {
            return Err(AppError::invalid(
                src,
                key,
                "a coalition needs at least one player",
            ));
        }
        for &p in c {
            if p < 1 || p > n as i64 {
                return Err(AppError::invalid(
                    src,
                    key,
                    format!("player {p} does not exist; players are numbered 1..={n}"),
                ));
            }
        }
        let mut members = c.clone();
        members.sort_unstable();
        if members.windows(2).any(|w| w[0] == w[1]) {
            return Err(AppError::invalid(src, key, "a player is listed twice"));
        }
        if coalitions.contains(&members) {
            return Err(AppError::invalid(
                src,
                key,
                "this coalition is listed twice",
            ));
        }
        coalitions.push(members);
    }
    let coalitions = raw_coalitions;
    let q = (1usize << n) - 1;
    let controls = n + q - 1;
    let r = match &cost.r {
        None => ControlWeight::Scalar(1.0),
        Some(v) => match number(v) {
            Some(x) => ControlWeight::Scalar(finite(
                src,
                "cost.r",
                x,
                |x| x > 0.0,
                "r (R = rI) must be a finite number > 0",
            )?),
            None => ControlWeight::Matrix(matrix(src, "cost.r", v, controls, true)?),
        },
    };
    let gamma = match (cost.gamma, &cost.gamma_matrix) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                "cost.gamma_matrix",
                "give either cost.gamma (Γ = γ²I) or cost.gamma_matrix, not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                src,
                "cost.gamma",
                "missing; the disturbance weight is required with [game]: gamma (Γ = γ²I) or gamma_matrix",
            ))
        }
        (Some(g), None) => DisturbanceWeight::Gamma(finite(src, "cost.gamma", g, |x| x > 0.0, "γ must be a finite number > 0")?),
        (None, Some(v)) => DisturbanceWeight::Matrix(matrix(src, "cost.gamma_matrix", v, q, false)?),
    };
    Ok((
        GameSpec {
            players: n,
            coalitions,
            r,
            gamma,
        },
        modal,
    ))
}
