//! The exact LQ mean-field feedback (11)-(12) and the Section 7/8.2 heuristic feedback
//! towards given targets.

use super::Policy;
use crate::error::{Param, Result, SolverError};
use crate::lq::{GaussianMoments, LqEquilibrium};
use crate::model::Model;
use ndarray::{s, Array2, Array3, ArrayView1, ArrayView2};

/// The exact LQ mean-field feedback b = A(φ(t_n)x + h_k(t_n)) of (11)-(12), evaluated at
/// the left end of each Euler step.
#[derive(Debug, Clone, PartialEq)]
pub struct LqPolicy {
    pub(super) a: Array2<f64>,
    pub(super) phi: Array3<f64>,
    pub(super) h: Vec<Array2<f64>>,
}

impl LqPolicy {
    /// Policy from A (d×d), φ (levels, d, d) and h_k (levels, d) per population.
    /// Field `policy` on inconsistent shapes or non-finite values.
    pub fn new(a: Array2<f64>, phi: Array3<f64>, h: Vec<Array2<f64>>) -> Result<Self> {
        let d = a.nrows();
        let levels = phi.dim().0;
        let ok = a.ncols() == d
            && phi.dim() == (levels, d, d)
            && levels >= 2
            && !h.is_empty()
            && h.iter().all(|hk| hk.dim() == (levels, d))
            && a.iter()
                .chain(phi.iter())
                .chain(h.iter().flat_map(|x| x.iter()))
                .all(|v| v.is_finite());
        if !ok {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                "LQ feedback needs A (d×d), φ (levels, d, d) and h (levels, d) per population, finite",
            ));
        }
        Ok(LqPolicy { a, phi, h })
    }

    /// The mean-field equilibrium policy of `eq` (computed for `model`).
    pub fn from_equilibrium(model: &Model, eq: &LqEquilibrium) -> Result<Self> {
        LqPolicy::new(
            model.a.clone(),
            eq.phi.clone(),
            eq.populations.iter().map(|p| p.h.clone()).collect(),
        )
    }

    /// The Section 7/8.2 heuristic feedback towards given targets: b = Aφ(t_n)(x − μ_k(t_n))
    /// (Section 7's feedback with h_k = −φμ_k; Theorem 4's h_k solves (35) driven by ρ_k),
    /// with μ_k e.g. the second-order consensus means of (43).
    /// A heuristic, not the equilibrium. Field `policy` on inconsistent shapes.
    pub fn towards(a: Array2<f64>, phi: Array3<f64>, targets: &[Array2<f64>]) -> Result<Self> {
        let (levels, d, _) = phi.dim();
        if targets.iter().any(|m| m.dim() != (levels, d)) {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!("targets need shape ({levels}, {d}) per population"),
            ));
        }
        let h = targets
            .iter()
            .map(|mu| {
                let mut h = Array2::zeros((levels, d));
                for n in 0..levels {
                    h.row_mut(n)
                        .assign(&(-phi.slice(s![n, .., ..]).dot(&mu.row(n))));
                }
                h
            })
            .collect();
        LqPolicy::new(a, phi, h)
    }

    /// Exact law of the Euler–Maruyama chain under this feedback (its N → ∞ limit), from
    /// N(`mean0`, `cov0`) for population `k`: with M_n = I + dt Aφ_n,
    /// m_{n+1} = M_n m_n + dt A h_n, Σ_{n+1} = M_n Σ_n M_nᵀ + σ² dt I.
    /// These differ from the continuous closed-loop moments by O(dt).
    pub fn euler_moments(
        &self,
        k: usize,
        mean0: ArrayView1<f64>,
        cov0: ArrayView2<f64>,
        sigma: f64,
        dt: f64,
    ) -> GaussianMoments {
        let d = self.a.nrows();
        let levels = self.phi.dim().0;
        let mut mean = Array2::zeros((levels, d));
        let mut cov = Array3::zeros((levels, d, d));
        mean.row_mut(0).assign(&mean0);
        cov.slice_mut(s![0, .., ..]).assign(&cov0);
        for n in 0..levels - 1 {
            let mut m = Array2::<f64>::eye(d);
            m.scaled_add(dt, &self.a.dot(&self.phi.slice(s![n, .., ..])));
            let next = m.dot(&mean.row(n)) + self.a.dot(&self.h[k].row(n)) * dt;
            mean.row_mut(n + 1).assign(&next);
            let mut c = m.dot(&cov.slice(s![n, .., ..])).dot(&m.t());
            for i in 0..d {
                c[[i, i]] += sigma * sigma * dt;
            }
            cov.slice_mut(s![n + 1, .., ..]).assign(&c);
        }
        GaussianMoments { mean, cov }
    }
}

impl Policy for LqPolicy {
    fn dim(&self) -> usize {
        self.a.nrows()
    }

    fn populations(&self) -> Option<usize> {
        Some(self.h.len())
    }

    fn drift(&self, k: usize, level: usize, x: &[f64], _target: &[f64], out: &mut [f64]) {
        let d = x.len();
        let phi = self.phi.slice(s![level, .., ..]);
        let h = self.h[k].row(level);
        if d <= 8 {
            let mut g = [0.0; 8];
            for i in 0..d {
                let mut acc = h[i];
                for j in 0..d {
                    acc += phi[[i, j]] * x[j];
                }
                g[i] = acc;
            }
            for i in 0..d {
                out[i] = (0..d).map(|j| self.a[[i, j]] * g[j]).sum();
            }
        } else {
            let gv = phi.dot(&ArrayView1::from(x)) + h;
            let b = self.a.dot(&gv);
            out.copy_from_slice(b.as_slice().expect("contiguous"));
        }
    }

    fn check_steps(&self, steps: usize) -> Result<()> {
        if self.phi.dim().0 != steps + 1 {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!(
                    "the LQ feedback has {} levels, the simulation needs {}",
                    self.phi.dim().0,
                    steps + 1
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1};

    #[test]
    fn feedback_towards_targets_is_a_phi_times_offset() {
        let a = array![[-1.0, 0.2], [0.2, -2.0]];
        let mut phi = Array3::zeros((3, 2, 2));
        for n in 0..3 {
            phi.slice_mut(s![n, .., ..])
                .assign(&(array![[1.0, 0.1], [0.1, 0.5]] * (n + 1) as f64));
        }
        let mu = Array2::from_shape_fn((3, 2), |(n, j)| (n + j) as f64 - 0.5);
        let pol = LqPolicy::towards(a.clone(), phi.clone(), std::slice::from_ref(&mu)).unwrap();
        let x = [0.7, -1.3];
        let mut out = [0.0; 2];
        pol.drift(0, 2, &x, &[0.0, 0.0], &mut out);
        let off: Array1<f64> = &array![0.7, -1.3] - &mu.row(2);
        let p2: Array2<f64> = phi.slice(s![2, .., ..]).to_owned();
        let want = a.dot(&p2.dot(&off));
        for i in 0..2 {
            assert!((out[i] - want[i]).abs() < 1e-14, "{out:?} vs {want}");
        }
        // At x = μ_k(t) the drift vanishes.
        pol.drift(0, 1, &[mu[[1, 0]], mu[[1, 1]]], &[0.0, 0.0], &mut out);
        assert!(out.iter().all(|v| v.abs() < 1e-14));
        assert!(LqPolicy::towards(a, phi, &[Array2::zeros((2, 2))]).is_err());
    }
}
