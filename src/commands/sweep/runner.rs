//! Running points: one point as a child `tufield solve` process (resuming from the
//! point's checkpoint when there is one), and the local pool of `--jobs` concurrent
//! points with one progress bar over the points.

use super::manifest::{self, point_dir, result_path, Manifest, PointStatus, State};
use crate::checkpoint::checkpoint_path;
use crate::error::EXIT_INVALID;
use crate::interrupt;
use crate::output::sweep::result_status;
use crate::progress::{bar_style, timestamp, ProgressMode};
use crate::{AppError, AppResult};
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tufield_solvers::fixed_point::Outcome;

/// The binary that runs the points (this one).
pub fn tufield_exe() -> AppResult<PathBuf> {
    std::env::current_exe()
        .map_err(|e| AppError::io(Path::new("tufield"), "cannot locate the running binary", &e))
}

/// Runs point `i` of the sweep in `dir` with `threads` worker threads and records its
/// status. Invalid points are recorded without running. When the point's checkpoint
/// exists the solve resumes from it (`tufield solve --resume`), so a requeued or re-run
/// point continues where it stopped and ends with the same bits as an uninterrupted run.
pub fn run_point(dir: &Path, m: &Manifest, i: usize, threads: usize) -> AppResult<PointStatus> {
    let pdir = point_dir(dir, i);
    std::fs::create_dir_all(&pdir)
        .map_err(|e| AppError::io(&pdir, "cannot create the point directory", &e))?;
    if let Some(msg) = &m.point[i].invalid {
        let status = PointStatus {
            status: State::Invalid,
            exit_code: Some(EXIT_INVALID),
            message: msg.clone(),
            wall_s: f64::NAN,
            threads: 0,
            resumed: false,
            finished: timestamp(),
        };
        manifest::write_status(dir, i, &status)?;
        return Ok(status);
    }
    // Temporaries of a killed solve (`*.tmp-<pid>` of a process that is gone).
    crate::interrupt::remove_stale_temps(&pdir);
    let out = result_path(dir, i);
    let ckpt = checkpoint_path(&out);
    let resumed = ckpt.is_file();
    let mut cmd = Command::new(tufield_exe()?);
    cmd.arg("solve").arg(&m.scenario);
    for s in m.all_overrides(i) {
        cmd.arg("--set").arg(s);
    }
    cmd.arg("--out")
        .arg(&out)
        .arg("--threads")
        .arg(threads.to_string());
    if resumed {
        cmd.arg("--resume").arg(&ckpt);
    }
    let log_path = pdir.join("solve.log");
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| AppError::io(&log_path, "cannot open the log", &e))?;
    let offset = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = writeln!(
        log,
        "{} tufield solve of point {i} ({}), {threads} thread(s){}",
        timestamp(),
        m.describe(i),
        if resumed {
            ", resuming from the checkpoint"
        } else {
            ""
        }
    );
    let err_log = log
        .try_clone()
        .map_err(|e| AppError::io(&log_path, "cannot open the log", &e))?;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .spawn()
        .map_err(|e| AppError::io(&log_path, "cannot start tufield solve", &e))?;
    let status = wait_forwarding(&mut child)
        .map_err(|e| AppError::io(&log_path, "cannot wait for tufield solve", &e))?;
    let wall_s = start.elapsed().as_secs_f64();
    let stopped = |c: i32| {
        c == interrupt::exit_code(libc::SIGINT) || c == interrupt::exit_code(libc::SIGTERM)
    };
    let (state, message) = match (status.code(), status.signal()) {
        (Some(0), _) => (State::Done, String::new()),
        (Some(c), _) => {
            let msg = last_error(&log_path, offset);
            if stopped(c) || result_status(&out).as_deref() == Some(Outcome::Interrupted.as_str()) {
                (State::Interrupted, msg)
            } else {
                (State::Failed, msg)
            }
        }
        (None, sig) => (
            State::Interrupted,
            format!("stopped by signal {}", sig.unwrap_or(0)),
        ),
    };
    let st = PointStatus {
        status: state,
        exit_code: status.code(),
        message,
        wall_s,
        threads,
        resumed,
        finished: timestamp(),
    };
    manifest::write_status(dir, i, &st)?;
    Ok(st)
}

/// How long a child may take to stop on a signal it received itself (a Ctrl-C or a
/// Slurm signal reaches the whole process group) before the signal is forwarded to it.
const FORWARD_GRACE: Duration = Duration::from_secs(2);

/// Waits for the solve. Once this process has been signalled (SIGINT/SIGTERM, see
/// [`crate::interrupt`]) and the child is still running after [`FORWARD_GRACE`], the
/// signal is forwarded to it once, so it writes its checkpoint and stops.
fn wait_forwarding(child: &mut Child) -> std::io::Result<ExitStatus> {
    let mut signalled: Option<Instant> = None;
    let mut forwarded = false;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if let Some(sig) = interrupt::received() {
            let since = *signalled.get_or_insert_with(Instant::now);
            if !forwarded && since.elapsed() >= FORWARD_GRACE {
                if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                    // SAFETY: kill(2) with the id of our own (not yet reaped) child.
                    unsafe {
                        libc::kill(pid, sig);
                    }
                }
                forwarded = true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last `error: …` line the solve wrote after `offset` (or a generic message).
fn last_error(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.seek(SeekFrom::Start(offset));
        let _ = f.read_to_string(&mut text);
    }
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .map(str::to_string)
        .unwrap_or_else(|| format!("the solve failed; see {}", log.display()))
}

/// Runs the points `todo` with `jobs` concurrent solves of `threads` threads each; one
/// progress bar over the points (timestamped lines when stderr is not a terminal).
/// Returns the statuses in the order of `todo`.
pub fn run_local(
    dir: &Path,
    m: &Manifest,
    todo: &[usize],
    jobs: usize,
    threads: usize,
    mode: ProgressMode,
) -> AppResult<Vec<(usize, PointStatus)>> {
    // A first SIGINT/SIGTERM raises the flag: no further point is started and the running
    // solves stop at a checkpoint (see `wait_forwarding`).
    let stop = interrupt::watch(Some(format!(
        "run the sweep again to resume its points: {}",
        dir.display()
    )))
    .unwrap_or_else(|| Arc::new(AtomicBool::new(false)));
    let failed = AtomicBool::new(false);
    let bar = (mode == ProgressMode::Bars).then(|| {
        let b =
            ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(bar_style(
            "points {bar:30.cyan/blue} {pos:>4}/{len:4} {elapsed_precise} {msg}",
        ));
        b
    });
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, PointStatus)>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<AppError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                if stop.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst) {
                    break;
                }
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&i) = todo.get(k) else {
                    break;
                };
                match run_point(dir, m, i, threads) {
                    Ok(st) => {
                        let line = format!(
                            "point {i} ({}): {}{}",
                            m.describe(i),
                            st.status.as_str(),
                            if st.message.is_empty() {
                                format!(", {:.2} s", st.wall_s)
                            } else {
                                format!(": {}", st.message)
                            }
                        );
                        match (&bar, mode) {
                            (Some(b), _) => {
                                b.inc(1);
                                b.set_message(format!("last: point {i} {}", st.status.as_str()));
                                if st.status != State::Done {
                                    b.println(line);
                                }
                            }
                            (None, ProgressMode::Lines) => {
                                let done = results.lock().map_or(0, |r| r.len()) + 1;
                                eprintln!("{} [{done}/{}] {line}", timestamp(), todo.len());
                            }
                            _ => {}
                        }
                        if let Ok(mut r) = results.lock() {
                            r.push((i, st));
                        }
                    }
                    Err(e) => {
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert(e);
                        }
                        failed.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    interrupt::unwatch(None);
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    if let Some(signal) = interrupt::received() {
        return Err(interrupted(dir, signal));
    }
    let mut r = results.into_inner().unwrap_or_default();
    r.sort_by_key(|(i, _)| *i);
    Ok(r)
}

/// The error of a sweep stopped by `signal` (exit code 128 + signal).
pub fn interrupted(dir: &Path, signal: i32) -> AppError {
    AppError::Interrupted {
        source_name: dir.display().to_string(),
        signal,
        signal_name: if signal == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        }
        .to_string(),
        detail: "; the stopped points resume from their checkpoints when the sweep runs again"
            .to_string(),
    }
}
