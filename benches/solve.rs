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
//!   `--scenario scenarios/lqc_3d_single.toml --set solver.points=128`. `--keep DIR`
//!   writes the files there instead of a temporary directory.
//! * `cargo bench --bench solve -- --encode FILE.h5` — the chunk encoder alone on the
//!   snapshot fields of a solve file (e.g. one kept by `--report --keep DIR`): for each
//!   chunked dataset of `/populations/0`, its middle snapshot encoded as the solve encodes
//!   it (the dataset's BitRound bits and search), best of a few runs, in MB/s of raw doubles
//!   and the stored fraction.

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
    let dir = common::arg_value("--keep").map_or_else(|| dir.path().to_path_buf(), Into::into);
    for &t in threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .expect("thread pool");
        let out = dir.join(format!("t{t}.h5"));
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

/// Receives the drifts of a block of nodes: (first node, nodes, allocation, disturbance).
type BlockSink<'a> = dyn FnMut(usize, usize, &[f64], &[f64]) + 'a;

/// Times the chunk encoder on the snapshot fields of the solve file `file`.
fn encode_report(file: &str) {
    use tufield::output::chunk::{encode_with, Search, Shuffled};
    use tufield::output::quantize::ATTR_BITROUND;
    let f = hdf5::File::open(file).expect("a readable solve file");
    let pg = f.group("populations/0").expect("population 0");
    let mut names = pg.member_names().expect("members");
    names.sort();
    let mut total = (0.0, 0.0);
    for name in names {
        let Ok(ds) = pg.dataset(&name) else { continue };
        if ds.ndim() < 3 || ds.chunk().is_none() {
            continue;
        }
        let bits = ds
            .attr(ATTR_BITROUND)
            .ok()
            .and_then(|a| a.read_scalar::<i32>().ok())
            .map(|b| b as u32);
        let search = if name.ends_with("_error") {
            Search::Runs
        } else {
            Search::Matches
        };
        let s = ds.shape()[0] / 2;
        let all: ndarray::ArrayD<f64> = ds.read_dyn().expect("dataset reads");
        let frame = all
            .index_axis(ndarray::Axis(0), s)
            .as_standard_layout()
            .to_owned();
        let values = frame.as_slice().expect("standard layout");
        let mut best = f64::INFINITY;
        let mut len = 0;
        for _ in 0..3 {
            let start = Instant::now();
            len = encode_with(values, bits, 1, search).len();
            best = best.min(start.elapsed().as_secs_f64());
        }
        let raw = 8.0 * values.len() as f64;
        total.0 += raw;
        total.1 += best;
        println!(
            "{name:>20}: {:>9} values, bits {bits:?}, {search:?}: {:7.1} MB/s, {:.3} s, stored {:.3}",
            values.len(),
            raw / best / 1e6,
            best,
            len as f64 / raw
        );
    }
    println!("all fields: {:.1} MB/s", total.0 / total.1 / 1e6);
    // The drift fields' computation from the value snapshot (the scenario of the file).
    let Some(file_sc) = common::arg_value("--scenario") else {
        return;
    };
    let sc = scenario(&file_sc);
    let grid = grid_for(&sc).expect("grid");
    let value: ndarray::ArrayD<f64> = pg
        .dataset("value")
        .and_then(|d| d.read_dyn())
        .expect("value");
    let v = value.index_axis(ndarray::Axis(0), value.shape()[0] / 2);
    let time = |f: &dyn Fn()| {
        (0..3)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let whole = time(&|| {
        let f = tufield_solvers::diagnostics::feedback_fields(&sc.model, &grid, v.view())
            .expect("drift fields");
        std::hint::black_box(f);
    });
    // As the solve writes them: a block of nodes at a time into the chunks, then encoded.
    let d = grid.dim();
    let drifts = tufield_solvers::diagnostics::FeedbackDrifts::new(&sc.model, &grid, v.view())
        .expect("drifts");
    let len = drifts.len();
    let block = 4096;
    let blocks = |put: &mut BlockSink| {
        let (mut a, mut b) = (vec![0.0; d * block], vec![0.0; d * block]);
        for first in (0..len).step_by(block) {
            let m = block.min(len - first);
            drifts.fill(first, &mut a[..d * m], &mut b[..d * m]);
            put(first, m, &a[..d * m], &b[..d * m]);
        }
    };
    let compute = time(&|| {
        blocks(&mut |_, _, a, b| {
            std::hint::black_box((a, b));
        })
    });
    let bits = Some(tufield::output::quantize::DEFAULT_SIGNIFICANT_BITS);
    let fused = time(&|| {
        let (mut al, mut di) = (Shuffled::new(d * len, bits), Shuffled::new(d * len, bits));
        blocks(&mut |first, m, a, b| {
            for i in 0..d {
                al.put(i * len + first, &a[i * m..(i + 1) * m]);
                di.put(i * len + first, &b[i * m..(i + 1) * m]);
            }
        });
        std::hint::black_box((al.encode(1, Search::Matches), di.encode(1, Search::Matches)));
    });
    println!(
        "drift fields of one snapshot: feedback_fields (current pool) {whole:.3} s; \
         block by block on one thread: drifts {compute:.3} s, drifts + rounding, shuffle \
         and deflate of both fields {fused:.3} s"
    );
}

fn main() {
    if let Some(file) = common::arg_value("--encode") {
        encode_report(&file);
        return;
    }
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
