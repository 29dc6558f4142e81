//! `tufield solve SCENARIO [--out FILE.h5] [--resume CHECKPOINT.h5]`: the mean-field
//! equilibrium by the HJI–FPK fixed point on the mean trajectories (docs/design.md §4), with
//! progress, a checkpoint after every iteration, and an HDF5 file of the result next to
//! the exact LQ oracle.
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index, `<i>` the
//! 0-based axis; the full description, with the netCDF dimensions, the quantities and the
//! XDMF sidecar, is docs/output-files.md):
//!
//! ```text
//! /                      attrs tufield_version, scenario (TOML after overrides), name,
//!                              command = "solve", axis_labels, status, iterations,
//!                              threads, residual, tol, mass_error, lq_mean_distance,
//!                              boundary_mass, steps, core_penalty (κ),
//!                              allocation_bound (ū), disturbance_bound (w̄) (∞ when
//!                              unbounded), lq_note (what lq_mean_distance means: an
//!                              error for LQ models, the distance to the LQ
//!                              approximation when κ > 0 or with bounds)
//! /time                  (steps+1)          dimension scale "time"
//! /snapshot_time         (snapshots)        dimension scale "snapshot_time"
//! /snapshot_level        (snapshots) u64    time level of each snapshot
//! /x<i>                  (n_i)              coordinate variable of grid axis i
//! /grid/x<i>             (n_i)              the same nodes; attrs label, lo, hi, spacing
//! /populations/<k>       attrs name, initial_kind (gaussian | mixture | uniform | file),
//!                              normalisation (factor applied to reach mass 1)
//!     mean, target       (steps+1, d)       m̄_k(t_n) and ρ_k(t_n) of the last evaluation
//!     cov                (steps+1, d, d)    covariance of m_k
//!     mass, boundary_mass (steps+1)
//!     density, value     (snapshots, n_0[, n_1[, n_2]]) chunked per snapshot;
//!                        scales snapshot_time and x<i>; rounded to [output]
//!                        significant_bits (attribute
//!                        _QuantizeBitRoundNumberOfSignificantBits)
//!     core_fraction (snapshots), expected_cost, expected_cost_lq, and the drift
//!     fields allocation_drift, disturbance_drift unless [output] feedback_fields =
//!     false (solve/quantities.rs)
//! /fixed_point           attrs outcome, tol, acceleration, damping
//!     residual, damping, wall_s (iterations) f64; accelerated (iterations) u8
//! /model, /lq/...        as written by `tufield lq` (same time levels,
//!                        crate::output::oracle)
//! ```
//!
//! The checkpoint (`<out stem>.checkpoint.h5`, see [`crate::checkpoint`]) is rewritten
//! after every iteration and removed once the run has converged and the output is written.
//!
//! # Modal scenarios (`reduction = "modal"`)
//!
//! The full q-dimensional game is solved as q independent 1-D equilibria, one mode after
//! the other ([`tufield_solvers::modal::solve_modal`], docs/design.md §2); `solver.points` is
//! the number of points of each mode's own 1-D grid. The file has the same root
//! attributes (axis_labels = the q coalitions, plus `reduction = "modal"` and `modes`;
//! `iterations` is the total over modes, `residual` the largest last residual), `/time`,
//! `/snapshot_time`, `/snapshot_level`, `/model` and `/lq` as above, and instead of
//! `/grid`, `/populations/<k>/{density, …}` and `/fixed_point`:
//!
//! ```text
//! /populations/<k>       attr name
//!     mean, target       (steps+1, q)       m̄_k = U ȳ_k and ρ_k in coalition coordinates
//! /modes                 attrs count; eigenvalues (q) λ_i, eigenvectors (q, q) U
//!                        (column i = mode i in coalition coordinates), q, s (q) the
//!                        mode cost weights (UᵀQU)_ii, (UᵀSU)_ii
//! /modes/<i>             attrs eigenvalue, q, s, outcome, iterations, residual,
//!                              mass_error
//!     grid               (n)                the mode's 1-D grid, dimension scale;
//!                                           attrs label, lo, hi, spacing
//!     populations/<k>    attr name
//!         mean, target, variance, mass, boundary_mass (steps+1)
//!         density, value (snapshots, n)     scales snapshot_time and grid
//!     fixed_point/residual, damping, wall_s (iterations) f64; accelerated u8
//! ```
//!
//! Modal runs write no checkpoint and refuse `--resume` (exit 2): each mode is a small
//! 1-D problem, so a stopped run is simply started again.

use crate::checkpoint::{self, checkpoint_path, Checkpoint};
use crate::cli::SolveArgs;
use crate::h5::AtomicH5;
use crate::oracle::LqResults;
use crate::outpath;
use crate::output::{estimate, layout, oracle as lq_output, quantities, schema, xdmf, WriteTimes};
use crate::progress::ProgressMode;
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::{Array1, CowArray};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::equilibrium::MeanFieldMap;
use tufield_solvers::fixed_point::{FixedPoint, Outcome};
use tufield_solvers::grid::Grid;

use crate::run::solve::{interrupted, modal_resume_refused};
pub use crate::run::{grid_for, resume_command, solve, Resume, SolveReport};

/// Boundary mass above which the summary warns that the walls are felt.
pub const BOUNDARY_MASS_WARNING: f64 = 1e-6;

/// Default output path: `output/<scenario file stem>.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    super::default_output_in(scenario, ".h5")
}

/// Runs the command: load, (resume), iterate with progress and checkpoints, write,
/// summarise. Exit status via the error: not converged → [`AppError::NotConverged`],
/// stopped by a signal → [`AppError::Interrupted`].
pub fn run(args: &SolveArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let overrides = args.scenario.overrides()?;
    let given = match &args.scenario.scenario {
        Some(path) => Some((Scenario::load(path, &overrides)?, path.clone())),
        None => None,
    };
    if let (Some((sc, _)), Some(_)) = (&given, &args.resume) {
        if sc.is_modal() {
            return Err(modal_resume_refused(sc));
        }
    }
    let ck = match &args.resume {
        Some(p) => Some((p, checkpoint::load(p)?)),
        None => None,
    };
    let (sc, scenario_path) = match (given, &ck) {
        (Some(given), _) => given,
        (None, Some((p, ck))) => scenario_of_checkpoint(p, ck, &overrides)?,
        (None, None) => {
            return Err(AppError::invalid(
                "tufield solve",
                "SCENARIO",
                "give a scenario file, or --resume CHECKPOINT.h5",
            ))
        }
    };
    crate::budget::check(&sc, &crate::budget::solve(&sc))?;
    let out = match (&args.out, ck.as_ref().and_then(|(_, c)| c.run.as_ref())) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => r.out.clone(),
        (None, None) => default_output(&scenario_path),
    };
    // Before any work: the output (and the checkpoint next to it) is no input, can be
    // written, and no other run writes it.
    let mut inputs = outpath::scenario_inputs(&sc, args.scenario.scenario.as_deref());
    outpath::refuse_inputs(&checkpoint_path(&out), "--out", &inputs)?;
    if let Some((p, _)) = &ck {
        inputs.push(outpath::Input::new("the checkpoint resumed from", p));
    }
    outpath::prepare_file(&out, "--out", &inputs)?;
    let _locks = (
        outpath::RunLock::acquire(&out, "--out")?,
        outpath::RunLock::acquire(&checkpoint_path(&out), "--out")?,
    );
    let resume = match ck {
        Some(_) if sc.is_modal() => return Err(modal_resume_refused(&sc)),
        Some((p, ck)) => Some(check_compatible(p, ck, &sc)?),
        None => None,
    };
    let report = solve(&sc, &out, resume, ProgressMode::detect(quiet), start)?;
    if !quiet {
        print!("{}", summary(&sc, &report));
        if let Some(a) = crate::paper::claims::assess(&sc, None)? {
            print!("{}", a.summary());
        }
    }
    match report.outcome {
        Outcome::Converged => Ok(()),
        Outcome::Interrupted => Err(interrupted(
            &sc,
            "; modal runs write no checkpoint: run the solve again".to_string(),
        )),
        o => Err(AppError::NotConverged {
            source_name: sc.source_name.clone(),
            outcome: o.as_str().to_string(),
            iterations: report.iterations,
            residual: report.residual,
            detail: match (&report.failure, &report.checkpoint) {
                (Some(f), _) => format!("; {f}"),
                (None, Some(c)) if !sc.is_modal() && o == Outcome::MaxIterations => format!(
                    "; continue with: {} --set solver.max_iter={}",
                    resume_command(c),
                    (2 * sc.settings.max_iter).min(1_000_000)
                ),
                (None, Some(c)) if !sc.is_modal() => {
                    format!("; the state is kept in {}", c.display())
                }
                _ => String::new(),
            },
        }),
    }
}

/// The scenario recorded in a checkpoint (text after the original overrides, with
/// `overrides` applied on top) and the scenario path it was started with.
fn scenario_of_checkpoint(
    path: &Path,
    ck: &Checkpoint,
    overrides: &[crate::overrides::Override],
) -> AppResult<(Scenario, PathBuf)> {
    let run = ck.run.as_ref().ok_or_else(|| {
        AppError::invalid(
            path.display().to_string(),
            "--resume",
            "this checkpoint does not record its scenario file; give the scenario too: \
             tufield solve SCENARIO --resume CHECKPOINT.h5",
        )
    })?;
    let scenario_path = PathBuf::from(&run.scenario_file);
    let mut sc = Scenario::from_text_in(
        &run.scenario_file,
        &super::scenario_stem(&scenario_path),
        &ck.scenario,
        overrides,
        &run.base_dir,
    )?;
    let mut all = run.overrides.clone();
    all.extend(sc.overrides.iter().cloned());
    sc.overrides = all;
    Ok((sc, scenario_path))
}

/// Checks that a checkpoint belongs to this scenario: same model, grid and time steps
/// (fixed-point settings such as `tol` or `max_iter` may change).
fn check_compatible(path: &Path, ck: Checkpoint, sc: &Scenario) -> AppResult<Resume> {
    let bad = |what: &str| AppError::Invalid {
        source_name: path.display().to_string(),
        key: "--resume".to_string(),
        message: format!(
            "the checkpoint was written for a different {what}; resume with the scenario \
             and --set overrides it was started with"
        ),
    };
    let base = ck
        .run
        .as_ref()
        .map_or(sc.base_dir.clone(), |r| r.base_dir.clone());
    let old = Scenario::from_text_in(
        &path.display().to_string(),
        &sc.name,
        &ck.scenario,
        &[],
        &base,
    )
    .map_err(|_| bad("scenario (its stored text no longer loads)"))?;
    if old.model != sc.model {
        return Err(bad("model"));
    }
    let (a, b) = (&old.settings, &sc.settings);
    if a.steps != b.steps
        || a.points_per_axis(old.dim()) != b.points_per_axis(sc.dim())
        || a.domain != b.domain
    {
        return Err(bad("grid or number of time steps"));
    }
    Ok(Resume {
        state: ck.state,
        evaluated: ck.evaluated,
    })
}

/// A solve file being written: everything but the error estimate is in it.
pub(crate) struct OpenOutput {
    w: AtomicH5,
    axes: layout::TimeAxes,
    coords: Vec<hdf5::Dataset>,
    grid: xdmf::UniformGrid,
    snapshot_times: Vec<f64>,
    times: WriteTimes,
}

/// Starts writing the results atomically (layout in the module docs): every dataset but
/// the error estimate's; [`finish_write`] adds those and commits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn begin_write(
    out: &Path,
    sc: &Scenario,
    grid: &Grid,
    map: &MeanFieldMap,
    fp: &FixedPoint,
    oracle: &LqResults,
    report: &SolveReport,
    normalisation: &[f64],
) -> AppResult<OpenOutput> {
    let mut times = WriteTimes::start();
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    w.set_significant_bits(sc.output.quantization());
    let root = w.root()?.clone();
    let hist = &fp.state().history;
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SOLVE)?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    crate::paper::claims::write_attributes(&w, &root, sc, None)?;
    w.str_attr(&root, "status", report.outcome.as_str())?;
    w.scalar_attr(&root, schema::ATTR_ITERATIONS, hist.len() as u64)?;
    w.scalar_attr(&root, "threads", rayon::current_num_threads() as u64)?;
    w.scalar_attr(&root, schema::ATTR_RESIDUAL, report.residual)?;
    w.scalar_attr(&root, schema::ATTR_TOL, sc.settings.tol)?;
    w.scalar_attr(&root, schema::ATTR_MASS_ERROR, report.mass_error)?;
    w.scalar_attr(
        &root,
        schema::ATTR_LQ_MEAN_DISTANCE,
        report.lq_mean_distance,
    )?;
    w.str_attr(&root, "lq_note", &lq_output::lq_note(sc))?;
    w.scalar_attr(&root, "core_penalty", sc.model.core_penalty)?;
    w.scalar_attr(
        &root,
        "allocation_bound",
        sc.bounds.allocation.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(
        &root,
        "disturbance_bound",
        sc.bounds.disturbance.unwrap_or(f64::INFINITY),
    )?;
    w.scalar_attr(&root, "boundary_mass", report.boundary_mass)?;
    w.scalar_attr(&root, "steps", sc.settings.steps as u64)?;
    w.str_attr(&root, "scheme", sc.settings.scheme.name())?;

    let axes_t = layout::time_axes(&w, &oracle.exact.time, map.snapshot_levels())?;
    let time = axes_t.time.clone();
    let coords = layout::grid(&w, grid, &sc.model.axis_labels)?;
    times.lap("file, attributes and axes");

    w.group(schema::POPULATIONS)?;
    for (k, (res, spec)) in map.results().iter().zip(&sc.model.populations).enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &spec.name)?;
        w.str_attr(&pg, "initial_kind", sc.initial[k].kind())?;
        w.scalar_attr(&pg, "normalisation", normalisation[k])?;
        if let Some(neg) = &res.negative_density {
            w.scalar_attr(&pg, "negative_density_min", neg.min_value)?;
            w.scalar_attr(&pg, "negative_density_level", neg.level as u64)?;
            let at: Vec<String> = neg.point.iter().map(|x| format!("{x:e}")).collect();
            w.str_list_attr(&pg, "negative_density_point", &at)?;
            w.scalar_attr(&pg, "negative_mass", neg.negative_mass)?;
        }
        for (name, data) in [(schema::MEAN, &res.fpk.mean), (schema::TARGET, &res.target)] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        let cov = w.array(&pg, schema::COV, &res.fpk.cov)?;
        layout::over_time(&w, &cov, &time)?;
        for (name, data) in [
            (schema::MASS, &res.fpk.mass),
            (schema::BOUNDARY_MASS, &res.fpk.boundary_mass),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
        times.lap("mean paths");
        let n = res.value.len();
        let mut writers = [
            w.quantized_snapshots(&pg, schema::DENSITY, n, grid.shape())?,
            w.quantized_snapshots(&pg, schema::VALUE, n, grid.shape())?,
        ];
        crate::h5::push_together(&mut writers, n, |s| {
            Ok(vec![
                CowArray::from(res.density[s].view()),
                CowArray::from(res.value[s].view()),
            ])
        })?;
        for sw in &writers {
            layout::over_snapshots(
                &w,
                sw.dataset(),
                &axes_t.snapshot,
                &coords,
                &sc.model.axis_labels,
            )?;
        }
        times.lap("density and value");
        quantities::write(
            &w,
            sc,
            grid,
            res,
            &axes_t,
            &coords,
            &oracle.exact,
            k,
            &mut times,
        )?;
    }

    let fpg = w.group(schema::FIXED_POINT)?;
    w.str_attr(&fpg, "outcome", report.outcome.as_str())?;
    w.scalar_attr(&fpg, "tol", sc.settings.tol)?;
    w.scalar_attr(&fpg, "damping", sc.settings.damping)?;
    w.str_attr(&fpg, "acceleration", &sc.settings.acceleration_name())?;
    let col = |f: fn(&tufield_solvers::fixed_point::IterationRecord) -> f64| -> Array1<f64> {
        hist.iter().map(f).collect()
    };
    for (name, data) in [
        (schema::ATTR_RESIDUAL, col(|r| r.residual)),
        ("damping", col(|r| r.damping)),
        ("wall_s", col(|r| r.wall_s)),
    ] {
        let ds = w.array(&fpg, name, &data)?;
        w.dims(&ds, &[schema::DIM_ITERATION])?;
    }
    let acc: Array1<u8> = hist.iter().map(|r| u8::from(r.accelerated)).collect();
    let ds = w.array(&fpg, "accelerated", &acc)?;
    w.dims(&ds, &[schema::DIM_ITERATION])?;
    times.lap("file, attributes and axes");

    lq_output::write_groups(&w, sc, oracle, &time)?;
    times.lap("lq oracle");
    let snapshot_times: Vec<f64> = map
        .snapshot_levels()
        .iter()
        .map(|&l| oracle.exact.time[l])
        .collect();
    let grid = xdmf::UniformGrid {
        origin: grid.axes().iter().map(|a| a.lo()).collect(),
        spacing: grid.axes().iter().map(|a| a.spacing()).collect(),
        shape: grid.shape().to_vec(),
    };
    Ok(OpenOutput {
        w,
        axes: axes_t,
        coords,
        grid,
        snapshot_times,
        times,
    })
}

/// Adds the error estimate of `report` to the open file, commits it and writes the XDMF
/// sidecar; returns the time of every phase of the write.
pub(crate) fn finish_write(
    open: OpenOutput,
    sc: &Scenario,
    report: &SolveReport,
) -> AppResult<WriteTimes> {
    let OpenOutput {
        w,
        axes,
        coords,
        grid,
        snapshot_times,
        mut times,
    } = open;
    times.lap("waiting for the error estimate");
    if let Some(Ok(est)) = &report.error_estimate {
        estimate::write(&w, est, &axes, &coords, &sc.model.axis_labels, &sc.output)?;
    }
    times.lap("error estimate");
    drop((axes, coords));
    let out = w.commit()?;
    times.lap("commit (netCDF dimensions, close, rename)");
    let collections: Vec<xdmf::Collection> = sc
        .model
        .populations
        .iter()
        .enumerate()
        .map(|(k, spec)| xdmf::Collection {
            name: format!("population {k} ({})", spec.name),
            grid: grid.clone(),
            fields: xdmf_fields(sc, k),
        })
        .collect();
    xdmf::write(&out, &snapshot_times, &collections)?;
    times.lap("XDMF sidecar");
    Ok(times)
}

/// The fields of population `k` in the XDMF sidecar: density, value and, when written,
/// every component of the drift fields.
fn xdmf_fields(sc: &Scenario, k: usize) -> Vec<xdmf::Field> {
    let path = |f: &str| format!("/{}", schema::population_dataset(k, f));
    let mut fields: Vec<xdmf::Field> = [schema::DENSITY, schema::VALUE]
        .iter()
        .map(|f| xdmf::Field::scalar(f, path(f)))
        .collect();
    if sc.output.feedback_fields {
        for f in [schema::ALLOCATION_DRIFT, schema::DISTURBANCE_DRIFT] {
            fields.extend(xdmf::Field::components(f, &path(f), sc.dim()));
        }
    }
    fields
}

/// The closing summary.
pub fn summary(sc: &Scenario, r: &SolveReport) -> String {
    let mut s = format!(
        "{}: {} after {} iteration(s), residual {:.3e} (tol {:.1e})\n",
        sc.name,
        r.outcome.as_str(),
        r.iterations,
        r.residual,
        sc.settings.tol
    );
    if let Some(f) = &r.failure {
        s.push_str(&format!("  failure           {f}\n"));
    }
    s.push_str(&format!("  mass error        {:.2e}\n", r.mass_error));
    s.push_str(&format!(
        "  boundary mass     {:.2e} (largest mass on the walls over populations and times)\n",
        r.boundary_mass
    ));
    if r.boundary_mass > BOUNDARY_MASS_WARNING {
        s.push_str(&format!(
            "  warning: more than {BOUNDARY_MASS_WARNING:.0e} of the mass reached the walls; the \
             reflecting boundary may dominate the error: widen solver.domain\n"
        ));
    }
    for (k, neg) in r.negative_density.iter().enumerate() {
        if let Some(n) = neg {
            let at: Vec<String> = n.point.iter().map(|x| format!("{x:.3}")).collect();
            s.push_str(&format!(
                "  warning: population {k}'s density went negative: {:.2e} at ({}) at time \
                 level {}, negative mass up to {:.2e} (level {}); refine solver.steps or use \
                 scheme = \"monotone\"\n",
                n.min_value,
                at.join(", "),
                n.level,
                n.negative_mass,
                n.negative_mass_level
            ));
        }
    }
    if r.lq_mean_distance.is_finite() {
        s.push_str(&format!(
            "  distance to LQ    {:.3e} (max |m̄_PDE − m̄_exact| over populations, times, axes)\n",
            r.lq_mean_distance
        ));
        if let Some(terms) = sc.non_lq_terms() {
            s.push_str(&format!(
                "  note: the model is not LQ ({terms}); the distance to LQ measures how far \
                 the LQ approximation is, not an error\n"
            ));
        }
    }
    if let Some(e) = &r.error_estimate {
        for line in estimate::summary_lines(sc, e) {
            s.push_str(&format!("{line}\n"));
        }
    }
    match &r.out {
        Some(o) => s.push_str(&format!("  wrote {}\n", o.display())),
        None => s.push_str("  no output written (no iteration completed)\n"),
    }
    if let Some(c) = &r.checkpoint {
        s.push_str(&format!("  checkpoint {}\n", c.display()));
    }
    s.push_str(&format!("  wall time {:.2} s\n", r.wall_s));
    s
}
