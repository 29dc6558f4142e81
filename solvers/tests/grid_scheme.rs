//! Invariants of the grid scheme (solvers/src/sweep): the line solves invert the assembled
//! M-matrices I − dt L_i (and their transposes), the FPK step is the exact transpose of the
//! HJI step, mass is conserved and densities stay non-negative, results do not depend on
//! the number of threads, non-finite values and bad input are reported.

use ndarray::{array, Array2, ArrayViewD};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sprs::CsMat;
use tufield_solvers::grid::{Axis, Grid};
use tufield_solvers::model::Model;
use tufield_solvers::sweep::Sweeper;
use tufield_solvers::{Param, SolverError};

fn params(d: usize) -> Model {
    let (a, q, s) = match d {
        1 => (array![[-0.75]], array![[1.0]], array![[0.5]]),
        2 => (
            array![[-1.0, 0.3], [0.3, -0.8]],
            array![[1.0, 0.2], [0.2, 0.6]],
            array![[0.5, 0.0], [0.0, 0.3]],
        ),
        _ => (
            array![[-1.0, 0.3, -0.2], [0.3, -0.8, 0.25], [-0.2, 0.25, -1.2]],
            array![[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 0.8]],
            array![[0.5, 0.0, 0.1], [0.0, 0.3, 0.0], [0.1, 0.0, 0.4]],
        ),
    };
    model_with(a, q, s, 0.3)
}

fn model_with(a: Array2<f64>, q: Array2<f64>, s: Array2<f64>, sigma: f64) -> Model {
    Model::builder(a).q(q).s(s).sigma(sigma).build().unwrap()
}

fn grid(d: usize, pts: &[usize]) -> Grid {
    let lo = [-1.5, -1.3, -1.4];
    let hi = [1.6, 1.2, 1.5];
    Grid::from_bounds(&lo[..d], &hi[..d], pts).unwrap()
}

/// A non-trivial value field: a tilted quadratic (drift changes sign inside the box) plus
/// seeded noise of size comparable to the grid differences.
fn rough_value(g: &Grid, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..g.len())
        .map(|p| {
            let x = g.point(p);
            let quad: f64 = x
                .iter()
                .enumerate()
                .map(|(i, xi)| (0.6 + 0.2 * i as f64) * (xi - 0.1 * i as f64).powi(2))
                .sum();
            quad + 0.3 * x[0] * x[x.len() - 1] + 0.05 * rng.random::<f64>()
        })
        .collect()
}

fn random_field(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n).map(|_| rng.random::<f64>()).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn matvec(m: &CsMat<f64>, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; m.rows()];
    for (i, row) in m.outer_iterator().enumerate() {
        y[i] = row.iter().map(|(j, v)| v * x[j]).sum();
    }
    y
}

fn matvec_t(m: &CsMat<f64>, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; m.cols()];
    for (i, row) in m.outer_iterator().enumerate() {
        for (j, v) in row.iter() {
            y[j] += v * x[i];
        }
    }
    y
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// (d, points, steps): the last axes have several 64-node segments, the last one partial,
/// and the row counts are not multiples of the 16-row groups.
const CASES: [(usize, &[usize], usize); 3] =
    [(1, &[157], 20), (2, &[41, 150], 10), (3, &[9, 11, 70], 6)];

#[test]
fn line_solves_invert_assembled_m_matrices() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (d, pts, steps) in CASES {
        let g = grid(d, pts);
        let mut sw = Sweeper::new(&params(d), &g, steps).unwrap();
        let dt = sw.time().dt();
        let v = rough_value(&g, &mut rng);
        // The drift must take both signs on every axis, to exercise both upwind branches.
        let b = sw
            .optimal_drift(
                ndarray::ArrayView::from_shape(g.shape(), &v)
                    .unwrap()
                    .into_dyn(),
            )
            .unwrap();
        for axis in 0..d {
            let comp = b.index_axis(ndarray::Axis(0), axis);
            assert!(
                comp.iter().any(|&x| x > 0.05) && comp.iter().any(|&x| x < -0.05),
                "d={d} axis {axis}"
            );
        }
        let gens = sw.assemble_generators(&v).unwrap();
        for (axis, l) in gens.iter().enumerate() {
            // Generator: rows sum to 0, off-diagonals ≥ 0.
            for (i, row) in l.outer_iterator().enumerate() {
                let sum: f64 = row.iter().map(|(_, v)| *v).sum();
                let diag = row.iter().find(|(j, _)| *j == i).map(|(_, v)| *v).unwrap();
                assert!(
                    sum.abs() <= 1e-12 * diag.abs(),
                    "d={d} axis {axis} row {i}: sum {sum}"
                );
                for (j, v) in row.iter() {
                    if j != i {
                        assert!(*v >= 0.0, "negative off-diagonal");
                    }
                }
            }
            for transpose in [false, true] {
                let x0 = random_field(g.len(), &mut rng);
                let mut x = x0.clone();
                sw.apply_factor(&v, axis, transpose, &mut x).unwrap();
                // M x = x0 with M = I − dt L (or Mᵀ).
                let lx = if transpose {
                    matvec_t(l, &x)
                } else {
                    matvec(l, &x)
                };
                let resid: Vec<f64> = x
                    .iter()
                    .zip(&lx)
                    .zip(&x0)
                    .map(|((xi, li), bi)| xi - dt * li - bi)
                    .collect();
                let err = max_abs(&resid) / max_abs(&x0);
                assert!(
                    err < 1e-13,
                    "d={d} axis={axis} transpose={transpose}: residual {err:e}"
                );
            }
        }
    }
}

#[test]
fn fpk_step_is_exact_adjoint_of_hji_step() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (d, pts, steps) in CASES {
        let g = grid(d, pts);
        let mut sw = Sweeper::new(&params(d), &g, steps).unwrap();
        for _ in 0..3 {
            let v_next = rough_value(&g, &mut rng);
            let v0 = random_field(g.len(), &mut rng);
            let m0 = random_field(g.len(), &mut rng);
            let mut sv = v0.clone();
            sw.apply_step(&v_next, &mut sv).unwrap();
            let mut stm = m0.clone();
            sw.apply_step_transpose(&v_next, &mut stm).unwrap();
            let lhs = dot(&sv, &m0);
            let rhs = dot(&v0, &stm);
            let rel = (lhs - rhs).abs() / lhs.abs();
            eprintln!("d={d}: <S v, m> = {lhs:.15e}, <v, S^T m> = {rhs:.15e}, rel {rel:.2e}");
            assert!(rel < 1e-12, "d={d}: adjointness defect {rel:e}");
            // S preserves constants, Sᵀ preserves mass.
            let mut one = vec![1.0; g.len()];
            sw.apply_step(&v_next, &mut one).unwrap();
            assert!(one.iter().all(|x| (x - 1.0).abs() < 1e-13));
            let mass0: f64 = m0.iter().sum();
            let mass1: f64 = stm.iter().sum();
            assert!((mass1 - mass0).abs() < 1e-13 * mass0);
            assert!(stm.iter().all(|&x| x >= 0.0));
        }
    }
}

fn rho_path(d: usize, steps: usize, dt: f64) -> Array2<f64> {
    Array2::from_shape_fn((steps + 1, d), |(n, i)| {
        0.2 - 0.1 * i as f64 + 0.3 * (n as f64 * dt) * if i % 2 == 0 { 1.0 } else { -1.0 }
    })
}

#[test]
fn fpk_conserves_mass_and_positivity() {
    for (d, pts, steps) in [
        (1, &[201][..], 100),
        (2, &[61, 55][..], 40),
        (3, &[21, 19, 23][..], 16),
    ] {
        let g = grid(d, pts);
        let p = params(d);
        let mut sw = Sweeper::new(&p, &g, steps).unwrap();
        let rho = rho_path(d, steps, sw.time().dt());
        let hji = sw.solve_hji(rho.view(), 0).unwrap();
        let mean = ndarray::Array1::from_shape_fn(d, |i| -0.3 + 0.2 * i as f64);
        let cov = Array2::from_shape_fn((d, d), |(i, j)| {
            if i == j {
                0.04 + 0.01 * i as f64
            } else {
                0.008
            }
        });
        let m0 = g.gaussian(mean.view(), cov.view()).unwrap();
        let mut calls = 0usize;
        let mut min_seen = f64::INFINITY;
        let summary = sw
            .solve_fpk(
                &hji,
                m0.view(),
                0,
                &mut |level: usize, m: ArrayViewD<f64>| {
                    assert_eq!(level, calls);
                    calls += 1;
                    min_seen = min_seen.min(m.iter().cloned().fold(f64::INFINITY, f64::min));
                },
            )
            .unwrap();
        assert_eq!(calls, steps + 1);
        let worst = summary
            .mass
            .iter()
            .map(|m| (m - 1.0).abs())
            .fold(0.0, f64::max);
        eprintln!("d={d}: max |mass − 1| = {worst:.2e}, min density = {min_seen:.2e}, final boundary mass {:.2e}", summary.boundary_mass[steps]);
        assert!(worst <= 1e-12, "d={d}: mass drift {worst:e}");
        assert!(min_seen >= 0.0 && summary.min_density >= 0.0);
        assert_eq!(summary.min_density, min_seen);
        // The density really moved (the test is not vacuous).
        let shift = (&summary.mean.row(steps) - &summary.mean.row(0))
            .mapv(f64::abs)
            .sum();
        assert!(shift > 1e-2, "d={d}: mean did not move ({shift})");
    }
}

fn run_2d(threads: usize, portable: bool) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let g = grid(2, &[150, 203]);
        let p = params(2);
        let steps = 12;
        let mut sw = Sweeper::new(&p, &g, steps).unwrap();
        sw.set_portable_kernels(portable);
        let rho = rho_path(2, steps, sw.time().dt());
        let hji = sw.solve_hji(rho.view(), 0).unwrap();
        let m0 = g
            .gaussian(
                array![0.1, -0.2].view(),
                array![[0.05, 0.01], [0.01, 0.04]].view(),
            )
            .unwrap();
        let mut last = Vec::new();
        let s = sw
            .solve_fpk(&hji, m0.view(), 0, &mut |_, m: ArrayViewD<f64>| {
                last = m.iter().cloned().collect()
            })
            .unwrap();
        let mut stats: Vec<f64> = s.mean.iter().cloned().collect();
        stats.extend(s.cov.iter());
        stats.extend(s.mass.iter());
        stats.extend(s.boundary_mass.iter());
        (hji.values().iter().cloned().collect(), last, stats)
    })
}

#[test]
fn results_are_bit_identical_for_1_and_2_threads() {
    let (v1, m1, s1) = run_2d(1, false);
    let (v2, m2, s2) = run_2d(2, false);
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&v1), bits(&v2), "value functions differ");
    assert_eq!(bits(&m1), bits(&m2), "densities differ");
    assert_eq!(bits(&s1), bits(&s2), "moments differ");
}

#[test]
fn portable_and_simd_kernels_give_identical_bits() {
    let (v1, m1, s1) = run_2d(2, false);
    let (v2, m2, s2) = run_2d(2, true);
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&v1), bits(&v2), "value functions differ");
    assert_eq!(bits(&m1), bits(&m2), "densities differ");
    assert_eq!(bits(&s1), bits(&s2), "moments differ");
}

#[test]
fn nan_in_target_is_reported_at_its_level() {
    let g = grid(2, &[21, 17]);
    let steps = 10;
    let mut sw = Sweeper::new(&params(2), &g, steps).unwrap();
    let mut rho = rho_path(2, steps, sw.time().dt());
    rho[[5, 1]] = f64::NAN;
    let err = sw.solve_hji(rho.view(), 3).unwrap_err();
    assert_eq!(
        err,
        SolverError::NonFinite {
            stage: "HJI",
            level: 5,
            population: 3
        }
    );
    let mut rho = rho_path(2, steps, sw.time().dt());
    rho[[steps, 0]] = f64::INFINITY;
    let err = sw.solve_hji(rho.view(), 1).unwrap_err();
    assert_eq!(
        err,
        SolverError::NonFinite {
            stage: "HJI",
            level: steps,
            population: 1
        }
    );
    // FPK: an initial density that overflows the mass sum.
    let rho = rho_path(2, steps, sw.time().dt());
    let hji = sw.solve_hji(rho.view(), 0).unwrap();
    let m0 = ndarray::ArrayD::from_elem(g.shape(), 1e308);
    let err = sw
        .solve_fpk(&hji, m0.view(), 2, &mut |_, _| {})
        .unwrap_err();
    assert_eq!(
        err,
        SolverError::NonFinite {
            stage: "FPK",
            level: 0,
            population: 2
        }
    );
}

fn field_of(e: SolverError) -> Param {
    match e {
        SolverError::InvalidParameter { field, .. } => field,
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
}

#[test]
fn bad_input_names_the_field() {
    assert_eq!(field_of(Axis::new(0.0, 1.0, 2).unwrap_err()), Param::Points);
    assert_eq!(field_of(Axis::new(1.0, 1.0, 5).unwrap_err()), Param::Domain);
    assert_eq!(
        field_of(Axis::new(f64::NAN, 1.0, 5).unwrap_err()),
        Param::Domain
    );
    assert_eq!(
        field_of(Grid::from_bounds(&[0.0, 0.0], &[1.0], &[5]).unwrap_err()),
        Param::Domain
    );
    assert_eq!(
        field_of(Grid::from_bounds(&[0.0, 0.0], &[1.0, 1.0], &[5, 5, 5]).unwrap_err()),
        Param::Points
    );
    assert_eq!(
        field_of(Grid::from_bounds(&[0.0; 4], &[1.0; 4], &[5]).unwrap_err()),
        Param::Points
    );
    let g = grid(2, &[11, 9]);
    assert_eq!(
        field_of(Sweeper::new(&params(2), &g, 0).unwrap_err()),
        Param::Steps
    );
    assert_eq!(
        field_of(Sweeper::new(&params(1), &g, 4).unwrap_err()),
        Param::Drift
    );
    let p = params(2);
    assert!(matches!(
        Model::builder(array![[0.1, 0.0], [0.0, -1.0]])
            .q(p.q.clone())
            .s(p.s.clone())
            .build()
            .unwrap_err(),
        SolverError::IllPosed { .. }
    ));
    assert_eq!(
        field_of(
            Model::builder(p.a.clone())
                .q(p.q.clone())
                .s(p.s.clone())
                .sigma(-1.0)
                .build()
                .unwrap_err()
        ),
        Param::Noise
    );
    let mut sw = Sweeper::new(&params(2), &g, 4).unwrap();
    assert_eq!(
        field_of(sw.solve_hji(Array2::zeros((4, 2)).view(), 0).unwrap_err()),
        Param::Argument("rho")
    );
    let hji = sw.solve_hji(Array2::zeros((5, 2)).view(), 0).unwrap();
    let mut m0 = ndarray::ArrayD::from_elem(g.shape(), 0.1);
    m0[[3, 3]] = -1e-3;
    assert_eq!(
        field_of(
            sw.solve_fpk(&hji, m0.view(), 1, &mut |_, _| {})
                .unwrap_err()
        ),
        Param::PopulationDensity(1)
    );
    let m0 = ndarray::ArrayD::from_elem(vec![9, 11], 0.1);
    assert_eq!(
        field_of(
            sw.solve_fpk(&hji, m0.view(), 0, &mut |_, _| {})
                .unwrap_err()
        ),
        Param::PopulationDensity(0)
    );
    assert_eq!(
        field_of(
            g.gaussian(
                array![0.0, 0.0].view(),
                array![[1.0, 2.0], [2.0, 1.0]].view()
            )
            .unwrap_err()
        ),
        Param::PopulationCov(None)
    );
    assert_eq!(
        field_of(
            g.gaussian(
                array![50.0, 0.0].view(),
                array![[0.01, 0.0], [0.0, 0.01]].view()
            )
            .unwrap_err()
        ),
        Param::PopulationMean(None)
    );
}

#[test]
fn discrete_gaussian_has_the_requested_moments() {
    let g = Grid::from_bounds(&[-2.5, -2.5], &[2.6, 2.4], &[161, 141]).unwrap();
    let mean = array![0.15, -0.1];
    let cov = array![[0.05, 0.012], [0.012, 0.03]];
    let m = g.gaussian(mean.view(), cov.view()).unwrap();
    let mom = g.moments(m.as_slice().unwrap()).unwrap();
    assert!((mom.mass - 1.0).abs() < 1e-14);
    assert!(
        (&mom.mean - &mean).iter().all(|e| e.abs() < 1e-10),
        "{:?}",
        mom.mean
    );
    assert!(
        (&mom.cov - &cov).iter().all(|e| e.abs() < 1e-10),
        "{:?}",
        mom.cov
    );
    assert!(mom.boundary_mass < 1e-10 && mom.min_density >= 0.0);
}

#[test]
fn auto_domain_follows_the_stated_rule() {
    use tufield_solvers::graph::{Graph, GraphKind};
    use tufield_solvers::model::Population;
    // With Q = S = 0 the Riccati solution is φ ≡ 0 and the covariance is C_k + σ²t exactly,
    // so the rule gives lo_i = min_k m̄_k,i − κ (max_k C_k,ii + σ²T)^{1/2} (and hi likewise).
    let (sigma, horizon) = (0.4, 2.0);
    let pops = vec![
        Population {
            name: "a".into(),
            mean: array![0.5, -1.0],
            cov: array![[0.04, 0.01], [0.01, 0.09]],
        },
        Population {
            name: "b".into(),
            mean: array![-0.3, 0.7],
            cov: array![[0.16, 0.0], [0.0, 0.01]],
        },
    ];
    let model = Model::builder(array![[-1.0, 0.3], [0.3, -0.8]])
        .sigma(sigma)
        .horizon(horizon)
        .populations(pops)
        .graph(Graph::new(2, &GraphKind::Chain).unwrap())
        .build()
        .unwrap();
    let g = Grid::auto(&model, &[41, 31], 6.0).unwrap();
    let s = [
        (0.16f64 + sigma * sigma * horizon).sqrt(),
        (0.09f64 + sigma * sigma * horizon).sqrt(),
    ];
    let expect = [
        (-0.3 - 6.0 * s[0], 0.5 + 6.0 * s[0]),
        (-1.0 - 6.0 * s[1], 0.7 + 6.0 * s[1]),
    ];
    for (ax, (lo, hi)) in g.axes().iter().zip(expect) {
        assert!(
            (ax.lo() - lo).abs() < 1e-9 && (ax.hi() - hi).abs() < 1e-9,
            "{ax:?}"
        );
    }
    assert_eq!(g.shape(), &[41, 31]);
    // With a tracking cost the spread is smaller than the uncontrolled one, but never below
    // the initial spread.
    let mut m2 = model.clone();
    m2.q = array![[2.0, 0.0], [0.0, 2.0]];
    let g2 = Grid::auto(&m2, &[41], 6.0).unwrap();
    let w = g2.axis(0).hi() - g2.axis(0).lo();
    assert!(w < expect[0].1 - expect[0].0 && w >= 0.8 + 12.0 * 0.4);
    assert_eq!(
        field_of(Grid::auto(&model, &[41, 31, 5], 6.0).unwrap_err()),
        Param::Points
    );
    assert_eq!(
        field_of(Grid::auto(&model, &[41], 0.0).unwrap_err()),
        Param::Domain
    );
}
