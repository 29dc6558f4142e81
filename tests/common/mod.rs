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
        // A progress line for every iteration (off a terminal the default is one per 10 s).
        .env("TUFIELD_PROGRESS_INTERVAL", "0")
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

/// Every dataset and attribute of an HDF5 file except the root's `history`, keyed by path
/// (`/a/b` for datasets, `/a/b@name` for attributes), numbers as exact bit patterns (f64) or integers and strings
/// as text, for bit-for-bit comparisons of whole files.
pub fn h5_contents(path: &Path) -> std::collections::BTreeMap<String, String> {
    let file = hdf5::File::open(path).expect("output opens");
    let mut out = std::collections::BTreeMap::new();
    walk(&file, &mut out);
    out
}

fn attrs(loc: &hdf5::Location, prefix: &str, out: &mut std::collections::BTreeMap<String, String>) {
    for name in loc.attr_names().expect("attribute names") {
        // Dimension-scale bookkeeping attributes hold object references; skip them.
        if name == "DIMENSION_LIST" || name == "REFERENCE_LIST" {
            continue;
        }
        // The CF `history` (time and command line of the run) differs between runs.
        if prefix.is_empty() && name == "history" {
            continue;
        }
        let a = loc.attr(&name).expect("attribute opens");
        out.insert(format!("{prefix}@{name}"), value_text(&a));
    }
}

fn value_text(c: &hdf5::Container) -> String {
    use hdf5::types::TypeDescriptor as T;
    match c.dtype().and_then(|t| t.to_descriptor()).expect("type") {
        T::Float(_) => format!(
            "{:?}",
            c.read_raw::<f64>()
                .expect("f64 data")
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        ),
        T::Unsigned(_) | T::Integer(_) => {
            format!("{:?}", c.read_raw::<i64>().expect("integer data"))
        }
        T::VarLenUnicode => format!(
            "{:?}",
            c.read_raw::<hdf5::types::VarLenUnicode>()
                .expect("string data")
                .iter()
                .map(|s| s.as_str().to_string())
                .collect::<Vec<_>>()
        ),
        other => format!("<{other:?}>"),
    }
}

fn walk(g: &hdf5::Group, out: &mut std::collections::BTreeMap<String, String>) {
    let prefix = if g.name() == "/" {
        String::new()
    } else {
        g.name()
    };
    attrs(g, &prefix, out);
    for ds in g.datasets().expect("datasets") {
        let name = ds.name();
        out.insert(format!("{name}#shape"), format!("{:?}", ds.shape()));
        out.insert(name.clone(), value_text(&ds));
        attrs(&ds, &name, out);
    }
    for sub in g.groups().expect("groups") {
        walk(&sub, out);
    }
}

/// Width and height from a PNG's IHDR chunk (asserts the PNG signature).
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}
