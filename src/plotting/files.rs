//! The figures of tufield's output files, drawn by `tufield plot` ([`plot_file`]).
//!
//! Every figure is 1200×800, drawn as vector graphics and written as an anti-aliased PNG
//! (default) or as SVG (`--format svg`, for papers); text in the embedded DejaVu Sans
//! (the plotting module). Every reference line has a legend entry, every axis a label.
//!
//! * `solve`: `<stem>_means` — every population's mean excess per axis over time, the
//!   exact LQ equilibrium mean dashed; `<stem>_residual` — fixed-point residual per
//!   iteration (log scale) with the tolerance; `<stem>_core` — each population's in-core
//!   fraction over time with its expected cost J_k (and the exact LQ value) in the legend;
//!   `<stem>_density_<k>` — population k's density at the first, middle and last snapshot
//!   (or `--times`): curves in 1-D, heat maps in 2-D (the middle slice of the last axis in
//!   3-D) with one colour scale and its colour bar, equal scales on both axes, framed on
//!   where the mass is.
//! * `lq`: `<stem>_means` — the exact equilibrium mean solid, the paper's Section 5
//!   (augmented state) heuristic dashed and Section 7 (consensus) heuristic dotted.
//! * `simulate`: `<stem>_means` — the copies' empirical mean per axis and population, the
//!   mean field (N → ∞) dashed; `<stem>_trajectories` — the stored copies' coordinates over
//!   time, one panel per population (at most 6), one colour per coordinate (like the
//!   paper's Figures 5–9), with the heuristic's macroscopic mean (`/heuristic/.../mean`) as
//!   thick dashed black lines when present.
//! * `compare`: `<stem>_means` — the full-PDE mean solid, the exact LQ mean dashed, the
//!   paper's heuristic dotted.
//!
//! `--times` chooses density panels and applies to `solve` files only (refused otherwise).
//! Each figure is written to a temporary name and renamed when complete.

use crate::output::reader::Input;
use crate::output::schema;
use crate::plotting::legend_box::{legend_box, LineStyle};
use crate::plotting::trajectories::trajectories_figure;
use crate::plotting::{
    self, dashed_legend_entry, dotted_legend_entry, err, frame_on_mass, heat_map, legend, range,
    ticks, Area, Format, HeatMap, PALETTE,
};
use crate::{AppError, AppResult};
use ndarray::{Array2, Axis as NdAxis};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// What `plot` draws besides the file's defaults.
#[derive(Debug, Clone, Default)]
pub struct PlotOptions {
    /// Times of the density panels of a `solve` file (nearest snapshots); `None`: first,
    /// middle and last snapshot. Refused for other files.
    pub times: Option<Vec<f64>>,
    /// File format of the figures.
    pub format: Format,
}

/// The file kinds `plot` takes (the `command` attribute of tufield's output files).
pub const PLOTTED_COMMANDS: [&str; 4] = [
    schema::COMMAND_SOLVE,
    schema::COMMAND_LQ,
    schema::COMMAND_SIMULATE,
    schema::COMMAND_COMPARE,
];

/// Writes the figures of `file` into `out_dir` (default: the file's directory) and
/// returns their paths.
pub fn plot_file(
    file: &Path,
    out_dir: Option<&Path>,
    options: &PlotOptions,
) -> AppResult<Vec<PathBuf>> {
    let input = Input::open(file)?;
    let command = input.str_attr(schema::ATTR_COMMAND)?;
    if !PLOTTED_COMMANDS.contains(&command.as_str()) {
        return Err(input.bad(format!(
            "files of command {command:?} have no figures; plot takes the outputs of {}",
            PLOTTED_COMMANDS.join(", ")
        )));
    }
    if options.times.is_some() && command != schema::COMMAND_SOLVE {
        return Err(AppError::invalid(
            file.display().to_string(),
            "--times",
            format!(
                "chooses the density panels of a solve file; a {command} file has no densities \
                 over time to choose from (leave --times out)"
            ),
        ));
    }
    let dir = match out_dir {
        Some(d) => d.to_path_buf(),
        None => file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    // A file that is not a tufield output was refused above, before the output directory
    // exists.
    crate::outpath::prepare_dir(
        &dir,
        "--out",
        &[crate::outpath::Input::new("the input file", file)],
    )?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tufield".to_string());
    let fig = Fig {
        input: &input,
        dir: &dir,
        stem: &stem,
        format: options.format,
    };
    let mut out = Vec::new();
    match command.as_str() {
        schema::COMMAND_SOLVE => {
            out.push(fig.means(
                schema::POPULATIONS,
                schema::MEAN,
                "PDE mean",
                &[Reference::dashed(
                    "exact LQ equilibrium mean",
                    schema::LQ_EXACT,
                    schema::MEAN,
                )],
            )?);
            // Modal files keep one residual history per mode (/modes/<i>/fixed_point).
            if input.has(schema::FIXED_POINT_RESIDUAL) {
                out.push(fig.residual()?);
            }
            if input.has(&schema::population_dataset(0, schema::CORE_FRACTION)) {
                out.push(fig.core()?);
            }
            let times = options.times.as_deref().unwrap_or(&[]);
            let mut k = 0;
            while input.has(&schema::population_dataset(k, schema::DENSITY)) {
                out.push(fig.density(k, times)?);
                k += 1;
            }
        }
        schema::COMMAND_LQ => out.push(fig.means(
            &schema::populations_in(schema::LQ_EXACT),
            schema::MEAN,
            "exact LQ equilibrium",
            &[
                Reference::dashed(
                    "Section 5 heuristic (augmented state)",
                    schema::LQ_AUGMENTED_STATE,
                    schema::MEAN,
                ),
                Reference::dotted(
                    "Section 7 heuristic (consensus, h = −φρ)",
                    schema::LQ_CONSENSUS,
                    schema::MEAN,
                ),
            ],
        )?),
        schema::COMMAND_SIMULATE => {
            out.push(fig.means(
                schema::POPULATIONS,
                schema::EMPIRICAL_MEAN,
                "copies' empirical mean",
                &[Reference::dashed(
                    "mean field (N → ∞)",
                    "",
                    schema::MEAN_FIELD_MEAN,
                )],
            )?);
            out.push(fig.trajectories(None)?);
        }
        _ => out.push(fig.means(
            &schema::populations_in(schema::PDE),
            schema::MEAN,
            "full-PDE equilibrium",
            &[
                Reference::dashed("exact LQ equilibrium", schema::LQ, schema::MEAN),
                Reference::dotted(
                    "paper's heuristic (Section 7)",
                    schema::HEURISTIC,
                    schema::MEAN,
                ),
            ],
        )?),
    }
    Ok(out)
}

/// A reference curve drawn beside each population's mean: dashed or dotted in the
/// population's colour, with one legend entry for the style.
struct Reference {
    label: &'static str,
    /// The group holding the `populations/<k>` groups (`""`: the root).
    group: &'static str,
    /// The dataset in each population's group.
    dataset: &'static str,
    dotted: bool,
}

impl Reference {
    fn dashed(label: &'static str, group: &'static str, dataset: &'static str) -> Self {
        Reference {
            label,
            group,
            dataset,
            dotted: false,
        }
    }

    fn dotted(label: &'static str, group: &'static str, dataset: &'static str) -> Self {
        Reference {
            dotted: true,
            ..Reference::dashed(label, group, dataset)
        }
    }

    fn at(&self, k: usize) -> String {
        if self.group.is_empty() {
            schema::population_dataset(k, self.dataset)
        } else {
            schema::population_dataset_in(self.group, k, self.dataset)
        }
    }
}

/// Grey of the style-only legend entries.
const STYLE_GREY: RGBColor = RGBColor(70, 70, 70);

/// One output file's figures: where they go and in which format.
struct Fig<'a> {
    input: &'a Input,
    dir: &'a Path,
    stem: &'a str,
    format: Format,
}

impl Fig<'_> {
    fn write(
        &self,
        suffix: &str,
        draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
    ) -> AppResult<PathBuf> {
        plotting::figure(
            self.dir,
            &format!("{}_{suffix}", self.stem),
            self.format,
            draw,
        )
    }

    /// Means `<group>/<k>/<dataset>` per axis, with the `references` of each population.
    fn means(
        &self,
        group: &str,
        dataset: &str,
        main_label: &str,
        references: &[Reference],
    ) -> AppResult<PathBuf> {
        let input = self.input;
        let time = input.vec(schema::TIME)?;
        let mut means = Vec::new();
        let mut refs: Vec<Vec<Option<Array2<f64>>>> = Vec::new();
        let mut names = Vec::new();
        let mut k = 0;
        while input.has(&schema::member(&schema::indexed(group, k), dataset)) {
            means.push(input.mat(&schema::member(&schema::indexed(group, k), dataset))?);
            refs.push(
                references
                    .iter()
                    .map(|r| {
                        let p = r.at(k);
                        if input.has(&p) {
                            input.mat(&p).map(Some)
                        } else {
                            Ok(None)
                        }
                    })
                    .collect::<AppResult<_>>()?,
            );
            names.push(input.population_name(&schema::indexed(group, k), k));
            k += 1;
        }
        if means.is_empty() {
            return Err(input.bad(format!("no {group}/<k>/{dataset} datasets")));
        }
        let shown_refs: Vec<&Reference> = references
            .iter()
            .enumerate()
            .filter(|(i, _)| refs.iter().any(|r| r[*i].is_some()))
            .map(|(_, r)| r)
            .collect();
        let d = means[0].ncols();
        let labels = input.labels();
        let axes_shown = d.min(8);
        let t_end = time.last().copied().unwrap_or(1.0).max(time[0] + 1e-12);
        self.write("means", |root| {
            let root = root
                .titled(
                    &format!("mean excess per coalition axis: solid {main_label}"),
                    ("sans-serif", 20),
                )
                .map_err(err)?;
            let layout = (axes_shown.div_ceil(2).max(1), if d > 1 { 2 } else { 1 });
            let panels = root.split_evenly(layout);
            // With an odd number of axes the last panel is free: the legend goes there.
            let free_panel = layout.0 * layout.1 > axes_shown;
            if free_panel {
                let mut entries: Vec<(String, RGBColor, LineStyle)> = names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| (n.clone(), PALETTE[k % PALETTE.len()], LineStyle::Solid))
                    .collect();
                entries.extend(shown_refs.iter().map(|r| {
                    (
                        r.label.to_string(),
                        STYLE_GREY,
                        if r.dotted {
                            LineStyle::Dotted
                        } else {
                            LineStyle::Dashed
                        },
                    )
                }));
                legend_box(&panels[axes_shown], &entries)?;
            }
            for (i, panel) in panels.iter().enumerate().take(axes_shown) {
                let (lo, hi) = range(
                    means
                        .iter()
                        .chain(refs.iter().flatten().flatten())
                        .flat_map(|m| m.column(i).to_vec()),
                );
                let label = labels.get(i).cloned().unwrap_or_else(|| format!("x{i}"));
                let mut chart = ChartBuilder::on(panel)
                    .caption(format!("coalition axis {label}"), ("sans-serif", 17))
                    .margin(10)
                    .x_label_area_size(40)
                    .y_label_area_size(70)
                    .build_cartesian_2d(time[0]..t_end, lo..hi)
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_desc("t")
                    .y_desc(format!("mean excess {label}"))
                    .y_labels(5)
                    .x_labels(7)
                    .y_label_formatter(&ticks(lo, hi))
                    .x_label_formatter(&ticks(time[0], t_end))
                    .label_style(("sans-serif", 14))
                    .axis_desc_style(("sans-serif", 15))
                    .draw()
                    .map_err(err)?;
                for (k, m) in means.iter().enumerate() {
                    let color = PALETTE[k % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(
                            time.iter().zip(m.column(i)).map(|(t, v)| (*t, *v)),
                            color.stroke_width(2),
                        ))
                        .map_err(err)?
                        .label(names[k].clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                        });
                    for (j, r) in refs[k].iter().enumerate() {
                        let Some(r) = r else { continue };
                        let pts = time.iter().zip(r.column(i)).map(|(t, v)| (*t, *v));
                        let (dash, gap) = if references[j].dotted { (2, 4) } else { (8, 5) };
                        chart
                            .draw_series(DashedLineSeries::new(
                                pts,
                                dash,
                                gap,
                                color.mix(0.9).stroke_width(2),
                            ))
                            .map_err(err)?;
                    }
                }
                if i == 0 && !free_panel {
                    for r in &shown_refs {
                        if r.dotted {
                            dotted_legend_entry(&mut chart, r.label, STYLE_GREY)?;
                        } else {
                            dashed_legend_entry(&mut chart, r.label, STYLE_GREY, 2)?;
                        }
                    }
                    legend(&mut chart)?;
                }
            }
            Ok(())
        })
    }

    /// Stored copies' paths per population (the paper's Figures 5–9); `caption` replaces
    /// the figure's title.
    fn trajectories(&self, caption: Option<&str>) -> AppResult<PathBuf> {
        trajectories_figure(self.input, caption, |draw| self.write("trajectories", draw))
    }

    /// `<stem>_core`: each population's in-core fraction over the snapshot times, with its
    /// expected cost J_k (and the exact LQ value when written) in the legend.
    fn core(&self) -> AppResult<PathBuf> {
        let input = self.input;
        let t = input.vec(schema::SNAPSHOT_TIME)?;
        let mut series = Vec::new();
        let mut k = 0;
        while input.has(&schema::population_dataset(k, schema::CORE_FRACTION)) {
            let f = input.vec(&schema::population_dataset(k, schema::CORE_FRACTION))?;
            let cost = |name: &str| -> Option<f64> {
                let p = schema::population_dataset(k, name);
                input
                    .has(&p)
                    .then(|| input.vec(&p).ok())
                    .flatten()
                    .and_then(|v| v.first().copied())
            };
            let mut label = input.population_name(&schema::population(k), k);
            if let Some(j) = cost(schema::EXPECTED_COST) {
                label.push_str(&format!(": J = {j:.5}"));
            }
            if let Some(j) = cost(schema::EXPECTED_COST_LQ) {
                label.push_str(&format!(" (exact LQ {j:.5})"));
            }
            series.push((label, f));
            k += 1;
        }
        let t_end = t.last().copied().unwrap_or(1.0).max(t[0] + 1e-12);
        self.write("core", |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(
                    "fraction of each population in the core (all coalition excesses ≥ 0)",
                    ("sans-serif", 22),
                )
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(76)
                .build_cartesian_2d(t[0]..t_end, 0.0..1.0)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("t")
                .y_desc("in-core fraction")
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 17))
                .draw()
                .map_err(err)?;
            for (k, (label, f)) in series.iter().enumerate() {
                let color = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(LineSeries::new(
                        t.iter().zip(f).map(|(t, v)| (*t, *v)),
                        color.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                    });
            }
            legend(&mut chart)
        })
    }

    /// `<stem>_residual`: the fixed-point residual per iteration (log scale) and the
    /// tolerance.
    fn residual(&self) -> AppResult<PathBuf> {
        let input = self.input;
        let res = input.vec(schema::FIXED_POINT_RESIDUAL)?;
        let tol: f64 = input
            .file
            .attr(schema::ATTR_TOL)
            .and_then(|a| a.read_scalar())
            .unwrap_or(f64::NAN);
        let logs: Vec<f64> = res.iter().map(|r| r.max(1e-300).log10()).collect();
        let (lo, hi) = range(
            logs.iter()
                .copied()
                .chain(tol.log10().is_finite().then(|| tol.log10())),
        );
        self.write("residual", |root| {
            let mut chart = ChartBuilder::on(root)
                .caption(
                    "fixed-point residual (scaled sup-norm of G(x) − x)",
                    ("sans-serif", 22),
                )
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(76)
                .build_cartesian_2d(0.5..(res.len() as f64 + 0.5), lo..hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("iteration")
                .y_desc("log10 residual")
                .label_style(("sans-serif", 16))
                .axis_desc_style(("sans-serif", 17))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    logs.iter().enumerate().map(|(i, v)| (i as f64 + 1.0, *v)),
                    PALETTE[0].stroke_width(2),
                ))
                .map_err(err)?
                .label("residual")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], PALETTE[0].stroke_width(2))
                });
            chart
                .draw_series(
                    logs.iter()
                        .enumerate()
                        .map(|(i, v)| Circle::new((i as f64 + 1.0, *v), 4, PALETTE[0].filled())),
                )
                .map_err(err)?;
            if tol.is_finite() && tol > 0.0 {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(0.5, tol.log10()), (res.len() as f64 + 0.5, tol.log10())],
                        8,
                        6,
                        PALETTE[3].stroke_width(2),
                    ))
                    .map_err(err)?;
                dashed_legend_entry(&mut chart, &format!("tolerance {tol:.1e}"), PALETTE[3], 2)?;
            }
            legend(&mut chart)
        })
    }

    /// `<stem>_density_<k>`: population k's density at the chosen snapshots.
    fn density(&self, k: usize, times: &[f64]) -> AppResult<PathBuf> {
        let input = self.input;
        let dens = input.nd(&schema::population_dataset(k, schema::DENSITY))?;
        let snap_t = input.vec(schema::SNAPSHOT_TIME)?;
        let d = dens.ndim() - 1;
        let grids: Vec<Vec<f64>> = (0..d)
            .map(|i| input.vec(&schema::grid_axis(i)))
            .collect::<AppResult<_>>()?;
        if grids.iter().any(|g| g.len() < 2) {
            return Err(input.bad("grid axes need at least 2 nodes"));
        }
        let labels = input.labels();
        let name = input.population_name(&schema::population(k), k);
        let picks = snapshot_picks(&snap_t, dens.shape()[0], times);
        let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| format!("x{i}"));
        let at = |s: usize| snap_t.get(s).copied().unwrap_or(f64::NAN);
        self.write(&format!("density_{k}"), |root| {
            if d == 1 {
                let x = &grids[0];
                let frames: Vec<Array2<f64>> = picks
                    .iter()
                    .map(|&s| {
                        let f = dens.index_axis(NdAxis(0), s).to_owned();
                        f.into_shape_with_order((x.len(), 1))
                            .unwrap_or_else(|_| Array2::zeros((x.len(), 1)))
                    })
                    .collect();
                let ((x0, x1), _) =
                    frame_on_mass(x, &[0.0, 1.0], &frames.iter().collect::<Vec<_>>(), 1e-4);
                let (_, hi) = range(frames.iter().flat_map(|f| f.iter().copied()));
                let mut chart = ChartBuilder::on(root)
                    .caption(format!("density of {name}"), ("sans-serif", 22))
                    .margin(16)
                    .x_label_area_size(44)
                    .y_label_area_size(80)
                    .build_cartesian_2d(x0..x1, 0.0..hi)
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_desc(format!("excess {}", label(0)))
                    .y_desc("density m(x, t)")
                    .x_label_formatter(&ticks(x0, x1))
                    .y_label_formatter(&ticks(0.0, hi))
                    .label_style(("sans-serif", 16))
                    .axis_desc_style(("sans-serif", 17))
                    .draw()
                    .map_err(err)?;
                for (j, (&s, frame)) in picks.iter().zip(&frames).enumerate() {
                    let color = PALETTE[j % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(
                            x.iter().zip(frame.iter()).map(|(a, b)| (*a, *b)),
                            color.stroke_width(2),
                        ))
                        .map_err(err)?
                        .label(format!("t = {:.3}", at(s)))
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                        });
                }
                return legend(&mut chart);
            }
            let frames: Vec<Array2<f64>> = picks
                .iter()
                .map(|&s| {
                    let mut f = dens.index_axis(NdAxis(0), s).to_owned();
                    if d == 3 {
                        let mid = f.shape()[2] / 2;
                        f = f.index_axis(NdAxis(2), mid).to_owned();
                    }
                    f.into_dimensionality().map_err(err)
                })
                .collect::<Result<_, _>>()?;
            let (x, y) = (&grids[0], &grids[1]);
            let refs: Vec<&Array2<f64>> = frames.iter().collect();
            let view = frame_on_mass(x, y, &refs, 1e-3);
            let top = frames
                .iter()
                .flat_map(|f| f.iter())
                .copied()
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
                .max(1e-300);
            let root = root
                .titled(
                    &format!(
                        "density of {name}{} (one colour scale)",
                        if d == 3 {
                            ", middle slice of the last axis"
                        } else {
                            ""
                        }
                    ),
                    ("sans-serif", 20),
                )
                .map_err(err)?;
            let (w, _) = root.dim_in_pixel();
            let (maps, bar) =
                root.split_horizontally(w.saturating_sub(plotting::heatmap::BAR_WIDTH));
            let n = frames.len();
            let panels = maps.split_evenly(plotting::square_layout(n, maps.dim_in_pixel(), 0));
            for (j, panel) in panels.iter().enumerate().take(n) {
                heat_map(
                    panel,
                    &HeatMap {
                        x,
                        y,
                        field: &frames[j],
                        scale: (0.0, top),
                        view,
                        caption: &format!("t = {:.3}", at(picks[j])),
                        labels: (
                            &format!("excess {}", label(0)),
                            &format!("excess {}", label(1)),
                        ),
                        bar: None,
                        outline: None,
                    },
                )?;
            }
            plotting::colour_bar(&bar, 0.0, top, "density m(x, t)")
        })
    }
}

/// The snapshot indices nearest to `times` (empty: first, middle and last of `count`).
fn snapshot_picks(snap_t: &[f64], count: usize, times: &[f64]) -> Vec<usize> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_nearest_to_the_requested_times() {
        let t = [0.0, 0.5, 1.0];
        assert_eq!(snapshot_picks(&t, 3, &[]), vec![0, 1, 2]);
        assert_eq!(snapshot_picks(&t, 3, &[0.9, 0.1]), vec![2, 0]);
        assert_eq!(snapshot_picks(&t, 3, &[0.9, 1.0]), vec![2]);
    }
}
