//! Running points: one point as a child `tufield solve` process (resuming from the
//! point's checkpoint when there is one), and the local pool of `--jobs` concurrent
//! points with one progress bar over the points.

use super::manifest::{self, point_dir, result_path, Manifest, PointStatus, State};
use crate::checkpoint::checkpoint_path;
use crate::error::EXIT_INVALID;
use crate::progress::{bar_style, timestamp, ProgressMode};
use crate::{AppError, AppResult};
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The binary that runs the points (this one).
pub fn tufield_exe() -> AppResult<PathBuf> {
    std::env::current_exe()
        .map_err(|e| AppError::io(Path::new("tufield"), "cannot locate the running binary", &e))
}

/// Removes temporary files left by a killed solve (`*.tmp-<pid>`) in the point's
/// directory; they belong to no running process once the point is started again.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(".tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
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
            wall_s: 0.0,
            threads: 0,
            resumed: false,
            finished: timestamp(),
        };
        manifest::write_status(dir, i, &status)?;
        return Ok(status);
    }
    remove_stale_temporaries(&pdir);
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
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err_log))
        .status()
        .map_err(|e| AppError::io(&log_path, "cannot start tufield solve", &e))?;
    let wall_s = start.elapsed().as_secs_f64();
    let (state, message) = match (status.code(), status.signal()) {
        (Some(0), _) => (State::Done, String::new()),
        (Some(_), _) => {
            let msg = last_error(&log_path, offset);
            if result_status(&out).as_deref() == Some("interrupted") {
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

/// Root attribute `status` of a solve output, if readable.
fn result_status(out: &Path) -> Option<String> {
    let f = hdf5::File::open(out).ok()?;
    let s = f
        .attr("status")
        .ok()?
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .ok()?;
    Some(s.as_str().to_string())
}

/// Set by Ctrl-C in the parent: no further point is started (the running solves get the
/// signal themselves and write their checkpoints).
static STOP: AtomicBool = AtomicBool::new(false);
static HANDLER: OnceLock<bool> = OnceLock::new();

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
    HANDLER.get_or_init(|| ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst)).is_ok());
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
                if STOP.load(Ordering::SeqCst) {
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
                        STOP.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut r = results.into_inner().unwrap_or_default();
    r.sort_by_key(|(i, _)| *i);
    Ok(r)
}
