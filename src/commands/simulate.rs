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
//! The file's layout is listed in [`crate::output::simulate`]; the N-study's quantities
//! in [`crate::run::study`], the ε-Nash study's in [`crate::run::epsilon_nash`].

mod epsilon;

use crate::cli::SimulateArgs;
use crate::initial::InitialSpec;
use crate::output::simulate::write;
use crate::plotting::epsilon_nash::plot as epsilon_nash_figure;
use crate::progress::ProgressMode;
use crate::report::format::{num, vector};
use crate::run::epsilon_nash;
use crate::run::simulate::{prepare, run_copies, HeuristicMeans, PolicyChoice, Prepared};
use crate::run::study::{study, Study, STUDY_SEEDS};
use crate::scenario::{Reduction, Scenario};
use crate::{AppError, AppResult};
use ndarray::Array1;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::particles::{
    density_l1, AllocationCore, Deposit, HistogramSpec, Simulation, SimulationOptions, MAX_COPIES,
};

/// Default number of kept trajectories (at most the number of copies).
pub const DEFAULT_TRAJECTORIES: usize = 10;

/// Default output path: `output/<scenario file stem>_simulate.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    crate::outpath::default_output_in(scenario, "_simulate.h5")
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
        Some(c) => Some(epsilon_nash::study(&sc, &prep, c, args.seed)?),
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
        Some(e) => Some(epsilon_nash_figure(&out, e, &names)?),
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
