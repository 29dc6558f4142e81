//! Finite N measured at the simulation's own time step (solvers::particles::{discrete_limit,
//! epsilon_nash}): the N → ∞ expected realised cost of the Euler chain, and the ε-Nash
//! gain of one deviating copy, judged against the LQ oracle and against the copies.
//!
//! Statistical checks use fixed seeds (deterministic) with 4 standard errors.

use ndarray::{array, s, Array1, Array2};
use tufield_solvers::graph::{Graph, GraphKind};
use tufield_solvers::lq::exact_equilibrium;
use tufield_solvers::model::{Model, Population};
use tufield_solvers::particles::{
    discrete_limit, epsilon_nash, epsilon_nash_monte_carlo, loglog_slope, lq_mean_field_cost,
    simulate, LqPolicy, ParticleSystem, SimulationOptions,
};

fn pop(name: &str, mean: Array1<f64>, cov: Array2<f64>) -> Population {
    Population {
        name: name.into(),
        mean,
        cov,
    }
}

/// 1-D chain of three populations (lqc_1d_chain3): the means move towards each other.
fn chain_1d() -> Model {
    Model::builder(array![[-0.75]])
        .axis_labels(vec!["x".into()])
        .q(array![[1.0]])
        .s(array![[1.0]])
        .sigma(0.3)
        .horizon(1.0)
        .populations(vec![
            pop("left", array![-1.0], array![[0.0625]]),
            pop("centre", array![0.0], array![[0.0625]]),
            pop("right", array![1.5], array![[0.0625]]),
        ])
        .graph(Graph::new(3, &GraphKind::Chain).unwrap())
        .build()
        .expect("the test model is valid")
}

/// One 2-D population with the non-diagonal A of the 3-player game on {1}, {1,2}.
fn single_2d() -> Model {
    Model::builder(array![[0.25 - 2.0, -1.0], [-1.0, 0.25 - 3.0]])
        .axis_labels(vec!["{1}".into(), "{1,2}".into()])
        .q(array![[1.0, 0.0], [0.0, 1.0]])
        .s(array![[1.0, 0.0], [0.0, 1.0]])
        .sigma(0.4)
        .horizon(1.0)
        .populations(vec![pop(
            "one",
            array![1.0, -0.5],
            array![[0.09, 0.02], [0.02, 0.09]],
        )])
        .graph(Graph::new(1, &GraphKind::Complete).unwrap())
        .build()
        .expect("the test model is valid")
}

fn lq(model: &Model, steps: usize) -> (LqPolicy, ParticleSystem, Vec<f64>) {
    let eq = exact_equilibrium(model, steps).unwrap();
    let policy = LqPolicy::from_equilibrium(model, &eq).unwrap();
    let system = ParticleSystem::from_model(model, steps).unwrap();
    let continuous = model
        .populations
        .iter()
        .zip(&eq.populations)
        .map(|(p, e)| {
            lq_mean_field_cost(
                eq.phi.slice(s![0, .., ..]),
                e.h.row(0),
                e.chi[0],
                p.mean.view(),
                p.cov.view(),
            )
        })
        .collect();
    (policy, system, continuous)
}

#[test]
fn discrete_limit_cost_converges_to_the_oracle_value_at_first_order_in_dt() {
    for model in [chain_1d(), single_2d()] {
        let mut errs = Vec::new();
        for steps in [50, 100, 200, 400] {
            let (policy, system, continuous) = lq(&model, steps);
            let lim = discrete_limit(&system, &policy.affine_feedback()).unwrap();
            // The limit means are those of the Euler chain.
            for (k, pop) in model.populations.iter().enumerate() {
                let em = policy.euler_moments(
                    k,
                    pop.mean.view(),
                    pop.cov.view(),
                    model.sigma,
                    system.dt(),
                );
                let dm = (&em.mean - &lim.mean[k])
                    .iter()
                    .fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(dm < 1e-12, "{dm}");
            }
            let cost = lim.cost.unwrap();
            errs.push(
                cost.iter()
                    .zip(&continuous)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f64, f64::max),
            );
        }
        // Observed order of the time-step bias: 1 (left-point Euler).
        for w in errs.windows(2) {
            let order = (w[0] / w[1]).log2();
            assert!((order - 1.0).abs() < 0.15, "{errs:?}");
        }
    }
}

#[test]
fn realised_cost_of_the_copies_matches_the_discrete_limit_without_time_step_bias() {
    // dt = 0.1: the continuous value is off by O(dt), the discrete limit is not.
    let model = chain_1d();
    let (policy, system, continuous) = lq(&model, 10);
    let lim = discrete_limit(&system, &policy.affine_feedback())
        .unwrap()
        .cost
        .unwrap();
    let n = 200_000;
    let sim = simulate(
        &system,
        &policy,
        &SimulationOptions {
            copies: n,
            seed: 11,
            trajectories: 0,
            histogram: None,
        },
    )
    .unwrap();
    for (k, run) in sim.populations.iter().enumerate() {
        let se = run.cost_std / (n as f64).sqrt();
        let gap = (run.cost_mean - lim[k]).abs();
        assert!(
            gap < 4.0 * se,
            "k {k}: {} vs {} (se {se})",
            run.cost_mean,
            lim[k]
        );
        // The continuous-time value is many standard errors away.
        assert!(
            (run.cost_mean - continuous[k]).abs() > 10.0 * se,
            "k {k}: bias {} se {se}",
            run.cost_mean - continuous[k]
        );
    }
}

#[test]
fn epsilon_is_nonnegative_and_falls_like_one_over_n_to_its_time_step_floor() {
    for model in [chain_1d(), single_2d()] {
        let (policy, system, _) = lq(&model, 50);
        let fb = policy.affine_feedback();
        let lim = discrete_limit(&system, &fb).unwrap().cost.unwrap();
        for (k, &lim_k) in lim.iter().enumerate() {
            let inf = epsilon_nash(&system, &fb, k, None).unwrap();
            // N → ∞: the mean-field cost of the deviator is the chain's limit cost.
            assert!(
                (inf.mean_field_cost - lim_k).abs() < 1e-10 * lim_k.abs().max(1.0),
                "{} vs {lim_k}",
                inf.mean_field_cost
            );
            assert!(inf.epsilon >= -1e-12, "{}", inf.epsilon);
            let counts = [10usize, 100, 1000, 10000];
            let eps: Vec<f64> = counts
                .iter()
                .map(|&n| epsilon_nash(&system, &fb, k, Some(n)).unwrap().epsilon)
                .collect();
            for w in eps.windows(2) {
                assert!(w[0] > w[1], "{eps:?}");
            }
            assert!(eps.iter().all(|&e| e >= inf.epsilon - 1e-12), "{eps:?}");
            let above: Vec<f64> = eps.iter().map(|e| e - inf.epsilon).collect();
            let x: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
            let slope = loglog_slope(&x, &above).unwrap();
            assert!((slope + 1.0).abs() < 0.1, "slope {slope}, {above:?}");
        }
    }
}

#[test]
fn best_response_in_the_limit_is_the_mean_field_policy_up_to_the_time_step() {
    // The N → ∞ best response tracks the deterministic mean path; its gain on the own
    // state tends to the oracle's Aφ(t_n) at first order in dt and ε(∞) at second order.
    let model = single_2d();
    let mut gain_err = Vec::new();
    let mut eps = Vec::new();
    for steps in [50, 100, 200] {
        let (policy, system, _) = lq(&model, steps);
        let fb = policy.affine_feedback();
        let inf = epsilon_nash(&system, &fb, 0, None).unwrap();
        let d = 2;
        let mut worst = 0.0f64;
        for n in 0..steps {
            let br = inf.best_response.gain.slice(s![n, .., 0..d]);
            let mf = fb.gain.slice(s![n, .., ..]);
            worst = worst.max((&br - &mf).iter().fold(0.0f64, |m, v| m.max(v.abs())));
        }
        gain_err.push(worst);
        eps.push(inf.epsilon);
    }
    for w in gain_err.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!((order - 1.0).abs() < 0.2, "{gain_err:?}");
    }
    for w in eps.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!((order - 2.0).abs() < 0.3, "{eps:?}");
    }
}

#[test]
fn monte_carlo_epsilon_agrees_with_the_exact_recursion() {
    let model = chain_1d();
    let (policy, system, _) = lq(&model, 20);
    let fb = policy.affine_feedback();
    for k in [0, 1] {
        let exact = epsilon_nash(&system, &fb, k, Some(3)).unwrap().epsilon;
        let mc = epsilon_nash_monte_carlo(&system, &fb, k, Some(3), 20_000, 5).unwrap();
        assert!(
            (mc.mean - exact).abs() < 4.0 * mc.standard_error,
            "{} ± {} vs {exact}",
            mc.mean,
            mc.standard_error
        );
        assert!(mc.standard_error < 0.2 * exact, "{mc:?} vs {exact}");
    }
}

#[test]
fn mean_field_cost_at_finite_n_is_the_copies_expected_realised_cost() {
    // The reduction to the others' empirical means (N − 1 copies) predicts the expected
    // realised cost of a copy in an N-copy game, including the O(1/N) effect of the copy's
    // own weight in the empirical target: checked against the particle simulation.
    let model = chain_1d();
    let (policy, system, _) = lq(&model, 20);
    let fb = policy.affine_feedback();
    let n = 2;
    let seeds = 4000u64;
    let p = model.populations.len();
    let mut sums = vec![(0.0, 0.0); p];
    for seed in 0..seeds {
        let sim = simulate(
            &system,
            &policy,
            &SimulationOptions {
                copies: n,
                seed,
                trajectories: 0,
                histogram: None,
            },
        )
        .unwrap();
        for (k, run) in sim.populations.iter().enumerate() {
            sums[k].0 += run.cost_mean;
            sums[k].1 += run.cost_mean * run.cost_mean;
        }
    }
    let lim = discrete_limit(&system, &fb).unwrap().cost.unwrap();
    for k in 0..p {
        let m = seeds as f64;
        let mean = sums[k].0 / m;
        let se = ((sums[k].1 / m - mean * mean) / (m - 1.0)).sqrt();
        let exact = epsilon_nash(&system, &fb, k, Some(n))
            .unwrap()
            .mean_field_cost;
        assert!(
            (mean - exact).abs() < 4.0 * se,
            "k {k}: {mean} ± {se} vs {exact}"
        );
        // The finite-N correction is resolved: the N → ∞ value is outside the band.
        assert!(
            (exact - lim[k]).abs() > 4.0 * se,
            "k {k}: {exact} vs {} (se {se})",
            lim[k]
        );
    }
}

#[test]
fn bad_deviation_input_names_the_field() {
    let model = chain_1d();
    let (policy, system, _) = lq(&model, 10);
    let fb = policy.affine_feedback();
    let e = epsilon_nash(&system, &fb, 3, Some(10)).unwrap_err();
    assert!(e.to_string().contains("deviator"), "{e}");
    let e = epsilon_nash(&system, &fb, 0, Some(1)).unwrap_err();
    assert!(e.to_string().contains("copies"), "{e}");
    let e = epsilon_nash_monte_carlo(&system, &fb, 0, Some(10), 1, 0).unwrap_err();
    assert!(e.to_string().contains("replicates"), "{e}");
    let mut tracking = fb.clone();
    tracking.tracking = array![[0.5]];
    let e = epsilon_nash(&system, &tracking, 0, Some(10)).unwrap_err();
    assert!(e.to_string().contains("policy"), "{e}");
}
