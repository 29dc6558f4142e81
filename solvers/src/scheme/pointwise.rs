//! The model's physics at one node, as the second-order scheme reads it: the frozen drift
//! b* and the control cost ℓ* of the Hamiltonian written over the drift (docs/design.md §4,
//! H(p) = b(p)·p + ℓ(p)), the running cost f and the terminal cost.
//!
//! The drift and control cost are the model's own: b = Ap, ℓ = −½b·p for the quadratic
//! Hamiltonian ½pᵀAp, and [`ControlLaw::drift_into`] for bounded channels or policy
//! evaluation (the same definitions as the monotone sweep). The costs are those of
//! [`crate::model::Model`]: f = ½(ρ−x)ᵀQ(ρ−x) + κ Σ_j max(0, −x_j)², terminal
//! ½(ρ−x)ᵀS(ρ−x).

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use crate::grid::MAX_DIM;
use crate::hamiltonian::{channel_control, ControlLaw, Player};
use crate::model::Model;

type M3 = [[f64; MAX_DIM]; MAX_DIM];

fn to_m3(m: &ndarray::Array2<f64>) -> M3 {
    let mut out = [[0.0; MAX_DIM]; MAX_DIM];
    for ((i, j), v) in m.indexed_iter() {
        out[i][j] = *v;
    }
    out
}

/// How the drift is obtained from the gradient(s).
#[derive(Debug, Clone)]
pub(crate) enum DriftLaw {
    /// b = Ap, ℓ = −½ b·p (quadratic Hamiltonian ½pᵀAp).
    Quadratic,
    /// b, ℓ of the control channels at p (bounded controls).
    Channels(ControlLaw),
    /// Policy evaluation: the designer's channels at the policy's gradient π, the
    /// disturbance's at p.
    Policy(ControlLaw),
}

/// Pointwise coefficients of the model.
#[derive(Debug, Clone)]
pub(crate) struct Physics {
    pub d: usize,
    a: M3,
    q: M3,
    s: M3,
    kappa: f64,
    /// Channels of the game (None for an expert A).
    pub controls: Option<ControlLaw>,
    pub law: DriftLaw,
}

impl Physics {
    pub(crate) fn new(model: &Model) -> Self {
        let bounded = model.is_bounded();
        Physics {
            d: model.dim(),
            a: to_m3(&model.a),
            q: to_m3(&model.q),
            s: to_m3(&model.s),
            kappa: model.core_penalty,
            controls: model.controls.clone(),
            law: match (&model.controls, bounded) {
                (Some(law), true) => DriftLaw::Channels(law.clone()),
                _ => DriftLaw::Quadratic,
            },
        }
    }

    /// Switches policy evaluation on (designer channels read the policy's gradient) or
    /// back off. Needs the channels.
    pub(crate) fn set_policy(&mut self, on: bool) {
        let Some(law) = &self.controls else {
            return;
        };
        self.law = if on {
            DriftLaw::Policy(law.clone())
        } else if law.is_bounded() {
            DriftLaw::Channels(law.clone())
        } else {
            DriftLaw::Quadratic
        };
    }

    /// Drift b (into `b[..d]`) and control cost ℓ at gradient `p` (policy gradient `pi`
    /// in policy evaluation), so that H(p) = b·p + ℓ when b is the optimum at p.
    #[inline]
    pub(crate) fn drift(&self, p: &[f64], pi: &[f64], b: &mut [f64]) -> f64 {
        let d = self.d;
        match &self.law {
            DriftLaw::Quadratic => {
                let mut bp = 0.0;
                for i in 0..d {
                    let mut s = 0.0;
                    for k in 0..d {
                        s += self.a[i][k] * p[k];
                    }
                    b[i] = s;
                    bp += s * p[i];
                }
                -0.5 * bp
            }
            DriftLaw::Channels(law) => law.drift_into(&p[..d], &mut b[..d]),
            DriftLaw::Policy(law) => {
                // ControlLaw::drift_into, channel by channel in the same order, with the
                // designer's channels reading π: at π = p the same bits.
                b[..d].iter_mut().for_each(|v| *v = 0.0);
                let mut ell = 0.0;
                for c in &law.channels {
                    let at = match c.player {
                        Player::Designer => &pi[..d],
                        Player::Disturbance => &p[..d],
                    };
                    let s: f64 = c.column.iter().zip(at).map(|(c, p)| c * p).sum();
                    let a = channel_control(c.player, 1.0 / c.weight, c.bound, s);
                    for (bi, ci) in b[..d].iter_mut().zip(&c.column) {
                        *bi += ci * a;
                    }
                    let half = 0.5 * c.weight * a * a;
                    ell += match c.player {
                        Player::Designer => half,
                        Player::Disturbance => -half,
                    };
                }
                ell
            }
        }
    }

    fn quadratic(m: &M3, d: usize, rho: &[f64], x: &[f64]) -> f64 {
        let mut w = [0.0; MAX_DIM];
        for i in 0..d {
            w[i] = rho[i] - x[i];
        }
        let mut s = 0.0;
        for i in 0..d {
            for k in 0..d {
                s += w[i] * m[i][k] * w[k];
            }
        }
        0.5 * s
    }

    /// Running cost f = ½(ρ−x)ᵀQ(ρ−x) + κ Σ_j max(0, −x_j)².
    #[inline]
    pub(crate) fn running_cost(&self, rho: &[f64], x: &[f64]) -> f64 {
        let mut core = 0.0;
        if self.kappa > 0.0 {
            for &xi in &x[..self.d] {
                let neg = if xi < 0.0 { -xi } else { 0.0 };
                core += self.kappa * neg * neg;
            }
        }
        Self::quadratic(&self.q, self.d, rho, x) + core
    }

    /// Terminal cost ½(ρ−x)ᵀS(ρ−x).
    #[inline]
    pub(crate) fn terminal_cost(&self, rho: &[f64], x: &[f64]) -> f64 {
        Self::quadratic(&self.s, self.d, rho, x)
    }
}
