//! The model's physics as two small traits, read by both time steppers
//! (docs/design.md §4.6):
//!
//! * [`Hamiltonian`] — H(p) written over the drift, H(p) = b(p)·p + ℓ(p) with the optimal
//!   drift b(p) = ∇H(p) and the running control cost ℓ(p) (docs/design.md §4.1; bounded
//!   channels in [`crate::hamiltonian`]). Implementations: [`QuadraticHamiltonian`]
//!   (½pᵀAp, b = Ap) and [`ChannelHamiltonian`] (saturating control channels, and policy
//!   evaluation).
//! * [`RunningCost`] — f(x; ρ) of the HJI (docs/design.md §1). Implementations:
//!   [`QuadraticCost`] (½(ρ−x)ᵀQ(ρ−x)) and [`CorePenaltyCost`] (that plus
//!   κ Σ_j max(0, −x_j)²).
//!
//! The sweep kernels ([`crate::sweep`]) are generic over both and monomorphised: the
//! pair is chosen once per pass ([`with_hamiltonian!`], [`with_running_cost!`]) like the
//! dimension, so the inner loops carry no physics branch. The second-order scheme
//! ([`crate::scheme`]) evaluates the same implementations node by node.
//!
//! Each implementation gives its segment methods (the kernels') and its node methods (the
//! second-order scheme's) side by side; each keeps the operation order its time stepper
//! has always used, so results are bit for bit those of the code before the traits.
//!
//! To add a Hamiltonian or a running cost: one `impl` of the trait, one variant of
//! [`HamiltonianKind`] / [`RunningCostKind`] with its arm in the dispatch macro, and the
//! model field (scenario key) that [`ModelPhysics::new`] selects it from.

mod hamiltonians;
mod running_costs;

pub(crate) use hamiltonians::{ChannelHamiltonian, QuadraticHamiltonian};
pub(crate) use running_costs::{half_form, CorePenaltyCost, QuadraticCost};

use crate::grid::MAX_DIM;
use crate::model::Model;

/// Nodes of a kernel segment: a run of consecutive nodes of one last-axis row, the unit
/// over which the kernels vectorise.
pub(crate) const SEG: usize = 64;

/// Per-axis values on a segment: `s[k][q]` is component k at node q (e.g. the gradient
/// p = ∇v, or the drift b).
pub(crate) type Seg<const D: usize> = [[f64; SEG]; D];

/// 3×3 matrix (a d×d matrix padded with zeros, d ≤ 3).
pub(crate) type M3 = [[f64; MAX_DIM]; MAX_DIM];

/// A d×d matrix padded into an [`M3`].
pub(crate) fn to_m3(a: &ndarray::Array2<f64>) -> M3 {
    let mut m = [[0.0; MAX_DIM]; MAX_DIM];
    for ((i, j), v) in a.indexed_iter() {
        m[i][j] = *v;
    }
    m
}

/// The Hamiltonian over the drift, H(p) = b(p)·p + ℓ(p) (docs/design.md §4.1, step 1–2;
/// §4.5 step 2 for the second-order scheme), with b(p) = ∇H(p) the drift of the upwind
/// generator and ℓ(p) the running control cost in the HJI source.
///
/// `pd` / `pi` is the gradient the designer's controls read: ∇v itself, or in policy
/// evaluation the gradient of the evaluated policy's value (docs/design.md §4.1, "bounded
/// controls"). Implementations without designer channels ignore it.
pub(crate) trait Hamiltonian: std::fmt::Debug + Send + Sync {
    /// Node form (second-order scheme, docs/design.md §4.5 step 2): writes b(p) into
    /// `b[..d]` and returns ℓ(p), so that H(p) = b·p + ℓ.
    fn drift_at(&self, p: &[f64], pi: &[f64], b: &mut [f64]) -> f64;

    /// Component `axis` of the drift, b_axis(p), on the first `out.len()` nodes of a
    /// segment (the coefficient of the splitting factor E_axis, docs/design.md §4.1 step 3).
    fn drift_axis_seg<const D: usize>(&self, axis: usize, p: &Seg<D>, pd: &Seg<D>, out: &mut [f64]);

    /// All drift components b(p) on the first `w` nodes of a segment.
    fn drift_seg<const D: usize>(&self, p: &Seg<D>, pd: &Seg<D>, w: usize, b: &mut Seg<D>);

    /// The last factor's coefficients of the HJI step (docs/design.md §4.1 step 4): the
    /// drift component b_{d−1}(p) into `bl`, and the source share
    /// g_{d−1} = f + ℓ(p) + Σ_{k<d−1} b_k p_k in place of the running cost f held in `fg`
    /// on entry (for ½pᵀAp, ℓ = −½b·p).
    fn last_source_seg<const D: usize>(
        &self,
        p: &Seg<D>,
        pd: &Seg<D>,
        bl: &mut [f64],
        fg: &mut [f64],
    );
}

/// The running cost f(x; ρ) of the HJI, ∂t v + H(∇v) + f + σ²/2 Δv = 0 (docs/design.md §1).
///
/// The kernels evaluate it along last-axis rows: [`RunningCost::row`] once per row from the
/// outer coordinates, then [`RunningCost::along_row`] over the row's nodes.
pub(crate) trait RunningCost: std::fmt::Debug + Send + Sync {
    /// What is constant along a last-axis row.
    type Row: Copy + Default;

    /// Node form (second-order scheme, docs/design.md §4.5 step 3): f(x; ρ) with `rho`,
    /// `x` of length ≥ d.
    fn at(&self, rho: &[f64], x: &[f64]) -> f64;

    /// The row constants for target ρ and the outer coordinates `x[..D−1]` of a row.
    fn row<const D: usize>(&self, rho: &[f64; MAX_DIM], x: &[f64; MAX_DIM]) -> Self::Row;

    /// f at the last-axis coordinates `xl` of a row into `f[..xl.len()]`, with
    /// `rho_l` = ρ_{d−1}.
    fn along_row<const D: usize>(&self, row: Self::Row, rho_l: f64, xl: &[f64], f: &mut [f64]);
}

/// The Hamiltonians the solvers implement ([`Hamiltonian`]).
#[derive(Debug, Clone)]
pub(crate) enum HamiltonianKind {
    /// ½pᵀAp.
    Quadratic(QuadraticHamiltonian),
    /// Saturating control channels (bounded controls, policy evaluation).
    Channels(ChannelHamiltonian),
}

/// The running costs the solvers implement ([`RunningCost`]).
#[derive(Debug, Clone)]
pub(crate) enum RunningCostKind {
    /// ½(ρ−x)ᵀQ(ρ−x).
    Quadratic(QuadraticCost),
    /// ½(ρ−x)ᵀQ(ρ−x) + κ Σ_j max(0, −x_j)².
    CorePenalty(CorePenaltyCost),
}

impl RunningCostKind {
    /// The quadratic part ½(ρ−x)ᵀQ(ρ−x) (the type the kernels are instantiated with where
    /// no running cost is read, e.g. the FPK).
    pub(crate) fn quadratic(&self) -> &QuadraticCost {
        match self {
            RunningCostKind::Quadratic(c) => c,
            RunningCostKind::CorePenalty(c) => c.quadratic(),
        }
    }
}

/// Runs `$body` with `$h` bound to the concrete [`Hamiltonian`] of a [`HamiltonianKind`]
/// (one monomorphised copy of `$body` per implementation).
macro_rules! with_hamiltonian {
    ($kind:expr, $h:ident => $body:expr) => {
        match $kind {
            $crate::physics::HamiltonianKind::Quadratic($h) => $body,
            $crate::physics::HamiltonianKind::Channels($h) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the concrete [`RunningCost`] of a [`RunningCostKind`].
macro_rules! with_running_cost {
    ($kind:expr, $c:ident => $body:expr) => {
        match $kind {
            $crate::physics::RunningCostKind::Quadratic($c) => $body,
            $crate::physics::RunningCostKind::CorePenalty($c) => $body,
        }
    };
}

pub(crate) use {with_hamiltonian, with_running_cost};

/// The Hamiltonian and running cost of a model, as the time steppers read them.
#[derive(Debug, Clone)]
pub(crate) struct ModelPhysics {
    /// The Hamiltonian in use.
    pub hamiltonian: HamiltonianKind,
    /// The running cost.
    pub cost: RunningCostKind,
    quadratic: QuadraticHamiltonian,
    channels: Option<ChannelHamiltonian>,
    bounded: bool,
}

impl ModelPhysics {
    /// Selection from the model: the channel Hamiltonian when some control is bounded
    /// (`bounds.*`), else ½pᵀAp; the core-penalty cost when κ = `cost.core_penalty` > 0,
    /// else the quadratic one.
    pub(crate) fn new(model: &Model) -> Self {
        let d = model.dim();
        let quadratic = QuadraticHamiltonian::new(d, to_m3(&model.a));
        let channels = model
            .controls
            .as_ref()
            .map(|law| ChannelHamiltonian::new(d, law.pack()));
        let q = QuadraticCost::new(d, to_m3(&model.q));
        let cost = if model.core_penalty > 0.0 {
            RunningCostKind::CorePenalty(CorePenaltyCost::new(q, model.core_penalty))
        } else {
            RunningCostKind::Quadratic(q)
        };
        let bounded = model.is_bounded();
        let mut phys = ModelPhysics {
            hamiltonian: HamiltonianKind::Quadratic(quadratic.clone()),
            cost,
            quadratic,
            channels,
            bounded,
        };
        phys.set_policy(false);
        phys
    }

    /// True when the model has control channels with at least one channel (what policy
    /// evaluation needs).
    pub(crate) fn has_channels(&self) -> bool {
        self.channels.as_ref().is_some_and(|c| !c.is_empty())
    }

    /// Policy evaluation on or off: the channel Hamiltonian when the controls are bounded
    /// or a policy is evaluated (and the model has channels), else ½pᵀAp.
    pub(crate) fn set_policy(&mut self, on: bool) {
        self.hamiltonian = match &self.channels {
            Some(ch) if self.bounded || on => HamiltonianKind::Channels(ch.clone()),
            _ => HamiltonianKind::Quadratic(self.quadratic.clone()),
        };
    }
}
