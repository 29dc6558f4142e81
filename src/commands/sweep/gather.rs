//! `tufield sweep gather DIR`: every point's status and results in one netCDF-4/CF file
//! `DIR/summary.nc` (written with HDF5 dimension scales, so netCDF readers see the sweep
//! axes as dimensions), the same table as `DIR/summary.csv`, and PNG figures.
//!
//! The layout of `summary.nc` and the reading of the points' result files are the output
//! layer's: [`crate::output::sweep`].

use super::figures;
use super::manifest::{read_status, result_path, Manifest, State};
use crate::output::schema;
use crate::output::sweep::{self as summary, PointValues, SolveResult, SummaryAxis, SummaryPoint};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};

/// Quantities that can be drawn against the axes (`--plot`): variables of `summary.nc`.
pub const QUANTITIES: [&str; 7] = [
    schema::SUMMARY_EXPECTED_COST,
    schema::SUMMARY_FINAL_MEAN,
    schema::SUMMARY_LQ_MEAN_DISTANCE,
    schema::SUMMARY_ITERATIONS,
    schema::SUMMARY_RESIDUAL,
    schema::SUMMARY_MASS_ERROR,
    schema::SUMMARY_WALL_TIME,
];

/// What was gathered of one point.
#[derive(Debug, Clone)]
pub struct PointResult {
    /// Status.
    pub state: State,
    /// Error message (empty when done).
    pub message: String,
    /// What its status and result files say of its solve.
    pub values: PointValues,
}

/// All points of a sweep.
#[derive(Debug)]
pub struct Summary {
    /// The sweep definition.
    pub manifest: Manifest,
    /// One entry per point.
    pub points: Vec<PointResult>,
    /// Population names (from the first result file).
    pub populations: Vec<String>,
    /// Axis labels (from the first result file).
    pub axis_labels: Vec<String>,
    /// Infimum of admissible γ of condition (17) (Γ = γ²I), when known.
    pub min_gamma: Option<f64>,
}

/// Reads one point (status file and result file).
fn read_point(dir: &Path, i: usize) -> PointResult {
    let st = read_status(dir, i);
    let readable = !matches!(st.status, State::Pending | State::Invalid);
    let result = readable
        .then(|| summary::read_result(&result_path(dir, i)))
        .flatten()
        .unwrap_or_else(SolveResult::unread);
    PointResult {
        state: st.status,
        message: st.message,
        values: PointValues {
            exit_code: st.exit_code.unwrap_or(-1),
            wall_s: st.wall_s,
            result,
        },
    }
}

/// Reads every point of the sweep in `dir`.
pub fn collect(dir: &Path) -> AppResult<Summary> {
    let manifest = Manifest::load(dir)?;
    let mut points = Vec::with_capacity(manifest.len());
    let (mut populations, mut axis_labels) = (Vec::new(), Vec::new());
    for i in 0..manifest.len() {
        let r = read_point(dir, i);
        let f = &r.values.result;
        if f.populations.len() > populations.len() {
            populations = f.populations.clone();
        }
        if f.axis_labels.len() > axis_labels.len() {
            axis_labels = f.axis_labels.clone();
        }
        points.push(r);
    }
    let min_gamma = (0..manifest.len())
        .filter(|&i| manifest.point[i].invalid.is_none())
        .find_map(|i| {
            let o = manifest
                .all_overrides(i)
                .iter()
                .map(|s| crate::overrides::Override::parse(s))
                .collect::<AppResult<Vec<_>>>()
                .ok()?;
            Scenario::load(&manifest.scenario, &o).ok()?.min_gamma
        });
    Ok(Summary {
        manifest,
        points,
        populations,
        axis_labels,
        min_gamma,
    })
}

/// Runs `tufield sweep gather DIR`: summary.nc, summary.csv and the figures of `plot`.
pub fn gather(dir: &Path, plot: &[String], quiet: bool) -> AppResult<Vec<PathBuf>> {
    for q in plot {
        if !QUANTITIES.contains(&q.as_str()) {
            return Err(AppError::invalid(
                "--plot",
                q,
                format!("unknown quantity; allowed: {}", QUANTITIES.join(", ")),
            ));
        }
    }
    let sum = collect(dir)?;
    let mut written = vec![write_netcdf(dir, &sum)?, write_csv(dir, &sum)?];
    for q in plot {
        if let Some(p) = figures::quantity(dir, &sum, q)? {
            written.push(p);
        }
    }
    if !quiet {
        let count = |s: State| sum.points.iter().filter(|p| p.state == s).count();
        println!(
            "{}: {} point(s): {} done, {} failed, {} invalid, {} interrupted, {} pending",
            dir.display(),
            sum.points.len(),
            count(State::Done),
            count(State::Failed),
            count(State::Invalid),
            count(State::Interrupted),
            count(State::Pending)
        );
        for p in &written {
            println!("  wrote {}", p.display());
        }
    }
    Ok(written)
}

/// Writes `DIR/summary.nc` ([`crate::output::sweep`]).
pub fn write_netcdf(dir: &Path, sum: &Summary) -> AppResult<PathBuf> {
    let m = &sum.manifest;
    let base_text = std::fs::read_to_string(&m.scenario).unwrap_or_default();
    summary::write_summary(&summary::Summary {
        dir,
        scenario: &m.scenario,
        scenario_text: &base_text,
        set: &m.set,
        zip: m.zip,
        axes: m
            .axis
            .iter()
            .map(|a| SummaryAxis {
                key: a.key.clone(),
                name: a.name.clone(),
                values: a.values.iter().map(super::axes::value_text).collect(),
                numbers: a.axis().numbers(),
            })
            .collect(),
        points: sum
            .points
            .iter()
            .zip(&m.point)
            .map(|(r, p)| SummaryPoint {
                coords: p.coords.clone(),
                status: r.state.code(),
                values: r.values.clone(),
            })
            .collect(),
        states: State::ALL.iter().map(|s| (s.code(), s.as_str())).collect(),
        populations: &sum.populations,
        axis_labels: &sum.axis_labels,
        min_gamma: sum.min_gamma,
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

/// Writes `DIR/summary.csv`: one row per point; numbers in shortest round-trip form, so
/// equal text means equal bits; empty = no value.
pub fn write_csv(dir: &Path, sum: &Summary) -> AppResult<PathBuf> {
    let m = &sum.manifest;
    let mut header: Vec<String> = vec!["index".into()];
    header.extend(m.axis.iter().map(|a| csv_field(&a.key)));
    for h in [
        "status",
        "exit_code",
        "iterations",
        "residual",
        "wall_time_s",
        "mass_error",
        "lq_mean_distance",
    ] {
        header.push(h.into());
    }
    for name in &sum.populations {
        for label in &sum.axis_labels {
            header.push(csv_field(&format!("final_mean[{name}][{label}]")));
        }
    }
    for name in &sum.populations {
        header.push(csv_field(&format!("expected_cost[{name}]")));
    }
    header.push("message".into());
    let mut text = header.join(",") + "\n";
    for (i, r) in sum.points.iter().enumerate() {
        let mut row: Vec<String> = vec![i.to_string()];
        for (j, a) in m.axis.iter().enumerate() {
            row.push(csv_field(&super::axes::value_text(
                &a.values[m.point[i].coords[j]],
            )));
        }
        row.push(r.state.as_str().into());
        row.push(if r.values.exit_code < 0 {
            String::new()
        } else {
            r.values.exit_code.to_string()
        });
        row.push(if r.values.result.iterations < 0 {
            String::new()
        } else {
            r.values.result.iterations.to_string()
        });
        for v in [
            r.values.result.residual,
            r.values.wall_s,
            r.values.result.mass_error,
            r.values.result.lq_mean_distance,
        ] {
            row.push(num(v));
        }
        for k in 0..sum.populations.len() {
            for ax in 0..sum.axis_labels.len() {
                row.push(num(r
                    .values
                    .result
                    .means
                    .get(k)
                    .and_then(|m| m.get(ax))
                    .copied()
                    .unwrap_or(f64::NAN)));
            }
        }
        for k in 0..sum.populations.len() {
            row.push(num(r
                .values
                .result
                .costs
                .get(k)
                .copied()
                .unwrap_or(f64::NAN)));
        }
        row.push(csv_field(&r.message));
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let dest = dir.join("summary.csv");
    super::manifest::write_atomic(&dest, &text)?;
    Ok(dest)
}
