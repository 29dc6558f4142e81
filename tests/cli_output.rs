//! What the output layer adds to every solve, checked against exact values and invariants:
//!
//! * the expected cost J_k of an LQ solve approaches the exact LQ value under refinement;
//!   the in-core fraction is the density's mass on the non-negative orthant (recomputed
//!   here from the stored density and grid);
//! * by default density and value are rounded to 20 significant bits (netCDF BitRound) and
//!   stored with shuffle + deflate at least 2× smaller than raw on the default scenario;
//!   the largest relative difference from the unrounded values is at most 2^−20 (and
//!   rounding did happen), every other dataset keeps its bits; `significant_bits = "all"`
//!   stores exactly the numbers of `compression = "none"`;
//! * a bad `[output]` key exits 2 naming it; an output path that cannot be written exits 1
//!   and leaves neither the `.h5` nor the `.xmf` behind;
//! * a file that is not a tufield output given to `plot`, `simulate --policy` or
//!   `solve --resume` (or as the scenario of `compare`) exits 2 naming the file and what is
//!   missing.

mod common;

use common::{h5_contents, scenario, tufield_in, write};
use ndarray::{ArrayD, Axis};
use tempfile::TempDir;

fn solve(dir: &std::path::Path, sc: &std::path::Path, out: &std::path::Path, set: &[&str]) {
    let mut a = vec![
        "solve",
        sc.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    a.extend(set);
    let r = tufield_in(dir, &a);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn scalar(f: &hdf5::File, path: &str) -> f64 {
    f.dataset(path).unwrap().read_raw::<f64>().unwrap()[0]
}

#[test]
fn expected_cost_converges_to_the_exact_lq_value_and_core_fraction_is_the_orthant_mass() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let mut errors = Vec::new();
    for points in ["21", "41"] {
        let out = dir.path().join(format!("p{points}.h5"));
        let set = format!("solver.points={points}");
        solve(
            dir.path(),
            &sc,
            &out,
            &[
                "--set",
                &set,
                "--set",
                "solver.steps=40",
                // Every bit of the density: the in-core fraction is recomputed from it to
                // 1e-12 below (the solver sums the unrounded density).
                "--set",
                "output.significant_bits=\"all\"",
            ],
        );
        let f = hdf5::File::open(&out).unwrap();
        let mut worst = 0.0f64;
        for k in 0..3 {
            let j = scalar(&f, &format!("populations/{k}/expected_cost"));
            let exact = scalar(&f, &format!("populations/{k}/expected_cost_lq"));
            worst = worst.max((j - exact).abs() / exact.abs());
            // In-core fraction: the stored density's mass where x0, x1 ≥ 0.
            let m: ArrayD<f64> = f
                .dataset(&format!("populations/{k}/density"))
                .unwrap()
                .read_dyn()
                .unwrap();
            let x0: Vec<f64> = f.dataset("grid/x0").unwrap().read_raw().unwrap();
            let x1: Vec<f64> = f.dataset("grid/x1").unwrap().read_raw().unwrap();
            let cell = (x0[1] - x0[0]) * (x1[1] - x1[0]);
            let cf: Vec<f64> = f
                .dataset(&format!("populations/{k}/core_fraction"))
                .unwrap()
                .read_raw()
                .unwrap();
            for (s, frame) in m.axis_iter(Axis(0)).enumerate() {
                let mut mass = 0.0;
                for ((i, j), v) in frame
                    .into_dimensionality::<ndarray::Ix2>()
                    .unwrap()
                    .indexed_iter()
                {
                    if x0[i] >= 0.0 && x1[j] >= 0.0 {
                        mass += v;
                    }
                }
                let want = mass * cell;
                assert!(
                    (cf[s] - want).abs() < 1e-12 && (0.0..=1.0 + 1e-12).contains(&cf[s]),
                    "population {k}, snapshot {s}: core_fraction {} vs {want}",
                    cf[s]
                );
            }
            let shape = f
                .dataset(&format!("populations/{k}/allocation_drift"))
                .unwrap()
                .shape();
            assert_eq!(shape[1], 2, "drift fields have d components");
        }
        errors.push(worst);
    }
    // Measured (40 steps): relative error 0.59 at 21², 0.25 at 41² — first order, as the
    // PDE cost approaches the Riccati value in `compare` (docs/scenario-format.md).
    assert!(
        errors[1] < 0.6 * errors[0],
        "J does not converge: {errors:?}"
    );
    assert!(errors[1] < 0.3, "J error at 41²: {errors:?}");
}

/// The snapshot fields of a projected solve that are rounded by default: density, value,
/// the drift fields and the error estimate's fields.
fn is_solution_field(key: &str) -> bool {
    key.starts_with("/populations/")
        && [
            "/density",
            "/value",
            "/allocation_drift",
            "/disturbance_drift",
            "/value_error",
            "/value_extrapolated",
            "/density_error",
        ]
        .iter()
        .any(|f| key.ends_with(f))
}

#[test]
fn density_and_value_are_rounded_to_20_bits_and_stored_at_least_2x_smaller() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let packed = dir.path().join("packed.h5");
    solve(dir.path(), &sc, &packed, &[]);
    let raw = dir.path().join("raw.h5");
    solve(
        dir.path(),
        &sc,
        &raw,
        &["--set", "output.compression=\"none\""],
    );
    let f = hdf5::File::open(&packed).unwrap();
    let r = hdf5::File::open(&raw).unwrap();
    let bound = 2f64.powi(-20);
    for k in 0..3 {
        for name in ["density", "value"] {
            let path = format!("populations/{k}/{name}");
            let ds = f.dataset(&path).unwrap();
            let raw_bytes = (ds.size() * 8) as f64;
            let ratio = raw_bytes / ds.storage_size() as f64;
            assert!(ratio >= 2.0, "{path}: stored only {ratio:.2}× smaller");
            let bits: i32 = ds
                .attr("_QuantizeBitRoundNumberOfSignificantBits")
                .unwrap()
                .read_scalar()
                .unwrap();
            assert_eq!(bits, 20, "{path}");
            let q: ArrayD<f64> = ds.read_dyn().unwrap();
            let x: ArrayD<f64> = r.dataset(&path).unwrap().read_dyn().unwrap();
            let mut worst = 0.0f64;
            for (a, b) in q.iter().zip(&x) {
                if *b != 0.0 {
                    worst = worst.max(((a - b) / b).abs());
                } else {
                    assert_eq!(*a, 0.0, "{path}: a zero changed");
                }
            }
            assert!(worst <= bound, "{path}: relative difference {worst:e}");
            assert!(worst > 0.5 * bound, "{path}: not rounded ({worst:e})");
        }
    }
    // The drift fields (written by default) and the error estimate's errors are rounded
    // to 12 bits, its extrapolated value to 32 (one order above the scheme).
    for (name, nsb) in [
        ("allocation_drift", 12),
        ("disturbance_drift", 12),
        ("value_error", 12),
        ("density_error", 12),
        ("value_extrapolated", 32),
    ] {
        let path = format!("populations/1/{name}");
        let ds = f.dataset(&path).unwrap();
        let bits: i32 = ds
            .attr("_QuantizeBitRoundNumberOfSignificantBits")
            .unwrap()
            .read_scalar()
            .unwrap();
        assert_eq!(bits, nsb, "{path}");
        let q: ArrayD<f64> = ds.read_dyn().unwrap();
        let x: ArrayD<f64> = r.dataset(&path).unwrap().read_dyn().unwrap();
        assert_eq!(q.shape(), x.shape(), "{path}");
        let bound = 2f64.powi(-nsb);
        let worst = q
            .iter()
            .zip(&x)
            .map(|(a, b)| {
                if *b == 0.0 {
                    a.abs()
                } else {
                    ((a - b) / b).abs()
                }
            })
            .fold(0.0, f64::max);
        assert!(worst <= bound, "{path}: relative difference {worst:e}");
        let ratio = (ds.size() * 8) as f64 / ds.storage_size() as f64;
        assert!(ratio >= 1.5, "{path}: stored only {ratio:.2}× smaller");
    }
    let ds = r.dataset("populations/0/density").unwrap();
    assert!(
        ds.filters().is_empty(),
        "compression = \"none\" sets no filter"
    );
    let (mut a, mut b) = (h5_contents(&packed), h5_contents(&raw));
    for c in [&mut a, &mut b] {
        c.retain(|k, _| {
            !k.ends_with("@scenario")
                && !k.contains("wall_s")
                && !k.ends_with("@_QuantizeBitRoundNumberOfSignificantBits")
                && !is_solution_field(k)
        });
    }
    assert_eq!(a, b, "rounding changed another dataset");
}

#[test]
fn all_significant_bits_store_exactly_the_unfiltered_numbers() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let lossless = dir.path().join("lossless.h5");
    let steps = ["--set", "solver.steps=20", "--set", "solver.points=41"];
    let mut set = steps.to_vec();
    set.extend(["--set", "output.significant_bits=\"all\""]);
    solve(dir.path(), &sc, &lossless, &set);
    let raw = dir.path().join("raw.h5");
    let mut set = steps.to_vec();
    set.extend(["--set", "output.compression=\"none\""]);
    solve(dir.path(), &sc, &raw, &set);
    let coarse = dir.path().join("coarse.h5");
    let mut set = steps.to_vec();
    set.extend(["--set", "output.significant_bits=8"]);
    solve(dir.path(), &sc, &coarse, &set);

    let f = hdf5::File::open(&lossless).unwrap();
    let ds = f.dataset("populations/1/value").unwrap();
    assert!(!ds.filters().is_empty(), "shuffle + deflate set");
    assert!(ds.attr("_QuantizeBitRoundNumberOfSignificantBits").is_err());
    let (mut a, mut b) = (h5_contents(&lossless), h5_contents(&raw));
    for c in [&mut a, &mut b] {
        c.retain(|k, _| !k.ends_with("@scenario") && !k.contains("wall_s"));
    }
    assert_eq!(a, b, "significant_bits = \"all\" changed a number");

    // 8 bits: every value within 2^-8 of the exact one.
    let c = hdf5::File::open(&coarse).unwrap();
    let r = hdf5::File::open(&raw).unwrap();
    let q: ArrayD<f64> = c
        .dataset("populations/2/density")
        .unwrap()
        .read_dyn()
        .unwrap();
    let x: ArrayD<f64> = r
        .dataset("populations/2/density")
        .unwrap()
        .read_dyn()
        .unwrap();
    let worst = q
        .iter()
        .zip(&x)
        .filter(|(_, b)| **b != 0.0)
        .map(|(a, b)| ((a - b) / b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 2f64.powi(-8) && worst > 2f64.powi(-9), "{worst:e}");
}

#[test]
fn bad_output_keys_exit_2_and_unwritable_paths_exit_1_leaving_nothing() {
    let dir = TempDir::new().unwrap();
    let base = std::fs::read_to_string(scenario("lqc_1d_single.toml")).unwrap();
    for (extra, key) in [
        ("[output]\ncompression = \"zstd\"\n", "output.compression"),
        ("[output]\nlevel = 12\n", "output.level"),
        (
            "[output]\ncompression = \"none\"\nlevel = 3\n",
            "output.level",
        ),
        ("[output]\nfilters = 1\n", "filters"),
        (
            "[output]\nsignificant_bits = 0\n",
            "output.significant_bits",
        ),
        (
            "[output]\nsignificant_bits = 53\n",
            "output.significant_bits",
        ),
        (
            "[output]\nsignificant_bits = \"half\"\n",
            "output.significant_bits",
        ),
        (
            "[output]\ncompression = \"none\"\nsignificant_bits = 12\n",
            "output.significant_bits",
        ),
    ] {
        let sc = write(dir.path(), "bad.toml", &format!("{base}\n{extra}"));
        let r = tufield_in(dir.path(), &["check", sc.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{extra}: {}", r.stderr);
        assert!(r.stderr.contains(key), "{extra}: {}", r.stderr);
    }
    // The output directory cannot be created: a file is in the way.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("r.h5");
    let sc = scenario("lqc_1d_single.toml");
    let r = tufield_in(
        dir.path(),
        &[
            "solve",
            sc.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".h5") || n.ends_with(".xmf") || n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn files_that_are_not_tufield_outputs_exit_2_naming_the_file_and_what_is_missing() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // An HDF5 file of another program: a dataset, no tufield attributes.
    let foreign = d.join("foreign.h5");
    {
        let f = hdf5::File::create(&foreign).unwrap();
        f.new_dataset_builder()
            .with_data(&ndarray::arr1(&[1.0, 2.0, 3.0]))
            .create("temperature")
            .unwrap();
    }
    // Not HDF5 at all.
    let text = write(d, "notes.h5", "just text\n");
    let sc = scenario("lqc_1d_single.toml");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    for bad in [&foreign, &text] {
        let name = bad.file_name().unwrap().to_string_lossy().into_owned();
        let runs: Vec<Vec<String>> = vec![
            vec!["plot".into(), s(bad), "--out".into(), s(&d.join("fig"))],
            vec![
                "simulate".into(),
                s(&sc),
                "--policy".into(),
                s(bad),
                "--copies".into(),
                "10".into(),
                "--out".into(),
                s(&d.join("sim.h5")),
            ],
            vec![
                "solve".into(),
                s(&sc),
                "--resume".into(),
                s(bad),
                "--out".into(),
                s(&d.join("r.h5")),
            ],
            vec!["compare".into(), s(bad), "--out".into(), s(&d.join("cmp"))],
        ];
        for args in runs {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = tufield_in(d, &a);
            assert_eq!(r.code, 2, "{a:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(&name),
                "{a:?} does not name the file: {}",
                r.stderr
            );
            if bad == &foreign && a[0] != "compare" {
                assert!(
                    r.stderr.contains("missing") || r.stderr.contains("not a tufield"),
                    "{a:?} does not say what is missing: {}",
                    r.stderr
                );
            }
            assert!(!r.stderr.contains("panicked"), "{a:?}: {}", r.stderr);
        }
    }
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !["foreign.h5", "notes.h5"].contains(&n.as_str()))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn drift_fields_are_written_by_default_and_feedback_fields_false_only_leaves_them_out() {
    let dir = TempDir::new().unwrap();
    let sc = scenario("lqc_2d_chain3.toml");
    let coarse = ["--set", "solver.points=21", "--set", "solver.steps=20"];
    let on = dir.path().join("on.h5");
    solve(dir.path(), &sc, &on, &coarse);
    let off = dir.path().join("off.h5");
    let mut set = coarse.to_vec();
    set.extend(["--set", "output.feedback_fields=false"]);
    solve(dir.path(), &sc, &off, &set);
    let (a, b) = (h5_contents(&on), h5_contents(&off));
    let drift = |k: &str| k.contains("/allocation_drift") || k.contains("/disturbance_drift");
    let mut compared = 0;
    for (key, value) in &b {
        if key.ends_with("@scenario") || key.contains("wall_s") {
            continue;
        }
        assert_eq!(
            a.get(key),
            Some(value),
            "{key} differs with the drift fields on"
        );
        compared += 1;
    }
    assert!(compared > 100, "only {compared} entries compared");
    for k in 0..3 {
        for name in ["allocation_drift", "disturbance_drift"] {
            let key = format!("/populations/{k}/{name}");
            assert!(a.contains_key(&key), "{key} not written by default");
            assert!(
                !b.contains_key(&key),
                "{key} written with feedback_fields = false"
            );
        }
    }
    let extra: Vec<&String> = a
        .keys()
        .filter(|k| !b.contains_key(*k) && !drift(k))
        .collect();
    assert!(extra.is_empty(), "also added: {extra:?}");
    // The sidecar shows every component of both drift fields.
    let xmf = std::fs::read_to_string(on.with_extension("xmf")).unwrap();
    for name in [
        "allocation_drift_x0",
        "allocation_drift_x1",
        "disturbance_drift_x1",
    ] {
        assert!(
            xmf.contains(&format!("Name=\"{name}\"")),
            "{name} not in the sidecar"
        );
    }
    let xmf_off = std::fs::read_to_string(off.with_extension("xmf")).unwrap();
    assert!(!xmf_off.contains("drift"));
}
