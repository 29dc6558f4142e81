//! A point's grid cell: multilinear interpolation weights, their fixed-point integer
//! form for order-free histograms, and the nearest node.

use super::WEIGHT_BITS;
use crate::grid::{Grid, MAX_DIM};

/// A point's cell: lower node index and fraction per axis (clamped to the box).
pub(super) struct Cell {
    base: usize,
    frac: [f64; MAX_DIM],
    strides: [usize; MAX_DIM],
}

impl Cell {
    /// Locates `x[coord(i)]` on axis i of `grid`.
    pub(super) fn locate(grid: &Grid, x: &[f64], coord: impl Fn(usize) -> usize) -> Cell {
        let d = grid.dim();
        let mut base = 0;
        let mut frac = [0.0; MAX_DIM];
        let mut strides = [0; MAX_DIM];
        for i in 0..d {
            let ax = grid.axis(i);
            let n = ax.len();
            let s = ((x[coord(i)] - ax.lo()) / ax.spacing()).clamp(0.0, (n - 1) as f64);
            let j = (s.floor() as usize).min(n - 2);
            frac[i] = s - j as f64;
            base += j * grid.strides()[i];
            strides[i] = grid.strides()[i];
        }
        Cell {
            base,
            frac,
            strides,
        }
    }

    /// The 2^d corners (flat index, multilinear weight).
    pub(super) fn corners(&self, d: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        (0..1usize << d).map(move |mask| {
            let mut idx = self.base;
            let mut w = 1.0;
            for i in 0..d {
                if mask >> i & 1 == 1 {
                    idx += self.strides[i];
                    w *= self.frac[i];
                } else {
                    w *= 1.0 - self.frac[i];
                }
            }
            (idx, w)
        })
    }

    /// The corners with fixed-point integer weights summing to exactly 2^(32·d).
    pub(super) fn integer_corners(&self, d: usize) -> impl Iterator<Item = (usize, u128)> + '_ {
        let one = 1u128 << WEIGHT_BITS;
        let fq: Vec<u128> = (0..d)
            .map(|i| ((self.frac[i] * one as f64).round() as u128).min(one))
            .collect();
        (0..1usize << d).map(move |mask| {
            let mut idx = self.base;
            let mut w = 1u128;
            for i in 0..d {
                if mask >> i & 1 == 1 {
                    idx += self.strides[i];
                    w *= fq[i];
                } else {
                    w *= one - fq[i];
                }
            }
            (idx, w)
        })
    }

    /// Nearest node.
    pub(super) fn nearest(&self, d: usize) -> usize {
        let mut idx = self.base;
        for i in 0..d {
            if self.frac[i] >= 0.5 {
                idx += self.strides[i];
            }
        }
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_cic_weights_sum_to_one_copy() {
        let grid = Grid::from_bounds(&[0.0, -1.0], &[1.0, 1.0], &[5, 7]).unwrap();
        let cell = Cell::locate(&grid, &[0.3141, 0.2718], |i| i);
        let tot: u128 = cell.integer_corners(2).map(|(_, w)| w).sum();
        assert_eq!(tot, 1u128 << 64);
        let f: f64 = cell.corners(2).map(|(_, w)| w).sum();
        assert!((f - 1.0).abs() < 1e-15);
    }
}
