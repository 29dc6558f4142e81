//! `tufield lq SCENARIO [--out FILE.h5]`: the exact linear-quadratic equilibrium
//! (Riccati oracle, docs/design.md §3) and the paper's heuristics, written to HDF5.
//!
//! The file is written by [`crate::output::lq`], which lists its layout.

use crate::cli::LqArgs;
use crate::oracle::{compute, LqResults};
use crate::output::lq::write;
use crate::report::format::{num, vector};
use crate::scenario::Scenario;
use crate::AppResult;
use ndarray::{s, Array2};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Default output path: `output/<scenario file stem>_lq.h5`.
pub fn default_output(scenario: &Path) -> PathBuf {
    crate::outpath::default_output_in(scenario, "_lq.h5")
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
        if let Some(a) = crate::paper::claims::assess(&sc, None)? {
            print!("{}", a.summary());
        }
    }
    Ok(())
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
            crate::report::stability::theorem_2_verdict(&c)
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
