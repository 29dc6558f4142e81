//! Helpers shared by the CLI integration tests: run the `tufield` binary, write scenario
//! files into temporary directories, locate the shipped scenarios.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `tufield args…` in `cwd` (single-threaded BLAS).
pub fn tufield_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .args(args)
        .current_dir(cwd)
        .env("OPENBLAS_NUM_THREADS", "1")
        .output()
        .expect("the tufield binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "tufield {args:?} panicked:\n{}",
        run.stderr
    );
    run
}

/// Runs `tufield args…` in the crate root.
pub fn tufield(args: &[&str]) -> Run {
    tufield_in(&root(), args)
}

/// The crate root (where scenarios/ lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of a shipped scenario.
pub fn scenario(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// All shipped scenarios, sorted.
pub fn all_scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write scenario");
    p
}

/// A valid minimal 1-D scenario used as the base of the malformed ones.
pub const MINIMAL: &str = r#"
name = "minimal"
[model]
a = [[-0.75]]
[cost]
q = 1.0
s = 1.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
[[population]]
mean = [0.5]
std = [0.2]
"#;

/// A valid 2-D game scenario with three populations on a chain.
pub const GAME_2D: &str = r#"
[game]
players = 3
coalitions = [[1], [1, 2]]
[cost]
q = 1.0
s = [[1.0, 0.0], [0.0, 2.0]]
gamma = 2.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
[[population]]
mean = [-1.0, 0.0]
std = [0.3, 0.3]
[[population]]
mean = [0.0, 0.5]
std = [0.3, 0.3]
[[population]]
mean = [1.0, 0.0]
cov = [[0.09, 0.01], [0.01, 0.09]]
[graph]
kind = "chain"
[solver]
steps = 50
"#;
