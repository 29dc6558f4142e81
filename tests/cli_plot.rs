//! `tufield plot`: figures of solve and lq files are non-empty PNGs of the documented size;
//! a file that is not a tufield output is refused with exit code 2.

mod common;

use common::{png_size, scenario, tufield_in};
use tempfile::TempDir;

#[test]
fn solve_and_lq_files_give_pngs_of_the_documented_size() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_2d_chain3.toml");
    let sc = sc.to_str().unwrap();
    let set = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    let mut args = vec!["solve", sc, "--out", "run.h5", "-q"];
    args.extend(set);
    assert_eq!(tufield_in(d, &args).code, 0);
    let mut args = vec!["lq", sc, "--out", "run_lq.h5", "-q"];
    args.extend(set);
    assert_eq!(tufield_in(d, &args).code, 0);

    let run = tufield_in(d, &["plot", "run.h5", "--out", "figs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run_lq = tufield_in(d, &["plot", "run_lq.h5", "--out", "figs"]);
    assert_eq!(run_lq.code, 0, "{}", run_lq.stderr);
    let mut names: Vec<String> = std::fs::read_dir(d.join("figs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "run_core.png",
            "run_density_0.png",
            "run_density_1.png",
            "run_density_2.png",
            "run_lq_means.png",
            "run_means.png",
            "run_residual.png"
        ]
    );
    for n in &names {
        let p = d.join("figs").join(n);
        assert_eq!(png_size(&p), (1200, 800), "{n}");
        // A blank canvas compresses to a few kB; drawn figures are much larger.
        assert!(
            std::fs::metadata(&p).unwrap().len() > 20_000,
            "{n} looks empty"
        );
    }
}

#[test]
fn plot_refuses_files_that_are_not_tufield_outputs() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("x.h5"), b"not hdf5").unwrap();
    let run = tufield_in(dir.path(), &["plot", "x.h5"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("x.h5"), "{}", run.stderr);
    let missing = tufield_in(dir.path(), &["plot", "nope.h5"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no figure written");
}

#[test]
fn density_panels_at_chosen_times_and_bad_times_refused() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let sc = scenario("lqc_1d_chain3.toml");
    let args = [
        "solve",
        sc.to_str().unwrap(),
        "--out",
        "one.h5",
        "-q",
        "--set",
        "solver.points=41",
        "--set",
        "solver.steps=20",
    ];
    assert_eq!(tufield_in(d, &args).code, 0);
    let run = tufield_in(
        d,
        &["plot", "one.h5", "--out", "a", "--times", "0,0.25,0.5,1"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(png_size(&d.join("a/one_density_0.png")), (1200, 800));
    let bad = tufield_in(
        d,
        &["plot", "one.h5", "--out", "b", "--times", "0,1,2,3,4,5,6"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--times"), "{}", bad.stderr);
    assert!(!d.join("b").exists());
}
