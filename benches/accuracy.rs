//! Error versus work of the two schemes (docs/design.md §4.5) against the exact LQ
//! equilibrium, and the 1-D accuracy benchmark.
//!
//! `cargo bench --bench accuracy [-- --out DIR]` solves, for each scheme and a sequence of
//! grids refined jointly in space and time (dt ∝ h):
//!
//! * 1-D benchmark: A = −0.75, Q = S = 1, σ = 0.3, T = 1, m₀ = N(0.5, 0.4²) on [−3, 3];
//!   errors of v(·, 0) on |x − 0.5| < 1.5 and of the variance (max over time levels);
//! * 2-D: a chain of two populations with a non-diagonal A (the problem of
//!   solvers/tests/second_order_oracle.rs); errors of v(·, 0) within two standard
//!   deviations of each population, of the means and of the covariances;
//!
//! and writes `DIR/accuracy.csv` (scheme, dimension, points, steps, fixed-point iterations,
//! wall seconds of the equilibrium solve, errors) and `DIR/accuracy.png` (errors of v(·, 0)
//! and of the (co)variance against wall time, log-log, one panel per dimension), default
//! DIR = `output/accuracy`. It then times the whole `tufield solve` process on
//! scenarios/benchmark_1d_second_order.toml (best and median of 5 runs) and prints the
//! benchmark's verdict: both errors ≤ 1e-5 and the process ≤ 0.2 s.

use ndarray::{array, Array1, Array2};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::fixed_point::{
    Acceleration, Control, FixedPoint, FixedPointSettings, FixedPointState, Outcome,
};
use tufield_solvers::graph::{Graph, GraphKind};
use tufield_solvers::grid::Grid;
use tufield_solvers::lq::exact_equilibrium;
use tufield_solvers::model::{Model, Population};
use tufield_solvers::scheme::SchemeKind;

mod common;

static FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// One problem of the study: the model, its box, and where v(·, 0) is compared.
struct Problem {
    name: &'static str,
    model: Model,
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// Is node x (of population k) in the comparison region of v(·, 0)?
    region: fn(&Model, usize, &Array1<f64>) -> bool,
}

fn benchmark_1d() -> Problem {
    Problem {
        name: "1-D benchmark",
        model: Model::builder(array![[-0.75]])
            .axis_labels(vec!["x".into()])
            .q(array![[1.0]])
            .s(array![[1.0]])
            .sigma(0.3)
            .horizon(1.0)
            .population(Population {
                name: "p".into(),
                mean: array![0.5],
                cov: array![[0.16]],
            })
            .build()
            .expect("the 1-D benchmark model is valid"),
        lo: vec![-3.0],
        hi: vec![3.0],
        region: |_, _, x| (x[0] - 0.5).abs() < 1.5,
    }
}

fn chain_2d() -> Problem {
    let means = [array![0.0, 0.0], array![0.5, -0.3]];
    Problem {
        name: "2-D chain of two",
        model: Model::builder(array![[-1.0, 0.3], [0.3, -0.8]])
            .axis_labels(vec!["x1".into(), "x2".into()])
            .q(array![[1.0, 0.3], [0.3, 0.8]])
            .s(array![[0.5, 0.0], [0.0, 0.3]])
            .sigma(0.3)
            .horizon(1.0)
            .populations(
                means
                    .iter()
                    .enumerate()
                    .map(|(k, m)| Population {
                        name: format!("p{k}"),
                        mean: m.clone(),
                        cov: Array2::eye(2) * 0.0625,
                    })
                    .collect(),
            )
            .graph(Graph::new(2, &GraphKind::Chain).unwrap())
            .build()
            .expect("the 2-D chain model is valid"),
        lo: vec![-1.75, -2.0],
        hi: vec![2.25, 1.7],
        region: |m, k, x| {
            let p = &m.populations[k];
            (0..x.len()).all(|i| (x[i] - p.mean[i]).abs() <= 2.0 * p.cov[[i, i]].sqrt())
        },
    }
}

/// (points, steps) of a refinement sequence.
type Runs = Vec<(usize, usize)>;

/// One solve: its cost and errors against the exact LQ equilibrium.
struct Row {
    scheme: SchemeKind,
    dim: usize,
    points: usize,
    steps: usize,
    iterations: usize,
    wall_s: f64,
    value: f64,
    mean: f64,
    cov: f64,
}

fn solve(p: &Problem, scheme: SchemeKind, points: usize, steps: usize) -> Row {
    let d = p.model.dim();
    let grid = Grid::from_bounds(&p.lo, &p.hi, &vec![points; d]).expect("grid");
    let start = Instant::now();
    let initial = p
        .model
        .populations
        .iter()
        .map(|q| {
            grid.gaussian(q.mean.view(), q.cov.view())
                .expect("gaussian")
        })
        .collect();
    let mut map = MeanFieldMap::with_scheme(
        &p.model,
        &grid,
        steps,
        snapshot_levels(steps, steps),
        initial,
        scheme,
    )
    .expect("map");
    let settings = FixedPointSettings {
        tol: 1e-10,
        max_iter: 200,
        acceleration: Acceleration::Anderson { depth: 5 },
        ..Default::default()
    };
    let mut fp = FixedPoint::new(
        settings,
        map.scale(),
        FixedPointState::new(map.initial_guess()),
    )
    .expect("fixed point");
    let mut last = Vec::new();
    let outcome = fp
        .run(
            &mut |x: &[f64]| map.evaluate(x, &mut |_| {}),
            &mut |_, _, g: &[f64]| {
                last = g.to_vec();
                Control::Continue
            },
            &AtomicBool::new(false),
        )
        .expect("solve");
    let wall_s = start.elapsed().as_secs_f64();
    assert_eq!(outcome, Outcome::Converged, "{} {points}×{steps}", p.name);
    let exact = exact_equilibrium(&p.model, steps).expect("oracle");
    let phi0 = exact.phi.index_axis(ndarray::Axis(0), 0).to_owned();
    let (mut value, mut mean, mut cov) = (0.0f64, 0.0f64, 0.0f64);
    for (k, (pop, res)) in exact.populations.iter().zip(map.results()).enumerate() {
        for (idx, &v) in res.value[0].iter().enumerate() {
            let x = grid.point(idx);
            if (p.region)(&p.model, k, &x) {
                let ex = 0.5 * x.dot(&phi0.dot(&x)) + pop.h.row(0).dot(&x) + pop.chi[0];
                value = value.max((v - ex).abs());
            }
        }
        for (a, b) in map.mean_path(&last, k).iter().zip(pop.mean.iter()) {
            mean = mean.max((a - b).abs());
        }
        for (a, b) in res.fpk.cov.iter().zip(pop.cov.iter()) {
            cov = cov.max((a - b).abs());
        }
    }
    Row {
        scheme,
        dim: d,
        points,
        steps,
        iterations: fp.state().history.len(),
        wall_s,
        value,
        mean,
        cov,
    }
}

fn write_csv(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let mut s =
        String::from("scheme,dim,points,steps,iterations,wall_s,err_value0,err_mean,err_cov\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{:.6e},{:.6e},{:.6e},{:.6e}\n",
            r.scheme.name(),
            r.dim,
            r.points,
            r.steps,
            r.iterations,
            r.wall_s,
            r.value,
            r.mean,
            r.cov
        ));
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, s)?;
    std::fs::rename(&tmp, path)
}

fn draw(path: &Path, rows: &[Row]) -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| "the embedded font could not be loaded".to_string())?;
    let tmp = path.with_extension("png.tmp.png");
    let e = |e: &dyn std::fmt::Debug| format!("{e:?}");
    {
        let root = BitMapBackend::new(&tmp, (1600, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let panels = root.split_evenly((1, 2));
        for (panel, dim) in panels.iter().zip([1usize, 2]) {
            let sel: Vec<&Row> = rows.iter().filter(|r| r.dim == dim).collect();
            let lims = |f: &dyn Fn(&Row) -> f64| {
                sel.iter()
                    .map(|r| f(r))
                    .filter(|v| *v > 0.0)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                        (a.min(v), b.max(v))
                    })
            };
            let (t0, t1) = lims(&|r| r.wall_s);
            let (e0, e1) = {
                let (a, b) = lims(&|r| r.value);
                let (c, d) = lims(&|r| r.cov);
                (a.min(c), b.max(d))
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{}-D: error against the exact LQ equilibrium", dim),
                    ("sans-serif", 26),
                )
                .margin(20)
                .x_label_area_size(50)
                .y_label_area_size(80)
                .build_cartesian_2d(
                    (t0 / 1.5..t1 * 1.5).log_scale(),
                    (e0 / 2.0..e1 * 2.0).log_scale(),
                )
                .map_err(|x| e(&x))?;
            chart
                .configure_mesh()
                .x_desc("wall time of the equilibrium solve [s]")
                .y_desc("max error")
                .x_label_formatter(&|v| format!("{v:.0e}"))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .label_style(("sans-serif", 16))
                .draw()
                .map_err(|x| e(&x))?;
            let colours = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
            for (scheme, colour) in SchemeKind::ALL.iter().zip(colours) {
                let pts: Vec<&&Row> = sel.iter().filter(|r| r.scheme == *scheme).collect();
                for (what, dashed, f) in [
                    ("v(·,0)", false, (|r: &Row| r.value) as fn(&Row) -> f64),
                    ("(co)variance", true, |r: &Row| r.cov),
                ] {
                    let series: Vec<(f64, f64)> = pts.iter().map(|r| (r.wall_s, f(r))).collect();
                    let label = format!("{} {what}", scheme.name());
                    let style = ShapeStyle::from(&colour).stroke_width(if dashed { 1 } else { 3 });
                    chart
                        .draw_series(LineSeries::new(series.clone(), style))
                        .map_err(|x| e(&x))?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    chart
                        .draw_series(
                            series
                                .iter()
                                .map(|&(x, y)| Circle::new((x, y), 4, colour.filled())),
                        )
                        .map_err(|x| e(&x))?;
                }
            }
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    std::fs::rename(&tmp, path).map_err(|x| format!("{x}"))
}

/// Best and median wall time of `runs` whole `tufield solve` processes on the benchmark
/// scenario.
fn time_process(out_dir: &Path, runs: usize) -> Option<(f64, f64)> {
    let exe = env!("CARGO_BIN_EXE_tufield");
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/benchmark_1d_second_order.toml");
    let out = out_dir.join("benchmark_1d_second_order.h5");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = std::process::Command::new(exe)
            .args(["solve", scenario.to_str()?, "--out", out.to_str()?, "-q"])
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(out.with_extension("xmf"));
    times.sort_by(|a, b| a.total_cmp(b));
    Some((times[0], times[times.len() / 2]))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = PathBuf::from(common::arg_value("--out").unwrap_or_else(|| "output/accuracy".into()));
    std::fs::create_dir_all(&dir).expect("output directory");
    let one = benchmark_1d();
    let two = chain_2d();
    let plan: Vec<(&Problem, SchemeKind, Runs)> = vec![
        (
            &one,
            SchemeKind::Monotone,
            vec![
                (101, 50),
                (201, 100),
                (401, 200),
                (801, 400),
                (1601, 800),
                (3201, 1600),
            ],
        ),
        (
            &one,
            SchemeKind::SecondOrder,
            vec![(51, 25), (101, 50), (201, 100), (401, 200), (801, 400)],
        ),
        (
            &two,
            SchemeKind::Monotone,
            vec![(41, 20), (81, 40), (161, 80), (321, 160)],
        ),
        (
            &two,
            SchemeKind::SecondOrder,
            vec![(41, 20), (81, 40), (161, 80), (321, 160)],
        ),
    ];
    let mut rows = Vec::new();
    println!(
        "{:>18} {:>13} {:>6} {:>6} {:>5} {:>9} {:>11} {:>11} {:>11}",
        "problem",
        "scheme",
        "points",
        "steps",
        "iter",
        "wall [s]",
        "err v(.,0)",
        "err mean",
        "err cov"
    );
    for (p, scheme, runs) in &plan {
        for &(n, s) in runs {
            let r = solve(p, *scheme, n, s);
            println!(
                "{:>18} {:>13} {:>6} {:>6} {:>5} {:>9.4} {:>11.3e} {:>11.3e} {:>11.3e}",
                p.name,
                scheme.name(),
                n,
                s,
                r.iterations,
                r.wall_s,
                r.value,
                r.mean,
                r.cov
            );
            rows.push(r);
        }
    }
    let csv = dir.join("accuracy.csv");
    write_csv(&csv, &rows).expect("csv");
    let png = dir.join("accuracy.png");
    draw(&png, &rows).expect("figure");
    println!("wrote {} and {}", csv.display(), png.display());

    let bench = rows
        .iter()
        .find(|r| r.dim == 1 && r.scheme == SchemeKind::SecondOrder && r.points == 101)
        .expect("benchmark run");
    let process = time_process(&dir, 5);
    let accurate = bench.value <= 1e-5 && bench.cov <= 1e-5;
    match process {
        Some((best, median)) => {
            println!(
                "benchmark (second order, 101 points × 50 steps): error v(·,0) {:.2e}, variance \
                 {:.2e} (≤ 1e-5: {}); whole `tufield solve` process best {best:.3} s, median \
                 {median:.3} s of 5 (≤ 0.2 s: {})",
                bench.value,
                bench.cov,
                if accurate { "yes" } else { "NO" },
                if best <= 0.2 { "yes" } else { "NO" }
            );
        }
        None => println!("benchmark: the tufield solve process could not be run"),
    }
}
