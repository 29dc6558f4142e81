//! Time steppers of the HJI–FPK pair: the seam between the mean-field map
//! ([`crate::equilibrium::MeanFieldMap`]) and a discretisation (docs/design.md §4).
//!
//! A [`TimeStepper`] solves the HJI backward for a target path and the FPK forward as the
//! exact discrete adjoint of the HJI's linear step: if one HJI step from level n+1 to n is
//! v^n = S_n v^{n+1} + dt g^n, the FPK step from n to n+1 is m^{n+1} = S_nᵀ m^n.
//! Two schemes implement it:
//!
//! * [`SchemeKind::Monotone`]: the first-order monotone scheme of [`crate::sweep`]
//!   (semi-implicit, upwind, Lie splitting; non-negative density, any time step);
//! * [`SchemeKind::SecondOrder`]: Crank–Nicolson with the drift frozen at the half step,
//!   central differences where the cell Péclet number allows, approximate factorisation
//!   ([`second_order`]).
//!
//! The properties every scheme must have — adjointness ⟨S_n w, m⟩ = ⟨w, S_nᵀ m⟩ and mass
//! conservation to round-off, FPK steps equal to [`TimeStepper::apply_step_transpose`],
//! bit-identical results for any thread count — are tested once over this trait
//! (solvers/tests/scheme_properties.rs).

mod lines;
mod monotone;
mod pointwise;
pub mod second_order;

use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::model::Model;
use crate::sweep::{FpkSummary, HjiSolution, Sweeper, TimeStepping};
use ndarray::{ArrayView2, ArrayViewD};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use second_order::SecondOrder;

/// Where and how much a density went negative during one FPK sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct NegativeDensity {
    /// Most negative nodal density over all levels (< 0).
    pub min_value: f64,
    /// Time level where it occurred.
    pub level: usize,
    /// Coordinates of its node (length d).
    pub point: Vec<f64>,
    /// Largest negative mass Σ max(−m, 0)·cell over the levels.
    pub negative_mass: f64,
    /// Level of that largest negative mass.
    pub negative_mass_level: usize,
}

/// One discretisation of the HJI–FPK pair on a grid with uniform time levels.
pub trait TimeStepper: std::fmt::Debug + Send + Sync {
    /// The scheme's name (as in [`SchemeKind::name`]).
    fn name(&self) -> &'static str;

    /// The grid.
    fn grid(&self) -> &Grid;

    /// Time levels.
    fn time(&self) -> TimeStepping;

    /// Polls `flag` before every time step of the HJI and FPK sweeps: once it is set, the
    /// sweep in progress stops with [`SolverError::Interrupted`]. `None` never interrupts.
    fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>);

    /// Policy evaluation (as [`Sweeper::set_designer_policy`]): the designer's channels play
    /// the feedback of `policy`, the disturbance its best response; `None` restores the
    /// equilibrium sweeps.
    fn set_designer_policy(&mut self, policy: Option<HjiSolution>) -> Result<()>;

    /// Solves the HJI backward for the target path `rho` (shape (steps+1, d)) into `out`,
    /// reusing its storage. `population` only labels errors.
    fn solve_hji_into(
        &mut self,
        rho: ArrayView2<f64>,
        population: usize,
        out: &mut HjiSolution,
    ) -> Result<()>;

    /// Solves the FPK forward from `m0` with the drift of `hji` (the exact transpose of
    /// the HJI's linear steps), calling `observer(level, m^level)` at every level.
    fn solve_fpk(
        &mut self,
        hji: &HjiSolution,
        m0: ArrayViewD<f64>,
        population: usize,
        observer: &mut dyn FnMut(usize, ArrayViewD<'_, f64>),
    ) -> Result<FpkSummary>;

    /// Where the density of the latest FPK sweep went negative, if it did. A monotone
    /// scheme never does (its default: `None`).
    fn negative_density(&self) -> Option<NegativeDensity> {
        None
    }

    /// x ← S_n x: the linear part of the HJI step from level n+1 to n, with the drift that
    /// step takes from `hji` (flat field of the grid's size). `n < steps`.
    fn apply_step(&mut self, hji: &HjiSolution, n: usize, x: &mut [f64]) -> Result<()>;

    /// y ← S_nᵀ y: the FPK step from level n to n+1 with the drift of `hji`.
    fn apply_step_transpose(&mut self, hji: &HjiSolution, n: usize, y: &mut [f64]) -> Result<()>;
}

/// The schemes a solve can use (solver parameter `scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemeKind {
    /// First-order monotone scheme ([`crate::sweep`]), the default.
    #[default]
    Monotone,
    /// Second-order Crank–Nicolson scheme ([`second_order`]).
    SecondOrder,
}

impl SchemeKind {
    /// Every scheme, in the order their names are listed.
    pub const ALL: [SchemeKind; 2] = [SchemeKind::Monotone, SchemeKind::SecondOrder];

    /// The name used for the parameter (`"monotone"`, `"second-order"`).
    pub fn name(self) -> &'static str {
        match self {
            SchemeKind::Monotone => "monotone",
            SchemeKind::SecondOrder => "second-order",
        }
    }

    /// The scheme called `name`; the error names the parameter `scheme` and the allowed
    /// values.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let allowed: Vec<String> = Self::ALL
                    .iter()
                    .map(|k| format!("\"{}\"", k.name()))
                    .collect();
                SolverError::invalid(
                    Param::Scheme,
                    format!("unknown scheme {name:?}; allowed: {}", allowed.join(", ")),
                )
            })
    }

    /// Observed order of convergence in h and dt (what Richardson extrapolation assumes).
    pub fn order(self) -> u32 {
        match self {
            SchemeKind::Monotone => 1,
            SchemeKind::SecondOrder => 2,
        }
    }

    /// Builds this scheme for `model` on `grid` with `steps` time steps.
    pub fn build(self, model: &Model, grid: &Grid, steps: usize) -> Result<Box<dyn TimeStepper>> {
        Ok(match self {
            SchemeKind::Monotone => Box::new(Sweeper::new(model, grid, steps)?),
            SchemeKind::SecondOrder => Box::new(SecondOrder::new(model, grid, steps)?),
        })
    }
}
