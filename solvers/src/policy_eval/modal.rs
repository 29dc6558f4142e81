//! Robust cost of a policy in the full game, mode by mode (docs/design.md §2 and §5).
//!
//! When the modal decomposition applies (A, Q, S diagonal in one orthonormal basis U) and
//! the designer's and the disturbance's parts of A = −G + D, G = B R⁻¹ Bᵀ, D = Γ⁻¹, are
//! diagonal in the same basis (R = I, Γ = γ²I: D = γ⁻²I and G = D − A), the robust HJI of
//! a designer playing u_π = −R⁻¹Bᵀ∇v_π against a best-responding disturbance,
//!
//! ```text
//!   ∂t v − ∇v_πᵀG∇v + ½∇v_πᵀG∇v_π + ½∇vᵀD∇v + ½(ρ−x)ᵀQ(ρ−x) + σ²/2 Δv = 0,
//! ```
//!
//! separates in y = Uᵀx whenever the policy's value does, v_π = Σ_i v_π,i(y_i, t): the
//! PDE equilibrium's value (a sum of mode values by construction) and every linear policy
//! ∇v_π = φ_π x + h_π whose φ_π is diagonal in U (the exact LQ equilibrium and the paper's
//! Section 7 heuristic: both solve the Riccati equation of A, Q, S). Then
//! v = Σ_i v_i(y_i, t), each v_i solving the 1-D robust HJI of mode i with a designer
//! channel of strength g_i = (UᵀGU)_ii and a disturbance channel d_i = (UᵀDU)_ii
//! (d_i − g_i = λ_i), against the mode's target (Uᵀρ_k)_i. The full game's robust cost is
//! the sum of the mode costs,
//!
//! ```text
//!   J_k = E[v_k(0, X)] = Σ_i ∫ v_k,i(0, y) m_k,i(0, y) dy,     X ~ m_k(0),
//! ```
//!
//! exact because each term depends on one coordinate y_i = u_iᵀX, whose law is the i-th
//! marginal m_k,i(0) (Gaussian N((Uᵀm̄_k)_i, (UᵀC_kU)_ii) for a Gaussian m_k(0)),
//! whatever the correlations between modes. The FPK of the evaluation moves each marginal
//! on its own, so the played means are m̄ = U ȳ.
//!
//! Every policy, the linear ones included, is evaluated on the mode's own PDE grid by
//! [`evaluate_policy`]: the three policies then carry the same discretisation, so their
//! differences (a policy's loss) are not swamped by the error of the PDE reference, and
//! the LQ policy's cost against the exact Riccati cost measures that error.

use super::{evaluate_policy, quadratic_policy};
use crate::error::{Param, Result, SolverError};
use crate::hamiltonian::{Channel, ControlLaw, Player};
use crate::linalg::frobenius;
use crate::modal::{ModalDecomposition, ModeSolution, DIAGONAL_TOL};
use crate::sweep::Sweeper;
use ndarray::{Array1, Array2, Array3, Axis};

/// Feedback ∂_y v_π = φ(t_n) y + h(t_n) of a linear policy on one mode, per level
/// (steps+1 values each).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeFeedback {
    /// φ(t_n) = u_iᵀ φ_π(t_n) u_i.
    pub phi: Array1<f64>,
    /// h(t_n) = u_iᵀ h_π(t_n).
    pub h: Array1<f64>,
}

impl ModeFeedback {
    /// Mode `i` of the linear feedback φ(t_n)x + h(t_n) in coalition coordinates (`phi`
    /// (levels, q, q), `h` (levels, q)): φ_i = u_iᵀφu_i, h_i = u_iᵀh. Only exact when φ is
    /// diagonal in U (module docs); the caller's φ solves the Riccati equation of A, Q, S.
    pub fn project(dec: &ModalDecomposition, i: usize, phi: &Array3<f64>, h: &Array2<f64>) -> Self {
        let u = dec.eigenvectors().column(i);
        ModeFeedback {
            phi: phi.outer_iter().map(|p| u.dot(&p.dot(&u))).collect(),
            h: h.outer_iter().map(|r| u.dot(&r)).collect(),
        }
    }
}

/// The 1-D control channels of every mode: a designer channel √g_i and a disturbance
/// channel √d_i (weights 1, unbounded), g_i = (UᵀGU)_ii, d_i = (UᵀDU)_ii, for the full
/// game's G = B R⁻¹ Bᵀ (`gram`) and D = Γ⁻¹ (`gamma_inverse`).
///
/// Errors (`Param::Reduction`): UᵀGU or UᵀDU not diagonal to [`DIAGONAL_TOL`] — the
/// designer's and the disturbance's parts of the drift then mix modes (a non-scalar Γ or
/// R whose parts do not commute with A) — or D − G ≠ A.
pub fn mode_control_laws(
    dec: &ModalDecomposition,
    gram: &Array2<f64>,
    gamma_inverse: &Array2<f64>,
) -> Result<Vec<ControlLaw>> {
    let u = dec.eigenvectors();
    let q = dec.num_modes();
    if gram.dim() != (q, q) || gamma_inverse.dim() != (q, q) {
        return Err(SolverError::invalid(
            Param::Reduction,
            format!("B R⁻¹ Bᵀ and Γ⁻¹ must be {q}×{q}"),
        ));
    }
    let mut parts = Vec::with_capacity(2);
    for (m, what) in [(gram, "Uᵀ B R⁻¹ Bᵀ U"), (gamma_inverse, "Uᵀ Γ⁻¹ U")] {
        let r = u.t().dot(m).dot(u);
        let off = r
            .indexed_iter()
            .filter(|((a, b), _)| a != b)
            .map(|(_, v)| v * v)
            .sum::<f64>()
            .sqrt();
        let scale = frobenius(m).max(1e-300);
        if off.is_nan() || off > DIAGONAL_TOL * scale {
            return Err(SolverError::invalid(
                Param::Reduction,
                format!(
                    "the designer's and the disturbance's parts of the drift do not separate \
                     into modes: {what} has a relative off-diagonal part {:.2e} (tolerance \
                     {DIAGONAL_TOL:.0e}); the policy comparison needs scalar control and \
                     disturbance weights (R = rI, Γ = γ²I) or weights commuting with A",
                    off / scale
                ),
            ));
        }
        parts.push(r.diag().to_owned());
    }
    let (g, d) = (&parts[0], &parts[1]);
    let lambda = dec.eigenvalues();
    (0..q)
        .map(|i| {
            let gap = (d[i] - g[i] - lambda[i]).abs();
            if gap > 1e-9 * lambda[i].abs().max(g[i].abs()).max(1e-300) {
                return Err(SolverError::invalid(
                    Param::Reduction,
                    format!(
                        "mode {}: Γ⁻¹ − B R⁻¹ Bᵀ gives {:.6e}, the model's A gives {:.6e}",
                        i + 1,
                        d[i] - g[i],
                        lambda[i]
                    ),
                ));
            }
            let mut channels = Vec::with_capacity(2);
            for (strength, player, label) in [
                (g[i], Player::Designer, "allocation"),
                (d[i], Player::Disturbance, "disturbance"),
            ] {
                if strength > 0.0 {
                    channels.push(Channel {
                        column: vec![strength.sqrt()],
                        weight: 1.0,
                        bound: f64::INFINITY,
                        player,
                        label: format!("{label} on mode {}", i + 1),
                    });
                }
            }
            Ok(ControlLaw { channels })
        })
        .collect()
}

/// Every policy evaluated on one mode (indices `[policy][population]`; policy 0 is the PDE
/// equilibrium, then the linear policies in the order given).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeEvaluation {
    /// Mode cost ∫ v_k,i(0, y) m_k,i(0, y) dy.
    pub costs: Vec<Vec<f64>>,
    /// v_k,i(0, ·) of the evaluation on the mode grid.
    pub value0: Vec<Vec<Array1<f64>>>,
    /// Mode mean ȳ_k,i(t_n) of a population whose designers all play the policy.
    pub played_mean: Vec<Vec<Array1<f64>>>,
    /// Optimal drift λ_i ∂_y v(0, y) of the PDE equilibrium per population (the
    /// equilibrium HJI solved again on the mode grid against the mode's targets).
    pub drift_pde: Vec<Array1<f64>>,
    /// The mode's initial density per population on its grid.
    pub initial: Vec<Array1<f64>>,
}

/// Evaluates, on the grid of the solved `mode` with `steps` time steps and the mode's
/// channels `law` ([`mode_control_laws`]), the PDE equilibrium's policy and the linear
/// policies `linear[k]` (one list per population, same length for all) of every
/// population against the mode's equilibrium targets (module docs).
///
/// Errors: `mode` without results (`Param::Reduction`), and those of
/// [`Sweeper::new`] / [`evaluate_policy`].
pub fn evaluate_mode(
    mode: &ModeSolution,
    law: ControlLaw,
    steps: usize,
    linear: &[Vec<ModeFeedback>],
) -> Result<ModeEvaluation> {
    let p = mode.model.num_populations();
    if mode.populations.len() != p || linear.len() != p {
        return Err(SolverError::invalid(
            Param::Reduction,
            "the mode has no equilibrium for every population",
        ));
    }
    let policies = 1 + linear.first().map_or(0, Vec::len);
    if linear.iter().any(|l| l.len() + 1 != policies) {
        return Err(SolverError::invalid(
            Param::Argument("linear"),
            "every population needs the same number of linear policies",
        ));
    }
    let mut model = mode.model.clone();
    model.controls = Some(law);
    model.validate()?;
    let grid = &mode.grid;
    let mut sw = Sweeper::new(&model, grid, steps)?;
    let mut out = ModeEvaluation {
        costs: vec![Vec::with_capacity(p); policies],
        value0: vec![Vec::with_capacity(p); policies],
        played_mean: vec![Vec::with_capacity(p); policies],
        drift_pde: Vec::with_capacity(p),
        initial: Vec::with_capacity(p),
    };
    let flat = |a: ndarray::ArrayD<f64>| a.iter().cloned().collect::<Array1<f64>>();
    for (k, pop) in model.populations.iter().enumerate() {
        let m0 = grid.gaussian(pop.mean.view(), pop.cov.view())?;
        let rho = mode.populations[k].target.view();
        sw.set_designer_policy(None)?;
        let v_pde = sw.solve_hji(rho, k)?;
        out.drift_pde.push(flat(sw.optimal_drift(v_pde.value(0))?));
        let mut pols = vec![v_pde];
        for fb in &linear[k] {
            let levels = fb.phi.len();
            let phi = fb
                .phi
                .clone()
                .into_shape_with_order((levels, 1, 1))
                .map_err(|e| {
                    SolverError::invalid(Param::Argument("linear"), format!("φ path: {e}"))
                })?;
            let h = fb.h.clone().insert_axis(Axis(1));
            pols.push(quadratic_policy(grid, &phi, &h)?);
        }
        for (pi, pol) in pols.into_iter().enumerate() {
            let ev = evaluate_policy(&mut sw, grid, Some(pol), rho, k, m0.view())?;
            out.costs[pi].push(ev.cost);
            out.value0[pi].push(flat(ev.value0));
            out.played_mean[pi].push(ev.played_mean.column(0).to_owned());
        }
        out.initial.push(flat(m0));
    }
    Ok(out)
}

/// Strengths (g, d) of a mode's designer and disturbance channels: Σ c²/r per player.
pub fn channel_strengths(law: &ControlLaw) -> (f64, f64) {
    let (mut g, mut d) = (0.0, 0.0);
    for ch in &law.channels {
        let c2: f64 = ch.column.iter().map(|c| c * c).sum::<f64>() / ch.weight;
        match ch.player {
            Player::Designer => g += c2,
            Player::Disturbance => d += c2,
        }
    }
    (g, d)
}

/// One mode's data for [`linear_policy_cost`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModeCoefficients {
    /// Designer channel strength g_i = (UᵀBR⁻¹BᵀU)_ii.
    pub g: f64,
    /// Disturbance channel strength d_i = (UᵀΓ⁻¹U)_ii.
    pub d: f64,
    /// Running cost weight q_i.
    pub q: f64,
    /// Terminal cost weight s_i.
    pub s: f64,
    /// Noise level σ.
    pub sigma: f64,
    /// Horizon T.
    pub horizon: f64,
}

/// Runge–Kutta substeps per level interval of [`linear_policy_cost`].
pub const EXACT_SUBSTEPS: usize = 64;

/// The robust cost of a linear policy on one mode without a grid: with the designer's
/// feedback p_π = φ_π(t)y + h_π(t) frozen and the disturbance best-responding, the value is
/// quadratic, v = ½P y² + r y + c, and the robust HJI of the module docs reduces to
///
/// ```text
///   −P' = −2gφ_π P + gφ_π² + dP² + q,                 P(T) = s
///   −r' = −g(φ_π r + h_π P) + gφ_π h_π + dPr − qρ,    r(T) = −sρ(T)
///   −c' = −g h_π r + ½g h_π² + ½d r² + ½qρ² + σ²/2 P,  c(T) = ½sρ(T)²
/// ```
///
/// (a Riccati equation when the policy is the optimum, a Lyapunov-like one otherwise);
/// the cost under N(mean0, var0) is ½P(0)(var0 + mean0²) + r(0) mean0 + c(0). The
/// policy and the target ρ (`target`, the mode's ρ at the levels t_n = nT/steps) are known
/// at the levels and interpolated cubically in time (linearly with fewer than 4 levels);
/// the ODE is integrated backward by classical RK4 with [`EXACT_SUBSTEPS`] substeps per
/// level interval. Exact up to that interpolation and RK4's O(dt⁴) error.
pub fn linear_policy_cost(
    c: &ModeCoefficients,
    policy: &ModeFeedback,
    target: &Array1<f64>,
    mean0: f64,
    var0: f64,
) -> Result<f64> {
    let levels = target.len();
    if levels < 2 || policy.phi.len() != levels || policy.h.len() != levels {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            "the policy and the target need the same number (≥ 2) of levels",
        ));
    }
    let steps = levels - 1;
    let dt = c.horizon / steps as f64;
    let at = |f: &Array1<f64>, pos: f64| -> f64 {
        if levels >= 4 {
            let (start, w) = crate::richardson::cubic_weights(pos, levels);
            (0..4).map(|m| w[m] * f[start + m]).sum()
        } else {
            let j = (pos.floor() as usize).min(steps - 1);
            let w = pos - j as f64;
            (1.0 - w) * f[j] + w * f[j + 1]
        }
    };
    // State (P, r, c) as a function of the position t/dt; derivative d/dt of the module's
    // equations.
    let rhs = |pos: f64, y: [f64; 3]| -> [f64; 3] {
        let (a, b, rho) = (at(&policy.phi, pos), at(&policy.h, pos), at(target, pos));
        let [p, r, _] = y;
        [
            -(-2.0 * c.g * a * p + c.g * a * a + c.d * p * p + c.q),
            -(-c.g * (a * r + b * p) + c.g * a * b + c.d * p * r - c.q * rho),
            -(-c.g * b * r
                + 0.5 * c.g * b * b
                + 0.5 * c.d * r * r
                + 0.5 * c.q * rho * rho
                + 0.5 * c.sigma * c.sigma * p),
        ]
    };
    let rho_t = target[steps];
    let mut y = [c.s, -c.s * rho_t, 0.5 * c.s * rho_t * rho_t];
    let sub = EXACT_SUBSTEPS;
    let h = -dt / sub as f64; // backward in time
    let dpos = -1.0 / sub as f64;
    for n in (0..steps).rev() {
        for j in 0..sub {
            let pos = (n + 1) as f64 - j as f64 / sub as f64;
            let add = |y: [f64; 3], k: [f64; 3], f: f64| {
                [y[0] + f * k[0], y[1] + f * k[1], y[2] + f * k[2]]
            };
            let k1 = rhs(pos, y);
            let k2 = rhs(pos + 0.5 * dpos, add(y, k1, 0.5 * h));
            let k3 = rhs(pos + 0.5 * dpos, add(y, k2, 0.5 * h));
            let k4 = rhs(pos + dpos, add(y, k3, h));
            for m in 0..3 {
                y[m] += h / 6.0 * (k1[m] + 2.0 * k2[m] + 2.0 * k3[m] + k4[m]);
            }
        }
    }
    let cost = 0.5 * y[0] * (var0 + mean0 * mean0) + y[1] * mean0 + y[2];
    if !cost.is_finite() {
        return Err(SolverError::invalid(
            Param::Argument("policy"),
            "the robust value of the policy is not finite (the disturbance's best response \
             blows up: γ too small for this policy)",
        ));
    }
    Ok(cost)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With target ρ = 0 and the policy φ_π = P, P the solution of the mode's Riccati
    /// equation P' = −(d − g)P² − q, P(T) = s (the optimum), the robust cost is the
    /// equilibrium value ½P(0)(var + mean²) + ∫σ²/2 P dt, here from a fine RK4 integration
    /// of the Riccati equation itself; a worse policy costs more.
    #[test]
    fn optimal_linear_policy_reproduces_the_riccati_value() {
        let c = ModeCoefficients {
            g: 1.3,
            d: 0.25,
            q: 0.7,
            s: 1.1,
            sigma: 0.4,
            horizon: 2.0,
        };
        let a = c.d - c.g;
        // Riccati P' = −aP² − q backward from P(T) = s on a very fine RK4 grid.
        let steps = 40;
        let fine = 4000;
        let mut p = c.s;
        let mut chi = 0.0;
        let mut phi = vec![0.0; steps + 1];
        phi[steps] = p;
        let h = c.horizon / fine as f64;
        let f = |p: f64| a * p * p + c.q; // d/dτ
        for j in 0..fine {
            let k1 = f(p);
            let k2 = f(p + 0.5 * h * k1);
            let k3 = f(p + 0.5 * h * k2);
            let k4 = f(p + h * k3);
            let pn = p + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
            chi += 0.5 * c.sigma * c.sigma * 0.5 * (p + pn) * h;
            p = pn;
            if (j + 1) % (fine / steps) == 0 {
                phi[steps - (j + 1) / (fine / steps)] = p;
            }
        }
        let policy = ModeFeedback {
            phi: Array1::from(phi),
            h: Array1::zeros(steps + 1),
        };
        let (mean0, var0) = (0.3, 0.05);
        let j = linear_policy_cost(&c, &policy, &Array1::zeros(steps + 1), mean0, var0).unwrap();
        let exact = 0.5 * p * (var0 + mean0 * mean0) + chi;
        assert!((j - exact).abs() < 1e-6 * exact.abs(), "{j} vs {exact}");
        // A worse policy (half the feedback) costs more.
        let half = ModeFeedback {
            phi: policy.phi.mapv(|v| 0.5 * v),
            h: policy.h.clone(),
        };
        let jh = linear_policy_cost(&c, &half, &Array1::zeros(steps + 1), mean0, var0).unwrap();
        assert!(jh > j + 1e-4, "{jh} vs {j}");
    }
}
