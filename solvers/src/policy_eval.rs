//! Robust cost of a given policy in the full model (docs/design.md §5, `tufield compare`).
//!
//! A designer of population k plays the allocation of a policy — the channel optimum at the
//! policy's value gradient ∇v_π (clipped to the allocation bounds), or, for a model without
//! an allocation/disturbance split, the drift A∇v_π at cost −½bᵀA⁻¹b — while the
//! disturbance best-responds and the rest of the population is at a given target path ρ_k.
//! The designer's value v solves the HJI with the designer's channels frozen
//! ([`Sweeper::set_designer_policy`]), and the cost is
//!
//! ```text
//!   J_k = ∫ v_k(0, x) m_k(0, x) dx        (grid quadrature)
//! ```
//!
//! The FPK of the same evaluation gives the means of a population whose designers all play
//! the policy. An LQ policy enters as the value field ½xᵀφx + hᵀx tabulated on the grid
//! ([`quadratic_policy`]), whose gradient is its feedback.

pub mod modal;

use crate::error::Result;
use crate::grid::Grid;
use crate::sweep::{HjiSolution, Sweeper};
use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2, ArrayViewD};

/// One policy evaluated for one population.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEvaluation {
    /// J_k = ∫ v_k(0, x) m_k(0, x) dx.
    pub cost: f64,
    /// v_k(0, ·) of the evaluation (grid-shaped).
    pub value0: ArrayD<f64>,
    /// Mean of the population when all its designers play the policy, (steps+1) × d.
    pub played_mean: Array2<f64>,
}

/// Evaluates `policy` (`None`: the designer's own optimum, i.e. the equilibrium HJI) for
/// population `k` against the target path `rho` ((steps+1) × d) from the initial density
/// `m0` on `sweeper`'s grid (module docs). Leaves the sweeper with no frozen policy.
pub fn evaluate_policy(
    sweeper: &mut Sweeper,
    grid: &Grid,
    policy: Option<HjiSolution>,
    rho: ArrayView2<f64>,
    k: usize,
    m0: ArrayViewD<f64>,
) -> Result<PolicyEvaluation> {
    sweeper.set_designer_policy(policy)?;
    let result = (|| {
        let v = sweeper.solve_hji(rho, k)?;
        let value0 = v.value(0).to_owned();
        let cost = value0
            .iter()
            .zip(m0.iter())
            .map(|(v, m)| v * m)
            .sum::<f64>()
            * grid.cell_volume();
        let fpk = sweeper.solve_fpk(&v, m0, k, &mut |_, _| {})?;
        Ok(PolicyEvaluation {
            cost,
            value0,
            played_mean: fpk.mean,
        })
    })();
    sweeper.set_designer_policy(None)?;
    result
}

/// Coordinates of every node, (grid points) × d, row-major node order.
pub fn node_coordinates(grid: &Grid) -> Array2<f64> {
    let d = grid.dim();
    let axes: Vec<Array1<f64>> = (0..d).map(|i| grid.axis(i).nodes()).collect();
    let strides = grid.strides();
    let shape = grid.shape();
    Array2::from_shape_fn((grid.len(), d), |(j, i)| {
        axes[i][(j / strides[i]) % shape[i]]
    })
}

/// v(x, t_n) = ½xᵀφ(t_n)x + h(t_n)ᵀx tabulated on the grid at every level (`phi`
/// (levels, d, d), `h` (levels, d)): an LQ policy as a value field whose gradient is its
/// feedback φx + h.
pub fn quadratic_policy(grid: &Grid, phi: &Array3<f64>, h: &Array2<f64>) -> Result<HjiSolution> {
    let d = grid.dim();
    let nodes = node_coordinates(grid);
    let levels = phi.shape()[0];
    let mut values = Array2::zeros((levels, grid.len()));
    for n in 0..levels {
        for (j, x) in nodes.outer_iter().enumerate() {
            let mut v = 0.0;
            for i in 0..d {
                let mut px = 0.0;
                for l in 0..d {
                    px += phi[[n, i, l]] * x[l];
                }
                v += x[i] * (0.5 * px + h[[n, i]]);
            }
            values[[n, j]] = v;
        }
    }
    HjiSolution::from_values(values, grid)
}
