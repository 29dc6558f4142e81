//! The paper's Section 8 (Figures 5–9) with `tufield simulate --policy internal-model |
//! second-order` on the shipped `paper_7d_*` scenarios, at reduced size, and `tufield plot`
//! of the simulate files.

mod common;

use common::{scenario, tufield};
use ndarray::{Array2, Array3, ArrayD};
use tempfile::TempDir;

fn simulate(dir: &TempDir, name: &str, policy: &str, extra: &[&str]) -> hdf5::File {
    let out = dir.path().join(format!("{name}.h5"));
    let sc = scenario(&format!("{name}.toml"));
    let mut args = vec![
        "simulate",
        sc.to_str().unwrap(),
        "--policy",
        policy,
        "--copies",
        "20",
        "--trajectories",
        "5",
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    let r = tufield(&args);
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    hdf5::File::open(&out).unwrap()
}

fn nd(f: &hdf5::File, name: &str) -> ArrayD<f64> {
    f.dataset(name).unwrap().read_dyn::<f64>().unwrap()
}

/// Largest spread max_k − min_k over coordinates of (steps+1, p, q) means at level n.
fn spread(m: &Array3<f64>, n: usize) -> f64 {
    (0..m.dim().2)
        .map(|j| {
            let v = m.slice(ndarray::s![n, .., j]);
            v.fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - v.fold(f64::INFINITY, |a, &b| a.min(b))
        })
        .fold(0.0, f64::max)
}

fn second_order(f: &hdf5::File) -> (Array3<f64>, Array3<f64>, f64) {
    let g = f.group("heuristic/second_order").unwrap();
    let rho: f64 = g.attr("spectral_radius").unwrap().read_scalar().unwrap();
    let m = nd(f, "heuristic/second_order/mean")
        .into_dimensionality()
        .unwrap();
    let i = nd(f, "heuristic/second_order/increment")
        .into_dimensionality()
        .unwrap();
    (m, i, rho)
}

/// B_H of the 3-player game (paper, Section 8.1) and Π = B_H(B_HᵀB_H)⁻¹B_Hᵀ.
fn projector() -> Array2<f64> {
    let bt = ndarray::array![
        [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    ];
    // B_HᵀB_H = [[4,2,2],[2,4,2],[2,2,4]] = 2I + 2·11ᵀ, inverse (I − 11ᵀ/4)/2.
    let inv = (Array2::<f64>::eye(3) - Array2::<f64>::from_elem((3, 3), 0.25)) * 0.5;
    bt.t().dot(&inv).dot(&bt)
}

#[test]
fn every_paper_scenario_simulates_with_its_policy() {
    let dir = TempDir::new().unwrap();
    for (name, policy) in [
        ("paper_7d_single_fig5", "internal-model"),
        ("paper_7d_single_fig6", "internal-model"),
        ("paper_7d_chain5_fig7", "second-order"),
        ("paper_7d_chain5_fig8", "second-order"),
        ("paper_7d_chain5_fig9", "second-order"),
    ] {
        let extra: &[&str] = if name.contains("single") {
            &["--set", "solver.steps=500", "--set", "horizon.t=50"]
        } else {
            &[]
        };
        let f = simulate(&dir, name, policy, extra);
        let p: String = f
            .attr("policy")
            .unwrap()
            .read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap()
            .as_str()
            .to_string();
        assert!(p.contains("heuristic"), "{name}: policy label {p}");
        assert!(f.link_exists("heuristic"), "{name}");
    }
}

#[test]
fn fig5_state_converges_near_the_origin() {
    let dir = TempDir::new().unwrap();
    let f = simulate(&dir, "paper_7d_single_fig5", "internal-model", &[]);
    let mean = nd(&f, "populations/0/empirical_mean");
    let n = mean.shape()[0] - 1;
    let start = (0..7).map(|j| mean[[0, j]].abs()).fold(0.0, f64::max);
    let end = (0..7).map(|j| mean[[n, j]].abs()).fold(0.0, f64::max);
    // x(0) up to 5, the internal model up to 50; at T = 500 (e^{-5}) every coordinate is
    // below 1 (the part of x(0) outside range B_H, |(I − Π)x(0)| ≤ 0.75, stays).
    assert!((start - 5.0).abs() < 0.05, "{start}");
    assert!(end < 1.0, "max |x̄(T)| = {end}");
}

#[test]
fn fig6_state_converges_to_the_least_squares_approximation() {
    let dir = TempDir::new().unwrap();
    let f = simulate(
        &dir,
        "paper_7d_single_fig6",
        "internal-model",
        &["--set", "solver.steps=500", "--set", "horizon.t=50"],
    );
    let tr: Array3<f64> = nd(&f, "populations/0/trajectories")
        .into_dimensionality()
        .unwrap();
    let pi = projector();
    let m0 = ndarray::array![10.0, 20.0, 50.0, 30.0, 20.0, 50.0, 40.0];
    let target = pi.dot(&m0);
    let n = tr.dim().1 - 1;
    for c in 0..tr.dim().0 {
        let x0 = tr.slice(ndarray::s![c, 0, ..]).to_owned();
        let xt = tr.slice(ndarray::s![c, n, ..]).to_owned();
        // Π x(T) = Π m̄(0) (error 0.9^500 ≈ 1e-23 of 50) and (I − Π)x is untouched.
        let on = pi.dot(&xt) - &target;
        let off = (&xt - &pi.dot(&xt)) - (&x0 - &pi.dot(&x0));
        assert!(on.iter().all(|v| v.abs() < 1e-9), "copy {c}: {on}");
        assert!(off.iter().all(|v| v.abs() < 1e-9), "copy {c}: {off}");
    }
}

#[test]
fn fig7_macroscopic_means_reach_consensus() {
    let dir = TempDir::new().unwrap();
    let f = simulate(&dir, "paper_7d_chain5_fig7", "second-order", &[]);
    let (m, _, rho) = second_order(&f);
    let n = m.dim().0 - 1;
    assert_eq!(n, 60);
    let (s0, s1) = (spread(&m, 0), spread(&m, n));
    assert!((s0 - 400.0).abs() < 1e-9, "{s0}");
    assert!(s1 < s0 / 100.0, "spread {s0} → {s1}");
    assert!(rho < 1.0, "{rho}");
    // The copies follow: the spread of their empirical means shrinks too (≥ 5×; the
    // slowest mode of Aφ lags behind the 60 iterations of (43)).
    let emp = Array3::from_shape_fn((n + 1, 5, 7), |(t, k, j)| {
        nd(&f, &format!("populations/{k}/empirical_mean"))[[t, j]]
    });
    assert!(
        spread(&emp, n) < spread(&emp, 0) / 5.0,
        "{}",
        spread(&emp, n)
    );
}

#[test]
fn fig8_smaller_damping_oscillates_more() {
    let dir = TempDir::new().unwrap();
    let f7 = simulate(&dir, "paper_7d_chain5_fig7", "second-order", &[]);
    let f8 = simulate(&dir, "paper_7d_chain5_fig8", "second-order", &[]);
    let flips = |i: &Array3<f64>| {
        let mut c = 0;
        for k in 0..i.dim().1 {
            for j in 0..i.dim().2 {
                let v = i.slice(ndarray::s![.., k, j]).to_vec();
                c += v.windows(2).filter(|w| w[0] * w[1] < 0.0).count();
            }
        }
        c
    };
    let (_, i7, r7) = second_order(&f7);
    let (_, i8, r8) = second_order(&f8);
    assert!(flips(&i8) > flips(&i7), "{} vs {}", flips(&i8), flips(&i7));
    assert!(r7 < 1.0 && r8 > 1.0, "spectral radii {r7}, {r8}");
}

#[test]
fn fig9_noise_fluctuates_but_means_converge() {
    let dir = TempDir::new().unwrap();
    let f7 = simulate(&dir, "paper_7d_chain5_fig7", "second-order", &[]);
    let f9 = simulate(&dir, "paper_7d_chain5_fig9", "second-order", &[]);
    let (m, _, _) = second_order(&f9);
    let n = m.dim().0 - 1;
    assert!(spread(&m, n) < spread(&m, 0) / 100.0);
    // Copies' std at T on coalition {1}: larger with σ = 15.5 than with 5.5.
    let sd = |f: &hdf5::File| {
        (0..5)
            .map(|k| nd(f, &format!("populations/{k}/empirical_cov"))[[n, 0, 0]].sqrt())
            .sum::<f64>()
            / 5.0
    };
    let (s7, s9) = (sd(&f7), sd(&f9));
    assert!(s9 > 1.5 * s7 && s7 > 0.0, "std {s7} vs {s9}");
    // The empirical means stay within 5 standard errors of the scheme's N → ∞ mean.
    for k in 0..5 {
        let e = nd(&f9, &format!("populations/{k}/empirical_mean"));
        let r = nd(&f9, &format!("populations/{k}/mean_field_mean"));
        let c = nd(&f9, &format!("populations/{k}/empirical_cov"));
        for j in 0..7 {
            let se = (c[[n, j, j]] / 20.0).sqrt();
            assert!(
                (e[[n, j]] - r[[n, j]]).abs() < 5.0 * se,
                "population {k} coordinate {j}"
            );
        }
    }
}

#[test]
fn plot_of_a_simulate_file_gives_two_figures() {
    let dir = TempDir::new().unwrap();
    simulate(&dir, "paper_7d_chain5_fig7", "second-order", &[]);
    let file = dir.path().join("paper_7d_chain5_fig7.h5");
    let r = tufield(&["plot", file.to_str().unwrap(), "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for suffix in ["means", "trajectories"] {
        let png = dir
            .path()
            .join(format!("paper_7d_chain5_fig7_{suffix}.png"));
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.len() > 1000, "{suffix}");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        assert_eq!((w, h), (1200, 800));
    }
}
