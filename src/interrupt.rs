//! Interruptions: SIGINT (Ctrl-C) and SIGTERM (what `timeout`, Slurm, systemd and
//! container runtimes send), and the temporary files that must not outlive them.
//!
//! [`install`] starts a watcher thread once per process. What a signal does depends on
//! whether the running command polls the interrupt flag ([`watch`], the fixed point of
//! `tufield solve`):
//!
//! * **first signal, polling command**: `interrupted — writing checkpoint` on stderr at
//!   once, the flag is raised; the sweeps poll it before every time step, so the run stops
//!   within one time step, writes its checkpoint and exits with [`exit_code`] (128 + the
//!   signal number: 130 for SIGINT, 143 for SIGTERM) and a resume command;
//! * **first signal while a command is not at a resumable point, or any second signal**:
//!   the temporary files registered with [`register_temp`] are removed and the process
//!   exits at once with the same code. Checkpoints are written atomically (temporary file +
//!   rename), so the last one stays intact.
//!
//! Temporary files are named `<name>.tmp-<pid>`; [`remove_stale_temps`] deletes those of
//! processes that no longer exist (a `kill -9` leaves them), so they never accumulate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Exit code of a run stopped by signal `signal` (the shell's convention 128 + number).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

struct Watcher {
    flag: Arc<AtomicBool>,
    polled: AtomicBool,
    signal: AtomicI32,
    note: Mutex<Option<String>>,
    temps: Mutex<Vec<PathBuf>>,
}

static WATCHER: OnceLock<Option<Watcher>> = OnceLock::new();

fn watcher() -> Option<&'static Watcher> {
    WATCHER.get().and_then(|w| w.as_ref())
}

/// Starts watching SIGINT and SIGTERM (idempotent). Returns false when the handlers could
/// not be installed (the default actions then stay in force).
pub fn install() -> bool {
    WATCHER
        .get_or_init(|| {
            use signal_hook::consts::{SIGINT, SIGTERM};
            let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).ok()?;
            std::thread::Builder::new()
                .name("tufield-signals".into())
                .spawn(move || {
                    for sig in signals.forever() {
                        on_signal(sig);
                    }
                })
                .ok()?;
            Some(Watcher {
                flag: Arc::new(AtomicBool::new(false)),
                polled: AtomicBool::new(false),
                signal: AtomicI32::new(0),
                note: Mutex::new(None),
                temps: Mutex::new(Vec::new()),
            })
        })
        .is_some()
}

fn on_signal(sig: i32) {
    // The thread may see a signal before `get_or_init` has stored the watcher: wait.
    let w = loop {
        match WATCHER.get() {
            Some(Some(w)) => break w,
            Some(None) => return,
            None => std::thread::yield_now(),
        }
    };
    let first = w
        .signal
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
    if first.is_ok() && w.polled.load(Ordering::SeqCst) {
        w.flag.store(true, Ordering::SeqCst);
        eprintln!(
            "\ninterrupted — writing checkpoint (signal again to stop at once; the last \
             checkpoint is kept)"
        );
        return;
    }
    let code = exit_code(first.err().unwrap_or(sig));
    // Held until the process ends: a temporary registered from now on is never created
    // (registration comes first), and one created in the meantime is removed again below.
    let temps = w.temps.lock();
    remove_temps(temps.as_deref().map(Vec::as_slice).unwrap_or(&[]));
    let note = w.note.lock().ok().and_then(|n| n.clone());
    match note {
        Some(n) => eprintln!("\ninterrupted — stopped at once; {n}"),
        None => eprintln!("\ninterrupted — stopped at once"),
    }
    remove_temps(temps.as_deref().map(Vec::as_slice).unwrap_or(&[]));
    signal_hook::low_level::exit(code);
}

fn remove_temps(temps: &[PathBuf]) {
    for p in temps {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(p);
        } else {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The interrupt flag for a command that polls it at safe points; from now on a first
/// signal raises it instead of ending the process. `note` is printed if a second signal
/// ends the process (e.g. how to resume). `None` when no handler is installed (the flag
/// is then never raised).
pub fn watch(note: Option<String>) -> Option<Arc<AtomicBool>> {
    let w = watcher()?;
    if let Ok(mut n) = w.note.lock() {
        *n = note;
    }
    w.polled.store(true, Ordering::SeqCst);
    Some(w.flag.clone())
}

/// Where a run gets its stop token, an `Arc<AtomicBool>` it polls at safe points: from
/// the signal handler ([`watch`], the only process-wide state) or a token the caller holds
/// (raising it stops the run as a signal would).
#[derive(Debug, Clone, Default)]
pub enum StopSource {
    /// The flag of the signal handler, watched from the point the run asks for it.
    #[default]
    Signals,
    /// A given token.
    Token(Arc<AtomicBool>),
}

impl StopSource {
    /// The run's token: [`watch`]`(note)` for [`StopSource::Signals`] (`None` without a
    /// handler), the token itself otherwise.
    pub fn watch(&self, note: Option<String>) -> Option<Arc<AtomicBool>> {
        match self {
            StopSource::Signals => watch(note),
            StopSource::Token(t) => Some(t.clone()),
        }
    }
}

/// Stops polling: a signal from now on ends the process at once (removing temporaries),
/// printing `note` if given. Use it around work that cannot stop part-way but whose
/// restart is already covered (e.g. the final write after the checkpoint).
pub fn unwatch(note: Option<String>) {
    if let Some(w) = watcher() {
        if let Ok(mut n) = w.note.lock() {
            *n = note;
        }
        w.polled.store(false, Ordering::SeqCst);
    }
}

/// The signal received, if any.
pub fn received() -> Option<i32> {
    let s = watcher()?.signal.load(Ordering::SeqCst);
    (s != 0).then_some(s)
}

/// Registers a temporary file (or a lock file, or a temporary directory with everything
/// in it) to be removed if a signal ends the process.
pub fn register_temp(path: &Path) {
    if let Some(w) = watcher() {
        if let Ok(mut t) = w.temps.lock() {
            t.push(path.to_path_buf());
        }
    }
}

/// Forgets a temporary file (renamed into place or removed).
pub fn forget_temp(path: &Path) {
    if let Some(w) = watcher() {
        if let Ok(mut t) = w.temps.lock() {
            t.retain(|p| p != path);
        }
    }
}

/// The process id in a temporary file name `<name>.tmp-<pid>[.<ext>]`, if it is one.
pub fn temp_owner(file_name: &str) -> Option<u32> {
    let (_, tail) = file_name.rsplit_once(".tmp-")?;
    let digits: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &tail[digits.len()..];
    if digits.is_empty() || !(rest.is_empty() || rest.starts_with('.')) {
        return None;
    }
    digits.parse().ok()
}

/// True if a process with this id exists (Linux: `/proc/<pid>`; elsewhere assumed alive).
pub fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the temporary files (`*.tmp-<pid>`) in `dir` whose process no longer exists;
/// returns the files removed. Files of live processes (including this one) are kept.
pub fn remove_stale_temps(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_owner(&name) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_give_their_process() {
        assert_eq!(temp_owner("run.h5.tmp-1234"), Some(1234));
        assert_eq!(temp_owner(".means.tmp-77.png"), Some(77));
        assert_eq!(temp_owner("run.h5"), None);
        assert_eq!(temp_owner("run.tmp-x"), None);
        assert_eq!(temp_owner("run.tmp-12x"), None);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::TempDir::new().unwrap();
        // A pid above the kernel's maximum (4194304) cannot be alive.
        let dead = dir.path().join("a.h5.tmp-99999999");
        let mine = dir.path().join(format!("b.h5.tmp-{}", std::process::id()));
        let other = dir.path().join("c.h5");
        for p in [&dead, &mine, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_temps(dir.path());
        assert_eq!(removed, vec![dead.clone()]);
        assert!(!dead.exists() && mine.exists() && other.exists());
    }
}
