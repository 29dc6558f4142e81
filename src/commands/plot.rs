//! `tufield plot FILE.h5 [--out DIR]`: PNG figures of a `solve` or `lq` output file.
//!
//! Figures (1200×800 pixels, text in the embedded DejaVu Sans, no system fonts):
//!
//! * `<stem>_means.png` — every population's mean excess per axis over time; for a `solve`
//!   file the exact LQ equilibrium mean is drawn dashed beside the PDE mean.
//! * `<stem>_residual.png` (`solve`) — fixed-point residual per iteration (log scale).
//! * `<stem>_core.png` (`solve`) — each population's in-core fraction over time, with its
//!   expected cost J_k (and the exact LQ value for LQ models) in the legend.
//! * `<stem>_density_<k>.png` (`solve`) — population k's density at the first, middle and
//!   last snapshot: curves in 1-D, heat maps in 2-D, the middle slice of the last axis
//!   in 3-D.
//!
//! * `simulate` files: `<stem>_means.png` — the copies' empirical mean per axis and
//!   population, the scheme's N → ∞ mean dashed; `<stem>_trajectories.png` — the stored
//!   copies' coordinates over time, one panel per population (at most 6), one colour per
//!   coordinate (like the paper's Figures 5–9), with the heuristic's macroscopic mean
//!   (`/heuristic/.../mean`) as thick dashed black lines when present.
//!
//! Each PNG is written to a temporary name and renamed when complete.

use crate::cli::PlotArgs;
use crate::output::schema;
use crate::{AppError, AppResult};
use hdf5::types::VarLenUnicode;
use ndarray::{Array2, ArrayD, Axis as NdAxis};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Width and height of every figure in pixels.
pub const FIGURE_SIZE: (u32, u32) = (1200, 800);

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static FONT_READY: OnceLock<bool> = OnceLock::new();

fn register_font() -> bool {
    *FONT_READY.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    })
}

pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

struct Input {
    path: PathBuf,
    file: hdf5::File,
}

impl Input {
    fn bad(&self, what: impl Into<String>) -> AppError {
        AppError::Invalid {
            source_name: self.path.display().to_string(),
            key: "FILE".to_string(),
            message: what.into(),
        }
    }

    fn str_attr(&self, name: &str) -> AppResult<String> {
        self.file
            .attr(name)
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map(|s| s.as_str().to_string())
            .map_err(|_| {
                self.bad(format!(
                    "root attribute {name} missing: not a tufield output file"
                ))
            })
    }

    fn labels(&self) -> Vec<String> {
        self.file
            .attr("axis_labels")
            .and_then(|a| a.read_raw::<VarLenUnicode>())
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default()
    }

    fn vec(&self, name: &str) -> AppResult<Vec<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    fn mat(&self, name: &str) -> AppResult<Array2<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_2d::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    fn nd(&self, name: &str) -> AppResult<ArrayD<f64>> {
        self.file
            .dataset(name)
            .and_then(|d| d.read_dyn::<f64>())
            .map_err(|e| self.bad(format!("dataset {name}: {e}")))
    }

    fn has(&self, name: &str) -> bool {
        self.file.link_exists(name)
    }

    fn population_name(&self, group: &str, k: usize) -> String {
        self.file
            .group(group)
            .and_then(|g| g.attr("name"))
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("population {}", k + 1))
    }
}

/// Runs the command: reads `FILE`, writes the figures, prints their paths.
pub fn run(args: &PlotArgs, quiet: bool) -> AppResult<()> {
    let times = args.times.as_deref().unwrap_or(&[]);
    if times.len() > 6 || times.iter().any(|t| !t.is_finite()) {
        return Err(AppError::invalid(
            args.file.display().to_string(),
            "--times",
            "give at most 6 finite times, e.g. --times 0,0.5,1",
        ));
    }
    let figures = plot_file(&args.file, args.out.as_deref(), times)?;
    if !quiet {
        for f in &figures {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}

/// Writes the figures of `file` into `out_dir` (default: the file's directory) and
/// returns their paths. `times` selects the density panels (nearest snapshots; empty:
/// first, middle and last).
pub fn plot_file(file: &Path, out_dir: Option<&Path>, times: &[f64]) -> AppResult<Vec<PathBuf>> {
    let input = Input {
        path: file.to_path_buf(),
        file: hdf5::File::open(file).map_err(|e| AppError::Invalid {
            source_name: file.display().to_string(),
            key: "FILE".to_string(),
            message: format!("cannot open as HDF5: {e}"),
        })?,
    };
    let dir = match out_dir {
        Some(d) => d.to_path_buf(),
        None => file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    // A file that is not a tufield output is refused before the output directory exists.
    let command = input.str_attr(schema::ATTR_COMMAND)?;
    crate::outpath::prepare_dir(
        &dir,
        "--out",
        &[crate::outpath::Input::new("the input file", file)],
    )?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tufield".to_string());
    let mut out = Vec::new();
    match command.as_str() {
        "solve" => {
            out.push(means_figure(&input, &dir, &stem, "populations", true)?);
            // Modal files keep one residual history per mode (/modes/<i>/fixed_point).
            if input.has("fixed_point/residual") {
                out.push(residual_figure(&input, &dir, &stem)?);
            }
            if input.has(&schema::population_dataset(0, "core_fraction")) {
                out.push(core_figure(&input, &dir, &stem)?);
            }
            let mut k = 0;
            while input.has(&schema::population_dataset(k, schema::DENSITY)) {
                out.push(density_figure(&input, &dir, &stem, k, times)?);
                k += 1;
            }
        }
        "lq" => out.push(means_figure(
            &input,
            &dir,
            &stem,
            "lq/exact/populations",
            false,
        )?),
        "simulate" => {
            out.push(means_figure_of(
                &input,
                &dir,
                &stem,
                "populations",
                "empirical_mean",
                |k| Some(format!("populations/{k}/mean_field_mean")),
            )?);
            out.push(trajectories_figure(&input, &dir, &stem)?);
        }
        other => {
            return Err(input.bad(format!(
                "files of command {other:?} have no figures yet; plot accepts solve, lq and simulate outputs"
            )))
        }
    }
    Ok(out)
}

fn draw_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> AppError + '_ {
    move |e| AppError::Io {
        path: path.display().to_string(),
        message: format!("drawing the figure failed: {e:?}"),
    }
}

/// Draws into `<dir>/<name>` via a temporary file renamed on success.
pub(crate) fn figure(
    dir: &Path,
    name: &str,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> AppResult<PathBuf> {
    if !register_font() {
        return Err(AppError::Io {
            path: "assets/fonts/DejaVuSans.ttf".to_string(),
            message: "the embedded font could not be loaded".to_string(),
        });
    }
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}.png", std::process::id()));
    let result = (|| {
        let root = BitMapBackend::new(&tmp, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| format!("{e:?}"))?;
        draw(&root)?;
        root.present().map_err(|e| format!("{e:?}"))
    })();
    if let Err(msg) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(draw_err(&dest)(msg));
    }
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&dest, "cannot move the figure into place", &e)
    })?;
    Ok(dest)
}

pub(crate) fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9 * (1.0 + hi.abs()));
    (lo - pad, hi + pad)
}

fn means_figure(
    input: &Input,
    dir: &Path,
    stem: &str,
    group: &str,
    with_lq: bool,
) -> AppResult<PathBuf> {
    means_figure_of(input, dir, stem, group, "mean", |k| {
        with_lq.then(|| format!("lq/exact/populations/{k}/mean"))
    })
}

/// Means `<group>/<k>/<dataset>` with optional dashed references at `reference(k)`.
fn means_figure_of(
    input: &Input,
    dir: &Path,
    stem: &str,
    group: &str,
    dataset: &str,
    reference: impl Fn(usize) -> Option<String>,
) -> AppResult<PathBuf> {
    let time = input.vec(schema::TIME)?;
    let mut means = Vec::new();
    let mut exact = Vec::new();
    let mut names = Vec::new();
    let mut k = 0;
    while input.has(&format!("{group}/{k}/{dataset}")) {
        means.push(input.mat(&format!("{group}/{k}/{dataset}"))?);
        if let Some(r) = reference(k).filter(|r| input.has(r)) {
            exact.push(input.mat(&r)?);
        }
        names.push(input.population_name(&format!("{group}/{k}"), k));
        k += 1;
    }
    if means.is_empty() {
        return Err(input.bad(format!("no {group}/<k>/{dataset} datasets")));
    }
    let d = means[0].ncols();
    let labels = input.labels();
    let axes_shown = d.min(8);
    figure(dir, &format!("{stem}_means.png"), |root| {
        let panels = root.split_evenly((axes_shown.div_ceil(2).max(1), if d > 1 { 2 } else { 1 }));
        for (i, panel) in panels.iter().enumerate().take(axes_shown) {
            let (lo, hi) = range(
                means
                    .iter()
                    .chain(exact.iter())
                    .flat_map(|m| m.column(i).to_vec()),
            );
            let label = labels.get(i).cloned().unwrap_or_else(|| format!("x{i}"));
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("mean excess on axis {label}"), ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(time[0]..*time.last().unwrap_or(&1.0), lo..hi)
                .map_err(|e| format!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc("t")
                .label_style(("sans-serif", 15))
                .draw()
                .map_err(|e| format!("{e:?}"))?;
            for (k, m) in means.iter().enumerate() {
                let color = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        time.iter().zip(m.column(i)).map(|(t, v)| (*t, *v)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| format!("{e:?}"))?
                    .label(names[k].clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                if let Some(e) = exact.get(k) {
                    chart
                        .draw_series(DashedLineSeries::new(
                            time.iter().zip(e.column(i)).map(|(t, v)| (*t, *v)),
                            8,
                            6,
                            BLACK.mix(0.7).stroke_width(1),
                        ))
                        .map_err(|e| format!("{e:?}"))?;
                }
            }
            if i == 0 {
                legend(&mut chart)?;
            }
        }
        Ok(())
    })
}

/// Stored copies' paths per population (paper's Figures 5–9).
fn trajectories_figure(input: &Input, dir: &Path, stem: &str) -> AppResult<PathBuf> {
    let time = input.vec(schema::TIME)?;
    let mut paths = Vec::new();
    let mut names = Vec::new();
    let mut k = 0;
    while input.has(&format!("populations/{k}/trajectories")) {
        let tr = input.nd(&format!("populations/{k}/trajectories"))?;
        if tr.ndim() != 3 || tr.shape()[1] != time.len() {
            return Err(input.bad(format!(
                "populations/{k}/trajectories has shape {:?}",
                tr.shape()
            )));
        }
        paths.push(tr);
        names.push(input.population_name(&format!("populations/{k}"), k));
        k += 1;
    }
    if paths.is_empty() {
        return Err(input.bad("no populations/<k>/trajectories datasets"));
    }
    // Heuristic macroscopic means (steps+1, p, q), when the file has them.
    let heuristic = [
        "heuristic/second_order/mean",
        "heuristic/internal_model/mean",
    ]
    .iter()
    .find(|n| input.has(n))
    .map(|n| input.nd(n))
    .transpose()?;
    let labels = input.labels();
    let shown = paths.len().min(6);
    let layout = match shown {
        1 => (1, 1),
        2 => (1, 2),
        3 | 4 => (2, 2),
        _ => (2, 3),
    };
    figure(dir, &format!("{stem}_trajectories.png"), |root| {
        let panels = root.split_evenly(layout);
        for (k, panel) in panels.iter().enumerate().take(shown) {
            let tr = &paths[k];
            let d = tr.shape()[2];
            let mut vals: Vec<f64> = tr.iter().cloned().collect();
            if let Some(h) = &heuristic {
                if h.ndim() == 3 && h.shape()[1] > k {
                    vals.extend(h.index_axis(NdAxis(1), k).iter().cloned());
                }
            }
            let (lo, hi) = range(vals.into_iter());
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!("{}: {} copies", names[k], tr.shape()[0]),
                    ("sans-serif", 20),
                )
                .margin(10)
                .x_label_area_size(32)
                .y_label_area_size(56)
                .build_cartesian_2d(time[0]..*time.last().unwrap_or(&1.0), lo..hi)
                .map_err(|e| format!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc("t")
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| format!("{e:?}"))?;
            for j in 0..d {
                let color = PALETTE[j % PALETTE.len()];
                let mut first = true;
                for c in 0..tr.shape()[0] {
                    let series = chart
                        .draw_series(LineSeries::new(
                            time.iter().enumerate().map(|(n, t)| (*t, tr[[c, n, j]])),
                            color.mix(0.6).stroke_width(1),
                        ))
                        .map_err(|e| format!("{e:?}"))?;
                    if first && k == 0 {
                        let label = labels.get(j).cloned().unwrap_or_else(|| format!("x{j}"));
                        series.label(label).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                    }
                    first = false;
                }
            }
            if let Some(h) = &heuristic {
                if h.ndim() == 3 && h.shape()[1] > k && h.shape()[0] == time.len() {
                    for j in 0..h.shape()[2] {
                        chart
                            .draw_series(DashedLineSeries::new(
                                time.iter().enumerate().map(|(n, t)| (*t, h[[n, k, j]])),
                                8,
                                6,
                                BLACK.stroke_width(2),
                            ))
                            .map_err(|e| format!("{e:?}"))?;
                    }
                }
            }
            if k == 0 {
                chart
                    .configure_series_labels()
                    .label_font(("sans-serif", 13))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| format!("{e:?}"))?;
            }
        }
        Ok(())
    })
}

/// `<stem>_core.png`: each population's in-core fraction over the snapshot times, with
/// its expected cost J_k (and the exact LQ value when written) in the legend.
fn core_figure(input: &Input, dir: &Path, stem: &str) -> AppResult<PathBuf> {
    let t = input.vec(schema::SNAPSHOT_TIME)?;
    let mut series = Vec::new();
    let mut k = 0;
    while input.has(&schema::population_dataset(k, "core_fraction")) {
        let f = input.vec(&schema::population_dataset(k, "core_fraction"))?;
        let cost = |name: &str| -> Option<f64> {
            let p = schema::population_dataset(k, name);
            input
                .has(&p)
                .then(|| input.vec(&p).ok())
                .flatten()
                .and_then(|v| v.first().copied())
        };
        let mut label = input.population_name(&schema::population(k), k);
        if let Some(j) = cost("expected_cost") {
            label.push_str(&format!(": J = {j:.5}"));
        }
        if let Some(j) = cost("expected_cost_lq") {
            label.push_str(&format!(" (exact LQ {j:.5})"));
        }
        series.push((label, f));
        k += 1;
    }
    let t_end = t.last().copied().unwrap_or(1.0).max(t[0] + 1e-12);
    figure(dir, &format!("{stem}_core.png"), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "fraction of each population in the core (all coalition excesses ≥ 0)",
                ("sans-serif", 24),
            )
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(t[0]..t_end, 0.0..1.0)
            .map_err(|e| format!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc("t")
            .y_desc("in-core fraction")
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|e| format!("{e:?}"))?;
        for (k, (label, f)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    t.iter().zip(f).map(|(t, v)| (*t, *v)),
                    color.stroke_width(2),
                ))
                .map_err(|e| format!("{e:?}"))?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

fn residual_figure(input: &Input, dir: &Path, stem: &str) -> AppResult<PathBuf> {
    let res = input.vec("fixed_point/residual")?;
    let tol: f64 = input
        .file
        .attr("tol")
        .and_then(|a| a.read_scalar())
        .unwrap_or(f64::NAN);
    let logs: Vec<f64> = res.iter().map(|r| r.max(1e-300).log10()).collect();
    let (lo, hi) = range(
        logs.iter()
            .copied()
            .chain(tol.log10().is_finite().then(|| tol.log10())),
    );
    figure(dir, &format!("{stem}_residual.png"), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "fixed-point residual (scaled sup-norm of G(x) − x)",
                ("sans-serif", 24),
            )
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..(res.len() as f64 + 0.5), lo..hi)
            .map_err(|e| format!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("log10 residual")
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(|e| format!("{e:?}"))?;
        chart
            .draw_series(LineSeries::new(
                logs.iter().enumerate().map(|(i, v)| (i as f64 + 1.0, *v)),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(|e| format!("{e:?}"))?;
        chart
            .draw_series(
                logs.iter()
                    .enumerate()
                    .map(|(i, v)| Circle::new((i as f64 + 1.0, *v), 4, PALETTE[0].filled())),
            )
            .map_err(|e| format!("{e:?}"))?;
        if tol.is_finite() && tol > 0.0 {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.5, tol.log10()), (res.len() as f64 + 0.5, tol.log10())],
                    8,
                    6,
                    PALETTE[3].stroke_width(1),
                ))
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    })
}

pub(crate) type Chart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// The series legend, drawn the same way on every figure.
pub(crate) fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| format!("{e:?}"))
}

/// Viridis-like colour for t ∈ [0, 1].
pub(crate) fn colour(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + f * (q - p)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn density_figure(
    input: &Input,
    dir: &Path,
    stem: &str,
    k: usize,
    times: &[f64],
) -> AppResult<PathBuf> {
    let dens = input.nd(&schema::population_dataset(k, schema::DENSITY))?;
    let snap_t = input.vec(schema::SNAPSHOT_TIME)?;
    let d = dens.ndim() - 1;
    let grids: Vec<Vec<f64>> = (0..d)
        .map(|i| input.vec(&schema::grid_axis(i)))
        .collect::<AppResult<_>>()?;
    let labels = input.labels();
    let name = input.population_name(&format!("populations/{k}"), k);
    let count = dens.shape()[0];
    let picks: Vec<usize> = {
        let mut v = if times.is_empty() {
            vec![0, count / 2, count.saturating_sub(1)]
        } else {
            times
                .iter()
                .map(|t| {
                    (0..count)
                        .min_by(|&a, &b| {
                            let da = (snap_t.get(a).copied().unwrap_or(f64::INFINITY) - t).abs();
                            let db = (snap_t.get(b).copied().unwrap_or(f64::INFINITY) - t).abs();
                            da.total_cmp(&db)
                        })
                        .unwrap_or(0)
                })
                .collect()
        };
        v.dedup();
        v
    };
    let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| format!("x{i}"));
    figure(dir, &format!("{stem}_density_{k}.png"), |root| {
        if d == 1 {
            let x = &grids[0];
            let (_, hi) = range(dens.iter().copied());
            let mut chart = ChartBuilder::on(root)
                .caption(format!("density of {name}"), ("sans-serif", 24))
                .margin(16)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(x[0]..*x.last().unwrap_or(&1.0), 0.0..hi)
                .map_err(|e| format!("{e:?}"))?;
            chart
                .configure_mesh()
                .x_desc(label(0))
                .label_style(("sans-serif", 16))
                .draw()
                .map_err(|e| format!("{e:?}"))?;
            for (j, &s) in picks.iter().enumerate() {
                let color = PALETTE[j % PALETTE.len()];
                let frame = dens.index_axis(NdAxis(0), s);
                chart
                    .draw_series(LineSeries::new(
                        x.iter().zip(frame.iter()).map(|(a, b)| (*a, *b)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| format!("{e:?}"))?
                    .label(format!(
                        "t = {:.3}",
                        snap_t.get(s).copied().unwrap_or(f64::NAN)
                    ))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            legend(&mut chart)?;
            return Ok(());
        }
        let panels = root.split_evenly((1, picks.len()));
        for (j, &s) in picks.iter().enumerate() {
            let mut frame = dens.index_axis(NdAxis(0), s).to_owned();
            if d == 3 {
                let mid = frame.shape()[2] / 2;
                frame = frame.index_axis(NdAxis(2), mid).to_owned();
            }
            let (x, y) = (&grids[0], &grids[1]);
            let vmax = frame.iter().copied().fold(0.0, f64::max).max(1e-300);
            let (dx, dy) = ((x[1] - x[0]).abs() * 0.5, (y[1] - y[0]).abs() * 0.5);
            let mut chart = ChartBuilder::on(&panels[j])
                .caption(
                    format!(
                        "{name}, t = {:.3}{}",
                        snap_t.get(s).copied().unwrap_or(f64::NAN),
                        if d == 3 { " (middle slice)" } else { "" }
                    ),
                    ("sans-serif", 20),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(50)
                .build_cartesian_2d(
                    (x[0] - dx)..(x[x.len() - 1] + dx),
                    (y[0] - dy)..(y[y.len() - 1] + dy),
                )
                .map_err(|e| format!("{e:?}"))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(label(0))
                .y_desc(label(1))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| format!("{e:?}"))?;
            chart
                .draw_series(frame.indexed_iter().map(|(ix, v)| {
                    let (a, b) = (ix[0], ix[1]);
                    Rectangle::new(
                        [(x[a] - dx, y[b] - dy), (x[a] + dx, y[b] + dy)],
                        colour(*v / vmax).filled(),
                    )
                }))
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_map_runs_from_dark_to_light() {
        let dark = colour(0.0);
        let light = colour(1.0);
        assert_eq!(dark, RGBColor(68, 1, 84));
        assert_eq!(light, RGBColor(253, 231, 37));
        assert_eq!(colour(f64::NAN), dark);
        assert_eq!(colour(7.0), light);
    }

    #[test]
    fn range_pads_and_handles_constants() {
        let (lo, hi) = range([1.0, 1.0].into_iter());
        assert!(lo < 1.0 && hi > 1.0);
        assert_eq!(range(std::iter::empty()), (0.0, 1.0));
    }
}
