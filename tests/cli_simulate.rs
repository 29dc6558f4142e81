//! `tufield simulate`: file layout with the LQ policy and a study, the drift of a
//! `tufield solve` output (histogram vs FPK density), least-squares in the full coalition
//! space, and refused arguments (exit 2 naming the option).

mod common;

use common::{scenario, tufield};
use hdf5::types::VarLenUnicode;
use ndarray::{Array1, Array2, Array3, ArrayD};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn str_attr(loc: &hdf5::Location, name: &str) -> String {
    loc.attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

fn run(args: &[&str]) -> common::Run {
    tufield(args)
}

#[test]
fn lq_policy_writes_the_layout() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("sim.h5");
    let sc = scenario("lqc_1d_chain3.toml");
    let r = run(&[
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        "lq",
        "--copies",
        "2000",
        "--seed",
        "7",
        "--set",
        "solver.steps=40",
        "--study",
        "10,100,1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("slope"), "{}", r.stdout);
    assert!(
        r.stderr.contains("level 40/40"),
        "progress lines: {}",
        r.stderr
    );
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(str_attr(&f, "command"), "simulate");
    assert_eq!(str_attr(&f, "policy"), "lq");
    assert_eq!(
        f.attr("copies").unwrap().read_scalar::<u64>().unwrap(),
        2000
    );
    assert_eq!(f.attr("seed").unwrap().read_scalar::<u64>().unwrap(), 7);
    assert!(str_attr(&f, "scenario").contains("lqc_1d_chain3"));
    assert_eq!(f.dataset("time").unwrap().size(), 41);
    let levels = f
        .dataset("snapshot_level")
        .unwrap()
        .read_raw::<u64>()
        .unwrap();
    let nx = f.dataset("grid/x0").unwrap().size();
    let dx: f64 = f
        .dataset("grid/x0")
        .unwrap()
        .attr("spacing")
        .unwrap()
        .read_scalar()
        .unwrap();
    for k in 0..3 {
        let g = |n: &str| f.dataset(&format!("populations/{k}/{n}")).unwrap();
        assert_eq!(g("empirical_mean").shape(), vec![41, 1]);
        assert_eq!(g("empirical_target").shape(), vec![41, 1]);
        assert_eq!(g("mean_field_mean").shape(), vec![41, 1]);
        assert_eq!(g("empirical_cov").shape(), vec![41, 1, 1]);
        assert_eq!(g("trajectories").shape(), vec![10, 41, 1]);
        let hist: ArrayD<f64> = g("histogram").read_dyn().unwrap();
        assert_eq!(hist.shape(), &[levels.len(), nx]);
        for frame in hist.outer_iter() {
            assert!((frame.sum() * dx - 1.0).abs() < 1e-12);
        }
        let cost: Array1<f64> = g("realised_cost").read_1d().unwrap();
        let mf: f64 = g("mean_field_cost").read_scalar().unwrap();
        let se = cost[1] / 2000f64.sqrt();
        assert!((cost[0] - mf).abs() < 4.0 * se + 0.02, "{cost} vs {mf}");
        let emp: Array2<f64> = g("empirical_mean").read_2d().unwrap();
        let mfm: Array2<f64> = g("mean_field_mean").read_2d().unwrap();
        let cov: Array3<f64> = g("empirical_cov").read().unwrap();
        let sd = cov[[40, 0, 0]].sqrt();
        assert!((emp[[40, 0]] - mfm[[40, 0]]).abs() < 4.0 * sd / 2000f64.sqrt() + 0.01);
        assert!(f.dataset(&format!("populations/{k}/density_l1")).is_err());
    }
    let st = f.group("study").unwrap();
    let slope: f64 = st
        .attr("mean_deviation_slope")
        .unwrap()
        .read_scalar()
        .unwrap();
    eprintln!("study slope (N = 10, 100, 1000; 4 seeds): {slope:.3}");
    assert!((-0.8..=-0.2).contains(&slope), "{slope}");
    assert_eq!(
        st.dataset("copies").unwrap().read_raw::<u64>().unwrap(),
        vec![10, 100, 1000]
    );
}

/// Drift from a coarse `tufield solve` (41 points, 20 steps, value snapshots every level):
/// the copies' histogram at each snapshot against the FPK density.
#[test]
fn solve_file_policy_reports_density_distance() {
    let dir = TempDir::new().unwrap();
    let sol = dir.path().join("sol.h5");
    let out = dir.path().join("sim.h5");
    let sc = scenario("lqc_1d_chain3.toml");
    let set = ["--set", "solver.points=41", "--set", "solver.steps=20"];
    let mut args = vec![
        "--quiet",
        "solve",
        sc.to_str().unwrap(),
        "--out",
        sol.to_str().unwrap(),
    ];
    args.extend_from_slice(&set);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut args = vec![
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        sol.to_str().unwrap(),
        "--copies",
        "20000",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(&set);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Measured (seed 0, N = 20 000): L1 0.02-0.03 at t = 0 (sampling + deposit), growing
    // to 0.33 at T for the outer populations. The growth is the coarse PDE's numerical
    // diffusion, not the particles: at T the FPK variance of population 0 is 0.102 while
    // the exact LQ variance is 0.0576 and the copies driven by the file's ∇v have 0.0590
    // (the LQ-driven copies 0.0591: Euler bias at dt = 0.05). Bounds: 0.05 at t = 0,
    // 0.4 overall, and the copies' variance within 5 % of the exact one.
    let f = hdf5::File::open(&out).unwrap();
    let s = hdf5::File::open(&sol).unwrap();
    let mut worst: f64 = 0.0;
    for k in 0..3 {
        let l1: Array1<f64> = f
            .dataset(&format!("populations/{k}/density_l1"))
            .unwrap()
            .read_1d()
            .unwrap();
        assert_eq!(l1.len(), 21);
        assert!(l1[0] < 0.05, "population {k}: L1 at t = 0 {}", l1[0]);
        worst = worst.max(l1.iter().fold(0.0, |m: f64, v| m.max(*v)));
        let cov: Array3<f64> = f
            .dataset(&format!("populations/{k}/empirical_cov"))
            .unwrap()
            .read()
            .unwrap();
        let exact: Array3<f64> = s
            .dataset(&format!("lq/exact/populations/{k}/cov"))
            .unwrap()
            .read()
            .unwrap();
        let fpk: Array3<f64> = s
            .dataset(&format!("populations/{k}/cov"))
            .unwrap()
            .read()
            .unwrap();
        let rel = (cov[[20, 0, 0]] / exact[[20, 0, 0]] - 1.0).abs();
        eprintln!(
            "population {k}: variance at T: copies {:.4}, exact LQ {:.4}, coarse FPK {:.4}",
            cov[[20, 0, 0]],
            exact[[20, 0, 0]],
            fpk[[20, 0, 0]]
        );
        assert!(rel < 0.05, "population {k}: {rel}");
    }
    eprintln!("histogram vs FPK density, L1 over snapshots and populations: {worst:.4}");
    assert!(worst < 0.4, "{worst}");

    // A different model (σ changed) is refused, naming --policy.
    let mut args = vec![
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        sol.to_str().unwrap(),
        "--copies",
        "100",
        "--set",
        "noise.sigma=0.5",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(&set);
    let r = run(&args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--policy"), "{}", r.stderr);
}

#[test]
fn least_squares_runs_in_the_full_coalition_space() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("ls.h5");
    let sc = scenario("lqc_2d_chain3.toml");
    let r = run(&[
        "--quiet",
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        "least-squares",
        "--copies",
        "500",
        "--set",
        "solver.steps=20",
        "--set",
        "solver.points=21",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let f = hdf5::File::open(&out).unwrap();
    let m: Array2<f64> = f
        .dataset("populations/0/empirical_mean")
        .unwrap()
        .read_2d()
        .unwrap();
    assert_eq!(m.dim(), (21, 7));
    assert!(f.dataset("populations/0/realised_cost").is_err());

    let one_d = scenario("lqc_1d_chain3.toml");
    let r = run(&[
        "simulate",
        one_d.to_str().unwrap(),
        "--policy",
        "least-squares",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--policy"), "{}", r.stderr);
}

#[test]
fn bad_arguments_exit_2_naming_the_option() {
    let sc = scenario("lqc_1d_chain3.toml");
    let s = sc.to_str().unwrap();
    for (args, key) in [
        (vec!["simulate", s, "--copies", "0"], "--copies"),
        (
            vec!["simulate", s, "--copies", "5", "--trajectories", "6"],
            "--trajectories",
        ),
        (vec!["simulate", s, "--study", "10"], "--study"),
        (vec!["simulate", s, "--policy", "nowhere.h5"], "--policy"),
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(key), "{args:?}: {}", r.stderr);
    }
}

/// Solves a shipped scenario into `dir/sol.h5` and simulates `copies` copies per
/// population driven by that file into `dir/sim.h5`; returns (scenario, solve file,
/// simulate file).
fn solve_then_simulate(dir: &Path, name: &str, copies: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (sol, out) = (dir.join("sol.h5"), dir.join("sim.h5"));
    let sc = scenario(name);
    let r = run(&[
        "-q",
        "solve",
        sc.to_str().unwrap(),
        "--out",
        sol.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "-q",
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        sol.to_str().unwrap(),
        "--copies",
        copies,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (sc, sol, out)
}

/// Bounded controls (2-D, three populations): finite-N copies driven by the saturated
/// feedback ∇H(∇v) of the solve file reproduce the PDE's bounded equilibrium means, which
/// the LQ equilibrium misses (an independent check of the bounded FPK by Euler–Maruyama).
/// Measured (seed 0, N = 20 000, 101², 100 steps): see the test output; bound 0.05 on
/// |m̂(T) − m̄_PDE(T)| (PDE discretisation at h ≈ 0.07, Euler bias at dt = 0.01, sampling
/// SE ≈ 0.003) against an LQ gap above 0.15. The LQ policy is refused for a non-LQ model.
#[test]
fn bounded_copies_follow_the_pde_not_the_lq_means() {
    let dir = TempDir::new().unwrap();
    let (sc, sol, out) = solve_then_simulate(dir.path(), "bounded_2d_chain3.toml", "20000");
    let sc = sc.to_str().unwrap();
    let f = hdf5::File::open(&out).unwrap();
    let s = hdf5::File::open(&sol).unwrap();
    let (mut worst, mut lq_gap): (f64, f64) = (0.0, 0.0);
    for k in 0..3 {
        let read = |file: &hdf5::File, p: String| -> Array2<f64> {
            file.dataset(&p).unwrap().read_2d().unwrap()
        };
        let sim = read(&f, format!("populations/{k}/empirical_mean"));
        let pde = read(&s, format!("populations/{k}/mean"));
        let lq = read(&s, format!("lq/exact/populations/{k}/mean"));
        let last = sim.nrows() - 1;
        for i in 0..2 {
            worst = worst.max((sim[[last, i]] - pde[[last, i]]).abs());
            lq_gap = lq_gap.max((lq[[last, i]] - pde[[last, i]]).abs());
        }
    }
    eprintln!("bounded: copies vs PDE mean at T {worst:.4}; LQ vs PDE {lq_gap:.4}");
    assert!(lq_gap > 0.15, "the bound is not active: {lq_gap}");
    assert!(worst < 0.05, "{worst}");
    let r = run(&[
        "simulate",
        sc,
        "--copies",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--policy") && r.stderr.contains("not LQ"),
        "{}",
        r.stderr
    );
}

/// Bounded controls (1-D, skewed start): the Monte Carlo cost of copies driven by the
/// solve file (charged the channels' control cost ℓ of the saturated feedback) estimates
/// the PDE value E[v(0, X₀)], and their mean confirms the drift of the equilibrium mean
/// (constant in the LQ model). The PDE value converges at first order, so its error at
/// 401 points is about its change from 201 points; the copies' cost must lie within that
/// plus 3 standard errors of the finer value, and closer to it than to the coarser one.
/// Measured (100 000 copies, seed 0): PDE 0.2372 (201/100), 0.2336 (401/200), copies
/// 0.2320 ± 9e-4; mean at T: copies 0.799, PDE 0.796, m̄(0) 0.69.
#[test]
fn bounded_monte_carlo_cost_matches_the_pde_value() {
    let dir = TempDir::new().unwrap();
    let coarse = dir.path().join("coarse.h5");
    let sc = scenario("bounded_1d_single.toml");
    let r = run(&[
        "-q",
        "solve",
        sc.to_str().unwrap(),
        "--out",
        coarse.to_str().unwrap(),
        "--set",
        "solver.points=201",
        "--set",
        "solver.steps=100",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, sol, out) = solve_then_simulate(dir.path(), "bounded_1d_single.toml", "100000");
    let value = |p: &Path| -> f64 {
        let f = hdf5::File::open(p).unwrap();
        let v: Array2<f64> = f.dataset("populations/0/value").unwrap().read_2d().unwrap();
        let m: Array2<f64> = f
            .dataset("populations/0/density")
            .unwrap()
            .read_2d()
            .unwrap();
        let x: Array1<f64> = f.dataset("grid/x0").unwrap().read_1d().unwrap();
        let h = x[1] - x[0];
        v.row(0)
            .iter()
            .zip(m.row(0).iter())
            .map(|(v, m)| v * m)
            .sum::<f64>()
            * h
    };
    let (j_coarse, j_fine) = (value(&coarse), value(&sol));
    let f = hdf5::File::open(&out).unwrap();
    let cost: Array1<f64> = f
        .dataset("populations/0/realised_cost")
        .unwrap()
        .read_1d()
        .unwrap();
    let se = cost[1] / 100_000f64.sqrt();
    let sim_mean: Array2<f64> = f
        .dataset("populations/0/empirical_mean")
        .unwrap()
        .read_2d()
        .unwrap();
    let pde_mean: Array2<f64> = hdf5::File::open(&sol)
        .unwrap()
        .dataset("populations/0/mean")
        .unwrap()
        .read_2d()
        .unwrap();
    let last = pde_mean.nrows() - 1;
    eprintln!(
        "bounded 1-D: PDE value {j_coarse:.5} (201) {j_fine:.5} (401), copies {:.5} ± {se:.1e}; \
         mean at T copies {:.4}, PDE {:.4}, m̄(0) {:.4}",
        cost[0],
        sim_mean[[last, 0]],
        pde_mean[[last, 0]],
        pde_mean[[0, 0]]
    );
    let disc = (j_fine - j_coarse).abs();
    assert!(
        (cost[0] - j_fine).abs() <= disc + 3.0 * se,
        "{} vs {j_fine}",
        cost[0]
    );
    assert!((cost[0] - j_fine).abs() < (cost[0] - j_coarse).abs());
    assert!((sim_mean[[last, 0]] - pde_mean[[last, 0]]).abs() < 0.01);
    assert!(
        sim_mean[[last, 0]] - pde_mean[[0, 0]] > 0.05,
        "the mean did not move"
    );
}

/// Non-Gaussian starts (mixture, uniform box) are sampled exactly: with the LQ policy the
/// copies' mean at every level is within 5 standard errors of the Euler chain's exact mean
/// `reference_mean` (linear drift: it depends only on the initial mean, so moment
/// matching is exact; `mean_field_mean`, the exact ODE mean, differs from it by the O(dt)
/// Euler bias, ≈ 3e-3 here, which 20 000 copies resolve).
/// The full-coalition-space policies refuse them, naming the key.
#[test]
fn mixture_and_uniform_starts_are_sampled_exactly() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("sim.h5");
    let sc = scenario("mixture_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let r = run(&[
        "-q",
        "simulate",
        sc,
        "--copies",
        "20000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let f = hdf5::File::open(&out).unwrap();
    let mut worst: f64 = 0.0;
    for k in 0..3 {
        let read2 = |p: String| -> Array2<f64> { f.dataset(&p).unwrap().read_2d().unwrap() };
        let emp = read2(format!("populations/{k}/empirical_mean"));
        let mf = read2(format!("populations/{k}/reference_mean"));
        let cov: Array3<f64> = f
            .dataset(&format!("populations/{k}/empirical_cov"))
            .unwrap()
            .read()
            .unwrap();
        for n in 0..emp.nrows() {
            for i in 0..2 {
                let se = (cov[[n, i, i]] / 20000.0).sqrt();
                worst = worst.max((emp[[n, i]] - mf[[n, i]]).abs() / se);
            }
        }
    }
    eprintln!("mixture/uniform starts: largest |z| of the copies' mean {worst:.2}");
    assert!(worst < 5.0, "{worst}");
    let r = run(&[
        "simulate",
        sc,
        "--policy",
        "least-squares",
        "--copies",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("].kind"), "{}", r.stderr);
}

/// Core penalty (κ > 0): copies driven by the solve file's ∇v reproduce the PDE mean,
/// which rises out of the negative region (the LQ mean would stay at −0.3). Measured
/// (N = 20 000, 201 points, 200 steps): m̂(T) −0.075, PDE −0.081, rise 0.22; bound 0.03
/// (PDE discretisation ≈ 0.015 at this grid from the core-penalty tests, sampling SE 0.002).
#[test]
fn core_penalty_copies_follow_the_rising_pde_mean() {
    let dir = TempDir::new().unwrap();
    let (_, sol, out) = solve_then_simulate(dir.path(), "core_1d_single.toml", "20000");
    let sim: Array2<f64> = hdf5::File::open(&out)
        .unwrap()
        .dataset("populations/0/empirical_mean")
        .unwrap()
        .read_2d()
        .unwrap();
    let pde: Array2<f64> = hdf5::File::open(&sol)
        .unwrap()
        .dataset("populations/0/mean")
        .unwrap()
        .read_2d()
        .unwrap();
    let last = pde.nrows() - 1;
    let rise = pde[[last, 0]] - pde[[0, 0]];
    let gap = (sim[[last, 0]] - pde[[last, 0]]).abs();
    eprintln!("κ > 0: PDE rise {rise:.4}, copies vs PDE at T {gap:.4}");
    assert!(rise > 0.1, "{rise}");
    assert!(gap < 0.03, "{gap}");
}
