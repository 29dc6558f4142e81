//! Figures of every command (`plot`, `compare`, `sweep`, `paper`): drawn once as vector
//! graphics with plotters' SVG backend, then written as SVG or rasterised to an
//! anti-aliased PNG by resvg. Text is set in the embedded DejaVu Sans (assets/fonts) for
//! the layout and the raster; no system fonts are read.
//!
//! * [`figure`] writes one figure atomically (temporary name, renamed when complete).
//! * [`axes`]: padded ranges with readable ticks, equal axis scales, framing on the mass.
//! * [`colourbar`]: the viridis-like colour map and the colour bar of every heat map.
//! * [`heatmap`]: a heat map with equal axis scales, framed on a view box.
//! * [`legend_box`]: a legend alone in a free panel.
//! * the output file a figure is read from is [`crate::output::reader::Input`].
//! * [`trajectories`]: the copies' paths of a `simulate` file (`plot`, `paper`).
//! * [`files`]: the figures of an output file (`tufield plot`).
//! * [`compare`]: the figures of `tufield compare`.
//! * [`epsilon_nash`]: the figure of `tufield simulate --epsilon-nash`.

pub mod axes;
pub mod colourbar;
pub mod compare;
pub mod epsilon_nash;
pub mod files;
pub mod heatmap;
pub mod legend_box;
pub mod trajectories;

use crate::{AppError, AppResult};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use axes::{equal_scale, frame_on_mass, range, square_layout, ticks};
pub use colourbar::{colour, colour_bar};
pub use heatmap::{heat_map, HeatMap};

/// Width and height of every figure (pixels of the PNG, user units of the SVG).
pub const FIGURE_SIZE: (u32, u32) = (1200, 800);

/// The font every figure is set in.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static FONT_READY: OnceLock<bool> = OnceLock::new();
static FONT_DB: OnceLock<Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();

/// Series colours (the "tab10" sequence).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// The drawing area every figure function draws on.
pub type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A 2-D chart with f64 axes on the figure backend.
pub type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// File format of a figure (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Anti-aliased raster, 1200×800 pixels.
    #[default]
    Png,
    /// Vector graphics (for papers); text as text in DejaVu Sans / sans-serif.
    Svg,
    /// PDF for publication: the same vector graphics with the DejaVu Sans subset embedded
    /// (converted from the SVG by `svg2pdf`).
    Pdf,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Pdf => "pdf",
        }
    }
}

fn register_font() -> bool {
    *FONT_READY.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    })
}

fn font_db() -> Arc<resvg::usvg::fontdb::Database> {
    FONT_DB
        .get_or_init(|| {
            let mut db = resvg::usvg::fontdb::Database::new();
            db.load_font_data(FONT.to_vec());
            db.set_sans_serif_family("DejaVu Sans");
            Arc::new(db)
        })
        .clone()
}

/// Parses an SVG document of a figure with the embedded font.
fn parse_svg(svg: &str) -> Result<resvg::usvg::Tree, String> {
    let mut options = resvg::usvg::Options {
        font_family: "DejaVu Sans".to_string(),
        ..Default::default()
    };
    options.fontdb = font_db();
    resvg::usvg::Tree::from_str(svg, &options).map_err(|e| e.to_string())
}

/// Converts an SVG document of a figure to a one-page PDF (vector graphics, the font
/// subset embedded, page size the figure's at 72 dpi).
pub fn to_pdf(svg: &str) -> Result<Vec<u8>, String> {
    let tree = parse_svg(svg)?;
    svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions::default(),
    )
    .map_err(|e| e.to_string())
}

/// Rasterises an SVG document of [`FIGURE_SIZE`] to PNG bytes (anti-aliased).
pub fn rasterise(svg: &str) -> Result<Vec<u8>, String> {
    let tree = parse_svg(svg)?;
    let (w, h) = FIGURE_SIZE;
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(w, h).ok_or_else(|| "empty canvas".to_string())?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    let size = tree.size();
    let transform =
        resvg::tiny_skia::Transform::from_scale(w as f32 / size.width(), h as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| e.to_string())
}

/// Draws the SVG document of one figure with `draw`.
pub fn draw_svg(draw: impl FnOnce(&Area<'_>) -> Result<(), String>) -> AppResult<String> {
    if !register_font() {
        return Err(AppError::Io {
            path: "assets/fonts/DejaVuSans.ttf".to_string(),
            message: "the embedded font could not be loaded".to_string(),
        });
    }
    let mut svg = String::new();
    let result = (|| {
        let root = SVGBackend::with_string(&mut svg, FIGURE_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| format!("{e:?}"))?;
        draw(&root)?;
        root.present().map_err(|e| format!("{e:?}"))
    })();
    result.map_err(|message| AppError::Io {
        path: "figure".to_string(),
        message: format!("drawing the figure failed: {message}"),
    })?;
    Ok(svg)
}

/// Draws `<dir>/<stem>.<ext>` in `format` via a temporary file renamed when complete, and
/// returns its path.
pub fn figure(
    dir: &Path,
    stem: &str,
    format: Format,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> AppResult<PathBuf> {
    let dest = dir.join(format!("{stem}.{}", format.extension()));
    let svg = draw_svg(draw).map_err(|e| match e {
        AppError::Io { message, .. } => AppError::Io {
            path: dest.display().to_string(),
            message,
        },
        e => e,
    })?;
    let bytes = match format {
        Format::Svg => svg.into_bytes(),
        Format::Pdf => to_pdf(&svg).map_err(|m| AppError::Io {
            path: dest.display().to_string(),
            message: format!("converting the figure to PDF failed: {m}"),
        })?,
        Format::Png => rasterise(&svg).map_err(|m| AppError::Io {
            path: dest.display().to_string(),
            message: format!("rasterising the figure failed: {m}"),
        })?,
    };
    let tmp = dir.join(format!(
        ".{stem}.tmp-{}.{}",
        std::process::id(),
        format.extension()
    ));
    std::fs::write(&tmp, &bytes).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&dest, "cannot write the figure", &e)
    })?;
    std::fs::rename(&tmp, &dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        AppError::io(&dest, "cannot move the figure into place", &e)
    })?;
    Ok(dest)
}

/// Formats a plotters error for the drawing closures.
pub fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The series legend, drawn the same way on every figure.
pub fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), String> {
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// A legend entry only (no data): `label` beside the mark `mark` draws at the entry's
/// anchor.
fn legend_entry<'a, 'b: 'a, E>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    mark: impl Fn((i32, i32)) -> E + 'a,
) -> Result<(), String>
where
    E: IntoDynElement<'a, SVGBackend<'b>, (i32, i32)>,
{
    chart
        .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
        .map_err(err)?
        .label(label)
        .legend(mark);
    Ok(())
}

/// A legend entry for a reference line drawn dashed in `colour` (no data: the entry only).
pub fn dashed_legend_entry<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    colour: RGBColor,
    width: u32,
) -> Result<(), String> {
    legend_entry(chart, label, move |(x, y)| {
        DashedPathElement::new(vec![(x, y), (x + 24, y)], 5, 3, colour.stroke_width(width))
    })
}

/// A legend entry for a dotted reference line in `colour`.
pub fn dotted_legend_entry<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    colour: RGBColor,
) -> Result<(), String> {
    legend_entry(chart, label, move |(x, y)| {
        DashedPathElement::new(vec![(x, y), (x + 24, y)], 2, 3, colour.stroke_width(2))
    })
}

/// A legend entry for a solid line in `colour`.
pub fn solid_legend_entry<'a, 'b: 'a>(
    chart: &mut Chart<'a, 'b>,
    label: &str,
    colour: RGBColor,
    width: u32,
) -> Result<(), String> {
    legend_entry(chart, label, move |(x, y)| {
        PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(width))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawn_figure_rasterises_to_a_png_of_the_figure_size() {
        let svg = draw_svg(|root| {
            let mut chart = ChartBuilder::on(root)
                .caption("x", ("sans-serif", 20))
                .x_label_area_size(30)
                .y_label_area_size(30)
                .build_cartesian_2d(0.0..1.0, 0.0..1.0)
                .map_err(err)?;
            chart.configure_mesh().draw().map_err(err)?;
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (1.0, 0.7)],
                    RED.stroke_width(2),
                ))
                .map_err(err)?;
            Ok(())
        })
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
        let png = rasterise(&svg).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((w, h), FIGURE_SIZE);
    }
}
