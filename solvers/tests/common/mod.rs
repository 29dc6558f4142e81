//! Helpers shared by the solver integration tests.

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{
    Acceleration, Control, FixedPoint, FixedPointSettings, FixedPointState, Outcome,
};

/// Runs the mean-field fixed point of `map` from `x0`; returns the outcome, the number of
/// iterations and the last image G(x) (the stacked mean paths).
pub fn run_fixed_point(
    map: &mut MeanFieldMap,
    settings: FixedPointSettings,
    x0: Vec<f64>,
) -> (Outcome, usize, Vec<f64>) {
    let mut fp = FixedPoint::new(settings, map.scale(), FixedPointState::new(x0)).unwrap();
    let mut last = Vec::new();
    let outcome = fp
        .run(
            &mut |x: &[f64]| map.evaluate(x, &mut |_| {}),
            &mut |_, _, g: &[f64]| {
                last = g.to_vec();
                Control::Continue
            },
            &AtomicBool::new(false),
        )
        .unwrap();
    (outcome, fp.state().history.len(), last)
}

/// The converged mean paths of `map` (Anderson depth 5 from the initial guess, tol
/// 1e-10), asserting convergence, mass to 1e-12 and less than 1e-8 of the mass on the walls.
pub fn converged_means(map: &mut MeanFieldMap, what: &str) -> Vec<f64> {
    let settings = FixedPointSettings {
        tol: 1e-10,
        max_iter: 200,
        acceleration: Acceleration::Anderson { depth: 5 },
        ..Default::default()
    };
    let x0 = map.initial_guess();
    let (outcome, _, last) = run_fixed_point(map, settings, x0);
    assert_eq!(outcome, Outcome::Converged, "{what}");
    assert!(
        map.mass_error() < 1e-12,
        "{what}: mass {}",
        map.mass_error()
    );
    eprintln!("{what}: boundary mass {:.2e}", map.boundary_mass());
    assert!(
        map.boundary_mass() < 1e-8,
        "{what}: walls felt: {}",
        map.boundary_mass()
    );
    last
}
