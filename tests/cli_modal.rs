//! `reduction = "modal"`: the shipped modal scenarios check, give the exact LQ oracle in q
//! dimensions and solve at coarse resolution with the documented layout; the modal
//! decomposition's refusals (non-commuting Q, explicit domain, --resume) exit 2 naming
//! the key.

mod common;

use common::{scenario, tufield, tufield_in, write};
use tempfile::TempDir;

const MODAL_SCENARIOS: [(&str, usize, usize); 2] = [
    ("lqc_7d_modal_chain3.toml", 7, 3),
    ("lqc_15d_modal_single.toml", 15, 1),
];

/// A modal 3-player single-population scenario (q = 7) whose Q is given by `q`.
fn modal_text(q: &str) -> String {
    format!(
        r#"
[game]
players = 3
reduction = "modal"
[cost]
q = {q}
s = 1.0
gamma = 2.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
[[population]]
mean = [0.1, 0.2, 0.3, 0.0, -0.1, 0.2, 0.4]
std = [0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
[solver]
points = 41
steps = 20
"#
    )
}

fn diag7() -> String {
    let rows: Vec<String> = (0..7)
        .map(|i| {
            let r: Vec<String> = (0..7)
                .map(|j| {
                    if i == j {
                        format!("{}.0", i + 1)
                    } else {
                        "0.0".into()
                    }
                })
                .collect();
            format!("[{}]", r.join(", "))
        })
        .collect();
    format!("[{}]", rows.join(", "))
}

#[test]
fn modal_scenarios_check_and_print_the_modes() {
    for (name, q, _) in MODAL_SCENARIOS {
        let p = scenario(name);
        let r = tufield(&["check", p.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        for needle in [
            format!("q = {q} coalitions; modal decomposition (exact)"),
            "commutation A, Q, S commute pairwise".to_string(),
            format!("modes (q = {q})"),
            format!("mode {q:2}   λ = "),
            "per mode (a 1-D grid each)".to_string(),
            "eigenvalues of A".to_string(),
        ] {
            assert!(
                r.stdout.contains(&needle),
                "{name}: missing {needle:?}\n{}",
                r.stdout
            );
        }
    }
}

#[test]
fn lq_works_in_q_dimensions() {
    let dir = TempDir::new().unwrap();
    for (name, q, p) in MODAL_SCENARIOS {
        let out = dir.path().join("lq.h5");
        let sc = scenario(name);
        let r = tufield_in(
            dir.path(),
            &[
                "lq",
                sc.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "solver.steps=20",
            ],
        );
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let f = hdf5::File::open(&out).unwrap();
        assert_eq!(f.dataset("model/a").unwrap().shape(), vec![q, q]);
        for k in 0..p {
            let m = f
                .dataset(&format!("lq/exact/populations/{k}/mean"))
                .unwrap();
            assert_eq!(m.shape(), vec![21, q]);
        }
    }
}

#[test]
fn modal_scenarios_solve_with_the_documented_layout() {
    let dir = TempDir::new().unwrap();
    for (name, q, p) in MODAL_SCENARIOS {
        let out = dir.path().join("modal.h5");
        let sc = scenario(name);
        let r = tufield_in(
            dir.path(),
            &[
                "solve",
                sc.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--set",
                "solver.points=41",
                "--set",
                "solver.steps=20",
            ],
        );
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("converged after"), "{}", r.stdout);
        let f = hdf5::File::open(&out).unwrap();
        let reduction: hdf5::types::VarLenUnicode =
            f.attr("reduction").unwrap().read_scalar().unwrap();
        assert_eq!(reduction.as_str(), "modal");
        let labels: Vec<hdf5::types::VarLenUnicode> =
            f.attr("axis_labels").unwrap().read_raw().unwrap();
        assert_eq!(labels.len(), q);
        assert_eq!(
            labels[q - 1].as_str().matches(',').count(),
            if q == 7 { 2 } else { 3 }
        );
        let mass: f64 = f.attr("mass_error").unwrap().read_scalar().unwrap();
        assert!(mass < 1e-12, "{name}: mass error {mass}");
        // Coarse (41 points, 20 steps) but first order: the recombined means are within
        // a few 1e-2 of the exact q-dimensional oracle.
        let dist: f64 = f.attr("lq_mean_distance").unwrap().read_scalar().unwrap();
        assert!(dist < 5e-2, "{name}: distance to the LQ oracle {dist}");
        assert_eq!(f.dataset("modes/eigenvectors").unwrap().shape(), vec![q, q]);
        assert_eq!(f.dataset("modes/eigenvalues").unwrap().shape(), vec![q]);
        let u: ndarray::Array2<f64> = f.dataset("modes/eigenvectors").unwrap().read_2d().unwrap();
        let orth = (u.t().dot(&u) - ndarray::Array2::<f64>::eye(q))
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(orth < 1e-12, "U is orthonormal: {orth}");
        let snaps = f.dataset("snapshot_time").unwrap().shape()[0];
        for k in 0..p {
            let m = f.dataset(&format!("populations/{k}/mean")).unwrap();
            assert_eq!(m.shape(), vec![21, q]);
        }
        for i in 0..q {
            assert_eq!(
                f.dataset(&format!("modes/{i}/grid")).unwrap().shape(),
                vec![41]
            );
            for k in 0..p {
                let g = f.group(&format!("modes/{i}/populations/{k}")).unwrap();
                assert_eq!(g.dataset("mean").unwrap().shape(), vec![21]);
                for n in ["density", "value"] {
                    let ds = g.dataset(n).unwrap();
                    assert_eq!(ds.shape(), vec![snaps, 41], "{name} mode {i} {n}");
                    assert!(ds
                        .attr_names()
                        .unwrap()
                        .contains(&"DIMENSION_LIST".to_string()));
                }
            }
            assert!(f
                .dataset(&format!("modes/{i}/fixed_point/residual"))
                .is_ok());
        }
        // The recombined mean is U ȳ.
        let y0: ndarray::Array1<f64> = f
            .dataset("modes/0/populations/0/mean")
            .unwrap()
            .read_1d()
            .unwrap();
        let m: ndarray::Array2<f64> = f.dataset("populations/0/mean").unwrap().read_2d().unwrap();
        let ys: Vec<ndarray::Array1<f64>> = (0..q)
            .map(|i| {
                f.dataset(&format!("modes/{i}/populations/0/mean"))
                    .unwrap()
                    .read_1d()
                    .unwrap()
            })
            .collect();
        assert_eq!(ys[0], y0);
        for n in [0, 20] {
            for j in 0..q {
                let x: f64 = (0..q).map(|i| u[[j, i]] * ys[i][n]).sum();
                assert!((x - m[[n, j]]).abs() < 1e-12);
            }
        }
        assert!(!dir.path().join("modal.checkpoint.h5").exists());
    }
}

#[test]
fn non_commuting_modal_scenario_is_refused() {
    let dir = TempDir::new().unwrap();
    let ok = write(dir.path(), "ok.toml", &modal_text("1.0"));
    assert_eq!(tufield(&["check", ok.to_str().unwrap()]).code, 0);
    let bad = write(dir.path(), "bad.toml", &modal_text(&diag7()));
    for cmd in ["check", "solve"] {
        let r = tufield_in(dir.path(), &[cmd, bad.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("game.reduction"), "{}", r.stderr);
        assert!(r.stderr.contains("do not commute"), "{}", r.stderr);
        assert!(r.stderr.contains("projection"), "{}", r.stderr);
    }
    // Q of the wrong size names cost.q.
    let wrong = write(
        dir.path(),
        "wrong.toml",
        &modal_text("[[1.0, 0.0], [0.0, 1.0]]"),
    );
    let r = tufield(&["check", wrong.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cost.q") && r.stderr.contains("7×7"),
        "{}",
        r.stderr
    );
}

#[test]
fn modal_refuses_an_explicit_domain_and_resume() {
    let dir = TempDir::new().unwrap();
    let text = modal_text("1.0").replace("steps = 20", "steps = 20\ndomain = [[-3.0, 3.0]]");
    let p = write(dir.path(), "dom.toml", &text);
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("solver.domain"), "{}", r.stderr);
    let ok = write(dir.path(), "ok.toml", &modal_text("1.0"));
    let fake = write(dir.path(), "fake.checkpoint.h5", "not a checkpoint");
    let r = tufield_in(
        dir.path(),
        &[
            "solve",
            ok.to_str().unwrap(),
            "--resume",
            fake.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--resume") && r.stderr.contains("modal"),
        "{}",
        r.stderr
    );
}
