//! `tufield check SCENARIO`: validate and describe a scenario — the reduced A with its
//! axis labels, its eigenvalues and the margin in condition (17), the populations, the
//! graph and the numerical settings.

use crate::cli::ScenarioArgs;
use crate::report::format::{matrix, num, vec1, vector, weight};
use crate::scenario::{Reduction, Scenario};
use crate::settings::Domain;
use crate::{AppError, AppResult};
use tufield_solvers::game::{ControlWeight, DisturbanceWeight};
use tufield_solvers::hamiltonian::Player;
use tufield_solvers::linalg::symmetric_eigenvalues;

/// Loads and validates the scenario, then prints [`describe`] unless `quiet`.
pub fn run(args: &ScenarioArgs, quiet: bool) -> AppResult<()> {
    let scenario = Scenario::load(&args.scenario, &args.overrides()?)?;
    let text = describe(&scenario)?;
    samples_on_the_grid(&scenario)?;
    let est = crate::budget::solve(&scenario);
    if !quiet {
        print!("{text}");
        print!("{}", estimate_lines(&est));
    }
    crate::budget::check(&scenario, &est)
}

/// Refuses, as `solve` does, file samples outside the grid the solve would use.
fn samples_on_the_grid(sc: &Scenario) -> AppResult<()> {
    if sc.is_modal() {
        return Ok(());
    }
    let mut grid = None;
    for (k, spec) in sc.initial.iter().enumerate() {
        if let crate::initial::InitialSpec::File {
            data: crate::initial::FileData::Samples(s),
            ..
        } = spec
        {
            if grid.is_none() {
                grid = Some(crate::run::grid_for(sc)?);
            }
            if let Some(g) = &grid {
                let key = format!("population[{}].path", k + 1);
                crate::initial::cloud_in_cell(&sc.source_name, &key, g, s)?;
            }
        }
    }
    Ok(())
}

/// The `check` lines on the size of a solve of this scenario.
fn estimate_lines(est: &crate::budget::Estimate) -> String {
    use crate::budget::{available_memory, human, human_work};
    format!(
        "job size    solve needs about {} of memory ({} available), {} {}\n",
        human(est.bytes),
        available_memory().map_or("unknown".to_string(), human),
        human_work(est.work),
        est.work_unit
    )
}

/// The human-readable description printed by `check`.
pub fn describe(sc: &Scenario) -> AppResult<String> {
    let m = &sc.model;
    let d = m.dim();
    let labels = &m.axis_labels;
    let mut out = String::new();
    out.push_str(&format!("scenario    {} ({})\n", sc.name, sc.source_name));
    if !sc.description.is_empty() {
        for line in sc.description.lines() {
            out.push_str(&format!("            {line}\n"));
        }
    }
    for o in &sc.overrides {
        out.push_str(&format!("override    --set {o}\n"));
    }
    match &sc.reduction {
        Reduction::Expert => out.push_str(&format!(
            "model       A given directly ([model].a), d = {d}\n"
        )),
        Reduction::Projected(g) | Reduction::Modal(g) => {
            let q = (1usize << g.players) - 1;
            if sc.is_modal() {
                out.push_str(&format!(
                    "game        {} players, q = {q} coalitions; modal decomposition (exact): the full \
                     {q}-D game as {q} one-dimensional modes\n",
                    g.players
                ));
            } else {
                out.push_str(&format!(
                    "game        {} players, q = {q} coalitions; projected on {} (d = {d})\n",
                    g.players,
                    labels.join(", ")
                ));
            }
            let r = match &g.r {
                ControlWeight::Scalar(r) => {
                    format!("R = {}·I ({c}×{c})", num(*r, 4), c = g.players + q - 1)
                }
                ControlWeight::Matrix(_) => {
                    format!("R = given {c}×{c} matrix", c = g.players + q - 1)
                }
            };
            let gamma = match &g.gamma {
                DisturbanceWeight::Gamma(x) => format!("Γ = γ²I with γ = {}", num(*x, 4)),
                DisturbanceWeight::Matrix(_) => format!("Γ = given {q}×{q} matrix"),
                DisturbanceWeight::InverseMatrix(_) => format!("Γ⁻¹ = given {q}×{q} matrix"),
            };
            out.push_str(&format!("            {r}, {gamma}\n"));
        }
    }
    if sc.is_modal() {
        out.push_str("A (full Hamiltonian matrix, −B R⁻¹ Bᵀ + Γ⁻¹)\n");
    } else {
        out.push_str("A (reduced Hamiltonian matrix, −P B R⁻¹ Bᵀ Pᵀ + (Γ⁻¹)_JJ)\n");
    }
    out.push_str(&matrix(&m.a, labels, 4, 5));
    let ev = symmetric_eigenvalues(&m.a)
        .map_err(|e| AppError::from_solver(&sc.source_name, "model.a", e))?;
    out.push_str(&format!("eigenvalues of A  {}\n", vector(ev.view(), 5)));
    out.push_str(&format!(
        "condition (17)    satisfied: A is negative definite, margin −λ_max(A) = {}\n",
        num(sc.margin, 5)
    ));
    if let Reduction::Projected(g) | Reduction::Modal(g) = &sc.reduction {
        if let (DisturbanceWeight::Gamma(gamma), Some(min)) = (&g.gamma, sc.min_gamma) {
            out.push_str(&format!(
                "                  smallest admissible γ = {} (γ = {} must exceed it)\n",
                num(min, 5),
                num(*gamma, 5)
            ));
        }
    }
    out.push_str(&format!("Q = {}", weight(&m.q, labels, 4)));
    out.push_str(&format!("S = {}", weight(&m.s, labels, 4)));
    if let Some(dec) = &sc.modal {
        let [aq, as_, qs] = dec.commutators();
        out.push_str(&format!(
            "commutation A, Q, S commute pairwise (relative ‖AQ−QA‖ = {aq:.1e}, ‖AS−SA‖ = {as_:.1e}, \
             ‖QS−SQ‖ = {qs:.1e}); the modal decomposition is exact\n"
        ));
        let [oa, oq, os] = dec.off_diagonal();
        out.push_str(&format!(
            "            common eigenbasis U: off-diagonal of UᵀAU, UᵀQU, UᵀSU = {oa:.1e}, {oq:.1e}, {os:.1e} (relative)\n"
        ));
        out.push_str(&format!(
            "modes (q = {})  λ_i = (UᵀAU)_ii, q_i = (UᵀQU)_ii, s_i = (UᵀSU)_ii\n",
            dec.num_modes()
        ));
        for i in 0..dec.num_modes() {
            out.push_str(&format!(
                "  mode {:2}   λ = {}, q = {}, s = {}\n",
                i + 1,
                num(dec.eigenvalues()[i], 5),
                num(dec.q_diagonal()[i], 4),
                num(dec.s_diagonal()[i], 4)
            ));
        }
    }
    out.push_str(&format!(
        "noise σ = {}, horizon T = {}\n",
        num(m.sigma, 4),
        num(m.horizon, 4)
    ));
    if let Some(terms) = sc.non_lq_terms() {
        out.push_str(&format!("beyond LQ   {terms}\n"));
        if let Some(law) = m.controls.as_ref().filter(|l| l.is_bounded()) {
            let count = |player| law.channels.iter().filter(|c| c.player == player).count();
            out.push_str(&format!(
                "            saturating Hamiltonian: {} allocation/surplus and {} disturbance \
                 channels act on the grid axes\n",
                count(Player::Designer),
                count(Player::Disturbance)
            ));
        }
        out.push_str(
            "            the model is not LQ: `tufield lq` is its LQ approximation, \
             `tufield compare` measures the difference\n",
        );
    }
    out.push_str(&format!("populations (p = {})\n", m.num_populations()));
    for (k, p) in m.populations.iter().enumerate() {
        let std: Vec<f64> = (0..d).map(|i| p.cov[[i, i]].sqrt()).collect();
        let diagonal = (0..d).all(|i| (0..d).all(|j| i == j || p.cov[[i, j]] == 0.0));
        out.push_str(&format!(
            "  {}  {:?}: mean {}, std {}{}\n",
            k + 1,
            p.name,
            vec1(&p.mean, 4),
            vec1(&ndarray::Array1::from(std), 4),
            if diagonal {
                ""
            } else {
                " (correlated covariance)"
            }
        ));
    }
    if let Some(values) = &sc.values {
        out.push_str(&crate::report::coalition_values::describe(
            values,
            &sc.source_name,
        )?);
    }
    out.push_str(&format!("graph       {}", sc.graph_kind));
    if m.num_populations() > 1 {
        let nb: Vec<String> = (0..m.num_populations())
            .map(|k| {
                let list: Vec<String> = m
                    .graph
                    .neighbours(k)
                    .iter()
                    .map(|j| (j + 1).to_string())
                    .collect();
                format!("{}→{{{}}}", k + 1, list.join(","))
            })
            .collect();
        out.push_str(&format!("; population tracks neighbours: {}", nb.join(" ")));
    }
    out.push('\n');
    let s = &sc.settings;
    let gd = sc.grid_dim();
    let mut pts: Vec<String> = s
        .points_per_axis(gd)
        .iter()
        .map(|n| n.to_string())
        .collect();
    if sc.is_modal() {
        pts[0].push_str(" per mode (a 1-D grid each)");
    }
    let domain = match &s.domain {
        Domain::Auto => "auto".to_string(),
        Domain::Explicit(l) => l
            .iter()
            .map(|(a, b)| format!("[{}, {}]", num(*a, 4), num(*b, 4)))
            .collect::<Vec<_>>()
            .join(" × "),
    };
    out.push_str(&format!(
        "solver      points {}, steps {} (dt = {}), domain {}\n",
        pts.join("×"),
        s.steps,
        num(m.horizon / s.steps as f64, 4),
        domain
    ));
    out.push_str(&format!(
        "            damping {}, tol {:e}, max_iter {}, acceleration {}, snapshot_every {}\n",
        num(s.damping, 3),
        s.tol,
        s.max_iter,
        s.acceleration_name(),
        s.snapshot_every()
    ));
    if s.scheme != tufield_solvers::scheme::SchemeKind::Monotone {
        out.push_str(&format!("            scheme {}\n", s.scheme.name()));
    }
    for w in crate::run::warnings::check_warnings(sc)? {
        out.push_str(&format!("{w}\n"));
    }
    Ok(out)
}
