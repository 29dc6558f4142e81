//! The monotone scheme of [`crate::sweep`] as a [`TimeStepper`]: every method delegates
//! to [`Sweeper`]'s own, so results are those of the sweeps bit for bit.

use super::second_order::check_level;
use super::TimeStepper;
use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::sweep::{FpkSummary, HjiSolution, Sweeper, TimeStepping};
use ndarray::{ArrayView2, ArrayViewD};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

impl Sweeper {
    /// v^{n+1} of `hji`: the level whose gradient drives the step from n+1 to n.
    fn drift_level<'h>(&self, hji: &'h HjiSolution, n: usize) -> Result<&'h [f64]> {
        if hji.values().dim() != (self.time().steps + 1, self.grid().len()) {
            return Err(SolverError::invalid(
                Param::Argument("hji"),
                "value function does not belong to this grid and time stepping",
            ));
        }
        check_level(n, self.time().steps)?;
        Ok(hji.level_slice(n + 1))
    }
}

impl TimeStepper for Sweeper {
    fn name(&self) -> &'static str {
        super::SchemeKind::Monotone.name()
    }

    fn grid(&self) -> &Grid {
        Sweeper::grid(self)
    }

    fn time(&self) -> TimeStepping {
        Sweeper::time(self)
    }

    fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>) {
        Sweeper::set_interrupt(self, flag)
    }

    fn set_designer_policy(&mut self, policy: Option<HjiSolution>) -> Result<()> {
        Sweeper::set_designer_policy(self, policy)
    }

    fn solve_hji_into(
        &mut self,
        rho: ArrayView2<f64>,
        population: usize,
        out: &mut HjiSolution,
    ) -> Result<()> {
        Sweeper::solve_hji_into(self, rho, population, out)
    }

    fn solve_fpk(
        &mut self,
        hji: &HjiSolution,
        m0: ArrayViewD<f64>,
        population: usize,
        observer: &mut dyn FnMut(usize, ArrayViewD<'_, f64>),
    ) -> Result<FpkSummary> {
        Sweeper::solve_fpk(self, hji, m0, population, observer)
    }

    fn apply_step(&mut self, hji: &HjiSolution, n: usize, x: &mut [f64]) -> Result<()> {
        let v = self.drift_level(hji, n)?;
        Sweeper::apply_step(self, v, x)
    }

    fn apply_step_transpose(&mut self, hji: &HjiSolution, n: usize, y: &mut [f64]) -> Result<()> {
        let v = self.drift_level(hji, n)?;
        Sweeper::apply_step_transpose(self, v, y)
    }
}
