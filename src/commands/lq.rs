//! `tufield lq SCENARIO [--out FILE.h5]`: the exact linear-quadratic equilibrium
//! (Riccati oracle, docs/design.md §3) and the paper's heuristics, written to HDF5.
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index):
//!
//! ```text
//! /                       attrs tufield_version, scenario (TOML after overrides), name,
//!                               command = "lq", axis_labels
//! /time                   (steps+1)            dimension scale of every time axis
//! /model/a, /q, /s        (d, d)               attrs sigma, horizon
//! /lq/exact               attrs residual_initial, residual_terminal, note
//! /lq/exact/phi           (steps+1, d, d)
//! /lq/exact/populations/<k>/{mean, h, target} (steps+1, d), chi (steps+1),
//!                          cov (steps+1, d, d); attr name
//! /lq/heuristic          attr note
//! /lq/heuristic/augmented_state      Section 5: attrs note, method, theta, theorem_2
//!                                    ("satisfied"/"violated"), theorem_2_max_eigenvalue;
//!                          p (steps+1, 2d, 2d) (game Riccati (20));
//!                          populations/<k>/{mean, mean_with_estimate, estimate} (steps+1, d)
//! /lq/heuristic/consensus            Section 7: attrs note, method; phi (steps+1, d, d);
//!                          populations/<k>/{mean, target, h} (steps+1, d)
//! ```
//!
//! Every heuristic group carries the attribute `note` = [`HEURISTIC_NOTE`].

use super::format::{num, vector};
use crate::cli::LqArgs;
use crate::h5::AtomicH5;
use crate::output::{layout, schema};
use crate::scenario::Scenario;
use crate::{AppError, AppResult};
use hdf5::Dataset;
use ndarray::{s, Array2};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tufield_solvers::lq::{
    exact_equilibrium, heuristic_augmented_state, heuristic_consensus, AugmentedStateHeuristic,
    ConsensusHeuristic, LqEquilibrium,
};

/// Attribute `note` on every heuristic group.
pub const HEURISTIC_NOTE: &str = "heuristic of the paper (Section 5/7), not the exact equilibrium";

/// Everything `lq` computes for one scenario.
#[derive(Debug, Clone)]
pub struct LqResults {
    /// The exact equilibrium.
    pub exact: LqEquilibrium,
    /// The paper's Section 5 heuristic (augmented state, θ from `[heuristic] theta`).
    pub augmented: AugmentedStateHeuristic,
    /// The paper's Section 7 heuristic (h = −φρ_k, consensus of the means).
    pub consensus: ConsensusHeuristic,
}

/// Computes the LQ results of a validated scenario on `settings.steps` intervals.
pub fn compute(sc: &Scenario) -> AppResult<LqResults> {
    let map = |e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e);
    let steps = sc.settings.steps;
    let exact = exact_equilibrium(&sc.model, steps).map_err(map)?;
    let augmented = heuristic_augmented_state(&sc.model, sc.theta, steps).map_err(map)?;
    let consensus = heuristic_consensus(&sc.model, steps).map_err(map)?;
    Ok(LqResults {
        exact,
        augmented,
        consensus,
    })
}

/// Default output path: `output/<scenario file stem>_lq.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    super::default_output_in(scenario, "_lq.h5")
}

/// Runs the command: load, compute, write, summarise.
pub fn run(args: &LqArgs, quiet: bool) -> AppResult<()> {
    let start = Instant::now();
    let sc = Scenario::load(&args.scenario.scenario, &args.scenario.overrides()?)?;
    crate::budget::check(&sc, &crate::budget::lq(&sc))?;
    let out = match &args.out {
        Some(p) => p.clone(),
        None => default_output(&args.scenario.scenario),
    };
    let inputs = crate::outpath::scenario_inputs(&sc, Some(&args.scenario.scenario));
    crate::outpath::prepare_file(&out, "--out", &inputs)?;
    let _lock = crate::outpath::RunLock::acquire(&out, "--out")?;
    let t0 = Instant::now();
    let results = compute(&sc)?;
    let compute_s = t0.elapsed().as_secs_f64();
    write(&out, &sc, &results)?;
    let wall = start.elapsed().as_secs_f64();
    if !quiet {
        print!("{}", summary(&sc, &results, &out, compute_s, wall));
        if let Some(a) = super::paper::claims::assess(&sc, None)? {
            print!("{}", a.summary());
        }
    }
    Ok(())
}

/// Writes the results to `out` atomically (see the module docs for the layout).
pub fn write(out: &Path, sc: &Scenario, res: &LqResults) -> AppResult<()> {
    let w = AtomicH5::create(out, &sc.text)?;
    let root = w.root()?.clone();
    w.str_attr(&root, "name", &sc.name)?;
    w.str_attr(&root, "command", "lq")?;
    w.str_list_attr(&root, "axis_labels", &sc.model.axis_labels)?;
    super::paper::claims::write_attributes(&w, &root, sc, None)?;
    if let Some(terms) = sc.non_lq_terms() {
        w.str_attr(
            &root,
            "lq_note",
            &format!("not LQ ({terms}): the LQ approximation of the model"),
        )?;
    }

    let time = w.coordinate(
        &root,
        schema::TIME,
        &res.exact.time,
        schema::TIME_LONG_NAME,
        Some(schema::DIMENSIONLESS),
    )?;
    write_groups(&w, sc, res, &time)?;
    w.commit()?;
    Ok(())
}

/// Writes `/model` and `/lq/...` (layout in the module docs) into an open file whose
/// `/time` dataset is `time` (`solve` shares this with its own datasets).
pub fn write_groups(w: &AtomicH5, sc: &Scenario, res: &LqResults, time: &Dataset) -> AppResult<()> {
    let out = w.dest();
    let ex = &res.exact;
    let model = w.group("/model")?;
    for (name, data) in [("a", &sc.model.a), ("q", &sc.model.q), ("s", &sc.model.s)] {
        let ds = w.array(&model, name, data)?;
        w.dims(&ds, &[schema::DIM_ROW, schema::DIM_COL])?;
    }
    w.scalar_attr(&model, "sigma", sc.model.sigma)?;
    w.scalar_attr(&model, "horizon", sc.model.horizon)?;
    w.scalar_attr(&model, "steps", sc.settings.steps as u64)?;

    let exact = w.group("/lq/exact")?;
    w.str_attr(
        &exact,
        "note",
        "exact LQ mean-field equilibrium (Riccati φ, forward–backward means and h, docs/design.md §3)",
    )?;
    w.scalar_attr(&exact, "residual_initial", ex.residual_initial)?;
    w.scalar_attr(&exact, "residual_terminal", ex.residual_terminal)?;
    let phi = w.array(&exact, "phi", &ex.phi)?;
    time_axis(w, &phi, time)?;
    let pops = w.group("/lq/exact/populations")?;
    for (k, (pop, spec)) in ex.populations.iter().zip(&sc.model.populations).enumerate() {
        let g = pops
            .create_group(&k.to_string())
            .map_err(|e| AppError::hdf5(out, format!("creating group populations/{k}"), e))?;
        w.str_attr(&g, "name", &spec.name)?;
        for (name, data) in [("mean", &pop.mean), ("h", &pop.h), ("target", &pop.target)] {
            let ds = w.array(&g, name, data)?;
            time_axis(w, &ds, time)?;
        }
        let chi = w.array(&g, "chi", &pop.chi)?;
        time_axis(w, &chi, time)?;
        let cov = w.array(&g, "cov", &pop.cov)?;
        time_axis(w, &cov, time)?;
    }
    write_heuristics(w, sc, res, time)?;
    Ok(())
}

/// Writes `ds` with the time scale on its first dimension.
fn timed<'a, D: ndarray::Dimension>(
    w: &AtomicH5,
    g: &hdf5::Group,
    name: &str,
    data: impl Into<ndarray::ArrayView<'a, f64, D>>,
    time: &Dataset,
) -> AppResult<Dataset> {
    let ds = w.array(g, name, data)?;
    time_axis(w, &ds, time)?;
    Ok(ds)
}

fn write_heuristics(w: &AtomicH5, sc: &Scenario, res: &LqResults, time: &Dataset) -> AppResult<()> {
    let top = w.group("/lq/heuristic")?;
    w.str_attr(&top, "note", HEURISTIC_NOTE)?;

    let aug = &res.augmented;
    let g = w.group("/lq/heuristic/augmented_state")?;
    w.str_attr(&g, "note", HEURISTIC_NOTE)?;
    w.str_attr(
        &g,
        "method",
        "Section 5: internal model m̃' = −θm̃ (19), game Riccati (20) in (x, m̃), policies (21)-(22); \
         mean: policy fed the actual mean, m̄' = A(P11 + P12)m̄; mean_with_estimate: policy fed m̃",
    )?;
    w.scalar_attr(&g, "theta", aug.theta)?;
    let theorem_2 = aug
        .theorem_2(&sc.model.a)
        .map_err(|e| AppError::from_solver(&sc.source_name, sc.ill_posed_key(), e))?;
    w.str_attr(
        &g,
        "theorem_2",
        super::stability::theorem_2_status(&theorem_2),
    )?;
    w.scalar_attr(&g, "theorem_2_max_eigenvalue", theorem_2.max_eigenvalue)?;
    timed(w, &g, "p", &aug.p, time)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&format!("/lq/heuristic/augmented_state/populations/{k}"))?;
        w.str_attr(&pg, "name", &spec.name)?;
        timed(w, &pg, "mean", &aug.mean[k], time)?;
        timed(
            w,
            &pg,
            "mean_with_estimate",
            &aug.mean_with_estimate[k],
            time,
        )?;
        timed(w, &pg, "estimate", &aug.estimate[k], time)?;
    }

    let con = &res.consensus;
    let g = w.group("/lq/heuristic/consensus")?;
    w.str_attr(&g, "note", HEURISTIC_NOTE)?;
    w.str_attr(
        &g,
        "method",
        "Section 7 (Theorem 4): h_k = −φρ_k, consensus dynamics m̄_k' = Aφ(m̄_k − ρ_k) on the graph",
    )?;
    timed(w, &g, "phi", &con.phi, time)?;
    for (k, spec) in sc.model.populations.iter().enumerate() {
        let pg = w.group(&format!("/lq/heuristic/consensus/populations/{k}"))?;
        w.str_attr(&pg, "name", &spec.name)?;
        timed(w, &pg, "mean", &con.mean[k], time)?;
        timed(w, &pg, "target", &con.target[k], time)?;
        timed(w, &pg, "h", &con.h[k], time)?;
    }
    Ok(())
}

fn time_axis(w: &AtomicH5, ds: &Dataset, time: &Dataset) -> AppResult<()> {
    layout::over_time(w, ds, time)
}

/// The terminal summary: sizes, φ(0), means at T, boundary residuals, wall time.
pub fn summary(sc: &Scenario, res: &LqResults, out: &Path, compute_s: f64, wall_s: f64) -> String {
    let ex = &res.exact;
    let m = &sc.model;
    let steps = sc.settings.steps;
    let mut s = String::new();
    s.push_str(&format!(
        "{}: exact LQ equilibrium, d = {}, p = {}, steps = {} (T = {})\n",
        sc.name,
        m.dim(),
        m.num_populations(),
        steps,
        num(m.horizon, 4)
    ));
    if let Some(terms) = sc.non_lq_terms() {
        s.push_str(&format!(
            "  note: the model is not LQ ({terms}); this is its LQ approximation \
             (`tufield compare` measures the difference)\n"
        ));
    }
    let phi0: Array2<f64> = ex.phi.slice(s![0, .., ..]).to_owned();
    let rows: Vec<String> = phi0.rows().into_iter().map(|r| vector(r, 5)).collect();
    s.push_str(&format!("  φ(0)          [{}]\n", rows.join(", ")));
    for (pop, spec) in ex.populations.iter().zip(&m.populations) {
        s.push_str(&format!(
            "  mean at T     {} ({:?}; at t = 0: {})\n",
            vector(pop.mean.row(steps), 5),
            spec.name,
            vector(spec.mean.view(), 5)
        ));
    }
    s.push_str(&format!(
        "  heuristics    (not equilibria) means at T\n    Section 5, augmented state (θ = {}): {}\n    Section 7, consensus (h = −φρ):        {}\n",
        num(res.augmented.theta, 3),
        res.augmented
            .mean
            .iter()
            .map(|m| vector(m.row(steps), 4))
            .collect::<Vec<_>>()
            .join(" "),
        res.consensus
            .mean
            .iter()
            .map(|m| vector(m.row(steps), 4))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    if let Ok(c) = res.augmented.theorem_2(&m.a) {
        s.push_str(&format!(
            "  Theorem 2     (Section 5 heuristic, mean-square stability of (23)) {}\n",
            super::stability::theorem_2_verdict(&c)
        ));
    }
    s.push_str(&format!(
        "  residuals     initial {:.2e}, terminal {:.2e}\n",
        ex.residual_initial, ex.residual_terminal
    ));
    s.push_str(&format!(
        "  wrote {} ({:.3} s compute, {:.3} s wall)\n",
        out.display(),
        compute_s,
        wall_s
    ));
    s
}
