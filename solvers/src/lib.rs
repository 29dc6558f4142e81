//! Numerics of tufield: mean-field equilibria of coalitional (TU) games.
//!
//! No file, terminal or HDF5 I/O lives here; the application crate does that.
//! Equation numbers refer to Bauso & Başar (2016); see docs/design.md for corrections.

pub mod coop;
pub mod diagnostics;
pub mod domain;
pub mod equilibrium;
pub mod error;
pub mod fixed_point;
pub mod game;
pub mod graph;
pub mod grid;
pub mod hamiltonian;
pub mod initial_law;
pub mod linalg;
pub mod lq;
pub mod modal;
pub mod model;
pub mod particles;
pub(crate) mod physics;
pub mod policy_eval;
pub mod resolution;
pub mod richardson;
pub mod scheme;
pub mod sweep;

pub use error::{Param, Result, SolverError};
