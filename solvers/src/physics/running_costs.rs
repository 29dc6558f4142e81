//! The two [`RunningCost`]s: quadratic tracking and tracking plus core-stability penalty.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use super::{RunningCost, M3};
use crate::grid::MAX_DIM;

/// f = ½(ρ−x)ᵀQ(ρ−x), Q symmetric positive semidefinite (docs/design.md §1, the LQ model).
#[derive(Debug, Clone)]
pub(crate) struct QuadraticCost {
    d: usize,
    q: M3,
    half_q: M3,
}

impl QuadraticCost {
    /// ½(ρ−x)ᵀQ(ρ−x) on d axes (`q` padded with zeros).
    pub(crate) fn new(d: usize, q: M3) -> Self {
        let mut half_q = [[0.0; MAX_DIM]; MAX_DIM];
        for i in 0..d {
            for k in 0..d {
                half_q[i][k] = 0.5 * q[i][k];
            }
        }
        QuadraticCost { d, q, half_q }
    }
}

impl RunningCost for QuadraticCost {
    /// f0 = ½ Σ_{i,k<l} Q_ik w_i w_k and f1 = Σ_{i<l} Q_il w_i with w = ρ − x on the
    /// outer axes, so that f = f0 + w_l (f1 + ½Q_ll w_l) along the row.
    type Row = (f64, f64);

    #[inline]
    fn at(&self, rho: &[f64], x: &[f64]) -> f64 {
        half_form(self.d, &self.q, rho, x)
    }

    #[inline(always)]
    fn row<const D: usize>(&self, rho: &[f64; MAX_DIM], x: &[f64; MAX_DIM]) -> (f64, f64) {
        let l = D - 1;
        let mut wv = [0.0; MAX_DIM];
        for k in 0..l {
            wv[k] = rho[k] - x[k];
        }
        let (mut f0, mut f1) = (0.0, 0.0);
        for i in 0..l {
            for k in 0..l {
                f0 += self.half_q[i][k] * wv[i] * wv[k];
            }
            f1 += 2.0 * self.half_q[i][l] * wv[i];
        }
        (f0, f1)
    }

    #[inline(always)]
    fn along_row<const D: usize>(
        &self,
        (f0, f1): (f64, f64),
        rho_l: f64,
        xl: &[f64],
        f: &mut [f64],
    ) {
        let l = D - 1;
        let hq = self.half_q[l][l];
        for (fq, &x) in f[..xl.len()].iter_mut().zip(xl) {
            let wl = rho_l - x;
            *fq = f0 + wl * (f1 + hq * wl);
        }
    }
}

/// ½(ρ−x)ᵀM(ρ−x) on the first `d` axes, summed in index order: the quadratic running
/// cost (M = Q) and the terminal cost (M = S) at one node (docs/design.md §1).
#[inline]
pub(crate) fn half_form(d: usize, m: &M3, rho: &[f64], x: &[f64]) -> f64 {
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

/// One axis's share of the core-stability cost: κ max(0, −x)².
#[inline(always)]
fn core_term(kappa: f64, x: f64) -> f64 {
    let neg = if x < 0.0 { -x } else { 0.0 };
    kappa * neg * neg
}

/// f = ½(ρ−x)ᵀQ(ρ−x) + κ Σ_j max(0, −x_j)², κ > 0 (`cost.core_penalty`): the quadratic
/// cost plus the core-stability penalty on negative surpluses (docs/design.md §1).
#[derive(Debug, Clone)]
pub(crate) struct CorePenaltyCost {
    quadratic: QuadraticCost,
    kappa: f64,
}

impl CorePenaltyCost {
    /// `quadratic` plus κ Σ_j max(0, −x_j)².
    pub(crate) fn new(quadratic: QuadraticCost, kappa: f64) -> Self {
        CorePenaltyCost { quadratic, kappa }
    }

    /// The quadratic part.
    pub(crate) fn quadratic(&self) -> &QuadraticCost {
        &self.quadratic
    }
}

impl RunningCost for CorePenaltyCost {
    /// The quadratic cost's row constants, f0 also holding κ Σ_{k<l} max(0, −x_k)².
    type Row = (f64, f64);

    #[inline]
    fn at(&self, rho: &[f64], x: &[f64]) -> f64 {
        let mut core = 0.0;
        for &xi in &x[..self.quadratic.d] {
            let neg = if xi < 0.0 { -xi } else { 0.0 };
            core += self.kappa * neg * neg;
        }
        self.quadratic.at(rho, x) + core
    }

    #[inline(always)]
    fn row<const D: usize>(&self, rho: &[f64; MAX_DIM], x: &[f64; MAX_DIM]) -> (f64, f64) {
        let (mut f0, f1) = self.quadratic.row::<D>(rho, x);
        for k in 0..D - 1 {
            f0 += core_term(self.kappa, x[k]);
        }
        (f0, f1)
    }

    #[inline(always)]
    fn along_row<const D: usize>(&self, row: (f64, f64), rho_l: f64, xl: &[f64], f: &mut [f64]) {
        self.quadratic.along_row::<D>(row, rho_l, xl, f);
        for (fq, &x) in f[..xl.len()].iter_mut().zip(xl) {
            *fq += core_term(self.kappa, x);
        }
    }
}
