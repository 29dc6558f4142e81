//! tufield application library: scenario files, `--set` overrides, HDF5 output and the
//! commands of the `tufield` binary. The numerics live in `tufield-solvers`.
//!
//! Exit codes and error messages: see [`error`].

pub mod budget;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod cpus;
pub mod error;
pub mod h5;
pub mod initial;
pub mod interrupt;
pub mod limits;
pub mod oracle;
pub mod outpath;
pub mod output;
pub mod overrides;
pub mod paper;
pub mod plotting;
pub mod progress;
pub mod reduction;
pub mod report;
pub mod run;
pub mod scenario;
pub mod settings;

pub use error::{AppError, AppResult};
pub use scenario::Scenario;
