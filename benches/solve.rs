//! Full `tufield solve` of the default scenario (scenarios/lqc_2d_chain3.toml: 3
//! populations, 101² points, 100 steps, Anderson), including the LQ oracle and the HDF5
//! output (to a temporary directory).
//!
//! * `cargo bench --bench solve` — criterion timing of the whole solve.
//! * `cargo bench --bench solve -- --report [--threads 1,2] [--scenario FILE]` — one run
//!   per thread count (of the default scenario, or FILE, e.g.
//!   scenarios/bounded_2d_chain3.toml for the saturating Hamiltonian), printing wall time,
//!   iterations, throughput in grid points × time steps per second (counting one HJI and
//!   one FPK sweep per population per iteration), the time spent writing the output
//!   (HDF5 + XDMF, and its share of the wall time, then phase by phase) and peak memory. `--set KEY=VALUE`
//!   (repeatable) overrides the scenario as on the command line, e.g.
//!   `--scenario scenarios/lqc_3d_single.toml --set solver.points=128`.

mod common;

use criterion::Criterion;
use std::path::Path;
use std::time::{Duration, Instant};
use tufield::overrides::Override;
use tufield::progress::ProgressMode;
use tufield::run::{grid_for, solve};
use tufield::Scenario;

const SCENARIO: &str = "scenarios/lqc_2d_chain3.toml";

fn scenario(file: &str) -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    let sets: Vec<Override> = args
        .windows(2)
        .filter(|w| w[0] == "--set")
        .map(|w| Override::parse(&w[1]).expect("--set KEY=VALUE"))
        .collect();
    Scenario::load(&root.join(file), &sets).expect("scenario loads")
}

fn report(threads: &[usize]) {
    let file = common::arg_value("--scenario").unwrap_or_else(|| SCENARIO.to_string());
    let sc = scenario(&file);
    let grid = grid_for(&sc).expect("grid");
    let dir = tempfile::TempDir::new().expect("temp dir");
    for &t in threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .expect("thread pool");
        let out = dir.path().join(format!("t{t}.h5"));
        let start = Instant::now();
        let r = pool
            .install(|| solve(&sc, &out, None, ProgressMode::Quiet, start))
            .expect("solve succeeds");
        let wall = start.elapsed().as_secs_f64();
        let sweeps = 2 * sc.model.num_populations() * r.iterations;
        let point_steps = (grid.len() * sc.settings.steps * sweeps) as f64;
        println!(
            "{file}: threads {t}: {} in {} iterations, wall {wall:.3} s, {:.3e} point-steps/s \
             ({} points × {} steps × {sweeps} sweeps), distance to LQ {:.3e}, write {:.3} s \
             ({:.1} % of the wall time, {:.1} MB), peak RSS {:.0} MB",
            r.outcome.as_str(),
            r.iterations,
            point_steps / wall,
            grid.len(),
            sc.settings.steps,
            r.lq_mean_distance,
            r.write_s,
            100.0 * r.write_s / wall,
            std::fs::metadata(&out).map_or(f64::NAN, |m| m.len() as f64 / 1e6),
            common::peak_rss_mb().unwrap_or(f64::NAN)
        );
        println!("  write phases: {}", r.write_times.describe());
    }
}

fn main() {
    if let Some(threads) = common::report_threads() {
        report(&threads);
        return;
    }
    let sc = scenario(SCENARIO);
    let dir = tempfile::TempDir::new().expect("temp dir");
    let out = dir.path().join("bench.h5");
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(40))
        .configure_from_args();
    c.bench_function(
        "solve lqc_2d_chain3 (101², 100 steps, 3 populations)",
        |b| {
            b.iter(|| {
                solve(&sc, &out, None, ProgressMode::Quiet, Instant::now()).expect("solve succeeds")
            })
        },
    );
    c.final_summary();
}
