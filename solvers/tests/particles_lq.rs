//! Finite-N simulation under the exact LQ mean-field feedback (solvers::particles).
//!
//! Statistical tests use fixed seeds, so they are deterministic; the tolerances are
//! 4 standard errors per checked component. For a random seed a single Gaussian check
//! fails with probability 6.3e-5; the moment test makes 5 levels × (1+1) checks × 3
//! populations (1-D) and 5 × (2+3) × 3 (2-D) = 105 checks, so by the union bound a random
//! seed passes all of them with probability ≥ 99.3 %.

use ndarray::{array, s, Array1, Array2};
use tufield_solvers::graph::{Graph, GraphKind};
use tufield_solvers::grid::Grid;
use tufield_solvers::lq::{exact_equilibrium, LqEquilibrium};
use tufield_solvers::model::{Model, Population};
use tufield_solvers::particles::{
    density_l1, loglog_slope, lq_mean_field_cost, mean_path_deviation, simulate, CostWeights,
    Deposit, GridPolicy, HistogramSpec, LqPolicy, ParticleSystem, Simulation, SimulationOptions,
};

fn pop(name: &str, mean: Array1<f64>, cov: Array2<f64>) -> Population {
    Population {
        name: name.into(),
        mean,
        cov,
    }
}

/// 1-D chain of three populations (the lqc_1d_chain3 scenario): means move.
fn model_1d() -> Model {
    Model::builder(array![[-0.75]])
        .axis_labels(vec!["x".into()])
        .q(array![[1.0]])
        .s(array![[1.0]])
        .sigma(0.3)
        .populations(vec![
            pop("left", array![-1.0], array![[0.0625]]),
            pop("centre", array![0.0], array![[0.0625]]),
            pop("right", array![1.5], array![[0.0625]]),
        ])
        .graph(Graph::new(3, &GraphKind::Chain).unwrap())
        .build()
        .unwrap()
}

/// 2-D chain with the non-diagonal A of the 3-player game on {1}, {1,2}, γ = 2.
fn model_2d() -> Model {
    Model::builder(array![[0.25 - 2.0, -1.0], [-1.0, 0.25 - 3.0]])
        .axis_labels(vec!["{1}".into(), "{1,2}".into()])
        .q(array![[1.0, 0.0], [0.0, 1.0]])
        .s(array![[1.0, 0.0], [0.0, 1.0]])
        .sigma(0.3)
        .populations(vec![
            pop("low", array![-1.0, -0.5], array![[0.09, 0.0], [0.0, 0.09]]),
            pop("middle", array![0.0, 0.0], array![[0.09, 0.0], [0.0, 0.09]]),
            pop("high", array![1.0, 0.8], array![[0.09, 0.03], [0.03, 0.09]]),
        ])
        .graph(Graph::new(3, &GraphKind::Chain).unwrap())
        .build()
        .unwrap()
}

fn run(model: &Model, steps: usize, copies: usize, seed: u64) -> (LqEquilibrium, Simulation) {
    let eq = exact_equilibrium(model, steps).unwrap();
    let policy = LqPolicy::from_equilibrium(model, &eq).unwrap();
    let sys = ParticleSystem::from_model(model, steps).unwrap();
    let opts = SimulationOptions {
        copies,
        seed,
        trajectories: 0,
        histogram: None,
    };
    let sim = simulate(&sys, &policy, &opts).unwrap();
    (eq, sim)
}

/// Empirical mean and covariance vs the exact law of the Euler chain (4 SE, statistical)
/// and vs the oracle's continuous closed-loop moments (4 SE + the deterministic Euler
/// bias |Euler − oracle|, which must itself be O(dt)).
fn check_moments(model: &Model, label: &str) {
    let (steps, copies) = (100, 20_000);
    let (eq, sim) = run(model, steps, copies, 11);
    let policy = LqPolicy::from_equilibrium(model, &eq).unwrap();
    let dt = model.horizon / steps as f64;
    let d = model.dim();
    let nf = copies as f64;
    let (mut worst_z, mut worst_bias): (f64, f64) = (0.0, 0.0);
    for (k, (run, ex)) in sim.populations.iter().zip(&eq.populations).enumerate() {
        let p0 = &model.populations[k];
        let eul = policy.euler_moments(k, p0.mean.view(), p0.cov.view(), model.sigma, dt);
        for level in [0, 25, 50, 75, 100] {
            for i in 0..d {
                let var = eul.cov[[level, i, i]];
                let se = (var / nf).sqrt();
                let z = (run.mean[[level, i]] - eul.mean[[level, i]]) / se;
                let bias = (eul.mean[[level, i]] - ex.mean[[level, i]]).abs();
                worst_z = worst_z.max(z.abs());
                worst_bias = worst_bias.max(bias / se);
                assert!(
                    z.abs() <= 4.0,
                    "{label} pop {k} level {level} mean[{i}]: z = {z}"
                );
                let dev = (run.mean[[level, i]] - ex.mean[[level, i]]).abs();
                assert!(
                    dev <= 4.0 * se + bias,
                    "{label}: mean vs oracle {dev} > 4·{se} + {bias}"
                );
                for j in 0..=i {
                    let c = eul.cov.slice(s![level, .., ..]);
                    // Var of a sample covariance entry (Gaussian): (C_ii C_jj + C_ij²)/N.
                    let se_c = ((c[[i, i]] * c[[j, j]] + c[[i, j]].powi(2)) / nf).sqrt();
                    let z = (run.cov[[level, i, j]] - c[[i, j]]) / se_c;
                    let bias = (c[[i, j]] - ex.cov[[level, i, j]]).abs();
                    worst_z = worst_z.max(z.abs());
                    worst_bias = worst_bias.max(bias / se_c);
                    assert!(
                        z.abs() <= 4.0,
                        "{label} pop {k} level {level} cov[{i}{j}]: z = {z}"
                    );
                    let dev = (run.cov[[level, i, j]] - ex.cov[[level, i, j]]).abs();
                    assert!(dev <= 4.0 * se_c + bias, "{label}: cov vs oracle");
                }
            }
        }
        // The Euler law is within O(dt) of the oracle: bias ≤ dt · (scale of the data).
        let mbias = (&eul.mean - &ex.mean)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let cbias = (&eul.cov - &ex.cov)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(
            mbias < 2.0 * dt && cbias < 0.2 * dt,
            "{label}: Euler bias {mbias} {cbias}"
        );
    }
    eprintln!(
        "{label}: N = {copies}, dt = {dt}: largest |z| vs the Euler law {worst_z:.2}; \
         largest Euler bias vs oracle {worst_bias:.2} SE"
    );
}

#[test]
fn moments_match_oracle_1d() {
    check_moments(&model_1d(), "1-D chain");
}

#[test]
fn moments_match_oracle_2d_nondiagonal() {
    check_moments(&model_2d(), "2-D chain, non-diagonal A");
}

/// E[J] of the Euler chain with the deterministic target ρ = W·(Euler means): exact
/// expectation of the discretised realised cost (up to the O(1/N) effect of using the
/// empirical target).
fn euler_expected_cost(model: &Model, eq: &LqEquilibrium, steps: usize) -> Vec<f64> {
    let policy = LqPolicy::from_equilibrium(model, eq).unwrap();
    let cw = CostWeights::from_model(model).unwrap();
    let dt = model.horizon / steps as f64;
    let w = model.graph.averaging_matrix();
    let p = model.num_populations();
    let laws: Vec<_> = (0..p)
        .map(|k| {
            let p0 = &model.populations[k];
            policy.euler_moments(k, p0.mean.view(), p0.cov.view(), model.sigma, dt)
        })
        .collect();
    (0..p)
        .map(|k| {
            let mut j = 0.0;
            for n in 0..=steps {
                let mut rho = Array1::<f64>::zeros(model.dim());
                for (jj, law) in laws.iter().enumerate() {
                    rho.scaled_add(w[[k, jj]], &law.mean.row(n));
                }
                let m = laws[k].mean.row(n);
                let c = laws[k].cov.slice(s![n, .., ..]);
                let e = &rho - &m;
                let eqe = |mm: &Array2<f64>| e.dot(&mm.dot(&e)) + (mm * &c).sum();
                if n == steps {
                    j += 0.5 * eqe(&cw.s);
                } else {
                    let phi = eq.phi.slice(s![n, .., ..]);
                    let g = phi.dot(&m) + eq.populations[k].h.row(n);
                    let b = model.a.dot(&g);
                    let ap = model.a.dot(&phi);
                    let cb = ap.dot(&c).dot(&ap.t());
                    j += dt
                        * 0.5
                        * (eqe(&cw.q) + b.dot(&cw.drift.dot(&b)) + (&cw.drift * &cb).sum());
                }
            }
            j
        })
        .collect()
}

#[test]
fn realised_cost_matches_mean_field_cost() {
    for (model, label) in [(model_1d(), "1-D"), (model_2d(), "2-D")] {
        let mut gaps = Vec::new();
        for steps in [50, 100] {
            let (eq, sim) = run(&model, steps, 20_000, 5);
            let euler = euler_expected_cost(&model, &eq, steps);
            let mut worst_gap: f64 = 0.0;
            for (k, run) in sim.populations.iter().enumerate() {
                let p0 = &model.populations[k];
                let ex = &eq.populations[k];
                let mf = lq_mean_field_cost(
                    eq.phi.slice(s![0, .., ..]),
                    ex.h.row(0),
                    ex.chi[0],
                    p0.mean.view(),
                    p0.cov.view(),
                );
                let se = run.cost_std / 20_000f64.sqrt();
                let z = (run.cost_mean - euler[k]) / se;
                let gap = (euler[k] - mf).abs();
                eprintln!(
                    "{label} steps {steps} pop {k}: realised {:.5} ± {se:.5}, Euler E[J] {:.5} (z = {z:.2}), \
                     mean-field E[v(0,X0)] {mf:.5}, Euler bias {gap:.2e}",
                    run.cost_mean, euler[k]
                );
                assert!(z.abs() <= 4.0, "{label}: realised cost z = {z}");
                assert!((run.cost_mean - mf).abs() <= 4.0 * se + gap);
                worst_gap = worst_gap.max(gap);
            }
            gaps.push(worst_gap);
        }
        // O(dt): halving dt roughly halves the Euler bias of the expected cost.
        let ratio = gaps[0] / gaps[1];
        eprintln!("{label}: cost bias ratio dt → dt/2: {ratio:.2}");
        assert!((1.6..2.5).contains(&ratio), "{label}: ratio {ratio}");
    }
}

#[test]
fn mean_deviation_falls_like_inverse_sqrt_n() {
    let model = model_1d();
    let steps = 50;
    let eq = exact_equilibrium(&model, steps).unwrap();
    let policy = LqPolicy::from_equilibrium(&model, &eq).unwrap();
    let sys = ParticleSystem::from_model(&model, steps).unwrap();
    let dt = model.horizon / steps as f64;
    let limits: Vec<Array2<f64>> = (0..3)
        .map(|k| {
            let p0 = &model.populations[k];
            policy
                .euler_moments(k, p0.mean.view(), p0.cov.view(), model.sigma, dt)
                .mean
        })
        .collect();
    let ns = [10usize, 100, 1000, 10_000];
    let seeds = 8;
    let mut devs = Vec::new();
    for &n in &ns {
        let mut acc = 0.0;
        for seed in 0..seeds {
            let opts = SimulationOptions {
                copies: n,
                seed: 1000 + seed,
                trajectories: 0,
                histogram: None,
            };
            let sim = simulate(&sys, &policy, &opts).unwrap();
            for (run, lim) in sim.populations.iter().zip(&limits) {
                acc += mean_path_deviation(&run.mean, lim);
            }
        }
        devs.push(acc / (seeds as f64 * 3.0));
    }
    let x: Vec<f64> = ns.iter().map(|&n| n as f64).collect();
    let slope = loglog_slope(&x, &devs).unwrap();
    eprintln!("mean-path deviation vs N {ns:?}: {devs:?}, fitted slope {slope:.3}");
    assert!((-0.65..=-0.35).contains(&slope), "slope {slope}");
}

fn threaded(threads: usize, f: impl FnOnce() -> Simulation + Send) -> Simulation {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn bit_identical_for_one_and_two_threads() {
    let model = model_2d();
    let steps = 40;
    let eq = exact_equilibrium(&model, steps).unwrap();
    let policy = LqPolicy::from_equilibrium(&model, &eq).unwrap();
    let sys = ParticleSystem::from_model(&model, steps).unwrap();
    let grid = Grid::auto(&model, &[41], 6.0).unwrap();
    let opts = SimulationOptions {
        copies: 5 * 1024 + 17,
        seed: 3,
        trajectories: 4,
        histogram: Some(HistogramSpec {
            grid: grid.clone(),
            levels: vec![0, 20, 40],
            deposit: Deposit::CloudInCell,
            axes: None,
        }),
    };
    let one = threaded(1, || simulate(&sys, &policy, &opts).unwrap());
    let two = threaded(2, || simulate(&sys, &policy, &opts).unwrap());
    assert_eq!(one, two);
    for h in &one.populations[0].histograms {
        let mass = h.sum() * grid.cell_volume();
        assert!((mass - 1.0).abs() < 1e-12, "mass {mass}");
    }
    // The first K paths do not depend on N (copy c's noise depends on (seed, k, c) only).
    let small = SimulationOptions {
        copies: 4,
        histogram: None,
        ..opts.clone()
    };
    let few = simulate(&sys, &policy, &small).unwrap();
    assert_eq!(
        few.populations[2].trajectories,
        one.populations[2].trajectories
    );
}

/// Histogram of 2·10⁵ copies at t = 0 against the discretised initial Gaussian: the L1
/// distance is sampling noise + O(h²) of the deposit.
#[test]
fn histogram_approximates_the_density() {
    let mut model = model_1d();
    model.populations.truncate(1);
    model.graph = Graph::single();
    let steps = 10;
    let eq = exact_equilibrium(&model, steps).unwrap();
    let policy = LqPolicy::from_equilibrium(&model, &eq).unwrap();
    let sys = ParticleSystem::from_model(&model, steps).unwrap();
    let grid = Grid::auto(&model, &[101], 6.0).unwrap();
    let mut l1 = Vec::new();
    for deposit in [Deposit::NearestNode, Deposit::CloudInCell] {
        let opts = SimulationOptions {
            copies: 200_000,
            seed: 9,
            trajectories: 0,
            histogram: Some(HistogramSpec {
                grid: grid.clone(),
                levels: vec![0],
                deposit,
                axes: None,
            }),
        };
        let sim = simulate(&sys, &policy, &opts).unwrap();
        let p0 = &model.populations[0];
        let exact = grid.gaussian(p0.mean.view(), p0.cov.view()).unwrap();
        l1.push(density_l1(&grid, &sim.populations[0].histograms[0], &exact));
    }
    eprintln!(
        "histogram L1 distance at t = 0 (N = 2e5, 101 nodes): nearest {:.4}, CIC {:.4}",
        l1[0], l1[1]
    );
    assert!(l1.iter().all(|&v| v < 0.05), "{l1:?}");
}

/// A grid policy built from the oracle's own v = ½xᵀφx + hᵀx + χ at every level gives
/// the LQ drift exactly in the interior (centred differences of a quadratic and
/// multilinear interpolation of a linear function are exact), so with the same seed the
/// simulation reproduces the LQ one to round-off.
#[test]
fn grid_policy_of_the_oracle_value_reproduces_lq() {
    let model = model_2d();
    let steps = 20;
    let eq = exact_equilibrium(&model, steps).unwrap();
    let lq = LqPolicy::from_equilibrium(&model, &eq).unwrap();
    let grid = Grid::auto(&model, &[61], 8.0).unwrap();
    let values: Vec<Vec<_>> = eq
        .populations
        .iter()
        .map(|pk| {
            (0..=steps)
                .map(|n| {
                    let phi = eq.phi.slice(s![n, .., ..]);
                    let v: Vec<f64> = (0..grid.len())
                        .map(|f| {
                            let x = grid.point(f);
                            0.5 * x.dot(&phi.dot(&x)) + pk.h.row(n).dot(&x) + pk.chi[n]
                        })
                        .collect();
                    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(grid.shape()), v).unwrap()
                })
                .collect()
        })
        .collect();
    let gp = GridPolicy::new(model.a.clone(), grid, (0..=steps).collect(), &values).unwrap();
    let sys = ParticleSystem::from_model(&model, steps).unwrap();
    let opts = SimulationOptions {
        copies: 3000,
        seed: 21,
        trajectories: 0,
        histogram: None,
    };
    let a = simulate(&sys, &lq, &opts).unwrap();
    let b = simulate(&sys, &gp, &opts).unwrap();
    let mut worst: f64 = 0.0;
    for (ra, rb) in a.populations.iter().zip(&b.populations) {
        worst = worst.max(
            (&ra.mean - &rb.mean)
                .iter()
                .fold(0.0, |m: f64, v| m.max(v.abs())),
        );
        worst = worst.max((ra.cost_mean - rb.cost_mean).abs());
    }
    eprintln!("grid policy vs LQ policy: max mean/cost difference {worst:.2e}");
    assert!(worst < 1e-9, "{worst}");
}

#[test]
fn bad_options_name_their_field() {
    let model = model_1d();
    let eq = exact_equilibrium(&model, 10).unwrap();
    let policy = LqPolicy::from_equilibrium(&model, &eq).unwrap();
    let sys = ParticleSystem::from_model(&model, 10).unwrap();
    let field = |opts: SimulationOptions, sys: &ParticleSystem| match simulate(sys, &policy, &opts)
    {
        Err(tufield_solvers::SolverError::InvalidParameter { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let ok = SimulationOptions {
        copies: 10,
        seed: 0,
        trajectories: 0,
        histogram: None,
    };
    assert_eq!(
        field(
            SimulationOptions {
                copies: 0,
                ..ok.clone()
            },
            &sys
        ),
        tufield_solvers::Param::Argument("copies")
    );
    assert_eq!(
        field(
            SimulationOptions {
                trajectories: 11,
                ..ok.clone()
            },
            &sys
        ),
        tufield_solvers::Param::Argument("trajectories")
    );
    let other_steps = ParticleSystem::from_model(&model, 20).unwrap();
    assert_eq!(
        field(ok.clone(), &other_steps),
        tufield_solvers::Param::Argument("policy")
    );
}
