//! `tufield solve`: every shipped scenario solves at coarse resolution; the HDF5 layout is
//! the documented one and h5dump reads it; results do not depend on the thread count; a
//! run killed with SIGKILL and resumed from its checkpoint ends with the same file as an
//! uninterrupted run; non-convergence exits 3 with a complete file and a checkpoint.

mod common;

use common::{h5_contents, scenario, tufield_in, write};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Coarse settings per dimension (fast in the test profile).
fn coarse(d: usize) -> Vec<String> {
    let points = match d {
        1 => 41,
        2 => 21,
        _ => 11,
    };
    vec![
        "--set".into(),
        format!("solver.points={points}"),
        "--set".into(),
        "solver.steps=20".into(),
    ]
}

fn dim_of(path: &Path) -> usize {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    name.split('_')
        .find_map(|p| p.strip_suffix('d').and_then(|n| n.parse().ok()))
        .expect("scenario names are <model>_<dim>d_<setup>.toml")
}

fn solve(dir: &Path, scenario: &Path, out: &Path, extra: &[String]) -> common::Run {
    let mut args: Vec<String> = vec![
        "solve".into(),
        scenario.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().cloned());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    tufield_in(dir, &refs)
}

fn str_attr(file: &hdf5::File, name: &str) -> String {
    file.attr(name)
        .unwrap()
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

/// Contents minus what legitimately differs between runs (wall times, thread count).
fn comparable(path: &Path) -> BTreeMap<String, String> {
    let mut c = h5_contents(path);
    c.remove("/fixed_point/wall_s");
    c.remove("@threads");
    c
}

#[test]
fn every_scenario_solves_at_coarse_resolution() {
    let dir = TempDir::new().unwrap();
    for sc in common::all_scenarios() {
        let out = dir.path().join("out.h5");
        let run = solve(dir.path(), &sc, &out, &coarse(dim_of(&sc)));
        assert_eq!(
            run.code,
            0,
            "{}: {}{}",
            sc.display(),
            run.stdout,
            run.stderr
        );
        assert!(run.stdout.contains("converged after"), "{}", run.stdout);
        let f = hdf5::File::open(&out).unwrap();
        assert_eq!(str_attr(&f, "status"), "converged");
        let mass: f64 = f.attr("mass_error").unwrap().read_scalar().unwrap();
        assert!(mass < 1e-12, "{}: mass error {mass}", sc.display());
        // Converged runs leave no checkpoint behind.
        assert!(!dir.path().join("out.checkpoint.h5").exists());
    }
}

#[test]
fn layout_matches_the_contract_and_h5dump_reads_it() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("chain.h5");
    let run = solve(
        dir.path(),
        &scenario("lqc_2d_chain3.toml"),
        &out,
        &coarse(2),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = hdf5::File::open(&out).unwrap();
    for a in ["tufield_version", "scenario", "status", "command", "name"] {
        assert!(!str_attr(&f, a).is_empty(), "root attribute {a}");
    }
    let iterations: u64 = f.attr("iterations").unwrap().read_scalar().unwrap();
    let threads: u64 = f.attr("threads").unwrap().read_scalar().unwrap();
    assert!(iterations >= 2 && threads >= 1);
    let steps = 20;
    assert_eq!(f.dataset("time").unwrap().shape(), vec![steps + 1]);
    let snaps = f.dataset("snapshot_time").unwrap().shape()[0];
    assert_eq!(
        snaps, 21,
        "snapshot_every defaults to steps/20 = 1 → all 21 levels"
    );
    for i in 0..2 {
        assert_eq!(f.dataset(&format!("grid/x{i}")).unwrap().shape(), vec![21]);
    }
    for k in 0..3 {
        let g = f.group(&format!("populations/{k}")).unwrap();
        assert!(!g
            .attr("name")
            .unwrap()
            .read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap()
            .is_empty());
        assert_eq!(g.dataset("mean").unwrap().shape(), vec![steps + 1, 2]);
        for name in ["density", "value"] {
            let ds = g.dataset(name).unwrap();
            assert_eq!(ds.shape(), vec![snaps, 21, 21]);
            assert_eq!(
                ds.chunk(),
                Some(vec![1, 21, 21]),
                "{name}: one snapshot per chunk"
            );
            assert!(ds
                .attr_names()
                .unwrap()
                .contains(&"DIMENSION_LIST".to_string()));
        }
        // Mass 1 at every level and non-negative density in every snapshot.
        let mass = g.dataset("mass").unwrap().read_raw::<f64>().unwrap();
        assert!(mass.iter().all(|m| (m - 1.0).abs() < 1e-12));
        let dens = g.dataset("density").unwrap().read_raw::<f64>().unwrap();
        assert!(dens.iter().all(|v| *v >= 0.0));
    }
    let iters = iterations as usize;
    for name in ["residual", "wall_s", "damping", "accelerated"] {
        assert_eq!(
            f.dataset(&format!("fixed_point/{name}")).unwrap().shape(),
            vec![iters]
        );
    }
    assert!(f.dataset("lq/exact/populations/2/mean").is_ok());
    // The stored equilibrium means are within the discretisation error of the exact LQ
    // equilibrium at this coarse resolution (21² points, 20 steps).
    let dist: f64 = f.attr("lq_mean_distance").unwrap().read_scalar().unwrap();
    assert!(dist < 0.1, "distance to LQ {dist}");

    // h5dump (hdf5-tools, installed by scripts/install-deps.sh) reads every object.
    let dump = Command::new("h5dump").arg(&out).output();
    match dump {
        Ok(o) => {
            assert!(
                o.status.success(),
                "h5dump failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let text = String::from_utf8_lossy(&o.stdout);
            for path in [
                "DATASET \"density\"",
                "DATASET \"x1\"",
                "DATASET \"snapshot_time\"",
                "DATASET \"residual\"",
                "ATTRIBUTE \"status\"",
                "ATTRIBUTE \"threads\"",
            ] {
                assert!(text.contains(path), "h5dump output lacks {path}");
            }
        }
        Err(e) => panic!("h5dump not runnable ({e}); run scripts/install-deps.sh"),
    }
}

#[test]
fn one_and_two_threads_give_bit_identical_files() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let mut outs = Vec::new();
    for t in ["1", "2"] {
        let out = dir.path().join(format!("t{t}.h5"));
        let mut extra = coarse(2);
        extra.extend(["--threads".to_string(), t.to_string()]);
        let run = solve(dir.path(), &sc, &out, &extra);
        assert_eq!(run.code, 0, "{}", run.stderr);
        outs.push(out);
    }
    let (a, b) = (comparable(&outs[0]), comparable(&outs[1]));
    assert_eq!(a.len(), b.len());
    for (k, v) in &a {
        assert_eq!(Some(v), b.get(k), "{k} differs between 1 and 2 threads");
    }
}

/// A run that does many cheap iterations and ends by the iteration cap (deterministic).
fn long_run_args() -> Vec<String> {
    let mut v = vec![];
    for s in [
        "solver.points=41",
        "solver.steps=40",
        "solver.acceleration=\"none\"",
        "solver.damping=0.5",
        "solver.tol=1e-15",
        "solver.max_iter=40",
        "solver.stagnation_window=0",
    ] {
        v.push("--set".to_string());
        v.push(s.to_string());
    }
    v.push("--quiet".to_string());
    v
}

#[test]
fn killed_run_resumes_to_the_same_file() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let reference = dir.path().join("reference.h5");
    let run = solve(dir.path(), &sc, &reference, &long_run_args());
    assert_eq!(run.code, 3, "max_iterations exits 3: {}", run.stderr);

    let out = dir.path().join("killed.h5");
    let ckpt: PathBuf = dir.path().join("killed.checkpoint.h5");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .arg("solve")
        .arg(&sc)
        .arg("--out")
        .arg(&out)
        .args(long_run_args())
        .current_dir(dir.path())
        .env("OPENBLAS_NUM_THREADS", "1")
        // A progress line for every iteration (off a terminal the default is one per 10 s).
        .env("TUFIELD_PROGRESS_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill (SIGKILL) as soon as a few iterations are checkpointed.
    let t0 = Instant::now();
    loop {
        let done = hdf5::File::open(&ckpt)
            .ok()
            .and_then(|f| f.dataset("history/residual").ok())
            .map_or(0, |d| d.shape()[0]);
        if done >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run leaves no output file");

    let mut extra = long_run_args();
    extra.extend(["--resume".to_string(), ckpt.display().to_string()]);
    let run = solve(dir.path(), &sc, &out, &extra);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let (a, b) = (comparable(&reference), comparable(&out));
    for (k, v) in &a {
        assert_eq!(Some(v), b.get(k), "{k} differs after kill -9 and --resume");
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn capped_run_exits_3_keeps_a_checkpoint_and_resumes_with_a_larger_cap() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let out = dir.path().join("capped.h5");
    let mut extra = coarse(1);
    extra.extend(["--set".into(), "solver.max_iter=2".into()]);
    extra.extend(["--set".into(), "solver.tol=1e-14".into()]);
    let run = solve(dir.path(), &sc, &out, &extra);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("max_iterations"), "{}", run.stderr);
    assert!(run.stderr.contains("--resume"), "{}", run.stderr);
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(str_attr(&f, "status"), "max_iterations");
    drop(f);
    let ckpt = dir.path().join("capped.checkpoint.h5");
    assert!(ckpt.exists());

    // Same model and grid, larger cap and looser tolerance: continues and converges.
    let mut more = coarse(1);
    more.extend(["--set".into(), "solver.max_iter=50".into()]);
    more.extend(["--resume".into(), ckpt.display().to_string()]);
    let run = solve(dir.path(), &sc, &out, &more);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("resuming after iteration 2"),
        "{}",
        run.stderr
    );
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(str_attr(&f, "status"), "converged");
    assert!(!ckpt.exists(), "converged: checkpoint removed");
}

#[test]
fn resume_refuses_a_checkpoint_of_another_model() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let out = dir.path().join("a.h5");
    let mut extra = coarse(1);
    extra.extend(["--set".into(), "solver.max_iter=1".into()]);
    extra.extend(["--set".into(), "solver.tol=1e-14".into()]);
    assert_eq!(solve(dir.path(), &sc, &out, &extra).code, 3);
    let ckpt = dir.path().join("a.checkpoint.h5");
    let mut other = coarse(1);
    other.extend(["--set".into(), "noise.sigma=0.5".into()]);
    other.extend(["--resume".into(), ckpt.display().to_string()]);
    let run = solve(dir.path(), &sc, &dir.path().join("b.h5"), &other);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--resume"), "{}", run.stderr);
    assert!(run.stderr.contains("different model"), "{}", run.stderr);
    assert!(!dir.path().join("b.h5").exists());
}

#[test]
fn invalid_scenario_exits_2_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        &common::MINIMAL.replace("sigma = 0.3", "sigma = -1.0"),
    );
    let out = dir.path().join("bad.h5");
    let run = solve(dir.path(), &bad, &out, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("noise.sigma"), "{}", run.stderr);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".h5"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn auto_domain_keeps_the_walls_unfelt_and_a_narrow_domain_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let out = dir.path().join("auto.h5");
    let run = solve(dir.path(), &sc, &out, &coarse(1));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = hdf5::File::open(&out).unwrap();
    let wall: f64 = f.attr("boundary_mass").unwrap().read_scalar().unwrap();
    assert!(wall < 1e-6, "auto domain: boundary mass {wall}");
    assert!(!run.stdout.contains("warning"), "{}", run.stdout);

    let mut narrow = coarse(1);
    narrow.extend(["--set".into(), "solver.domain=[[-1.2, 1.5]]".into()]);
    let run = solve(dir.path(), &sc, &dir.path().join("narrow.h5"), &narrow);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("warning") && run.stdout.contains("solver.domain"),
        "{}",
        run.stdout
    );
}
