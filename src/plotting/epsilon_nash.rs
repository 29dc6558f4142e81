//! The ε-Nash study's figure (`tufield simulate --epsilon-nash`, [`crate::run::epsilon_nash`]).

use super::{figure, legend, range, Format, PALETTE};
use crate::run::epsilon_nash::EpsilonStudy;
use crate::AppResult;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// `<out stem>_epsilon_nash.png` next to `out`: log10 ε(N) per population (exact, line
/// and dots; Monte Carlo ± 2 s.e. as bars), ε(∞) dashed.
pub fn plot(out: &Path, st: &EpsilonStudy, names: &[String]) -> AppResult<PathBuf> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = out
        .file_stem()
        .map_or("simulate".into(), |s| s.to_string_lossy().to_string());
    let floor = st
        .epsilon
        .iter()
        .chain(st.limit.iter())
        .filter(|v| **v > 0.0)
        .fold(f64::INFINITY, |m, v| m.min(*v));
    let floor = if floor.is_finite() {
        floor * 0.1
    } else {
        1e-300
    };
    let lg = |v: f64| v.max(floor).log10();
    let xs: Vec<f64> = st.copies.iter().map(|&n| (n as f64).log10()).collect();
    let (x0, x1) = range(xs.iter().copied());
    let (y0, y1) = range(
        st.epsilon
            .iter()
            .chain(st.limit.iter())
            .map(|v| lg(*v))
            .chain(
                st.monte_carlo
                    .iter()
                    .zip(st.standard_error.iter())
                    .flat_map(|(m, se)| [lg(m - 2.0 * se), lg(m + 2.0 * se)]),
            ),
    );
    figure(dir, &format!("{stem}_epsilon_nash"), Format::Png, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "ε-Nash: gain of one best-responding copy",
                ("sans-serif", 24),
            )
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| format!("{e:?}"))?;
        chart
            .configure_mesh()
            .x_desc("log10 N (copies per population)")
            .y_desc("log10 ε(N)")
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| format!("{e:?}"))?;
        for (k, name) in names.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            let pts: Vec<(f64, f64)> = xs
                .iter()
                .enumerate()
                .map(|(i, &x)| (x, lg(st.epsilon[[i, k]])))
                .collect();
            let rate = if st.rate[k].is_finite() {
                format!(", slope {:.2}", st.rate[k])
            } else {
                String::new()
            };
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| format!("{e:?}"))?
                .label(format!("{name} (exact{rate})"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                .map_err(|e| format!("{e:?}"))?;
            chart
                .draw_series(xs.iter().enumerate().map(|(i, &x)| {
                    let (m, se) = (st.monte_carlo[[i, k]], st.standard_error[[i, k]]);
                    PathElement::new(
                        [(x, lg(m - 2.0 * se)), (x, lg(m + 2.0 * se))],
                        c.stroke_width(1),
                    )
                }))
                .map_err(|e| format!("{e:?}"))?;
            let l = lg(st.limit[k]);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, l), (x1, l)],
                    6,
                    4,
                    c.stroke_width(1),
                ))
                .map_err(|e| format!("{e:?}"))?
                .label(format!("{name}: ε(∞) (time-step floor)"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(1)));
        }
        legend(&mut chart)
    })
}
