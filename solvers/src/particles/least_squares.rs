//! The paper's Section 8 least-squares control in the full coalition space and the
//! Section 8.1 internal model of the mean.

use super::Policy;
use crate::error::{Param, Result, SolverError};
use crate::game::Game;
use crate::linalg::symmetric_eigen;
use ndarray::{Array1, Array2, ArrayView1};

/// The paper's Section 8.1 internal model of the mean, the explicit Euler discretisation
/// of (19): m̃(t + dt) = m̃(t) − θ m̃(t) dt, m̃(0) = `start`; shape (steps+1, q). A
/// heuristic stand-in for the population mean. Field `heuristic.theta` for θ < 0 or
/// non-finite.
pub fn internal_model_path(
    start: ArrayView1<f64>,
    theta: f64,
    dt: f64,
    steps: usize,
) -> Result<Array2<f64>> {
    if !(theta.is_finite() && theta >= 0.0) {
        return Err(SolverError::invalid(
            Param::Theta,
            format!("must be finite and ≥ 0, got {theta}"),
        ));
    }
    let mut out = Array2::zeros((steps + 1, start.len()));
    out.row_mut(0).assign(&start);
    for n in 0..steps {
        let next = &out.row(n) * (1.0 - theta * dt);
        out.row_mut(n + 1).assign(&next);
    }
    Ok(out)
}

/// What the least-squares control of Section 8 steers towards.
#[derive(Debug, Clone, PartialEq)]
pub enum LeastSquaresTarget {
    /// The empirical target ρ̂_k = Σ_j W_kj m̂_j (for one population: its own empirical
    /// mean m̄), recomputed at every step (Table 3, step 3).
    Empirical,
    /// A given path per population, shape (steps+1, q).
    Given(Vec<Array2<f64>>),
}

/// The paper's Section 8 control in the full coalition space (q = 2ⁿ − 1 axes): with the
/// error e = m̄ − x, u = e_ls = (B_HᵀB_H)⁻¹B_Hᵀe, and dx = B_H u dt + σ dW (41). The drift
/// is b = Π(m̄ − x) with Π = B_H(B_HᵀB_H)⁻¹B_Hᵀ the orthogonal projector onto range B_H.
/// With σ = 0 and m̄ constant, Πe decays like (1 − dt)ⁿ and (I − Π)e is constant, so
/// x → Πm̄ + (I − Π)x(0): the least-squares allocation of the state converges to that of
/// m̄(0) (the paper's Fig. 6 claim).
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquaresPolicy {
    pub(super) b_h: Array2<f64>,
    pub(super) gain: Array2<f64>,
    pub(super) proj: Array2<f64>,
    pub(super) target: LeastSquaresTarget,
}

impl LeastSquaresPolicy {
    /// The control of an n-player game (B_H from [`Game`]); `Param::Players` for a
    /// bad n, `policy` for a given target of the wrong width.
    pub fn new(players: usize, target: LeastSquaresTarget) -> Result<Self> {
        let game = Game::new(players)?;
        let b_h = game.incidence().clone();
        let q = b_h.nrows();
        if let LeastSquaresTarget::Given(paths) = &target {
            if paths.is_empty() || paths.iter().any(|p| p.ncols() != q) {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    format!("least-squares targets need {q} columns per population"),
                ));
            }
        }
        let gram = b_h.t().dot(&b_h);
        let (ev, u) = symmetric_eigen(&gram)?;
        let mut scaled = u.clone();
        for (mut col, &l) in scaled.columns_mut().into_iter().zip(ev.iter()) {
            col /= l;
        }
        let inv = scaled.dot(&u.t());
        let gain = inv.dot(&b_h.t());
        let proj = b_h.dot(&gain);
        Ok(LeastSquaresPolicy {
            b_h,
            gain,
            proj,
            target,
        })
    }

    /// B_H (q×n).
    pub fn incidence(&self) -> &Array2<f64> {
        &self.b_h
    }

    /// Π = B_H(B_HᵀB_H)⁻¹B_Hᵀ (q×q).
    pub fn projector(&self) -> &Array2<f64> {
        &self.proj
    }

    /// The least-squares allocation (B_HᵀB_H)⁻¹B_Hᵀy of a q-vector y.
    pub fn allocation(&self, y: ArrayView1<f64>) -> Array1<f64> {
        self.gain.dot(&y)
    }

    /// N → ∞ limit of the Euler scheme's means (exact for this linear drift):
    /// m_k,n+1 = m_k,n + dt Π(ρ_k,n − m_k,n), ρ from W (empirical target) or the given path.
    pub fn euler_means(
        &self,
        mean0: &[Array1<f64>],
        averaging: &Array2<f64>,
        dt: f64,
        steps: usize,
    ) -> Vec<Array2<f64>> {
        let p = mean0.len();
        let q = self.proj.nrows();
        let mut out: Vec<Array2<f64>> = mean0
            .iter()
            .map(|m| {
                let mut a = Array2::zeros((steps + 1, q));
                a.row_mut(0).assign(m);
                a
            })
            .collect();
        for n in 0..steps {
            for k in 0..p {
                let rho = match &self.target {
                    LeastSquaresTarget::Empirical => {
                        let mut r = Array1::zeros(q);
                        for j in 0..p {
                            r.scaled_add(averaging[[k, j]], &out[j].row(n));
                        }
                        r
                    }
                    LeastSquaresTarget::Given(paths) => paths[k].row(n).to_owned(),
                };
                let e = &rho - &out[k].row(n);
                let next = &out[k].row(n) + &(self.proj.dot(&e) * dt);
                out[k].row_mut(n + 1).assign(&next);
            }
        }
        out
    }
}

impl Policy for LeastSquaresPolicy {
    fn dim(&self) -> usize {
        self.proj.nrows()
    }

    fn populations(&self) -> Option<usize> {
        match &self.target {
            LeastSquaresTarget::Empirical => None,
            LeastSquaresTarget::Given(p) => Some(p.len()),
        }
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], target: &[f64], out: &mut [f64]) {
        let q = x.len();
        let given;
        let m: &[f64] = match &self.target {
            LeastSquaresTarget::Empirical => target,
            LeastSquaresTarget::Given(paths) => {
                given = paths[k].row(level).to_vec();
                &given
            }
        };
        for i in 0..q {
            out[i] = (0..q).map(|j| self.proj[[i, j]] * (m[j] - x[j])).sum();
        }
    }

    fn check_steps(&self, steps: usize) -> Result<()> {
        if let LeastSquaresTarget::Given(paths) = &self.target {
            if paths.iter().any(|p| p.nrows() != steps + 1) {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    format!("least-squares targets need {} levels", steps + 1),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn internal_model_path_is_geometric_and_rejects_negative_theta() {
        let m = internal_model_path(array![10.0, -20.0].view(), 0.01, 0.1, 5000).unwrap();
        let f = (1.0f64 - 0.001).powi(5000);
        assert!((m[[5000, 0]] - 10.0 * f).abs() < 1e-12);
        assert!((m[[5000, 1]] + 20.0 * f).abs() < 1e-12);
        // θ = 0: constant.
        let c = internal_model_path(array![3.0].view(), 0.0, 0.1, 7).unwrap();
        assert!(c.iter().all(|&v| v == 3.0));
        let e = internal_model_path(array![1.0].view(), -1.0, 0.1, 3).unwrap_err();
        assert!(e.to_string().contains(&Param::Theta.to_string()), "{e}");
    }
}
