//! `tufield solve` for modal scenarios (`reduction = "modal"`): the full q-dimensional game
//! as q one-dimensional equilibria solved one after the other
//! ([`tufield_solvers::modal::solve_modal`], docs/design.md §2), with a progress bar per mode and
//! the HDF5 layout documented in the parent module. No checkpoint is written.

use super::SolveReport;
use crate::commands::format::num;
use crate::h5::AtomicH5;
use crate::oracle::LqResults;
use crate::output::{layout, schema, xdmf};
use crate::progress::{FixedPointProgress, ProgressMode};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use ndarray::Array1;
use std::path::Path;
use std::time::Instant;
use tufield_solvers::equilibrium::{snapshot_levels, SweepEvent};
use tufield_solvers::fixed_point::{Control, IterationRecord, Outcome};
use tufield_solvers::grid::DEFAULT_STD_MULTIPLE;
use tufield_solvers::modal::{solve_modal, ModalEvent, ModalSettings, ModalSolution};

/// Solves a modal scenario and writes `out` (when every mode has results).
pub(super) fn solve(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
) -> AppResult<SolveReport> {
    solve_keeping_modes(sc, out, pmode, start).map(|(report, _)| report)
}

/// As [`solve`], also returning the modes (for `tufield compare`).
pub(crate) fn solve_keeping_modes(
    sc: &Scenario,
    out: &Path,
    pmode: ProgressMode,
    start: Instant,
) -> AppResult<(SolveReport, ModalSolution)> {
    let err = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let st = &sc.settings;
    let points = st.points_per_axis(1)[0];
    let settings = ModalSettings {
        points,
        steps: st.steps,
        std_multiple: DEFAULT_STD_MULTIPLE,
        fixed_point: st.fixed_point(),
        snapshot_levels: snapshot_levels(st.steps, st.snapshot_every()),
    };
    let oracle = crate::oracle::compute(sc)?;
    let flag = crate::interrupt::watch(None);
    let never = std::sync::atomic::AtomicBool::new(false);
    let stop = flag.as_deref().unwrap_or(&never);
    let q = sc.dim();
    let p = sc.model.num_populations();
    if pmode != ProgressMode::Quiet {
        eprintln!(
            "{}: modal decomposition, {q} modes of the full {q}-D game, {p} population(s), \
             {points} points per mode, {} steps, {}, tol {:.1e}, {} thread(s)",
            sc.name,
            st.steps,
            st.acceleration_name(),
            st.tol,
            rayon::current_num_threads()
        );
        for line in super::super::accuracy::warnings(sc, &oracle.exact)? {
            eprintln!("  {line}");
        }
    }
    let mut progress: Option<FixedPointProgress> = None;
    let sol = {
        let mut on_event = |ev: ModalEvent<'_>| -> Control {
            match ev {
                ModalEvent::ModeStarted { mode, grid } => {
                    if pmode != ProgressMode::Quiet {
                        let ax = grid.axis(0);
                        eprintln!(
                            "mode {}/{q}: grid {} on [{}, {}]",
                            mode + 1,
                            ax.len(),
                            num(ax.lo(), 3),
                            num(ax.hi(), 3)
                        );
                    }
                    progress = Some(FixedPointProgress::new(
                        pmode,
                        st.max_iter,
                        2 * p,
                        0,
                        st.tol,
                    ));
                }
                ModalEvent::Sweep { event, .. } => {
                    if let Some(pr) = &progress {
                        pr.sweep(&match event {
                            SweepEvent::HjiDone(k) => format!("HJI population {}", k + 1),
                            SweepEvent::FpkDone(k) => format!("FPK population {}", k + 1),
                        });
                    }
                }
                ModalEvent::Iteration { state, record, .. } => {
                    if let Some(pr) = &progress {
                        pr.iteration(state.history.len() - 1, record);
                    }
                }
                ModalEvent::ModeFinished { .. } => {
                    if let Some(pr) = progress.take() {
                        pr.finish();
                    }
                }
            }
            Control::Continue
        };
        solve_modal(&sc.model, &settings, stop, &mut on_event)
    };
    if let Some(pr) = progress.take() {
        pr.finish();
    }
    let sol = sol.map_err(err)?;
    let failure = sol
        .modes
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.failure.as_ref().map(|e| format!("mode {}: {e}", i + 1)));
    let mut report = SolveReport {
        outcome: sol.outcome,
        out: None,
        checkpoint: None,
        iterations: sol.iterations(),
        residual: if sol.modes.is_empty() {
            f64::INFINITY
        } else {
            sol.residual()
        },
        mass_error: sol.mass_error(),
        lq_mean_distance: f64::NAN,
        boundary_mass: sol
            .modes
            .iter()
            .map(|m| m.boundary_mass)
            .fold(0.0, f64::max),
        wall_s: 0.0,
        write_s: 0.0,
        write_times: crate::output::WriteTimes::default(),
        failure: if sol.outcome == Outcome::NonFinite {
            failure
        } else {
            None
        },
        targets: Vec::new(),
        means: Vec::new(),
        error_estimate: None,
        negative_density: Vec::new(),
    };
    if let Some(means) = &sol.means {
        report.lq_mean_distance = means
            .iter()
            .zip(&oracle.exact.populations)
            .flat_map(|(m, e)| m.iter().zip(e.mean.iter()).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        let t_write = Instant::now();
        write(out, sc, &sol, &oracle, &report)?;
        report.write_s = t_write.elapsed().as_secs_f64();
        report.out = Some(out.to_path_buf());
    }
    report.wall_s = start.elapsed().as_secs_f64();
    Ok((report, sol))
}

/// Writes the modal results atomically (layout in the parent module docs).
fn write(
    out: &Path,
    sc: &Scenario,
    sol: &ModalSolution,
    oracle: &LqResults,
    report: &SolveReport,
) -> AppResult<()> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    w.set_significant_bits(sc.output.quantization());
    let root = w.root()?.clone();
    let dec = &sol.decomposition;
    w.str_attr(&root, "name", &sc.name)?;
    w.str_attr(&root, "command", "solve")?;
    w.str_attr(&root, "reduction", "modal")?;
    w.str_list_attr(&root, "axis_labels", &sc.model.axis_labels)?;
    crate::commands::paper::claims::write_attributes(&w, &root, sc, None)?;
    w.str_attr(&root, "status", report.outcome.as_str())?;
    w.scalar_attr(&root, "iterations", report.iterations as u64)?;
    w.scalar_attr(&root, "modes", dec.num_modes() as u64)?;
    w.scalar_attr(&root, "threads", rayon::current_num_threads() as u64)?;
    w.scalar_attr(&root, "residual", report.residual)?;
    w.scalar_attr(&root, "tol", sc.settings.tol)?;
    w.scalar_attr(&root, "mass_error", report.mass_error)?;
    w.scalar_attr(&root, "lq_mean_distance", report.lq_mean_distance)?;
    w.scalar_attr(&root, "boundary_mass", report.boundary_mass)?;
    w.scalar_attr(&root, "steps", sc.settings.steps as u64)?;

    let levels = snapshot_levels(sc.settings.steps, sc.settings.snapshot_every());
    let axes_t = layout::time_axes(&w, &oracle.exact.time, &levels)?;
    let time = axes_t.time.clone();
    let snap = axes_t.snapshot.clone();

    let (Some(means), Some(targets)) = (sol.means.as_ref(), sol.targets.as_ref()) else {
        return Err(AppError::Io {
            path: out.display().to_string(),
            message: "no mean paths to write: a mode has no results".to_string(),
        });
    };
    w.group(schema::POPULATIONS)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, "name", &spec.name)?;
        for (name, data) in [("mean", &means[k]), ("target", &targets[k])] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
        }
    }

    let mg = w.group("/modes")?;
    w.scalar_attr(&mg, "count", dec.num_modes() as u64)?;
    w.str_attr(
        &mg,
        "note",
        "exact modal decomposition: x = U y, mode i is a 1-D equilibrium with a = λ_i, \
         q = (UᵀQU)_ii, s = (UᵀSU)_ii (docs/design.md §2)",
    )?;
    for (name, data) in [
        ("eigenvalues", dec.eigenvalues()),
        ("q", dec.q_diagonal()),
        ("s", dec.s_diagonal()),
    ] {
        let ds = w.array(&mg, name, data)?;
        w.dims(&ds, &[schema::DIM_MODE])?;
    }
    let ev = w.array(&mg, "eigenvectors", dec.eigenvectors())?;
    w.dims(&ev, &[schema::DIM_AXIS, schema::DIM_MODE])?;
    for (i, m) in sol.modes.iter().enumerate() {
        let g = w.group(&format!("/modes/{i}"))?;
        w.scalar_attr(&g, "eigenvalue", dec.eigenvalues()[i])?;
        w.scalar_attr(&g, "q", dec.q_diagonal()[i])?;
        w.scalar_attr(&g, "s", dec.s_diagonal()[i])?;
        w.str_attr(&g, "outcome", m.outcome.as_str())?;
        w.scalar_attr(&g, "iterations", m.history.len() as u64)?;
        w.scalar_attr(&g, "residual", m.residual())?;
        w.scalar_attr(&g, "mass_error", m.mass_error)?;
        let label = &m.model.axis_labels[0];
        let ax = m.grid.axis(0);
        let gds = w.coordinate(
            &g,
            "grid",
            &ax.nodes(),
            &format!("mode {i} coordinate y_{i}"),
            Some(schema::DIMENSIONLESS),
        )?;
        w.str_attr(&gds, "label", label)?;
        w.scalar_attr(&gds, "lo", ax.lo())?;
        w.scalar_attr(&gds, "hi", ax.hi())?;
        w.scalar_attr(&gds, "spacing", ax.spacing())?;
        for (k, (res, spec)) in m.populations.iter().zip(&sc.model.populations).enumerate() {
            let pg = w.group(&format!("/modes/{i}/populations/{k}"))?;
            w.str_attr(&pg, "name", &spec.name)?;
            let variance: Array1<f64> = res.fpk.cov.outer_iter().map(|c| c[[0, 0]]).collect();
            let mean = res.fpk.mean.column(0).to_owned();
            let target = res.target.column(0).to_owned();
            for (name, data) in [
                ("mean", &mean),
                ("target", &target),
                ("variance", &variance),
                ("mass", &res.fpk.mass),
                ("boundary_mass", &res.fpk.boundary_mass),
            ] {
                let ds = w.array(&pg, name, data)?;
                layout::over_time(&w, &ds, &time)?;
            }
            for (name, frames) in [("density", &res.density), ("value", &res.value)] {
                let mut sw = w.quantized_snapshots(&pg, name, frames.len(), m.grid.shape())?;
                sw.push_all(frames)?;
                let ds = sw.dataset().clone();
                layout::over_snapshots(
                    &w,
                    &ds,
                    &snap,
                    std::slice::from_ref(&gds),
                    std::slice::from_ref(label),
                )?;
            }
        }
        let fpg = w.group(&format!("/modes/{i}/fixed_point"))?;
        let col =
            |f: fn(&IterationRecord) -> f64| -> Array1<f64> { m.history.iter().map(f).collect() };
        for (name, data) in [
            ("residual", col(|r| r.residual)),
            ("damping", col(|r| r.damping)),
            ("wall_s", col(|r| r.wall_s)),
        ] {
            let ds = w.array(&fpg, name, &data)?;
            w.dims(&ds, &[schema::DIM_ITERATION])?;
        }
        let acc: Array1<u8> = m.history.iter().map(|r| u8::from(r.accelerated)).collect();
        let ds = w.array(&fpg, "accelerated", &acc)?;
        w.dims(&ds, &[schema::DIM_ITERATION])?;
    }

    crate::output::oracle::write_groups(&w, sc, oracle, &time)?;
    w.commit()?;
    let snap_time: Vec<f64> = levels.iter().map(|&l| oracle.exact.time[l]).collect();
    let mut collections = Vec::new();
    for (i, m) in sol.modes.iter().enumerate() {
        let ax = m.grid.axis(0);
        for (k, spec) in sc.model.populations.iter().enumerate() {
            collections.push(xdmf::Collection {
                name: format!("mode {i} population {k} ({})", spec.name),
                grid: xdmf::UniformGrid {
                    origin: vec![ax.lo()],
                    spacing: vec![ax.spacing()],
                    shape: vec![ax.len()],
                },
                fields: [schema::DENSITY, schema::VALUE]
                    .iter()
                    .map(|f| (f.to_string(), format!("/modes/{i}/populations/{k}/{f}")))
                    .collect(),
            });
        }
    }
    xdmf::write(out, &snap_time, &collections)?;
    Ok(())
}
