//! PNG figures of a gathered sweep: one quantity against the first sweep axis, one line
//! per combination of the other axes (and per population / model axis where the
//! quantity has them). For a `cost.gamma` axis the threshold of condition (17) (γ must
//! exceed it) is drawn as a dashed vertical line. Drawn with the plot module's font,
//! colours and atomic writes.

use super::gather::{PointResult, Summary};
use crate::output::schema;
use crate::plotting::{figure, legend, range, Format, PALETTE};
use crate::AppResult;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

fn e<E: std::fmt::Debug>(err: E) -> String {
    format!("{err:?}")
}

/// The values of quantity `q` at one point, each with its series label suffix.
fn values(q: &str, sum: &Summary, r: &PointResult) -> Vec<(String, f64)> {
    let per_pop = |v: &dyn Fn(usize) -> f64| -> Vec<(String, f64)> {
        sum.populations
            .iter()
            .enumerate()
            .map(|(k, name)| (name.clone(), v(k)))
            .collect()
    };
    match q {
        schema::SUMMARY_EXPECTED_COST => {
            per_pop(&|k| r.values.result.costs.get(k).copied().unwrap_or(f64::NAN))
        }
        schema::SUMMARY_FINAL_MEAN => {
            let mut out = Vec::new();
            for (k, name) in sum.populations.iter().enumerate() {
                for (i, label) in sum.axis_labels.iter().enumerate() {
                    let v = r
                        .values
                        .result
                        .means
                        .get(k)
                        .and_then(|m| m.get(i))
                        .copied()
                        .unwrap_or(f64::NAN);
                    out.push((format!("{name} {label}"), v));
                }
            }
            out
        }
        schema::SUMMARY_ITERATIONS => vec![(
            String::new(),
            if r.values.result.iterations < 0 {
                f64::NAN
            } else {
                r.values.result.iterations as f64
            },
        )],
        schema::SUMMARY_RESIDUAL => vec![(String::new(), r.values.result.residual)],
        schema::SUMMARY_MASS_ERROR => vec![(String::new(), r.values.result.mass_error)],
        schema::SUMMARY_WALL_TIME => vec![(String::new(), r.values.wall_s)],
        _ => vec![(String::new(), r.values.result.lq_mean_distance)],
    }
}

fn logarithmic(q: &str) -> bool {
    matches!(
        q,
        schema::SUMMARY_RESIDUAL | schema::SUMMARY_MASS_ERROR | schema::SUMMARY_LQ_MEAN_DISTANCE
    )
}

/// Draws `<DIR>/<q>.png`; `None` when there is nothing finite to draw.
pub fn quantity(dir: &Path, sum: &Summary, q: &str) -> AppResult<Option<PathBuf>> {
    let m = &sum.manifest;
    let axis0 = m.axis[0].axis();
    let xs: Vec<f64> = axis0
        .numbers()
        .unwrap_or_else(|| (0..axis0.values.len()).map(|i| i as f64).collect());
    // Series: (label, points (x, y)).
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let group_label = |i: usize| -> String {
        m.point[i]
            .overrides
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, p) in m.point.iter().enumerate() {
        let x = xs[p.coords[0]];
        let group = if m.zip { String::new() } else { group_label(i) };
        for (suffix, y) in values(q, sum, &sum.points[i]) {
            let y = if logarithmic(q) { y.abs().log10() } else { y };
            let label = [group.as_str(), suffix.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" · ");
            match series.iter_mut().find(|(l, _)| *l == label) {
                Some((_, pts)) => pts.push((x, y)),
                None => series.push((label, vec![(x, y)])),
            }
        }
    }
    let finite = |v: &f64| v.is_finite();
    if !series.iter().any(|(_, p)| p.iter().any(|(_, y)| finite(y))) {
        return Ok(None);
    }
    let threshold = (axis0.key == "cost.gamma")
        .then_some(sum.min_gamma)
        .flatten();
    let (x0, x1) = range(xs.iter().copied().chain(threshold));
    let (y0, y1) = range(series.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)));
    let ylabel = if logarithmic(q) {
        format!("log10 {q}")
    } else {
        q.to_string()
    };
    let caption = format!("{q} against {}", axis0.key);
    let path = figure(dir, q, Format::Png, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(axis0.key.as_str())
            .y_desc(ylabel.as_str())
            .label_style(("sans-serif", 16))
            .draw()
            .map_err(e)?;
        for (j, (label, pts)) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let mut pts: Vec<(f64, f64)> = pts.iter().copied().filter(|(_, y)| finite(y)).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let s = chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(e)?;
            if !label.is_empty() {
                s.label(label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            }
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(e)?;
        }
        if let Some(g) = threshold {
            chart
                .draw_series(DashedLineSeries::new(
                    [(g, y0), (g, y1)],
                    8,
                    6,
                    RED.stroke_width(2),
                ))
                .map_err(e)?
                .label(format!("condition (17): γ > {g:.4}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        legend(&mut chart)
    })?;
    Ok(Some(path))
}
