//! Properties every time stepper must have (docs/design.md §4, §4.5), tested once over the
//! `TimeStepper` trait and run for every scheme, in 1-D, 2-D and 3-D, for the quadratic
//! Hamiltonian and for bounded channels with the core penalty:
//!
//! * the FPK step is the exact transpose of the HJI's linear step:
//!   ⟨S_n w, m⟩ = ⟨w, S_nᵀ m⟩ to round-off for arbitrary fields w, m;
//! * S_n 1 = 1, so the FPK conserves mass to round-off;
//! * the FPK sweep's levels are `apply_step_transpose` of the previous level, bit for bit
//!   (the sweep rebuilds the HJI's coefficients identically);
//! * results are bit-identical for 1, 2 and 3 threads;
//! * policy evaluation with the equilibrium's own value reproduces it bit for bit (bounded).

mod common;

use ndarray::{Array2, ArrayD, ArrayViewD};
use tufield_solvers::grid::Grid;
use tufield_solvers::model::{Model, Population};
use tufield_solvers::scheme::{SchemeKind, TimeStepper};
use tufield_solvers::sweep::HjiSolution;

const CASES: [(usize, &[usize], usize); 3] =
    [(1, &[121], 30), (2, &[41, 37], 16), (3, &[17, 15, 19], 8)];

/// The model of dimension d: LQ (`bounded = false`) or bounded channels with the core
/// penalty κ = 2.
fn model(d: usize, bounded: bool) -> Model {
    let (q, s) = common::cost_weights(d);
    let unbounded = common::mixed_law(d, f64::INFINITY, f64::INFINITY);
    Model::builder(unbounded.unbounded_matrix())
        .axis_labels((1..=d).map(|i| format!("x{i}")).collect())
        .q(q)
        .s(s)
        .sigma(0.3)
        .horizon(1.0)
        .population(Population {
            name: "p".into(),
            mean: ndarray::Array1::from_elem(d, 0.2),
            cov: Array2::eye(d) * 0.09,
        })
        .core_penalty(if bounded { 2.0 } else { 0.0 })
        .controls(Some(if bounded {
            common::mixed_law(d, 0.3, 0.2)
        } else {
            unbounded
        }))
        .build()
        .expect("the test model is valid")
}

fn grid(d: usize, pts: &[usize]) -> Grid {
    Grid::from_bounds(&vec![-2.0; d], &vec![2.0; d], pts).unwrap()
}

fn rho_path(d: usize, steps: usize) -> Array2<f64> {
    Array2::from_shape_fn((steps + 1, d), |(n, i)| {
        let t = n as f64 / steps as f64;
        0.4 - 0.3 * i as f64 + 0.5 * t * if i % 2 == 0 { 1.0 } else { -1.0 }
    })
}

/// A deterministic rough field (not smooth, not of one sign).
fn rough(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.3
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Every scheme on every case, LQ and bounded + core penalty.
fn each(mut f: impl FnMut(SchemeKind, usize, &Grid, usize, &Model, &str)) {
    for kind in SchemeKind::ALL {
        for &(d, pts, steps) in &CASES {
            let g = grid(d, pts);
            for bounded in [false, true] {
                let m = model(d, bounded);
                let what = format!(
                    "{} {d}-D {}",
                    kind.name(),
                    if bounded {
                        "bounded + core penalty"
                    } else {
                        "LQ"
                    }
                );
                f(kind, d, &g, steps, &m, &what);
            }
        }
    }
}

fn solve_hji(s: &mut dyn TimeStepper, d: usize, steps: usize) -> HjiSolution {
    let mut hji = HjiSolution::empty();
    s.solve_hji_into(rho_path(d, steps).view(), 0, &mut hji)
        .unwrap();
    hji
}

#[test]
fn fpk_step_is_the_exact_transpose_and_conserves_mass() {
    each(|kind, d, g, steps, m, what| {
        let mut s = kind.build(m, g, steps).unwrap();
        let hji = solve_hji(s.as_mut(), d, steps);
        for n in [0, steps / 2, steps - 1] {
            let w = rough(g.len(), 1 + n as u64);
            let mv = rough(g.len(), 100 + n as u64);
            let mut sw = w.clone();
            s.apply_step(&hji, n, &mut sw).unwrap();
            let mut stm = mv.clone();
            s.apply_step_transpose(&hji, n, &mut stm).unwrap();
            let (lhs, rhs) = (dot(&sw, &mv), dot(&w, &stm));
            let scale = dot(
                &sw.iter().map(|x| x.abs()).collect::<Vec<_>>(),
                &mv.iter().map(|x| x.abs()).collect::<Vec<_>>(),
            );
            assert!(
                (lhs - rhs).abs() <= 1e-13 * scale,
                "{what}, level {n}: ⟨Sw, m⟩ = {lhs:e}, ⟨w, Sᵀm⟩ = {rhs:e}"
            );
            let mut ones = vec![1.0; g.len()];
            s.apply_step(&hji, n, &mut ones).unwrap();
            let dev = ones.iter().map(|x| (x - 1.0).abs()).fold(0.0, f64::max);
            assert!(dev < 1e-13, "{what}, level {n}: |S1 − 1| = {dev:e}");
            let (before, after) = (mv.iter().sum::<f64>(), stm.iter().sum::<f64>());
            assert!(
                (before - after).abs() < 1e-13 * mv.iter().map(|x| x.abs()).sum::<f64>(),
                "{what}, level {n}: mass {before} → {after}"
            );
        }
    });
}

#[test]
fn fpk_sweep_levels_are_transposed_steps_and_keep_mass() {
    each(|kind, d, g, steps, m, what| {
        let mut s = kind.build(m, g, steps).unwrap();
        let hji = solve_hji(s.as_mut(), d, steps);
        let m0 = g
            .gaussian(m.populations[0].mean.view(), m.populations[0].cov.view())
            .unwrap();
        let mut levels: Vec<Vec<f64>> = Vec::new();
        let fpk = s
            .solve_fpk(&hji, m0.view(), 0, &mut |_, m: ArrayViewD<f64>| {
                levels.push(m.iter().cloned().collect())
            })
            .unwrap();
        assert_eq!(levels.len(), steps + 1);
        for n in 0..steps {
            let mut next = levels[n].clone();
            s.apply_step_transpose(&hji, n, &mut next).unwrap();
            assert!(next == levels[n + 1], "{what}: level {} differs", n + 1);
        }
        for (n, mass) in fpk.mass.iter().enumerate() {
            assert!(
                (mass - 1.0).abs() < 1e-13,
                "{what}: mass {mass} at level {n}"
            );
        }
        if kind == SchemeKind::Monotone {
            assert!(fpk.min_density >= 0.0, "{what}");
            assert!(s.negative_density().is_none());
        }
        // Either the density stayed non-negative or the stepper says where it did not.
        let negative = levels.iter().flatten().any(|&v| v < 0.0);
        assert_eq!(negative, s.negative_density().is_some(), "{what}");
        if let Some(neg) = s.negative_density() {
            assert_eq!(neg.min_value, fpk.min_density, "{what}");
            assert_eq!(neg.point.len(), d);
            eprintln!("{what}: negative density {neg:?}");
        }
    });
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    each(|kind, d, g, steps, m, what| {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut s = kind.build(m, g, steps).unwrap();
                let hji = solve_hji(s.as_mut(), d, steps);
                let m0 = g
                    .gaussian(m.populations[0].mean.view(), m.populations[0].cov.view())
                    .unwrap();
                let mut last = ArrayD::zeros(m0.shape());
                let fpk = s
                    .solve_fpk(&hji, m0.view(), 0, &mut |_, m: ArrayViewD<f64>| {
                        last = m.to_owned()
                    })
                    .unwrap();
                (hji, last, fpk)
            })
        };
        let one = run(1);
        for threads in [2, 3] {
            let other = run(threads);
            assert!(
                one.0 == other.0,
                "{what}: HJI differs with {threads} threads"
            );
            assert!(
                one.1 == other.1,
                "{what}: density differs with {threads} threads"
            );
            assert!(
                one.2 == other.2,
                "{what}: moments differ with {threads} threads"
            );
        }
    });
}

/// (With active bounds: in the LQ model the sweeps use b = Ap rather than the channels.)
#[test]
fn evaluating_the_own_policy_reproduces_the_value() {
    each(|kind, d, g, steps, m, what| {
        if !m.is_bounded() {
            return;
        }
        let mut s = kind.build(m, g, steps).unwrap();
        let hji = solve_hji(s.as_mut(), d, steps);
        s.set_designer_policy(Some(hji.clone())).unwrap();
        let again = solve_hji(s.as_mut(), d, steps);
        assert!(
            again == hji,
            "{what}: policy evaluation of the own value differs"
        );
        s.set_designer_policy(None).unwrap();
        assert!(solve_hji(s.as_mut(), d, steps) == hji, "{what}");
    });
}

#[test]
fn wrong_levels_and_fields_are_refused() {
    let (d, pts, steps) = CASES[1];
    let g = grid(d, pts);
    for kind in SchemeKind::ALL {
        let mut s = kind.build(&model(d, false), &g, steps).unwrap();
        let hji = solve_hji(s.as_mut(), d, steps);
        let mut x = vec![0.0; g.len()];
        assert!(s.apply_step(&hji, steps, &mut x).is_err());
        assert!(s.apply_step_transpose(&hji, 0, &mut x[1..]).is_err());
        assert!(kind.build(&model(d, false), &g, 0).is_err());
        assert_eq!(SchemeKind::from_name(kind.name()).unwrap(), kind);
    }
    let e = SchemeKind::from_name("third-order")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("scheme") && e.contains("\"monotone\", \"second-order\""),
        "{e}"
    );
}
