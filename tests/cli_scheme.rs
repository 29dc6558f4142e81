//! `[solver] scheme`: the benchmark scenario on the second-order scheme meets its accuracy
//! against the exact LQ equilibrium stored in its own output (v(·, 0) on |x − 0.5| < 1.5 and
//! the variance within 1e-5), records the scheme, and bad input is refused naming the key.

mod common;

use common::{scenario, tufield_in, write};
use ndarray::{Array1, Ix1, Ix2, Ix3};
use tempfile::TempDir;

#[test]
fn benchmark_scenario_meets_its_accuracy() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("bench.h5");
    let sc = scenario("benchmark_1d_second_order.toml");
    let r = tufield_in(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("second-order scheme"), "{}", r.stderr);
    assert!(!r.stdout.contains("went negative"), "{}", r.stdout);
    let f = hdf5::File::open(&out).unwrap();
    let scheme: hdf5::types::VarLenUnicode = f.attr("scheme").unwrap().read_scalar().unwrap();
    assert_eq!(scheme.as_str(), "second-order");
    let read = |p: &str| f.dataset(p).unwrap().read_dyn::<f64>().unwrap();
    let x: Array1<f64> = read("grid/x0").into_dimensionality::<Ix1>().unwrap();
    let phi0 = read("lq/exact/phi").into_dimensionality::<Ix3>().unwrap()[[0, 0, 0]];
    let h0 = read("lq/exact/populations/0/h")
        .into_dimensionality::<Ix2>()
        .unwrap()[[0, 0]];
    let chi0 = read("lq/exact/populations/0/chi")[[0]];
    let value = read("populations/0/value");
    let mut err_v = 0.0f64;
    for (j, &xj) in x.iter().enumerate() {
        if (xj - 0.5).abs() < 1.5 {
            let exact = 0.5 * phi0 * xj * xj + h0 * xj + chi0;
            err_v = err_v.max((value[[0, j]] - exact).abs());
        }
    }
    let cov = read("populations/0/cov");
    let exact_cov = read("lq/exact/populations/0/cov");
    let err_var = cov
        .iter()
        .zip(exact_cov.iter())
        .fold(0.0f64, |a, (p, e)| a.max((p - e).abs()));
    println!("benchmark: error v(·,0) {err_v:.3e}, variance {err_var:.3e}");
    assert!(err_v <= 1e-5 && err_var <= 1e-5, "{err_v:e} {err_var:e}");
    let density = read("populations/0/density");
    assert!(density.iter().all(|&m| m >= 0.0));
}

#[test]
fn unknown_scheme_is_refused_naming_the_key_and_the_allowed_values() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("x.h5");
    for cmd in ["check", "solve"] {
        let mut args = vec![cmd, "--set", "solver.scheme=\"crank-nicolson\""];
        let sc = scenario("lqc_1d_single.toml");
        args.insert(1, sc.to_str().unwrap());
        if cmd == "solve" {
            args.extend(["--out", out.to_str().unwrap()]);
        }
        let r = tufield_in(dir.path(), &args);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("solver.scheme")
                && r.stderr.contains("\"monotone\", \"second-order\""),
            "{cmd}: {}",
            r.stderr
        );
    }
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "files left behind"
    );
    // Not a string.
    let text = std::fs::read_to_string(scenario("lqc_1d_single.toml")).unwrap()
        + "\n[solver]\nscheme = 2\n";
    let sc = write(dir.path(), "bad.toml", &text);
    let r = tufield_in(dir.path(), &["check", sc.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("scheme"), "{}", r.stderr);
    // The modal reduction solves its modes with the monotone scheme only.
    let r = tufield_in(
        dir.path(),
        &[
            "check",
            scenario("lqc_7d_modal_chain3.toml").to_str().unwrap(),
            "--set",
            "solver.scheme=\"second-order\"",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("solver.scheme"), "{}", r.stderr);
}
