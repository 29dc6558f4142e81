//! `tufield paper [--out DIR] [--scenarios DIR] [--quick] [--format png|svg]`: the
//! paper's Section 8 regenerated and checked claim by claim.
//!
//! Every scenario in `--scenarios` (default `scenarios/`) with a `[paper]` table is run
//! as `tufield simulate --policy <paper.policy>` would run it (the library's simulate
//! path), and, when the table lists `restore` overrides, once more with them. Into DIR
//! (default `output/paper/`) go
//!
//! * `report.md` — each claim of the paper next to the measured result, the verdict and
//!   the restored run; the parameters of Tables 2 and 5 as the paper prints them and as
//!   tufield uses them; the corrections tufield makes to the paper, each with its reason;
//! * `figure_<n>.<png|svg>` (and `figure_<n>_restored`) — the copies' trajectories with
//!   the heuristic's macroscopic mean, captioned like the paper's figure;
//! * `figure_<n>.h5` (and `figure_<n>_restored.h5`) — the simulate files, whose root
//!   attributes `paper_check`, `paper_findings`, … hold the same verdicts.
//!
//! `--quick` runs 10 copies per population and keeps 3 paths (the checks are computed
//! from the scenario's parameters and do not change; the measured numbers are noisier).
//!
//! DIR is written as a temporary directory next to it and renamed at the end: a failure
//! or an interruption (SIGINT, SIGTERM) leaves nothing half written. An existing DIR is replaced only if it holds a previous
//! report (or nothing).

mod report;

use crate::cli::PaperArgs;
use crate::output::simulate::write as simulate_file;
use crate::overrides::Override;
use crate::paper::claims;
use crate::plotting::trajectories::trajectories_of;
use crate::progress::ProgressMode;
use crate::run::simulate::{prepare, run_copies, HeuristicMeans, PolicyChoice};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::particles::{Deposit, HistogramSpec, SimulationOptions};

/// Copies per population of a full run (the paper's n = 10²).
pub const COPIES: usize = 100;
/// Copies per population with `--quick`.
pub const QUICK_COPIES: usize = 10;
/// The report's file name.
pub const REPORT: &str = "report.md";

/// One run of a figure's scenario (as shipped, or with the restoring overrides).
pub struct FigureRun {
    /// The scenario as run.
    pub scenario: Scenario,
    /// The overrides applied on top of the file.
    pub overrides: Vec<String>,
    /// The assessment of the run.
    pub assessment: claims::Assessment,
    /// The simulate file (name in DIR).
    pub file: String,
    /// The figure (name in DIR).
    pub figure: String,
    /// Spectral radius of (43) (second-order policy).
    pub spectral_radius: Option<f64>,
}

/// A figure of the paper: the shipped run and, if the table restores it, the restored one.
pub struct Figure {
    /// Scenario file.
    pub path: PathBuf,
    /// Run as shipped.
    pub shipped: FigureRun,
    /// Run with `[paper] restore`.
    pub restored: Option<FigureRun>,
}

/// Runs the command.
pub fn run(args: &PaperArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("output/paper"));
    let scenarios = find_scenarios(&args.scenarios)?;
    let tmp = temporary_dir(&out)?;
    let result = (|| {
        let mode = ProgressMode::detect(quiet);
        let copies = if args.quick { QUICK_COPIES } else { COPIES };
        let mut figures = Vec::new();
        for path in &scenarios {
            figures.push(run_figure(path, &tmp, copies, args, mode)?);
        }
        figures.sort_by_key(|f| f.shipped.assessment.paper.figure);
        let text = report::markdown(&figures, copies, args);
        let dest = tmp.join(REPORT);
        std::fs::write(&dest, text)
            .map_err(|e| AppError::io(&dest, "cannot write the report", &e))?;
        Ok(figures)
    })();
    let moved = result.and_then(|figures| move_into_place(&tmp, &out).map(|()| figures));
    let figures = match moved {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            crate::interrupt::forget_temp(&tmp);
            return Err(e);
        }
    };
    crate::interrupt::forget_temp(&tmp);
    if !quiet {
        for f in &figures {
            let a = &f.shipped.assessment;
            println!(
                "Figure {} ({}): {}{}",
                a.paper.figure,
                f.path.display(),
                a.status(),
                match &f.restored {
                    Some(r) => format!(
                        "; with {}: {}",
                        report::set_options(&r.overrides),
                        r.assessment.status()
                    ),
                    None => String::new(),
                }
            );
        }
        println!(
            "wrote {} ({:.1} s wall)",
            out.join(REPORT).display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The scenario files in `dir` with a `[paper]` table, sorted by name.
fn find_scenarios(dir: &Path) -> AppResult<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        AppError::invalid(
            dir.display().to_string(),
            "--scenarios",
            format!("cannot read the directory: {e}"),
        )
    })?;
    let mut found = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        if text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("paper"))
        {
            found.push(p);
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(AppError::invalid(
            dir.display().to_string(),
            "--scenarios",
            "no scenario file in this directory has a [paper] table",
        ));
    }
    Ok(found)
}

/// Creates the temporary directory `<parent>/.<name>.tmp-<pid>` next to `out`, registered
/// with [`crate::interrupt::register_temp`] so that SIGINT/SIGTERM remove it (an I/O
/// error, exit 1, when it cannot be created); refuses an `out` that is a file or a
/// directory holding something other than a previous report (exit 2).
fn temporary_dir(out: &Path) -> AppResult<PathBuf> {
    if out.exists() {
        let previous = out.is_dir()
            && std::fs::read_dir(out)
                .is_ok_and(|mut d| d.next().is_none() || out.join(REPORT).is_file());
        if !previous {
            return Err(AppError::invalid(
                out.display().to_string(),
                "--out",
                "exists and is not a directory written by `tufield paper`; choose another \
                 --out or remove it",
            ));
        }
    }
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "paper".to_string());
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent)
        .map_err(|e| AppError::io(out, "cannot create the output's parent directory", &e))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    // Registered first: a signal from now on removes the directory (and what is in it).
    crate::interrupt::register_temp(&tmp);
    std::fs::create_dir(&tmp).map_err(|e| {
        crate::interrupt::forget_temp(&tmp);
        AppError::io(out, "cannot create the output directory", &e)
    })?;
    Ok(tmp)
}

/// Renames the finished `tmp` to `out`, replacing a previous report.
fn move_into_place(tmp: &Path, out: &Path) -> AppResult<()> {
    if out.exists() {
        let old = tmp.with_extension("old");
        std::fs::rename(out, &old)
            .map_err(|e| AppError::io(out, "cannot move the previous report aside", &e))?;
        std::fs::rename(tmp, out).map_err(|e| {
            let _ = std::fs::rename(&old, out);
            AppError::io(out, "cannot move the report into place", &e)
        })?;
        let _ = std::fs::remove_dir_all(&old);
        return Ok(());
    }
    std::fs::rename(tmp, out)
        .map_err(|e| AppError::io(out, "cannot move the report into place", &e))
}

/// Runs the shipped and (if any) the restored scenario of one figure into `dir`.
fn run_figure(
    path: &Path,
    dir: &Path,
    copies: usize,
    args: &PaperArgs,
    mode: ProgressMode,
) -> AppResult<Figure> {
    let shipped = run_once(path, &[], dir, copies, args, mode, "")?;
    let restore = shipped.assessment.paper.restore.clone();
    let restored = if restore.is_empty() {
        None
    } else {
        Some(run_once(
            path,
            &restore,
            dir,
            copies,
            args,
            mode,
            "_restored",
        )?)
    };
    Ok(Figure {
        path: path.to_path_buf(),
        shipped,
        restored,
    })
}

fn run_once(
    path: &Path,
    overrides: &[String],
    dir: &Path,
    copies: usize,
    args: &PaperArgs,
    mode: ProgressMode,
    suffix: &str,
) -> AppResult<FigureRun> {
    let parsed = overrides
        .iter()
        .map(|o| Override::parse(o))
        .collect::<AppResult<Vec<_>>>()?;
    let sc = Scenario::load(path, &parsed)?;
    let paper = sc.paper.clone().ok_or_else(|| {
        AppError::invalid(
            &sc.source_name,
            "paper",
            "the scenario has no [paper] table",
        )
    })?;
    let choice = PolicyChoice::parse(&paper.policy);
    let prep = prepare(&sc, &choice)?;
    let options = SimulationOptions {
        copies,
        seed: args.seed,
        trajectories: if args.quick { 3 } else { 10 }.min(copies),
        histogram: Some(HistogramSpec {
            grid: prep.grid.clone(),
            levels: prep.snapshot_levels.clone(),
            deposit: Deposit::CloudInCell,
            axes: Some(prep.hist_axes.clone()),
        }),
    };
    let sim = run_copies(
        &sc,
        &prep,
        &options,
        mode,
        format!("Figure {}{suffix}", paper.figure),
    )?;
    let stem = format!("figure_{}{suffix}", paper.figure);
    let file = dir.join(format!("{stem}.h5"));
    let assessment = simulate_file(
        &file,
        &sc,
        &choice,
        &prep,
        &sim,
        args.seed,
        None,
        (None, None),
    )?
    .ok_or_else(|| AppError::invalid(&sc.source_name, "paper", "no [paper] table"))?;
    let caption = report::caption(&assessment, overrides);
    let figure = trajectories_of(&file, dir, &stem, args.format, &caption)?;
    let spectral_radius = match &prep.heuristic {
        Some(HeuristicMeans::SecondOrder {
            spectral_radius, ..
        }) => Some(*spectral_radius),
        _ => None,
    };
    Ok(FigureRun {
        scenario: sc,
        overrides: overrides.to_vec(),
        assessment,
        file: name_of(&file),
        figure: name_of(&figure),
        spectral_radius,
    })
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
