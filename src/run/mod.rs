//! The run layer: scenario → grid and model → fixed point with observers → report and
//! output file. Commands call it; no command reaches into another command for a solve.
//!
//! * [`grid_for`]: the grid of a projected scenario;
//! * [`solve`]: the equilibrium of a scenario written to a file (projected or modal,
//!   [`SolveReport`]), resumable from a [`Resume`]; [`solve_with`] takes the stop token
//!   ([`crate::interrupt::StopSource`]) and further observers;
//! * `driver`: the one fixed-point driver of both solves — a map run to its fixed point
//!   with progress, observers and the stop token (once per projected solve, once per mode
//!   of a modal one);
//! * [`estimate`]: the solve's error estimate (the equilibrium again on the coarsened grid,
//!   Richardson's rule);
//! * [`warnings`]: the resolution warnings printed before a silent error (`check`, `solve`);
//! * [`compare`]: the policies of `tufield compare` evaluated in the full model;
//! * [`simulate`]: the particle run (policy, system, mean-field references, the copies);
//!   [`study`] and [`epsilon_nash`]: its N-study and ε-Nash study;
//! * [`observe`]: observers of the fixed point (checkpoints, progress, logs) and their
//!   schedules.

pub mod compare;
mod driver;
pub mod epsilon_nash;
pub mod estimate;
mod grid;
pub(crate) mod modal;
pub mod observe;
pub mod simulate;
pub(crate) mod solve;
pub mod study;
pub mod warnings;

pub use grid::grid_for;
pub use modal::solve_modal_keeping_modes;
pub use solve::{resume_command, solve, solve_with, Resume, SolveReport};
