//! `tufield simulate --epsilon-nash N1,N2,…`: the ε-Nash study (docs/design.md §6). For
//! each copy count N and each population k, copy 0 of k best-responds (exact discrete-time
//! dynamic programming on its own state and the others' empirical means,
//! [`tufield_solvers::particles::epsilon_nash`]) while the other copies keep the policy's
//! affine feedback; ε_k(N) is its expected gain. A Monte Carlo estimate from sampled paths
//! (common random numbers for both feedbacks) gives a confidence interval; the rate is the
//! log-log slope of ε(N) − ε(∞) (ε(∞) = O(dt²) is the time-step floor for the exact LQ
//! feedback; for a heuristic it is what deviating gains even in the limit).
//!
//! File: `/epsilon_nash` with `copies` (m) u64, `epsilon`, `mean_field_cost`,
//! `best_response_cost`, `monte_carlo_epsilon`, `monte_carlo_standard_error` (m, p),
//! `epsilon_limit` (p), `rate` (p, NaN where ε(N) − ε(∞) is not positive at every N);
//! attrs `replicates`, `note`.

use super::{num, solver_err, Prepared};
use crate::h5::AtomicH5;
use crate::output::schema;
use crate::plotting::{figure, legend, range, Format, PALETTE};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use tufield_solvers::particles::{epsilon_nash, epsilon_nash_monte_carlo, loglog_slope};

/// Work budget of the Monte Carlo check: replicates × steps × (augmented dimension)².
const MONTE_CARLO_WORK: f64 = 4e8;

/// Result of the study, per copy count (rows) and population (columns).
#[derive(Debug, Clone)]
pub struct EpsilonStudy {
    /// Copy counts N.
    pub copies: Vec<usize>,
    /// Exact ε_k(N).
    pub epsilon: Array2<f64>,
    /// Expected cost of the deviator under the policy.
    pub mean_field_cost: Array2<f64>,
    /// Expected cost under the best response.
    pub best_response_cost: Array2<f64>,
    /// Monte Carlo estimate of ε_k(N).
    pub monte_carlo: Array2<f64>,
    /// Its standard error.
    pub standard_error: Array2<f64>,
    /// ε_k(∞).
    pub limit: Array1<f64>,
    /// Log-log slope of ε_k(N) − ε_k(∞) (NaN when not positive at every N).
    pub rate: Array1<f64>,
    /// Monte Carlo replicates per (N, k).
    pub replicates: usize,
}

/// Parses the counts: at least two distinct numbers, each ≥ 2.
pub fn parse(source: &str, s: &str) -> AppResult<Vec<usize>> {
    let bad = |m: String| AppError::invalid(source, "--epsilon-nash", m);
    let mut v = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("{t:?} is not a number of copies")))
        })
        .collect::<AppResult<Vec<usize>>>()?;
    if v.iter()
        .any(|&n| !(2..=tufield_solvers::particles::MAX_COPIES).contains(&n))
    {
        return Err(bad(format!(
            "copy counts must be in 2..={} (one copy deviates, at least one other plays the policy)",
            tufield_solvers::particles::MAX_COPIES
        )));
    }
    v.sort_unstable();
    v.dedup();
    if v.len() < 2 {
        return Err(bad(
            "give at least two different copy counts, e.g. 10,100,1000".into(),
        ));
    }
    Ok(v)
}

/// Runs the study for `prep`'s affine feedback (refused, naming `--epsilon-nash`, for
/// policies without one).
pub fn study(
    sc: &Scenario,
    prep: &Prepared,
    counts: &[usize],
    seed: u64,
) -> AppResult<EpsilonStudy> {
    let feedback = prep.feedback.as_ref().ok_or_else(|| {
        AppError::invalid(
            &sc.source_name,
            "--epsilon-nash",
            "the ε-Nash study needs an affine feedback of the game's state: --policy lq or \
             second-order",
        )
    })?;
    let system = &prep.system;
    let p = system.populations.len();
    let m = counts.len();
    let dim = system.dim() * (1 + p);
    let replicates = (MONTE_CARLO_WORK / (system.steps as f64 * (dim * dim) as f64))
        .clamp(100.0, 4000.0) as usize;
    let err = |e| solver_err(sc, e);
    let mut out = EpsilonStudy {
        copies: counts.to_vec(),
        epsilon: Array2::zeros((m, p)),
        mean_field_cost: Array2::zeros((m, p)),
        best_response_cost: Array2::zeros((m, p)),
        monte_carlo: Array2::zeros((m, p)),
        standard_error: Array2::zeros((m, p)),
        limit: Array1::zeros(p),
        rate: Array1::from_elem(p, f64::NAN),
        replicates,
    };
    let x: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
    for k in 0..p {
        out.limit[k] = epsilon_nash(system, feedback, k, None)
            .map_err(err)?
            .epsilon;
        for (i, &n) in counts.iter().enumerate() {
            let e = epsilon_nash(system, feedback, k, Some(n)).map_err(err)?;
            out.epsilon[[i, k]] = e.epsilon;
            out.mean_field_cost[[i, k]] = e.mean_field_cost;
            out.best_response_cost[[i, k]] = e.best_response_cost;
            let mc = epsilon_nash_monte_carlo(
                system,
                feedback,
                k,
                Some(n),
                replicates,
                seed.wrapping_add(i as u64),
            )
            .map_err(err)?;
            out.monte_carlo[[i, k]] = mc.mean;
            out.standard_error[[i, k]] = mc.standard_error;
        }
        let above: Vec<f64> = (0..m).map(|i| out.epsilon[[i, k]] - out.limit[k]).collect();
        if let Ok(r) = loglog_slope(&x, &above) {
            out.rate[k] = r;
        }
    }
    Ok(out)
}

/// Writes `/epsilon_nash`.
pub fn write(w: &mut AtomicH5, st: &EpsilonStudy) -> AppResult<()> {
    let g = w.group(schema::EPSILON_NASH)?;
    w.str_attr(
        &g,
        "note",
        "gain of one copy that best-responds (exact discrete-time dynamic programming on its \
         own state and the others' empirical means) while the others keep the policy; \
         monte_carlo_* from sampled paths with common random numbers",
    )?;
    w.scalar_attr(&g, "replicates", st.replicates as u64)?;
    let c: Array1<u64> = st.copies.iter().map(|&n| n as u64).collect();
    let ds = w.array(&g, "copies", &c)?;
    w.dims(&ds, &["epsilon_run"])?;
    for (name, data) in [
        ("epsilon", &st.epsilon),
        ("mean_field_cost", &st.mean_field_cost),
        ("best_response_cost", &st.best_response_cost),
        ("monte_carlo_epsilon", &st.monte_carlo),
        ("monte_carlo_standard_error", &st.standard_error),
    ] {
        let ds = w.array(&g, name, data)?;
        w.dims(&ds, &["epsilon_run", "population"])?;
    }
    for (name, data) in [("epsilon_limit", &st.limit), ("rate", &st.rate)] {
        let ds = w.array(&g, name, data)?;
        w.dims(&ds, &["population"])?;
    }
    Ok(())
}

/// Summary lines.
pub fn summary(st: &EpsilonStudy, names: &[String]) -> String {
    let mut s = format!(
        "  ε-Nash (one copy best-responds; exact, Monte Carlo ± 2 s.e. over {} paths): N {:?}\n",
        st.replicates, st.copies
    );
    for (k, name) in names.iter().enumerate() {
        let row: Vec<String> = (0..st.copies.len())
            .map(|i| {
                format!(
                    "{:.3e} ({:.2e} ± {:.1e})",
                    st.epsilon[[i, k]],
                    st.monte_carlo[[i, k]],
                    2.0 * st.standard_error[[i, k]]
                )
            })
            .collect();
        let rate = if st.rate[k].is_finite() {
            format!("ε − ε(∞) slope {}", num(st.rate[k], 3))
        } else {
            "ε − ε(∞) not positive at every N: no rate".into()
        };
        s.push_str(&format!(
            "    {:<10} ε {}; ε(∞) {:.2e}; {rate}\n",
            name,
            row.join(" "),
            st.limit[k]
        ));
    }
    s
}

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
