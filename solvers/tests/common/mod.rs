//! Helpers shared by the solver integration tests.

#![allow(dead_code)]

use std::sync::atomic::AtomicBool;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{
    Control, FixedPoint, FixedPointSettings, FixedPointState, Outcome,
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
