//! `tufield check` on every shipped scenario, overrides, quiet mode.

mod common;

use common::{all_scenarios, scenario, tufield};

#[test]
fn every_shipped_scenario_checks() {
    let all = all_scenarios();
    assert!(all.len() >= 4, "expected the four scenarios, found {all:?}");
    for p in all {
        let r = tufield(&["check", p.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}: {}", p.display(), r.stderr);
        assert!(
            r.stdout.contains("condition (17)    satisfied"),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("eigenvalues of A"), "{}", r.stdout);
        // Every scenario starts with a header comment (purpose, expected runtime).
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("# "),
            "{} lacks a header comment",
            p.display()
        );
        assert!(
            text.contains("Expected runtime"),
            "{} lacks the expected runtime",
            p.display()
        );
    }
}

#[test]
fn check_prints_the_reduced_a_with_labels_and_the_gamma_margin() {
    let p = scenario("lqc_2d_chain3.toml");
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A = γ⁻² I − P B Bᵀ Pᵀ with P B Bᵀ Pᵀ = [[2, 1], [1, 3]] and γ = 2.
    for needle in [
        "{1}    -1.7500  -1.0000",
        "{1,2}  -1.0000  -2.7500",
        "smallest admissible γ = 0.8507",
        "points 101×101, steps 100",
        "populations (p = 3)",
        "chain",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
}

#[test]
fn set_overrides_change_the_scenario() {
    let p = scenario("lqc_2d_chain3.toml");
    let r = tufield(&[
        "check",
        p.to_str().unwrap(),
        "--set",
        "solver.points=[51,61]",
        "--set",
        "noise.sigma=0.2",
        "--set",
        "cost.q=[[1,0],[0,2]]",
        "--set",
        "population.2.mean=[0.5, 0.25]",
        "--set",
        "solver.acceleration=none",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in [
        "points 51×61",
        "noise σ = 0.200",
        "acceleration none",
        "mean [0.500, 0.250]",
        "override    --set noise.sigma=0.2",
    ] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            r.stdout
        );
    }
    assert!(
        r.stdout.contains("Q = \n"),
        "Q is no longer a multiple of I:\n{}",
        r.stdout
    );
}

#[test]
fn quiet_prints_nothing() {
    let p = scenario("lqc_1d_single.toml");
    let r = tufield(&["--quiet", "check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.is_empty() && r.stderr.is_empty());
}

/// Models beyond LQ say so in `check` (which terms, how many saturating channels) and in
/// `lq` (its output is the LQ approximation); LQ scenarios print no such line.
#[test]
fn non_lq_models_are_announced() {
    let b = scenario("bounded_2d_chain3.toml");
    let r = tufield(&["check", b.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("beyond LQ   bounds.allocation = 0.4, bounds.disturbance = 0.2"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("4 allocation/surplus and 2 disturbance channels"),
        "{}",
        r.stdout
    );
    let c = scenario("core_1d_single.toml");
    let r = tufield(&["check", c.to_str().unwrap()]);
    assert!(
        r.stdout.contains("beyond LQ   cost.core_penalty = 2"),
        "{}",
        r.stdout
    );
    let l = scenario("lqc_2d_chain3.toml");
    let r = tufield(&["check", l.to_str().unwrap()]);
    assert!(!r.stdout.contains("beyond LQ"), "{}", r.stdout);
    let dir = tempfile::TempDir::new().unwrap();
    let out = dir.path().join("lq.h5");
    let r = tufield(&["lq", b.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("this is its LQ approximation"),
        "{}",
        r.stdout
    );
    let f = hdf5::File::open(&out).unwrap();
    assert!(f.attr("lq_note").is_ok());
}
