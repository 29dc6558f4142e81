//! `tufield plot FILE.h5 [--out DIR] [--format png|svg] [--times T1,T2,...]`: figures of
//! a `solve`, `lq`, `simulate` or `compare` output file, drawn by
//! [`crate::plotting::files`] (which lists them).

use crate::cli::PlotArgs;
use crate::plotting::files::{plot_file, PlotOptions};
use crate::{AppError, AppResult};

/// Runs the command: reads `FILE`, writes the figures, prints their paths.
pub fn run(args: &PlotArgs, quiet: bool) -> AppResult<()> {
    let times = args.times.as_deref().unwrap_or(&[]);
    if times.len() > 6 || times.iter().any(|t| !t.is_finite()) {
        return Err(AppError::invalid(
            args.file.display().to_string(),
            "--times",
            "give at most 6 finite times, e.g. --times 0,0.5,1",
        ));
    }
    let options = PlotOptions {
        times: args.times.clone(),
        format: args.format,
    };
    let figures = plot_file(&args.file, args.out.as_deref(), &options)?;
    if !quiet {
        for f in &figures {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}
