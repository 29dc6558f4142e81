//! The two [`Hamiltonian`]s: quadratic ½pᵀAp and saturating control channels.

#![allow(clippy::needless_range_loop)] // index loops over d ≤ 3 axes read best as maths

use super::{Hamiltonian, Seg, M3};
use crate::hamiltonian::{channel_control, PackedChannel, Player};

/// H(p) = ½pᵀAp with A symmetric negative definite (docs/design.md §1): drift b = Ap,
/// control cost ℓ = −½b·p (docs/design.md §4.1 steps 1–2).
#[derive(Debug, Clone)]
pub(crate) struct QuadraticHamiltonian {
    d: usize,
    a: M3,
}

impl QuadraticHamiltonian {
    /// ½pᵀAp on d axes (`a` padded with zeros).
    pub(crate) fn new(d: usize, a: M3) -> Self {
        QuadraticHamiltonian { d, a }
    }
}

/// Drift component b_i = Σ_k A_ik p_k at segment position q (`a` = row i of A).
#[inline(always)]
fn bcomp<const D: usize>(a: &[f64; 3], p: &Seg<D>, q: usize) -> f64 {
    let mut s = a[0] * p[0][q];
    for k in 1..D {
        s += a[k] * p[k][q];
    }
    s
}

impl Hamiltonian for QuadraticHamiltonian {
    #[inline]
    fn drift_at(&self, p: &[f64], _pi: &[f64], b: &mut [f64]) -> f64 {
        let d = self.d;
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

    #[inline(always)]
    fn drift_axis_seg<const D: usize>(
        &self,
        axis: usize,
        p: &Seg<D>,
        _pd: &Seg<D>,
        out: &mut [f64],
    ) {
        for (q, b) in out.iter_mut().enumerate() {
            *b = bcomp::<D>(&self.a[axis], p, q);
        }
    }

    #[inline(always)]
    fn drift_seg<const D: usize>(&self, p: &Seg<D>, _pd: &Seg<D>, w: usize, b: &mut Seg<D>) {
        for i in 0..D {
            for q in 0..w {
                b[i][q] = bcomp::<D>(&self.a[i], p, q);
            }
        }
    }

    #[inline(always)]
    fn last_source_seg<const D: usize>(
        &self,
        p: &Seg<D>,
        _pd: &Seg<D>,
        bl: &mut [f64],
        fg: &mut [f64],
    ) {
        let l = D - 1;
        let w = fg.len();
        let bl = &mut bl[..w];
        for q in 0..w {
            // outer = Σ_{k<l} b_k p_k; g_last = f − ½(outer + b_l p_l) + outer.
            let mut outer = 0.0;
            for i in 0..l {
                outer += bcomp::<D>(&self.a[i], p, q) * p[i][q];
            }
            let blast = bcomp::<D>(&self.a[l], p, q);
            bl[q] = blast;
            fg[q] += 0.5 * (outer - blast * p[l][q]);
        }
    }
}

/// H(p) as a sum over control channels (docs/design.md §4.1 "bounded controls",
/// [`crate::hamiltonian`]): each channel plays a = clamp(∓(c·p)/r, −ā, ā), the drift is
/// b = Σ c a and the control cost ℓ = Σ_designer ½ra² − Σ_disturbance ½ra². The designer's
/// channels read `pd` (a policy's gradient in policy evaluation), the disturbance's `p`.
#[derive(Debug, Clone)]
pub(crate) struct ChannelHamiltonian {
    d: usize,
    law: Vec<PackedChannel>,
}

impl ChannelHamiltonian {
    /// The channels `law` on d axes.
    pub(crate) fn new(d: usize, law: Vec<PackedChannel>) -> Self {
        ChannelHamiltonian { d, law }
    }

    /// True without channels.
    pub(crate) fn is_empty(&self) -> bool {
        self.law.is_empty()
    }

    /// Drift b (all D components) and control cost ℓ on the first `w` nodes of a segment,
    /// channel by channel over the segment so that the node loop vectorises.
    #[inline(always)]
    fn seg<const D: usize>(
        &self,
        p: &Seg<D>,
        pd: &Seg<D>,
        w: usize,
        b: &mut Seg<D>,
        ell: &mut [f64; super::SEG],
    ) {
        for bk in b.iter_mut() {
            bk[..w].fill(0.0);
        }
        ell[..w].fill(0.0);
        for ch in &self.law {
            let src = if ch.designer { pd } else { p };
            let (scale, half) = if ch.designer {
                (-ch.inv_r, 0.5 * ch.weight)
            } else {
                (ch.inv_r, -(0.5 * ch.weight))
            };
            let (lo, hi) = (-ch.bound, ch.bound);
            for q in 0..w {
                let mut sp = ch.col[0] * src[0][q];
                for k in 1..D {
                    sp += ch.col[k] * src[k][q];
                }
                let a = (sp * scale).max(lo).min(hi);
                for k in 0..D {
                    b[k][q] += ch.col[k] * a;
                }
                ell[q] += half * a * a;
            }
        }
    }
}

impl Hamiltonian for ChannelHamiltonian {
    #[inline]
    fn drift_at(&self, p: &[f64], pi: &[f64], b: &mut [f64]) -> f64 {
        // Channel by channel in the order of [`crate::hamiltonian::ControlLaw::drift_into`]
        // (the same bits at π = p).
        let d = self.d;
        b[..d].iter_mut().for_each(|v| *v = 0.0);
        let mut ell = 0.0;
        for c in &self.law {
            let (player, at) = if c.designer {
                (Player::Designer, &pi[..d])
            } else {
                (Player::Disturbance, &p[..d])
            };
            let s: f64 = c.col[..d].iter().zip(at).map(|(c, p)| c * p).sum();
            let a = channel_control(player, c.inv_r, c.bound, s);
            for (bi, ci) in b[..d].iter_mut().zip(&c.col[..d]) {
                *bi += ci * a;
            }
            let half = 0.5 * c.weight * a * a;
            ell += if c.designer { half } else { -half };
        }
        ell
    }

    #[inline(always)]
    fn drift_axis_seg<const D: usize>(
        &self,
        axis: usize,
        p: &Seg<D>,
        pd: &Seg<D>,
        out: &mut [f64],
    ) {
        let w = out.len();
        let mut b = [[0.0; super::SEG]; D];
        let mut ell = [0.0; super::SEG];
        self.seg::<D>(p, pd, w, &mut b, &mut ell);
        out.copy_from_slice(&b[axis][..w]);
    }

    #[inline(always)]
    fn drift_seg<const D: usize>(&self, p: &Seg<D>, pd: &Seg<D>, w: usize, b: &mut Seg<D>) {
        let mut ell = [0.0; super::SEG];
        self.seg::<D>(p, pd, w, b, &mut ell);
    }

    #[inline(always)]
    fn last_source_seg<const D: usize>(
        &self,
        p: &Seg<D>,
        pd: &Seg<D>,
        bl: &mut [f64],
        fg: &mut [f64],
    ) {
        let l = D - 1;
        let w = fg.len();
        let bl = &mut bl[..w];
        let mut b = [[0.0; super::SEG]; D];
        let mut ell = [0.0; super::SEG];
        self.seg::<D>(p, pd, w, &mut b, &mut ell);
        for q in 0..w {
            let mut outer = 0.0;
            for i in 0..l {
                outer += b[i][q] * p[i][q];
            }
            bl[q] = b[l][q];
            fg[q] = fg[q] + ell[q] + outer;
        }
    }
}
