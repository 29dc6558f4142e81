//! The model's physics at one node, as the second-order scheme reads it: the frozen drift
//! b* and the control cost ℓ* of the Hamiltonian written over the drift (docs/design.md §4,
//! H(p) = b(p)·p + ℓ(p)), the running cost f and the terminal cost.
//!
//! The Hamiltonian and the running cost are the model's [`crate::physics`] implementations,
//! the same ones the monotone sweep's kernels are instantiated with (node forms
//! [`Hamiltonian::drift_at`] and [`RunningCost::at`]). The terminal cost is ½(ρ−x)ᵀS(ρ−x).

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use crate::hamiltonian::ControlLaw;
use crate::model::Model;
use crate::physics::{
    half_form, to_m3, with_hamiltonian, with_running_cost, Hamiltonian, ModelPhysics, RunningCost,
    M3,
};

/// Pointwise coefficients of the model.
#[derive(Debug, Clone)]
pub(crate) struct Physics {
    pub d: usize,
    s: M3,
    /// Channels of the game (None for an expert A).
    pub controls: Option<ControlLaw>,
    model: ModelPhysics,
}

impl Physics {
    pub(crate) fn new(model: &Model) -> Self {
        Physics {
            d: model.dim(),
            s: to_m3(&model.s),
            controls: model.controls.clone(),
            model: ModelPhysics::new(model),
        }
    }

    /// Switches policy evaluation on (designer channels read the policy's gradient) or
    /// back off. Needs the channels.
    pub(crate) fn set_policy(&mut self, on: bool) {
        if self.controls.is_some() {
            self.model.set_policy(on);
        }
    }

    /// Drift b (into `b[..d]`) and control cost ℓ at gradient `p` (policy gradient `pi`
    /// in policy evaluation), so that H(p) = b·p + ℓ when b is the optimum at p.
    #[inline]
    pub(crate) fn drift(&self, p: &[f64], pi: &[f64], b: &mut [f64]) -> f64 {
        with_hamiltonian!(&self.model.hamiltonian, h => h.drift_at(p, pi, b))
    }

    /// Running cost f(x; ρ) of the model.
    #[inline]
    pub(crate) fn running_cost(&self, rho: &[f64], x: &[f64]) -> f64 {
        with_running_cost!(&self.model.cost, c => c.at(rho, x))
    }

    /// Terminal cost ½(ρ−x)ᵀS(ρ−x).
    #[inline]
    pub(crate) fn terminal_cost(&self, rho: &[f64], x: &[f64]) -> f64 {
        half_form(self.d, &self.s, rho, x)
    }
}
