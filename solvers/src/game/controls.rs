//! The control channels of a projected game ([`crate::hamiltonian`]): the columns of PB
//! (designer) and of −P (disturbance) with their weights and bounds.

use super::{coalition_label, ControlWeight, DisturbanceWeight, Game};
use crate::error::{Param, Result, SolverError};
use crate::hamiltonian::{Channel, ControlLaw, Player};
use crate::linalg::symmetric_eigen;
use ndarray::Array2;

/// Entries below this (relative to the largest) are zero when testing for a diagonal matrix
/// and when dropping channels that do not act on the grid axes.
const ZERO_TOL: f64 = 1e-14;

fn diagonal_of(m: &Array2<f64>) -> Option<Vec<f64>> {
    let scale = m.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    let off = m
        .indexed_iter()
        .filter(|((i, k), _)| i != k)
        .fold(0.0f64, |s, (_, v)| s.max(v.abs()));
    (off <= ZERO_TOL * scale).then(|| m.diag().to_vec())
}

fn nonzero(col: &[f64]) -> bool {
    col.iter().any(|c| c.abs() > ZERO_TOL)
}

/// Channels of a symmetric PSD matrix M = Σ λ u uᵀ: columns √λ u with weight 1.
fn eigen_channels(m: &Array2<f64>, player: Player, what: &str) -> Result<Vec<Channel>> {
    let (ev, vecs) = symmetric_eigen(m)?;
    let top = ev.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    Ok(ev
        .iter()
        .enumerate()
        .filter(|(_, &l)| l > ZERO_TOL * top)
        .map(|(k, &l)| Channel {
            column: vecs.column(k).iter().map(|u| u * l.sqrt()).collect(),
            weight: 1.0,
            bound: f64::INFINITY,
            player,
            label: format!("{what} mode {}", k + 1),
        })
        .collect())
}

impl Game {
    /// The control channels on the coalitions `selection` (grid axes), such that
    /// `unbounded_matrix()` = A_P = −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ:
    ///
    /// * designer: one channel per component of the augmented allocation u = (ũ, s) of
    ///   eq. (2) (the n allocations ũ_i and the q − 1 surpluses s_j) with column (PB)_{·i},
    ///   weight R_ii, each bounded by `allocation_bound` (`Param::AllocationBound`:
    ///   |u_i| ≤ ū for every component; bounding ũ alone would leave the surpluses to
    ///   supply any drift). A bound needs a diagonal R
    ///   (R scalar or diagonal); an unbounded non-diagonal R gives the eigen-channels
    ///   of P B R⁻¹ Bᵀ Pᵀ.
    /// * disturbance: one channel per selected coalition j with column −e_j, weight Γ_jj,
    ///   bounded by `disturbance_bound` (`Param::DisturbanceBound`, needs a diagonal Γ);
    ///   an unbounded non-diagonal Γ gives the eigen-channels of (Γ⁻¹)_JJ.
    pub fn control_law(
        &self,
        selection: &[usize],
        r: &ControlWeight,
        gamma: &DisturbanceWeight,
        allocation_bound: Option<f64>,
        disturbance_bound: Option<f64>,
    ) -> Result<ControlLaw> {
        self.check_selection(selection)?;
        for (field, b) in [
            (Param::AllocationBound, allocation_bound),
            (Param::DisturbanceBound, disturbance_bound),
        ] {
            if let Some(b) = b {
                if !(b.is_finite() && b > 0.0) {
                    return Err(SolverError::invalid(
                        field,
                        format!("got {b}; the bound must be finite and > 0"),
                    ));
                }
            }
        }
        let n = self.players();
        let mut channels = Vec::new();
        let pb = self.b().select(ndarray::Axis(0), selection);
        let r_diag = match r {
            ControlWeight::Scalar(r) => Some(vec![*r; self.num_controls()]),
            ControlWeight::Matrix(m) => diagonal_of(m),
        };
        match r_diag {
            Some(rd) => {
                for (i, &ri) in rd.iter().enumerate() {
                    let column: Vec<f64> = pb.column(i).to_vec();
                    if !nonzero(&column) {
                        continue;
                    }
                    let bound = allocation_bound.unwrap_or(f64::INFINITY);
                    let label = if i < n {
                        format!("allocation {}", i + 1)
                    } else {
                        format!("surplus {}", coalition_label(&self.coalitions()[i - n]))
                    };
                    channels.push(Channel {
                        column,
                        weight: ri,
                        bound,
                        player: Player::Designer,
                        label,
                    });
                }
            }
            None if allocation_bound.is_some() => {
                return Err(SolverError::invalid(
                    Param::AllocationBound,
                    "bounded allocations need a diagonal R (the control weight: a number or a \
                     diagonal matrix): with cross weights the bound does not act channel by channel",
                ));
            }
            None => channels.extend(eigen_channels(
                &self.projected_gram(selection, r)?,
                Player::Designer,
                "designer",
            )?),
        }
        let gi = gamma.inverse(self.num_coalitions())?;
        let g_diag = match gamma {
            DisturbanceWeight::Gamma(g) => Some(vec![g * g; self.num_coalitions()]),
            DisturbanceWeight::Matrix(m) => diagonal_of(m),
            DisturbanceWeight::InverseMatrix(m) => {
                diagonal_of(m).map(|d| d.iter().map(|x| 1.0 / x).collect())
            }
        };
        let d = selection.len();
        match g_diag {
            Some(gd) => {
                for (axis, &j) in selection.iter().enumerate() {
                    let mut column = vec![0.0; d];
                    column[axis] = -1.0;
                    channels.push(Channel {
                        column,
                        weight: gd[j],
                        bound: disturbance_bound.unwrap_or(f64::INFINITY),
                        player: Player::Disturbance,
                        label: format!("disturbance {}", coalition_label(&self.coalitions()[j])),
                    });
                }
            }
            None if disturbance_bound.is_some() => {
                return Err(SolverError::invalid(
                    Param::DisturbanceBound,
                    "a bounded disturbance needs a diagonal Γ (the disturbance weight: γ²I or a \
                     diagonal matrix)",
                ));
            }
            None => {
                let sub = gi.select(ndarray::Axis(0), selection);
                let sub = sub.select(ndarray::Axis(1), selection);
                channels.extend(eigen_channels(&sub, Player::Disturbance, "disturbance")?);
            }
        }
        Ok(ControlLaw { channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn max_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        (a - b).iter().fold(0.0f64, |s, v| s.max(v.abs()))
    }

    #[test]
    fn channels_reproduce_projected_a() {
        let g = Game::new(3).unwrap();
        let sel = [0usize, 3];
        let cases = [
            (ControlWeight::Scalar(1.0), DisturbanceWeight::Gamma(2.0)),
            (
                ControlWeight::Matrix(Array2::from_diag(&ndarray::Array1::from(vec![
                    1.0, 2.0, 3.0, 1.5, 1.0, 1.0, 2.0, 1.0, 1.0,
                ]))),
                DisturbanceWeight::Gamma(2.5),
            ),
            (ControlWeight::Scalar(1.0), {
                let mut m = Array2::eye(7) * 4.0;
                m[[0, 3]] = 0.5;
                m[[3, 0]] = 0.5;
                DisturbanceWeight::Matrix(m)
            }),
        ];
        for (r, gamma) in cases {
            let a = g.projected_a(&sel, &r, &gamma).unwrap();
            let law = g.control_law(&sel, &r, &gamma, None, None).unwrap();
            assert!(
                max_diff(&law.unbounded_matrix(), &a) < 1e-12,
                "{r:?} {gamma:?}"
            );
            assert!(!law.is_bounded());
        }
    }

    #[test]
    fn allocation_bound_applies_to_every_component_of_u() {
        let g = Game::new(3).unwrap();
        let law = g
            .control_law(
                &[0],
                &ControlWeight::Scalar(1.0),
                &DisturbanceWeight::Gamma(2.0),
                Some(0.5),
                None,
            )
            .unwrap();
        // Coalition {1}: allocation 1 (column +1) and surplus {1} (column −1), disturbance.
        let labels: Vec<_> = law.channels.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["allocation 1", "surplus {1}", "disturbance {1}"]);
        assert_eq!(law.channels[0].bound, 0.5);
        assert_eq!(law.channels[1].bound, 0.5);
        assert!(law.channels[2].bound.is_infinite());
        assert!(law.is_bounded());
        assert!(max_diff(&law.unbounded_matrix(), &array![[-2.0 + 0.25]]) < 1e-14);
    }

    #[test]
    fn refusals_name_their_field() {
        let g = Game::new(3).unwrap();
        let mut r = Array2::eye(9);
        r[[0, 1]] = 0.1;
        r[[1, 0]] = 0.1;
        let e = g
            .control_law(
                &[0],
                &ControlWeight::Matrix(r),
                &DisturbanceWeight::Gamma(2.0),
                Some(1.0),
                None,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains(&Param::AllocationBound.to_string()), "{e}");
        let e = g
            .control_law(
                &[0],
                &ControlWeight::Scalar(1.0),
                &DisturbanceWeight::Gamma(2.0),
                None,
                Some(-1.0),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains(&Param::DisturbanceBound.to_string()), "{e}");
    }
}
