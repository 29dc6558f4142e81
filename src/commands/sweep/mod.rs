//! `tufield sweep`: parameter sweeps of a scenario, run locally (`--jobs` concurrent
//! solves) or as a Slurm job array (`--slurm`, `--submit`), gathered into one netCDF-4/CF
//! file, a CSV table and figures.
//!
//! ```text
//! tufield sweep SCENARIO --vary KEY=[v1,v2,...] [--vary ...] [--zip] [--sweep FILE]
//!               [--set KEY=VALUE ...] [--out DIR] [--jobs N] [--retry-failed]
//!               [--slurm [--submit] [--partition P] [--time T] [--cpus-per-task C]
//!                        [--mem M] [--array-limit L]]
//! tufield sweep run DIR --index I      one point (a Slurm array task)
//! tufield sweep gather DIR [--plot Q,...]
//! ```
//!
//! Before any point runs, every point's scenario is checked: an unknown key, a value of
//! the wrong type (not the type of the scenario's own value) or an empty axis is refused
//! (exit 2, naming the key). A point whose scenario is invalid on its own (e.g. γ below the
//! threshold of condition (17)) is recorded as `invalid` with its message and not run.
//! The directory layout is in [`manifest`]; the summary's in [`gather`].

pub mod axes;
pub mod figures;
pub mod gather;
pub mod manifest;
pub mod runner;
pub mod slurm;

use crate::interrupt;
use crate::overrides::Override;
use crate::progress::ProgressMode;
use crate::scenario::{self, Scenario};
use crate::{AppError, AppResult};
use axes::{identifier, Axis};
use clap::{Args, Subcommand};
use manifest::{point_dir, read_status, AxisEntry, Manifest, Point, State, MANIFEST};
use slurm::SlurmOptions;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// Arguments of `tufield sweep`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    /// Run one point or gather a sweep directory.
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    /// Define and run (or submit) a sweep.
    #[command(flatten)]
    pub define: DefineArgs,
}

/// `tufield sweep run` and `tufield sweep gather`.
#[derive(Debug, Subcommand)]
pub enum SweepAction {
    /// Run one point of a sweep directory (what each Slurm array task does); resumes from
    /// the point's checkpoint if there is one, does nothing if the point is done.
    Run {
        /// The sweep directory.
        dir: PathBuf,
        /// The point (0-based; the Slurm array task id).
        #[arg(long, value_name = "I")]
        index: usize,
    },
    /// Gather a sweep directory into summary.nc (netCDF-4/CF), summary.csv and figures.
    Gather {
        /// The sweep directory.
        dir: PathBuf,
        /// Quantities drawn against the first axis (comma-separated): expected_cost,
        /// final_mean, lq_mean_distance, iterations, residual, mass_error, wall_time.
        #[arg(
            long,
            value_name = "Q1,Q2,...",
            value_delimiter = ',',
            default_value = "expected_cost,final_mean,lq_mean_distance,iterations"
        )]
        plot: Vec<String>,
    },
}

/// Arguments that define a sweep. (The argument docs are the `--help` text, written for a
/// terminal, not for rustdoc.)
#[derive(Debug, Args)]
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
pub struct DefineArgs {
    /// Scenario file (TOML, see docs/scenario-format.md).
    #[arg(required = true)]
    pub scenario: Option<PathBuf>,
    /// A swept key and its values in --set syntax: KEY=[v1,v2,...], KEY=linspace(a,b,n)
    /// or KEY=logspace(a,b,n) (10^a .. 10^b); repeatable (cartesian product).
    #[arg(long, value_name = "KEY=VALUES")]
    pub vary: Vec<String>,
    /// Zip the axes (equal lengths; point i takes the i-th value of each) instead of the
    /// cartesian product.
    #[arg(long)]
    pub zip: bool,
    /// A sweep file with [[axis]] tables (key, values), zip and set (see docs/hpc.md).
    #[arg(long, value_name = "FILE")]
    pub sweep: Option<PathBuf>,
    /// Fixed override of every point, e.g. --set solver.points=101 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Sweep directory (default: output/<scenario file stem>_sweep/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Concurrent solves of a local run (each with --threads, default: the allowed CPUs
    /// divided by the jobs).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Run the failed points again (finished points are always skipped).
    #[arg(long)]
    pub retry_failed: bool,
    /// Write Slurm batch scripts (a job array and a gather job) instead of running.
    #[arg(long)]
    pub slurm: bool,
    /// With --slurm: submit the scripts with sbatch and print the job ids.
    #[arg(long, requires = "slurm")]
    pub submit: bool,
    /// With --slurm: partition of the jobs.
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// With --slurm: time limit of each array task (Slurm syntax).
    #[arg(long, value_name = "HH:MM:SS", default_value = "01:00:00")]
    pub time: String,
    /// With --slurm: CPUs of each array task (the solve's threads).
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub cpus_per_task: u16,
    /// With --slurm: memory of each array task (e.g. 4G; `tufield check` prints the
    /// estimate of a solve).
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    /// With --slurm: at most this many array tasks at once.
    #[arg(long, value_name = "L")]
    pub array_limit: Option<usize>,
}

/// Runs `tufield sweep …`.
pub fn run(args: &SweepArgs, threads: Option<u16>, quiet: bool) -> AppResult<()> {
    match &args.action {
        Some(SweepAction::Run { dir, index }) => run_one(dir, *index, threads, quiet),
        Some(SweepAction::Gather { dir, plot }) => {
            gather::gather(dir, plot, quiet)?;
            Ok(())
        }
        None => define_and_run(&args.define, threads, quiet),
    }
}

/// Threads of one solve: --threads, else the allowed CPUs divided by the jobs.
fn threads_per_job(threads: Option<u16>, jobs: usize) -> usize {
    threads.map_or_else(
        || (crate::cpus::allowed_cpus() / jobs.max(1)).max(1),
        usize::from,
    )
}

/// `tufield sweep run DIR --index I`.
fn run_one(dir: &Path, index: usize, threads: Option<u16>, quiet: bool) -> AppResult<()> {
    let m = Manifest::load(dir)?;
    if index >= m.len() {
        return Err(AppError::invalid(
            dir.display().to_string(),
            "--index",
            format!(
                "{index} is out of range; the sweep has {} point(s), indices 0..={}",
                m.len(),
                m.len().saturating_sub(1)
            ),
        ));
    }
    let before = read_status(dir, index);
    if before.status == State::Done {
        if !quiet {
            println!("point {index} ({}): already done", m.describe(index));
        }
        return Ok(());
    }
    // A first SIGINT/SIGTERM (Slurm's time limit, preemption, requeue) no longer ends this
    // process at once: the solve writes its checkpoint and the status is recorded.
    interrupt::watch(Some(format!(
        "the point resumes from its checkpoint when run again: {}",
        point_dir(dir, index).display()
    )));
    let st = runner::run_point(dir, &m, index, threads_per_job(threads, 1));
    interrupt::unwatch(None);
    let st = st?;
    if !quiet {
        println!(
            "point {index} ({}): {}{}",
            m.describe(index),
            st.status.as_str(),
            if st.message.is_empty() {
                String::new()
            } else {
                format!(": {}", st.message)
            }
        );
    }
    match st.status {
        State::Done | State::Invalid => Ok(()),
        State::Interrupted => Err(runner::interrupted(
            dir,
            interrupt::received().unwrap_or(libc::SIGTERM),
        )),
        s => Err(AppError::Io {
            path: point_dir(dir, index).display().to_string(),
            message: format!(
                "point {index} {}{}: {}; see solve.log there",
                s.as_str(),
                st.exit_code
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default(),
                st.message
            ),
        }),
    }
}

/// The axes of the command line and of the sweep file, the zip flag and the fixed sets.
fn sweep_definition(a: &DefineArgs) -> AppResult<(Vec<Axis>, bool, Vec<String>)> {
    let mut axes = Vec::new();
    let mut set = Vec::new();
    let mut zip = a.zip;
    if let Some(f) = &a.sweep {
        let spec = axes::read_sweep_file(f)?;
        axes.extend(spec.axes);
        zip |= spec.zip;
        set.extend(spec.set);
    }
    for v in &a.vary {
        axes.push(Axis::parse(v)?);
    }
    set.extend(a.set.iter().cloned());
    if axes.is_empty() {
        return Err(AppError::invalid(
            "tufield sweep",
            "--vary",
            "no axis; give at least one --vary KEY=[v1,v2,...] or a --sweep FILE",
        ));
    }
    for (j, axis) in axes.iter().enumerate() {
        if axes[..j].iter().any(|b| b.key == axis.key) {
            return Err(AppError::invalid(
                format!("--vary {}", axis.key),
                &axis.key,
                "swept twice; give each key once",
            ));
        }
    }
    Ok((axes, zip, set))
}

/// The value at a dotted key path (1-based indices into arrays), if present.
fn lookup<'a>(table: &'a Table, key: &str) -> Option<&'a Value> {
    let mut parts = key.split('.');
    let mut v = table.get(parts.next()?)?;
    for p in parts {
        v = match v {
            Value::Table(t) => t.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?.checked_sub(1)?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Same TOML type, integers and floats counting as numbers.
fn same_kind(a: &Value, b: &Value) -> bool {
    let num = |v: &Value| matches!(v, Value::Integer(_) | Value::Float(_));
    (num(a) && num(b)) || a.type_str() == b.type_str()
}

/// Builds the manifest: checks every point (fatal errors first), records the invalid ones.
fn build_manifest(
    scenario_path: &Path,
    axes: &[Axis],
    zip: bool,
    set: &[String],
) -> AppResult<Manifest> {
    let source = scenario_path.display().to_string();
    let text = std::fs::read_to_string(scenario_path).map_err(|e| AppError::InvalidFile {
        source_name: source.clone(),
        message: format!("cannot read the scenario file: {e}"),
    })?;
    let fixed: Vec<Override> = set
        .iter()
        .map(|s| Override::parse(s))
        .collect::<AppResult<_>>()?;
    let base_text = scenario::overridden_text(&source, &text, &fixed)?;
    let base: Table = base_text.parse().unwrap_or_default();
    for axis in axes {
        if let Some(old) = lookup(&base, &axis.key) {
            if let Some(v) = axis.values.iter().find(|v| !same_kind(v, old)) {
                return Err(AppError::invalid(
                    format!("--vary {}", axis.key),
                    &axis.key,
                    format!(
                        "value {} is {} {}, but the scenario's value is {} {}",
                        axes::value_text(v),
                        article(v.type_str()),
                        v.type_str(),
                        article(old.type_str()),
                        old.type_str()
                    ),
                ));
            }
        }
    }
    let coords = axes::points(axes, zip)?;
    let stem = crate::outpath::scenario_stem(scenario_path);
    let base_dir = scenario_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut points = Vec::with_capacity(coords.len());
    for (index, c) in coords.into_iter().enumerate() {
        let own: Vec<String> = c.iter().zip(axes).map(|(&j, a)| a.set_text(j)).collect();
        let all: Vec<Override> = fixed
            .iter()
            .cloned()
            .chain(
                own.iter()
                    .map(|s| Override::parse(s))
                    .collect::<AppResult<Vec<_>>>()?,
            )
            .collect();
        let body = scenario::overridden_text(&source, &text, &all).map_err(|e| {
            AppError::invalid(
                format!("--vary ({})", own.join(", ")),
                error_key(&e),
                e.to_string(),
            )
        })?;
        let mut scenario_text = String::from("# scenario after command-line overrides:\n");
        for o in &all {
            scenario_text.push_str(&format!("#   --set {}\n", o.text));
        }
        scenario_text.push_str(&body);
        let invalid = Scenario::from_text_in(&source, &stem, &text, &all, base_dir)
            .err()
            .map(|e| e.to_string());
        points.push(Point {
            index,
            coords: c,
            overrides: own,
            invalid,
            scenario_text,
        });
    }
    let mut names: Vec<String> = Vec::new();
    let axis = axes
        .iter()
        .map(|a| {
            let mut name = identifier(&a.key);
            while names.contains(&name) {
                name.push('_');
            }
            names.push(name.clone());
            AxisEntry {
                key: a.key.clone(),
                name,
                values: a.values.clone(),
            }
        })
        .collect();
    let scenario = std::fs::canonicalize(scenario_path)
        .map_err(|e| AppError::io(scenario_path, "cannot resolve the scenario path", &e))?;
    Ok(Manifest {
        tufield_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario,
        set: set.to_vec(),
        zip,
        axis,
        point: points,
    })
}

fn error_key(e: &AppError) -> String {
    match e {
        AppError::Invalid { key, .. } => key.clone(),
        _ => "scenario".to_string(),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Creates the sweep directory with its manifest, or checks that an existing one holds
/// the same sweep (then finished points are kept).
fn prepare_dir(dir: &Path, m: &Manifest) -> AppResult<()> {
    let text = m.to_text()?;
    let path = dir.join(MANIFEST);
    if path.is_file() {
        let old = Manifest::load(dir)?;
        let same = Manifest {
            tufield_version: m.tufield_version.clone(),
            ..old
        } == *m;
        if !same {
            return Err(AppError::invalid(
                dir.display().to_string(),
                "--out",
                "the directory holds a different sweep (other scenario, axes or overrides); \
                 choose another --out or remove it",
            ));
        }
        return Ok(());
    }
    for i in 0..m.len() {
        let p = point_dir(dir, i);
        std::fs::create_dir_all(&p)
            .map_err(|e| AppError::io(&p, "cannot create the point directory", &e))?;
    }
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| AppError::io(&logs, "cannot create", &e))?;
    manifest::write_atomic(&path, &text)
}

/// `tufield sweep SCENARIO …`.
fn define_and_run(a: &DefineArgs, threads: Option<u16>, quiet: bool) -> AppResult<()> {
    let Some(scenario_path) = &a.scenario else {
        return Err(AppError::invalid(
            "tufield sweep",
            "SCENARIO",
            "missing scenario file",
        ));
    };
    let (axes, zip, set) = sweep_definition(a)?;
    let m = build_manifest(scenario_path, &axes, zip, &set)?;
    let sbatch = if a.submit {
        Some(slurm::find_sbatch()?)
    } else {
        None
    };
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| crate::outpath::default_output_in(scenario_path, "_sweep"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| AppError::io(&dir, "cannot create the sweep directory", &e))?;
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| AppError::io(&dir, "cannot resolve the sweep directory", &e))?;
    prepare_dir(&dir, &m)?;
    let invalid = m.point.iter().filter(|p| p.invalid.is_some()).count();
    if !quiet {
        println!(
            "{}: {} point(s) of {} over {}{}",
            dir.display(),
            m.len(),
            m.scenario.display(),
            m.axis
                .iter()
                .map(|x| format!("{} ({})", x.key, x.values.len()))
                .collect::<Vec<_>>()
                .join(if zip { " zipped with " } else { " × " }),
            if invalid > 0 {
                format!("; {invalid} invalid on their own")
            } else {
                String::new()
            }
        );
        for p in m.point.iter().filter(|p| p.invalid.is_some()) {
            println!(
                "  point {} ({}): invalid: {}",
                p.index,
                p.overrides.join(", "),
                p.invalid.as_deref().unwrap_or("")
            );
        }
    }
    if a.slurm {
        return write_slurm(&dir, &m, a, sbatch.as_deref(), quiet);
    }
    // Invalid points are recorded without running; done points are skipped; failed ones
    // only with --retry-failed.
    let mut todo = Vec::new();
    for i in 0..m.len() {
        let st = read_status(&dir, i);
        let run = match st.status {
            State::Done => false,
            State::Invalid => m.point[i].invalid.is_none(),
            State::Failed => a.retry_failed,
            State::Pending | State::Interrupted => true,
        };
        if m.point[i].invalid.is_some() {
            if st.status != State::Invalid {
                runner::run_point(&dir, &m, i, 1)?;
            }
        } else if run {
            todo.push(i);
        }
    }
    let jobs = usize::from(a.jobs).min(todo.len().max(1));
    let t = threads_per_job(threads, jobs);
    if !quiet {
        println!(
            "  running {} point(s): {jobs} at a time, {t} thread(s) each ({} skipped)",
            todo.len(),
            m.len() - todo.len() - invalid
        );
    }
    runner::run_local(&dir, &m, &todo, jobs, t, ProgressMode::detect(quiet))?;
    gather::gather(&dir, &default_plots(), quiet)?;
    let failed: Vec<usize> = (0..m.len())
        .filter(|&i| {
            matches!(
                read_status(&dir, i).status,
                State::Failed | State::Interrupted | State::Pending
            )
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(AppError::Io {
        path: dir.display().to_string(),
        message: format!(
            "{} of {} point(s) did not finish (points {:?}; messages in points/<i>/status.toml); \
             run the same command again to resume interrupted points, add --retry-failed \
             to re-run failed ones",
            failed.len(),
            m.len(),
            failed
        ),
    })
}

fn default_plots() -> Vec<String> {
    [
        "expected_cost",
        "final_mean",
        "lq_mean_distance",
        "iterations",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Writes (and with --submit submits) the Slurm scripts.
fn write_slurm(
    dir: &Path,
    m: &Manifest,
    a: &DefineArgs,
    sbatch: Option<&Path>,
    quiet: bool,
) -> AppResult<()> {
    let exe = runner::tufield_exe()?;
    let name = format!("tufield-{}", crate::outpath::scenario_stem(&m.scenario));
    let o = SlurmOptions {
        partition: a.partition.clone(),
        time: a.time.clone(),
        cpus_per_task: a.cpus_per_task,
        mem: a.mem.clone(),
        array_limit: a.array_limit,
    };
    let array = dir.join("sweep.sbatch");
    let gather = dir.join("gather.sbatch");
    manifest::write_atomic(&array, &slurm::array_script(dir, &exe, &name, m.len(), &o))?;
    manifest::write_atomic(&gather, &slurm::gather_script(dir, &exe, &name, &o))?;
    if !quiet {
        println!("  wrote {}\n  wrote {}", array.display(), gather.display());
    }
    let Some(sbatch) = sbatch else {
        if !quiet {
            println!(
                "  submit with: jid=$(sbatch --parsable {}) && sbatch --dependency=afterany:$jid {}",
                array.display(),
                gather.display()
            );
        }
        return Ok(());
    };
    let jid = slurm::submit(sbatch, &array, &[])?;
    let gid = slurm::submit(sbatch, &gather, &[format!("--dependency=afterany:{jid}")])?;
    println!("array job {jid}");
    println!("gather job {gid}");
    Ok(())
}
