//! `tufield simulate SCENARIO [--copies N] [--seed S] [--policy lq|least-squares|internal-model|second-order|FILE.h5]
//! [--study 10,100,1000] [--epsilon-nash 10,100,1000] [--trajectories K] [--out FILE.h5]`:
//! the finite-N game — N copies
//! per population simulated by Euler–Maruyama ([`tufield_solvers::particles`]) next to
//! the mean-field prediction.
//!
//! Policies:
//! * `lq` (default): the exact LQ mean-field feedback b = A(φx + h_k) (docs/design.md §3).
//! * `FILE.h5`: a `tufield solve` output of the same model and steps: b = A∇v_k from its
//!   `/populations/<k>/value` snapshots (piecewise constant in time between snapshots).
//! * `least-squares`: the paper's Section 8 control (41) in the full coalition space of a
//!   `[game]` scenario (q = 2ⁿ − 1 axes), steering towards the empirical target. Each
//!   population starts from its scenario Gaussian on the selected coalitions; the other
//!   coalitions start deterministic at 0. Histograms show the selected coalitions. It is a
//!   heuristic, not an equilibrium of the scenario's costs; it is charged those costs only
//!   when they cover every coalition (modal scenarios).
//! * `internal-model`: the paper's Section 8.1 **heuristic** (Table 3): the same
//!   least-squares control (41), steering towards the internal model
//!   m̃(t+dt) = m̃(t)(1 − θ dt) (`[heuristic] theta`), m̃(0) = `[heuristic]
//!   internal_model_mean` or each population's own mean. Costs as for `least-squares`.
//! * `second-order`: the paper's Section 8.2 **heuristic** (Table 4): every copy of
//!   population k gets the Section 7 feedback b = Aφ(t)(x − μ_k(t)) with φ of the exact LQ
//!   Riccati equation and μ_k the means of the second-order consensus (43) (θ, θ̃, θ̂ from
//!   `[heuristic]`), one iteration of (43) per time step. Charged the game's costs.
//!
//! Time steps: the scenario's `solver.steps` over its horizon. Histograms are taken at the
//! solve file's snapshot levels, or at the scenario's snapshot levels
//! (`solver.snapshot_every`) on the scenario's solver grid.
//!
//! Models beyond LQ (`cost.core_penalty`, `[bounds]`) are simulated only with a solve file
//! of the scenario (`--policy FILE.h5`); with bounds its drift is the saturated optimum
//! ∇H(∇v) of the control channels; the copies' realised cost then includes the core
//! penalty and the channels' control cost.
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index):
//!
//! ```text
//! /                      attrs tufield_version, scenario, name, command = "simulate",
//!                              copies, seed, policy, axis_labels, steps, threads
//! /time                  (steps+1)
//! /snapshot_time         (snapshots); /snapshot_level (snapshots) u64
//! /grid/x<i>             (n_i) histogram grid; attrs label, lo, hi, spacing
//! /populations/<k>       attrs name, state_axes (state coordinate of each grid axis)
//!     empirical_mean, empirical_target, mean_field_mean   (steps+1, d)
//!     reference_mean     (steps+1, d) the N → ∞ limit of the simulated scheme (attr note:
//!                        the Euler chain's exact mean, or the solve file's FPK mean)
//!     empirical_cov      (steps+1, d, d)
//!     trajectories       (K, steps+1, d) the first K copies
//!     histogram          (snapshots, n_0[, n_1[, n_2]]) cloud-in-cell, Σ m·cell = 1
//!     realised_cost      (2) = [mean, std] over copies; attr standard_error   (with costs)
//!     mean_field_cost    scalar: E[v_k(0, X0)]                                (lq, FILE)
//!     reference_cost     scalar: exact E J_k of the Euler chain as N → ∞ at this dt
//!                        (affine policies with costs)
//!     core_fraction      (steps+1) fraction of copies with every excess ≥ 0
//!     allocation_core_fraction (steps+1) with [game.values] on the full coalition space:
//!                        fraction whose efficient least-squares allocation is in the core
//!     density_l1         (snapshots) Σ|histogram − FPK density|·cell          (FILE)
//! /heuristic             (internal-model, second-order) attr note
//!     internal_model/mean       (steps+1, p, q) m̃_k(t_n); attr theta
//!     second_order/mean, increment  (steps+1, p, q) μ₁, μ₂ of (43);
//!                               attrs theta, theta_tilde, theta_hat, spectral_radius,
//!                               stability ("stable" iff spectral_radius < 1)
//! /study                 (with --study) attrs mean_deviation_slope, cost_gap_slope,
//!                        cost_reference, cost_bias_slope, cost_fluctuation_slope, seeds,
//!                        reference; copies (m) u64, mean_deviation (m), cost_gap (m),
//!                        cost_bias (m), cost_fluctuation (m)
//! /epsilon_nash          (with --epsilon-nash) layout in the `epsilon` submodule
//! ```
//!
//! `mean_deviation` is the RMS over levels of |m̂_k − m_k^ref| averaged over populations
//! and seeds; the reference is the N → ∞ limit of the simulated scheme: the exact mean of
//! the Euler chain for `lq` and `least-squares`, the FPK mean for a FILE (which adds a
//! discretisation floor). `cost_gap` is |realised − reference_cost| (the exact cost at the
//! same time step; the solve file's value for a FILE, which keeps its discretisation
//! floor); for affine policies it splits into `cost_bias` = |J_N − J_∞| (exact, O(1/N))
//! and `cost_fluctuation` = |realised − J_N| (O(N^{-1/2})), docs/design.md §6.

mod epsilon;

use crate::cli::SimulateArgs;
use crate::h5::AtomicH5;
use crate::initial::InitialSpec;
use crate::output::{layout, schema};
use crate::progress::ProgressMode;
use crate::report::format::{num, vector};
use crate::scenario::{Reduction, Scenario};
use crate::{AppError, AppResult};
use ndarray::{arr0, Array1, Array2};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::particles::{
    density_l1, finite_n_cost, loglog_slope, mean_path_deviation, AllocationCore, Deposit,
    HistogramSpec, Simulation, SimulationOptions, MAX_COPIES,
};

/// Replicate seeds per N in a `--study` (seeds S, S+1, …).
pub const STUDY_SEEDS: u64 = 4;

/// Default number of kept trajectories (at most the number of copies).
pub const DEFAULT_TRAJECTORIES: usize = 10;

pub use crate::run::simulate::{
    prepare, run_copies, solver_err, HeuristicMeans, PolicyChoice, Prepared,
};

/// Default output path: `output/<scenario file stem>_simulate.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    super::default_output_in(scenario, "_simulate.h5")
}

/// Parses `--study 10,100,1000`: at least two distinct counts in 1..=[`MAX_COPIES`].
pub fn parse_study(source: &str, s: &str) -> AppResult<Vec<usize>> {
    let bad = |m: String| AppError::invalid(source, "--study", m);
    let v = s
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("{t:?} is not a number of copies")))
        })
        .collect::<AppResult<Vec<usize>>>()?;
    if v.iter().any(|&n| n == 0 || n > MAX_COPIES) {
        return Err(bad(format!("copy counts must be in 1..={MAX_COPIES}")));
    }
    let mut u = v.clone();
    u.sort_unstable();
    u.dedup();
    if u.len() < 2 {
        return Err(bad(
            "give at least two different copy counts, e.g. 10,100,1000,10000".into(),
        ));
    }
    Ok(v)
}

/// Result of a `--study`.
#[derive(Debug, Clone)]
pub struct Study {
    /// Copy counts.
    pub copies: Vec<usize>,
    /// Mean deviation per count (module docs).
    pub mean_deviation: Vec<f64>,
    /// Cost gap per count and what it is measured against (`None` without costs).
    pub cost_gap: Option<CostGap>,
    /// Fitted log-log slope of the mean deviation (≈ −½ expected).
    pub mean_deviation_slope: f64,
}

/// The study's cost gap |realised − reference| (module docs).
#[derive(Debug, Clone)]
pub struct CostGap {
    /// Gap per copy count, averaged over populations and seeds.
    pub gap: Vec<f64>,
    /// Fitted log-log slope (≈ −½ expected).
    pub slope: f64,
    /// What the realised cost is compared with.
    pub reference: &'static str,
    /// Exact finite-N bias |J_N − J_∞| of the expected realised cost per copy count,
    /// averaged over populations, and its log-log slope (≈ −1); affine feedbacks only.
    pub bias: Option<(Vec<f64>, f64)>,
    /// Fluctuation |realised − J_N| about the exact N-copy expectation, averaged over
    /// populations and seeds, and its slope (≈ −½); affine feedbacks only.
    pub fluctuation: Option<(Vec<f64>, f64)>,
}

/// Which cost the study's cost gap is measured against: the exact N → ∞ cost at the same
/// time step when known, else the solve file's mean-field value (with its discretisation
/// floor). `None` when the policy has no costs.
fn gap_reference(prep: &Prepared) -> Option<(Vec<f64>, &'static str)> {
    prep.system.cost.as_ref()?;
    match &prep.reference_cost {
        Some(c) => Some((
            c.clone(),
            "exact expected realised cost of the Euler chain as N -> infinity (same time step)",
        )),
        None if prep.mean_field_cost.iter().all(|v| v.is_finite()) => Some((
            prep.mean_field_cost.clone(),
            "mean-field value of the solve file (includes its discretisation error)",
        )),
        None => None,
    }
}

/// Runs the N-study: [`STUDY_SEEDS`] seeds per copy count.
pub fn study(
    sc: &Scenario,
    prep: &Prepared,
    counts: &[usize],
    seed: u64,
    mode: ProgressMode,
) -> AppResult<Study> {
    let p = prep.system.populations.len() as f64;
    let reference = gap_reference(prep);
    // Exact expected realised cost J_N of a copy in the N-copy game (affine feedbacks,
    // N ≥ 2): the gap then measures the copies' fluctuation alone, the bias J_N − J_∞ is
    // reported next to it.
    let finite = match (&prep.feedback, &reference) {
        (Some(fb), Some(_)) if counts.iter().all(|&n| n >= 2) => Some(
            counts
                .iter()
                .map(|&n| {
                    (0..prep.system.populations.len())
                        .map(|k| finite_n_cost(&prep.system, fb, k, Some(n)))
                        .collect::<Result<Vec<f64>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| solver_err(sc, e))?,
        ),
        _ => None,
    };
    let mut dev = Vec::new();
    let mut gap = Vec::new();
    let mut fluct = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        let (mut dsum, mut gsum, mut fsum) = (0.0, 0.0, 0.0);
        for r in 0..STUDY_SEEDS {
            let opts = SimulationOptions {
                copies: n,
                seed: seed.wrapping_add(r),
                trajectories: 0,
                histogram: None,
            };
            let sim = run_copies(
                sc,
                prep,
                &opts,
                mode,
                format!("study N = {n}, seed {}", seed.wrapping_add(r)),
            )?;
            for (k, run) in sim.populations.iter().enumerate() {
                dsum += mean_path_deviation(&run.mean, &prep.reference_mean[k]);
                if let Some((cost, _)) = &reference {
                    gsum += (run.cost_mean - cost[k]).abs();
                    if let Some(f) = &finite {
                        fsum += (run.cost_mean - f[i][k]).abs();
                    }
                }
            }
        }
        dev.push(dsum / (p * STUDY_SEEDS as f64));
        gap.push(gsum / (p * STUDY_SEEDS as f64));
        fluct.push(fsum / (p * STUDY_SEEDS as f64));
    }
    let x: Vec<f64> = counts.iter().map(|&n| n as f64).collect();
    let slope = |y: &[f64]| loglog_slope(&x, y).map_err(|e| solver_err(sc, e));
    let bias = match (&finite, &reference) {
        (Some(f), Some((cost, _))) => {
            let b: Vec<f64> = f
                .iter()
                .map(|jn| jn.iter().zip(cost).map(|(a, b)| (a - b).abs()).sum::<f64>() / p)
                .collect();
            // A zero bias (σ = 0 and point masses) has no rate.
            let s = loglog_slope(&x, &b).unwrap_or(f64::NAN);
            Some((b, s))
        }
        _ => None,
    };
    Ok(Study {
        mean_deviation_slope: slope(&dev)?,
        cost_gap: match reference {
            Some((_, note)) => Some(CostGap {
                slope: slope(&gap)?,
                gap,
                reference: note,
                bias,
                fluctuation: finite
                    .as_ref()
                    .map(|_| (fluct.clone(), loglog_slope(&x, &fluct).unwrap_or(f64::NAN))),
            }),
            None => None,
        },
        copies: counts.to_vec(),
        mean_deviation: dev,
    })
}

/// Runs the command: load, prepare, simulate (and study), write, summarise.
pub fn run(args: &SimulateArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let sc = Scenario::load(&args.scenario.scenario, &args.scenario.overrides()?)?;
    let src = sc.source_name.clone();
    if args.copies == 0 || args.copies > MAX_COPIES {
        return Err(AppError::invalid(
            &src,
            "--copies",
            format!(
                "the number of copies must be between 1 and {MAX_COPIES}, got {}",
                args.copies
            ),
        ));
    }
    let trajectories = match args.trajectories {
        Some(k) if k > args.copies => {
            return Err(AppError::invalid(
                &src,
                "--trajectories",
                format!("cannot keep {k} paths of {} copies", args.copies),
            ))
        }
        Some(k) => k,
        None => DEFAULT_TRAJECTORIES.min(args.copies),
    };
    let counts = match &args.study {
        Some(s) => Some(parse_study(&src, s)?),
        None => None,
    };
    let deviation_counts = match &args.epsilon_nash {
        Some(s) => Some(epsilon::parse(&src, s)?),
        None => None,
    };
    let choice = PolicyChoice::parse(&args.policy);
    let largest = counts
        .iter()
        .flatten()
        .copied()
        .fold(args.copies, usize::max);
    crate::budget::check(
        &sc,
        &crate::budget::simulate(
            &sc,
            largest,
            trajectories,
            matches!(choice, PolicyChoice::File(_)),
        ),
    )?;
    // Beyond LQ (core penalty, bounds) only a solve file's policy is the scenario's
    // equilibrium policy; its drift is b = ∇H(∇v) (saturated with bounds).
    if let Some(terms) = sc.non_lq_terms() {
        if !matches!(choice, PolicyChoice::File(_)) {
            return Err(AppError::invalid(
                &src,
                "--policy",
                format!(
                    "the model is not LQ ({terms}): the lq and least-squares policies and the \
                     heuristics ignore these terms; simulate a `tufield solve` output of this \
                     scenario (--policy output/<stem>.h5)"
                ),
            ));
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_output(&args.scenario.scenario));
    let mut inputs = crate::outpath::scenario_inputs(&sc, Some(&args.scenario.scenario));
    if let PolicyChoice::File(path) = &choice {
        inputs.push(crate::outpath::Input::new("the --policy file", path));
    }
    crate::outpath::prepare_file(&out, "--out", &inputs)?;
    let _lock = crate::outpath::RunLock::acquire(&out, "--out")?;
    let mode = ProgressMode::detect(quiet);
    let mut prep = prepare(&sc, &choice)?;
    if deviation_counts.is_some() && prep.feedback.is_none() {
        return Err(AppError::invalid(
            &src,
            "--epsilon-nash",
            format!(
                "the ε-Nash study needs an affine feedback of the game's state (--policy lq or \
                 second-order), not {}",
                choice.name()
            ),
        ));
    }
    // Non-Gaussian initial laws live on the scenario's axes: policies that simulate the
    // full coalition space (least-squares, internal-model) start from Gaussians only.
    if let Some(k) = sc.initial.iter().position(|i| *i != InitialSpec::Gaussian) {
        if prep.system.dim() != sc.model.dim() {
            return Err(AppError::invalid(
                &src,
                format!("population[{}].kind", k + 1),
                format!(
                    "--policy {} simulates the full coalition space and starts from Gaussian \
                     populations only; use kind = \"gaussian\" or --policy lq / a solve file",
                    choice.name()
                ),
            ));
        }
        prep.system.initial = sc
            .initial
            .iter()
            .map(|spec| spec.sampler(|| crate::run::grid_for(&sc)))
            .collect::<AppResult<_>>()?;
    }
    prep.system.allocation_core = allocation_core(&sc, &choice)?;
    if mode != ProgressMode::Quiet {
        eprintln!(
            "{}: simulate {} copies × {} population(s), d = {}, {} steps, policy {}, seed {}, {} thread(s)",
            sc.name,
            args.copies,
            prep.system.populations.len(),
            prep.system.dim(),
            prep.system.steps,
            choice.name(),
            args.seed,
            rayon::current_num_threads()
        );
    }
    let options = SimulationOptions {
        copies: args.copies,
        seed: args.seed,
        trajectories,
        histogram: Some(HistogramSpec {
            grid: prep.grid.clone(),
            levels: prep.snapshot_levels.clone(),
            deposit: Deposit::CloudInCell,
            axes: Some(prep.hist_axes.clone()),
        }),
    };
    let sim = run_copies(&sc, &prep, &options, mode, format!("N = {}", args.copies))?;
    let st = match &counts {
        Some(c) => Some(study(&sc, &prep, c, args.seed, mode)?),
        None => None,
    };
    let eps = match &deviation_counts {
        Some(c) => Some(epsilon::study(&sc, &prep, c, args.seed)?),
        None => None,
    };
    let l1 = density_distances(&prep, &sim);
    let paper = write(
        &out,
        &sc,
        &choice,
        &prep,
        &sim,
        args.seed,
        l1.as_deref(),
        (st.as_ref(), eps.as_ref()),
    )?;
    let names: Vec<String> = prep
        .system
        .populations
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let eps_figure = match &eps {
        Some(e) => Some(epsilon::plot(&out, e, &names)?),
        None => None,
    };
    if !quiet {
        print!(
            "{}",
            summary(
                &sc,
                &choice,
                &prep,
                &sim,
                l1.as_deref(),
                st.as_ref(),
                &out,
                start
            )
        );
        if let (Some(e), Some(fig)) = (&eps, &eps_figure) {
            print!("{}", epsilon::summary(e, &names));
            println!("  wrote {}", fig.display());
        }
        if let Some(a) = paper {
            print!("{}", a.summary());
        }
    }
    Ok(())
}

/// The allocation-core test of `[game.values]` when the copies' state is the full
/// coalition space of the game in Table 1 order (a modal scenario, or the least-squares
/// policies) and the values are for the game's players; `None` otherwise.
fn allocation_core(sc: &Scenario, choice: &PolicyChoice) -> AppResult<Option<AllocationCore>> {
    let (Some(values), Reduction::Projected(spec) | Reduction::Modal(spec)) =
        (&sc.values, &sc.reduction)
    else {
        return Ok(None);
    };
    let full_space = sc.is_modal()
        || matches!(
            choice,
            PolicyChoice::LeastSquares | PolicyChoice::InternalModel
        );
    if !full_space || values.game.players() != spec.players {
        return Ok(None);
    }
    AllocationCore::new(values.game.clone())
        .map(Some)
        .map_err(|e| AppError::from_solver(&sc.source_name, "game.values", e))
}

/// What the run measured for the checks of the scenario's `[paper]` figure.
pub fn paper_evidence<'a>(
    prep: &'a Prepared,
    empirical: &'a [Array2<f64>],
) -> crate::paper::claims::RunEvidence<'a> {
    crate::paper::claims::RunEvidence {
        empirical_mean: empirical,
        target: match &prep.heuristic {
            Some(HeuristicMeans::SecondOrder { mean, .. }) => Some(mean),
            Some(HeuristicMeans::InternalModel { mean, .. }) => Some(mean),
            None => None,
        },
    }
}

/// L1 distance of each histogram to the FPK density (FILE policy), per population.
fn density_distances(prep: &Prepared, sim: &Simulation) -> Option<Vec<Array1<f64>>> {
    let fpk = prep.fpk_density.as_ref()?;
    Some(
        sim.populations
            .iter()
            .zip(fpk)
            .map(|(run, dens)| {
                run.histograms
                    .iter()
                    .zip(dens)
                    .map(|(h, m)| density_l1(&prep.grid, h, m))
                    .collect()
            })
            .collect(),
    )
}

/// Writes the output file atomically; returns the assessment of the scenario's `[paper]`
/// figure (also in the root attributes) when it has one.
#[allow(clippy::too_many_arguments)]
pub fn write(
    out: &Path,
    sc: &Scenario,
    choice: &PolicyChoice,
    prep: &Prepared,
    sim: &Simulation,
    seed: u64,
    l1: Option<&[Array1<f64>]>,
    (st, eps): (Option<&Study>, Option<&epsilon::EpsilonStudy>),
) -> AppResult<Option<crate::paper::claims::Assessment>> {
    let mut w = AtomicH5::create(out, &sc.text)?;
    w.set_compression(sc.output.compression);
    let root = w.root()?.clone();
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_SIMULATE)?;
    w.scalar_attr(&root, "copies", sim.copies as u64)?;
    w.scalar_attr(&root, "seed", seed)?;
    w.str_attr(&root, "policy", &choice.name())?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &prep.axis_labels)?;
    w.scalar_attr(&root, "steps", prep.system.steps as u64)?;
    w.scalar_attr(&root, "threads", rayon::current_num_threads() as u64)?;
    let empirical: Vec<Array2<f64>> = sim.populations.iter().map(|r| r.mean.clone()).collect();
    let paper = crate::paper::claims::write_attributes(
        &w,
        &root,
        sc,
        Some(&paper_evidence(prep, &empirical)),
    )?;

    let axes_t = layout::time_axes(&w, &sim.time, &prep.snapshot_levels)?;
    let time = axes_t.time.clone();
    let grid_labels: Vec<String> = prep
        .hist_axes
        .iter()
        .map(|&i| prep.axis_labels[i].clone())
        .collect();
    let axes = layout::grid(&w, &prep.grid, &grid_labels)?;

    w.group(schema::POPULATIONS)?;
    let state_axes: Array1<u64> = prep.hist_axes.iter().map(|&i| i as u64).collect();
    for (k, run) in sim.populations.iter().enumerate() {
        let pg = w.group(&schema::population(k))?;
        w.str_attr(&pg, schema::ATTR_NAME, &prep.system.populations[k].name)?;
        let sa = w.array(&pg, "state_axes", &state_axes)?;
        w.dims(&sa, &["grid_axis"])?;
        for (name, data) in [
            (schema::EMPIRICAL_MEAN, &run.mean),
            ("empirical_target", &run.target),
            (schema::MEAN_FIELD_MEAN, &prep.mean_field_mean[k]),
            ("reference_mean", &prep.reference_mean[k]),
        ] {
            let ds = w.array(&pg, name, data)?;
            layout::over_time(&w, &ds, &time)?;
            if name == "reference_mean" {
                w.str_attr(&ds, "note", prep.reference_note)?;
            }
        }
        let cov = w.array(&pg, schema::EMPIRICAL_COV, &run.cov)?;
        layout::over_time(&w, &cov, &time)?;
        let cf = w.array(&pg, schema::CORE_FRACTION, &run.core_fraction)?;
        layout::over_time(&w, &cf, &time)?;
        w.str_attr(
            &cf,
            "note",
            "fraction of the copies whose every excess coordinate is >= 0 (the excess core)",
        )?;
        if let Some(f) = &run.allocation_core_fraction {
            let ds = w.array(&pg, "allocation_core_fraction", f)?;
            layout::over_time(&w, &ds, &time)?;
            w.str_attr(
                &ds,
                "note",
                "fraction of the copies whose efficient least-squares allocation \
                 a = (B_H^T B_H)^-1 B_H^T (x + v) + (v(N) - a(N))/n is in the core of [game.values]",
            )?;
        }
        let tr = w.array(&pg, schema::TRAJECTORIES, &run.trajectories)?;
        w.attach_scale(&tr, &time, 1)?;
        w.label_dim(&tr, 0, "copy")?;
        w.label_dim(&tr, 1, schema::TIME)?;
        let mut names = vec!["copy", schema::TIME, schema::DIM_AXIS];
        names.truncate(tr.ndim());
        w.dims(&tr, &names)?;
        let mut sw = w.snapshots(
            &pg,
            schema::HISTOGRAM,
            run.histograms.len(),
            prep.grid.shape(),
        )?;
        for h in &run.histograms {
            sw.push(h.view())?;
        }
        let ds = sw.dataset().clone();
        layout::over_snapshots(&w, &ds, &axes_t.snapshot, &axes, &grid_labels)?;
        w.str_attr(&ds, "deposit", "cloud-in-cell, states clamped to the box")?;
        if prep.system.cost.is_some() {
            let rc = w.array(
                &pg,
                "realised_cost",
                &Array1::from(vec![run.cost_mean, run.cost_std]),
            )?;
            w.str_attr(&rc, "entries", "mean, std over copies")?;
            w.dims(&rc, &["statistic"])?;
            w.scalar_attr(
                &rc,
                "standard_error",
                run.cost_std / (sim.copies as f64).sqrt(),
            )?;
            if prep.mean_field_cost[k].is_finite() {
                let mf = w.array(&pg, "mean_field_cost", arr0(prep.mean_field_cost[k]).view())?;
                w.str_attr(&mf, "note", "E[v_k(0, X0)] over the initial law")?;
            }
            if let Some(rc) = &prep.reference_cost {
                let ds = w.array(&pg, "reference_cost", arr0(rc[k]).view())?;
                w.str_attr(
                    &ds,
                    "note",
                    "exact expected realised cost of the Euler chain as N -> infinity, at the \
                     simulation's time step (no time-step bias)",
                )?;
            }
        }
        if let Some(l1) = l1 {
            let ds = w.array(&pg, "density_l1", &l1[k])?;
            w.attach_scale(&ds, &axes_t.snapshot, 0)?;
        }
    }
    if let Some(h) = &prep.heuristic {
        let g = w.group(schema::HEURISTIC)?;
        let stack = |paths: &[Array2<f64>]| {
            let (levels, q) = paths[0].dim();
            ndarray::Array3::from_shape_fn((levels, paths.len(), q), |(n, k, j)| paths[k][[n, j]])
        };
        match h {
            HeuristicMeans::InternalModel { theta, mean } => {
                let sg = w.group(schema::HEURISTIC_INTERNAL_MODEL)?;
                w.str_attr(
                    &g,
                    "note",
                    "the paper's Section 8.1 heuristic (not an equilibrium): least-squares \
                     control (41) towards the internal model m~(t+dt) = m~(t)(1 - theta dt)",
                )?;
                w.scalar_attr(&sg, "theta", *theta)?;
                let ds = w.array(&sg, schema::MEAN, &stack(mean))?;
                w.attach_scale(&ds, &time, 0)?;
                w.label_dim(&ds, 0, schema::TIME)?;
                w.label_dim(&ds, 1, schema::DIM_POPULATION)?;
                w.dims(
                    &ds,
                    &[schema::TIME, schema::DIM_POPULATION, schema::DIM_AXIS],
                )?;
            }
            HeuristicMeans::SecondOrder {
                params,
                mean,
                increment,
                spectral_radius,
            } => {
                let sg = w.group(schema::HEURISTIC_SECOND_ORDER)?;
                w.str_attr(
                    &g,
                    "note",
                    "the paper's Section 8.2 heuristic (not an equilibrium): feedback \
                     A phi (x - mu_k) towards the second-order consensus means of (43), one \
                     iteration per time step",
                )?;
                w.scalar_attr(&sg, "theta", params.theta)?;
                w.scalar_attr(&sg, "theta_tilde", params.theta_tilde)?;
                w.scalar_attr(&sg, "theta_hat", params.theta_hat)?;
                w.scalar_attr(&sg, "spectral_radius", *spectral_radius)?;
                w.str_attr(
                    &sg,
                    "stability",
                    crate::report::stability::iteration_stability(*spectral_radius),
                )?;
                for (name, data) in [(schema::MEAN, mean), ("increment", increment)] {
                    let ds = w.array(&sg, name, &stack(data))?;
                    w.attach_scale(&ds, &time, 0)?;
                    w.label_dim(&ds, 0, schema::TIME)?;
                    w.label_dim(&ds, 1, schema::DIM_POPULATION)?;
                    w.dims(
                        &ds,
                        &[schema::TIME, schema::DIM_POPULATION, schema::DIM_AXIS],
                    )?;
                }
            }
        }
    }
    if let Some(st) = st {
        let g = w.group(schema::STUDY)?;
        w.scalar_attr(&g, "mean_deviation_slope", st.mean_deviation_slope)?;
        if let Some(cg) = &st.cost_gap {
            w.scalar_attr(&g, "cost_gap_slope", cg.slope)?;
            w.str_attr(&g, "cost_reference", cg.reference)?;
        }
        w.scalar_attr(&g, "seeds", STUDY_SEEDS)?;
        w.str_attr(&g, "reference", prep.reference_note)?;
        let c: Array1<u64> = st.copies.iter().map(|&n| n as u64).collect();
        let cds = w.array(&g, "copies", &c)?;
        w.dims(&cds, &["study_run"])?;
        let md = w.array(
            &g,
            "mean_deviation",
            &Array1::from(st.mean_deviation.clone()),
        )?;
        w.dims(&md, &["study_run"])?;
        if let Some(cg) = &st.cost_gap {
            let ds = w.array(&g, "cost_gap", &Array1::from(cg.gap.clone()))?;
            w.dims(&ds, &["study_run"])?;
            for (name, part) in [
                ("cost_bias", &cg.bias),
                ("cost_fluctuation", &cg.fluctuation),
            ] {
                if let Some((v, slope)) = part {
                    let ds = w.array(&g, name, &Array1::from(v.clone()))?;
                    w.dims(&ds, &["study_run"])?;
                    w.scalar_attr(&g, &format!("{name}_slope"), *slope)?;
                }
            }
        }
    }
    if let Some(e) = eps {
        epsilon::write(&mut w, e)?;
    }
    w.commit()?;
    Ok(paper)
}

#[allow(clippy::too_many_arguments)]
fn summary(
    sc: &Scenario,
    choice: &PolicyChoice,
    prep: &Prepared,
    sim: &Simulation,
    l1: Option<&[Array1<f64>]>,
    st: Option<&Study>,
    out: &Path,
    start: Instant,
) -> String {
    let steps = prep.system.steps;
    let mut s = format!(
        "{}: {} copies per population, policy {}, {} steps (T = {})\n",
        sc.name,
        sim.copies,
        choice.name(),
        steps,
        num(prep.system.horizon, 4)
    );
    for (k, run) in sim.populations.iter().enumerate() {
        s.push_str(&format!(
            "  {:<10} mean at T {} (mean field {})",
            prep.system.populations[k].name,
            vector(run.mean.row(steps), 4),
            vector(prep.mean_field_mean[k].row(steps), 4)
        ));
        if prep.system.cost.is_some() {
            s.push_str(&format!(
                ", cost {} ± {:.1e}",
                num(run.cost_mean, 5),
                run.cost_std / (sim.copies as f64).sqrt(),
            ));
            let mf = prep.mean_field_cost[k];
            match &prep.reference_cost {
                Some(rc) if mf.is_finite() => s.push_str(&format!(
                    " (N → ∞ at this dt {}; continuous-time mean field {}, time-step bias {:+.1} %)",
                    num(rc[k], 5),
                    num(mf, 5),
                    100.0 * (rc[k] - mf) / mf.abs().max(1e-300)
                )),
                Some(rc) => s.push_str(&format!(" (N → ∞ at this dt {})", num(rc[k], 5))),
                None => s.push_str(&format!(" (mean field {})", num(mf, 5))),
            }
        }
        if let Some(l1) = l1 {
            let worst = l1[k].iter().fold(0.0f64, |m, v| m.max(*v));
            s.push_str(&format!(", density L1 ≤ {}", num(worst, 3)));
        }
        s.push('\n');
    }
    match &prep.heuristic {
        Some(HeuristicMeans::InternalModel { theta, mean }) => {
            s.push_str(&format!(
                "  heuristic (paper's Section 8.1): internal model θ = {}, m̃(T) of population 1 {}\n",
                num(*theta, 4),
                vector(mean[0].row(steps), 4)
            ));
        }
        Some(HeuristicMeans::SecondOrder {
            mean,
            spectral_radius,
            ..
        }) => {
            let spread = |n: usize| {
                (0..mean[0].ncols())
                    .map(|j| {
                        let v: Vec<f64> = mean.iter().map(|m| m[[n, j]]).collect();
                        v.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                            - v.iter().cloned().fold(f64::INFINITY, f64::min)
                    })
                    .fold(0.0f64, f64::max)
            };
            s.push_str(&format!(
                "  heuristic (paper's Section 8.2): second-order consensus (43) {}, spread of the means {} → {}\n",
                crate::report::stability::consensus_verdict(*spectral_radius),
                num(spread(0), 4),
                num(spread(steps), 4)
            ));
        }
        None => {}
    }
    if let Some(st) = st {
        let row = |v: &[f64]| {
            v.iter()
                .map(|v| format!("{v:.3e}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        s.push_str(&format!(
            "  study ({} seeds per N): N {:?}\n    mean deviation {}  slope {}\n",
            STUDY_SEEDS,
            st.copies,
            row(&st.mean_deviation),
            num(st.mean_deviation_slope, 3),
        ));
        match &st.cost_gap {
            Some(cg) => {
                s.push_str(&format!(
                    "    cost gap       {}  slope {}  (against the {})\n",
                    row(&cg.gap),
                    num(cg.slope, 3),
                    cg.reference
                ));
                if let (Some((b, bs)), Some((f, fs))) = (&cg.bias, &cg.fluctuation) {
                    s.push_str(&format!(
                        "      = bias   {}  slope {}  (exact |J_N − J_∞|: the copy's own weight in the target)\n      + noise  {}  slope {}  (|realised − J_N|, J_N the exact N-copy expectation)\n",
                        row(b),
                        num(*bs, 3),
                        row(f),
                        num(*fs, 3)
                    ));
                }
            }
            None => s.push_str(
                "    cost gap: not measured (the scenario's costs do not price this policy's state)\n",
            ),
        }
    }
    s.push_str(&format!(
        "  wrote {} ({:.2} s wall)\n",
        out.display(),
        start.elapsed().as_secs_f64()
    ));
    s
}
