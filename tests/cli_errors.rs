//! Malformed scenarios and bad arguments: exit code 2 (invalid input) with a message that
//! names the scenario key; never a panic.

mod common;

use common::{tufield, write, GAME_2D, MINIMAL};
use tempfile::TempDir;

/// Runs `check` on `text` and returns (exit code, stderr).
fn check_text(text: &str, extra: &[&str]) -> (i32, String) {
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "s.toml", text);
    let mut args = vec!["check", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = tufield(&args);
    (r.code, r.stderr)
}

fn assert_invalid(text: &str, extra: &[&str], needles: &[&str]) {
    let (code, err) = check_text(text, extra);
    assert_eq!(code, 2, "expected exit 2, stderr:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("s.toml: "),
        "message must name the file: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "message must contain {n:?}:\n{err}");
    }
}

#[test]
fn the_base_scenarios_are_valid() {
    assert_eq!(check_text(MINIMAL, &[]).0, 0);
    assert_eq!(check_text(GAME_2D, &[]).0, 0);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    assert_invalid(
        &MINIMAL.replace("sigma = 0.3", "sigma = 0.3\nsigm = 1"),
        &[],
        &["noise.sigm: unknown key", "allowed keys here: sigma"],
    );
    assert_invalid(
        &format!("colour = 1\n{MINIMAL}"),
        &[],
        &["colour: unknown key"],
    );
    assert_invalid(
        &MINIMAL.replace("std = [0.2]", "std = [0.2]\nweight = 2"),
        &[],
        &["population[1].weight: unknown key"],
    );
}

#[test]
fn wrong_shape_of_q_names_the_key_and_the_allowed_shapes() {
    assert_invalid(
        &GAME_2D.replace("q = 1.0", "q = [1.0, 2.0, 3.0]"),
        &[],
        &[
            "cost.q: expected a number or a 2×2 matrix",
            "a list of 3 numbers",
        ],
    );
    assert_invalid(
        &GAME_2D.replace(
            "q = 1.0",
            "q = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]",
        ),
        &[],
        &["cost.q: expected a number or a 2×2 matrix, got a 3×3 matrix"],
    );
    assert_invalid(
        &MINIMAL.replace("q = 1.0", "q = \"one\""),
        &[],
        &["cost.q: expected a number or a 1×1 matrix"],
    );
}

#[test]
fn missing_horizon_table_is_named() {
    assert_invalid(
        &MINIMAL.replace("[horizon]\nt = 1.0\n", ""),
        &[],
        &["horizon: missing table [horizon]"],
    );
    assert_invalid(
        &MINIMAL.replace("t = 1.0", ""),
        &[],
        &["horizon.t: missing"],
    );
}

#[test]
fn std_and_cov_together_are_refused() {
    assert_invalid(
        &MINIMAL.replace("std = [0.2]", "std = [0.2]\ncov = [[0.04]]"),
        &[],
        &["population[1].cov: give either std", "not both"],
    );
    assert_invalid(
        &MINIMAL.replace("std = [0.2]", ""),
        &[],
        &["population[1].std: missing"],
    );
}

#[test]
fn isolated_population_in_the_graph_is_refused() {
    assert_invalid(
        &GAME_2D.replace("kind = \"chain\"", "kind = \"edges\"\nedges = [[1, 2]]"),
        &[],
        &["graph: population 3 has no neighbour"],
    );
    assert_invalid(
        &GAME_2D.replace("kind = \"chain\"", "kind = \"ring\"\nedges = [[1, 2]]"),
        &[],
        &["graph.edges: edges are only read with kind = \"edges\""],
    );
    assert_invalid(
        &GAME_2D.replace("[graph]\nkind = \"chain\"\n", ""),
        &[],
        &["graph: missing"],
    );
}

#[test]
fn condition_17_refusal_names_the_condition_and_the_smallest_gamma() {
    // Coalitions {1,2}, {1,3}, {1,2,3} of the 3-player game with R = I: λ_min(P B Bᵀ Pᵀ)
    // = (7 − √33)/2, so γ must exceed 1/√λ_min = 1.2622 and γ = 1 is ill-posed.
    let text = GAME_2D
        .replace(
            "coalitions = [[1], [1, 2]]",
            "coalitions = [[1, 2], [1, 3], [1, 2, 3]]",
        )
        .replace("gamma = 2.0", "gamma = 1.0")
        .replace("s = [[1.0, 0.0], [0.0, 2.0]]", "s = 1.0")
        .replace("[-1.0, 0.0]", "[-1.0, 0.0, 0.0]")
        .replace("[0.0, 0.5]", "[0.0, 0.5, 0.0]")
        .replace(
            "[1.0, 0.0]\ncov = [[0.09, 0.01], [0.01, 0.09]]",
            "[1.0, 0.0, 0.0]\nstd = [0.3, 0.3, 0.3]",
        )
        .replace("std = [0.3, 0.3]", "std = [0.3, 0.3, 0.3]");
    let expected_min_gamma = 1.0 / ((7.0 - 33f64.sqrt()) / 2.0).sqrt();
    assert!((expected_min_gamma - 1.262169).abs() < 1e-6);
    assert_invalid(
        &text,
        &[],
        &[
            "cost.gamma: condition (17)",
            "smallest admissible γ is 1.262169",
        ],
    );
    // The same scenario with γ = 1.3 > 1.2622 is accepted.
    let (code, err) = check_text(&text.replace("gamma = 1.0", "gamma = 1.3"), &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn modal_reduction_takes_no_coalition_list() {
    // reduction = "modal" solves the full game on all q coalitions (tests/cli_modal.rs has
    // the other modal refusals).
    assert_invalid(
        &GAME_2D.replace("players = 3", "players = 3\nreduction = \"modal\""),
        &[],
        &["game.coalitions: not used with reduction = \"modal\""],
    );
}

#[test]
fn game_and_model_are_mutually_exclusive_and_one_is_required() {
    assert_invalid(
        &format!("{GAME_2D}\n[model]\na = [[-1.0]]\n"),
        &[],
        &["model: [model] cannot be combined with [game]"],
    );
    assert_invalid(
        &MINIMAL.replace("[model]\na = [[-0.75]]\n", ""),
        &[],
        &["game: missing"],
    );
    assert_invalid(
        &MINIMAL.replace("[cost]", "[cost]\ngamma = 2.0"),
        &[],
        &["cost.gamma: only used with [game]"],
    );
}

#[test]
fn values_out_of_range_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("sigma = 0.3", "sigma = -0.3", "noise.sigma: got -0.3"),
        ("t = 1.0", "t = 0.0", "horizon.t: got 0"),
        ("t = 1.0", "t = 1000000.0", "horizon.t: got 1000000"),
        ("a = [[-0.75]]", "a = [[0.75]]", "model.a: condition (17)"),
        (
            "a = [[-0.75]]",
            "a = [[-1.0, 0.1], [0.2, -1.0]]",
            "model.a: matrix must be symmetric",
        ),
        (
            "mean = [0.5]",
            "mean = [0.5, 1.0]",
            "population[1].mean: expected 1 numbers",
        ),
        (
            "std = [0.2]",
            "std = [0.0]",
            "population[1].std: standard deviations must be finite and > 0",
        ),
        (
            "s = 1.0",
            "s = -1.0",
            "cost.s: must be positive semidefinite",
        ),
        ("q = 1.0", "q = nan", "cost.q: entries must be finite"),
    ];
    for (from, to, needle) in cases {
        assert_invalid(&MINIMAL.replace(from, to), &[], &[needle]);
    }
    let solver: &[(&str, &str)] = &[
        ("points = 2", "solver.points: expected an integer ≥ 3"),
        (
            "points = [11, 11]",
            "solver.points: expected an integer ≥ 3 or a list of 1",
        ),
        ("steps = 0", "solver.steps: must be an integer in 1..="),
        (
            "steps = 2.5",
            "solver.steps: invalid type: floating point `2.5`, expected an integer",
        ),
        ("damping = 1.5", "solver.damping: got 1.5"),
        ("tol = 0", "solver.tol"),
        ("max_iter = 0", "solver.max_iter"),
        (
            "acceleration = \"fast\"",
            "solver.acceleration: unknown acceleration \"fast\"",
        ),
        (
            "acceleration = \"none\"\nanderson_depth = 3",
            "solver.anderson_depth: only used with",
        ),
        (
            "anderson_depth = 0",
            "solver.anderson_depth: must be an integer in 1..=50",
        ),
        ("domain = \"big\"", "solver.domain: expected \"auto\""),
        (
            "domain = [[1.0, -1.0]]",
            "solver.domain: axis 1: expected [lo, hi] with finite lo < hi",
        ),
        ("snapshot_every = 0", "solver.snapshot_every"),
        ("points = 100000000", "solver.points: the grid would have"),
    ];
    for (line, needle) in solver {
        assert_invalid(&format!("{MINIMAL}\n[solver]\n{line}\n"), &[], &[needle]);
    }
    let game: &[(&str, &str, &str)] = &[
        (
            "players = 3",
            "players = 9",
            "game.players: must be an integer in 1..=6",
        ),
        (
            "coalitions = [[1], [1, 2]]",
            "coalitions = [[1], [4]]",
            "game.coalitions[2]: player 4 does not exist",
        ),
        (
            "coalitions = [[1], [1, 2]]",
            "coalitions = [[1], [1, 1]]",
            "game.coalitions[2]: a player is listed twice",
        ),
        (
            "coalitions = [[1], [1, 2]]",
            "coalitions = [[1], [2, 1], [1, 2]]",
            "game.coalitions[3]: this coalition is listed twice",
        ),
        (
            "coalitions = [[1], [1, 2]]",
            "coalitions = [[1], [2], [3], [1, 2]]",
            "game.coalitions: got 4 coalitions",
        ),
        (
            "gamma = 2.0",
            "gamma = 2.0\ngamma_matrix = 1.0",
            "give either cost.gamma",
        ),
        ("gamma = 2.0", "", "cost.gamma: missing"),
        (
            "gamma = 2.0",
            "gamma = 2.0\nr = [[1.0]]",
            "cost.r: expected a number or a 9×9 matrix",
        ),
        ("gamma = 2.0", "gamma = 2.0\nr = -1.0", "cost.r: got -1"),
    ];
    for (from, to, needle) in game {
        assert_invalid(&GAME_2D.replace(from, to), &[], &[needle]);
    }
}

#[test]
fn toml_syntax_errors_give_the_line() {
    let (code, err) = check_text("[noise]\nsigma = = 3\n", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("s.toml: TOML syntax error at line 2"), "{err}");
}

#[test]
fn garbage_never_panics() {
    let inputs = [
        "",
        "\u{0}\u{1}\u{2}",
        "[[[",
        "population = 3",
        "[[population]]\nmean = \"x\"",
        "[solver]\npoints = -5",
        "[cost]\nq = [[[1]]]",
        "[model]\na = []",
        "[model]\na = [[1e308, 1e308], [1e308, 1e308]]",
        "[game]\nplayers = -1\ncoalitions = [[]]",
        "[graph]\nkind = 3",
    ];
    for text in inputs {
        let (code, err) = check_text(text, &[]);
        assert_eq!(code, 2, "input {text:?}: {err}");
    }
    let big = MINIMAL
        .replace("a = [[-0.75]]", "a = [[-1e308]]")
        .replace("q = 1.0", "q = 1e308");
    let dir = TempDir::new().unwrap();
    let p = write(dir.path(), "s.toml", &big);
    let r = tufield(&[
        "lq",
        p.to_str().unwrap(),
        "--out",
        dir.path().join("o.h5").to_str().unwrap(),
    ]);
    assert!([0, 2, 3].contains(&r.code), "{}", r.stderr);
}

#[test]
fn invalid_set_paths_exit_2() {
    let (code, err) = check_text(MINIMAL, &["--set", "noise.sigma.x=1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: --set noise.sigma.x=1: noise.sigma: is a float, not a table"),
        "{err}"
    );
    let (code, err) = check_text(MINIMAL, &["--set", "population.2.mean=[1.0]"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("population: is an array of 1 entries"),
        "{err}"
    );
    let (code, err) = check_text(MINIMAL, &["--set", "solver.nonsense=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("solver.nonsense: unknown key"), "{err}");
    let (code, err) = check_text(MINIMAL, &["--set", "noise.sigma"]);
    assert_eq!(code, 2);
    assert!(err.contains("missing `=`"), "{err}");
    let (code, err) = check_text(MINIMAL, &["--set", "cost.q=[[1,0],[0,2]]"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cost.q: expected a number or a 1×1 matrix, got a 2×2 matrix"),
        "{err}"
    );
}

#[test]
fn bad_command_lines_exit_2() {
    let r = tufield(&["check"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = tufield(&["frobnicate"]);
    assert_eq!(r.code, 2);
    let r = tufield(&["--threads", "0", "check", "scenarios/lqc_1d_single.toml"]);
    assert_eq!(r.code, 2);
    let r = tufield(&["check", "no/such/scenario.toml"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no/such/scenario.toml: cannot read the scenario file"),
        "{}",
        r.stderr
    );
}

#[test]
fn bad_bounds_are_refused_naming_the_key() {
    let bounded = |b: &str| format!("{GAME_2D}\n[bounds]\n{b}\n");
    assert_eq!(check_text(&bounded("allocation = 0.5"), &[]).0, 0);
    assert_eq!(check_text(&bounded("disturbance = 0.5"), &[]).0, 0);
    for bad in ["allocation = -1.0", "allocation = 0.0", "allocation = inf"] {
        assert_invalid(&bounded(bad), &[], &["bounds.allocation", "> 0"]);
    }
    assert_invalid(
        &bounded("disturbance = nan"),
        &[],
        &["bounds.disturbance", "> 0"],
    );
    assert_invalid(
        &bounded("allocation = \"big\""),
        &[],
        &["bounds.allocation"],
    );
    assert_invalid(
        &bounded("allocations = 1.0"),
        &[],
        &["bounds.allocations: unknown key", "allocation, disturbance"],
    );
    // An expert A has no allocation/disturbance split.
    assert_invalid(
        &format!("{MINIMAL}\n[bounds]\nallocation = 1.0\n"),
        &[],
        &["bounds.allocation", "[game]"],
    );
    // Bounds act channel by channel: a non-diagonal R is refused.
    let r = "r = [[1.0, 0.1, 0, 0, 0, 0, 0, 0, 0], [0.1, 1, 0, 0, 0, 0, 0, 0, 0], \
             [0, 0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0], \
             [0, 0, 0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 1, 0], \
             [0, 0, 0, 0, 0, 0, 0, 0, 1]]";
    assert_invalid(
        &bounded("allocation = 0.5").replace("gamma = 2.0", &format!("gamma = 2.0\n{r}")),
        &[],
        &["bounds.allocation", "diagonal R"],
    );
}

#[test]
fn bounds_are_refused_for_modal_scenarios() {
    let sc = common::scenario("lqc_7d_modal_chain3.toml");
    let text = std::fs::read_to_string(sc).unwrap();
    assert_invalid(
        &format!("{text}\n[bounds]\nallocation = 1.0\n"),
        &[],
        &["bounds.allocation", "modes"],
    );
}
