//! Slurm batch scripts of a sweep: `sweep.sbatch` (a job array, one task per point, each
//! running `tufield sweep run DIR --index $SLURM_ARRAY_TASK_ID`) and `gather.sbatch`
//! (`tufield sweep gather DIR`, submitted with `--dependency=afterany:<array job>`), and
//! their submission with `sbatch --parsable`.

use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Resources of the array tasks (the `--slurm` options).
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// `--partition` (none: the cluster's default).
    pub partition: Option<String>,
    /// `--time` of each task (Slurm syntax, e.g. `01:00:00`).
    pub time: String,
    /// `--cpus-per-task` (also the threads of each solve).
    pub cpus_per_task: u16,
    /// `--mem` of each task (e.g. `4G`; none: the cluster's default).
    pub mem: Option<String>,
    /// At most this many tasks at once (`%limit` of `--array`; none: no limit).
    pub array_limit: Option<usize>,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job-array script for `n` points of the sweep in `dir` (absolute), run by `exe`.
pub fn array_script(dir: &Path, exe: &Path, name: &str, n: usize, o: &SlurmOptions) -> String {
    let limit = o.array_limit.map(|l| format!("%{l}")).unwrap_or_default();
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# Written by `tufield sweep --slurm`: one array task per sweep point. A task\n");
    s.push_str("# that is requeued (preemption, node failure, scontrol requeue) resumes from\n");
    s.push_str("# its point's checkpoint; a finished point is skipped.\n");
    s.push_str(&format!("#SBATCH --job-name={name}\n"));
    s.push_str(&format!(
        "#SBATCH --array=0-{}{limit}\n",
        n.saturating_sub(1)
    ));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    s.push_str(&format!("#SBATCH --time={}\n", o.time));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    if let Some(m) = &o.mem {
        s.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    s.push_str("#SBATCH --requeue\n");
    s.push_str("#SBATCH --open-mode=append\n");
    s.push_str(&format!(
        "#SBATCH --output={}\n",
        dir.join("logs").join("point-%a.out").display()
    ));
    s.push_str("export OPENBLAS_NUM_THREADS=1\n");
    s.push_str(&format!(
        "exec {} sweep run {} --index \"$SLURM_ARRAY_TASK_ID\"\n",
        quote(&exe.display().to_string()),
        quote(&dir.display().to_string())
    ));
    s
}

/// The gather script (one CPU, after the whole array: `afterany`).
pub fn gather_script(dir: &Path, exe: &Path, name: &str, o: &SlurmOptions) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# Written by `tufield sweep --slurm`: gathers the points into summary.nc,\n");
    s.push_str("# summary.csv and figures; submitted with --dependency=afterany:<array job>.\n");
    s.push_str(&format!("#SBATCH --job-name={name}-gather\n"));
    if let Some(p) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    s.push_str("#SBATCH --time=00:30:00\n");
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str("#SBATCH --cpus-per-task=1\n");
    s.push_str("#SBATCH --open-mode=append\n");
    s.push_str(&format!(
        "#SBATCH --output={}\n",
        dir.join("logs").join("gather.out").display()
    ));
    s.push_str(&format!(
        "exec {} sweep gather {}\n",
        quote(&exe.display().to_string()),
        quote(&dir.display().to_string())
    ));
    s
}

/// `sbatch` on the PATH, or exit 2 saying so.
pub fn find_sbatch() -> AppResult<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("sbatch"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            AppError::invalid(
                "--submit",
                "sbatch",
                "sbatch is not on the PATH: --submit needs a Slurm client (run on a login \
                 node, or load the Slurm module); without --submit the scripts are written \
                 for you to submit with sbatch",
            )
        })
}

/// Submits `script` with `sbatch --parsable [extra]` and returns the job id.
pub fn submit(sbatch: &Path, script: &Path, extra: &[String]) -> AppResult<String> {
    let out = Command::new(sbatch)
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| AppError::io(sbatch, "cannot run sbatch", &e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if !out.status.success() || id.is_empty() {
        return Err(AppError::Io {
            path: script.display().to_string(),
            message: format!(
                "sbatch failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_script_has_the_directives() {
        let o = SlurmOptions {
            partition: Some("short".into()),
            time: "00:10:00".into(),
            cpus_per_task: 2,
            mem: Some("1G".into()),
            array_limit: Some(4),
        };
        let s = array_script(Path::new("/d/s"), Path::new("/bin/tufield"), "sw", 6, &o);
        for line in [
            "#SBATCH --array=0-5%4",
            "#SBATCH --partition=short",
            "#SBATCH --time=00:10:00",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem=1G",
            "#SBATCH --requeue",
            "#SBATCH --open-mode=append",
            "#SBATCH --output=/d/s/logs/point-%a.out",
            "exec '/bin/tufield' sweep run '/d/s' --index \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            assert!(s.lines().any(|l| l == line), "{line} missing in\n{s}");
        }
        let g = gather_script(Path::new("/d/s"), Path::new("/bin/tufield"), "sw", &o);
        assert!(g.contains("exec '/bin/tufield' sweep gather '/d/s'"));
    }
}
