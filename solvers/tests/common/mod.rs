//! Helpers shared by the solver integration tests.

#![allow(dead_code)]

use ndarray::{array, Array2, ArrayD};
use std::sync::atomic::AtomicBool;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{
    Acceleration, Control, FixedPoint, FixedPointSettings, FixedPointState, Outcome,
};
use tufield_solvers::grid::Grid;
use tufield_solvers::hamiltonian::{Channel, ControlLaw, Player};

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

/// Running and terminal cost weights (Q, S) of the 1-, 2- and 3-D test problems (symmetric
/// positive definite, with cross terms from d = 2).
pub fn cost_weights(d: usize) -> (Array2<f64>, Array2<f64>) {
    match d {
        1 => (array![[1.0]], array![[0.5]]),
        2 => (
            array![[1.0, 0.3], [0.3, 0.8]],
            array![[0.5, 0.0], [0.0, 0.3]],
        ),
        _ => (
            array![[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 0.8]],
            array![[0.5, 0.0, 0.1], [0.0, 0.3, 0.0], [0.1, 0.0, 0.4]],
        ),
    }
}

/// A skewed 1-D two-component mixture w N(m1, s1²) + (1 − w) N(m2, s2²).
pub struct SkewedMixture {
    pub w: f64,
    pub m1: f64,
    pub s1: f64,
    pub m2: f64,
    pub s2: f64,
}

impl SkewedMixture {
    /// Its mean and variance.
    pub fn moments(&self) -> (f64, f64) {
        let (w, m1, s1, m2, s2) = (self.w, self.m1, self.s1, self.m2, self.s2);
        let mean = w * m1 + (1.0 - w) * m2;
        let var = w * (s1 * s1 + m1 * m1) + (1.0 - w) * (s2 * s2 + m2 * m2) - mean * mean;
        (mean, var)
    }

    /// Its density sampled at the nodes of a 1-D grid.
    pub fn density(&self, grid: &Grid) -> ArrayD<f64> {
        let g1 = grid
            .gaussian(array![self.m1].view(), array![[self.s1 * self.s1]].view())
            .unwrap();
        let g2 = grid
            .gaussian(array![self.m2].view(), array![[self.s2 * self.s2]].view())
            .unwrap();
        &g1 * self.w + &g2 * (1.0 - self.w)
    }
}

/// A control channel of the bounded-control tests: effect `column` on the grid axes,
/// weight, bound and player.
pub fn channel(column: &[f64], weight: f64, bound: f64, player: Player) -> Channel {
    Channel {
        column: column.to_vec(),
        weight,
        bound,
        player,
        label: "test".into(),
    }
}

/// A law per dimension (1–3): designer channels bounded by `ub`, one disturbance channel
/// per axis (weight 4, γ = 2) bounded by `wb`.
pub fn mixed_law(d: usize, ub: f64, wb: f64) -> ControlLaw {
    use Player::{Designer as U, Disturbance as W};
    let mut channels = match d {
        1 => vec![channel(&[1.0], 1.0, ub, U)],
        2 => vec![
            channel(&[1.0, 1.0], 1.0, ub, U),
            channel(&[1.0, 0.0], 1.0, ub, U),
            channel(&[0.0, 1.0], 0.5, ub, U),
        ],
        _ => vec![
            channel(&[1.0, 0.0, 0.0], 1.0, ub, U),
            channel(&[1.0, 1.0, 0.0], 1.0, ub, U),
            channel(&[0.0, 1.0, 1.0], 2.0, ub, U),
            channel(&[1.0, 0.0, 1.0], 1.5, ub, U),
            channel(&[0.0, 0.0, 1.0], 1.0, ub, U),
        ],
    };
    for i in 0..d {
        let mut c = vec![0.0; d];
        c[i] = -1.0;
        channels.push(channel(&c, 4.0, wb, W));
    }
    ControlLaw { channels }
}
