//! Finite-N games: Monte Carlo simulation of N copies per population (docs/design.md §1, §3).
//!
//! The mean-field game of docs/design.md §1 is the N → ∞ limit of N interacting copies of the
//! game. This module simulates the copies directly: each copy's state solves
//!
//! ```text
//!   dX = b(X, t) dt + σ dW,      X(0) ~ N(m̄_k(0), C_k)         (4) in drift form
//! ```
//!
//! discretised by Euler–Maruyama on the levels t_n = n·dt, dt = T/steps:
//! X_{n+1} = X_n + b(X_n, t_n) dt + σ √dt ξ_n, ξ_n ~ N(0, I). The drift comes from a
//! [`Policy`]:
//!
//! * [`LqPolicy`]: the exact LQ mean-field feedback b = A(φ(t)x + h_k(t)) of (11)-(12)
//!   with φ, h_k from [`crate::lq::exact_equilibrium`];
//! * [`GridPolicy`]: b = A∇v_k with v_k given on a [`Grid`](crate::grid::Grid) at some time levels (a PDE
//!   solution), ∇v by centred differences (one-sided at the edges), interpolated
//!   multilinearly, piecewise constant in time;
//! * [`LeastSquaresPolicy`]: the paper's Section 8 control (41) in the full coalition
//!   space, u = (B_HᵀB_H)⁻¹B_Hᵀ(m̄ − x), b = B_H u.
//!
//! **Realised cost** of copy i of population k (when [`ParticleSystem::cost`] is set):
//!
//! ```text
//!   J_i = Σ_n dt [½(ρ̂_k,n − X_n)ᵀQ(ρ̂_k,n − X_n) + ½ b_nᵀ K b_n + κ Σ_j max(0, −X_n,j)²]
//!         + ½(ρ̂_k,N − X_N)ᵀS(ρ̂_k,N − X_N)
//! ```
//!
//! (a policy that knows its control cost, e.g. a bounded [`GridPolicy`], is charged that
//! cost ℓ in place of ½bᵀKb; κ is the core penalty, 0 in the LQ model)
//! with ρ̂_k,n = Σ_j W_kj m̂_j,n the **empirical** target (m̂_j,n the empirical mean of
//! population j at level n, W = `graph.averaging_matrix()`, (26)) and K the drift weight:
//! for the game's drift form, K = −A⁻¹, since the cost of a drift b = Bu − w in
//! ½uᵀRu − ½wᵀΓw at the saddle point is −½bᵀA⁻¹b (docs/design.md §4: ½pᵀAp =
//! min_b{b·p − ½bᵀA⁻¹b}). Its mean-field counterpart for the LQ policy is
//! E[v_k(0, X_0)] = ½tr(φ(0)(C_k + m̄m̄ᵀ)) + h_k(0)·m̄ + χ_k(0) ([`lq_mean_field_cost`]).
//!
//! **Determinism.** Copies are processed in fixed chunks of [`CHUNK`] copies (rayon over
//! chunks). The noise of copy c of population k is drawn from the ChaCha8 stream
//! `(k << 40) | (c / CHUNK)` of the key `seed`, at a word position fixed by (level,
//! c mod CHUNK): so copy c's draws depend only on (seed, k, c) — not on N, nor on the
//! number of threads. Empirical means and covariances are reduced in chunk order;
//! histograms accumulate fixed-point integer weights (order-free integer sums). Results
//! are therefore bit-identical for any thread count.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ q axes read best as maths

mod cell;
mod closed_loop;
mod core_membership;
mod deviation;
mod engine;
mod grid_policy;
mod initial;
mod least_squares;
mod lq_policy;
mod noise;
mod policy;
mod statistics;
mod system;
pub use closed_loop::{discrete_limit, AffineFeedback, DiscreteLimit};
pub use core_membership::{in_excess_core, AllocationCore};
pub use deviation::{
    epsilon_nash, epsilon_nash_monte_carlo, finite_n_cost, AugmentedFeedback, EpsilonEstimate,
    EpsilonNash,
};
pub use engine::{simulate, simulate_observed, PopulationRun, Simulation};
pub use grid_policy::GridPolicy;
pub use initial::InitialSampler;
pub use least_squares::{internal_model_path, LeastSquaresPolicy, LeastSquaresTarget};
pub use lq_policy::LqPolicy;
use noise::{cholesky_psd, normals};
pub use policy::Policy;
pub use statistics::{density_l1, loglog_slope, lq_mean_field_cost, mean_path_deviation};
pub use system::{CostWeights, Deposit, HistogramSpec, ParticleSystem, SimulationOptions};

/// Copies per parallel task (fixed, so results do not depend on the thread count).
pub const CHUNK: usize = 1024;

/// Largest number of copies per population (memory guard: 10⁸ copies × d × 8 bytes).
pub const MAX_COPIES: usize = 100_000_000;

/// Fixed-point bits per axis of the cloud-in-cell weights (a copy's total weight is
/// 2^(32·d), accumulated in u128).
const WEIGHT_BITS: u32 = 32;
