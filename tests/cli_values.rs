//! `[game.values]`: the static TU game in `tufield check` — the paper's Example 1 shipped as
//! a scenario, the cost form of the same game, an empty core, and bad input (exit 2 naming
//! the coalition, the input file untouched).

mod common;

use common::{scenario, tufield, write};
use tempfile::TempDir;

/// The dynamic part every test scenario shares (a 1-D projection on {1}).
const DYNAMIC: &str = r#"
[cost]
q = 1.0
s = 1.0
gamma = 2.0

[noise]
sigma = 0.5

[horizon]
t = 1.0

[[population]]
name = "p"
mean = [0.0]
std = [1.0]
"#;

fn with_values(values: &str) -> String {
    format!("[game]\nplayers = 3\ncoalitions = [[1]]\n\n[game.values]\n{values}\n{DYNAMIC}")
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in\n{stdout}"))
}

#[test]
fn example_1_scenario_prints_core_shapley_and_nucleolus() {
    let p = scenario("example1_1d_mst.toml");
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(
        line(out, "imputation set").contains("non-empty: v(N) = 130 ≥ Σ v({i}) = 0"),
        "{out}"
    );
    // Hand computation (solvers/tests/coop.rs): the least core is the single point
    // (140/3, 110/3, 140/3) with smallest surplus 70/3, which is also the nucleolus; the
    // Shapley value is (45, 40, 45).
    assert!(
        line(out, "core").contains("non-empty; a point (46.6667, 36.6667, 46.6667)"),
        "{out}"
    );
    assert!(line(out, "core").contains("23.3333"), "{out}");
    assert_eq!(
        line(out, "Shapley value"),
        "Shapley value     (45, 40, 45), in the core"
    );
    assert_eq!(
        line(out, "nucleolus"),
        "nucleolus         (46.6667, 36.6667, 46.6667), in the core"
    );
}

#[test]
fn example_1_as_a_cost_game_gives_cost_shares() {
    let dir = TempDir::new().unwrap();
    let p = write(
        dir.path(),
        "cost.toml",
        &with_values(
            "kind = \"cost\"\n\"1\" = 100\n\"2\" = 90\n\"3\" = 80\n\"1,2\" = 130\n\
             \"1,3\" = 110\n\"3,2\" = 110\n\"1,2,3\" = 140",
        ),
    );
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(line(out, "coalition values").contains("cost game"), "{out}");
    assert!(
        line(out, "imputation set").contains("c(N) = 140 ≤ Σ c({i}) = 270"),
        "{out}"
    );
    // Cost shares = c({i}) minus the savings game's solutions.
    assert_eq!(
        line(out, "Shapley value"),
        "Shapley value     (55, 50, 35), in the core"
    );
    assert_eq!(
        line(out, "nucleolus"),
        "nucleolus         (53.3333, 53.3333, 33.3333), in the core"
    );
}

#[test]
fn majority_game_has_an_empty_core() {
    let dir = TempDir::new().unwrap();
    let p = write(
        dir.path(),
        "majority.toml",
        &with_values("\"1,2\" = 1\n\"1,3\" = 1\n\"2,3\" = 1\n\"1,2,3\" = 1"),
    );
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(line(out, "core").contains("EMPTY"), "{out}");
    assert!(line(out, "core").contains("-0.3333"), "{out}");
    assert_eq!(
        line(out, "nucleolus"),
        "nucleolus         (0.3333, 0.3333, 0.3333), an imputation, not in the core"
    );
}

#[test]
fn empty_imputation_set_is_reported() {
    let dir = TempDir::new().unwrap();
    let p = write(
        dir.path(),
        "empty.toml",
        &with_values("\"1\" = 1\n\"2\" = 1\n\"3\" = 1\n\"1,2,3\" = 2"),
    );
    let r = tufield(&["check", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        line(&r.stdout, "imputation set").contains("EMPTY: v(N) = 2 < Σ v({i}) = 3"),
        "{}",
        r.stdout
    );
    assert!(
        line(&r.stdout, "nucleolus").contains("none"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_values_exit_2_naming_the_coalition() {
    let dir = TempDir::new().unwrap();
    for (values, key) in [
        ("\"1,4\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"1,4\""),
        ("\"2,2\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"2,2\""),
        ("\"\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"\""),
        ("\"1,2\" = 1.0", "game.values.\"1,2,3\""),
        ("\"1,3\" = nan\n\"1,2,3\" = 1.0", "game.values.\"1,3\""),
        ("\"1,3\" = -inf\n\"1,2,3\" = 1.0", "game.values.\"1,3\""),
        ("kind = \"utility\"\n\"1,2,3\" = 1.0", "game.values.kind"),
    ] {
        let text = with_values(values);
        let p = write(dir.path(), "bad.toml", &text);
        let r = tufield(&["check", p.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{values}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(key), "{values}: {}", r.stderr);
        // The input is left as it was and nothing else is written.
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
