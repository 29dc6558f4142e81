//! Stability stated in words: the second-order consensus step (43) of Figures 7 and 8 and
//! Theorem 2's condition for the Section 5 heuristic, in the summaries and as attributes.

mod common;

use common::{scenario, tufield};
use tempfile::TempDir;

fn str_attr(f: &hdf5::File, group: &str, name: &str) -> String {
    let a = f.group(group).unwrap().attr(name).unwrap();
    a.read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .to_string()
}

#[test]
fn consensus_step_is_called_stable_or_unstable() {
    let dir = TempDir::new().unwrap();
    for (name, verdict, attr) in [
        (
            "paper_7d_chain5_fig7",
            "(43) stable (ρ = 0.922 < 1)",
            "stable",
        ),
        (
            "paper_7d_chain5_fig8",
            "(43) unstable (ρ = 1.049 > 1: the consensus step diverges)",
            "unstable",
        ),
    ] {
        let out = dir.path().join(format!("{name}.h5"));
        let sc = scenario(&format!("{name}.toml"));
        let r = tufield(&[
            "simulate",
            sc.to_str().unwrap(),
            "--policy",
            "second-order",
            "--copies",
            "10",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(r.stdout.contains(verdict), "{name}: {}", r.stdout);
        let f = hdf5::File::open(&out).unwrap();
        assert_eq!(str_attr(&f, "heuristic/second_order", "stability"), attr);
        let rho: f64 = f
            .group("heuristic/second_order")
            .unwrap()
            .attr("spectral_radius")
            .unwrap()
            .read_scalar()
            .unwrap();
        assert_eq!(rho < 1.0, attr == "stable", "{name}: ρ = {rho}");
    }
}

#[test]
fn lq_reports_theorem_2() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("fig7_lq.h5");
    let sc = scenario("paper_7d_chain5_fig7.toml");
    let r = tufield(&["lq", sc.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Theorem 2")
            && r.stdout.contains("satisfied: K(t) = A P11(t) is Hurwitz"),
        "{}",
        r.stdout
    );
    let f = hdf5::File::open(&out).unwrap();
    let g = "lq/heuristic/augmented_state";
    assert_eq!(str_attr(&f, g, "theorem_2"), "satisfied");
    // With Q = S = I the largest eigenvalue of A P11 is A's own slowest one at t = T
    // (P11(T) = S = I): λ_max(A) = −0.0967 for the 3-player game with γ = 2.
    let lam: f64 = f
        .group(g)
        .unwrap()
        .attr("theorem_2_max_eigenvalue")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert!((lam + 0.0967).abs() < 5e-4, "{lam}");
}
