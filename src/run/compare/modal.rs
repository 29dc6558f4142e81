//! `tufield compare` on a modal scenario: the full q-dimensional game (7-D for 3 players,
//! 15-D for 4) compared mode by mode.
//!
//! The modal decomposition is exact for the LQ model (docs/design.md §2), and so is the
//! policy comparison built on it ([`tufield_solvers::policy_eval::modal`]): with
//! R = rI and Γ = γ²I the designer's part B R⁻¹ Bᵀ and the disturbance's part Γ⁻¹ of A are
//! diagonal in the modes, each policy's robust value is a sum of 1-D mode values, and the
//! full game's robust cost J_k is the sum of the mode costs. Each policy — the PDE
//! equilibrium, the exact LQ equilibrium and the Section 7 heuristic, the linear ones as
//! their tabulated quadratic values — is evaluated on each mode's own PDE grid against
//! the mode's equilibrium targets, so the three carry the same discretisation and the
//! LQ policy's cost against the exact Riccati cost measures it. The means (the PDE's,
//! each theory's and the played ones) are assembled in coalition coordinates, m̄ = U ȳ,
//! as in the modal solve file.
//!
//! The PDE reference's error is estimated as for projected scenarios, by Richardson's
//! rule against every mode solved again on its grid coarsened by 2 in space and time
//! (1-D problems: a small fraction of the fine solve).

use super::{Comparison, Fields, ModeFields};
use crate::progress::ProgressMode;
use crate::reduction::GameSpec;
use crate::run::driver::Driver;
use crate::run::estimate::{ErrorEstimate, PopulationEstimate};
use crate::scenario::{Reduction, Scenario};
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use std::time::Instant;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{FixedPoint, FixedPointState, Outcome};
use tufield_solvers::game::Game;
use tufield_solvers::modal::ModalSolution;
use tufield_solvers::policy_eval::modal::{
    channel_strengths, evaluate_mode, linear_policy_cost, mode_control_laws, ModeCoefficients,
    ModeFeedback,
};
use tufield_solvers::richardson::{self as rich, Richardson};

fn game_spec(sc: &Scenario) -> AppResult<&GameSpec> {
    match &sc.reduction {
        Reduction::Modal(g) => Ok(g),
        _ => Err(AppError::invalid(
            &sc.source_name,
            "game.reduction",
            "the modal comparison needs reduction = \"modal\"",
        )),
    }
}

/// The three policies' means, robust costs, drifts and loss fields of the solved modal
/// game `sol` (module docs). `progress(message)` is called before each mode.
pub fn compare(
    sc: &Scenario,
    sol: &ModalSolution,
    progress: &mut dyn FnMut(&str),
) -> AppResult<Comparison> {
    let err = |e| AppError::from_solver(&sc.source_name, "game.reduction", e);
    let spec = game_spec(sc)?;
    let dec = &sol.decomposition;
    let q = dec.num_modes();
    let (Some(pde_means), true) = (sol.means.as_ref(), sol.modes.len() == q) else {
        return Err(AppError::invalid(
            &sc.source_name,
            "game.reduction",
            "the modal equilibrium is incomplete (a mode has no results)",
        ));
    };
    let game = Game::new(spec.players).map_err(err)?;
    let gram = game
        .gram(&spec.r)
        .map_err(|e| AppError::from_solver(&sc.source_name, "cost.r", e))?;
    let gamma_inverse = spec
        .gamma
        .inverse(q)
        .map_err(|e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e))?;
    let laws = mode_control_laws(dec, &gram, &gamma_inverse).map_err(err)?;
    let oracle = crate::oracle::compute(sc)?;
    let (exact, heur) = (&oracle.exact, &oracle.consensus);
    let p = sc.model.num_populations();
    let steps = sc.settings.steps;
    let mut costs: [Vec<f64>; 3] = std::array::from_fn(|_| vec![0.0; p]);
    let mut played: [Vec<Vec<Array1<f64>>>; 3] = Default::default();
    let mut modes = Vec::with_capacity(q);
    let mut exact_costs: [Vec<f64>; 2] = std::array::from_fn(|_| vec![0.0; p]);
    for (i, (mode, law)) in sol.modes.iter().zip(laws).enumerate() {
        progress(&format!(
            "mode {}/{q} (λ = {:.4}): robust cost of the three policies for {p} population(s)",
            i + 1,
            dec.eigenvalues()[i]
        ));
        let linear: Vec<Vec<ModeFeedback>> = (0..p)
            .map(|k| {
                vec![
                    ModeFeedback::project(dec, i, &exact.phi, &exact.populations[k].h),
                    ModeFeedback::project(dec, i, &heur.phi, &heur.h[k]),
                ]
            })
            .collect();
        let (g, d) = channel_strengths(&law);
        let coefficients = ModeCoefficients {
            g,
            d,
            q: mode.model.q[[0, 0]],
            s: mode.model.s[[0, 0]],
            sigma: mode.model.sigma,
            horizon: mode.model.horizon,
        };
        let u = dec.eigenvectors().column(i);
        for (k, pop) in mode.model.populations.iter().enumerate() {
            let target: Array1<f64> = exact.populations[k]
                .target
                .outer_iter()
                .map(|r| u.dot(&r))
                .collect();
            for (j, fb) in linear[k].iter().enumerate() {
                exact_costs[j][k] +=
                    linear_policy_cost(&coefficients, fb, &target, pop.mean[0], pop.cov[[0, 0]])
                        .map_err(err)?;
            }
        }
        let ev = evaluate_mode(mode, law, steps, &linear).map_err(err)?;
        for (pi, total) in costs.iter_mut().enumerate() {
            for (t, c) in total.iter_mut().zip(&ev.costs[pi]) {
                *t += c;
            }
            played[pi].push(ev.played_mean[pi].clone());
        }
        let nodes = mode.grid.axis(0).nodes();
        let lambda = dec.eigenvalues()[i];
        let drift_lq = (0..p)
            .map(|k| {
                let fb = &linear[k][0];
                nodes.mapv(|y| lambda * (fb.phi[0] * y + fb.h[0]))
            })
            .collect();
        let loss = [1, 2].map(|pi| {
            (0..p)
                .map(|k| &ev.value0[pi][k] - &ev.value0[0][k])
                .collect::<Vec<_>>()
        });
        modes.push(ModeFields {
            eigenvalue: lambda,
            axis: nodes,
            costs: [0, 1, 2].map(|pi| ev.costs[pi].clone()),
            drift_pde: ev.drift_pde,
            drift_lq,
            loss,
            initial: ev.initial,
        });
    }
    let mut played_means: [Vec<Array2<f64>>; 3] = Default::default();
    for pi in 0..3 {
        for k in 0..p {
            let per_mode: Vec<Array1<f64>> = played[pi].iter().map(|m| m[k].clone()).collect();
            played_means[pi].push(dec.to_coalitions(&per_mode).map_err(err)?);
        }
    }
    Ok(Comparison::assemble(
        sc,
        &oracle,
        pde_means.clone(),
        costs,
        played_means,
        Fields::Modal(modes),
        Some(exact_costs),
    ))
}

/// The PDE reference's error by Richardson's rule: every mode solved again on its grid
/// coarsened by 2 with half the time steps; the estimated errors of the cost (the sum of
/// the mode costs of the equilibrium) and of the means (m̄ = U ȳ, coarse paths
/// interpolated linearly in time). `Err(reason)` when a mode cannot be coarsened or its
/// coarse solve does not converge.
pub fn estimate(sc: &Scenario, sol: &ModalSolution) -> AppResult<Result<ErrorEstimate, String>> {
    let start = Instant::now();
    let err = |e| AppError::from_solver(&sc.source_name, "solver.error_estimate", e);
    let st = &sc.settings;
    let steps = st.steps;
    let p = sc.model.num_populations();
    let dec = &sol.decomposition;
    let Ok(coarse_steps) = rich::coarse_steps(steps) else {
        return Ok(Err(format!("{steps} time step(s) cannot be halved")));
    };
    let mut fine_cost = vec![0.0; p];
    let mut coarse_cost = vec![0.0; p];
    let mut fine_means: Vec<Vec<Array1<f64>>> = vec![Vec::new(); p];
    let mut coarse_means: Vec<Vec<Array1<f64>>> = vec![Vec::new(); p];
    let (mut iterations, mut coarse_points) = (0, 0);
    let mut rule = Richardson { order: 1 };
    for (i, mode) in sol.modes.iter().enumerate() {
        let grid = match rich::coarse_grid(&mode.grid) {
            Ok(g) => g,
            Err(e) => return Ok(Err(format!("mode {}: {e}", i + 1))),
        };
        coarse_points = grid.axis(0).len();
        let mut map = MeanFieldMap::new(&mode.model, &grid, coarse_steps, vec![0]).map_err(err)?;
        rule.order = map.scheme().order();
        let mut fp = FixedPoint::new(
            st.fixed_point(),
            map.scale(),
            FixedPointState::new(map.initial_guess()),
        )
        .map_err(err)?;
        let outcome = Driver::new(ProgressMode::Quiet, None).run_afresh(&mut map, &mut fp, err)?;
        iterations += fp.state().history.len();
        if outcome != Outcome::Converged {
            return Ok(Err(format!(
                "the coarse solve of mode {} stopped: {}",
                i + 1,
                outcome.as_str()
            )));
        }
        for k in 0..p {
            let (f, c) = (&mode.populations[k], &map.results()[k]);
            fine_cost[k] += rich::expected_cost(&mode.grid, f.value[0].view(), f.density[0].view())
                .map_err(err)?;
            coarse_cost[k] +=
                rich::expected_cost(&grid, c.value[0].view(), c.density[0].view()).map_err(err)?;
            fine_means[k].push(f.fpk.mean.column(0).to_owned());
            coarse_means[k].push(c.fpk.mean.column(0).to_owned());
        }
    }
    let mut populations = Vec::with_capacity(p);
    let mut scaled: f64 = 0.0;
    for k in 0..p {
        let mut errors: Vec<Array1<f64>> = Vec::with_capacity(dec.num_modes());
        let mut extrapolated: Vec<Array1<f64>> = Vec::with_capacity(dec.num_modes());
        for (fine, coarse) in fine_means[k].iter().zip(&coarse_means[k]) {
            let at = |l: usize| rich::at_fine_level(l, steps, coarse_steps, |j| coarse[j]);
            errors.push((0..=steps).map(|l| rule.error(fine[l], at(l))).collect());
            extrapolated.push(
                (0..=steps)
                    .map(|l| rule.extrapolated(fine[l], at(l)))
                    .collect(),
            );
        }
        for (i, e) in errors.iter().enumerate() {
            let ax = sol.modes[i].grid.axis(0);
            let width = ax.hi() - ax.lo();
            scaled = e
                .iter()
                .fold(scaled, |s: f64, v: &f64| s.max(v.abs() / width));
        }
        populations.push(PopulationEstimate {
            mean_error: dec.to_coalitions(&errors).map_err(err)?,
            mean_extrapolated: dec.to_coalitions(&extrapolated).map_err(err)?,
            cost: fine_cost[k],
            cost_error: rule.error(fine_cost[k], coarse_cost[k]),
            cost_extrapolated: rule.extrapolated(fine_cost[k], coarse_cost[k]),
        });
    }
    Ok(Ok(ErrorEstimate {
        populations,
        coarse_points: vec![coarse_points],
        coarse_steps,
        iterations,
        wall_s: start.elapsed().as_secs_f64(),
        scaled_mean_error: scaled,
        order: rule.order,
    }))
}
