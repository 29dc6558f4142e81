//! The mean-field map G of the fixed point (docs/design.md §1 and §4).
//!
//! For stacked mean trajectories x = (m̄_1, …, m̄_p) (each (steps+1) × d), one evaluation
//! of G does, for every population k in order:
//!
//! 1. target path ρ_k(t_n) = Σ_j W_kj m̄_j(t_n) (W the graph's averaging matrix; for a
//!    single population ρ = m̄), eqs. (26)-(30);
//! 2. HJI backward against ρ_k ([`TimeStepper::solve_hji_into`]);
//! 3. FPK forward from m_k(·, 0) with the optimal drift ([`TimeStepper::solve_fpk`]);
//! 4. the new mean path of m_k.
//!
//! The equilibrium is a fixed point x = G(x), found by [`crate::fixed_point`]. The results
//! of the latest evaluation (moments over time, snapshots of density and value) are kept
//! so that, at convergence, they describe the equilibrium.
//!
//! The discretisation is a [`TimeStepper`] chosen by [`SchemeKind`] (the monotone scheme
//! by default, docs/design.md §4).
//!
//! Layout of x: index `(k·(steps+1) + n)·d + i` for population k, level n, axis i.

use crate::error::{Param, Result, SolverError};
use crate::grid::Grid;
use crate::model::Model;
use crate::scheme::{NegativeDensity, SchemeKind, TimeStepper};
use crate::sweep::{FpkSummary, HjiSolution};
use ndarray::{Array2, ArrayD, ArrayView2};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What one population's latest HJI–FPK pass produced.
#[derive(Debug, Clone)]
pub struct PopulationResult {
    /// Moments, mass and boundary mass of m_k at every level.
    pub fpk: FpkSummary,
    /// m_k at the snapshot levels (grid-shaped).
    pub density: Vec<ArrayD<f64>>,
    /// v_k at the snapshot levels (grid-shaped).
    pub value: Vec<ArrayD<f64>>,
    /// Target path ρ_k used, (steps+1) × d.
    pub target: Array2<f64>,
    /// Where m_k went negative, if it did (never with the monotone scheme).
    pub negative_density: Option<NegativeDensity>,
}

/// Progress events emitted during one evaluation of G (for progress bars; the numerics
/// never print).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepEvent {
    /// The HJI of population k is done.
    HjiDone(usize),
    /// The FPK of population k is done.
    FpkDone(usize),
}

/// The mean-field map on a grid: owns the time stepper, initial densities and latest
/// results.
#[derive(Debug)]
pub struct MeanFieldMap {
    model: Model,
    scheme: SchemeKind,
    sweeper: Box<dyn TimeStepper>,
    weights: Array2<f64>,
    initial: Vec<ArrayD<f64>>,
    snapshot_levels: Vec<usize>,
    hji: HjiSolution,
    results: Vec<PopulationResult>,
}

/// Snapshot levels 0, every, 2·every, … and the last level `steps` (sorted, unique).
pub fn snapshot_levels(steps: usize, every: usize) -> Vec<usize> {
    let every = every.max(1);
    let mut levels: Vec<usize> = (0..=steps).step_by(every).collect();
    if levels.last() != Some(&steps) {
        levels.push(steps);
    }
    levels
}

impl MeanFieldMap {
    /// Builds the map for `model` on `grid` with `steps` time steps; initial densities are
    /// the populations' Gaussians discretised on the grid and normalised to mass 1.
    pub fn new(
        model: &Model,
        grid: &Grid,
        steps: usize,
        snapshot_levels: Vec<usize>,
    ) -> Result<Self> {
        if grid.dim() != model.dim() {
            return Err(SolverError::invalid(
                Param::Points,
                format!(
                    "grid has {} axes but the model has {}",
                    grid.dim(),
                    model.dim()
                ),
            ));
        }
        let initial = model
            .populations
            .iter()
            .map(|p| grid.gaussian(p.mean.view(), p.cov.view()))
            .collect::<Result<Vec<_>>>()?;
        Self::with_initial(model, grid, steps, snapshot_levels, initial)
    }

    /// As [`MeanFieldMap::new`] with given initial densities (grid-shaped, ≥ 0, mass 1).
    pub fn with_initial(
        model: &Model,
        grid: &Grid,
        steps: usize,
        snapshot_levels: Vec<usize>,
        initial: Vec<ArrayD<f64>>,
    ) -> Result<Self> {
        Self::with_scheme(
            model,
            grid,
            steps,
            snapshot_levels,
            initial,
            SchemeKind::default(),
        )
    }

    /// As [`MeanFieldMap::with_initial`], discretised by `scheme`.
    pub fn with_scheme(
        model: &Model,
        grid: &Grid,
        steps: usize,
        snapshot_levels: Vec<usize>,
        initial: Vec<ArrayD<f64>>,
        scheme: SchemeKind,
    ) -> Result<Self> {
        let sweeper = scheme.build(model, grid, steps)?;
        if initial.len() != model.num_populations() {
            return Err(SolverError::invalid(
                Param::Populations,
                "one initial density per population is required",
            ));
        }
        if let Some(&bad) = snapshot_levels.iter().find(|&&l| l > steps) {
            return Err(SolverError::invalid(
                Param::SnapshotEvery,
                format!("snapshot level {bad} exceeds steps = {steps}"),
            ));
        }
        Ok(MeanFieldMap {
            model: model.clone(),
            scheme,
            sweeper,
            weights: model.graph.averaging_matrix(),
            initial,
            snapshot_levels,
            hji: HjiSolution::empty(),
            results: Vec::new(),
        })
    }

    /// Polls `flag` before every time step of every sweep ([`TimeStepper::set_interrupt`]): an
    /// evaluation interrupted this way returns [`SolverError::Interrupted`] and leaves the
    /// results of the previous evaluation in place.
    pub fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.sweeper.set_interrupt(flag);
    }

    /// The scheme that discretises the HJI–FPK pair.
    pub fn scheme(&self) -> SchemeKind {
        self.scheme
    }

    /// Number of time steps.
    pub fn steps(&self) -> usize {
        self.sweeper.time().steps
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        self.sweeper.grid()
    }

    /// Levels at which density and value snapshots are kept.
    pub fn snapshot_levels(&self) -> &[usize] {
        &self.snapshot_levels
    }

    /// Number of populations p (two sweeps, HJI and FPK, per population and evaluation).
    pub fn num_populations(&self) -> usize {
        self.model.num_populations()
    }

    /// Length of the unknown x: p × (steps+1) × d.
    pub fn len(&self) -> usize {
        self.model.num_populations() * (self.steps() + 1) * self.model.dim()
    }

    /// Always false (a model has at least one population and one axis).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Default starting point: every population's mean held at m̄_k(0) for all times.
    pub fn initial_guess(&self) -> Vec<f64> {
        let levels = self.steps() + 1;
        let mut x = Vec::with_capacity(self.len());
        for pop in &self.model.populations {
            for _ in 0..levels {
                x.extend(pop.mean.iter());
            }
        }
        x
    }

    /// Residual scale of each component of x: the domain width of its axis.
    pub fn scale(&self) -> Vec<f64> {
        let d = self.model.dim();
        let widths: Vec<f64> = self.grid().axes().iter().map(|a| a.hi() - a.lo()).collect();
        (0..self.len()).map(|idx| widths[idx % d]).collect()
    }

    /// View of population k's mean path in x, (steps+1) × d.
    pub fn mean_path<'a>(&self, x: &'a [f64], k: usize) -> ArrayView2<'a, f64> {
        let d = self.model.dim();
        let levels = self.steps() + 1;
        ArrayView2::from_shape((levels, d), &x[k * levels * d..(k + 1) * levels * d])
            .expect("x has the map's length")
    }

    /// Evaluates G(x): the new mean paths after one HJI–FPK pass per population.
    /// `on_event` is called after each sweep.
    pub fn evaluate(
        &mut self,
        x: &[f64],
        on_event: &mut dyn FnMut(SweepEvent),
    ) -> Result<Vec<f64>> {
        if x.len() != self.len() {
            return Err(SolverError::invalid(
                Param::FixedPointState,
                format!("expected {} numbers, got {}", self.len(), x.len()),
            ));
        }
        let p = self.model.num_populations();
        let d = self.model.dim();
        let levels = self.steps() + 1;
        let mut out = Vec::with_capacity(x.len());
        let mut results = Vec::with_capacity(p);
        for k in 0..p {
            let mut target = Array2::<f64>::zeros((levels, d));
            for j in 0..p {
                let w = self.weights[[k, j]];
                if w != 0.0 {
                    target.scaled_add(w, &self.mean_path(x, j));
                }
            }
            if target.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::NonFinite {
                    stage: "target",
                    level: 0,
                    population: k,
                });
            }
            self.sweeper
                .solve_hji_into(target.view(), k, &mut self.hji)?;
            on_event(SweepEvent::HjiDone(k));
            let value = self
                .snapshot_levels
                .iter()
                .map(|&l| self.hji.value(l).to_owned())
                .collect();
            let mut density = Vec::with_capacity(self.snapshot_levels.len());
            let snaps = &self.snapshot_levels;
            let fpk =
                self.sweeper
                    .solve_fpk(&self.hji, self.initial[k].view(), k, &mut |level, m| {
                        if snaps.binary_search(&level).is_ok() {
                            density.push(m.to_owned());
                        }
                    })?;
            on_event(SweepEvent::FpkDone(k));
            out.extend(fpk.mean.iter());
            results.push(PopulationResult {
                fpk,
                density,
                value,
                target,
                negative_density: self.sweeper.negative_density(),
            });
        }
        self.results = results;
        Ok(out)
    }

    /// Results of the latest evaluation (empty before the first).
    pub fn results(&self) -> &[PopulationResult] {
        &self.results
    }

    /// Largest |mass − 1| over populations and levels in the latest evaluation.
    pub fn mass_error(&self) -> f64 {
        self.results
            .iter()
            .flat_map(|r| r.fpk.mass.iter())
            .map(|m| (m - 1.0).abs())
            .fold(0.0, f64::max)
    }

    /// Largest mass found on boundary nodes over populations and levels (latest evaluation).
    pub fn boundary_mass(&self) -> f64 {
        self.results
            .iter()
            .flat_map(|r| r.fpk.boundary_mass.iter())
            .cloned()
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_levels_include_first_and_last() {
        assert_eq!(snapshot_levels(10, 4), vec![0, 4, 8, 10]);
        assert_eq!(snapshot_levels(10, 5), vec![0, 5, 10]);
        assert_eq!(snapshot_levels(3, 0), vec![0, 1, 2, 3]);
    }
}
