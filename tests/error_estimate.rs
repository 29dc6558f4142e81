//! `[solver] error_estimate`: the Richardson estimate of a solve against the exact LQ
//! oracle in 1-D, 2-D and 3-D (ratio of estimated to true error in [0.5, 2]; the
//! extrapolated means and v(·, 0) converge at observed order ≥ 1.8 — in 3-D on a problem
//! whose populations the coarse grids resolve, an `--ignored` test for its cost), the fine
//! datasets unchanged bit for bit by the estimate, the default per dimension, and bad input.
//!
//! `cargo test --release --test error_estimate -- --ignored` runs the 3-D grids past the
//! default ones (81³; about 3 minutes on 2 cores).

mod common;

use common::{h5_contents, scenario, tufield_in, write};
use ndarray::{Array1, Array2, ArrayD, Ix2, Ix3};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// One population's fine result, estimate and exact answer.
struct Pop {
    /// max |m̄ − m̄_exact| over levels and axes.
    mean_true: f64,
    /// max |mean_error|.
    mean_est: f64,
    /// max |mean_extrapolated − m̄_exact|.
    mean_extrap: f64,
    /// The same for v(·, 0) on the nodes within 3 initial standard deviations of the
    /// initial mean on every axis (where the population is).
    value_true: f64,
    value_est: f64,
    value_extrap: f64,
    /// Signed cost error (J_PDE − J_exact) and its estimate.
    cost_true: f64,
    cost_est: f64,
}

fn solve(dir: &Path, sc: &Path, n: usize, steps: usize, extra: &[&str]) -> (PathBuf, String) {
    let out = dir.join(format!(
        "{}_{n}.h5",
        sc.file_stem().unwrap().to_string_lossy()
    ));
    let (p, s) = (
        format!("solver.points={n}"),
        format!("solver.steps={steps}"),
    );
    let mut args = vec![
        "solve",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        &p,
        "--set",
        &s,
        "--set",
        "solver.tol=1e-9",
    ];
    args.extend_from_slice(extra);
    let run = tufield_in(dir, &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    (out, run.stdout)
}

fn f64s(f: &hdf5::File, path: &str) -> ArrayD<f64> {
    f.dataset(path).unwrap().read_dyn::<f64>().unwrap()
}

fn attr(g: &hdf5::Group, name: &str) -> f64 {
    g.attr(name).unwrap().read_scalar::<f64>().unwrap()
}

fn max_abs<'a>(it: impl Iterator<Item = &'a f64>) -> f64 {
    it.fold(0.0, |a, v| a.max(v.abs()))
}

fn read(path: &Path) -> Vec<Pop> {
    let f = hdf5::File::open(path).unwrap();
    let d = f.group("grid").unwrap().datasets().unwrap().len();
    let axes: Vec<Array1<f64>> = (0..d)
        .map(|i| {
            f64s(&f, &format!("grid/x{i}"))
                .into_dimensionality()
                .unwrap()
        })
        .collect();
    let shape: Vec<usize> = axes.iter().map(|a| a.len()).collect();
    let phi0 = f64s(&f, "lq/exact/phi")
        .into_dimensionality::<Ix3>()
        .unwrap()
        .index_axis_move(ndarray::Axis(0), 0);
    let p = f.group("populations").unwrap().groups().unwrap().len();
    (0..p)
        .map(|k| {
            let g = f.group(&format!("populations/{k}")).unwrap();
            let e = format!("lq/exact/populations/{k}");
            let exact_mean: Array2<f64> = f64s(&f, &format!("{e}/mean"))
                .into_dimensionality::<Ix2>()
                .unwrap();
            let h0 = f64s(&f, &format!("{e}/h"))
                .into_dimensionality::<Ix2>()
                .unwrap()
                .row(0)
                .to_owned();
            let chi0 = f64s(&f, &format!("{e}/chi"))[[0]];
            let cov0: Array2<f64> = f64s(&f, &format!("{e}/cov"))
                .into_dimensionality::<Ix3>()
                .unwrap()
                .index_axis_move(ndarray::Axis(0), 0);
            let m0 = exact_mean.row(0).to_owned();
            let mean = f64s(&f, &format!("populations/{k}/mean"));
            let mean_error = f64s(&f, &format!("populations/{k}/mean_error"));
            let mean_extr = f64s(&f, &format!("populations/{k}/mean_extrapolated"));
            let exact_dyn = exact_mean.clone().into_dyn();
            let value = f64s(&f, &format!("populations/{k}/value"));
            let value_error = f64s(&f, &format!("populations/{k}/value_error"));
            let value_extr = f64s(&f, &format!("populations/{k}/value_extrapolated"));
            let (mut vt, mut ve, mut vx) = (0.0f64, 0.0f64, 0.0f64);
            let nodes: usize = shape.iter().product();
            for flat in 0..nodes {
                let mut rem = flat;
                let mut x = Array1::<f64>::zeros(d);
                let mut idx = vec![0usize; d];
                for i in (0..d).rev() {
                    idx[i] = rem % shape[i];
                    rem /= shape[i];
                    x[i] = axes[i][idx[i]];
                }
                if (0..d).any(|i| (x[i] - m0[i]).abs() >= 3.0 * cov0[[i, i]].sqrt()) {
                    continue;
                }
                let exact = 0.5 * x.dot(&phi0.dot(&x)) + h0.dot(&x) + chi0;
                let mut at = vec![0usize];
                at.extend(&idx);
                vt = vt.max((value[at.as_slice()] - exact).abs());
                ve = ve.max(value_error[at.as_slice()].abs());
                vx = vx.max((value_extr[at.as_slice()] - exact).abs());
            }
            let cost_exact =
                0.5 * (&phi0 * &cov0).sum() + 0.5 * m0.dot(&phi0.dot(&m0)) + h0.dot(&m0) + chi0;
            Pop {
                mean_true: max_abs((&mean - &exact_dyn).iter()),
                mean_est: max_abs(mean_error.iter()),
                mean_extrap: max_abs((&mean_extr - &exact_dyn).iter()),
                value_true: vt,
                value_est: ve,
                value_extrap: vx,
                cost_true: g
                    .dataset("expected_cost")
                    .unwrap()
                    .read_scalar::<f64>()
                    .unwrap()
                    - cost_exact,
                cost_est: attr(&g, "expected_cost_error"),
            }
        })
        .collect()
}

fn assert_ratio(what: &str, est: f64, truth: f64) {
    let r = est / truth;
    println!("{what}: estimated {est:.3e}, true {truth:.3e}, ratio {r:.3}");
    assert!(
        (0.5..=2.0).contains(&r),
        "{what}: estimated {est:.3e} against true {truth:.3e} (ratio {r:.3})"
    );
}

fn assert_order(what: &str, errors: &[f64]) {
    for w in errors.windows(2) {
        let order = (w[0] / w[1]).log2();
        println!(
            "{what}: {:.3e} → {:.3e}, observed order {order:.2}",
            w[0], w[1]
        );
        assert!(
            order >= 1.8,
            "{what}: observed order {order:.2} ({errors:?})"
        );
    }
}

/// Checks ratios (means only where they move, i.e. where the true error is above
/// round-off) and returns the extrapolated errors (means, v(·, 0)) per population.
fn check_ratios(label: &str, pops: &[Pop], means: bool) -> Vec<(f64, f64)> {
    pops.iter()
        .enumerate()
        .map(|(k, p)| {
            if means {
                assert_ratio(&format!("{label} pop {k} means"), p.mean_est, p.mean_true);
            }
            assert_ratio(
                &format!("{label} pop {k} v(·,0)"),
                p.value_est,
                p.value_true,
            );
            assert_ratio(&format!("{label} pop {k} cost"), p.cost_est, p.cost_true);
            (p.mean_extrap, p.value_extrap)
        })
        .collect()
}

#[test]
fn one_d_estimate_matches_the_true_error_and_extrapolation_is_second_order() {
    let dir = TempDir::new().unwrap();
    for (name, means) in [("lqc_1d_chain3.toml", true), ("lqc_1d_single.toml", false)] {
        let mut extr: Vec<Vec<(f64, f64)>> = Vec::new();
        for n in [101, 201, 401] {
            let (out, stdout) = solve(
                dir.path(),
                &scenario(name),
                n,
                n - 1,
                &["--set", "solver.error_estimate=true"],
            );
            assert!(
                stdout.contains("means ±") && stdout.contains("cost ±"),
                "{stdout}"
            );
            extr.push(check_ratios(&format!("{name} {n}"), &read(&out), means));
        }
        for k in 0..extr[0].len() {
            if means {
                let e: Vec<f64> = extr.iter().map(|g| g[k].0).collect();
                assert_order(&format!("{name} pop {k} extrapolated means"), &e);
            }
            let e: Vec<f64> = extr.iter().map(|g| g[k].1).collect();
            assert_order(&format!("{name} pop {k} extrapolated v(·,0)"), &e);
        }
    }
}

#[test]
fn two_d_estimate_matches_the_true_error_and_extrapolation_is_second_order() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    // The scenario's default grid (101², 100 steps; estimate on by default in 2-D) and the
    // next finer one.
    let mut extr = Vec::new();
    for n in [101, 201] {
        let (out, _) = solve(dir.path(), &sc, n, n - 1, &[]);
        extr.push(check_ratios(
            &format!("lqc_2d_chain3 {n}"),
            &read(&out),
            true,
        ));
    }
    for k in 0..3 {
        let e: Vec<f64> = extr.iter().map(|g| g[k].0).collect();
        assert_order(&format!("2-D pop {k} extrapolated means"), &e);
        let e: Vec<f64> = extr.iter().map(|g| g[k].1).collect();
        assert_order(&format!("2-D pop {k} extrapolated v(·,0)"), &e);
    }
}

/// lqc_3d_single with a second population on a chain, so that the means move (with one
/// population the exact mean is constant and the PDE reproduces it to round-off).
fn three_d_pair(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario("lqc_3d_single.toml")).unwrap();
    let text = text.replace(
        "[solver]",
        "[[population]]\nname = \"second\"\nmean = [-0.3, 0.4, -0.2]\nstd = [0.3, 0.3, 0.3]\n\n\
         [graph]\nkind = \"chain\"\n\n[solver]",
    );
    write(dir, "lqc_3d_pair.toml", &text)
}

#[test]
fn three_d_estimate_matches_the_true_error_and_extrapolation_converges() {
    let dir = TempDir::new().unwrap();
    // v(·, 0) and the cost on the scenario's default grid (41³, 100 steps; estimate on by
    // default in 3-D).
    let (out, _) = solve(dir.path(), &scenario("lqc_3d_single.toml"), 41, 100, &[]);
    check_ratios("lqc_3d_single default", &read(&out), false);
    // Moving means on coarse grids.
    let pair = three_d_pair(dir.path());
    let mut extr = Vec::new();
    for n in [21, 41] {
        let (out, _) = solve(dir.path(), &pair, n, n - 1, &[]);
        extr.push(check_ratios(&format!("3-D pair {n}"), &read(&out), true));
    }
    // The extrapolated means are still pre-asymptotic on these grids (observed order 1.48
    // from 21³ to 41³ and 1.79 from 41³ to 81³, measured): the coarse grids 11³ and 21³
    // have std/h = 0.47 and 0.93 for these populations (`tufield check` warns below 3, i.e.
    // asks for ≥ 66 points per axis), so Richardson's expansion does not hold on them yet
    // (docs/design.md §5). Only v(·, 0) is held to 1.8 here, the 1-D and 2-D tests hold the
    // means to it.
    for k in 0..2 {
        let e: Vec<f64> = extr.iter().map(|g| g[k].1).collect();
        assert_order(&format!("3-D pop {k} extrapolated v(·,0)"), &e);
    }
}

/// A 3-D chain of two whose populations the coarse grids resolve: lqc_3d_single's game
/// with σ = 0.5 (the standard deviations stay in [0.298, 0.315] over the horizon instead
/// of shrinking from 0.3 to 0.2 as at σ = 0.3), means 0.4 apart, and a box of the means'
/// range ± 5.5 standard deviations (the automatic box takes 6, which costs std/h 2.9
/// instead of 3.1 on 41³). The smallest standard deviation over the spacing is then 1.55
/// on 21³ and 3.1 on 41³ — the coarse grids of the 41³ and 81³ solves — where
/// lqc_3d_single's pair has 0.47 and 0.93 (`tufield check` warns below 3).
fn three_d_resolved_pair(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario("lqc_3d_single.toml")).unwrap();
    let text = text
        .replace("sigma = 0.3", "sigma = 0.5")
        .replace("mean = [0.4, -0.2, 0.3]", "mean = [0.2, -0.1, 0.15]")
        .replace(
            "[solver]",
            "[[population]]\nname = \"second\"\nmean = [-0.15, 0.2, -0.1]\n\
             std = [0.3, 0.3, 0.3]\n\n[graph]\nkind = \"chain\"\n\n[solver]\n\
             domain = [[-1.9, 1.95], [-1.85, 1.95], [-1.85, 1.9]]",
        );
    write(dir, "lqc_3d_resolved_pair.toml", &text)
}

/// The 3-D requirement in the asymptotic regime (module docs): on the resolved pair the
/// extrapolated means and v(·, 0) converge at order ≥ 1.8 from 41³ to 81³ (measured 1.96
/// and 2.07; the estimate/true ratios 1.50, 1.31, 1.35 at 41³ and 1.29, 1.15, 1.16 at 81³
/// for the means, v(·, 0) and the cost), and lqc_3d_single's estimate holds on the grid
/// past its default (81³, 200 steps: ratios 1.15 for v(·, 0) and 1.21 for the cost,
/// extrapolated v(·, 0) at order 2.02 from the default 41³). The coarse grids of
/// `three_d_pair` do not resolve its populations, and its extrapolated means converge at
/// 1.48 and 1.79 only (docs/design.md §5): the counter-example the spread warning is for.
#[test]
#[ignore = "81³ grids: about 3 minutes on 2 cores"]
fn three_d_estimate_on_resolved_populations_is_asymptotic() {
    let dir = TempDir::new().unwrap();
    let pair = three_d_resolved_pair(dir.path());
    for n in [41, 81] {
        let r = tufield_in(
            dir.path(),
            &[
                "check",
                pair.to_str().unwrap(),
                "--set",
                &format!("solver.points={}", n / 2 + 1),
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        // The coarse grid of the 81³ solve resolves the spread (no warning on 41³).
        assert_eq!(n == 81, !r.stdout.contains("std/h"), "{n}: {}", r.stdout);
    }
    let mut extr = Vec::new();
    for n in [41, 81] {
        let (out, _) = solve(dir.path(), &pair, n, n - 1, &[]);
        extr.push(check_ratios(
            &format!("3-D resolved pair {n}"),
            &read(&out),
            true,
        ));
    }
    for k in 0..2 {
        let e: Vec<f64> = extr.iter().map(|g| g[k].0).collect();
        assert_order(&format!("3-D resolved pop {k} extrapolated means"), &e);
        let e: Vec<f64> = extr.iter().map(|g| g[k].1).collect();
        assert_order(&format!("3-D resolved pop {k} extrapolated v(·,0)"), &e);
    }
    let single = scenario("lqc_3d_single.toml");
    let mut extr = Vec::new();
    for (n, steps) in [(41, 100), (81, 200)] {
        let (out, _) = solve(dir.path(), &single, n, steps, &[]);
        extr.push(check_ratios(
            &format!("lqc_3d_single {n}"),
            &read(&out),
            false,
        ));
    }
    let e: Vec<f64> = extr.iter().map(|g| g[0].1).collect();
    assert_order("lqc_3d_single extrapolated v(·,0)", &e);
}

#[test]
fn the_estimate_only_adds_datasets_and_is_off_by_default_in_1d() {
    let dir = TempDir::new().unwrap();
    let coarse = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    let run = |name: &str, sc: &str, extra: &[&str]| -> PathBuf {
        let out = dir.path().join(name);
        let mut args = vec!["solve", sc, "--out", out.to_str().unwrap(), "-q"];
        args.extend_from_slice(&coarse);
        args.extend_from_slice(extra);
        let r = tufield_in(dir.path(), &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        out
    };
    let sc2 = scenario("lqc_2d_chain3.toml");
    let sc2 = sc2.to_str().unwrap();
    let on = h5_contents(&run("on.h5", sc2, &[]));
    let off = h5_contents(&run(
        "off.h5",
        sc2,
        &["--set", "solver.error_estimate=false"],
    ));
    let mut compared = 0;
    for (key, value) in &off {
        if key.ends_with("wall_s") || key == "@scenario" {
            continue;
        }
        assert_eq!(
            on.get(key),
            Some(value),
            "{key} differs with the estimate on"
        );
        compared += 1;
    }
    assert!(compared > 50, "only {compared} entries compared");
    for k in 0..3 {
        for name in [
            "mean_error",
            "mean_extrapolated",
            "value_error",
            "value_extrapolated",
            "density_error",
        ] {
            let key = format!("/populations/{k}/{name}");
            assert!(on.contains_key(&key), "{key} missing");
            assert!(
                !off.contains_key(&key),
                "{key} written with the estimate off"
            );
        }
        for (what, like) in [("mean", "mean"), ("value", "value"), ("density", "density")] {
            assert_eq!(
                on[&format!("/populations/{k}/{what}_error#shape")],
                on[&format!("/populations/{k}/{like}#shape")]
            );
        }
        assert!(on.contains_key(&format!("/populations/{k}@expected_cost_error")));
    }
    // 1-D: off unless asked for.
    let sc1 = scenario("lqc_1d_single.toml");
    let plain = h5_contents(&run("plain1d.h5", sc1.to_str().unwrap(), &[]));
    assert!(!plain.contains_key("/populations/0/mean_error"));
}

#[test]
fn error_estimate_on_a_grid_too_small_to_coarsen_is_refused() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let out = dir.path().join("x.h5");
    let r = tufield_in(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "solver.points=7",
            "--set",
            "solver.error_estimate=true",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("solver.error_estimate") && r.stderr.contains("at least 9"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    // The same grid without the key: the default quietly leaves the estimate off.
    let r = tufield_in(
        dir.path(),
        &["check", sc.to_str().unwrap(), "--set", "solver.points=7"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One time step cannot be halved.
    let r = tufield_in(
        dir.path(),
        &[
            "check",
            sc.to_str().unwrap(),
            "--set",
            "solver.steps=1",
            "--set",
            "solver.error_estimate=true",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("solver.error_estimate") && r.stderr.contains("at least 2"),
        "{}",
        r.stderr
    );
    // Modal scenarios have no single grid to coarsen.
    let r = tufield_in(
        dir.path(),
        &[
            "check",
            scenario("lqc_7d_modal_chain3.toml").to_str().unwrap(),
            "--set",
            "solver.error_estimate=true",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("solver.error_estimate"), "{}", r.stderr);
    // Not a boolean.
    let r = tufield_in(
        dir.path(),
        &[
            "check",
            sc.to_str().unwrap(),
            "--set",
            "solver.error_estimate=\"yes\"",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("error_estimate"), "{}", r.stderr);
}

/// With `scheme = "second-order"` the estimate uses Richardson's rule of order 2
/// (e_h ≈ (u_2h − u_h)/3, recorded as `/error_estimate@order` = 2) and matches the true
/// error (ratio in [0.5, 2]) in 1-D and 2-D once the coarse grid resolves the drift
/// (cell Péclet number ≤ 2 where the populations are, so the coarse solve is second order
/// there too). Measured on lqc_1d_chain3: with 101 coarse points the right population's
/// v(·, 0) is upwinded near x = 2.2 and off by 7.7e-3 (1.1e-6 at 201 points), so the
/// estimate of a 201-point solve is pessimistic (ratio 31 for the left population); from
/// 201 coarse points on, the errors fall by 4 per halving and the ratios are near 1.
#[test]
fn second_order_estimate_uses_exponent_two_and_matches_the_true_error() {
    let dir = TempDir::new().unwrap();
    let second = [
        "--set",
        "solver.scheme=\"second-order\"",
        "--set",
        "solver.error_estimate=true",
        // The cost errors (~1e-9 at 401 points) must stand above the iteration error.
        "--set",
        "solver.tol=1e-12",
    ];
    // lqc_2d_chain3's drift reaches |b| ≈ 3 where its populations are, so at σ = 0.3 the
    // coarse grid needs ≥ 201² points to be central there (measured: mean errors 2e-3 at
    // 101², 8e-6 at 201²); with σ = 0.6 the 101² coarse grid of a 201² solve resolves it.
    for (name, n, sigma) in [
        ("lqc_1d_chain3.toml", 401, "noise.sigma=0.3"),
        ("lqc_1d_chain3.toml", 801, "noise.sigma=0.3"),
        ("lqc_2d_chain3.toml", 201, "noise.sigma=0.6"),
    ] {
        let mut extra = second.to_vec();
        extra.extend(["--set", sigma]);
        let (out, stdout) = solve(dir.path(), &scenario(name), n, n - 1, &extra);
        assert!(stdout.contains("means ±"), "{stdout}");
        let f = hdf5::File::open(&out).unwrap();
        let g = f.group("error_estimate").unwrap();
        assert_eq!(g.attr("order").unwrap().read_scalar::<u64>().unwrap(), 2);
        let method: hdf5::types::VarLenUnicode = g.attr("method").unwrap().read_scalar().unwrap();
        assert!(method.as_str().contains("second-order scheme"), "{method}");
        for (k, p) in read(&out).iter().enumerate() {
            let label = format!("second order {name} {n} pop {k}");
            assert_ratio(&format!("{label} means"), p.mean_est, p.mean_true);
            assert_ratio(&format!("{label} v(·,0)"), p.value_est, p.value_true);
            // The cost J = Σ v(·, 0) m₀ cell averages v's error over the population, whose
            // signs differ across it at second order (measured: −1e-8 … 3.7e-8 for the
            // left population at 401 points, cost error −4.6e-9), so its leading terms
            // cancel and the ratio is not asymptotic; the estimate is held to the scale
            // of the error it averages.
            println!(
                "{label} cost: estimated {:.3e}, true {:.3e}",
                p.cost_est, p.cost_true
            );
            assert!(
                (p.cost_est - p.cost_true).abs() <= 0.5 * p.value_true,
                "{label} cost: estimated {:e}, true {:e}, v(·,0) error {:e}",
                p.cost_est,
                p.cost_true,
                p.value_true
            );
        }
    }
}
