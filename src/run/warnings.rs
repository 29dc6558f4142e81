//! Warnings before silent error, printed by `check` and `solve`: when the time step is too
//! large for the fastest mode of the closed-loop dynamics, the grid spacing too coarse
//! for a population's spread, or (second-order scheme) so coarse for the drift that the
//! scheme upwinds, first order, where a population carries mass (docs/design.md §5). Each names the setting to change and
//! the value that would silence it. The quantities come from the exact LQ oracle (for a
//! model beyond LQ, from its LQ approximation): the closed-loop matrix A·φ(t) and the
//! covariances Σ_k(t).
//!
//! (The third warning, an estimated discretisation error far above `solver.tol`, needs the
//! solve's error estimate ([`super::estimate`]) and is printed by `tufield solve`'s summary.)

use crate::run::grid_for;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};
use tufield_solvers::lq::{exact_equilibrium, LqEquilibrium};
use tufield_solvers::resolution::{fastest_closed_loop_rate, steps_for_rate, upwinded_share};
use tufield_solvers::scheme::SchemeKind;

/// Largest |λ|·dt for the fastest closed-loop mode before a warning.
pub const MAX_RATE_DT: f64 = 0.5;

/// Fewest grid cells per standard deviation of a population before a warning.
pub const MIN_STD_PER_CELL: f64 = 3.0;

/// Largest share of a population's mass in cells where the second-order scheme upwinds
/// (cell Péclet number above 2) before a warning.
pub const MAX_UPWINDED_SHARE: f64 = 0.01;

/// Most time levels on which `check` samples φ(t) and Σ_k(t) (long horizons with many
/// steps would otherwise make `check` as slow as `tufield lq`).
pub const CHECK_LEVELS: usize = 200;

/// The warnings for this scenario, computing its exact LQ equilibrium on at most
/// [`CHECK_LEVELS`] levels (for `check`; `solve` passes the oracle it computes anyway).
pub fn check_warnings(sc: &Scenario) -> AppResult<Vec<String>> {
    let exact = exact_equilibrium(&sc.model, sc.settings.steps.min(CHECK_LEVELS))
        .map_err(|e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e))?;
    warnings(sc, &exact)
}

/// The warnings for this scenario and its exact LQ equilibrium (one line each, starting
/// with "warning:").
pub fn warnings(sc: &Scenario, oracle: &LqEquilibrium) -> AppResult<Vec<String>> {
    let mut out = Vec::new();
    let err = |key: &'static str| move |e| AppError::from_solver(&sc.source_name, key, e);
    let st = &sc.settings;
    let t = sc.model.horizon;
    let dt = t / st.steps as f64;
    let rate =
        fastest_closed_loop_rate(&sc.model.a, &oracle.phi).map_err(err(sc.ill_posed_key()))?;
    if rate * dt > MAX_RATE_DT {
        out.push(format!(
            "warning: the time step dt = {dt:.3e} is too large for the fastest mode of the \
             closed-loop dynamics (|λ| = {rate:.3} for the eigenvalues of A·φ(t), |λ|·dt = \
             {:.2} > {MAX_RATE_DT}): the {} scheme's time stepping gets it wrong without \
             saying so; raise solver.steps to at least {}",
            rate * dt,
            sc.settings.scheme.name(),
            steps_for_rate(rate, t, MAX_RATE_DT)
        ));
    }
    if let Some(w) = spread_warning(sc, oracle)? {
        out.push(w);
    }
    if let Some(w) = peclet_warning(sc, oracle)? {
        out.push(w);
    }
    Ok(out)
}

/// The second-order scheme's upwinded mass (cell Péclet number |b_i|h_i/(σ²/2) > 2 where
/// a population is), warned about above [`MAX_UPWINDED_SHARE`] of a population's mass.
fn peclet_warning(sc: &Scenario, oracle: &LqEquilibrium) -> AppResult<Option<String>> {
    if sc.settings.scheme != SchemeKind::SecondOrder || sc.is_modal() {
        return Ok(None);
    }
    let grid = grid_for(sc)?;
    let d = grid.dim();
    let spacing: Vec<f64> = (0..d).map(|i| grid.axis(i).spacing()).collect();
    let pops: Vec<_> = oracle
        .populations
        .iter()
        .map(|p| (&p.mean, &p.h, &p.cov))
        .collect();
    let sigma = sc.model.sigma;
    let w = upwinded_share(
        &sc.model.a,
        sigma,
        &spacing,
        &oracle.phi,
        &pops,
        MAX_UPWINDED_SHARE,
    )
    .map_err(|e| AppError::from_solver(&sc.source_name, "solver.points", e))?;
    if w.share <= MAX_UPWINDED_SHARE {
        return Ok(None);
    }
    let i = w.axis;
    let t = oracle.time[w.level];
    let remedy = if sigma > 0.0 {
        let need = (0..d)
            .map(|j| {
                let h = w.spacing_for_target[j];
                let ax = grid.axis(j);
                if h.is_finite() {
                    ((ax.hi() - ax.lo()) / h).ceil() as usize + 1
                } else {
                    ax.len()
                }
            })
            .max()
            .unwrap_or(0);
        format!("raise solver.points to at least {need} (or noise.sigma)")
    } else {
        "without noise (noise.sigma = 0) the scheme upwinds everywhere; use \
         solver.scheme = \"monotone\" or give noise.sigma > 0"
            .to_string()
    };
    Ok(Some(format!(
        "warning: the second-order scheme differences the drift upwind, at first order, where \
         the cell Péclet number |b|h/(σ²/2) exceeds 2, and {:.1} % of population {} ({:?}) is \
         in such cells on {} at t = {t:.3} (spacing {:.3e}, σ = {sigma}): its second order is \
         lost there; {remedy}",
        100.0 * w.share,
        w.population + 1,
        sc.model.populations[w.population].name,
        sc.model.axis_labels[i],
        spacing[i],
    )))
}

/// The worst population spread per grid cell, warned about below [`MIN_STD_PER_CELL`].
fn spread_warning(sc: &Scenario, oracle: &LqEquilibrium) -> AppResult<Option<String>> {
    let err = |e| AppError::from_solver(&sc.source_name, "solver.points", e);
    // Per axis (or mode): its grid, and the variance of population k at level n along it.
    let (grids, labels, directions): (Vec<Grid>, Vec<String>, Vec<Option<Vec<f64>>>) =
        match &sc.modal {
            Some(dec) => {
                let points = sc.settings.points_per_axis(1)[0];
                let mut grids = Vec::new();
                for i in 0..dec.num_modes() {
                    let mm = dec.mode_model(i).map_err(err)?;
                    grids.push(Grid::auto(&mm, &[points], DEFAULT_STD_MULTIPLE).map_err(err)?);
                }
                let labels = (1..=dec.num_modes()).map(|i| format!("mode {i}")).collect();
                let dirs = (0..dec.num_modes())
                    .map(|i| Some(dec.eigenvectors().column(i).to_vec()))
                    .collect();
                (grids, labels, dirs)
            }
            None => {
                let grid = grid_for(sc)?;
                let d = grid.dim();
                let grids = (0..d)
                    .map(|i| Grid::new(vec![grid.axis(i).clone()]).map_err(err))
                    .collect::<AppResult<Vec<_>>>()?;
                (grids, sc.model.axis_labels.clone(), vec![None; d])
            }
        };
    // (ratio, population, axis, std, h)
    let mut worst: Option<(f64, usize, usize, f64, f64)> = None;
    let mut need = 0usize;
    for (k, pop) in oracle.populations.iter().enumerate() {
        for (i, (g, dir)) in grids.iter().zip(&directions).enumerate() {
            let ax = g.axis(0);
            let var = pop
                .cov
                .outer_iter()
                .map(|c| match dir {
                    None => c[[i, i]],
                    Some(u) => {
                        let n = u.len();
                        (0..n)
                            .map(|a| (0..n).map(|b| u[a] * c[[a, b]] * u[b]).sum::<f64>())
                            .sum()
                    }
                })
                .fold(f64::INFINITY, f64::min);
            let std = var.max(0.0).sqrt();
            let h = ax.spacing();
            // A population without spread (no noise, point-mass start) is a point mass on
            // every grid: nothing to resolve, nothing to warn about.
            if std <= 1e-9 * (ax.hi() - ax.lo()) {
                continue;
            }
            let ratio = std / h;
            if ratio < MIN_STD_PER_CELL {
                let width = ax.hi() - ax.lo();
                need = need.max((MIN_STD_PER_CELL * width / std.max(1e-300)).ceil() as usize + 1);
                if worst.is_none_or(|w| ratio < w.0) {
                    worst = Some((ratio, k, i, std, h));
                }
            }
        }
    }
    Ok(worst.map(|(ratio, k, i, std, h)| {
        format!(
            "warning: the grid is too coarse for the spread of population {} ({:?}): \
             standard deviation {std:.3e} on {} against a spacing of {h:.3e} (std/h = \
             {ratio:.2} < {MIN_STD_PER_CELL}); the {} scheme smears such a density; \
             raise solver.points to at least {need}{}",
            k + 1,
            sc.model.populations[k].name,
            labels[i],
            sc.settings.scheme.name(),
            if sc.is_modal() { " (per mode)" } else { "" }
        )
    }))
}
