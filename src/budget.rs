//! Jobs sized before they start: the memory and the work of a command estimated from the
//! scenario alone, compared with the memory the machine has available.
//!
//! The estimate follows what the numerics allocate (f64 = 8 bytes; N grid nodes, p
//! populations, L = steps + 1 time levels, S snapshots, d axes):
//!
//! * `solve`: the HJI value at every level, L·N (one field reused for every population);
//!   density and value snapshots of every population, 2·p·S·N, twice (the results of the
//!   previous evaluation are kept until the new ones are complete); the initial densities,
//!   p·N, and sweep workspace, 4·N; the fixed-point vectors and Anderson memory,
//!   (2·depth + 4)·p·L·d; plus a fixed [`BASELINE_BYTES`] for the program, HDF5 and threads.
//!   Modal scenarios: the same per mode with a 1-D grid.
//! * `simulate`: per copy the state (d) and the running cost (1), 8·(d+1)·copies·p; stored
//!   paths, trajectories·p·L·d; with a solve file as policy also its value, density and
//!   gradient snapshots, (d + 3)·p·S·N.
//! * `lq`, `check`, `compare`: `lq` and `check` need little (L·d² per population); `compare`
//!   runs a solve and policy evaluations, estimated as 2 × the solve.
//!
//! Work is counted in node updates: grid nodes × steps × populations × 2 sweeps (HJI and
//! FPK) per fixed-point iteration.
//!
//! [`enforce`] refuses (exit 2) a job whose estimate exceeds the available memory
//! (`MemAvailable` of /proc/meminfo, and the cgroup's `memory.max` minus
//! `memory.current` when set), naming the keys that size it; `--force-memory` runs it
//! anyway.

use crate::scenario::Scenario;
use crate::{AppError, AppResult};

/// Memory of the program itself (binary, HDF5 library, thread stacks, small buffers).
pub const BASELINE_BYTES: u64 = 40 << 20;

/// Estimated memory and work of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Peak resident memory, bytes.
    pub bytes: u64,
    /// Node updates per fixed-point iteration (grid nodes × steps × populations × 2), or
    /// copy updates for `simulate` (copies × populations × steps).
    pub work: f64,
    /// What the work counts ("node updates per iteration", "copy updates").
    pub work_unit: &'static str,
    /// The scenario keys and options that size the job, largest effect first.
    pub keys: &'static str,
}

const F64: f64 = 8.0;

fn snapshots(sc: &Scenario) -> f64 {
    tufield_solvers::equilibrium::snapshot_levels(sc.settings.steps, sc.settings.snapshot_every())
        .len() as f64
}

fn nodes(sc: &Scenario) -> f64 {
    sc.settings
        .points_per_axis(sc.grid_dim())
        .iter()
        .map(|&n| n as f64)
        .product()
}

/// Estimate of `tufield solve` on this scenario.
pub fn solve(sc: &Scenario) -> Estimate {
    let st = &sc.settings;
    let n = nodes(sc);
    let p = sc.model.num_populations() as f64;
    let levels = st.steps as f64 + 1.0;
    let s = snapshots(sc);
    let d = sc.dim() as f64;
    let depth = match st.fixed_point().acceleration {
        tufield_solvers::fixed_point::Acceleration::Anderson { depth } => depth as f64,
        tufield_solvers::fixed_point::Acceleration::None => 0.0,
    };
    // Modal: one 1-D problem at a time, its fixed-point vector on one axis.
    let fp_d = if sc.is_modal() { 1.0 } else { d };
    let fields = levels * n + 4.0 * p * s * n + p * n + 4.0 * n;
    let fixed_point = (2.0 * depth + 4.0) * p * levels * fp_d;
    let lq = p * levels * d * d * 4.0;
    let bytes = F64 * (fields + fixed_point + lq) + BASELINE_BYTES as f64;
    let modes = if sc.is_modal() { d } else { 1.0 };
    Estimate {
        bytes: bytes.min(u64::MAX as f64) as u64,
        work: modes * n * st.steps as f64 * p * 2.0,
        work_unit: "node updates per fixed-point iteration",
        keys: "solver.points, solver.steps, solver.snapshot_every",
    }
}

/// Estimate of `tufield lq` (and of `check`) on this scenario.
pub fn lq(sc: &Scenario) -> Estimate {
    let p = sc.model.num_populations() as f64;
    let levels = sc.settings.steps as f64 + 1.0;
    let d = sc.dim() as f64;
    Estimate {
        bytes: (F64 * p * levels * (d * d + d) * 8.0) as u64 + BASELINE_BYTES,
        work: p * levels * d * d * d,
        work_unit: "matrix entries",
        keys: "solver.steps",
    }
}

/// Estimate of `tufield simulate`: `copies` per population, `kept` stored paths, and
/// whether the policy is a solve file (its snapshots are loaded).
pub fn simulate(sc: &Scenario, copies: usize, kept: usize, file_policy: bool) -> Estimate {
    let p = sc.model.num_populations() as f64;
    let levels = sc.settings.steps as f64 + 1.0;
    let d = sc.dim() as f64;
    let c = copies as f64;
    let mut words = (d + 1.0) * c * p * 2.0 + kept as f64 * p * levels * d;
    if file_policy && !sc.is_modal() {
        words += (d + 3.0) * p * snapshots(sc) * nodes(sc);
    }
    Estimate {
        bytes: (F64 * words + BASELINE_BYTES as f64).min(u64::MAX as f64) as u64,
        work: c * p * sc.settings.steps as f64,
        work_unit: "copy updates",
        keys: "--copies, solver.steps, --trajectories",
    }
}

/// Largest scenario file read (bytes): scenarios are a few kB.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Largest data file (initial law, `.npy` or an HDF5 dataset) read, bytes.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// Reads at most `cap` bytes of `path`: a larger file (or an endless one such as
/// `/dev/zero`) is an error of kind `InvalidData` saying so, after reading `cap + 1` bytes
/// at most.
pub fn read_capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if let Ok(m) = file.metadata() {
        if m.is_dir() {
            return Err(std::io::Error::other("is a directory"));
        }
        if m.len() > cap {
            return Err(too_large(m.len(), cap));
        }
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64, cap));
    }
    Ok(bytes)
}

fn too_large(len: u64, cap: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the file is larger than the {} allowed ({}{} bytes read)",
            human(cap),
            if len > cap { "more than " } else { "" },
            cap
        ),
    )
}

/// Memory this process may still use, bytes: `MemAvailable`, lowered to the cgroup's
/// `memory.max − memory.current` when a limit is set. `None` when unknown.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = cgroup_room();
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Room left under the cgroup v2 memory limit of this process, if one is set.
fn cgroup_room() -> Option<u64> {
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let max = std::fs::read_to_string(dir.join("memory.max")).ok()?;
    let max: u64 = max.trim().parse().ok()?; // "max" = no limit
    let current: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// `bytes` in MB or GB for messages.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", (b / 1e6).max(1.0))
    }
}

/// Work in readable form (`2.4e9`).
pub fn human_work(work: f64) -> String {
    if work < 1e6 {
        format!("{work:.0}")
    } else {
        format!("{work:.2e}")
    }
}

static FORCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--force-memory`: run jobs even beyond the available memory.
pub fn set_force(force: bool) {
    FORCE.store(force, std::sync::atomic::Ordering::Relaxed);
}

/// [`enforce`] with the `--force-memory` setting of this process.
pub fn check(sc: &Scenario, est: &Estimate) -> AppResult<()> {
    enforce(sc, est, FORCE.load(std::sync::atomic::Ordering::Relaxed))
}

/// Refuses (exit 2) a job whose estimate exceeds the available memory, unless `force`.
pub fn enforce(sc: &Scenario, est: &Estimate, force: bool) -> AppResult<()> {
    if force {
        return Ok(());
    }
    let Some(avail) = available_memory() else {
        return Ok(());
    };
    if est.bytes > avail {
        return Err(AppError::invalid(
            &sc.source_name,
            est.keys,
            format!(
                "this job needs about {} of memory but only {} is available; lower {} \
                 (or pass --force-memory to run it anyway)",
                human(est.bytes),
                human(avail),
                est.keys
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_grid_is_refused_and_names_the_keys() {
        let text = std::fs::read_to_string("scenarios/lqc_2d_chain3.toml").unwrap();
        let sc = Scenario::from_text("s.toml", "s", &text, &[]).unwrap();
        let small = solve(&sc);
        assert!(small.bytes < 200 << 20, "{small:?}");
        let big = Scenario::from_text(
            "s.toml",
            "s",
            &text,
            &[
                crate::overrides::Override::parse("solver.points=7000").unwrap(),
                crate::overrides::Override::parse("solver.steps=1000000").unwrap(),
            ],
        )
        .unwrap();
        let est = solve(&big);
        assert!(est.bytes > 1 << 45, "{est:?}");
        let e = enforce(&big, &est, false).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
        let msg = e.to_string();
        assert!(
            msg.contains("solver.points") && msg.contains("--force-memory"),
            "{msg}"
        );
        assert!(enforce(&big, &est, true).is_ok());
    }
}
