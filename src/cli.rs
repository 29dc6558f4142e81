//! Command-line interface of the `tufield` binary (clap derive).

use crate::overrides::Override;
use crate::AppResult;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Mean-field equilibria of coalitional (TU) games (Bauso & Başar 2016).
#[derive(Debug, Parser)]
#[command(name = "tufield", version, about, long_about = None)]
pub struct Cli {
    /// Number of worker threads for the parallel numerics (default: one per core).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Commands still to come (`solve`, `simulate`, `compare`, `plot`) get a
/// variant here and a module in `commands/` when their numerics exist.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a scenario; print the reduced A, its eigenvalues and the margin in (17).
    Check(ScenarioArgs),
    /// Exact linear-quadratic (Riccati) equilibrium and the paper's heuristics → HDF5.
    Lq(LqArgs),
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
