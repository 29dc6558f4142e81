//! Command-line interface of the `tufield` binary (clap derive).
//!
//! The doc comments of the arguments are the `--help` text, written for a terminal
//! (`<stem>`, `[[1,0],[0,2]]`), not for rustdoc.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

use crate::overrides::Override;
use crate::AppResult;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Mean-field equilibria of coalitional (TU) games (Bauso & Başar 2016).
#[derive(Debug, Parser)]
#[command(name = "tufield", version, about, long_about = None)]
pub struct Cli {
    /// Number of worker threads for the parallel numerics (default: the CPUs this process
    /// may use: affinity mask, cgroup quota, SLURM_CPUS_PER_TASK).
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true, value_parser = thread_count)]
    pub threads: Option<u16>,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Run even when the job's estimated memory exceeds what the machine has available
    /// (by default such a job is refused before it starts, exit 2).
    #[arg(long, global = true)]
    pub force_memory: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a scenario; print the reduced A, its eigenvalues and the margin in (17).
    Check(ScenarioArgs),
    /// Exact linear-quadratic (Riccati) equilibrium and the paper's heuristics → HDF5.
    Lq(LqArgs),
    /// Mean-field equilibrium by the HJI–FPK fixed point → HDF5 (checkpointed, resumable).
    Solve(SolveArgs),
    /// Figures (PNG or SVG) of a solve, lq, simulate or compare output file: means,
    /// residuals, in-core fractions, densities, the copies' trajectories.
    Plot(PlotArgs),
    /// Finite-N game: N copies per population by Euler–Maruyama vs the mean field → HDF5.
    Simulate(SimulateArgs),
    /// Full PDE vs exact LQ vs the paper's heuristic: means, drifts and each policy's
    /// robust cost in the full model → Markdown report with figures + HDF5.
    Compare(CompareArgs),
    /// The paper's Section 8 regenerated: Figures 5–9 with captions, each claim next to
    /// the measured result, Tables 2 and 5, and the corrections tufield makes → a
    /// directory with report.md, figures and simulate files.
    Paper(PaperArgs),
    /// Parameter sweep: points run locally (--jobs) or as a Slurm job array (--slurm),
    /// gathered into a netCDF-4/CF summary, a CSV table and figures.
    Sweep(crate::commands::sweep::SweepArgs),
}

/// Arguments of `tufield compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Scenario and overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Output directory (default: output/<scenario file stem>_compare/; created).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// A scenario file and its overrides.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML, see docs/scenario-format.md).
    pub scenario: PathBuf,
    /// Override a scenario value, e.g. --set solver.points=401 --set cost.q=[[1,0],[0,2]]
    /// (repeatable; arrays of tables are indexed 1-based: population.2.mean=[0.5]).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ScenarioArgs {
    /// Parses the `--set` overrides.
    pub fn overrides(&self) -> AppResult<Vec<Override>> {
        self.set.iter().map(|s| Override::parse(s)).collect()
    }
}

/// Arguments of `tufield lq`.
#[derive(Debug, Args)]
pub struct LqArgs {
    /// Scenario and overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Output file (default: output/<scenario file stem>_lq.h5; output/ is created).
    #[arg(long, value_name = "FILE.h5")]
    pub out: Option<PathBuf>,
}

/// The scenario and overrides of `tufield solve`: the scenario may be left out with
/// `--resume` (the checkpoint holds it).
#[derive(Debug, Args)]
pub struct SolveScenarioArgs {
    /// Scenario file (TOML, see docs/scenario-format.md). Optional with --resume: the
    /// checkpoint holds the scenario, its overrides and the output path.
    #[arg(required_unless_present = "resume")]
    pub scenario: Option<PathBuf>,
    /// Override a scenario value, e.g. --set solver.points=401 --set cost.q=[[1,0],[0,2]]
    /// (repeatable; arrays of tables are indexed 1-based: population.2.mean=[0.5]). With
    /// --resume alone they apply on top of the checkpoint's scenario.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl SolveScenarioArgs {
    /// Parses the `--set` overrides.
    pub fn overrides(&self) -> AppResult<Vec<Override>> {
        self.set.iter().map(|s| Override::parse(s)).collect()
    }
}

/// Arguments of `tufield solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    /// Scenario and overrides.
    #[command(flatten)]
    pub scenario: SolveScenarioArgs,
    /// Output file (default: output/<scenario file stem>.h5; output/ is created). The
    /// checkpoint <stem>.checkpoint.h5 is kept next to it until the run converges.
    #[arg(long, value_name = "FILE.h5")]
    pub out: Option<PathBuf>,
    /// Continue from a checkpoint (<stem>.checkpoint.h5) of an interrupted or killed run:
    /// `tufield solve --resume CHECKPOINT.h5` alone continues the same run (scenario,
    /// overrides and output path come from the checkpoint); a scenario given too must be
    /// the same model, grid and steps (tol and max_iter may change).
    #[arg(long, value_name = "CHECKPOINT.h5")]
    pub resume: Option<PathBuf>,
}

/// Arguments of `tufield plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// An output file of `tufield solve` (means, residual, in-core fractions, densities),
    /// `tufield lq` (exact means with the paper's heuristics), `tufield simulate` (the
    /// copies' means and trajectories) or `tufield compare` (the policies' means).
    pub file: PathBuf,
    /// Directory for the figures (default: the file's directory; created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// File format: png (anti-aliased, 1200×800), svg (vector graphics) or pdf (vector
    /// graphics with the font embedded, for publication).
    #[arg(long, value_enum, default_value_t = crate::plotting::Format::Png)]
    pub format: crate::plotting::Format,
    /// Times of the density panels of a solve file (comma-separated, at most 6; the
    /// nearest stored snapshot is drawn). Default: first, middle and last snapshot.
    /// Refused for lq, simulate and compare files (they have no densities to choose).
    #[arg(long, value_name = "T1,T2,...", value_delimiter = ',')]
    pub times: Option<Vec<f64>>,
}

/// Arguments of `tufield paper`.
#[derive(Debug, Args)]
pub struct PaperArgs {
    /// Output directory (default: output/paper/). Written as a temporary directory next to
    /// it and renamed when complete; an existing DIR is replaced only if it holds a
    /// previous report.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Directory of the scenarios; every file with a [paper] table is run.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Reduced size: 10 copies per population and 3 stored paths (the verdicts do not
    /// change, the measured numbers are noisier).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the random streams.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// File format of the figures: png, svg or pdf.
    #[arg(long, value_enum, default_value_t = crate::plotting::Format::Png)]
    pub format: crate::plotting::Format,
}

/// Arguments of `tufield simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario and overrides.
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Copies per population (1 to 10⁸).
    #[arg(long, value_name = "N", default_value_t = 10_000, allow_negative_numbers = true, value_parser = count)]
    pub copies: usize,
    /// Seed of the random streams (results are identical for any --threads).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Drift of the copies: `lq` (exact LQ feedback), `least-squares` (the paper's
    /// Section 8 control, full coalition space), `internal-model` / `second-order` (the
    /// paper's Section 8.1 / 8.2 heuristics) or a `tufield solve` output FILE.h5.
    #[arg(
        long,
        value_name = "lq|least-squares|internal-model|second-order|FILE.h5",
        default_value = "lq"
    )]
    pub policy: String,
    /// Also run these copy counts (comma-separated, 4 seeds each) and fit how the mean
    /// deviation and the cost gap fall with N.
    #[arg(long, value_name = "N1,N2,...")]
    pub study: Option<String>,
    /// ε-Nash study for these copy counts (comma-separated, each ≥ 2): what one copy of
    /// each population gains by best-responding while the others keep the policy (lq or
    /// second-order); writes /epsilon_nash and a figure <out stem>_epsilon_nash.png.
    #[arg(long = "epsilon-nash", value_name = "N1,N2,...")]
    pub epsilon_nash: Option<String>,
    /// Number of copies per population whose whole path is stored (default 10).
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = count)]
    pub trajectories: Option<usize>,
    /// Output file (default: output/<scenario file stem>_simulate.h5; output/ is created).
    #[arg(long, value_name = "FILE.h5")]
    pub out: Option<PathBuf>,
}

/// A count option: a whole number ≥ 0, with a message about the option for anything else
/// (negative numbers reach this parser instead of being taken for options).
fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(n) if n < 0 => Err(format!("must be a positive whole number, got {n}")),
        Ok(n) => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        Err(_) => Err(format!("must be a positive whole number, got {s:?}")),
    }
}

/// `--threads`: 1 to 65535.
fn thread_count(s: &str) -> Result<u16, String> {
    let n = count(s)?;
    match u16::try_from(n) {
        Ok(t) if t >= 1 => Ok(t),
        _ => Err(format!("must be between 1 and {}, got {n}", u16::MAX)),
    }
}
