//! Exact single-population equilibrium (docs/design.md §3).
//!
//! With ρ = m̄, r := φm̄ + h satisfies
//! r' = φ'm̄ + φm̄' + h' = (−φAφ − Q)m̄ + φA(φm̄ + h) − φAh + Qm̄ = 0 and r(T) = Sm̄(T) −
//! Sm̄(T) = 0, so r ≡ 0: the mean drift A r vanishes, **m̄(t) = m̄(0)** for all t, and
//! h = −φm̄(0) at all times. Every copy's excess is driven towards the constant mean by the
//! feedback A φ (x − m̄(0)). χ follows from its ODE with the constant target.

use super::equilibrium::{
    boundary_residuals, refinement_factor, subsample2, subsample3, LqEquilibrium, LqPopulation,
};
use super::moments::{covariance_transitions, propagate_covariance};
use super::riccati::riccati;
use super::value::{value_function, TargetPath};
use super::TimeGrid;
use crate::error::{Param, Result, SolverError};
use crate::model::Model;
use ndarray::{Array1, Array2};

/// The exact equilibrium of a single-population model (p = 1, the population tracks its
/// own mean): m̄ ≡ m̄(0), h = −φm̄(0), χ from (15) with ρ ≡ m̄(0), exact covariance, and the
/// independent boundary residuals of [`LqEquilibrium`]. `steps` output intervals on
/// [0, T]. Errors: the model's own validation, `Param::Populations` if p ≠ 1, `OutputSteps`.
pub fn single_population_equilibrium(model: &Model, steps: usize) -> Result<LqEquilibrium> {
    if model.num_populations() != 1 {
        return Err(SolverError::invalid(
            Param::Populations,
            format!(
                "the single-population equilibrium needs exactly one population, got {}; use exact_equilibrium",
                model.num_populations()
            ),
        ));
    }
    let grid = TimeGrid::new(model.horizon, steps)?;
    let (a, q, s) = (&model.a, &model.q, &model.s);
    let pop = &model.populations[0];
    let m0 = &pop.mean;
    let d = model.dim();

    let phi_coarse = riccati(a, q, s, &grid)?;
    let r = refinement_factor(a, &phi_coarse, &grid);
    let fine = grid.refined(r);
    let vf = value_function(
        a,
        q,
        s,
        model.sigma,
        &TargetPath::Constant(m0.clone()),
        &fine,
    )?;
    let levels = fine.levels();
    let mean = Array2::from_shape_fn((levels, d), |(_, i)| m0[i]);
    let mut h = Array2::zeros((levels, d));
    for n in 0..levels {
        h.row_mut(n)
            .assign(&-vf.phi.slice(ndarray::s![n, .., ..]).dot(m0));
    }
    let w = Array2::from_elem((1, 1), 1.0);
    let (residual_initial, residual_terminal) =
        boundary_residuals(a, q, s, &w, &fine, &vf.phi, &mean, &h, m0)?;

    let (_, trans, gram) = covariance_transitions(a, q, s, &grid)?;
    let cov = propagate_covariance(&pop.cov, model.sigma, &trans, &gram);
    let mean = subsample2(&mean, r);
    Ok(LqEquilibrium {
        time: grid.times(),
        phi: subsample3(&vf.phi, r),
        populations: vec![LqPopulation {
            target: mean.clone(),
            mean,
            h: subsample2(&h, r),
            chi: Array1::from_iter(vf.chi.iter().step_by(r).copied()),
            cov,
        }],
        residual_initial,
        residual_terminal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;
    use crate::lq::moments::closed_loop_moments;
    use crate::model::Population;
    use ndarray::array;

    pub(crate) fn model_2d(horizon: f64) -> Model {
        Model::builder(array![[-1.1, 0.45], [0.45, -0.6]])
            .axis_labels(vec!["x1".into(), "x2".into()])
            .q(array![[1.0, 0.3], [0.3, 0.7]])
            .s(array![[0.5, -0.1], [-0.1, 0.9]])
            .sigma(0.4)
            .horizon(horizon)
            .population(Population {
                name: "p".into(),
                mean: array![1.5, -0.5],
                cov: array![[0.2, 0.05], [0.05, 0.1]],
            })
            .build()
            .unwrap()
    }

    /// h from the h-ODE with ρ ≡ m̄(0) equals −φm̄(0), and integrating the mean ODE
    /// m̄' = A(φm̄ + h) with it keeps m̄ constant (T = 50, dt = 0.1); residuals small.
    #[test]
    fn mean_stays_constant_and_residuals_vanish() {
        let model = model_2d(50.0);
        let grid = TimeGrid::new(50.0, 500).unwrap();
        let eq = single_population_equilibrium(&model, 500).unwrap();
        let m0 = &model.populations[0].mean;
        let vf = value_function(
            &model.a,
            &model.q,
            &model.s,
            model.sigma,
            &TargetPath::Constant(m0.clone()),
            &grid,
        )
        .unwrap();
        let dh = (&vf.h - &eq.populations[0].h)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let mom = closed_loop_moments(
            &model.a,
            model.sigma,
            &eq.phi,
            &vf.h,
            m0,
            &model.populations[0].cov,
            &grid,
        )
        .unwrap();
        let drift = mom
            .mean
            .outer_iter()
            .map(|row| (&row - m0).iter().fold(0.0f64, |m, v| m.max(v.abs())))
            .fold(0.0, f64::max);
        eprintln!(
            "single population: |h_ode + φm̄| = {dh:.2e}, mean drift = {drift:.2e}, residuals {:.2e} / {:.2e}",
            eq.residual_initial, eq.residual_terminal
        );
        assert!(dh < 1e-11, "{dh:e}");
        assert!(drift < 1e-10, "{drift:e}");
        assert!(eq.residual_initial < 1e-9 && eq.residual_terminal < 1e-9);
        assert_eq!(eq.time.len(), 501);
        assert_eq!(eq.populations[0].mean.dim(), (501, 2));
        // v_k(T) = ½(x − m̄)ᵀS(x − m̄): χ(T) = ½m̄ᵀSm̄.
        let chi_t = 0.5 * m0.dot(&model.s.dot(m0));
        assert!((eq.populations[0].chi[500] - chi_t).abs() < 1e-14);
    }

    #[test]
    fn more_than_one_population_is_refused() {
        let mut model = model_2d(1.0);
        model.populations.push(model.populations[0].clone());
        model.graph = Graph::new(2, &crate::graph::GraphKind::Chain).unwrap();
        let err = single_population_equilibrium(&model, 10).unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::Populations),
            "{err}"
        );
    }
}
