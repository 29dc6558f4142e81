//! The Hamiltonian by control channels: bounded allocations and disturbances.
//!
//! In the projected reduction the state x_J moves with dx_J = P(Bu − w)dt + σdW, the
//! designer pays ½uᵀRu and the disturbance −½wᵀΓw. When R and Γ are diagonal each
//! control component is a *channel*: a column c ∈ R^d of its effect on the grid axes, a
//! weight r > 0 and a bound ā (∞ = unbounded). The pointwise Hamiltonian separates,
//!
//!   H(p) = min_{|u_i|≤ū} max_{|w_j|≤w̄} { (P(Bu − w))·p + ½uᵀRu − ½wᵀΓw }
//!        = Σ_designer min_{|a|≤ā} { (c·p)a + ½ra² } + Σ_disturbance max_{|a|≤ā} { (c·p)a − ½ra² },
//!
//! with the optimal a = clamp(∓c·p/r, −ā, ā) (− for the designer, + for the disturbance).
//! Each term is quadratic, ∓(c·p)²/2r, while |c·p| ≤ rā and linear beyond, ∓(ā|c·p| −
//! ½rā²) (saturation). H is C¹ and its gradient is the optimal drift b(p) = Σ c a*(p)
//! (the envelope property the sweep relies on); with every bound infinite, b(p) = Ap with
//!
//!   A = −Σ_designer c cᵀ/r + Σ_disturbance c cᵀ/r = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ,
//!
//! the A of docs/design.md §1. The sweep writes H(p) = b·p + ℓ with the running control cost
//! ℓ = Σ_designer ½ra*² − Σ_disturbance ½ra*² (the source of the HJI step).

use crate::error::{Param, Result, SolverError};
use crate::grid::MAX_DIM;
use crate::linalg::is_symmetric;
use ndarray::Array2;

/// Who controls a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Player {
    /// The designer (minimiser), paying ½ra².
    Designer,
    /// The disturbance (maximiser), paying −½ra².
    Disturbance,
}

/// One scalar control component: its column c on the grid axes, weight r, bound ā.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Effect of a unit control on the grid axes (length d): a column of PB (designer)
    /// or of −P (disturbance).
    pub column: Vec<f64>,
    /// Weight r > 0 (R_ii or Γ_jj).
    pub weight: f64,
    /// Bound ā > 0 on |a|; `f64::INFINITY` when unbounded.
    pub bound: f64,
    /// Minimiser or maximiser.
    pub player: Player,
    /// Label for messages and reports (e.g. "allocation 1", "surplus {1,2}").
    pub label: String,
}

/// The control channels of a projected game: the Hamiltonian H(p) of the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlLaw {
    /// All channels with a non-zero column.
    pub channels: Vec<Channel>,
}

/// Optimal control of one channel at c·p = s: clamp(∓s/r, −ā, ā).
#[inline(always)]
pub fn channel_control(player: Player, inv_r: f64, bound: f64, s: f64) -> f64 {
    let free = match player {
        Player::Designer => -s * inv_r,
        Player::Disturbance => s * inv_r,
    };
    free.max(-bound).min(bound)
}

impl ControlLaw {
    /// The Hamiltonian "over the drift" of docs/design.md §4 as channels: the designer chooses
    /// the drift b itself at cost −½bᵀA⁻¹b, ½pᵀAp = min_b{b·p − ½bᵀA⁻¹b}. Channels are the
    /// eigenvectors u of A (eigenvalue λ < 0) with column √(−λ)u, weight 1, unbounded. For
    /// an expert A, which does not say which part is allocation and which disturbance.
    pub fn drift_control(a: &Array2<f64>) -> Result<ControlLaw> {
        let (ev, vecs) = crate::linalg::symmetric_eigen(a)?;
        if ev.iter().any(|&l| l >= 0.0) {
            return Err(SolverError::IllPosed {
                largest_eigenvalue: ev.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                min_gamma: None,
            });
        }
        Ok(ControlLaw {
            channels: ev
                .iter()
                .enumerate()
                .map(|(k, &l)| Channel {
                    column: vecs.column(k).iter().map(|u| u * (-l).sqrt()).collect(),
                    weight: 1.0,
                    bound: f64::INFINITY,
                    player: Player::Designer,
                    label: format!("drift mode {}", k + 1),
                })
                .collect(),
        })
    }

    /// Grid dimension d (length of the columns); 0 without channels.
    pub fn dim(&self) -> usize {
        self.channels.first().map_or(0, |c| c.column.len())
    }

    /// True when some channel has a finite bound (the model is then not LQ).
    pub fn is_bounded(&self) -> bool {
        self.channels.iter().any(|c| c.bound.is_finite())
    }

    /// The matrix A = −Σ_designer ccᵀ/r + Σ_disturbance ccᵀ/r of the unbounded law.
    pub fn unbounded_matrix(&self) -> Array2<f64> {
        let d = self.dim();
        let mut a = Array2::zeros((d, d));
        for ch in &self.channels {
            let sign = match ch.player {
                Player::Designer => -1.0,
                Player::Disturbance => 1.0,
            };
            for i in 0..d {
                for k in 0..d {
                    a[[i, k]] += sign * ch.column[i] * ch.column[k] / ch.weight;
                }
            }
        }
        a
    }

    /// Optimal drift b(p) = Σ c a*(p) and running control cost ℓ(p), so that
    /// H(p) = b·p + ℓ (module docs). `p.len()` must be d.
    pub fn drift_and_cost(&self, p: &[f64]) -> (Vec<f64>, f64) {
        let mut b = vec![0.0; p.len()];
        let ell = self.drift_into(p, &mut b);
        (b, ell)
    }

    /// [`ControlLaw::drift_and_cost`] without allocating: b(p) into `b` (length of `p`),
    /// returns ℓ(p).
    pub fn drift_into(&self, p: &[f64], b: &mut [f64]) -> f64 {
        b.iter_mut().for_each(|v| *v = 0.0);
        let mut ell = 0.0;
        for ch in &self.channels {
            let s: f64 = ch.column.iter().zip(p).map(|(c, p)| c * p).sum();
            let a = channel_control(ch.player, 1.0 / ch.weight, ch.bound, s);
            for (bi, ci) in b.iter_mut().zip(&ch.column) {
                *bi += ci * a;
            }
            let half = 0.5 * ch.weight * a * a;
            ell += match ch.player {
                Player::Designer => half,
                Player::Disturbance => -half,
            };
        }
        ell
    }

    /// The Hamiltonian H(p) = min_u max_w {…} of the module docs.
    pub fn hamiltonian(&self, p: &[f64]) -> f64 {
        let (b, ell) = self.drift_and_cost(p);
        b.iter().zip(p).map(|(b, p)| b * p).sum::<f64>() + ell
    }

    /// Checks the channels (finite columns of length d, r > 0, ā > 0) and that their
    /// unbounded matrix equals `a` (the model's A) to 1e-9 relative. Errors name
    /// `Param::AllocationBound` / `DisturbanceBound` for bad bounds, `Drift` otherwise.
    pub fn validate(&self, a: &Array2<f64>) -> Result<()> {
        let d = a.nrows();
        if d > MAX_DIM {
            return Err(SolverError::invalid(
                Param::Bounds,
                format!("bounded controls are implemented on grids of at most {MAX_DIM} axes"),
            ));
        }
        for ch in &self.channels {
            let field = match ch.player {
                Player::Designer => Param::AllocationBound,
                Player::Disturbance => Param::DisturbanceBound,
            };
            if ch.column.len() != d || ch.column.iter().any(|c| !c.is_finite()) {
                return Err(SolverError::invalid(
                    Param::Drift,
                    format!("channel '{}' needs {d} finite entries", ch.label),
                ));
            }
            if !(ch.weight.is_finite() && ch.weight > 0.0) {
                return Err(SolverError::invalid(
                    Param::ControlWeight,
                    format!("weight of '{}' must be finite and > 0", ch.label),
                ));
            }
            if ch.bound.is_nan() || ch.bound <= 0.0 {
                return Err(SolverError::invalid(field, "bound must be > 0"));
            }
        }
        let m = self.unbounded_matrix();
        let scale = a.iter().fold(0.0f64, |s, v| s.max(v.abs())).max(1e-300);
        let err = (&m - a).iter().fold(0.0f64, |s, v| s.max(v.abs()));
        if m.dim() != a.dim() || err > 1e-9 * scale || !is_symmetric(&m) {
            return Err(SolverError::invalid(
                Param::Drift,
                format!(
                    "the control channels do not reproduce A (max difference {err:.3e}); \
                     bounds need the game's own A"
                ),
            ));
        }
        Ok(())
    }
}

/// Channel data packed for the inner loops (the sweep kernels take at most [`MAX_CHANNELS`]
/// channels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PackedChannel {
    pub col: [f64; MAX_DIM],
    pub weight: f64,
    pub inv_r: f64,
    pub bound: f64,
    pub designer: bool,
}

/// Largest number of channels the sweep kernels take (n ≤ 6 players: n + q − 1 + d ≤ 72).
pub(crate) const MAX_CHANNELS: usize = 80;

impl ControlLaw {
    /// Refuses more than [`MAX_CHANNELS`] channels (the sweep kernels' limit).
    pub(crate) fn check_kernel_channels(&self) -> Result<()> {
        if self.channels.len() > MAX_CHANNELS {
            return Err(SolverError::invalid(
                Param::Bounds,
                format!("at most {MAX_CHANNELS} control channels"),
            ));
        }
        Ok(())
    }

    /// The channels packed for the inner loops ([`crate::physics::ChannelHamiltonian`]).
    pub(crate) fn pack(&self) -> Vec<PackedChannel> {
        self.channels
            .iter()
            .map(|ch| {
                let mut col = [0.0; MAX_DIM];
                col[..ch.column.len()].copy_from_slice(&ch.column);
                PackedChannel {
                    col,
                    weight: ch.weight,
                    inv_r: 1.0 / ch.weight,
                    bound: ch.bound,
                    designer: ch.player == Player::Designer,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn law(bu: f64, bw: f64) -> ControlLaw {
        ControlLaw {
            channels: vec![
                Channel {
                    column: vec![1.0, 1.0],
                    weight: 1.0,
                    bound: bu,
                    player: Player::Designer,
                    label: "u1".into(),
                },
                Channel {
                    column: vec![0.0, 1.0],
                    weight: 2.0,
                    bound: bu,
                    player: Player::Designer,
                    label: "u2".into(),
                },
                Channel {
                    column: vec![-1.0, 0.0],
                    weight: 4.0,
                    bound: bw,
                    player: Player::Disturbance,
                    label: "w1".into(),
                },
            ],
        }
    }

    /// Brute-force min over a over a fine control grid (max for the disturbance).
    fn brute(law: &ControlLaw, p: &[f64]) -> f64 {
        let mut h = 0.0;
        for ch in &law.channels {
            let s: f64 = ch.column.iter().zip(p).map(|(c, p)| c * p).sum();
            let lim = ch.bound.min(50.0);
            let n = 200_000;
            let mut best = match ch.player {
                Player::Designer => f64::INFINITY,
                Player::Disturbance => f64::NEG_INFINITY,
            };
            for k in 0..=n {
                let a = -lim + 2.0 * lim * k as f64 / n as f64;
                match ch.player {
                    Player::Designer => best = best.min(s * a + 0.5 * ch.weight * a * a),
                    Player::Disturbance => best = best.max(s * a - 0.5 * ch.weight * a * a),
                }
            }
            h += best;
        }
        h
    }

    #[test]
    fn hamiltonian_matches_brute_force_min_max() {
        let l = law(0.7, 0.3);
        for p in [
            [0.1, -0.2],
            [2.0, 1.0],
            [-3.0, 0.5],
            [0.0, 4.0],
            [5.0, -5.0],
        ] {
            let h = l.hamiltonian(&p);
            let hb = brute(&l, &p);
            assert!(
                (h - hb).abs() < 1e-6 * (1.0 + h.abs()),
                "{p:?}: {h} vs {hb}"
            );
        }
    }

    #[test]
    fn unbounded_law_is_the_quadratic_hamiltonian() {
        let l = law(f64::INFINITY, f64::INFINITY);
        let a = l.unbounded_matrix();
        assert_eq!(a, array![[-1.0 + 0.25, -1.0], [-1.0, -1.0 - 0.5]]);
        l.validate(&a).unwrap();
        let p = [0.3, -1.7];
        let (b, _) = l.drift_and_cost(&p);
        let ap = a.dot(&array![p[0], p[1]]);
        for i in 0..2 {
            assert!((b[i] - ap[i]).abs() < 1e-14);
        }
        let quad = 0.5 * (p[0] * ap[0] + p[1] * ap[1]);
        assert!((l.hamiltonian(&p) - quad).abs() < 1e-14);
    }

    #[test]
    fn drift_is_the_gradient_of_the_hamiltonian() {
        let l = law(0.7, 0.3);
        let eps = 1e-6;
        for p in [[0.1, -0.2], [2.0, 1.0], [-3.0, 0.5], [0.4, 0.2]] {
            let (b, _) = l.drift_and_cost(&p);
            for i in 0..2 {
                let mut pp = p;
                let mut pm = p;
                pp[i] += eps;
                pm[i] -= eps;
                let g = (l.hamiltonian(&pp) - l.hamiltonian(&pm)) / (2.0 * eps);
                assert!((g - b[i]).abs() < 1e-6, "{p:?} axis {i}: {g} vs {}", b[i]);
            }
        }
    }

    #[test]
    fn drift_control_reproduces_a() {
        let a = array![[-1.0, 0.3], [0.3, -0.8]];
        let law = ControlLaw::drift_control(&a).unwrap();
        let diff = (&law.unbounded_matrix() - &a)
            .iter()
            .fold(0.0f64, |s, v| s.max(v.abs()));
        assert!(diff < 1e-14);
        assert!(ControlLaw::drift_control(&array![[0.1]]).is_err());
    }

    #[test]
    fn validate_names_the_field() {
        let l = law(-1.0, 1.0);
        let a = l.unbounded_matrix();
        let e = l.validate(&a).unwrap_err().to_string();
        assert!(e.contains(&Param::AllocationBound.to_string()), "{e}");
        let l = law(1.0, 1.0);
        let e = l.validate(&(&a * 2.0)).unwrap_err().to_string();
        assert!(e.contains(&Param::Drift.to_string()), "{e}");
    }
}
