//! The `tufield` binary: parses the command line, runs a command, maps errors to exit
//! codes (0 success, 1 other, 2 invalid input, 3 numerical failure, 130 / 143 stopped by
//! SIGINT / SIGTERM; clap's own usage errors exit 2).

use clap::Parser;
use std::process::ExitCode;
use tufield::cli::Cli;
use tufield::error::{AppError, EXIT_OTHER};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = match err.downcast_ref::<AppError>() {
                Some(app) => {
                    eprintln!("error: {app}");
                    app.exit_code()
                }
                None => {
                    eprintln!("error: {err:#}");
                    EXIT_OTHER
                }
            };
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    // SIGINT / SIGTERM: see tufield::interrupt (exit code 128 + signal number).
    tufield::interrupt::install();
    // Default: the CPUs the process may use (affinity, cgroup quota, SLURM_CPUS_PER_TASK).
    let n = cli
        .threads
        .map_or_else(tufield::cpus::default_threads, usize::from);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot start {n} worker threads: {e}"))?;
    tufield::commands::run(cli)?;
    Ok(())
}
