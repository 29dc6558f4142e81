//! Errors name the key, file and index that caused them: extreme values are refused at once
//! under their own key, a duplicate TOML key is named, NaN samples name the file and row,
//! `check` refuses samples outside the solve grid, negative counts get a message about the
//! option.

mod common;

use common::{scenario, tufield_in};
use tempfile::TempDir;

fn check_set(set: &str) -> common::Run {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    tufield_in(
        dir.path(),
        &["check", sc.to_str().unwrap(), "--set", set, "--quiet"],
    )
}

#[test]
fn extreme_values_are_refused_under_their_own_key() {
    for (set, key) in [
        ("cost.gamma=1e300", "cost.gamma"),
        ("population.1.std=[1e300, 0.3]", "population[1].std"),
        ("population.1.mean=[1e300, 0.0]", "population[1].mean"),
        ("cost.q=1e300", "cost.q"),
        ("cost.r=1e-300", "cost.r"),
    ] {
        let r = check_set(set);
        assert_eq!(r.code, 2, "{set}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(": {key}")),
            "{set}: {}",
            r.stderr
        );
    }
    let dir = TempDir::new().unwrap();
    let p = common::write(
        dir.path(),
        "a.toml",
        "[model]\na = [[-1e300]]\n[cost]\nq = 1.0\ns = 1.0\n[noise]\nsigma = 0.3\n\
         [horizon]\nt = 1.0\n[[population]]\nmean = [0.0]\nstd = [0.3]\n",
    );
    let r = tufield_in(dir.path(), &["solve", p.to_str().unwrap(), "--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("model.a[1][1]"), "{}", r.stderr);
}

#[test]
fn a_duplicate_key_is_named() {
    let dir = TempDir::new().unwrap();
    let p = common::write(dir.path(), "d.toml", "name = \"a\"\nname = \"b\"\n");
    let r = tufield_in(dir.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("line 2") && r.stderr.contains("`name`"),
        "{}",
        r.stderr
    );
}

fn npy(path: &std::path::Path, values: &[f64]) {
    let header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, 1), }}",
        values.len()
    );
    let mut h = header.into_bytes();
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((h.len() as u16).to_le_bytes());
    bytes.extend(h);
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

const FILE_SCENARIO: &str = "[model]\na = [[-0.75]]\n[cost]\nq = 1.0\ns = 1.0\n[noise]\n\
sigma = 0.3\n[horizon]\nt = 1.0\n[[population]]\nkind = \"file\"\npath = \"p.npy\"\n";

#[test]
fn bad_samples_name_the_file_and_row_and_check_refuses_what_solve_refuses() {
    let dir = TempDir::new().unwrap();
    let mut v: Vec<f64> = (0..50).map(|i| (i as f64 - 25.0) / 50.0).collect();
    v[7] = f64::NAN;
    npy(&dir.path().join("p.npy"), &v);
    let p = common::write(dir.path(), "f.toml", FILE_SCENARIO);
    let r = tufield_in(dir.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("population[1].path")
            && r.stderr.contains("p.npy")
            && r.stderr.contains("row 8"),
        "{}",
        r.stderr
    );
    // One sample far outside the grid the solve would build: check refuses it too.
    v[7] = 50.0;
    npy(&dir.path().join("p.npy"), &v);
    let r = tufield_in(dir.path(), &["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("outside the grid"), "{}", r.stderr);
}

#[test]
fn negative_counts_get_a_message_about_the_option() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let s = sc.to_str().unwrap();
    for (args, option) in [
        (vec!["simulate", s, "--copies", "-5"], "--copies"),
        (
            vec!["simulate", s, "--trajectories", "-1"],
            "--trajectories",
        ),
        (vec!["--threads", "-2", "check", s], "--threads"),
    ] {
        let r = tufield_in(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(option) && r.stderr.contains("positive whole number"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
