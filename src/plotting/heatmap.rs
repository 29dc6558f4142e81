//! A heat map of a field on grid nodes: equal scales on both axes, framed on a given
//! view box, with its colour bar beside it.

use super::{colour, colour_bar, equal_scale, err, ticks, Area};
use ndarray::Array2;
use plotters::prelude::*;

/// What one heat map shows.
pub struct HeatMap<'a> {
    /// Node coordinates of the first axis (rows of `field`).
    pub x: &'a [f64],
    /// Node coordinates of the second axis (columns of `field`).
    pub y: &'a [f64],
    /// Values at the nodes.
    pub field: &'a Array2<f64>,
    /// Colour scale: `lo` is the darkest colour, `hi` the lightest.
    pub scale: (f64, f64),
    /// The box to show (widened to equal scales).
    pub view: ((f64, f64), (f64, f64)),
    /// Caption above the map.
    pub caption: &'a str,
    /// Axis labels (first, second).
    pub labels: (&'a str, &'a str),
    /// Label of the colour bar (`None`: no bar beside this map).
    pub bar: Option<&'a str>,
    /// Nodes of this field's {≥ 10 % of its maximum} edge are marked white.
    pub outline: Option<&'a Array2<f64>>,
}

const MARGIN: u32 = 10;
const X_LABEL_AREA: u32 = 44;
const Y_LABEL_AREA: u32 = 64;
/// Width of a colour bar strip beside a map.
pub const BAR_WIDTH: u32 = 120;

/// Draws `map` on `area` (with its colour bar on the right when `map.bar` is set).
pub fn heat_map(area: &Area<'_>, map: &HeatMap<'_>) -> Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let (plot_area, bar_area) = match map.bar {
        Some(_) => {
            let (a, b) = area.split_horizontally(w.saturating_sub(BAR_WIDTH));
            (a, Some(b))
        }
        None => (area.clone(), None),
    };
    let inner = plot_area
        .titled(map.caption, ("sans-serif", 17))
        .map_err(err)?;
    let (iw, ih) = inner.dim_in_pixel();
    let pixels = (
        iw.saturating_sub(2 * MARGIN + Y_LABEL_AREA),
        ih.saturating_sub(2 * MARGIN + X_LABEL_AREA),
    );
    let (vx, vy) = equal_scale(map.view.0, map.view.1, pixels);
    let mut chart = ChartBuilder::on(&inner)
        .margin(MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(vx.0..vx.1, vy.0..vy.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(map.labels.0)
        .y_desc(map.labels.1)
        .x_label_formatter(&ticks(vx.0, vx.1))
        .y_label_formatter(&ticks(vy.0, vy.1))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    let (x, y) = (map.x, map.y);
    // Cells a little wider than the spacing so that anti-aliasing leaves no seams.
    let (dx, dy) = ((x[1] - x[0]).abs() * 0.52, (y[1] - y[0]).abs() * 0.52);
    let (lo, hi) = map.scale;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let visible = |a: usize, b: usize| {
        x[a] + dx >= vx.0 && x[a] - dx <= vx.1 && y[b] + dy >= vy.0 && y[b] - dy <= vy.1
    };
    chart
        .draw_series(
            map.field
                .indexed_iter()
                .filter(|((a, b), _)| visible(*a, *b))
                .map(|((a, b), v)| {
                    let x0 = (x[a] - dx).max(vx.0);
                    let x1 = (x[a] + dx).min(vx.1);
                    let y0 = (y[b] - dy).max(vy.0);
                    let y1 = (y[b] + dy).min(vy.1);
                    Rectangle::new([(x0, y0), (x1, y1)], colour((v - lo) / span).filled())
                }),
        )
        .map_err(err)?;
    if let Some(m) = map.outline {
        let top = m.iter().cloned().fold(0.0, f64::max);
        let inside = |a: usize, b: usize| m[[a, b]] >= 0.1 * top;
        let (na, nb) = m.dim();
        let edge = (0..na)
            .flat_map(|a| (0..nb).map(move |b| (a, b)))
            .filter(|&(a, b)| {
                inside(a, b)
                    && visible(a, b)
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
            .map_err(err)?;
    }
    if let (Some(bar), Some(what)) = (bar_area, map.bar) {
        colour_bar(&bar, lo, if hi > lo { hi } else { lo + 1.0 }, what)?;
    }
    Ok(())
}
