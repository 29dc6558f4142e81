//! A legend alone in a free panel of a multi-panel figure.

use super::{err, Area};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

/// How a legend entry's line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineStyle {
    /// A solid line.
    Solid,
    /// A dashed line.
    Dashed,
    /// A dotted line.
    Dotted,
}

/// A legend alone in a free panel: one line sample and label per entry.
pub fn legend_box(
    area: &Area<'_>,
    entries: &[(String, RGBColor, LineStyle)],
) -> Result<(), String> {
    let (x0, y0) = (30i32, 40i32);
    let (_, h) = area.dim_in_pixel();
    let step = ((h as i32 - y0) / entries.len().max(1) as i32).clamp(18, 30);
    for (i, (label, colour, style)) in entries.iter().enumerate() {
        let y = y0 + step * i as i32;
        if *style == LineStyle::Solid {
            area.draw(&PathElement::new(
                vec![(x0, y), (x0 + 36, y)],
                colour.stroke_width(3),
            ))
            .map_err(err)?;
        } else {
            let (dash, gap) = if *style == LineStyle::Dotted {
                (2, 4)
            } else {
                (6, 4)
            };
            area.draw(&DashedPathElement::new(
                vec![(x0, y), (x0 + 36, y)],
                dash,
                gap,
                colour.stroke_width(2),
            ))
            .map_err(err)?;
        }
        area.draw(&Text::new(
            label.clone(),
            (x0 + 48, y - 8),
            ("sans-serif", 16).into_font(),
        ))
        .map_err(err)?;
    }
    Ok(())
}
