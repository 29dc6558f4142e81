//! The quantities of `tufield_solvers::diagnostics` against invariants and exact values:
//!
//! * the allocation and disturbance drift fields add up to the sweep's own drift
//!   (`Sweeper::optimal_drift`) with bounded and unbounded channels, in 1-3 dimensions;
//! * the drifts evaluated a block of nodes at a time (`FeedbackDrifts::fill`) are the
//!   fields' values bit for bit, and both are the drifts of each node evaluated alone
//!   (the public `gradient`, s = c·p, `channel_control`, summed in channel order);
//! * on a quadratic value (the form of the exact LQ value) the unbounded fields are
//!   −Σ_designer ccᵀ/r ∇v and Σ_disturbance ccᵀ/r ∇v exactly at interior nodes;
//! * the expected cost of the exact LQ value v(0, x) = ½xᵀφx + hᵀx + χ under the
//!   discretised Gaussian initial law is the Gaussian expectation ½tr(φΣ) + ½μᵀφμ + hᵀμ + χ;
//! * the in-core fraction of a centred Gaussian with independent axes is 2^-d, and of a
//!   law on the positive orthant is 1.

mod common;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use tufield_solvers::diagnostics::{
    core_fraction, expected_cost, feedback_fields, gradient, FeedbackDrifts,
};
use tufield_solvers::grid::Grid;
use tufield_solvers::hamiltonian::{channel_control, ControlLaw, Player};
use tufield_solvers::lq::exact_equilibrium;
use tufield_solvers::model::{Model, Population};
use tufield_solvers::sweep::Sweeper;

use common::channel as ch;

fn law(d: usize, ub: f64, wb: f64) -> ControlLaw {
    use Player::{Designer as U, Disturbance as W};
    let mut channels = match d {
        1 => vec![ch(&[1.0], 1.0, ub, U)],
        2 => vec![ch(&[1.0, 1.0], 1.0, ub, U), ch(&[1.0, 0.0], 1.0, ub, U)],
        _ => vec![
            ch(&[1.0, 0.0, 0.0], 1.0, ub, U),
            ch(&[1.0, 1.0, 0.0], 1.0, ub, U),
            ch(&[0.0, 1.0, 1.0], 2.0, ub, U),
            ch(&[1.0, 0.0, 1.0], 1.5, ub, U),
            ch(&[0.0, 0.0, 1.0], 1.0, ub, U),
        ],
    };
    for i in 0..d {
        let mut c = vec![0.0; d];
        c[i] = -1.0;
        channels.push(ch(&c, 4.0, wb, W));
    }
    ControlLaw { channels }
}

fn model(d: usize, controls: Option<ControlLaw>, a: Array2<f64>) -> Model {
    let (q, s) = common::cost_weights(d);
    Model::builder(a)
        .axis_labels((0..d).map(|i| format!("x{i}")).collect())
        .q(q)
        .s(s)
        .sigma(0.3)
        .population(Population {
            name: "p".into(),
            mean: Array1::from_elem(d, 0.2),
            cov: Array2::eye(d) * 0.1,
        })
        .controls(controls)
        .build()
        .unwrap()
}

fn grid(d: usize, n: usize) -> Grid {
    Grid::from_bounds(&vec![-2.0; d], &vec![2.0; d], &vec![n; d]).unwrap()
}

/// v(x) = ½xᵀΦx + hᵀx on the grid, Φ symmetric positive definite.
fn quadratic(g: &Grid, phi: &Array2<f64>, h: &Array1<f64>) -> ArrayD<f64> {
    let vals: Vec<f64> = (0..g.len())
        .map(|f| {
            let x = g.point(f);
            0.5 * x.dot(&phi.dot(&x)) + h.dot(&x)
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(g.shape()), vals).unwrap()
}

fn phi_h(d: usize) -> (Array2<f64>, Array1<f64>) {
    let phi = Array2::from_shape_fn((d, d), |(i, j)| if i == j { 1.5 } else { 0.3 });
    let h = Array1::from_shape_fn(d, |i| 0.2 - 0.15 * i as f64);
    (phi, h)
}

#[test]
fn fields_add_up_to_the_sweep_drift() {
    for d in 1..=3 {
        let n = [41, 21, 11][d - 1];
        let g = grid(d, n);
        for (ub, wb) in [(f64::INFINITY, f64::INFINITY), (0.4, 0.2)] {
            let l = law(d, ub, wb);
            let m = model(d, Some(l.clone()), l.unbounded_matrix());
            let (phi, h) = phi_h(d);
            let v = quadratic(&g, &phi, &h);
            let f = feedback_fields(&m, &g, v.view()).unwrap();
            let mut sw = Sweeper::new(&m, &g, 4).unwrap();
            let b = sw.optimal_drift(v.view()).unwrap();
            let worst = (&f.allocation + &f.disturbance - &b)
                .iter()
                .fold(0.0f64, |a, x| a.max(x.abs()));
            assert!(
                worst < 1e-12,
                "d = {d}, bounds ({ub}, {wb}): |sum − b| = {worst:e}"
            );
            if ub.is_finite() {
                let max_w = f.disturbance.iter().fold(0.0f64, |a, x| a.max(x.abs()));
                assert!(
                    max_w <= wb + 1e-15,
                    "disturbance drift {max_w} exceeds {wb}"
                );
            }
        }
    }
}

#[test]
fn drifts_filled_block_by_block_are_the_fields_bit_for_bit() {
    for d in 1..=3 {
        let n = [41, 21, 11][d - 1];
        let g = grid(d, n);
        let (phi, h) = phi_h(d);
        let v = quadratic(&g, &phi, &h);
        let l = law(d, 0.4, 0.2);
        for m in [
            model(d, Some(l.clone()), l.unbounded_matrix()),
            model(d, None, l.unbounded_matrix()),
        ] {
            let f = feedback_fields(&m, &g, v.view()).unwrap();
            let drifts = FeedbackDrifts::new(&m, &g, v.view()).unwrap();
            let len = g.len();
            assert_eq!(drifts.len(), len);
            // Each node alone: (allocation, disturbance) from its gradient.
            let p = gradient(&g, v.view()).unwrap();
            for node in 0..len {
                let pn: Vec<f64> = (0..d).map(|k| p[k][node]).collect();
                let (mut ea, mut ed) = (vec![0.0; d], vec![0.0; d]);
                match &m.controls {
                    Some(law) => {
                        for c in &law.channels {
                            let s: f64 = c.column.iter().zip(&pn).map(|(c, p)| c * p).sum();
                            let a = channel_control(c.player, 1.0 / c.weight, c.bound, s);
                            let out = match c.player {
                                Player::Designer => &mut ea,
                                Player::Disturbance => &mut ed,
                            };
                            for (o, c) in out.iter_mut().zip(&c.column) {
                                *o += c * a;
                            }
                        }
                    }
                    None => {
                        for (i, o) in ea.iter_mut().enumerate() {
                            *o = (0..d).map(|k| m.a[[i, k]] * pn[k]).sum();
                        }
                    }
                }
                for i in 0..d {
                    let at = i * len + node;
                    assert_eq!(
                        f.allocation.as_slice().unwrap()[at].to_bits(),
                        ea[i].to_bits()
                    );
                    assert_eq!(
                        f.disturbance.as_slice().unwrap()[at].to_bits(),
                        ed[i].to_bits()
                    );
                }
            }
            // Blocks of odd lengths that start anywhere on a row.
            let mut first = 0;
            for (b, size) in [1usize, 7, 40, 3, 333].iter().cycle().enumerate() {
                if first >= len {
                    break;
                }
                let size = (*size + b).min(len - first);
                let (mut al, mut di) = (vec![f64::NAN; d * size], vec![f64::NAN; d * size]);
                drifts.fill(first, &mut al, &mut di);
                for i in 0..d {
                    for j in 0..size {
                        let at = i * len + first + j;
                        let (ea, ed) = (
                            f.allocation.as_slice().unwrap()[at],
                            f.disturbance.as_slice().unwrap()[at],
                        );
                        assert_eq!(
                            al[i * size + j].to_bits(),
                            ea.to_bits(),
                            "d {d} node {}",
                            first + j
                        );
                        assert_eq!(
                            di[i * size + j].to_bits(),
                            ed.to_bits(),
                            "d {d} node {}",
                            first + j
                        );
                    }
                }
                first += size;
            }
        }
    }
}

#[test]
fn unbounded_fields_on_a_quadratic_value_are_exact_inside() {
    let d = 2;
    let g = grid(d, 33);
    let l = law(d, f64::INFINITY, f64::INFINITY);
    let m = model(d, Some(l.clone()), l.unbounded_matrix());
    let (phi, h) = phi_h(d);
    let v = quadratic(&g, &phi, &h);
    let f = feedback_fields(&m, &g, v.view()).unwrap();
    let mut a_des = Array2::<f64>::zeros((d, d));
    let mut a_dis = Array2::<f64>::zeros((d, d));
    for c in &l.channels {
        let col = Array1::from(c.column.clone());
        let outer = col
            .view()
            .insert_axis(ndarray::Axis(1))
            .dot(&col.view().insert_axis(ndarray::Axis(0)))
            / c.weight;
        match c.player {
            Player::Designer => a_des -= &outer,
            Player::Disturbance => a_dis += &outer,
        }
    }
    let n = g.shape()[0];
    let mut worst = 0.0f64;
    for i in 1..n - 1 {
        for j in 1..n - 1 {
            let flat = i * n + j;
            let p = phi.dot(&g.point(flat)) + &h;
            let (ea, ew) = (a_des.dot(&p), a_dis.dot(&p));
            for k in 0..d {
                worst = worst.max((f.allocation[[k, i, j]] - ea[k]).abs());
                worst = worst.max((f.disturbance[[k, i, j]] - ew[k]).abs());
            }
        }
    }
    assert!(worst < 1e-12, "interior error {worst:e}");
    // An expert A (no channels): the whole drift A∇v is the allocation.
    let expert = model(d, None, l.unbounded_matrix());
    let fe = feedback_fields(&expert, &g, v.view()).unwrap();
    assert!(fe.disturbance.iter().all(|&x| x == 0.0));
    let total = &f.allocation + &f.disturbance;
    let worst_e = (&fe.allocation - &total)
        .iter()
        .fold(0.0f64, |a, x| a.max(x.abs()));
    assert!(worst_e < 1e-12, "expert drift differs by {worst_e:e}");
}

#[test]
fn expected_cost_of_the_exact_lq_value_is_the_gaussian_expectation() {
    let d = 2;
    let l = law(d, f64::INFINITY, f64::INFINITY);
    let m = model(d, Some(l.clone()), l.unbounded_matrix());
    let eq = exact_equilibrium(&m, 100).unwrap();
    let phi0 = eq.phi.index_axis(ndarray::Axis(0), 0).to_owned();
    let pop = &eq.populations[0];
    let h0 = pop.h.row(0).to_owned();
    let chi0 = pop.chi[0];
    let spec = &m.populations[0];
    let exact = 0.5 * (&phi0 * &spec.cov).sum()
        + 0.5 * spec.mean.dot(&phi0.dot(&spec.mean))
        + h0.dot(&spec.mean)
        + chi0;
    let g = Grid::from_bounds(&[-2.5, -2.5], &[2.9, 2.9], &[241, 241]).unwrap();
    let mut v = quadratic(&g, &phi0, &h0);
    v.mapv_inplace(|x| x + chi0);
    let m0 = g.gaussian(spec.mean.view(), spec.cov.view()).unwrap();
    let j = expected_cost(&g, v.view(), m0.view()).unwrap();
    assert!(
        (j - exact).abs() < 1e-6 * exact.abs().max(1.0),
        "J = {j}, exact {exact}"
    );
}

#[test]
fn core_fraction_of_centred_and_positive_laws() {
    // An even number of nodes on [−2, 2]: the orthant boundary lies between nodes.
    for d in 1..=3 {
        let n = [400, 120, 40][d - 1];
        let g = Grid::from_bounds(&vec![-2.0; d], &vec![2.0; d], &vec![n; d]).unwrap();
        let cov = Array2::eye(d) * 0.09;
        let m = g.gaussian(Array1::zeros(d).view(), cov.view()).unwrap();
        let f = core_fraction(&g, m.view()).unwrap();
        let expect = 0.5f64.powi(d as i32);
        assert!(
            (f - expect).abs() < 1e-9,
            "d = {d}: fraction {f}, expected {expect}"
        );
        let cp = cov * 0.1;
        let mp = g
            .gaussian(Array1::from_elem(d, 1.2).view(), cp.view())
            .unwrap();
        let fp = core_fraction(&g, mp.view()).unwrap();
        assert!(
            (fp - 1.0).abs() < 1e-9,
            "d = {d}: positive law fraction {fp}"
        );
    }
}
