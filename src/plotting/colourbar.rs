//! The colour map of every heat map (viridis-like, dark = low) and its colour bar.

use super::{err, Area};
use plotters::prelude::*;

/// Viridis-like colour for t ∈ [0, 1] (clamped; NaN is the low end).
pub fn colour(t: f64) -> RGBColor {
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

/// Draws a vertical colour bar for the values `lo..hi` on `area` (a narrow strip beside
/// the map), with ticks and the label `what` on its right.
pub fn colour_bar(area: &Area<'_>, lo: f64, hi: f64, what: &str) -> Result<(), String> {
    let hi = if hi > lo { hi } else { lo + 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin_top(40)
        .margin_bottom(46)
        .margin_left(4)
        .margin_right(8)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(what)
        .y_label_formatter(&super::ticks(lo, hi))
        .y_labels(6)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    const STRIPS: usize = 128;
    let step = (hi - lo) / STRIPS as f64;
    chart
        .draw_series((0..STRIPS).map(|i| {
            let v0 = lo + i as f64 * step;
            Rectangle::new(
                [(0.0, v0), (1.0, v0 + step * 1.02)],
                colour((i as f64 + 0.5) / STRIPS as f64).filled(),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (1.0, hi)],
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_map_runs_from_dark_to_light() {
        assert_eq!(colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(colour(1.0), RGBColor(253, 231, 37));
        assert_eq!(colour(f64::NAN), RGBColor(68, 1, 84));
        assert_eq!(colour(7.0), RGBColor(253, 231, 37));
    }
}
