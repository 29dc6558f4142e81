//! Finite-N simulation throughput (`solvers::particles::simulate`, exact LQ policy,
//! histograms off), on one population of scenarios/lqc_1d_single.toml (1-D) and of
//! scenarios/lqc_2d_chain3.toml (2-D, population "low" alone, non-diagonal A).
//!
//! * `cargo bench --bench simulate` — criterion timing, 10⁵ copies × 20 steps.
//! * `cargo bench --bench simulate -- --report [--threads 1,2]` — 10⁶ copies × 20 steps per
//!   case and thread count, printing copies × steps per second.

mod common;

use criterion::Criterion;
use std::path::Path;
use std::time::{Duration, Instant};
use tufield::Scenario;
use tufield_solvers::graph::Graph;
use tufield_solvers::lq::exact_equilibrium;
use tufield_solvers::particles::{simulate, LqPolicy, ParticleSystem, SimulationOptions};

const STEPS: usize = 20;

fn case(file: &str) -> (ParticleSystem, LqPolicy) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sc = Scenario::load(&root.join("scenarios").join(file), &[]).expect("scenario loads");
    let mut model = sc.model.clone();
    model.populations.truncate(1);
    model.graph = Graph::single();
    let eq = exact_equilibrium(&model, STEPS).expect("LQ oracle");
    let policy = LqPolicy::from_equilibrium(&model, &eq).expect("policy");
    let sys = ParticleSystem::from_model(&model, STEPS).expect("system");
    (sys, policy)
}

fn options(copies: usize) -> SimulationOptions {
    SimulationOptions {
        copies,
        seed: 1,
        trajectories: 0,
        histogram: None,
    }
}

fn report(threads: &[usize]) {
    let copies = 1_000_000;
    for (label, file) in [("1-D", "lqc_1d_single.toml"), ("2-D", "lqc_2d_chain3.toml")] {
        let (sys, policy) = case(file);
        for &t in threads {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("thread pool");
            let start = Instant::now();
            let sim = pool
                .install(|| simulate(&sys, &policy, &options(copies)))
                .expect("simulation");
            let wall = start.elapsed().as_secs_f64();
            println!(
                "{label} ({file}, 1 population): threads {t}: {copies} copies × {STEPS} steps in \
                 {wall:.3} s = {:.3e} copy-steps/s (realised cost {:.4})",
                (copies * STEPS) as f64 / wall,
                sim.populations[0].cost_mean
            );
        }
    }
}

fn main() {
    if let Some(threads) = common::report_threads() {
        report(&threads);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    for (label, file) in [("1-D", "lqc_1d_single.toml"), ("2-D", "lqc_2d_chain3.toml")] {
        let (sys, policy) = case(file);
        c.bench_function(
            &format!("simulate {label} LQ, 1e5 copies × {STEPS} steps"),
            |b| b.iter(|| simulate(&sys, &policy, &options(100_000)).expect("simulation")),
        );
    }
    c.final_summary();
}
