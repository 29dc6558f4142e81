//! One HJI (backward) + FPK (forward) pass of the grid scheme (tufield_solvers::sweep) on the
//! sizes a scenario uses: 1-D 2000 points × 1000 steps, 2-D 256² × 200 (quadratic, and
//! `2d_bounded` with the saturating Hamiltonian of bounded allocations), 3-D 64³ × 100.
//!
//! * `cargo bench --bench sweep` — criterion timings (small sample size).
//! * `cargo bench --bench sweep -- --throughput [--threads 1,2,16] [--case 2d] [--repeat N]` — prints
//!   point-steps per second (grid points × time steps / best wall time of `--repeat N`
//!   (default 3) HJI+FPK pairs) for each thread count and checks that every thread count reproduces the 1-thread value
//!   functions and densities bit for bit (exits non-zero otherwise).

use criterion::{criterion_group, Criterion};
use ndarray::{array, Array1, Array2, ArrayD, ArrayViewD};
use std::time::Instant;
use tufield_solvers::game::{ControlWeight, DisturbanceWeight, Game};
use tufield_solvers::grid::Grid;
use tufield_solvers::model::Model;
use tufield_solvers::sweep::{FpkSummary, HjiSolution, Sweeper};

struct Case {
    name: &'static str,
    points: usize,
    steps: usize,
    params: Model,
    mean: Array1<f64>,
    cov: Array2<f64>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "1d",
            points: 2000,
            steps: 1000,
            params: Model::builder(array![[-0.75]])
                .q(array![[1.0]])
                .s(array![[0.5]])
                .sigma(0.3)
                .build()
                .expect("model"),
            mean: array![0.4],
            cov: array![[0.0225]],
        },
        Case {
            name: "2d",
            points: 256,
            steps: 200,
            params: Model::builder(array![[-1.0, 0.3], [0.3, -0.8]])
                .q(array![[1.0, 0.2], [0.2, 0.6]])
                .s(array![[0.5, 0.0], [0.0, 0.3]])
                .sigma(0.3)
                .build()
                .expect("model"),
            mean: array![0.3, -0.2],
            cov: array![[0.04, 0.01], [0.01, 0.03]],
        },
        Case {
            name: "2d_bounded",
            points: 256,
            steps: 200,
            params: bounded_params(),
            mean: array![0.3, -0.2],
            cov: array![[0.04, 0.01], [0.01, 0.03]],
        },
        Case {
            name: "3d",
            points: 64,
            steps: 100,
            params: Model::builder(array![
                [-1.0, 0.3, -0.2],
                [0.3, -0.8, 0.25],
                [-0.2, 0.25, -1.2]
            ])
            .q(array![[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 0.8]])
            .s(array![[0.5, 0.0, 0.1], [0.0, 0.3, 0.0], [0.1, 0.0, 0.4]])
            .sigma(0.3)
            .build()
            .expect("model"),
            mean: array![0.3, -0.2, 0.1],
            cov: array![
                [0.04, 0.01, 0.0],
                [0.01, 0.03, -0.005],
                [0.0, -0.005, 0.035]
            ],
        },
    ]
}

/// The 3-player game on coalitions {1}, {1,2} (γ = 2, R = I) with |u_i| ≤ 0.4: the
/// saturating channel Hamiltonian (5 designer and 2 disturbance channels).
fn bounded_params() -> Model {
    let game = Game::new(3).expect("game");
    let law = game
        .control_law(
            &[0, 3],
            &ControlWeight::Scalar(1.0),
            &DisturbanceWeight::Gamma(2.0),
            Some(0.4),
            None,
        )
        .expect("channels");
    Model::builder(law.unbounded_matrix())
        .q(array![[1.0, 0.0], [0.0, 1.0]])
        .s(array![[1.0, 0.0], [0.0, 1.0]])
        .sigma(0.3)
        .controls(Some(law))
        .build()
        .expect("model")
}

/// Everything one pass needs, allocated once.
struct Setup {
    sweeper: Sweeper,
    rho: Array2<f64>,
    m0: ArrayD<f64>,
    hji: HjiSolution,
    points: usize,
    steps: usize,
}

fn setup(c: &Case) -> Setup {
    let d = c.mean.len();
    let lo: Vec<f64> = c.mean.iter().map(|m| m - 2.0).collect();
    let hi: Vec<f64> = c.mean.iter().map(|m| m + 2.0).collect();
    let grid = Grid::from_bounds(&lo, &hi, &[c.points]).expect("grid");
    let sweeper = Sweeper::new(&c.params, &grid, c.steps).expect("sweeper");
    let dt = sweeper.time().dt();
    // A moving target so that the drift is not symmetric.
    let rho = Array2::from_shape_fn((c.steps + 1, d), |(n, i)| {
        c.mean[i] + 0.3 * n as f64 * dt * if i % 2 == 0 { 1.0 } else { -1.0 }
    });
    let m0 = grid.gaussian(c.mean.view(), c.cov.view()).expect("m0");
    Setup {
        points: grid.len(),
        steps: c.steps,
        sweeper,
        rho,
        m0,
        hji: HjiSolution::empty(),
    }
}

fn pass(s: &mut Setup, last: &mut Vec<f64>) -> FpkSummary {
    s.sweeper
        .solve_hji_into(s.rho.view(), 0, &mut s.hji)
        .expect("HJI");
    let steps = s.steps;
    s.sweeper
        .solve_fpk(&s.hji, s.m0.view(), 0, &mut |n, m: ArrayViewD<f64>| {
            if n == steps {
                last.clear();
                last.extend(m.iter());
            }
        })
        .expect("FPK")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sweep_hji_fpk");
    group.sample_size(10);
    for case in cases() {
        let mut s = setup(&case);
        let mut last = Vec::new();
        let id = format!("{}_{}x{}", case.name, case.points, case.steps);
        group.bench_function(id, |b| b.iter(|| pass(&mut s, &mut last)));
    }
    group.finish();
}

criterion_group!(benches, bench);

fn throughput(threads: &[usize], only: Option<&str>, repeat: usize) -> bool {
    let mut ok = true;
    for case in cases() {
        if only.is_some_and(|o| o != case.name) {
            continue;
        }
        let mut reference: Option<(Vec<u64>, Vec<u64>)> = None;
        for &t in threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("thread pool");
            let (secs, bits) = pool.install(|| {
                let mut s = setup(&case);
                let mut last = Vec::new();
                pass(&mut s, &mut last); // warm-up (page faults, caches)
                let mut best = f64::INFINITY;
                for _ in 0..repeat {
                    let t0 = Instant::now();
                    pass(&mut s, &mut last);
                    best = best.min(t0.elapsed().as_secs_f64());
                }
                // (no copies when there is nothing to compare, so that peak memory is the
                // solver's own)
                let keep = threads.len() > 1;
                let vb: Vec<u64> = if keep {
                    s.hji.values().iter().map(|v| v.to_bits()).collect()
                } else {
                    Vec::new()
                };
                let mb: Vec<u64> = if keep {
                    last.iter().map(|v| v.to_bits()).collect()
                } else {
                    Vec::new()
                };
                (best, (vb, mb, s.points * s.steps))
            });
            let (vb, mb, work) = bits;
            let same = match &reference {
                None => {
                    reference = Some((vb, mb));
                    "reference".to_string()
                }
                Some((rv, rm)) => {
                    let same = *rv == vb && *rm == mb;
                    ok &= same;
                    if same {
                        "bit-identical to 1st"
                    } else {
                        "DIFFERS from 1st"
                    }
                    .to_string()
                }
            };
            println!(
                "{:>3} {:>12} points x {:>5} steps, {:>2} threads: {:8.3} s  {:10.3e} point-steps/s  ({same})",
                case.name,
                work / case.steps,
                case.steps,
                t,
                secs,
                work as f64 / secs
            );
        }
    }
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--throughput") {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let threads: Vec<usize> = value("--threads")
            .map(|s| {
                s.split(',')
                    .map(|x| x.parse().expect("--threads N[,M…]"))
                    .collect()
            })
            .unwrap_or_else(|| vec![1, 2, 16]);
        let case = value("--case");
        let repeat = value("--repeat").map_or(3, |r| r.parse().expect("--repeat N"));
        if !throughput(&threads, case.as_deref(), repeat) {
            eprintln!("results differ between thread counts");
            std::process::exit(1);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
