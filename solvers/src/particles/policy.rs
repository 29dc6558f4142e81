//! The feedback drift a simulation follows.

use crate::error::Result;

/// A feedback drift b(x, t) for every population.
pub trait Policy: Sync {
    /// State dimension the policy acts on.
    fn dim(&self) -> usize;
    /// Number of populations it has data for (`None`: any).
    fn populations(&self) -> Option<usize>;
    /// Writes b(x, t_level) for population `population` into `out`; `target` is the
    /// population's current empirical target ρ̂_k (used by policies that track it).
    fn drift(&self, population: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]);
    /// [`Policy::drift`] and, when the policy knows it, the running control cost ℓ of that
    /// drift (½uᵀRu − ½wᵀΓw of its controls); `None`: the realised cost prices the drift by
    /// ½bᵀKb of [`CostWeights`](super::CostWeights).
    fn drift_and_cost(
        &self,
        population: usize,
        level: usize,
        x: &[f64],
        target: &[f64],
        out: &mut [f64],
    ) -> Option<f64> {
        self.drift(population, level, x, target, out);
        None
    }
    /// Checks that the policy covers levels 0..steps (default: nothing to check).
    fn check_steps(&self, _steps: usize) -> Result<()> {
        Ok(())
    }
}
