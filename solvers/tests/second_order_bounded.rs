//! The second-order scheme with bounded allocations and the core penalty (not LQ, so no
//! oracle): the equilibrium converges, conserves mass to round-off, reports any negative
//! density, and its results converge under refinement faster than the monotone scheme's
//! (successive differences of the mean motion and of the cost shrink by more than 2 per
//! halving of h and dt), towards the same limit as the monotone scheme.

mod common;

use ndarray::array;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::grid::Grid;
use tufield_solvers::hamiltonian::{ControlLaw, Player};
use tufield_solvers::model::{Model, Population};
use tufield_solvers::richardson::expected_cost;
use tufield_solvers::scheme::SchemeKind;

use common::channel as ch;

/// One designer channel bounded by 0.25 and a disturbance (γ = 2) bounded by 0.05, core
/// penalty κ = 1 on negative x.
fn model(mean: f64, var: f64) -> Model {
    let law = ControlLaw {
        channels: vec![
            ch(&[1.0], 1.0, 0.25, Player::Designer),
            ch(&[-1.0], 4.0, 0.05, Player::Disturbance),
        ],
    };
    Model::builder(law.unbounded_matrix())
        .axis_labels(vec!["x".into()])
        .q(array![[1.0]])
        .s(array![[0.5]])
        .sigma(0.3)
        .horizon(1.0)
        .populations(vec![Population {
            name: "p".into(),
            mean: array![mean],
            cov: array![[var]],
        }])
        .core_penalty(1.0)
        .controls(Some(law))
        .build()
        .expect("the test model is valid")
}

/// (m̄(T) − m̄(0), expected cost) of the equilibrium from the skewed mixture
/// 0.7 N(0.3, 0.15²) + 0.3 N(1.6, 0.3²).
fn solve(scheme: SchemeKind, points: usize, steps: usize) -> (f64, f64) {
    let mix = common::SkewedMixture {
        w: 0.7,
        m1: 0.3,
        s1: 0.15,
        m2: 1.6,
        s2: 0.3,
    };
    let (mean, var) = mix.moments();
    let model = model(mean, var);
    let grid = Grid::from_bounds(&[-2.5], &[5.5], &[points]).unwrap();
    let m0 = mix.density(&grid);
    let mut map = MeanFieldMap::with_scheme(
        &model,
        &grid,
        steps,
        snapshot_levels(steps, steps),
        vec![m0],
        scheme,
    )
    .unwrap();
    let what = format!("{} {points}×{steps}", scheme.name());
    let means = common::converged_means(&mut map, &what);
    let res = &map.results()[0];
    if let Some(neg) = &res.negative_density {
        eprintln!("{what}: negative density {neg:?}");
        assert!(res.fpk.min_density < 0.0);
    } else {
        assert!(res.fpk.min_density >= 0.0);
    }
    let cost = expected_cost(&grid, res.value[0].view(), res.density[0].view()).unwrap();
    (means[steps] - means[0], cost)
}

#[test]
fn bounded_with_core_penalty_converges_faster_than_first_order() {
    let runs = [(101, 50), (201, 100), (401, 200), (801, 400)];
    let mut table = Vec::new();
    for kind in SchemeKind::ALL {
        let r: Vec<(f64, f64)> = runs.iter().map(|&(n, s)| solve(kind, n, s)).collect();
        for ((n, s), (motion, cost)) in runs.iter().zip(&r) {
            eprintln!(
                "{:>12} {n:4}×{s:4}: m̄(T) − m̄(0) = {motion:.8e}, cost {cost:.8e}",
                kind.name()
            );
        }
        table.push(r);
    }
    let diffs = |r: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        r.windows(2).map(|w| (f(&w[1]) - f(&w[0])).abs()).collect()
    };
    let second = &table[1];
    for (name, f) in [
        ("motion", (|x: &(f64, f64)| x.0) as fn(&(f64, f64)) -> f64),
        ("cost", |x: &(f64, f64)| x.1),
    ] {
        let d = diffs(second, f);
        eprintln!("second order, successive differences of the {name}: {d:?}");
        for w in d.windows(2) {
            assert!(w[1] < 0.4 * w[0], "{name}: {d:?}");
        }
        // Same limit: the monotone scheme's finest result is within its own first-order
        // error (its last successive difference) of the second-order finest result.
        let mono = &table[0];
        let dm = diffs(mono, f);
        let gap = (f(&mono[3]) - f(&second[3])).abs();
        assert!(
            gap < 2.0 * dm[2],
            "{name}: schemes apart by {gap:e} (monotone step {dm:?})"
        );
    }
}
