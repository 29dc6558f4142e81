//! Figures of `tufield compare` (1200×800 PNG, the plot module's font, colours and atomic
//! writes): means side by side, the feedback drift difference at t = 0, and the robust
//! cost loss field of the LQ policy.

use super::{drift_norm, Comparison};
use crate::commands::plot::{colour, figure, legend, range, PALETTE};
use crate::AppResult;
use ndarray::{Array2, ArrayD, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

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
    let d = cmp.axes.len();
    let t0 = cmp.time[0];
    let t1 = cmp.time[cmp.time.len() - 1];
    figure(dir, &format!("{stem}_means.png"), |root| {
        let (rows, cols) = layout(d);
        let panels = root.split_evenly((rows, cols));
        for (i, panel) in panels.iter().enumerate().take(d) {
            let (lo, hi) = range(
                cmp.means
                    .iter()
                    .flat_map(|per| per.iter())
                    .flat_map(|m| m.column(i).to_vec()),
            );
            let mut chart = ChartBuilder::on(panel)
                .caption(
                    format!(
                        "mean on {} (solid PDE, dashed LQ, dotted heuristic)",
                        cmp.labels[i]
                    ),
                    ("sans-serif", 18),
                )
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(t0..t1, lo..hi)
                .map_err(e)?;
            chart
                .configure_mesh()
                .x_desc("t")
                .label_style(("sans-serif", 15))
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
                legend(&mut chart)?;
            }
        }
        Ok(())
    })
}

/// Heat map of `frame` on the nodes `x` × `y` with the colour scale [lo, hi]; nodes on
/// the edge of {m ≥ 10 % of its maximum} of `outline` are marked white.
fn heat_panel(
    panel: &DrawingArea<BitMapBackend<'_>, Shift>,
    x: &[f64],
    y: &[f64],
    frame: &Array2<f64>,
    caption: &str,
    labels: (&str, &str),
    outline: Option<&Array2<f64>>,
) -> Result<(), String> {
    // Colour scale over the population's support (m ≥ 10⁻³ of its maximum) when an outline
    // is given, so that far corners of the box do not wash out where the copies live.
    let top_m = outline.map_or(0.0, |m| m.iter().cloned().fold(0.0, f64::max));
    let (lo, hi) = frame
        .indexed_iter()
        .filter(|(ix, _)| outline.is_none_or(|m| m[*ix] >= 1e-3 * top_m))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let span = (hi - lo).max(1e-300);
    let caption = format!("{caption}: colours {lo:.3} … {hi:.3}");
    let caption = caption.as_str();
    let (dx, dy) = ((x[1] - x[0]).abs() * 0.5, (y[1] - y[0]).abs() * 0.5);
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(
            (x[0] - dx)..(x[x.len() - 1] + dx),
            (y[0] - dy)..(y[y.len() - 1] + dy),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(labels.0)
        .y_desc(labels.1)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(frame.indexed_iter().map(|((a, b), v)| {
            Rectangle::new(
                [(x[a] - dx, y[b] - dy), (x[a] + dx, y[b] + dy)],
                colour((v - lo) / span).filled(),
            )
        }))
        .map_err(e)?;
    if let Some(m) = outline {
        let top = m.iter().cloned().fold(0.0, f64::max);
        let inside = |a: usize, b: usize| m[[a, b]] >= 0.1 * top;
        let (na, nb) = m.dim();
        let edge = (0..na)
            .flat_map(|a| (0..nb).map(move |b| (a, b)))
            .filter(|&(a, b)| {
                inside(a, b)
                    && [
                        (a.wrapping_sub(1), b),
                        (a + 1, b),
                        (a, b.wrapping_sub(1)),
                        (a, b + 1),
                    ]
                    .iter()
                    .any(|&(p, q)| p >= na || q >= nb || !inside(p, q))
            });
        chart
            .draw_series(edge.map(|(a, b)| Circle::new((x[a], y[b]), 1, WHITE.filled())))
            .map_err(e)?;
    }
    Ok(())
}

/// 1-D panel: curves `series` (label, values) over `x`.
fn line_panel(
    panel: &DrawingArea<BitMapBackend<'_>, Shift>,
    x: &[f64],
    series: &[(String, Vec<f64>)],
    caption: &str,
    xlabel: &str,
) -> Result<(), String> {
    let (lo, hi) = range(series.iter().flat_map(|s| s.1.iter().cloned()));
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(x[0]..x[x.len() - 1], lo..hi)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .label_style(("sans-serif", 14))
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
/// map of the field `field(k)` (3-D: middle slice) with the initial population outlined.
fn population_panels<'c>(
    dir: &Path,
    name: &str,
    cmp: &'c Comparison,
    titles: (&str, &str),
    curves: impl Fn(usize) -> [(String, &'c ArrayD<f64>); 2],
    field: impl Fn(usize) -> ArrayD<f64>,
) -> AppResult<PathBuf> {
    let p = cmp.names.len();
    let one_d = cmp.axes.len() == 1;
    figure(dir, name, |root| {
        let title = if one_d { titles.0 } else { titles.1 };
        let root = root.titled(title, ("sans-serif", 20)).map_err(e)?;
        let panels = root.split_evenly(layout(p));
        for (k, panel) in panels.iter().enumerate().take(p) {
            if one_d {
                let series: Vec<(String, Vec<f64>)> = curves(k)
                    .into_iter()
                    .map(|(label, v)| (label, v.iter().cloned().collect()))
                    .collect();
                let x = cmp.axes[0].to_vec();
                line_panel(panel, &x, &series, &cmp.names[k], &cmp.labels[0])?;
            } else {
                let frame = slice2(&field(k));
                let top = frame.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                heat_panel(
                    panel,
                    cmp.axes[0].as_slice().unwrap_or(&[0.0, 1.0]),
                    cmp.axes[1].as_slice().unwrap_or(&[0.0, 1.0]),
                    &frame,
                    &format!("{} (max {top:.2})", cmp.names[k]),
                    (&cmp.labels[0], &cmp.labels[1]),
                    Some(&slice2(&cmp.initial[k])),
                )?;
            }
        }
        Ok(())
    })
}

/// Feedback drifts at t = 0: in 1-D both curves, otherwise |b_PDE − b_LQ| per population.
pub fn drift(dir: &Path, stem: &str, cmp: &Comparison) -> AppResult<PathBuf> {
    population_panels(
        dir,
        &format!("{stem}_drift.png"),
        cmp,
        (
            "feedback drift at t = 0: full PDE vs exact LQ",
            "|b_PDE − b_LQ| at t = 0 (colours over each population's support; white: initial population)",
        ),
        |k| {
            [
                ("PDE ∇H(∇v)".to_string(), &cmp.drift_pde[k]),
                ("LQ A(φx+h)".to_string(), &cmp.drift_lq[k]),
            ]
        },
        |k| drift_norm(&cmp.drift_pde[k], &cmp.drift_lq[k]),
    )
}

/// Robust cost loss v_π(0, ·) − v_PDE(0, ·): in 1-D LQ and heuristic curves, otherwise a
/// heat map of the LQ policy's loss per population with the initial population outlined.
pub fn loss(dir: &Path, stem: &str, cmp: &Comparison) -> AppResult<PathBuf> {
    population_panels(
        dir,
        &format!("{stem}_loss.png"),
        cmp,
        (
            "extra robust cost v_π(0,x) − v_PDE(0,x) of a designer playing policy π",
            "extra robust cost v_LQ(0,x) − v_PDE(0,x) of the LQ policy (white: initial population)",
        ),
        |k| {
            [
                ("LQ policy".to_string(), &cmp.loss[0][k]),
                ("heuristic".to_string(), &cmp.loss[1][k]),
            ]
        },
        |k| cmp.loss[0][k].clone(),
    )
}
