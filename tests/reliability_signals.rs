//! Interruptions of `tufield solve`: SIGTERM / SIGINT are acknowledged, the run stops at a
//! safe point with exit 128 + signal, keeps its checkpoint and prints a resume command that
//! works as printed; the resumed file equals an uninterrupted run's, dataset for dataset
//! (wall times aside), wherever the interruption lands (mid-iteration, in the final write,
//! after a run that already finished); a second signal stops at once with the checkpoint
//! intact; no temporary or lock file is left behind, and stale ones of dead processes are
//! removed by the next run.
//!
//! The signals are sent after a progress line appears; nothing here asserts on timing.

mod common;

use common::{h5_contents, scenario, tufield_in};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use tempfile::TempDir;

/// Contents minus what legitimately differs between runs (wall times, thread count).
fn comparable(path: &Path) -> BTreeMap<String, String> {
    let mut c = h5_contents(path);
    c.remove("/fixed_point/wall_s");
    c.remove("@threads");
    c
}

fn assert_same(reference: &Path, other: &Path, what: &str) {
    let (a, b) = (comparable(reference), comparable(other));
    for (k, v) in &a {
        assert_eq!(Some(v), b.get(k), "{k} differs {what}");
    }
    assert_eq!(a.len(), b.len(), "{what}: different sets of datasets");
}

/// A run long enough to be interrupted mid-way: Picard with damping, no convergence
/// before `max_iter`.
fn long_args(points: usize, max_iter: usize) -> Vec<String> {
    let mut v = vec![];
    for s in [
        format!("solver.points={points}"),
        "solver.steps=60".to_string(),
        "solver.acceleration=\"none\"".to_string(),
        "solver.damping=0.5".to_string(),
        "solver.tol=1e-15".to_string(),
        format!("solver.max_iter={max_iter}"),
        "solver.stagnation_window=0".to_string(),
    ] {
        v.push("--set".to_string());
        v.push(s);
    }
    v
}

fn spawn_solve(dir: &Path, sc: &Path, out: &str, extra: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tufield"))
        .arg("solve")
        .arg(sc)
        .arg("--out")
        .arg(out)
        .args(extra)
        .current_dir(dir)
        .env("OPENBLAS_NUM_THREADS", "1")
        // A progress line for every iteration (off a terminal the default is one per 10 s).
        .env("TUFIELD_PROGRESS_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stderr on a thread; lines arrive on the channel.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A progress line without its timestamp (`2026-01-31T12:00:00Z iteration 1: …`).
fn untimed(line: &str) -> &str {
    match line.split_once("Z ") {
        Some((stamp, rest)) if stamp.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => line,
    }
}

/// Waits for a line starting with `prefix` (after the timestamp); returns every line read
/// so far.
fn wait_for(rx: &mpsc::Receiver<String>, prefix: &str, seen: &mut Vec<String>) {
    for line in rx.iter() {
        let hit = untimed(&line).starts_with(prefix);
        seen.push(line);
        if hit {
            return;
        }
    }
    panic!("the run ended before printing {prefix:?}: {seen:?}");
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0);
}

/// Files in `dir` that a finished command must not leave behind.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.ends_with(".lock"))
        .collect()
}

/// The command printed after "continue with: ", split into arguments (no quoting needed
/// for the paths used here).
fn printed_resume(stderr: &str) -> Vec<String> {
    let cmd = stderr
        .split("continue with: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command printed: {stderr}"))
        .lines()
        .next()
        .unwrap();
    let words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    assert_eq!(words[0], "tufield", "{cmd}");
    words[1..].to_vec()
}

fn run_printed(dir: &Path, args: &[String]) -> common::Run {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    tufield_in(dir, &refs)
}

#[test]
fn sigterm_mid_run_keeps_the_checkpoint_and_the_printed_resume_ends_bit_identical() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let args = long_args(61, 12);
    let mut reference = spawn_solve(dir.path(), &sc, "reference.h5", &args);
    let _ = lines(&mut reference).iter().count();
    assert_eq!(
        reference.wait().unwrap().code(),
        Some(3),
        "max_iterations exits 3"
    );

    std::fs::create_dir(dir.path().join("runs")).unwrap();
    let mut child = spawn_solve(dir.path(), &sc, "runs/a.h5", &args);
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&rx, "iteration    2:", &mut seen);
    signal(&child, libc::SIGTERM);
    seen.extend(rx.iter());
    let status = child.wait().unwrap();
    let stderr = seen.join("\n");
    assert_eq!(status.code(), Some(143), "SIGTERM exits 143: {stderr}");
    assert!(
        stderr.contains("interrupted — writing checkpoint"),
        "{stderr}"
    );
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    let ckpt = dir.path().join("runs/a.checkpoint.h5");
    assert!(ckpt.is_file(), "{stderr}");
    assert!(
        !dir.path().join("runs/a.h5").exists(),
        "an interrupted run writes only its checkpoint"
    );
    assert!(leftovers(&dir.path().join("runs")).is_empty());

    // The printed command, as printed: no scenario, no --set, no --out.
    let resume = printed_resume(&stderr);
    assert_eq!(resume, ["solve", "--resume", "runs/a.checkpoint.h5"]);
    let run = run_printed(dir.path(), &resume);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("resuming after iteration"),
        "{}",
        run.stderr
    );
    assert_same(
        &dir.path().join("reference.h5"),
        &dir.path().join("runs/a.h5"),
        "after SIGTERM and --resume",
    );
    assert!(leftovers(&dir.path().join("runs")).is_empty());
}

#[test]
fn a_second_sigint_stops_at_once_and_the_checkpoint_stays_intact() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let args = long_args(61, 12);
    let mut child = spawn_solve(dir.path(), &sc, "b.h5", &args);
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&rx, "iteration    1:", &mut seen);
    // Two different signals back to back (two SIGINTs could merge into one delivery):
    // the first handled asks for a checkpoint, the second ends the process at once with
    // the first's code. Sent within microseconds to a process whose threads are all
    // busy, the two can be handled in either order (each on the thread the kernel picks),
    // so the code is 128 + either signal's number — but never anything else.
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGTERM);
    seen.extend(rx.iter());
    let status = child.wait().unwrap();
    let stderr = seen.join("\n");
    assert!(
        matches!(status.code(), Some(130) | Some(143)),
        "the first signal's code, 130 (SIGINT) or 143 (SIGTERM): {:?}: {stderr}",
        status.code()
    );
    assert_eq!(
        stderr.matches("interrupted — writing checkpoint").count(),
        1,
        "one checkpoint request: {stderr}"
    );
    assert!(stderr.contains("interrupted — stopped at once"), "{stderr}");
    let ckpt = dir.path().join("b.checkpoint.h5");
    let f = hdf5::File::open(&ckpt).expect("the checkpoint is a readable HDF5 file");
    let done = f.dataset("history/residual").unwrap().shape()[0];
    assert!(done >= 1, "{stderr}");
    drop(f);
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
    let resume = printed_resume(&stderr);
    let run = run_printed(dir.path(), &resume);
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn an_interruption_in_the_final_write_resumes_to_the_same_file() {
    // Converges (default settings); at 121² the final write takes a while, and the signal
    // is sent as soon as the last iteration is printed.
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let args: Vec<String> = ["--set", "solver.points=121", "--set", "solver.steps=60"]
        .map(String::from)
        .to_vec();
    let mut reference = spawn_solve(dir.path(), &sc, "reference.h5", &args);
    let ref_lines: Vec<String> = lines(&mut reference).iter().collect();
    assert_eq!(reference.wait().unwrap().code(), Some(0));
    let last = ref_lines
        .iter()
        .map(|l| untimed(l))
        .rfind(|l| l.starts_with("iteration"))
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();

    let mut child = spawn_solve(dir.path(), &sc, "c.h5", &args);
    let rx = lines(&mut child);
    let mut seen = Vec::new();
    wait_for(&rx, &last, &mut seen);
    signal(&child, libc::SIGTERM);
    seen.extend(rx.iter());
    let code = child.wait().unwrap().code();
    let stderr = seen.join("\n");
    match code {
        Some(143) => {
            eprintln!("the signal landed in the final write; resuming");
            assert!(!dir.path().join("c.h5").exists());
            let run = run_printed(dir.path(), &printed_resume(&stderr));
            assert_eq!(run.code, 0, "{}", run.stderr);
            assert!(
                !run.stderr
                    .lines()
                    .any(|l| untimed(l).starts_with("iteration")),
                "no new iteration: {}",
                run.stderr
            );
        }
        // The write finished before the signal arrived.
        Some(0) => eprintln!("the write finished before the signal"),
        other => panic!("unexpected exit {other:?}: {stderr}"),
    }
    assert_same(
        &dir.path().join("reference.h5"),
        &dir.path().join("c.h5"),
        "after an interruption at the end",
    );
    assert!(!dir.path().join("c.checkpoint.h5").exists());
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn a_finished_run_whose_output_is_lost_resumes_without_a_new_iteration() {
    // What kill -9 or a failed write (disk full) after the last iteration leaves: the
    // checkpoint of a finished run and no output.
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let args = long_args(81, 5);
    let mut first = spawn_solve(dir.path(), &sc, "d.h5", &args);
    let _ = lines(&mut first).iter().count();
    assert_eq!(first.wait().unwrap().code(), Some(3));
    let kept: PathBuf = dir.path().join("kept.h5");
    std::fs::rename(dir.path().join("d.h5"), &kept).unwrap();
    let run = tufield_in(dir.path(), &["solve", "--resume", "d.checkpoint.h5"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("iteration    6"), "{}", run.stderr);
    assert_same(
        &kept,
        &dir.path().join("d.h5"),
        "after replaying a finished run",
    );
    // The hint of a capped run raises the cap and continues from the same state.
    let resume = printed_resume(&run.stderr);
    assert!(
        resume.contains(&"solver.max_iter=10".to_string()),
        "{resume:?}"
    );
    let more = run_printed(dir.path(), &resume);
    assert_eq!(more.code, 3, "{}", more.stderr);
    assert!(more.stderr.contains("iteration   10"), "{}", more.stderr);
}

#[test]
fn stale_temporaries_of_dead_processes_are_removed_and_live_ones_kept() {
    let dir = TempDir::new().unwrap();
    // No process can have a pid above the kernel's maximum (2^22).
    let stale = dir.path().join("e.h5.tmp-99999999");
    let live = dir.path().join(format!("e.h5.tmp-{}", std::process::id()));
    std::fs::write(&stale, b"partial").unwrap();
    std::fs::write(&live, b"being written").unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    let run = tufield_in(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            "e.h5",
            "--set",
            "solver.points=41",
            "--set",
            "solver.steps=20",
            "--quiet",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!stale.exists(), "the stale temporary is removed");
    assert!(live.exists(), "a live process's temporary is kept");
}
