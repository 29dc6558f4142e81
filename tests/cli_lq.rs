//! `tufield lq`: the HDF5 file round-trips (shapes, attributes, values equal to the
//! in-memory oracle), overrides are stored, failed writes leave nothing behind.

mod common;

use common::{scenario, tufield, tufield_in};
use hdf5::types::VarLenUnicode;
use ndarray::{Array1, Array2, Array3};
use std::path::Path;
use tempfile::TempDir;
use tufield::oracle::compute;
use tufield::output::oracle::HEURISTIC_NOTE;
use tufield::overrides::Override;
use tufield::Scenario;

fn str_attr(loc: &hdf5::Location, name: &str) -> String {
    loc.attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

fn f64_attr(loc: &hdf5::Location, name: &str) -> f64 {
    loc.attr(name).unwrap().read_scalar::<f64>().unwrap()
}

fn run_lq(path: &Path, out: &Path, set: &[&str]) {
    let mut args = vec!["lq", path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    for s in set {
        args.push("--set");
        args.push(s);
    }
    let r = tufield(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("residuals"), "{}", r.stdout);
}

#[test]
fn lq_file_round_trips_against_the_in_memory_oracle() {
    let dir = TempDir::new().unwrap();
    for (name, set) in [
        ("lqc_1d_chain3.toml", vec![]),
        (
            "lqc_2d_chain3.toml",
            vec!["solver.steps=40", "population.3.mean=[0.75, 0.5]"],
        ),
        ("lqc_3d_single.toml", vec!["heuristic.theta=0.5"]),
    ] {
        let path = scenario(name);
        let out = dir.path().join(format!("{name}.h5"));
        run_lq(&path, &out, &set);

        let overrides: Vec<Override> = set.iter().map(|s| Override::parse(s).unwrap()).collect();
        let sc = Scenario::load(&path, &overrides).unwrap();
        let res = compute(&sc).unwrap();
        let ex = &res.exact;
        let steps = sc.settings.steps;
        let d = sc.dim();

        let f = hdf5::File::open(&out).unwrap();
        assert_eq!(str_attr(&f, "tufield_version"), env!("CARGO_PKG_VERSION"));
        assert_eq!(str_attr(&f, "scenario"), sc.text);
        for s in &set {
            assert!(sc.text.contains(&format!("--set {s}")), "{}", sc.text);
        }
        // The stored text is itself a valid scenario describing the same model.
        let again =
            Scenario::from_text("stored", "stored", &str_attr(&f, "scenario"), &[]).unwrap();
        assert_eq!(again.model, sc.model);
        assert_eq!(again.settings, sc.settings);
        let time: Array1<f64> = f.dataset("time").unwrap().read_1d().unwrap();
        assert_eq!(time.len(), steps + 1);
        assert_eq!(time, ex.time);

        let g = f.group("lq/exact").unwrap();
        assert_eq!(f64_attr(&g, "residual_initial"), ex.residual_initial);
        assert_eq!(f64_attr(&g, "residual_terminal"), ex.residual_terminal);
        assert!(ex.residual_initial < 1e-8 && ex.residual_terminal < 1e-8);
        let phi_ds = f.dataset("lq/exact/phi").unwrap();
        assert_eq!(phi_ds.shape(), vec![steps + 1, d, d]);
        assert!(
            phi_ds.attr("DIMENSION_LIST").is_ok(),
            "phi has the time dimension scale"
        );
        let phi: Array3<f64> = phi_ds.read().unwrap();
        assert_eq!(phi, ex.phi);

        let pops = f.group("lq/exact/populations").unwrap();
        assert_eq!(pops.len() as usize, sc.model.num_populations());
        for (k, pop) in ex.populations.iter().enumerate() {
            let pg = pops.group(&k.to_string()).unwrap();
            assert_eq!(str_attr(&pg, "name"), sc.model.populations[k].name);
            let mean: Array2<f64> = pg.dataset("mean").unwrap().read_2d().unwrap();
            assert_eq!(mean.dim(), (steps + 1, d));
            assert_eq!(mean, pop.mean);
            let h: Array2<f64> = pg.dataset("h").unwrap().read_2d().unwrap();
            assert_eq!(h, pop.h);
            let chi: Array1<f64> = pg.dataset("chi").unwrap().read_1d().unwrap();
            assert_eq!(chi.len(), steps + 1);
            assert_eq!(chi, pop.chi);
            let cov: Array3<f64> = pg.dataset("cov").unwrap().read().unwrap();
            assert_eq!(cov, pop.cov);
            // The initial means are the scenario's.
            for i in 0..d {
                assert!((mean[[0, i]] - sc.model.populations[k].mean[i]).abs() < 1e-12);
            }
        }
        // The heuristics, labelled as such, equal the in-memory ones.
        for path in [
            "lq/heuristic",
            "lq/heuristic/augmented_state",
            "lq/heuristic/consensus",
        ] {
            assert_eq!(
                str_attr(&f.group(path).unwrap(), "note"),
                HEURISTIC_NOTE,
                "{path}"
            );
        }
        let aug = f.group("lq/heuristic/augmented_state").unwrap();
        assert_eq!(f64_attr(&aug, "theta"), sc.theta);
        let p: Array3<f64> = aug.dataset("p").unwrap().read().unwrap();
        assert_eq!(p.dim(), (steps + 1, 2 * d, 2 * d));
        assert_eq!(p, res.augmented.p);
        let con = f.group("lq/heuristic/consensus").unwrap();
        let cphi: Array3<f64> = con.dataset("phi").unwrap().read().unwrap();
        assert_eq!(cphi, res.consensus.phi);
        for k in 0..sc.model.num_populations() {
            let ag = aug.group(&format!("populations/{k}")).unwrap();
            for (name, want) in [
                ("mean", &res.augmented.mean[k]),
                ("mean_with_estimate", &res.augmented.mean_with_estimate[k]),
                ("estimate", &res.augmented.estimate[k]),
            ] {
                let got: Array2<f64> = ag.dataset(name).unwrap().read_2d().unwrap();
                assert_eq!(&got, want, "augmented_state/{k}/{name}");
            }
            let cg = con.group(&format!("populations/{k}")).unwrap();
            for (name, want) in [
                ("mean", &res.consensus.mean[k]),
                ("target", &res.consensus.target[k]),
                ("h", &res.consensus.h[k]),
            ] {
                let got: Array2<f64> = cg.dataset(name).unwrap().read_2d().unwrap();
                assert_eq!(&got, want, "consensus/{k}/{name}");
            }
        }
    }
}

#[test]
fn single_population_mean_is_constant_in_the_file() {
    // docs/design.md §3: with one population the exact equilibrium mean is constant.
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("single.h5");
    run_lq(&scenario("lqc_1d_single.toml"), &out, &[]);
    let f = hdf5::File::open(&out).unwrap();
    let mean: Array2<f64> = f
        .dataset("lq/exact/populations/0/mean")
        .unwrap()
        .read_2d()
        .unwrap();
    let dev = mean.iter().map(|m| (m - 0.5).abs()).fold(0.0, f64::max);
    assert!(dev < 1e-10, "max |m̄(t) − 0.5| = {dev}");
}

#[test]
fn default_output_goes_to_output_dir_created_on_demand() {
    let dir = TempDir::new().unwrap();
    let r = tufield_in(
        dir.path(),
        &[
            "--quiet",
            "lq",
            scenario("lqc_1d_single.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let out = dir.path().join("output").join("lqc_1d_single_lq.h5");
    assert!(out.is_file());
    let names: Vec<_> = std::fs::read_dir(dir.path().join("output"))
        .unwrap()
        .collect();
    assert_eq!(names.len(), 1, "no temporary file is left behind");
}

#[test]
fn failed_writes_leave_nothing_behind() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_chain3.toml");
    // A file where the output's directory should be: an I/O error (exit 1) before any work.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let under = blocker.join("out.h5");
    let r = tufield(&["lq", sc.to_str().unwrap(), "--out", under.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--out"), "{}", r.stderr);
    std::fs::remove_file(&blocker).unwrap();
    // The output path is a directory: exit 2, the directory untouched, no temporary left.
    let target = dir.path().join("taken.h5");
    std::fs::create_dir(&target).unwrap();
    let r = tufield(&[
        "lq",
        sc.to_str().unwrap(),
        "--out",
        target.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(target.is_dir() && std::fs::read_dir(&target).unwrap().next().is_none());
    let entries: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        entries,
        vec!["taken.h5".to_string()],
        "only the directory remains"
    );
    // An invalid scenario creates no file either.
    let out = dir.path().join("bad.h5");
    let r = tufield(&[
        "lq",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        "noise.sigma=-1",
    ]);
    assert_eq!(r.code, 2);
    assert!(!out.exists());
}
