//! Axis ranges: padded data ranges whose ticks stay distinct, equal scales on both axes
//! of a map, and the frame of a density around where its mass is.

use ndarray::Array2;

/// The range of the finite `values`, padded by 5 % on each side. A (nearly) constant
/// series gets a span of at least 10 % of its magnitude (at least 0.1), so the tick labels
/// stay distinct ("0.95 1.00 1.05", never "1.0 1.0 1.0"). No finite value: (0, 1).
pub fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let centre = 0.5 * (lo + hi);
    let min_span = (0.1 * centre.abs()).max(0.1);
    if hi - lo < 1e-6 * min_span.max(centre.abs()) {
        return (centre - 0.5 * min_span, centre + 0.5 * min_span);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad, hi + pad)
}

/// Tick labels for an axis spanning `lo..hi`: as many decimals as ten ticks need to stay
/// distinct, no "-0".
pub fn ticks(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let step = ((hi - lo).abs() / 10.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 12.0) as usize;
    move |v: &f64| {
        let s = format!("{v:.decimals$}");
        if s.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            s.trim_start_matches('-').to_string()
        } else {
            s
        }
    }
}

/// (rows, columns) for `n` panels on an area of `pixels` = (width, height) whose maps are
/// closest to square (maps with equal axis scales then fill them best); `beside` pixels
/// of each panel's width are not the map's (its colour bar).
pub fn square_layout(n: usize, pixels: (u32, u32), beside: u32) -> (usize, usize) {
    let n = n.max(1);
    let (w, h) = (pixels.0.max(1) as f64, pixels.1.max(1) as f64);
    (1..=n)
        .map(|rows| (rows, n.div_ceil(rows)))
        .min_by(|a, b| {
            let badness = |(r, c): (usize, usize)| {
                let aspect = (w / c as f64 - beside as f64).max(1.0) / (h / r as f64);
                // Unused panels count a little against a layout.
                aspect.ln().abs() + 0.1 * (r * c - n) as f64
            };
            badness(*a).total_cmp(&badness(*b))
        })
        .unwrap_or((1, n))
}

/// Widens one of the ranges `x`, `y` about its centre so that one unit is as long on both
/// axes of a plotting area of `pixels` = (width, height).
pub fn equal_scale(x: (f64, f64), y: (f64, f64), pixels: (u32, u32)) -> ((f64, f64), (f64, f64)) {
    let (w, h) = (pixels.0.max(1) as f64, pixels.1.max(1) as f64);
    let (sx, sy) = ((x.1 - x.0) / w, (y.1 - y.0) / h);
    let widen = |r: (f64, f64), span: f64| {
        let c = 0.5 * (r.0 + r.1);
        (c - 0.5 * span, c + 0.5 * span)
    };
    if sx >= sy {
        (x, widen(y, sx * h))
    } else {
        (widen(x, sy * w), y)
    }
}

/// The box of the node coordinates `x` × `y` where some `field` is at least `fraction` of
/// the largest value over all fields, padded by a quarter of its size on each side and
/// clipped to the grid. The whole grid when every field is zero.
pub fn frame_on_mass(
    x: &[f64],
    y: &[f64],
    fields: &[&Array2<f64>],
    fraction: f64,
) -> ((f64, f64), (f64, f64)) {
    let whole = ((x[0], x[x.len() - 1]), (y[0], y[y.len() - 1]));
    let top = fields
        .iter()
        .flat_map(|f| f.iter())
        .filter(|v| v.is_finite())
        .fold(0.0f64, |m, v| m.max(*v));
    if top <= 0.0 {
        return whole;
    }
    let (mut a0, mut a1, mut b0, mut b1) = (usize::MAX, 0, usize::MAX, 0);
    for f in fields {
        for ((a, b), v) in f.indexed_iter() {
            if *v >= fraction * top {
                a0 = a0.min(a);
                a1 = a1.max(a);
                b0 = b0.min(b);
                b1 = b1.max(b);
            }
        }
    }
    if a0 == usize::MAX || a1 >= x.len() || b1 >= y.len() {
        return whole;
    }
    let pad = |lo: f64, hi: f64, step: f64| {
        let p = (0.25 * (hi - lo)).max(2.0 * step.abs());
        (lo - p, hi + p)
    };
    let hx = (x[1] - x[0]).abs();
    let hy = (y[1] - y[0]).abs();
    let fx = pad(x[a0], x[a1], hx);
    let fy = pad(y[b0], y[b1], hy);
    (
        (
            fx.0.max(whole.0 .0 - 0.5 * hx),
            fx.1.min(whole.0 .1 + 0.5 * hx),
        ),
        (
            fy.0.max(whole.1 .0 - 0.5 * hy),
            fy.1.min(whole.1 .1 + 0.5 * hy),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_series_gets_a_readable_span() {
        let (lo, hi) = range([1.0, 1.0].into_iter());
        assert!(
            (lo - 0.95).abs() < 1e-12 && (hi - 1.05).abs() < 1e-12,
            "{lo} {hi}"
        );
        let (lo, hi) = range([0.0].into_iter());
        assert!((lo + 0.05).abs() < 1e-12 && (hi - 0.05).abs() < 1e-12);
        assert_eq!(range(std::iter::empty()), (0.0, 1.0));
        let (lo, hi) = range([0.0, 10.0, f64::NAN].into_iter());
        assert_eq!((lo, hi), (-0.5, 10.5));
    }

    #[test]
    fn tick_labels_are_distinct_and_never_negative_zero() {
        let f = ticks(0.95, 1.05);
        assert_eq!(f(&0.96), "0.96");
        assert_eq!(f(&1.0), "1.00");
        let g = ticks(-1.0, 1.0);
        assert_eq!(g(&-0.0000001), "0.0");
        assert_eq!(g(&-0.4), "-0.4");
        assert_eq!(ticks(0.0, 400.0)(&200.0), "200");
    }

    #[test]
    fn three_maps_on_a_landscape_figure_go_two_by_two() {
        assert_eq!(square_layout(3, (1200, 800), 0), (2, 2));
        assert_eq!(square_layout(3, (1200, 770), 120), (2, 2));
        assert_eq!(square_layout(1, (1200, 800), 0), (1, 1));
        assert_eq!(square_layout(2, (1200, 800), 0), (1, 2));
        assert_eq!(square_layout(6, (1200, 800), 0), (2, 3));
    }

    #[test]
    fn equal_scale_gives_one_unit_the_same_length_on_both_axes() {
        let (x, y) = equal_scale((0.0, 1.0), (0.0, 1.0), (400, 200));
        assert_eq!(y, (0.0, 1.0));
        assert!(((x.1 - x.0) / 400.0 - (y.1 - y.0) / 200.0).abs() < 1e-12);
        assert!((x.0 + 0.5).abs() < 1e-12 && (x.1 - 1.5).abs() < 1e-12);
    }

    #[test]
    fn the_frame_surrounds_the_mass() {
        let x: Vec<f64> = (0..101).map(|i| i as f64 * 0.1 - 5.0).collect();
        let y = x.clone();
        let f = Array2::from_shape_fn((101, 101), |(a, b)| {
            let (u, v) = (x[a] - 1.0, y[b] + 2.0);
            (-(u * u + v * v) / (2.0 * 0.1)).exp()
        });
        let ((x0, x1), (y0, y1)) = frame_on_mass(&x, &y, &[&f], 1e-3);
        assert!(x0 < 1.0 - 1.1 && x1 > 1.0 + 1.1, "{x0} {x1}");
        assert!(x1 - x0 < 4.0, "{x0} {x1}");
        assert!(y0 < -3.1 && y1 > -0.9 && y1 - y0 < 4.0, "{y0} {y1}");
        let zero = Array2::zeros((101, 101));
        assert_eq!(
            frame_on_mass(&x, &y, &[&zero], 1e-3),
            ((-5.0, 5.0), (-5.0, 5.0))
        );
    }
}
