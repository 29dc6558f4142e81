//! `tufield simulate --study/--epsilon-nash` on the paper's scenarios: the cost gap is
//! measured at the simulation's own time step (no time-step bias, no NaN for any policy
//! with costs), and the ε-Nash study writes its gains, a Monte Carlo check and a figure.

mod common;

use common::{scenario, tufield};
use ndarray::{Array1, Array2};
use tempfile::TempDir;

fn study(name: &str, policy: &str, extra: &[&str]) -> (common::Run, TempDir) {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("sim.h5");
    let sc = scenario(name);
    let mut args = vec![
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        policy,
        "--copies",
        "50",
        "--study",
        "10,100,1000",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let r = tufield(&args);
    (r, dir)
}

#[test]
fn fig7_study_has_no_time_step_bias_and_falls_for_both_policies() {
    for policy in ["lq", "second-order"] {
        let (r, dir) = study("paper_7d_chain5_fig7.toml", policy, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(!r.stdout.contains("NaN"), "{}", r.stdout);
        let f = hdf5::File::open(dir.path().join("sim.h5")).unwrap();
        let st = f.group("study").unwrap();
        let attr = |n: &str| st.attr(n).unwrap().read_scalar::<f64>().unwrap();
        let dev = attr("mean_deviation_slope");
        let gap = attr("cost_gap_slope");
        let bias = attr("cost_bias_slope");
        eprintln!("{policy}: slopes mean {dev:.3} gap {gap:.3} bias {bias:.3}");
        assert!((-0.7..=-0.35).contains(&dev), "{dev}");
        assert!((-0.8..=-0.4).contains(&gap), "{gap}");
        // The exact finite-N bias is O(1/N).
        assert!((bias + 1.0).abs() < 0.02, "{bias}");
        let g: Array1<f64> = st.dataset("cost_gap").unwrap().read_1d().unwrap();
        assert!(g[0] > g[1] && g[1] > g[2], "{g}");
        // The realised cost sits at the same-step reference, not at the continuous value.
        for k in 0..5 {
            let pg = f.group(&format!("populations/{k}")).unwrap();
            let rc: Array1<f64> = pg.dataset("realised_cost").unwrap().read_1d().unwrap();
            let reference: f64 = pg.dataset("reference_cost").unwrap().read_scalar().unwrap();
            let se = rc[1] / 50f64.sqrt();
            assert!((rc[0] - reference).abs() < 4.0 * se, "{rc} vs {reference}");
            if policy == "lq" {
                let mf: f64 = pg
                    .dataset("mean_field_cost")
                    .unwrap()
                    .read_scalar()
                    .unwrap();
                // First-order time-step bias of a few per cent.
                assert!((reference - mf) / mf > 0.01, "{reference} vs {mf}");
            } else {
                assert!(pg.dataset("mean_field_cost").is_err());
            }
        }
    }
}

#[test]
fn epsilon_nash_of_the_equilibrium_falls_to_its_floor_and_of_the_heuristic_does_not() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let mut eps_by_policy = Vec::new();
    for policy in ["lq", "second-order"] {
        let out = dir.path().join(format!("{policy}.h5"));
        let r = tufield(&[
            "simulate",
            sc.to_str().unwrap(),
            "--policy",
            policy,
            "--copies",
            "20",
            "--set",
            "solver.steps=40",
            "--epsilon-nash",
            "4,16,64,256",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("ε-Nash"), "{}", r.stdout);
        assert!(dir
            .path()
            .join(format!("{policy}_epsilon_nash.png"))
            .is_file());
        let f = hdf5::File::open(&out).unwrap();
        let g = f.group("epsilon_nash").unwrap();
        let eps: Array2<f64> = g.dataset("epsilon").unwrap().read_2d().unwrap();
        let mc: Array2<f64> = g.dataset("monte_carlo_epsilon").unwrap().read_2d().unwrap();
        let se: Array2<f64> = g
            .dataset("monte_carlo_standard_error")
            .unwrap()
            .read_2d()
            .unwrap();
        let limit: Array1<f64> = g.dataset("epsilon_limit").unwrap().read_1d().unwrap();
        let rate: Array1<f64> = g.dataset("rate").unwrap().read_1d().unwrap();
        for k in 0..3 {
            for i in 0..4 {
                assert!(eps[[i, k]] >= 0.0);
                assert!(
                    (mc[[i, k]] - eps[[i, k]]).abs() < 4.0 * se[[i, k]],
                    "{mc} {eps} {se}"
                );
                if i > 0 {
                    assert!(eps[[i, k]] < eps[[i - 1, k]], "{eps}");
                }
            }
            assert!((rate[k] + 1.0).abs() < 0.05, "{rate}");
        }
        eps_by_policy.push((eps, limit));
    }
    let (lq_eps, lq_limit) = &eps_by_policy[0];
    let (ho_eps, _) = &eps_by_policy[1];
    // The equilibrium's floor is the time-step error, far below the gain at N = 4; the
    // heuristic leaves a gain for the outer populations even as N → ∞.
    for k in [0, 2] {
        assert!(lq_limit[k] < 0.05 * lq_eps[[0, k]], "{lq_limit} {lq_eps}");
        assert!(
            ho_eps[[3, k]] > 10.0 * lq_eps[[3, k]],
            "{ho_eps} vs {lq_eps}"
        );
    }
}

#[test]
fn epsilon_nash_refuses_bad_counts_and_policies_naming_the_option() {
    let sc = scenario("lqc_1d_chain3.toml");
    let s = sc.to_str().unwrap();
    for args in [
        vec!["simulate", s, "--epsilon-nash", "1,10"],
        vec!["simulate", s, "--epsilon-nash", "10"],
        vec!["simulate", s, "--epsilon-nash", "10,x"],
    ] {
        let r = tufield(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("--epsilon-nash"), "{}", r.stderr);
    }
    let two = scenario("lqc_2d_chain3.toml");
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("x.h5");
    let r = tufield(&[
        "simulate",
        two.to_str().unwrap(),
        "--policy",
        "least-squares",
        "--copies",
        "10",
        "--epsilon-nash",
        "10,100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--epsilon-nash"), "{}", r.stderr);
    assert!(!out.exists());
}
