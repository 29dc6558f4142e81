//! Jobs sized before they start: `check` prints the memory and work estimate; a job beyond
//! the available memory is refused with exit 2 naming the keys to lower (unless
//! `--force-memory`); the estimate is honest (within a factor 1.5 of the measured peak
//! resident memory of a mid-size solve); scenario files are read with a size cap.

mod common;

use common::{scenario, tufield};
use std::process::{Command, Stdio};

/// The number in "about <x> MB|GB|TB" of a `check` line, in bytes.
fn estimate_bytes(text: &str) -> f64 {
    let rest = text.split("needs about ").nth(1).expect("an estimate line");
    let mut words = rest.split_whitespace();
    let x: f64 = words.next().unwrap().parse().unwrap();
    let unit = match words.next().unwrap() {
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        u => panic!("unit {u}"),
    };
    x * unit
}

#[test]
fn check_prints_the_estimate_and_refuses_a_job_beyond_the_machine() {
    let sc = scenario("lqc_2d_chain3.toml");
    let r = tufield(&["check", sc.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("job size"), "{}", r.stdout);
    assert!(r.stdout.contains("node updates"), "{}", r.stdout);
    let huge = [
        "--set",
        "solver.points=7000",
        "--set",
        "solver.steps=1000000",
    ];
    for cmd in ["check", "solve", "compare"] {
        let mut args = vec![cmd, sc.to_str().unwrap()];
        args.extend(huge);
        let r = tufield(&args);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(
            r.stderr.contains("solver.points") && r.stderr.contains("--force-memory"),
            "{cmd}: {}",
            r.stderr
        );
    }
    let mut args = vec!["check", sc.to_str().unwrap(), "--force-memory", "--quiet"];
    args.extend(huge);
    assert_eq!(tufield(&args).code, 0);
}

#[test]
fn scenario_files_are_read_with_a_size_cap() {
    let r = tufield(&["check", "/dev/zero"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
    let dir = tempfile::TempDir::new().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let r = tufield(&["check", big.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("larger than"), "{}", r.stderr);
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its peak memory
fn the_memory_estimate_is_within_a_factor_1_5_of_the_peak_resident_memory() {
    let sc = scenario("lqc_2d_chain3.toml");
    let size = ["--set", "solver.points=201", "--set", "solver.steps=60"];
    let mut args = vec!["check", sc.to_str().unwrap()];
    args.extend(size);
    let r = tufield(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let estimate = estimate_bytes(&r.stdout);

    let dir = tempfile::TempDir::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .arg("solve")
        .arg(&sc)
        .args(size)
        .args(["--out", "m.h5", "--quiet"])
        .current_dir(dir.path())
        .env("OPENBLAS_NUM_THREADS", "1")
        // A progress line for every iteration (off a terminal the default is one per 10 s).
        .env("TUFIELD_PROGRESS_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: wait4 on our own child, with valid pointers to a status and an rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    let peak = usage.ru_maxrss as f64 * 1024.0; // kB on Linux
    let ratio = estimate / peak;
    eprintln!("estimate {estimate:.3e} B, peak RSS {peak:.3e} B, ratio {ratio:.2}");
    assert!(
        (1.0 / 1.5..=1.5).contains(&ratio),
        "estimate {estimate:.3e} B vs peak {peak:.3e} B"
    );
}
