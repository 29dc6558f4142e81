//! The trajectories figure of a `simulate` file (`plot`, and the paper's Figures 5–9 in
//! `paper`).

use super::legend_box::{legend_box, LineStyle};
use super::{dashed_legend_entry, err, range, ticks, Area, Chart, Format, PALETTE};
use crate::output::reader::Input;
use crate::output::schema;
use crate::AppResult;
use ndarray::Axis as NdAxis;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// The stored copies' paths of a `simulate` file, one panel per population (at most 6),
/// one colour per coordinate, the heuristic's macroscopic mean thick dashed black; a
/// free panel holds the legend. `write` writes the drawing.
pub fn trajectories_figure(
    input: &Input,
    caption: Option<&str>,
    write: impl FnOnce(&dyn Fn(&Area<'_>) -> Result<(), String>) -> AppResult<PathBuf>,
) -> AppResult<PathBuf> {
    let time = input.vec(schema::TIME)?;
    let mut paths = Vec::new();
    let mut names = Vec::new();
    let mut k = 0;
    while input.has(&schema::population_dataset(k, schema::TRAJECTORIES)) {
        let tr = input.nd(&schema::population_dataset(k, schema::TRAJECTORIES))?;
        if tr.ndim() != 3 || tr.shape()[1] != time.len() {
            return Err(input.bad(format!(
                "{} has shape {:?}",
                schema::population_dataset(k, schema::TRAJECTORIES),
                tr.shape()
            )));
        }
        paths.push(tr);
        names.push(input.population_name(&schema::population(k), k));
        k += 1;
    }
    if paths.is_empty() {
        return Err(input.bad("no populations/<k>/trajectories datasets"));
    }
    // Heuristic macroscopic means (steps+1, p, q), when the file has them.
    let heuristic = [
        (
            schema::HEURISTIC_SECOND_ORDER,
            "μ_k of the consensus step (43)",
        ),
        (schema::HEURISTIC_INTERNAL_MODEL, "internal model m̃(t)"),
    ]
    .iter()
    .map(|(g, label)| (schema::member(g, schema::MEAN), label))
    .find(|(n, _)| input.has(n))
    .map(|(n, label)| input.nd(&n).map(|h| (h, *label)))
    .transpose()?
    .filter(|(h, _)| h.ndim() == 3 && h.shape()[0] == time.len());
    let labels = input.labels();
    let shown = paths.len().min(6);
    let layout = match shown {
        1 => (1, 1),
        2 => (1, 2),
        3 | 4 => (2, 2),
        _ => (2, 3),
    };
    let legend_panel = shown < layout.0 * layout.1;
    let d = paths[0].shape()[2];
    let t_end = time.last().copied().unwrap_or(1.0).max(time[0] + 1e-12);
    let title = caption.map(str::to_string).unwrap_or_else(|| {
        "stored copies' excesses over time, one colour per coalition".to_string()
    });
    let draw = |root: &Area<'_>| -> Result<(), String> {
        let root = root.titled(&title, ("sans-serif", 19)).map_err(err)?;
        let panels = root.split_evenly(layout);
        for (k, panel) in panels.iter().enumerate().take(shown) {
            let tr = &paths[k];
            let mut vals: Vec<f64> = tr.iter().cloned().collect();
            if let Some((h, _)) = &heuristic {
                if h.shape()[1] > k {
                    vals.extend(h.index_axis(NdAxis(1), k).iter().cloned());
                }
            }
            let (lo, hi) = range(vals.into_iter());
            let mut chart: Chart<'_, '_> = ChartBuilder::on(panel)
                .caption(
                    format!("{}: {} copies", names[k], tr.shape()[0]),
                    ("sans-serif", 17),
                )
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(66)
                .build_cartesian_2d(time[0]..t_end, lo..hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("t")
                .y_desc("excess x_j(t)")
                .y_labels(6)
                .x_labels(7)
                .y_label_formatter(&ticks(lo, hi))
                .x_label_formatter(&ticks(time[0], t_end))
                .label_style(("sans-serif", 13))
                .axis_desc_style(("sans-serif", 14))
                .draw()
                .map_err(err)?;
            for j in 0..d {
                let color = PALETTE[j % PALETTE.len()];
                for c in 0..tr.shape()[0] {
                    let series = chart
                        .draw_series(LineSeries::new(
                            time.iter().enumerate().map(|(n, t)| (*t, tr[[c, n, j]])),
                            color.mix(0.6).stroke_width(1),
                        ))
                        .map_err(err)?;
                    if c == 0 && k == 0 && !legend_panel {
                        let label = labels.get(j).cloned().unwrap_or_else(|| format!("x{j}"));
                        series.label(label).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                        });
                    }
                }
            }
            if let Some((h, label)) = &heuristic {
                if h.shape()[1] > k {
                    for j in 0..h.shape()[2] {
                        chart
                            .draw_series(DashedLineSeries::new(
                                time.iter().enumerate().map(|(n, t)| (*t, h[[n, k, j]])),
                                8,
                                6,
                                BLACK.stroke_width(2),
                            ))
                            .map_err(err)?;
                    }
                    if k == 0 && !legend_panel {
                        dashed_legend_entry(&mut chart, label, BLACK, 2)?;
                    }
                }
            }
            if k == 0 && !legend_panel {
                chart
                    .configure_series_labels()
                    .label_font(("sans-serif", 13))
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(err)?;
            }
        }
        if legend_panel {
            let mut entries: Vec<(String, RGBColor, LineStyle)> = (0..d)
                .map(|j| {
                    (
                        format!(
                            "excess of {}",
                            labels.get(j).cloned().unwrap_or_else(|| format!("x{j}"))
                        ),
                        PALETTE[j % PALETTE.len()],
                        LineStyle::Solid,
                    )
                })
                .collect();
            if let Some((_, label)) = &heuristic {
                entries.push((label.to_string(), BLACK, LineStyle::Dashed));
            }
            legend_box(&panels[shown], &entries)?;
        }
        Ok(())
    };
    write(&draw)
}

/// Draws the trajectories figure of the `simulate` file `file` into `<dir>/<stem>` with
/// `caption` as its title (the paper's Figures 5–9).
pub fn trajectories_of(
    file: &Path,
    dir: &Path,
    stem: &str,
    format: Format,
    caption: &str,
) -> AppResult<PathBuf> {
    let input = Input::open(file)?;
    trajectories_figure(&input, Some(caption), |draw| {
        super::figure(dir, stem, format, draw)
    })
}
