//! Output paths, checked before any work: a command never writes over one of its inputs,
//! fails at once on an output it cannot write, and holds a lock on its output for the whole
//! run so that two runs never write the same file.
//!
//! One behaviour for every command:
//!
//! * an output file (`--out FILE`) that is an existing directory is refused with exit 2
//!   (invalid option); missing parent directories are created; a location that cannot be
//!   written (a parent that is not a directory, no permission) is an I/O error, exit 1;
//! * an output directory (`compare --out DIR`, `plot --out DIR`) is created with its
//!   parents; an existing non-directory or an unwritable directory is an I/O error, exit 1;
//! * an output that is the same file as an input (scenario, `--policy` file, initial-law
//!   files, the checkpoint resumed from) is refused with exit 2, comparing file identity
//!   (device and inode, so links and other spellings are caught) and canonical paths;
//! * stale temporaries (`*.tmp-<pid>` of processes that no longer exist) in the output's
//!   directory are removed ([`crate::interrupt::remove_stale_temps`]);
//! * default outputs are named after the scenario file: [`default_output_in`]
//!   (`output/<scenario stem><suffix>`), [`scenario_stem`];
//! * [`RunLock`]: an advisory lock (`flock`) on `<out>.lock` for the run; a second run on the
//!   same output fails at once with exit 2, naming the holder (pid, host, start time).

use crate::{AppError, AppResult};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The scenario file's stem ("scenario" if it has none): names the default outputs.
pub fn scenario_stem(scenario: &Path) -> String {
    scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".to_string())
}

/// Default output `output/<scenario stem><suffix>` of a command.
pub fn default_output_in(scenario: &Path, suffix: &str) -> PathBuf {
    PathBuf::from("output").join(format!("{}{suffix}", scenario_stem(scenario)))
}

/// An input of a command: what it is (for messages) and where.
#[derive(Debug, Clone)]
pub struct Input {
    /// What the file is to the command ("the scenario", "the --policy file", …).
    pub role: String,
    /// Its path.
    pub path: PathBuf,
}

impl Input {
    /// An input `path` playing `role`.
    pub fn new(role: impl Into<String>, path: &Path) -> Self {
        Input {
            role: role.into(),
            path: path.to_path_buf(),
        }
    }
}

/// The scenario and its initial-law files as inputs of a command.
pub fn scenario_inputs(sc: &crate::Scenario, scenario_file: Option<&Path>) -> Vec<Input> {
    let mut v = Vec::new();
    if let Some(p) = scenario_file {
        v.push(Input::new("the scenario", p));
    }
    for (k, spec) in sc.initial.iter().enumerate() {
        if let crate::initial::InitialSpec::File { path, .. } = spec {
            v.push(Input::new(
                format!("the initial law of population[{}]", k + 1),
                path,
            ));
        }
    }
    v
}

/// (device, inode) of the file at `p` (following links), if it exists.
fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Canonical form of a path that may not exist yet: its existing parent canonicalised,
/// joined with the file name.
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(canonical(&parent)?.join(name))
}

/// True if `a` and `b` name the same file (same device and inode, or the same canonical
/// path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (identity(a), identity(b)) {
        (Some(x), Some(y)) if x == y => return true,
        _ => {}
    }
    matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// Refuses (exit 2) an output `out` (named by `option`) that is one of `inputs`.
pub fn refuse_inputs(out: &Path, option: &str, inputs: &[Input]) -> AppResult<()> {
    for i in inputs {
        if same_file(out, &i.path) {
            return Err(AppError::invalid(
                out.display().to_string(),
                option,
                format!(
                    "this is {} ({}), an input of this command; it would be overwritten — \
                     choose another output path",
                    i.role,
                    i.path.display()
                ),
            ));
        }
    }
    Ok(())
}

fn parent_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` (and its parents) and checks that files can be created in it; errors
/// are I/O errors (exit 1) naming `option`.
fn writable_dir(dir: &Path, option: &str, what: &str) -> AppResult<()> {
    let bad = |msg: String| AppError::Io {
        path: dir.display().to_string(),
        message: format!("{option}: {msg}"),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad(format!(
            "the {what} must be a directory, but a file of that name exists"
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create the {what}: {e}")))?;
    let probe = dir.join(format!(".tufield-probe.tmp-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => return Err(bad(format!("cannot write in the {what}: {e}"))),
    }
    crate::interrupt::remove_stale_temps(dir);
    Ok(())
}

/// Checks an output file path before any work (see the module docs) and creates its
/// missing parent directories.
pub fn prepare_file(out: &Path, option: &str, inputs: &[Input]) -> AppResult<()> {
    if out.is_dir() {
        return Err(AppError::invalid(
            out.display().to_string(),
            option,
            "this is a directory; give the output file's name (e.g. run.h5)",
        ));
    }
    if out.file_name().is_none() {
        return Err(AppError::invalid(
            out.display().to_string(),
            option,
            "not a file name; give the output file's name (e.g. run.h5)",
        ));
    }
    // Create the parents first: only then do spellings through missing directories
    // (`new/../scenario.toml`) resolve to the file they name.
    writable_dir(&parent_of(out), option, "output directory")?;
    refuse_inputs(out, option, inputs)
}

/// Checks an output directory before any work (see the module docs) and creates it.
pub fn prepare_dir(dir: &Path, option: &str, inputs: &[Input]) -> AppResult<()> {
    refuse_inputs(dir, option, inputs)?;
    writable_dir(dir, option, "output directory")
}

/// An advisory lock on `<out>.lock`, held until dropped (the lock file is then removed).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

/// Path of the lock file of an output.
pub fn lock_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "tufield".into());
    name.push(".lock");
    out.with_file_name(name)
}

impl RunLock {
    /// Takes the lock of output `out` (named by `option`) or fails at once (exit 2),
    /// naming the process that holds it.
    pub fn acquire(out: &Path, option: &str) -> AppResult<RunLock> {
        let path = lock_path(out);
        // Another run may remove the lock file between our open and our lock: retry
        // until the locked file is the one at `path`.
        for _ in 0..10 {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| AppError::io(&path, "cannot create the lock file", &e))?;
            // SAFETY: flock on a valid, open descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(AppError::invalid(
                    out.display().to_string(),
                    option,
                    format!(
                        "another tufield run is writing this output ({}); wait for it to \
                         finish or choose another output path (lock file {})",
                        if holder.is_empty() {
                            "holder unknown".to_string()
                        } else {
                            holder.to_string()
                        },
                        path.display()
                    ),
                ));
            }
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let _ = file.set_len(0);
            let _ = write!(
                file,
                "pid {}, host {}, started {}",
                std::process::id(),
                hostname(),
                crate::clock::utc_now()
            );
            let _ = file.flush();
            // A signal that ends the process at once removes the lock file too.
            crate::interrupt::register_temp(&path);
            return Ok(RunLock { file, path });
        }
        Err(AppError::Io {
            path: path.display().to_string(),
            message: "cannot take the lock: the lock file keeps being replaced".to_string(),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove while still holding the lock; a waiting run re-checks the inode.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.set_len(0);
        crate::interrupt::forget_temp(&self.path);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_spellings_and_links() {
        let dir = tempfile::TempDir::new().unwrap();
        let a = dir.path().join("a.toml");
        std::fs::write(&a, "x").unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(same_file(&a, &sub.join("..").join("a.toml")));
        let link = dir.path().join("hard.toml");
        std::fs::hard_link(&a, &link).unwrap();
        assert!(same_file(&a, &link));
        let sym = dir.path().join("sym.toml");
        std::os::unix::fs::symlink(&a, &sym).unwrap();
        assert!(same_file(&sym, &a));
        assert!(!same_file(&a, &dir.path().join("b.toml")));
        let e = refuse_inputs(&link, "--out", &[Input::new("the scenario", &a)]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
        assert!(e.to_string().contains("--out") && e.to_string().contains("the scenario"));
    }

    #[test]
    fn a_second_lock_names_the_holder_and_the_lock_file_goes_away() {
        let dir = tempfile::TempDir::new().unwrap();
        let out = dir.path().join("run.h5");
        let first = RunLock::acquire(&out, "--out").unwrap();
        let e = RunLock::acquire(&out, "--out").unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
        assert!(
            msg.contains(&format!("pid {}", std::process::id())) && msg.contains(", started 20"),
            "{msg}"
        );
        drop(first);
        assert!(!lock_path(&out).exists());
        let again = RunLock::acquire(&out, "--out").unwrap();
        drop(again);
    }

    #[test]
    fn output_files_are_checked_before_any_work() {
        let dir = tempfile::TempDir::new().unwrap();
        let e = prepare_file(dir.path(), "--out", &[]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
        assert!(e.to_string().contains("directory"), "{e}");
        let nested = dir.path().join("a/b/run.h5");
        prepare_file(&nested, "--out", &[]).unwrap();
        assert!(dir.path().join("a/b").is_dir());
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = prepare_file(&file.join("run.h5"), "--out", &[]).unwrap_err();
        assert_eq!(
            e.exit_code(),
            crate::error::EXIT_OTHER,
            "a place that cannot be written"
        );
    }
}
