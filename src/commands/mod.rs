//! The subcommands of `tufield`. Each module has a `run` taking its parsed arguments and
//! returning an [`AppResult`]; printing goes to stdout unless `quiet`.

pub mod check;
pub mod compare;
pub mod lq;
pub mod paper;
pub mod plot;
pub mod simulate;
pub mod solve;
pub mod sweep;

use crate::cli::{Cli, Command};
use crate::AppResult;

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> AppResult<()> {
    crate::budget::set_force(cli.force_memory);
    match &cli.command {
        Command::Check(args) => check::run(args, cli.quiet),
        Command::Lq(args) => lq::run(args, cli.quiet),
        Command::Solve(args) => solve::run(args, cli.quiet),
        Command::Plot(args) => plot::run(args, cli.quiet),
        Command::Simulate(args) => simulate::run(args, cli.quiet),
        Command::Compare(args) => compare::run(args, cli.quiet),
        Command::Paper(args) => paper::run(args, cli.quiet),
        Command::Sweep(args) => sweep::run(args, cli.threads, cli.quiet),
    }
}
