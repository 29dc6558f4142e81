//! The grid of a projected scenario.

use crate::scenario::Scenario;
use crate::settings::Domain;
use crate::{AppError, AppResult};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};

/// The grid of a scenario: `solver.points` per axis on the `solver.domain` box.
pub fn grid_for(sc: &Scenario) -> AppResult<Grid> {
    if sc.is_modal() {
        return Err(AppError::invalid(
            &sc.source_name,
            "game.reduction",
            "a modal scenario has one 1-D grid per mode, not a single grid",
        ));
    }
    let d = sc.dim();
    let points = sc.settings.points_per_axis(d);
    let map = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    match &sc.settings.domain {
        Domain::Auto => Grid::auto(&sc.model, &points, DEFAULT_STD_MULTIPLE).map_err(map),
        Domain::Explicit(b) => {
            let lo: Vec<f64> = b.iter().map(|p| p.0).collect();
            let hi: Vec<f64> = b.iter().map(|p| p.1).collect();
            Grid::from_bounds(&lo, &hi, &points).map_err(map)
        }
    }
}
