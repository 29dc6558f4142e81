//! Warnings before silent error: `check` and `solve` name the setting to change when the
//! time step is too large for the fastest closed-loop mode, when the grid is too coarse
//! for a population's spread, when the second-order scheme upwinds where a population
//! carries mass, and when the estimated error dwarfs `solver.tol`; `compare`
//! states the PDE's own estimated error next to its differences and, on LQ models, the
//! gap between the PDE cost and the exact Riccati cost.

mod common;

use common::{scenario, tufield_in};
use tempfile::TempDir;

fn run(dir: &std::path::Path, args: &[&str]) -> common::Run {
    let r = tufield_in(dir, args);
    assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
    r
}

fn warning_lines(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("warning") && l.contains(key))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_time_step_too_large_for_the_closed_loop_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let fig7 = scenario("paper_7d_chain5_fig7.toml");
    let fig7 = fig7.to_str().unwrap();
    // 60 steps over T = 6: |λ|·dt = 0.84 for the fastest mode of A·φ(t).
    let r = run(dir.path(), &["check", fig7]);
    let w = warning_lines(&r.stdout, "solver.steps");
    assert_eq!(w.len(), 1, "{}", r.stdout);
    assert!(
        w[0].contains("|λ|·dt = 0.84") && w[0].contains("at least 101"),
        "{}",
        w[0]
    );
    // The suggested number of steps silences it.
    let r = run(dir.path(), &["check", fig7, "--set", "solver.steps=101"]);
    assert!(
        warning_lines(&r.stdout, "solver.steps").is_empty(),
        "{}",
        r.stdout
    );
    // solve says it before iterating (1-D benchmark with a single step: |λ|·dt ≈ 0.8).
    let sc = scenario("lqc_1d_single.toml");
    let out = dir.path().join("one.h5");
    let r = run(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "solver.steps=1",
        ],
    );
    assert_eq!(
        warning_lines(&r.stderr, "solver.steps").len(),
        1,
        "{}",
        r.stderr
    );
    let r = run(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn a_grid_too_coarse_for_the_spread_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_single.toml");
    let sc = sc.to_str().unwrap();
    // 21 points on the automatic domain: spacing ≈ 0.13 against a standard deviation of
    // about 0.2.
    let r = run(dir.path(), &["check", sc, "--set", "solver.points=21"]);
    let w = warning_lines(&r.stdout, "solver.points");
    assert_eq!(w.len(), 1, "{}", r.stdout);
    assert!(
        w[0].contains("std/h") && w[0].contains("population 1"),
        "{}",
        w[0]
    );
    let r = run(dir.path(), &["check", sc]);
    assert!(!r.stdout.contains("warning"), "{}", r.stdout);
    let out = dir.path().join("coarse.h5");
    let r = run(
        dir.path(),
        &[
            "solve",
            sc,
            "--out",
            out.to_str().unwrap(),
            "--set",
            "solver.points=21",
        ],
    );
    assert_eq!(
        warning_lines(&r.stderr, "solver.points").len(),
        1,
        "{}",
        r.stderr
    );
    // The motivating paper scenario: each mode's grid spans populations 100 apart with a
    // spacing far above their spread.
    let fig7 = scenario("paper_7d_chain5_fig7.toml");
    let r = run(dir.path(), &["check", fig7.to_str().unwrap()]);
    let w = warning_lines(&r.stdout, "solver.points");
    assert!(w.len() == 1 && w[0].contains("per mode"), "{}", r.stdout);
}

/// lqc_2d_chain3's drift reaches |b| ≈ 3 where its populations are: at σ = 0.3 the
/// second-order scheme's cell Péclet number |b|h/(σ²/2) exceeds 2 there on the default
/// 101² grid (measured: mean errors 2e-3 against 8e-6 at 201², docs/design.md §4.5).
#[test]
fn second_order_upwinding_where_the_populations_are_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let second = ["--set", "solver.scheme=\"second-order\""];
    let check = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["check", sc];
        args.extend_from_slice(&second);
        args.extend_from_slice(extra);
        warning_lines(&run(dir.path(), &args).stdout, "Péclet")
    };
    let w = check(&[]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("solver.points") && w[0].contains("noise.sigma") && w[0].contains("%"),
        "{}",
        w[0]
    );
    let share: f64 = {
        let s = &w[0][..w[0].find(" % of population").unwrap()];
        s[s.rfind(' ').unwrap() + 1..].parse().unwrap()
    };
    assert!(share > 1.0 && share <= 100.0, "{}", w[0]);
    // The suggested number of points silences it, and so does more noise.
    let need = {
        let s = &w[0][w[0].find("at least ").unwrap() + 9..];
        s[..s.find(' ').unwrap()].to_string()
    };
    let more = format!("solver.points={need}");
    assert!(check(&["--set", &more]).is_empty());
    assert!(check(&["--set", "noise.sigma=0.6"]).is_empty());
    // The monotone scheme is first order everywhere: nothing to warn about.
    let r = run(dir.path(), &["check", sc]);
    assert!(
        warning_lines(&r.stdout, "Péclet").is_empty(),
        "{}",
        r.stdout
    );
    // solve says it before iterating.
    let out = dir.path().join("peclet.h5");
    let mut args = vec![
        "solve",
        sc,
        "--out",
        out.to_str().unwrap(),
        "--set",
        "solver.points=41",
        "--set",
        "solver.steps=40",
        "--set",
        "solver.error_estimate=false",
    ];
    args.extend_from_slice(&second);
    let r = run(dir.path(), &args);
    let w = warning_lines(&r.stderr, "Péclet");
    assert_eq!(w.len(), 1, "{}", r.stderr);
    assert!(w[0].contains("solver.points"), "{}", w[0]);
}

#[test]
fn an_estimated_error_far_above_the_tolerance_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let out = dir.path().join("tol.h5");
    let out = out.to_str().unwrap();
    let grid = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    let mut args = vec!["solve", sc, "--out", out];
    args.extend_from_slice(&grid);
    // tol 1e-6 against an estimated error of about 1e-2 of the domain width.
    let r = run(dir.path(), &args);
    let w = warning_lines(&r.stdout, "solver.tol");
    assert_eq!(w.len(), 1, "{}", r.stdout);
    assert!(w[0].contains("orders of magnitude"), "{}", w[0]);
    assert!(
        r.stdout.contains("means ±") && r.stdout.contains("cost ±"),
        "{}",
        r.stdout
    );
    args.extend_from_slice(&["--set", "solver.tol=1e-2"]);
    let r = run(dir.path(), &args);
    assert!(
        warning_lines(&r.stdout, "solver.tol").is_empty(),
        "{}",
        r.stdout
    );
}

#[test]
fn compare_states_the_pde_error_and_the_gap_to_the_riccati_cost() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let out = dir.path().join("cmp");
    let r = run(
        dir.path(),
        &[
            "compare",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--set",
            "solver.points=41",
            "--set",
            "solver.steps=40",
        ],
    );
    // Every cost difference and mean distance carries the PDE's own estimated error.
    let policy_lines: Vec<&str> = r.stdout.lines().filter(|l| l.contains(" J = ")).collect();
    assert_eq!(policy_lines.len(), 9, "{}", r.stdout);
    for l in &policy_lines {
        assert!(l.contains("% PDE error") && l.contains("(PDE ± "), "{l}");
    }
    // LQ model: PDE cost against the exact Riccati cost, and the extrapolated cost much
    // closer to it than the PDE cost.
    let gaps: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("vs exact Riccati"))
        .collect();
    assert_eq!(gaps.len(), 3, "{}", r.stdout);
    let pct = |l: &str, after: &str| -> f64 {
        let s = &l[l.find(after).unwrap() + after.len()..];
        let s = &s[s.find('(').unwrap() + 1..];
        s[..s.find(" %").unwrap()].trim().parse::<f64>().unwrap()
    };
    for l in gaps {
        let gap = pct(l, "vs exact Riccati");
        let extrapolated = pct(l, "extrapolated cost");
        assert!(gap > 1.0, "{l}");
        assert!(extrapolated.abs() < 0.5 * gap, "{l}");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Accuracy of the PDE reference"));
    assert!(report.contains("vs exact Riccati"));
}
