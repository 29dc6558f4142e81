//! `tufield paper --quick`: the report's claims table lists Figures 5–9 with verdicts that
//! agree with the simulate files' attributes, every figure it names exists and is a PNG,
//! the numbers are finite, the stability statement matches the file's spectral radius,
//! an unwritable --out fails with exit 1 leaving nothing behind, and SIGINT during a run
//! leaves nothing either (its temporary directory is removed).

mod common;

use common::{png_size, root, tufield_in};
use std::path::Path;
use tempfile::TempDir;

fn str_attr(file: &Path, name: &str) -> String {
    let f = hdf5::File::open(file).unwrap();
    f.attr(name)
        .unwrap()
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

/// Every number written in `text` (digits with an optional sign, point and exponent).
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || (c == '.' || c == 'e' || c == '-') && !cur.is_empty() {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(cur.clone());
            }
            cur.clear();
            if c.is_ascii_digit() {
                cur.push(c);
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn quick_report_puts_each_claim_next_to_a_measurement_consistent_with_the_files() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let scenarios = root().join("scenarios");
    let run = tufield_in(
        d,
        &[
            "paper",
            "--quick",
            "--out",
            "rep",
            "--scenarios",
            scenarios.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = d.join("rep");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    // Only the finished directory is left (no temporary next to it).
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["rep"], "{left:?}");

    let rows: Vec<&str> = report
        .lines()
        .skip_while(|l| !l.starts_with("## Claims"))
        .filter(|l| l.starts_with("| ") && !l.starts_with("| figure") && !l.starts_with("| ---"))
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let claims: Vec<&str> = rows
        .iter()
        .copied()
        .take_while(|l| l.split(" | ").count() >= 8)
        .collect();
    let figures: Vec<&str> = claims
        .iter()
        .map(|l| l.trim_start_matches("| ").split(" | ").next().unwrap())
        .collect();
    assert_eq!(figures, ["5", "6", "7", "8", "9"], "{report}");
    for row in &claims {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        let (fig, verdict, measured, file) = (cells[0], cells[2], cells[3], cells[4]);
        let h5 = out.join(file);
        assert!(h5.is_file(), "figure {fig}: {file} missing");
        // The verdict in the report is the file's attribute.
        assert_eq!(str_attr(&h5, "paper_check"), verdict, "figure {fig}");
        let stored = str_attr(&h5, "paper_findings");
        for part in measured.split("<br>") {
            let finding = part.split_once("): ").unwrap().1.replace("\\|", "|");
            assert!(
                stored.contains(&finding),
                "figure {fig}: {finding} not in {stored}"
            );
        }
        for n in numbers(measured) {
            let v: f64 = n
                .trim_end_matches(['.', 'e', '-'])
                .parse()
                .unwrap_or_else(|_| panic!("{n:?} in {measured}"));
            assert!(v.is_finite(), "figure {fig}: {n}");
        }
        // Shipped Section 8.1 figures reproduce; Section 8.2's depart and are restored.
        match fig {
            "5" | "6" => assert_eq!(verdict, "reproduced", "figure {fig}: {measured}"),
            _ => {
                assert_eq!(verdict, "departs", "figure {fig}: {measured}");
                assert_eq!(
                    cells[6].split(':').next().unwrap(),
                    "reproduced",
                    "figure {fig}"
                );
                let restored = out.join(cells[7]);
                assert_eq!(str_attr(&restored, "paper_check"), "reproduced");
                assert!(!str_attr(&restored, "paper_restore").is_empty());
            }
        }
    }
    // Figure 8's instability is stated with the file's spectral radius.
    let f8 = hdf5::File::open(out.join("figure_8.h5")).unwrap();
    let rho: f64 = f8
        .group("heuristic/second_order")
        .unwrap()
        .attr("spectral_radius")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert!(rho > 1.0, "{rho}");
    let row8 = claims[3];
    assert!(
        row8.contains(&format!("unstable (ρ = {rho:.3} > 1")),
        "{row8}"
    );
    // Figure 7 departs on the slow direction the report names (eigenvalue of A −0.097).
    assert!(
        claims[2].contains("eigenvalue -0.097 of A"),
        "{}",
        claims[2]
    );
    // Every figure the report shows exists and is a PNG of the figure size.
    let images: Vec<&str> = report
        .lines()
        .filter_map(|l| l.strip_prefix("!["))
        .map(|l| l.split("](").nth(1).unwrap().trim_end_matches(')'))
        .collect();
    assert_eq!(images.len(), 8, "{images:?}");
    for img in images {
        assert_eq!(png_size(&out.join(img)), (1200, 800), "{img}");
    }
    // The corrections are listed, each with its reason.
    for what in [
        "χ equation",
        "Theorem 4",
        "Table 5: std(m₀)",
        "(42): the noise",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with("| ") && l.contains(what))
            .unwrap_or_else(|| panic!("{what} not in the corrections"));
        assert_eq!(line.split(" | ").count(), 4, "{line}");
    }
}

#[test]
fn an_unwritable_out_fails_with_exit_1_and_leaves_nothing() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    std::fs::write(d.join("file"), b"x").unwrap();
    let scenarios = root().join("scenarios");
    let run = tufield_in(
        d,
        &[
            "paper",
            "--quick",
            "--out",
            "file/rep",
            "--scenarios",
            scenarios.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("file/rep"), "{}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["file"]);
    // A directory without [paper] scenarios is bad input.
    let empty = tufield_in(d, &["paper", "--out", "x", "--scenarios", "."]);
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    assert!(empty.stderr.contains("--scenarios"), "{}", empty.stderr);
    assert!(!d.join("x").exists());
}

#[test]
fn a_bad_paper_table_is_refused_naming_its_key() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let text = std::fs::read_to_string(common::scenario("paper_7d_chain5_fig7.toml")).unwrap();
    for (from, to, key) in [
        (
            r#"checks = ["copies-settle", "consensus-stable"]"#,
            r#"checks = ["copies-settle", "settles-somehow"]"#,
            "paper.checks",
        ),
        (
            r#"policy = "second-order""#,
            r#"policy = "magic""#,
            "paper.policy",
        ),
        (
            r#"restore = ["cost.q=10", "cost.s=10"]"#,
            r#"restore = ["cost.q"]"#,
            "paper.restore",
        ),
        ("figure = 7", "figure = 0", "paper.figure"),
    ] {
        assert!(text.contains(from), "{from}");
        let sc = common::write(d, "bad.toml", &text.replace(from, to));
        let run = tufield_in(d, &["check", sc.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{key}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{key}: {}", run.stderr);
    }
}

#[test]
fn lq_states_the_departure_and_its_restoration_in_the_summary_and_the_file() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = common::scenario("paper_7d_chain5_fig7.toml");
    let sc = sc.to_str().unwrap();
    let shipped = tufield_in(d, &["lq", sc, "--out", "a.h5"]);
    assert_eq!(shipped.code, 0, "{}", shipped.stderr);
    assert!(
        shipped.stdout.contains("DEPARTS copies-settle"),
        "{}",
        shipped.stdout
    );
    assert!(
        shipped.stdout.contains("eigenvalue -0.097 of A"),
        "{}",
        shipped.stdout
    );
    assert!(shipped.stdout.contains("ρ_k"), "{}", shipped.stdout);
    assert!(
        shipped
            .stdout
            .contains("restore its behaviour with --set cost.q=10 --set cost.s=10"),
        "{}",
        shipped.stdout
    );
    let a = d.join("a.h5");
    assert_eq!(str_attr(&a, "paper_check"), "departs");
    assert!(str_attr(&a, "paper_departure").contains("slowest closed-loop direction"));
    assert_eq!(
        str_attr(&a, "paper_restore"),
        "--set cost.q=10 --set cost.s=10"
    );
    let restored = tufield_in(
        d,
        &[
            "lq",
            sc,
            "--out",
            "b.h5",
            "--set",
            "cost.q=10",
            "--set",
            "cost.s=10",
        ],
    );
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    assert!(
        restored.stdout.contains("holds   copies-settle"),
        "{}",
        restored.stdout
    );
    let b = d.join("b.h5");
    assert_eq!(str_attr(&b, "paper_check"), "reproduced");
    assert_eq!(str_attr(&b, "paper_departure"), "");
}

/// SIGINT while `tufield paper` writes into its temporary directory `.<out>.tmp-<pid>`:
/// the process exits with 130 and neither the temporary directory nor `--out` is left.
#[test]
fn sigint_during_a_run_removes_the_temporary_directory() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let scenarios = root().join("scenarios");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tufield"))
        .current_dir(d)
        .args(["-q", "paper", "--quick", "--out", "rep", "--scenarios"])
        .arg(&scenarios)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let tmp = d.join(format!(".rep.tmp-{}", child.id()));
    // Wait until the run has written something into its temporary directory.
    let mut waited = 0;
    while std::fs::read_dir(&tmp).map_or(true, |mut e| e.next().is_none()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was interrupted"
        );
        assert!(waited < 60_000, "no temporary directory after 60 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
        waited += 5;
    }
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
