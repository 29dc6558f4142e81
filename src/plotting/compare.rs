//! Figures of `tufield compare` (1200×800 anti-aliased PNG drawn by crate::plotting):
//! means side by side, the feedback drift difference at t = 0, and the robust cost loss
//! field of the LQ policy. Heat maps have equal axis scales, a colour bar each, and are
//! framed on the initial population.

use super::{
    dashed_legend_entry, dotted_legend_entry, err as e, figure, frame_on_mass, heat_map, legend,
    range, solid_legend_entry, square_layout, ticks, Area, Format, HeatMap, PALETTE,
};
use crate::run::compare::{drift_norm, Comparison, Fields, GridFields, ModeFields};
use crate::AppResult;
use ndarray::{Array1, Array2, ArrayD, Axis};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Grey of the style-only legend entries.
const STYLE_GREY: RGBColor = RGBColor(70, 70, 70);

/// (rows, columns) of the panel layout for `n` panels (at most 3 per row).
fn layout(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 3);
    (n.div_ceil(cols).max(1), cols)
}

/// A 2-D slice of a grid-shaped field: itself in 2-D, the middle slice of the last axis
/// in 3-D.
fn slice2(field: &ArrayD<f64>) -> Array2<f64> {
    let f = if field.ndim() == 3 {
        let mid = field.shape()[2] / 2;
        field.index_axis(Axis(2), mid).to_owned()
    } else {
        field.clone()
    };
    f.into_dimensionality()
        .unwrap_or_else(|_| Array2::zeros((1, 1)))
}

/// Means per axis: PDE solid, exact LQ dashed, heuristic dotted; one colour per population.
pub fn means(dir: &Path, stem: &str, cmp: &Comparison) -> AppResult<PathBuf> {
    let d = cmp.labels.len();
    let t0 = cmp.time[0];
    let t1 = cmp.time[cmp.time.len() - 1];
    figure(dir, &format!("{stem}_means"), Format::Png, |root| {
        let (rows, cols) = if d > 6 { mode_layout(d) } else { layout(d) };
        let panels = root.split_evenly((rows, cols));
        for (i, panel) in panels.iter().enumerate().take(d) {
            let (lo, hi) = range(
                cmp.means
                    .iter()
                    .flat_map(|per| per.iter())
                    .flat_map(|m| m.column(i).to_vec()),
            );
            let caption = if d > 6 {
                format!("mean on {}", cmp.labels[i])
            } else {
                format!(
                    "mean on {} (solid PDE, dashed LQ, dotted heuristic)",
                    cmp.labels[i]
                )
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(t0..t1, lo..hi)
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc("t")
                .y_desc(format!("mean excess {}", cmp.labels[i]))
                .y_label_formatter(&ticks(lo, hi))
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 15))
                .draw()
                .map_err(e)?;
            for k in 0..cmp.names.len() {
                let color = PALETTE[k % PALETTE.len()];
                let pts = |pi: usize| {
                    cmp.time
                        .iter()
                        .zip(cmp.means[pi][k].column(i).to_vec())
                        .map(|(t, v)| (*t, v))
                        .collect::<Vec<_>>()
                };
                chart
                    .draw_series(LineSeries::new(pts(0), color.stroke_width(3)))
                    .map_err(e)?
                    .label(cmp.names[k].clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                    });
                chart
                    .draw_series(DashedLineSeries::new(pts(1), 10, 6, color.stroke_width(2)))
                    .map_err(e)?;
                chart
                    .draw_series(DashedLineSeries::new(pts(2), 2, 5, color.stroke_width(2)))
                    .map_err(e)?;
            }
            if i == 0 {
                solid_legend_entry(&mut chart, "full PDE (solid)", STYLE_GREY, 3)?;
                dashed_legend_entry(&mut chart, "exact LQ (dashed)", STYLE_GREY, 2)?;
                dotted_legend_entry(&mut chart, "heuristic (dotted)", STYLE_GREY)?;
                legend(&mut chart)?;
            }
        }
        Ok(())
    })
}

/// (rows, columns) for the many small panels of a modal figure (7 or 15 modes): about
/// 1.5 times as many columns as rows.
fn mode_layout(n: usize) -> (usize, usize) {
    let cols = ((1.5 * n as f64).sqrt().ceil() as usize).clamp(1, n.max(1));
    (n.div_ceil(cols).max(1), cols)
}

/// One panel per mode with curves per population over the mode grid: `curve(mode, k)`.
fn mode_panels(
    dir: &Path,
    name: &str,
    cmp: &Comparison,
    modes: &[ModeFields],
    title: &str,
    ylabel: &str,
    curve: impl Fn(&ModeFields, usize) -> Array1<f64>,
) -> AppResult<PathBuf> {
    figure(dir, name, Format::Png, |root| {
        let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
        let panels = root.split_evenly(mode_layout(modes.len()));
        for (i, (panel, m)) in panels.iter().zip(modes).enumerate() {
            // Framed on the populations: where some initial density is ≥ 10⁻³ of its
            // maximum (the far ends of the automatic domain carry no mass).
            let support = |j: usize| {
                m.initial.iter().any(|w| {
                    let top = w.iter().cloned().fold(0.0, f64::max);
                    w[j] >= 1e-3 * top
                })
            };
            let n = m.axis.len();
            let lo = (0..n).find(|&j| support(j)).unwrap_or(0);
            let hi = (0..n)
                .rev()
                .find(|&j| support(j))
                .unwrap_or(n - 1)
                .max(lo + 1)
                .min(n - 1);
            let series: Vec<(String, Vec<f64>)> = cmp
                .names
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), curve(m, k).to_vec()[lo..=hi].to_vec()))
                .collect();
            line_panel(
                panel,
                &m.axis.to_vec()[lo..=hi],
                &series,
                &format!("mode {} (λ = {:.3})", i + 1, m.eigenvalue),
                &format!("y_{}", i + 1),
                ylabel,
            )?;
        }
        Ok(())
    })
}

/// 1-D panel: curves `series` (label, values) over `x`.
fn line_panel(
    panel: &Area<'_>,
    x: &[f64],
    series: &[(String, Vec<f64>)],
    caption: &str,
    xlabel: &str,
    ylabel: &str,
) -> Result<(), String> {
    let (lo, hi) = range(series.iter().flat_map(|s| s.1.iter().cloned()));
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x[0]..x[x.len() - 1], lo..hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_labels(5)
        .x_desc(xlabel)
        .y_desc(ylabel)
        .y_label_formatter(&ticks(lo, hi))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(e)?;
    for (j, (label, v)) in series.iter().enumerate() {
        let color = PALETTE[j % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                x.iter().cloned().zip(v.iter().cloned()),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)
}

/// One panel per population: in 1-D the curves `curves(k)` over the axis, otherwise a heat
/// map of the field `field(k)` (3-D: middle slice) with its colour bar, framed on the
/// initial population and with its edge outlined. `what` labels the values.
fn population_panels<'c>(
    dir: &Path,
    name: &str,
    (cmp, fields): (&'c Comparison, &'c GridFields),
    titles: (&str, &str),
    what: (&str, &str),
    curves: impl Fn(usize) -> [(String, &'c ArrayD<f64>); 2],
    field: impl Fn(usize) -> ArrayD<f64>,
) -> AppResult<PathBuf> {
    let p = cmp.names.len();
    let one_d = fields.axes.len() == 1;
    figure(dir, name, Format::Png, |root| {
        let title = if one_d { titles.0 } else { titles.1 };
        let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
        let panels = if one_d {
            root.split_evenly(layout(p))
        } else {
            root.split_evenly(square_layout(
                p,
                root.dim_in_pixel(),
                crate::plotting::heatmap::BAR_WIDTH,
            ))
        };
        for (k, panel) in panels.iter().enumerate().take(p) {
            if one_d {
                let series: Vec<(String, Vec<f64>)> = curves(k)
                    .into_iter()
                    .map(|(label, v)| (label, v.iter().cloned().collect()))
                    .collect();
                let x = fields.axes[0].to_vec();
                line_panel(panel, &x, &series, &cmp.names[k], &cmp.labels[0], what.0)?;
            } else {
                let frame = slice2(&field(k));
                let initial = slice2(&fields.initial[k]);
                let x = fields.axes[0].to_vec();
                let y = fields.axes[1].to_vec();
                heat_panel(
                    panel,
                    (&x, &y),
                    &frame,
                    &initial,
                    &cmp.names[k],
                    (&cmp.labels[0], &cmp.labels[1]),
                    what.1,
                )?;
            }
        }
        Ok(())
    })
}

/// Heat map of `frame` framed on (and outlined at) the population `initial`, with a
/// colour scale over the population's support (m ≥ 10⁻³ of its maximum), so that far
/// corners of the box do not wash out where the copies live.
fn heat_panel(
    panel: &Area<'_>,
    (x, y): (&[f64], &[f64]),
    frame: &Array2<f64>,
    initial: &Array2<f64>,
    caption: &str,
    labels: (&str, &str),
    what: &str,
) -> Result<(), String> {
    if x.len() < 2 || y.len() < 2 {
        return Err("grid axes need at least 2 nodes".to_string());
    }
    let top_m = initial.iter().cloned().fold(0.0, f64::max);
    let (lo, hi) = frame
        .indexed_iter()
        .filter(|(ix, _)| initial[*ix] >= 1e-3 * top_m)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    heat_map(
        panel,
        &HeatMap {
            x,
            y,
            field: frame,
            scale: (lo, hi),
            view: frame_on_mass(x, y, &[initial], 1e-3),
            caption,
            labels,
            bar: Some(what),
            outline: Some(initial),
        },
    )
}

/// Feedback drifts at t = 0: in 1-D both curves, otherwise |b_PDE − b_LQ| per population.
/// Modal: |b_PDE,i − b_LQ,i| over each mode's grid, one curve per population.
pub fn drift(dir: &Path, stem: &str, cmp: &Comparison) -> AppResult<PathBuf> {
    let f = match &cmp.fields {
        Fields::Grid(f) => f,
        Fields::Modal(modes) => {
            return mode_panels(
                dir,
                &format!("{stem}_drift"),
                cmp,
                modes,
                "|b_PDE − b_LQ| at t = 0 per mode (discretisation error of the PDE drift)",
                "|δb|",
                |m, k| (&m.drift_pde[k] - &m.drift_lq[k]).mapv(f64::abs),
            )
        }
    };
    population_panels(
        dir,
        &format!("{stem}_drift"),
        (cmp, f),
        (
            "feedback drift at t = 0: full PDE vs exact LQ",
            "|b_PDE − b_LQ| at t = 0 (colours over each population's support; white: initial population)",
        ),
        ("drift b at t = 0", "|b_PDE − b_LQ|"),
        |k| {
            [
                ("PDE ∇H(∇v)".to_string(), &f.drift_pde[k]),
                ("LQ A(φx+h)".to_string(), &f.drift_lq[k]),
            ]
        },
        |k| drift_norm(&f.drift_pde[k], &f.drift_lq[k]),
    )
}

/// Robust cost loss v_π(0, ·) − v_PDE(0, ·): in 1-D LQ and heuristic curves, otherwise a
/// heat map of the LQ policy's loss per population with the initial population outlined.
/// Modal: the heuristic's loss v_heur,i(0, ·) − v_PDE,i(0, ·) over each mode's grid, one
/// curve per population.
pub fn loss(dir: &Path, stem: &str, cmp: &Comparison) -> AppResult<PathBuf> {
    let f = match &cmp.fields {
        Fields::Grid(f) => f,
        Fields::Modal(modes) => return mode_panels(
            dir,
            &format!("{stem}_loss"),
            cmp,
            modes,
            "extra robust cost v_heur,i(0,y) − v_PDE,i(0,y) of the Section 7 heuristic per mode",
            "extra cost",
            |m, k| m.loss[1][k].clone(),
        ),
    };
    population_panels(
        dir,
        &format!("{stem}_loss"),
        (cmp, f),
        (
            "extra robust cost v_π(0,x) − v_PDE(0,x) of a designer playing policy π",
            "extra robust cost v_LQ(0,x) − v_PDE(0,x) of the LQ policy (white: initial population)",
        ),
        ("extra robust cost", "v_LQ(0,x) − v_PDE(0,x)"),
        |k| {
            [
                ("LQ policy".to_string(), &f.loss[0][k]),
                ("heuristic".to_string(), &f.loss[1][k]),
            ]
        },
        |k| f.loss[0][k].clone(),
    )
}
