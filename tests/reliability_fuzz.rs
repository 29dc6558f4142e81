//! Property test: `tufield check` on mutated valid scenarios (values replaced by other
//! types or extreme numbers, keys added or removed, lines duplicated, text truncated)
//! never panics, exits 0 or 2, names a key or a line when it exits 2, and leaves no file
//! behind. A few hundred cases, one process each.

mod common;

use proptest::prelude::*;
use std::process::Command;

const BASES: [&str; 3] = [
    "lqc_2d_chain3.toml",
    "lqc_1d_chain3.toml",
    "lqc_1d_single.toml",
];

const VALUES: [&str; 24] = [
    "-1",
    "0",
    "1e300",
    "-1e300",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "[]",
    "[[]]",
    "[[1e308, 1], [1, 1]]",
    "[1, 2, 3, 4]",
    "true",
    "\"x\"",
    "{ a = 1 }",
    "9223372036854775807",
    "-9223372036854775808",
    "0.5",
    "[0.5, -0.5]",
    "[[1, 0], [0, 2]]",
    "\"chain\"",
    "[[1], [1, 2]]",
    "1000000",
    "2",
];

const KEYS: [&str; 12] = [
    "q", "s", "r", "gamma", "sigma", "t", "mean", "std", "cov", "points", "steps", "kind",
];

const TABLES: [&str; 8] = [
    "[cost]",
    "[noise]",
    "[solver]",
    "[[population]]",
    "[graph]",
    "[game]",
    "[bounds]",
    "[model]",
];

/// One mutation of the scenario text.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value of the n-th `key = value` line.
    Value(usize, usize),
    /// Insert `key = value` after the n-th line.
    AddKey(usize, usize, usize),
    /// Insert a table header after the n-th line.
    AddTable(usize, usize),
    /// Delete the n-th line.
    Delete(usize),
    /// Duplicate the n-th line.
    Duplicate(usize),
    /// Keep only the first fraction (per mille) of the text.
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..200usize, 0..VALUES.len()).prop_map(|(n, v)| Mutation::Value(n, v)),
        (0..200usize, 0..KEYS.len(), 0..VALUES.len())
            .prop_map(|(n, k, v)| Mutation::AddKey(n, k, v)),
        (0..200usize, 0..TABLES.len()).prop_map(|(n, t)| Mutation::AddTable(n, t)),
        (0..200usize).prop_map(Mutation::Delete),
        (0..200usize).prop_map(Mutation::Duplicate),
        (0..1000usize).prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::Value(i, v) => {
            let values: Vec<usize> = (0..lines.len())
                .filter(|&j| !lines[j].trim_start().starts_with('#') && lines[j].contains(" = "))
                .collect();
            if !values.is_empty() {
                let j = values[i % values.len()];
                let key = lines[j].split(" = ").next().unwrap().to_string();
                lines[j] = format!("{key} = {}", VALUES[v]);
            }
        }
        Mutation::AddKey(i, k, v) => lines.insert(i % n, format!("{} = {}", KEYS[k], VALUES[v])),
        Mutation::AddTable(i, t) => lines.insert(i % n, TABLES[t].to_string()),
        Mutation::Delete(i) => {
            if !lines.is_empty() {
                lines.remove(i % n);
            }
        }
        Mutation::Duplicate(i) => {
            if !lines.is_empty() {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
        }
        Mutation::Truncate(per_mille) => {
            let mut cut = text.len() * per_mille / 1000;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_string();
        }
    }
    lines.join("\n") + "\n"
}

/// An exit-2 message names what is wrong: a line of the file, a key (dotted path or a
/// table name) or the file as a whole.
fn names_a_key_or_line(stderr: &str) -> bool {
    const WORDS: [&str; 16] = [
        "line ",
        "game",
        "model",
        "cost",
        "noise",
        "horizon",
        "population",
        "graph",
        "solver",
        "bounds",
        "heuristic",
        "name",
        "description",
        "reduction",
        "missing",
        "unknown",
    ];
    stderr.starts_with("error: s.toml: ") && WORDS.iter().any(|w| stderr.contains(w))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic_and_errors_name_the_key(
        base in 0..BASES.len(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let text = std::fs::read_to_string(common::scenario(BASES[base])).unwrap();
        let mutated = mutations.iter().fold(text, |t, m| apply(&t, m));
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("s.toml"), &mutated).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tufield"))
            .args(["check", "s.toml", "--quiet"])
            .current_dir(dir.path())
            .env("OPENBLAS_NUM_THREADS", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code();
        prop_assert!(!stderr.contains("panicked"), "panic on\n{mutated}\n{stderr}");
        prop_assert!(code == Some(0) || code == Some(2), "exit {code:?} on\n{mutated}\n{stderr}");
        if code == Some(2) {
            prop_assert!(names_a_key_or_line(&stderr), "vague message on\n{mutated}\n{stderr}");
        }
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        prop_assert_eq!(names, vec!["s.toml".to_string()], "files left behind");
    }
}
