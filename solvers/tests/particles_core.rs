//! Core membership of the copies (solvers::particles::{in_excess_core, AllocationCore}):
//! allocations read back from their excess states, the core test of the coalition values,
//! and the per-level fractions of a simulation against the Gaussian law.

use ndarray::{array, Array1, Array2};
use tufield_solvers::coop::{mask_of, TuGame};
use tufield_solvers::game::Game;
use tufield_solvers::model::Population;
use tufield_solvers::particles::{
    in_excess_core, simulate, AllocationCore, LeastSquaresPolicy, LeastSquaresTarget,
    ParticleSystem, SimulationOptions,
};

/// v({i}) = 0, v({1,2}) = 90, v({1,2,3}) = 120, others 0: core = {x ≥ 0, x1 + x2 ≥ 90,
/// x(N) = 120}.
fn game() -> TuGame {
    TuGame::from_fn(3, |m| match m {
        0b011 => 90.0,
        0b111 => 120.0,
        _ => 0.0,
    })
    .unwrap()
}

/// The excess state e(a) = B_H a − v of an allocation, in Table 1 order.
fn excess(a: &[f64]) -> Vec<f64> {
    let g = Game::new(3).unwrap();
    let v = game();
    g.coalitions()
        .iter()
        .map(|c| c.iter().map(|&i| a[i]).sum::<f64>() - v.value(mask_of(c)))
        .collect()
}

#[test]
fn allocations_are_read_back_from_their_excess_states_and_tested() {
    let test = AllocationCore::new(game()).unwrap();
    assert_eq!(test.dim(), 7);
    for (a, inside) in [
        ([50.0, 50.0, 20.0], true),
        ([90.0, 0.0, 30.0], true),
        ([60.0, 20.0, 40.0], false),  // x1 + x2 = 80 < 90
        ([130.0, 0.0, -10.0], false), // x3 < v({3})
    ] {
        let y = excess(&a);
        let back = test.allocation(&y);
        for i in 0..3 {
            assert!((back[i] - a[i]).abs() < 1e-12, "{back:?} vs {a:?}");
        }
        assert_eq!(test.contains(&y), inside, "{a:?}");
        assert_eq!(game().is_in_core(&a, 1e-9).unwrap(), inside);
        // The excess core of the state agrees for efficient allocations.
        let grand_ok = y[6].abs() < 1e-12;
        assert!(grand_ok);
        assert_eq!(in_excess_core(&y), inside, "{y:?}");
    }
    // An inefficient allocation is made efficient by an equal shift before the test:
    // (40, 40, 0) + 40/3 each = (53.3, 53.3, 13.3) is in the core.
    let y = excess(&[40.0, 40.0, 0.0]);
    let fixed = test.allocation(&y);
    assert!((fixed.iter().sum::<f64>() - 120.0).abs() < 1e-12);
    assert!(test.contains(&y));
    assert!(!in_excess_core(&y));
}

#[test]
fn simulated_fractions_follow_the_gaussian_law() {
    // One population of the 3-player game held at its least-squares allocation (σ > 0,
    // mean on the core's boundary faces): at t = 0 the fraction of copies with every
    // excess ≥ 0 is P(all seven independent N(μ_j, 1) ≥ 0).
    let a = [50.0, 50.0, 20.0];
    let mean = Array1::from(excess(&a));
    let sd = 1.0;
    let system = ParticleSystem {
        sigma: 0.5,
        horizon: 1.0,
        steps: 10,
        populations: vec![Population {
            name: "designers".into(),
            mean: mean.clone(),
            cov: Array2::eye(7) * (sd * sd),
        }],
        averaging: array![[1.0]],
        cost: None,
        initial: Vec::new(),
        allocation_core: Some(AllocationCore::new(game()).unwrap()),
    };
    let policy = LeastSquaresPolicy::new(3, LeastSquaresTarget::Empirical).unwrap();
    let n = 100_000;
    let sim = simulate(
        &system,
        &policy,
        &SimulationOptions {
            copies: n,
            seed: 3,
            trajectories: 0,
            histogram: None,
        },
    )
    .unwrap();
    let run = &sim.populations[0];
    // Φ(μ/σ) per coordinate; the excesses of (50, 50, 20) are (50, 50, 20, 10, 70, 70, 0).
    let phi = |z: f64| 0.5 * erfc(-z / std::f64::consts::SQRT_2);
    let want: f64 = mean.iter().map(|&m| phi(m / sd)).product();
    let got = run.core_fraction[0];
    let se = (want * (1.0 - want) / n as f64).sqrt();
    assert!((got - want).abs() < 4.0 * se, "{got} vs {want}");
    assert_eq!(run.core_fraction.len(), 11);
    let alloc = run.allocation_core_fraction.as_ref().unwrap();
    // The allocation test sees only the least-squares allocation (3 numbers), made
    // efficient: the noise off range B_H does not count, so more copies pass.
    assert!(alloc[0] > got, "{} vs {got}", alloc[0]);
    assert!(alloc.iter().all(|f| (0.0..=1.0).contains(f)));
    // Validation: a test on the wrong number of coalitions names the coalition values
    // (the app maps that parameter to `game.values`).
    let mut bad = system.clone();
    bad.allocation_core = Some(AllocationCore::new(TuGame::from_fn(2, |_| 0.0).unwrap()).unwrap());
    let e = simulate(
        &bad,
        &policy,
        &SimulationOptions {
            copies: 10,
            seed: 0,
            trajectories: 0,
            histogram: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            tufield_solvers::SolverError::InvalidParameter {
                field: tufield_solvers::error::Param::CoalitionValues,
                ..
            }
        ),
        "{e}"
    );
}

/// Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}
