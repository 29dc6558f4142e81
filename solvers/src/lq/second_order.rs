//! The paper's Section 8.2 **heuristic** for the population means: second-order consensus
//! on the graph, eq. (43). Not an equilibrium of the mean-field game; tufield computes it
//! so the paper's multi-population simulations (Figures 7–9) can be reproduced and
//! compared with the exact LQ equilibrium and the PDE solution.
//!
//! For every coalition coordinate j, with μ₁ʲ(t) = (m̄_1j(t), …, m̄_pj(t)) the means and
//! μ₂ʲ(t) their increments,
//!
//! ```text
//!   μ₁ʲ(t) = μ₁ʲ(t−1) + μ₂ʲ(t−1)
//!   μ₂ʲ(t) = −θ L μ₁ʲ(t−1) + (I − θ̃ (L + θ̂ I)) μ₂ʲ(t−1),     t = 1, …, T,
//! ```
//!
//! μ₁ʲ(0) = the initial means, μ₂ʲ(0) = 0. L is the normalised graph Laplacian
//! L = I − D⁻¹Adj (ones on the diagonal, −1/deg(i) for each neighbour of i). The paper
//! describes the off-diagonal entries as "the reciprocal of the degree" without the
//! minus sign; with +1/deg the matrix does not annihilate constant vectors and (43) would
//! not be a consensus dynamics (for a chain it would amplify the alternating pattern
//! instead), so the sign is read as a typo.
//!
//! Facts used by the tests: the average of the means over populations is invariant only
//! for regular graphs; every constant vector is a fixed point (L1 = 0, so μ₂ decays by
//! the factor 1 − θ̃θ̂ per step); for a mode of L with eigenvalue λ the step matrix is
//! [[1, 1], [−θλ, 1 − θ̃(λ + θ̂)]], stable iff its spectral radius is < 1.

use crate::error::{Param, Result, SolverError};
use crate::graph::Graph;
use ndarray::{Array1, Array2};

/// Parameters (θ, θ̃, θ̂) of (43): elastic coefficient θ and damping coefficients θ̃, θ̂
/// (Table 5: θ = 0.5, θ̃ = 0.25, θ̂ = 2.6 or 1.6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SecondOrderParams {
    /// θ ≥ 0.
    pub theta: f64,
    /// θ̃ ≥ 0.
    pub theta_tilde: f64,
    /// θ̂ ≥ 0.
    pub theta_hat: f64,
}

/// Trajectory of (43): per population k, `mean[k]` and `increment[k]`, shape
/// (iterations+1, q).
#[derive(Debug, Clone, PartialEq)]
pub struct SecondOrderConsensus {
    /// μ₁ per population, row t = iteration t.
    pub mean: Vec<Array2<f64>>,
    /// μ₂ per population.
    pub increment: Vec<Array2<f64>>,
    /// Largest modulus of the step matrix's eigenvalues over the modes of L, leaving out the
    /// eigenvalue 1 of the consensus value itself (< 1: disagreements and increments
    /// decay; > 1: they grow).
    pub spectral_radius: f64,
}

/// L = I − D⁻¹Adj of `graph` (zero for a single population).
pub fn normalised_laplacian(graph: &Graph) -> Array2<f64> {
    let p = graph.len();
    let mut l = Array2::eye(p);
    for k in 0..p {
        let nb = graph.neighbours(k);
        let deg = nb.len() as f64;
        for &j in nb {
            l[[k, j]] -= 1.0 / deg;
        }
    }
    if p == 1 {
        l[[0, 0]] = 0.0;
    }
    l
}

/// Runs (43) for `iterations` steps from the initial means (one per population, all of
/// the same length q). Parameters must be finite and ≥ 0 (fields `heuristic.theta`,
/// `heuristic.theta_tilde`, `heuristic.theta_hat`).
pub fn second_order_consensus(
    graph: &Graph,
    initial: &[Array1<f64>],
    params: SecondOrderParams,
    iterations: usize,
) -> Result<SecondOrderConsensus> {
    for (field, v) in [
        (Param::Theta, params.theta),
        (Param::ThetaTilde, params.theta_tilde),
        (Param::ThetaHat, params.theta_hat),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(SolverError::invalid(
                field,
                format!("must be finite and ≥ 0, got {v}"),
            ));
        }
    }
    let p = graph.len();
    if initial.len() != p {
        return Err(SolverError::invalid(
            Param::Populations,
            format!(
                "{} initial means for a graph of {p} populations",
                initial.len()
            ),
        ));
    }
    let q = initial.first().map_or(0, |m| m.len());
    if initial.iter().any(|m| m.len() != q) {
        return Err(SolverError::invalid(
            Param::PopulationMean(None),
            "all populations need means of the same length",
        ));
    }
    let l = normalised_laplacian(graph);
    let damp = Array2::<f64>::eye(p)
        - (&l + &(Array2::<f64>::eye(p) * params.theta_hat)) * params.theta_tilde;
    let mut mean = vec![Array2::zeros((iterations + 1, q)); p];
    let mut increment = vec![Array2::zeros((iterations + 1, q)); p];
    for (k, m) in initial.iter().enumerate() {
        mean[k].row_mut(0).assign(m);
    }
    let mut mu1 = Array1::zeros(p);
    let mut mu2 = Array1::zeros(p);
    for j in 0..q {
        for k in 0..p {
            mu1[k] = initial[k][j];
            mu2[k] = 0.0;
        }
        for t in 1..=iterations {
            let n1 = &mu1 + &mu2;
            let n2 = l.dot(&mu1) * (-params.theta) + damp.dot(&mu2);
            mu1 = n1;
            mu2 = n2;
            for k in 0..p {
                mean[k][[t, j]] = mu1[k];
                increment[k][[t, j]] = mu2[k];
            }
        }
    }
    if mean.iter().any(|m| m.iter().any(|v| !v.is_finite())) {
        return Err(SolverError::NonFinite {
            stage: "second-order consensus (43)",
            level: iterations,
            population: 0,
        });
    }
    Ok(SecondOrderConsensus {
        mean,
        increment,
        spectral_radius: spectral_radius(&l, params)?,
    })
}

/// max over the eigenvalues λ of L of the spectral radius of [[1, 1], [−θλ, 1 − θ̃(λ+θ̂)]],
/// for λ = 0 only the increment's factor 1 − θ̃θ̂.
fn spectral_radius(l: &Array2<f64>, params: SecondOrderParams) -> Result<f64> {
    // L = I − D⁻¹Adj is similar to the symmetric D^{-1/2}(D − Adj)D^{-1/2}; its eigenvalues
    // are real. Compute them from the symmetrised form.
    let p = l.nrows();
    let mut sym = l.clone();
    if p > 1 {
        let deg: Vec<f64> = (0..p)
            .map(|k| (0..p).filter(|&j| j != k && l[[k, j]] != 0.0).count() as f64)
            .collect();
        for i in 0..p {
            for j in 0..p {
                sym[[i, j]] = l[[i, j]] * deg[i].sqrt() / deg[j].sqrt();
            }
        }
    }
    let eig = crate::linalg::symmetric_eigenvalues(&sym)?;
    let mut rho = 0.0f64;
    for lam in eig.iter() {
        if lam.abs() < 1e-12 {
            // Consensus mode: the common value persists (eigenvalue 1, not counted) and its
            // increment decays by 1 − θ̃θ̂.
            rho = rho.max((1.0 - params.theta_tilde * params.theta_hat).abs());
            continue;
        }
        let (a, b, c, d) = (
            1.0,
            1.0,
            -params.theta * lam,
            1.0 - params.theta_tilde * (lam + params.theta_hat),
        );
        let tr = a + d;
        let det = a * d - b * c;
        let disc = tr * tr - 4.0 * det;
        let r = if disc >= 0.0 {
            let s = disc.sqrt();
            ((tr + s) / 2.0).abs().max(((tr - s) / 2.0).abs())
        } else {
            det.sqrt()
        };
        rho = rho.max(r);
    }
    Ok(rho)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphKind;
    use ndarray::array;

    fn paper_initial() -> Vec<Array1<f64>> {
        // Section 8.2: m̄_0k = 100(k−1) + [1 … 7].
        (0..5)
            .map(|k| Array1::from_iter((1..=7).map(|j| 100.0 * k as f64 + j as f64)))
            .collect()
    }

    #[test]
    fn laplacian_annihilates_constants_and_has_unit_diagonal() {
        let g = Graph::new(5, &GraphKind::Chain).unwrap();
        let l = normalised_laplacian(&g);
        for k in 0..5 {
            assert_eq!(l[[k, k]], 1.0);
            assert!(l.row(k).sum().abs() < 1e-15);
        }
        assert_eq!(normalised_laplacian(&Graph::single()), array![[0.0]]);
    }

    #[test]
    fn table5_first_set_reaches_consensus() {
        let g = Graph::new(5, &GraphKind::Chain).unwrap();
        let params = SecondOrderParams {
            theta: 0.5,
            theta_tilde: 0.25,
            theta_hat: 2.6,
        };
        let r = second_order_consensus(&g, &paper_initial(), params, 600).unwrap();
        assert!(r.spectral_radius < 1.0, "{}", r.spectral_radius);
        // After 600 iterations the spread across populations is below 1e-6 of the
        // initial spread (400) on every coordinate, and the increments vanish.
        for j in 0..7 {
            let last: Vec<f64> = r.mean.iter().map(|m| m[[600, j]]).collect();
            let spread = last.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                - last.iter().cloned().fold(f64::INFINITY, f64::min);
            assert!(spread < 400.0 * 1e-6, "coordinate {j}: spread {spread}");
            assert!(r.increment.iter().all(|m| m[[600, j]].abs() < 1e-6));
        }
    }

    #[test]
    fn smaller_damping_oscillates_more_and_can_lose_stability() {
        let g = Graph::new(5, &GraphKind::Chain).unwrap();
        let run = |theta_hat| {
            second_order_consensus(
                &g,
                &paper_initial(),
                SecondOrderParams {
                    theta: 0.5,
                    theta_tilde: 0.25,
                    theta_hat,
                },
                60,
            )
            .unwrap()
        };
        let (strong, weak) = (run(2.6), run(1.6));
        // Sign changes of population 1's increment on coordinate 1 over the 60 iterations.
        let flips = |r: &SecondOrderConsensus| {
            let inc = r.increment[0].column(0).to_vec();
            inc.windows(2).filter(|w| w[0] * w[1] < 0.0).count()
        };
        assert!(
            flips(&weak) > flips(&strong),
            "{} vs {}",
            flips(&weak),
            flips(&strong)
        );
        // Mode λ = 2 of the 5-chain: [[1,1],[−1, 1 − 0.25·3.6]] has det 1.1 > 1.
        assert!(weak.spectral_radius > 1.0 && strong.spectral_radius < 1.0);
    }

    #[test]
    fn bad_parameters_name_their_field() {
        let g = Graph::single();
        let e = second_order_consensus(
            &g,
            &[array![1.0]],
            SecondOrderParams {
                theta: -1.0,
                theta_tilde: 0.0,
                theta_hat: 0.0,
            },
            3,
        )
        .unwrap_err();
        assert!(e.to_string().contains(&Param::Theta.to_string()), "{e}");
    }
}
