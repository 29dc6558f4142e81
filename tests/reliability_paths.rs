//! Output paths: no command writes over one of its inputs (compared by file identity, not
//! spelling); outputs are validated before any work, the same way for every command; a
//! second run on an output held by another run fails at once naming the holder, and never
//! removes the other run's checkpoint.

mod common;

use common::{scenario, tufield_in};
use std::path::Path;
use std::process::{Command, Stdio};
use tempfile::TempDir;

fn copy_scenario(dir: &Path) -> std::path::PathBuf {
    let sc = dir.join("s.toml");
    std::fs::copy(scenario("lqc_1d_chain3.toml"), &sc).unwrap();
    sc
}

const FAST: [&str; 4] = ["--set", "solver.points=41", "--set", "solver.steps=20"];

fn run(dir: &Path, args: &[&str]) -> common::Run {
    tufield_in(dir, args)
}

#[test]
fn no_command_writes_over_its_inputs() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    copy_scenario(d);
    let original = std::fs::read(d.join("s.toml")).unwrap();
    std::os::unix::fs::symlink("s.toml", d.join("link.h5")).unwrap();
    std::fs::hard_link(d.join("s.toml"), d.join("hard.h5")).unwrap();
    for args in [
        vec!["solve", "s.toml", "--out", "s.toml"],
        vec!["solve", "s.toml", "--out", "./missing/../s.toml"],
        vec!["lq", "s.toml", "--out", "link.h5"],
        vec!["lq", "s.toml", "--out", "hard.h5"],
        vec!["simulate", "s.toml", "--out", "s.toml", "--copies", "10"],
        vec!["compare", "s.toml", "--out", "s.toml"],
    ] {
        let r = run(d, &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("--out") && r.stderr.contains("the scenario"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(
            std::fs::read(d.join("s.toml")).unwrap(),
            original,
            "{args:?}"
        );
    }
    // The solve file that simulate reads, and the checkpoint a resume reads.
    let mut solve = vec!["solve", "s.toml", "--out", "r.h5", "--quiet"];
    solve.extend(FAST);
    solve.extend(["--set", "solver.max_iter=2"]);
    assert_eq!(run(d, &solve).code, 3);
    let before = std::fs::read(d.join("r.h5")).unwrap();
    let r = run(
        d,
        &["simulate", "s.toml", "--policy", "r.h5", "--out", "r.h5"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--policy file"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("r.h5")).unwrap(), before);
    let ck = std::fs::read(d.join("r.checkpoint.h5")).unwrap();
    let r = run(
        d,
        &[
            "solve",
            "--resume",
            "r.checkpoint.h5",
            "--out",
            "r.checkpoint.h5",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("checkpoint resumed from"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("r.checkpoint.h5")).unwrap(), ck);
}

#[test]
fn output_paths_are_checked_before_any_work_the_same_way_for_every_command() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    copy_scenario(d);
    std::fs::create_dir(d.join("adir")).unwrap();
    std::fs::write(d.join("afile"), "x").unwrap();
    for cmd in ["solve", "lq", "simulate"] {
        // An existing directory as the output file.
        let r = run(d, &[cmd, "s.toml", "--out", "adir"]);
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("is a directory"), "{cmd}: {}", r.stderr);
        // A parent that is a file.
        let r = run(d, &[cmd, "s.toml", "--out", "afile/x.h5"]);
        assert_eq!(r.code, 1, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("--out"), "{cmd}: {}", r.stderr);
        // Missing parents are created.
        let out = format!("new/{cmd}/x.h5");
        let mut args = vec![cmd, "s.toml", "--out", &out, "--quiet"];
        args.extend(FAST);
        if cmd == "simulate" {
            args.extend(["--copies", "50"]);
        }
        let r = run(d, &args);
        assert_eq!(r.code, 0, "{cmd}: {}", r.stderr);
        assert!(d.join(&out).is_file(), "{cmd}");
    }
    // Nothing was computed for the refused runs: no checkpoint, no stray files.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| ["s.toml", "adir", "afile", "new"].contains(&n.as_str())),
        "{names:?}"
    );
    let r = run(d, &["compare", "s.toml", "--out", "afile"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn a_second_run_on_the_same_output_fails_at_once_naming_the_holder() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    copy_scenario(d);
    // A long first run (Picard, damped, tight tolerance).
    let mut first = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .args(["solve", "s.toml", "--out", "shared.h5", "--quiet"])
        .args([
            "--set",
            "solver.points=301",
            "--set",
            "solver.steps=200",
            "--set",
            "solver.acceleration=\"none\"",
            "--set",
            "solver.damping=0.2",
            "--set",
            "solver.tol=1e-15",
            "--set",
            "solver.max_iter=100000",
        ])
        .current_dir(d)
        .env("OPENBLAS_NUM_THREADS", "1")
        // A progress line for every iteration (off a terminal the default is one per 10 s).
        .env("TUFIELD_PROGRESS_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it holds the lock and has checkpointed.
    while !d.join("shared.checkpoint.h5").exists() {
        assert!(first.try_wait().unwrap().is_none(), "the first run ended");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut second = vec!["solve", "s.toml", "--out", "shared.h5", "--quiet"];
    second.extend(FAST);
    let r = run(d, &second);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("another tufield run")
            && r.stderr.contains(&format!("pid {}", first.id())),
        "{}",
        r.stderr
    );
    // Another output whose checkpoint would be the same file (same stem).
    let r = run(d, &["solve", "s.toml", "--out", "shared.hdf5", "--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        d.join("shared.checkpoint.h5").exists(),
        "the checkpoint stays"
    );
    first.kill().unwrap();
    first.wait().unwrap();
}
