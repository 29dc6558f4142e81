//! `[[population]]` tables of every `kind` (Gaussian, mixture, uniform, file): the
//! model's population and the spec that discretises its initial law.

use super::checks::{matrix, require_spd};
use super::raw::RawPopulation;
use crate::error::{AppError, AppResult};
use crate::initial::{self, FileData, InitialSpec};
use crate::settings::{Domain, SolverSettings};
use ndarray::{Array1, Array2};
use std::path::Path;
use toml::Value;
use tufield_solvers::model::{GaussianMixture, Population, UniformBox};

pub(super) fn population(src: &str, k: usize, p: RawPopulation, d: usize) -> AppResult<Population> {
    let key = |f: &str| format!("population[{}].{f}", k + 1);
    let Some(mean) = p.mean else {
        return Err(AppError::invalid(
            src,
            key("mean"),
            "missing; a Gaussian population needs mean and std (or cov)",
        ));
    };
    let p = RawPopulationGaussian {
        name: p.name,
        mean,
        std: p.std,
        cov: p.cov,
    };
    if p.mean.len() != d {
        return Err(AppError::invalid(
            src,
            key("mean"),
            format!(
                "expected {d} numbers (one per grid axis), got {}",
                p.mean.len()
            ),
        ));
    }
    if p.mean.iter().any(|x| !x.is_finite()) {
        return Err(AppError::invalid(
            src,
            key("mean"),
            "entries must be finite numbers",
        ));
    }
    let cov = match (p.std, p.cov) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                src,
                key("cov"),
                "give either std (per axis) or cov (a matrix), not both",
            ))
        }
        (None, None) => {
            return Err(AppError::invalid(
                src,
                key("std"),
                "missing; give std (one standard deviation per axis) or cov (a d×d covariance)",
            ))
        }
        (Some(std), None) => {
            if std.len() != d {
                return Err(AppError::invalid(
                    src,
                    key("std"),
                    format!(
                        "expected {d} numbers (one per grid axis), got {}",
                        std.len()
                    ),
                ));
            }
            if std.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
                return Err(AppError::invalid(
                    src,
                    key("std"),
                    "standard deviations must be finite and > 0",
                ));
            }
            Array2::from_diag(&Array1::from_iter(std.iter().map(|x| x * x)))
        }
        (None, Some(v)) => {
            let c = matrix(src, &key("cov"), &v, d, false)?;
            require_spd(src, &key("cov"), &c)?;
            c
        }
    };
    Ok(Population {
        name: p.name.unwrap_or_else(|| format!("population {}", k + 1)),
        mean: Array1::from(p.mean),
        cov,
    })
}

/// The Gaussian keys of a `[[population]]` table.
pub(super) struct RawPopulationGaussian {
    name: Option<String>,
    mean: Vec<f64>,
    std: Option<Vec<f64>>,
    cov: Option<Value>,
}

/// A `[[population]]` of any `kind` (see [`crate::initial`]): the model's population (for
/// non-Gaussian kinds its mean and covariance are the law's, moment-matched) and the spec
/// that discretises it.
pub(super) fn population_any(
    src: &str,
    k: usize,
    p: RawPopulation,
    d: usize,
    settings: &SolverSettings,
    base: &Path,
) -> AppResult<(Population, InitialSpec)> {
    let key = |f: &str| format!("population[{}].{f}", k + 1);
    let kind = p.kind.clone().unwrap_or_else(|| "gaussian".to_string());
    let given: [(&str, bool, &str); 11] = [
        ("mean", p.mean.is_some(), "gaussian"),
        ("std", p.std.is_some(), "gaussian"),
        ("cov", p.cov.is_some(), "gaussian"),
        ("weights", p.weights.is_some(), "mixture"),
        ("means", p.means.is_some(), "mixture"),
        ("stds", p.stds.is_some(), "mixture"),
        ("covs", p.covs.is_some(), "mixture"),
        ("low", p.low.is_some(), "uniform"),
        ("high", p.high.is_some(), "uniform"),
        ("path", p.path.is_some(), "file"),
        ("dataset", p.dataset.is_some(), "file"),
    ];
    if !["gaussian", "mixture", "uniform", "file"].contains(&kind.as_str()) {
        return Err(AppError::invalid(
            src,
            key("kind"),
            format!("unknown kind `{kind}`; expected \"gaussian\", \"mixture\", \"uniform\" or \"file\""),
        ));
    }
    if let Some((f, _, owner)) = given.iter().find(|(_, g, owner)| *g && *owner != kind) {
        return Err(AppError::invalid(
            src,
            key(f),
            format!("only used with kind = \"{owner}\" (this population has kind = \"{kind}\")"),
        ));
    }
    let name = p
        .name
        .clone()
        .unwrap_or_else(|| format!("population {}", k + 1));
    let vector = |f: &str, v: &[f64]| -> AppResult<Array1<f64>> {
        if v.len() != d {
            return Err(AppError::invalid(
                src,
                key(f),
                format!("expected {d} numbers (one per grid axis), got {}", v.len()),
            ));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(AppError::invalid(
                src,
                key(f),
                "entries must be finite numbers",
            ));
        }
        Ok(Array1::from(v.to_vec()))
    };
    let missing = |f: &str, what: &str| AppError::invalid(src, key(f), format!("missing; {what}"));
    let spec = match kind.as_str() {
        "gaussian" => return Ok((population(src, k, p, d)?, InitialSpec::Gaussian)),
        "mixture" => {
            let weights = p.weights.ok_or_else(|| {
                missing(
                    "weights",
                    "kind = \"mixture\" needs weights, means and stds (or covs)",
                )
            })?;
            let means = p
                .means
                .ok_or_else(|| missing("means", "one mean vector per mixture component"))?;
            let c = weights.len();
            if c == 0 || weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
                return Err(AppError::invalid(
                    src,
                    key("weights"),
                    "need at least one weight; weights must be finite and ≥ 0",
                ));
            }
            let total: f64 = weights.iter().sum();
            if total <= 0.0 {
                return Err(AppError::invalid(src, key("weights"), "weights sum to 0"));
            }
            if means.len() != c {
                return Err(AppError::invalid(
                    src,
                    key("means"),
                    format!(
                        "expected {c} mean vectors (one per weight), got {}",
                        means.len()
                    ),
                ));
            }
            let means = means
                .iter()
                .map(|m| vector("means", m))
                .collect::<AppResult<Vec<_>>>()?;
            let covs: Vec<Array2<f64>> = match (p.stds, p.covs) {
                (Some(_), Some(_)) => {
                    return Err(AppError::invalid(
                        src,
                        key("covs"),
                        "give either stds or covs, not both",
                    ))
                }
                (None, None) => {
                    return Err(missing(
                        "stds",
                        "one standard-deviation vector per component (or covs, one matrix each)",
                    ))
                }
                (Some(stds), None) => {
                    if stds.len() != c {
                        return Err(AppError::invalid(
                            src,
                            key("stds"),
                            format!("expected {c} vectors (one per weight), got {}", stds.len()),
                        ));
                    }
                    let mut out = Vec::with_capacity(c);
                    for s in &stds {
                        let s = vector("stds", s)?;
                        if s.iter().any(|x| *x <= 0.0) {
                            return Err(AppError::invalid(
                                src,
                                key("stds"),
                                "standard deviations must be > 0",
                            ));
                        }
                        out.push(Array2::from_diag(&s.mapv(|x| x * x)));
                    }
                    out
                }
                (None, Some(covs)) => {
                    if covs.len() != c {
                        return Err(AppError::invalid(
                            src,
                            key("covs"),
                            format!("expected {c} matrices (one per weight), got {}", covs.len()),
                        ));
                    }
                    let mut out = Vec::with_capacity(c);
                    for v in &covs {
                        let m = matrix(src, &key("covs"), v, d, false)?;
                        require_spd(src, &key("covs"), &m)?;
                        out.push(m);
                    }
                    out
                }
            };
            InitialSpec::Mixture(GaussianMixture {
                weights: weights.iter().map(|w| w / total).collect(),
                means,
                covs,
            })
        }
        "uniform" => {
            let low = vector(
                "low",
                &p.low.ok_or_else(|| {
                    missing("low", "kind = \"uniform\" needs low and high (per axis)")
                })?,
            )?;
            let high = vector(
                "high",
                &p.high.ok_or_else(|| {
                    missing("high", "kind = \"uniform\" needs low and high (per axis)")
                })?,
            )?;
            if let Some(i) = (0..d).find(|&i| low[i] >= high[i]) {
                return Err(AppError::invalid(
                    src,
                    key("high"),
                    format!("high must exceed low on every axis (axis {})", i + 1),
                ));
            }
            InitialSpec::Uniform(UniformBox { low, high })
        }
        _ => {
            let rel = p.path.ok_or_else(|| {
                missing("path", "kind = \"file\" needs path (an HDF5 or .npy file)")
            })?;
            let path = base.join(&rel);
            let dataset = p.dataset.unwrap_or_else(|| "density".to_string());
            let raw = initial::read_file(src, &key("path"), &path, &dataset)?;
            let grid = match &settings.domain {
                Domain::Explicit(b) => {
                    let lo: Vec<f64> = b.iter().map(|p| p.0).collect();
                    let hi: Vec<f64> = b.iter().map(|p| p.1).collect();
                    Some(
                        tufield_solvers::grid::Grid::from_bounds(
                            &lo,
                            &hi,
                            &settings.points_per_axis(d),
                        )
                        .map_err(|e| AppError::from_solver(src, "solver.domain", e))?,
                    )
                }
                Domain::Auto => None,
            };
            let data = initial::classify(raw, grid.as_ref().map(|g| g.shape()), d);
            if let FileData::Samples(samples) = &data {
                if let Some((r, i)) = samples
                    .indexed_iter()
                    .find(|(_, v)| !v.is_finite())
                    .map(|(ix, _)| ix)
                {
                    return Err(AppError::invalid(
                        src,
                        key("path"),
                        format!(
                            "{}: sample row {} (1-based), column {}: {} is not a finite number",
                            path.display(),
                            r + 1,
                            i + 1,
                            samples[[r, i]]
                        ),
                    ));
                }
            }
            let spec = InitialSpec::File {
                path,
                dataset,
                data,
            };
            if let InitialSpec::File {
                data: FileData::Density(m),
                ..
            } = &spec
            {
                let Some(grid) = grid else {
                    return Err(AppError::invalid(
                        src,
                        key("path"),
                        format!(
                            "the file holds a grid density (shape {:?}, not N × {d} samples); its \
                             grid must be given: set solver.domain = [[lo, hi], …] and solver.points",
                            m.shape()
                        ),
                    ));
                };
                let pop0 = Population {
                    name: name.clone(),
                    mean: Array1::zeros(d),
                    cov: Array2::eye(d),
                };
                let init = initial::discretise(src, k, &spec, &pop0, &grid)?;
                let mom = grid
                    .moments(&init.density.iter().copied().collect::<Vec<f64>>())
                    .map_err(|e| AppError::from_solver(src, &key("path"), e))?;
                require_spd(src, &key("path"), &mom.cov)?;
                return Ok((
                    Population {
                        name,
                        mean: mom.mean,
                        cov: mom.cov,
                    },
                    spec,
                ));
            }
            spec
        }
    };
    let (mean, cov) = spec.moments().ok_or_else(|| {
        AppError::invalid(
            src,
            key("kind"),
            "the moments of this initial law could not be computed",
        )
    })?;
    require_spd(
        src,
        &key(if kind == "file" { "path" } else { "kind" }),
        &cov,
    )?;
    Ok((Population { name, mean, cov }, spec))
}
