//! The paper's Section 8 least-squares control (41) in the full coalition space of the
//! 3-player game (q = 7): without noise the state converges to Πm̄(0) + (I − Π)x(0), so its
//! least-squares allocation converges to that of m̄(0) (Fig. 6).

use ndarray::{array, Array1, Array2};
use tufield_solvers::model::Population;
use tufield_solvers::particles::{
    simulate, LeastSquaresPolicy, LeastSquaresTarget, ParticleSystem, SimulationOptions,
};

fn system(mean: Array1<f64>, cov: Array2<f64>, sigma: f64, steps: usize) -> ParticleSystem {
    ParticleSystem {
        sigma,
        horizon: 0.1 * steps as f64,
        steps,
        populations: vec![Population {
            name: "game".into(),
            mean,
            cov,
        }],
        averaging: array![[1.0]],
        cost: None,
        initial: Vec::new(),
        allocation_core: None,
    }
}

/// The paper's example: x(0) = [1 3 2 3 2 5 4], m̄ = [10 20 50 30 20 50 40] held fixed
/// (θ = 0), σ = 0, dt = 0.1 (Table 2), T = 50.
#[test]
fn paper_example_converges_to_least_squares_projection() {
    let x0 = array![1.0, 3.0, 2.0, 3.0, 2.0, 5.0, 4.0];
    let mbar = array![10.0, 20.0, 50.0, 30.0, 20.0, 50.0, 40.0];
    let steps = 500;
    let target = Array2::from_shape_fn((steps + 1, 7), |(_, i)| mbar[i]);
    let policy = LeastSquaresPolicy::new(3, LeastSquaresTarget::Given(vec![target])).unwrap();
    let sys = system(x0.clone(), Array2::zeros((7, 7)), 0.0, steps);
    let opts = SimulationOptions {
        copies: 1,
        seed: 0,
        trajectories: 1,
        histogram: None,
    };
    let sim = simulate(&sys, &policy, &opts).unwrap();
    let xt = sim.populations[0]
        .trajectories
        .slice(ndarray::s![0, steps, ..])
        .to_owned();
    let pi = policy.projector();
    let expect = pi.dot(&mbar) + (&x0 - &pi.dot(&x0));
    let err = (&xt - &expect).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let u_t = policy.allocation(xt.view());
    let u_m = policy.allocation(mbar.view());
    let err_u = (&u_t - &u_m).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    eprintln!("x(T) = {xt:.4}, least-squares allocation {u_t:.4} vs that of m̄ {u_m:.4}: {err:.1e}, {err_u:.1e}");
    assert!(err < 1e-9 && err_u < 1e-9, "{err} {err_u}");
    // Π is the orthogonal projector onto range B_H: Π² = Π, ΠB_H = B_H.
    let e2 = (&pi.dot(pi) - pi)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let eb = (&pi.dot(policy.incidence()) - policy.incidence())
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(e2 < 1e-12 && eb < 1e-12);
}

/// A population with the empirical mean as target and σ = 0: the empirical mean stays
/// m̂(0) exactly (the drift averages to zero), and every copy converges to
/// Πm̂(0) + (I − Π)x_i(0). With noise the mean follows the Euler limit within 4 SE.
#[test]
fn empirical_target_population() {
    let mbar = array![10.0, 20.0, 50.0, 30.0, 20.0, 50.0, 40.0];
    let steps = 500;
    let policy = LeastSquaresPolicy::new(3, LeastSquaresTarget::Empirical).unwrap();
    let sys = system(mbar.clone(), Array2::eye(7) * 4.0, 0.0, steps);
    let opts = SimulationOptions {
        copies: 64,
        seed: 4,
        trajectories: 64,
        histogram: None,
    };
    let sim = simulate(&sys, &policy, &opts).unwrap();
    let run = &sim.populations[0];
    let m0 = run.mean.row(0).to_owned();
    let drift_of_mean = (&run.mean.row(steps) - &m0)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(drift_of_mean < 1e-9, "{drift_of_mean}");
    let pi = policy.projector();
    let mut worst: f64 = 0.0;
    for c in 0..64 {
        let x0 = run.trajectories.slice(ndarray::s![c, 0, ..]).to_owned();
        let xt = run.trajectories.slice(ndarray::s![c, steps, ..]).to_owned();
        let expect = pi.dot(&m0) + (&x0 - &pi.dot(&x0));
        worst = worst.max((&xt - &expect).iter().fold(0.0f64, |m, v| m.max(v.abs())));
    }
    eprintln!(
        "64 copies, empirical target: mean drift {drift_of_mean:.1e}, limit error {worst:.1e}"
    );
    assert!(worst < 1e-9, "{worst}");

    // With noise σ = 0.5: the drift still averages to zero, so m̂(T) = m̂(0) + σ√dt Σ_n ξ̄_n,
    // a random walk around the Euler limit m̄(0) with variance (4 + σ²T)/N per coordinate.
    let noisy = system(mbar.clone(), Array2::eye(7) * 4.0, 0.5, 100);
    let n = 20_000;
    let sim = simulate(
        &noisy,
        &policy,
        &SimulationOptions {
            copies: n,
            seed: 8,
            trajectories: 0,
            histogram: None,
        },
    )
    .unwrap();
    let lim = policy.euler_means(std::slice::from_ref(&mbar), &array![[1.0]], 0.1, 100);
    let run = &sim.populations[0];
    for i in 0..7 {
        let se = ((4.0 + 0.25 * 10.0) / n as f64).sqrt();
        let z = (run.mean[[100, i]] - lim[0][[100, i]]) / se;
        assert!(z.abs() <= 4.0, "coordinate {i}: z = {z}");
    }
}
