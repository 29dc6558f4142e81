//! Plain-text formatting of matrices and vectors for terminal summaries.

use ndarray::{Array1, Array2, ArrayView1};

/// Formats a number compactly: `prec` digits in total for |x| ≥ 1 (fixed), `prec − 1`
/// decimals below 1, scientific notation outside [1e-3, 1e5).
pub fn num(x: f64, prec: usize) -> String {
    if x == 0.0 || (1e-3..1e5).contains(&x.abs()) {
        let digits = prec.saturating_sub(1 + x.abs().log10().floor().max(0.0) as usize);
        format!("{x:.digits$}")
    } else {
        format!("{x:.p$e}", p = prec.saturating_sub(1))
    }
}

/// `[a, b, c]` with `prec` significant digits.
pub fn vector(v: ArrayView1<'_, f64>, prec: usize) -> String {
    let items: Vec<String> = v.iter().map(|&x| num(x, prec)).collect();
    format!("[{}]", items.join(", "))
}

/// `[a, b, c]` for an owned vector.
pub fn vec1(v: &Array1<f64>, prec: usize) -> String {
    vector(v.view(), prec)
}

/// A matrix with row and column labels, indented by `indent` spaces.
pub fn matrix(m: &Array2<f64>, labels: &[String], indent: usize, prec: usize) -> String {
    let cells: Vec<Vec<String>> = m
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&x| num(x, prec)).collect())
        .collect();
    let label_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let col_w = cells
        .iter()
        .flatten()
        .map(|c| c.chars().count())
        .chain(labels.iter().map(|l| l.chars().count()))
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(indent);
    let mut out = format!("{pad}{:label_w$}", "");
    for l in labels {
        out.push_str(&format!("  {l:>col_w$}"));
    }
    out.push('\n');
    for (l, row) in labels.iter().zip(&cells) {
        out.push_str(&format!("{pad}{l:<label_w$}"));
        for c in row {
            out.push_str(&format!("  {c:>col_w$}"));
        }
        out.push('\n');
    }
    out
}

/// "2×2 diagonal 1·I" style short description of a weight matrix, or the full matrix.
pub fn weight(m: &Array2<f64>, labels: &[String], prec: usize) -> String {
    let n = m.nrows();
    let c = m[[0, 0]];
    if (0..n).all(|i| (0..n).all(|j| m[[i, j]] == if i == j { c } else { 0.0 })) {
        format!("{}·I\n", num(c, prec))
    } else {
        format!("\n{}", matrix(m, labels, 4, prec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn numbers_and_matrices_format_readably() {
        assert_eq!(num(-0.75, 4), "-0.750");
        assert_eq!(num(1.0, 4), "1.000");
        assert_eq!(num(123.456, 4), "123.5");
        assert_eq!(num(1.5e-7, 3), "1.50e-7");
        let m = matrix(
            &array![[1.0, 0.0], [0.0, 2.0]],
            &["{1}".into(), "{1,2}".into()],
            2,
            3,
        );
        assert!(m.contains("{1,2}"), "{m}");
        assert_eq!(weight(&(Array2::eye(2) * 2.0), &[], 3), "2.00·I\n");
    }
}
