//! Core-stability cost κ Σ_j max(0, −x_j)² in the HJI running cost.
//!
//! It enters only the source of the HJI step, so the linear parts of the scheme (and with
//! them the FPK: adjointness, mass, positivity) are unchanged; κ = 0 is the LQ model bit
//! for bit; with κ > 0 the single-population equilibrium mean is pushed out of the
//! negative region (no longer constant, unlike the LQ fact of docs/design.md §3); and the value
//! function converges at first order to a very fine grid reference.

mod common;

use ndarray::{array, Array1, Array2, ArrayViewD};
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::grid::Grid;
use tufield_solvers::model::{Model, Population};
use tufield_solvers::sweep::Sweeper;
use tufield_solvers::{Param, SolverError};

fn params(d: usize, kappa: f64) -> Model {
    let a = match d {
        1 => array![[-0.75]],
        2 => array![[-1.75, -1.0], [-1.0, -2.75]],
        _ => array![[-1.0, 0.3, -0.2], [0.3, -0.8, 0.25], [-0.2, 0.25, -1.2]],
    };
    let (q, s) = common::cost_weights(d);
    Model::builder(a)
        .q(q)
        .s(s)
        .sigma(0.3)
        .core_penalty(kappa)
        .build()
        .unwrap()
}

fn rho_path(d: usize, steps: usize, dt: f64) -> Array2<f64> {
    Array2::from_shape_fn((steps + 1, d), |(n, i)| {
        0.1 - 0.1 * i as f64 + 0.2 * (n as f64 * dt) * if i % 2 == 0 { 1.0 } else { -1.0 }
    })
}

const CASES: [(usize, &[usize], usize); 3] =
    [(1, &[201], 60), (2, &[61, 55], 30), (3, &[21, 19, 23], 12)];

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// κ = 0 adds exactly +0.0 to the running cost, and so does κ > 0 wherever every
/// coordinate is ≥ 0: on a box in the positive orthant the value functions for κ = 0 and
/// κ = 7 are bit-identical, in 1, 2 and 3 dimensions (with the penalty active on a box
/// that crosses 0 they must differ).
#[test]
fn zero_penalty_and_inactive_penalty_are_bit_identical() {
    for (d, pts, steps) in CASES {
        let lo = vec![0.0; d];
        let hi = vec![1.5; d];
        let g = Grid::from_bounds(&lo, &hi, pts).unwrap();
        let run = |kappa: f64, g: &Grid| {
            let mut sw = Sweeper::new(&params(d, kappa), g, steps).unwrap();
            let rho = rho_path(d, steps, sw.time().dt());
            let hji = sw.solve_hji(rho.view(), 0).unwrap();
            hji.values().iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(bits(&run(0.0, &g)), bits(&run(7.0, &g)), "d={d}");
        let lo = vec![-1.0; d];
        let gc = Grid::from_bounds(&lo, &hi, pts).unwrap();
        let (v0, v7) = (run(0.0, &gc), run(7.0, &gc));
        let diff = v0
            .iter()
            .zip(&v7)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        eprintln!("d={d}: max |v_κ=7 − v_κ=0| on a box crossing 0: {diff:.3e}");
        assert!(diff > 1e-2, "d={d}: the penalty had no effect ({diff})");
    }
}

/// Mass, positivity and exact adjointness hold with the penalty switched on.
#[test]
fn fpk_invariants_hold_with_the_penalty() {
    for (d, pts, steps) in CASES {
        let lo = vec![-1.5; d];
        let hi = vec![1.5; d];
        let g = Grid::from_bounds(&lo, &hi, pts).unwrap();
        let mut sw = Sweeper::new(&params(d, 3.0), &g, steps).unwrap();
        let rho = rho_path(d, steps, sw.time().dt());
        let hji = sw.solve_hji(rho.view(), 0).unwrap();
        let mean = Array1::from_elem(d, -0.3);
        let cov = Array2::from_diag(&Array1::from_elem(d, 0.04));
        let m0 = g.gaussian(mean.view(), cov.view()).unwrap();
        let mut min_seen = f64::INFINITY;
        let s = sw
            .solve_fpk(&hji, m0.view(), 0, &mut |_, m: ArrayViewD<f64>| {
                min_seen = min_seen.min(m.iter().cloned().fold(f64::INFINITY, f64::min));
            })
            .unwrap();
        let worst = s.mass.iter().map(|m| (m - 1.0).abs()).fold(0.0, f64::max);
        eprintln!("d={d}: κ=3 max |mass − 1| = {worst:.2e}, min density {min_seen:.2e}");
        assert!(worst <= 1e-12, "d={d}: mass drift {worst:e}");
        assert!(min_seen >= 0.0);
        // Adjointness of the step's linear part, at a value field from the κ > 0 solve.
        let v_next: Vec<f64> = hji.value(steps / 2).iter().cloned().collect();
        let w: Vec<f64> = (0..g.len())
            .map(|i| ((i * 7919) % 101) as f64 / 101.0)
            .collect();
        let m: Vec<f64> = (0..g.len())
            .map(|i| ((i * 104729) % 97) as f64 / 97.0)
            .collect();
        let (mut sw_, mut stm) = (w.clone(), m.clone());
        sw.apply_step(&v_next, &mut sw_).unwrap();
        sw.apply_step_transpose(&v_next, &mut stm).unwrap();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let (lhs, rhs) = (dot(&sw_, &m), dot(&w, &stm));
        let rel = (lhs - rhs).abs() / lhs.abs();
        eprintln!("d={d}: adjointness defect {rel:.2e}");
        assert!(rel < 1e-12, "d={d}: adjointness defect {rel:e}");
    }
}

#[test]
fn negative_penalty_is_refused_naming_the_key() {
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let p = params(1, 0.0);
        match Model::builder(p.a).q(p.q).s(p.s).core_penalty(bad).build() {
            Err(SolverError::InvalidParameter { field, .. }) => {
                assert_eq!(field, Param::CorePenalty)
            }
            other => panic!("κ = {bad}: expected InvalidParameter, got {other:?}"),
        }
    }
    let mut m = model(-0.3, 1.0);
    m.core_penalty = -0.5;
    assert!(matches!(
        m.validate(),
        Err(SolverError::InvalidParameter { field, .. }) if field == Param::CorePenalty
    ));
}

fn model(mean: f64, kappa: f64) -> Model {
    Model::builder(array![[-0.75]])
        .q(array![[1.0]])
        .s(array![[1.0]])
        .sigma(0.3)
        .population(Population {
            name: "p".into(),
            mean: array![mean],
            cov: array![[0.04]],
        })
        .core_penalty(kappa)
        .build()
        .unwrap()
}

/// Equilibrium mean path of the 1-D single population starting at m̄(0) = −0.3.
fn equilibrium_mean(kappa: f64, points: usize, steps: usize) -> Vec<f64> {
    let model = model(-0.3, kappa);
    let grid = Grid::from_bounds(&[-2.5], &[2.0], &[points]).unwrap();
    let mut map = MeanFieldMap::new(&model, &grid, steps, snapshot_levels(steps, steps)).unwrap();
    common::converged_means(&mut map, &format!("κ = {kappa}"))
}

/// With κ > 0 the single-population equilibrium mean is no longer constant: the penalty
/// on x < 0 pushes it up, monotonically in time, and more for larger κ (κ = 0: constant).
#[test]
fn penalty_pushes_the_equilibrium_mean_out_of_the_negative_region() {
    let (points, steps) = (301, 100);
    let mut rises = Vec::new();
    for kappa in [0.0, 1.0, 4.0] {
        let m = equilibrium_mean(kappa, points, steps);
        let rise = m[steps] - m[0];
        let monotone = m.windows(2).all(|w| w[1] >= w[0] - 1e-12);
        eprintln!(
            "κ = {kappa}: m̄(0) = {:.5}, m̄(T/2) = {:.5}, m̄(T) = {:.5}, rise {rise:.4e}, monotone {monotone}",
            m[0],
            m[steps / 2],
            m[steps]
        );
        if kappa == 0.0 {
            assert!(rise.abs() < 1e-3, "LQ mean not constant: {rise}");
        } else {
            assert!(monotone, "κ = {kappa}: mean not increasing");
        }
        rises.push(rise);
    }
    assert!(rises[1] > 0.01, "κ = 1 did not move the mean: {rises:?}");
    assert!(
        rises[2] > 1.5 * rises[1],
        "effect does not grow with κ: {rises:?}"
    );
}

/// Value function v(0, ·) for a fixed target ρ with κ = 2, against a 4001-point,
/// 2000-step run on the same box (nested grids: coarse nodes are fine nodes). The
/// error on the central part of the box must fall at observed order ≥ 0.9.
#[test]
fn value_with_penalty_converges_to_a_fine_grid_reference() {
    let kappa = 2.0;
    let (lo, hi) = (-3.0, 3.0);
    let solve = |points: usize, steps: usize| -> Vec<f64> {
        let g = Grid::from_bounds(&[lo], &[hi], &[points]).unwrap();
        let mut sw = Sweeper::new(&params(1, kappa), &g, steps).unwrap();
        let dt = sw.time().dt();
        let rho = Array2::from_shape_fn((steps + 1, 1), |(n, _)| 0.2 - 0.3 * n as f64 * dt);
        let hji = sw.solve_hji(rho.view(), 0).unwrap();
        hji.value(0).iter().cloned().collect()
    };
    let fine_pts = 4001;
    let fine = solve(fine_pts, 2000);
    let mut errors = Vec::new();
    let mut hs = Vec::new();
    for (points, steps) in [(101, 50), (201, 100), (401, 200)] {
        let coarse = solve(points, steps);
        let stride = (fine_pts - 1) / (points - 1);
        let h = (hi - lo) / (points - 1) as f64;
        let err = coarse
            .iter()
            .enumerate()
            .filter(|(j, _)| (lo + *j as f64 * h).abs() <= 1.5)
            .map(|(j, v)| (v - fine[j * stride]).abs())
            .fold(0.0, f64::max);
        eprintln!("points {points:4} steps {steps:4}: max |v − v_fine| on |x| ≤ 1.5 = {err:.4e}");
        errors.push(err);
        hs.push(h);
    }
    for k in 1..errors.len() {
        let order = (errors[k - 1] / errors[k]).ln() / (hs[k - 1] / hs[k]).ln();
        eprintln!("observed order {order:.3}");
        assert!(order >= 0.9, "order {order} < 0.9: {errors:?}");
    }
}
