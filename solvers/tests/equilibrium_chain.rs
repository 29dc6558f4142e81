//! Multi-population equilibria (a chain of three populations, Section 7) against the exact
//! LQ forward–backward oracle: the equilibrium means of the PDE fixed point converge to
//! the oracle's at observed order ≥ 0.9 under joint refinement of space and time.

mod common;

use ndarray::{array, Array1, Array2};
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::fixed_point::{Acceleration, FixedPointSettings, Outcome};
use tufield_solvers::graph::{Graph, GraphKind};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};
use tufield_solvers::lq::exact_equilibrium;
use tufield_solvers::model::{Model, Population};

fn chain_model(a: Array2<f64>, means: &[Array1<f64>], std: f64) -> Model {
    let d = a.nrows();
    Model::builder(a)
        .axis_labels((1..=d).map(|i| format!("x{i}")).collect())
        .q(Array2::eye(d))
        .s(Array2::eye(d))
        .sigma(0.3)
        .populations(
            means
                .iter()
                .enumerate()
                .map(|(k, m)| Population {
                    name: format!("p{k}"),
                    mean: m.clone(),
                    cov: Array2::eye(d) * (std * std),
                })
                .collect(),
        )
        .graph(Graph::new(means.len(), &GraphKind::Chain).unwrap())
        .build()
        .unwrap()
}

/// Returns (outcome, iterations, max over populations/levels/axes of |m̄_PDE − m̄_exact|).
fn solve(
    model: &Model,
    points: usize,
    steps: usize,
    acceleration: Acceleration,
) -> (Outcome, usize, f64) {
    let grid = Grid::auto(model, &[points], DEFAULT_STD_MULTIPLE).unwrap();
    let mut map = MeanFieldMap::new(model, &grid, steps, snapshot_levels(steps, steps)).unwrap();
    let settings = FixedPointSettings {
        tol: 1e-7,
        max_iter: 300,
        acceleration,
        ..Default::default()
    };
    let x0 = map.initial_guess();
    let (outcome, iterations, last) = common::run_fixed_point(&mut map, settings, x0);
    assert!(!last.is_empty(), "no iteration completed: {outcome:?}");
    assert!(map.mass_error() < 1e-12);
    let exact = exact_equilibrium(model, steps).unwrap();
    assert!(exact.residual_initial <= 1e-9 && exact.residual_terminal <= 1e-9);
    let mut err = 0.0f64;
    for (k, pop) in exact.populations.iter().enumerate() {
        let pde = map.mean_path(&last, k);
        for (a, b) in pde.iter().zip(pop.mean.iter()) {
            err = err.max((a - b).abs());
        }
    }
    (outcome, iterations, err)
}

fn check_order(label: &str, model: &Model, resolutions: &[(usize, usize)], finest_bound: f64) {
    let mut errors = Vec::new();
    for &(points, steps) in resolutions {
        let (outcome, iters, err) =
            solve(model, points, steps, Acceleration::Anderson { depth: 5 });
        eprintln!("{label}: points {points:4} steps {steps:4}: {outcome:?} in {iters:3} iterations, max mean error {err:.3e}");
        assert_eq!(outcome, Outcome::Converged);
        errors.push(err);
    }
    let orders: Vec<f64> = errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect();
    eprintln!("{label}: observed orders {orders:.3?}");
    for o in &orders {
        assert!(*o >= 0.9, "{label}: observed order {o} < 0.9 ({errors:?})");
    }
    let finest = *errors.last().unwrap();
    assert!(
        finest <= finest_bound,
        "{label}: finest error {finest} > {finest_bound}"
    );
}

#[test]
fn chain_of_three_1d_matches_exact_lq() {
    let model = chain_model(
        array![[-0.75]],
        &[array![-0.5], array![0.0], array![0.8]],
        0.2,
    );
    check_order(
        "1-D chain",
        &model,
        &[(101, 50), (201, 100), (401, 200), (801, 400)],
        2e-3,
    );
}

#[test]
fn chain_of_three_2d_nondiagonal_matches_exact_lq() {
    // A_P of the 3-player game projected on {1},{1,2} with R = I, γ = 2.
    let a = array![[-1.75, -1.0], [-1.0, -2.75]];
    let model = chain_model(
        a,
        &[array![0.0, 0.0], array![0.5, -0.3], array![1.0, 0.4]],
        0.2,
    );
    check_order("2-D chain", &model, &[(81, 20), (161, 40), (321, 80)], 2e-3);
}

#[test]
fn anderson_halves_picard_iterations_on_the_chain() {
    let model = chain_model(
        array![[-0.75]],
        &[array![-0.5], array![0.0], array![0.8]],
        0.2,
    );
    let (o1, picard, _) = solve(&model, 201, 100, Acceleration::None);
    let (o2, anderson, _) = solve(&model, 201, 100, Acceleration::Anderson { depth: 5 });
    eprintln!("chain 1-D: damped Picard {picard} iterations, Anderson {anderson}");
    assert_eq!(o1, Outcome::Converged);
    assert_eq!(o2, Outcome::Converged);
    assert!(
        2 * anderson <= picard,
        "anderson {anderson} vs picard {picard}"
    );
}
