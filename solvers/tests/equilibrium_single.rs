//! Single-population LQ equilibrium: the exact mean is constant, m̄(t) = m̄(0) (docs/design.md §3).
//! Started from a perturbed guess, the fixed point must return to it within the
//! discretisation error, and that error must fall under refinement.

mod common;

use ndarray::array;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::fixed_point::{Acceleration, FixedPointSettings, Outcome};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};
use tufield_solvers::model::{Model, Population};

fn model_1d() -> Model {
    Model::builder(array![[-0.75]])
        .axis_labels(vec!["x1".into()])
        .q(array![[1.0]])
        .s(array![[1.0]])
        .sigma(0.3)
        .population(Population {
            name: "p".into(),
            mean: array![0.5],
            cov: array![[0.04]],
        })
        .build()
        .unwrap()
}

/// Solves the equilibrium from a perturbed guess; returns (outcome, iterations, max |m̄(t) − m̄(0)|).
fn solve(points: usize, steps: usize, acceleration: Acceleration) -> (Outcome, usize, f64) {
    let model = model_1d();
    let grid = Grid::auto(&model, &[points], DEFAULT_STD_MULTIPLE).unwrap();
    let mut map = MeanFieldMap::new(&model, &grid, steps, snapshot_levels(steps, steps)).unwrap();
    let mut x0 = map.initial_guess();
    for (n, v) in x0.iter_mut().enumerate() {
        let t = n as f64 / steps as f64;
        *v += 0.3 * (3.0 * t).sin();
    }
    let settings = FixedPointSettings {
        damping: 1.0,
        tol: 1e-10,
        max_iter: 200,
        acceleration,
        ..Default::default()
    };
    let (outcome, iterations, last) = common::run_fixed_point(&mut map, settings, x0);
    let err = last.iter().map(|m| (m - 0.5).abs()).fold(0.0, f64::max);
    assert!(map.mass_error() < 1e-12, "mass error {}", map.mass_error());
    (outcome, iterations, err)
}

#[test]
fn single_population_mean_returns_to_its_initial_value() {
    let mut errors = Vec::new();
    for &(points, steps) in &[(51, 25), (101, 50), (201, 100)] {
        let (outcome, iters, err) = solve(points, steps, Acceleration::Anderson { depth: 5 });
        eprintln!("points {points:4} steps {steps:4}: {outcome:?} after {iters} iterations, max |m̄(t) − m̄(0)| = {err:.3e}");
        assert_eq!(outcome, Outcome::Converged);
        errors.push(err);
    }
    // The discrete HJI-FPK pair reproduces the constant mean to round-off at every
    // resolution (upwind drift b = A∇v is odd about m̄(0) for a symmetric start), so the
    // discretisation error of the mean is below the fixed-point tolerance everywhere.
    for e in &errors {
        assert!(*e < 1e-8, "mean drifted from m̄(0): {errors:?}");
    }
}

#[test]
fn anderson_needs_fewer_iterations_than_picard() {
    let (o1, n_picard, _) = solve(101, 50, Acceleration::None);
    let (o2, n_anderson, _) = solve(101, 50, Acceleration::Anderson { depth: 5 });
    eprintln!("picard {n_picard}, anderson {n_anderson}");
    assert_eq!(o1, Outcome::Converged);
    assert_eq!(o2, Outcome::Converged);
    assert!(2 * n_anderson <= n_picard);
}

/// A skewed start (two-component Gaussian mixture, no symmetry about its mean to cancel
/// the upwind errors): the exact LQ equilibrium mean is still constant (r = φm̄ + h has
/// r' = 0 for any initial law, docs/design.md §3), and the PDE mean's drift away from its
/// initial value is pure discretisation error, which must fall at observed order ≥ 0.9.
#[test]
fn skewed_start_mean_drift_falls_at_first_order() {
    let mix = common::SkewedMixture {
        w: 0.7,
        m1: 0.3,
        s1: 0.15,
        m2: 1.0,
        s2: 0.25,
    };
    let (mean, var) = mix.moments();
    let mut model = model_1d();
    model.populations[0].mean = array![mean];
    model.populations[0].cov = array![[var]];
    let mut errors = Vec::new();
    for &(points, steps) in &[(51, 25), (101, 50), (201, 100), (401, 200)] {
        let grid = Grid::auto(&model, &[points], DEFAULT_STD_MULTIPLE).unwrap();
        let m0 = mix.density(&grid);
        let mut map = MeanFieldMap::with_initial(
            &model,
            &grid,
            steps,
            snapshot_levels(steps, steps),
            vec![m0],
        )
        .unwrap();
        let settings = FixedPointSettings {
            tol: 1e-11,
            max_iter: 200,
            ..Default::default()
        };
        // Started from a perturbed guess, as in the symmetric test.
        let mut x0 = map.initial_guess();
        for (n, v) in x0.iter_mut().enumerate() {
            *v += 0.3 * (3.0 * n as f64 / steps as f64).sin();
        }
        let (outcome, _iterations, last) = common::run_fixed_point(&mut map, settings, x0);
        assert_eq!(outcome, Outcome::Converged);
        assert!(map.mass_error() < 1e-12);
        let err = last.iter().map(|m| (m - last[0]).abs()).fold(0.0, f64::max);
        eprintln!("skewed start: points {points:4} steps {steps:4}: max |m̄(t) − m̄(0)| = {err:.3e}");
        errors.push(err);
    }
    let orders: Vec<f64> = errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect();
    eprintln!("skewed start: observed orders {orders:.3?}");
    assert!(
        errors[0] > 1e-8,
        "the skewed start must show a discretisation error"
    );
    for o in &orders {
        assert!(*o >= 0.9, "observed order {o} < 0.9 ({errors:?})");
    }
}
