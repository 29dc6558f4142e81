//! Initial populations beyond Gaussians: discretised mixtures and boxes have the
//! analytic moments; file densities (HDF5, .npy) and samples round-trip through `solve`;
//! bad files are refused (exit 2 naming the key); and in the LQ model the
//! single-population equilibrium mean stays constant for a non-Gaussian start too
//! (docs/design.md §3), with a drift that falls under refinement.

mod common;

use common::tufield_in;
use ndarray::{array, Array1, Array2, ArrayD, IxDyn};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use tempfile::TempDir;
use tufield::initial::{self, InitialSpec};
use tufield::run::grid_for;
use tufield::scenario::Scenario;
use tufield_solvers::equilibrium::{snapshot_levels, MeanFieldMap};
use tufield_solvers::fixed_point::{
    Control, FixedPoint, FixedPointSettings, FixedPointState, Outcome,
};
use tufield_solvers::grid::Grid;

const BASE_1D: &str = r#"
[model]
a = [[-0.75]]
[cost]
q = 1.0
s = 1.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
"#;

const BASE_2D: &str = r#"
[model]
a = [[-1.75, -1.0], [-1.0, -2.75]]
[cost]
q = 1.0
s = 1.0
[noise]
sigma = 0.3
[horizon]
t = 1.0
"#;

fn load(text: &str) -> Scenario {
    Scenario::from_text("test.toml", "test", text, &[]).unwrap()
}

fn moments_on_grid(sc: &Scenario) -> (Grid, f64, Array1<f64>, Array2<f64>) {
    let grid = grid_for(sc).unwrap();
    let init = initial::discretise(
        "test.toml",
        0,
        &sc.initial[0],
        &sc.model.populations[0],
        &grid,
    )
    .unwrap();
    let m = grid.moments(init.density.as_slice().unwrap()).unwrap();
    (grid, m.mass, m.mean, m.cov)
}

fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

#[test]
fn mixture_has_the_analytic_mass_mean_and_covariance() {
    let text = format!(
        "{BASE_2D}[[population]]\nkind = \"mixture\"\nweights = [3.0, 2.0]\n\
         means = [[-0.4, -0.3], [0.5, 0.4]]\ncovs = [[[0.04, 0.01], [0.01, 0.03]], [[0.06, 0.0], [0.0, 0.02]]]\n\
         [solver]\ndomain = [[-2.0, 2.0], [-2.0, 2.0]]\n"
    );
    // Analytic: weights 0.6, 0.4.
    let (w, mus, covs) = (
        [0.6, 0.4],
        [array![-0.4, -0.3], array![0.5, 0.4]],
        [
            array![[0.04, 0.01], [0.01, 0.03]],
            array![[0.06, 0.0], [0.0, 0.02]],
        ],
    );
    let mean = &mus[0] * w[0] + &mus[1] * w[1];
    let mut second = Array2::<f64>::zeros((2, 2));
    for c in 0..2 {
        let mu = &mus[c];
        let outer = Array2::from_shape_fn((2, 2), |(i, j)| mu[i] * mu[j]);
        second = second + (&covs[c] + &outer) * w[c];
    }
    let cov = second - Array2::from_shape_fn((2, 2), |(i, j)| mean[i] * mean[j]);
    // The scenario's population holds the moment-matched summary (for Grid::auto and the
    // LQ oracle).
    let sc = load(&text);
    assert_eq!(sc.initial[0].kind(), "mixture");
    assert!((&sc.model.populations[0].mean - &mean)
        .iter()
        .all(|x| x.abs() < 1e-14));
    assert!(max_abs(&(&sc.model.populations[0].cov - &cov)) < 1e-14);
    let mut errs = Vec::new();
    for pts in [41, 81, 161] {
        let sc = load(&format!("{text}points = {pts}\n"));
        let (_, mass, m, c) = moments_on_grid(&sc);
        let em = (&m - &mean).iter().map(|x| x.abs()).fold(0.0, f64::max);
        let ec = max_abs(&(&c - &cov));
        eprintln!(
            "{pts} points: |mass − 1| {:.1e}, mean error {em:.2e}, cov error {ec:.2e}",
            (mass - 1.0).abs()
        );
        assert!((mass - 1.0).abs() < 1e-12);
        errs.push(ec.max(em));
    }
    // Nodal values of a smooth, rapidly decaying density: the grid sums are spectrally
    // accurate (measured ~1e-10 already at 41 points), so what remains is the tail cut by
    // the box (the wider component is 6 standard deviations from the wall: e^{-18} ~ 1e-8).
    for e in &errs {
        assert!(*e < 1e-8, "{errs:?}");
    }
}

#[test]
fn uniform_box_has_the_analytic_mean_and_covariance() {
    let text = format!(
        "{BASE_2D}[[population]]\nkind = \"uniform\"\nlow = [-0.33, 0.1]\nhigh = [0.71, 0.9]\n\
         [solver]\ndomain = [[-2.0, 2.0], [-1.5, 2.5]]\npoints = 201\n"
    );
    let sc = load(&text);
    let mean = array![0.19, 0.5];
    let cov = Array2::from_diag(&array![1.04f64 * 1.04 / 12.0, 0.8 * 0.8 / 12.0]);
    assert!((&sc.model.populations[0].mean - &mean)
        .iter()
        .all(|x| x.abs() < 1e-14));
    let (grid, mass, m, c) = moments_on_grid(&sc);
    let h = grid.axis(0).spacing();
    let em = (&m - &mean).iter().map(|x| x.abs()).fold(0.0, f64::max);
    let ec = max_abs(&(&c - &cov));
    eprintln!(
        "h = {h}: |mass − 1| {:.1e}, mean error {em:.2e}, cov error {ec:.2e}",
        (mass - 1.0).abs()
    );
    assert!((mass - 1.0).abs() < 1e-12);
    // Cell-fraction discretisation: mean exact to O(h²), covariance within O(h²)
    // (the cell-average smearing adds at most h²/12 per axis).
    assert!(em < h * h, "mean error {em}");
    assert!(ec < h * h, "cov error {ec}");
}

#[test]
fn samples_are_histogrammed_with_their_sample_moments() {
    // Cloud-in-cell preserves the mass and the first moment exactly.
    let samples = array![[0.11, -0.2], [0.5, 0.33], [-0.71, 0.05], [0.2, 0.9]];
    let grid = Grid::from_bounds(&[-1.0, -1.0], &[1.0, 1.0], &[21, 31]).unwrap();
    let m = initial::cloud_in_cell("t", "population[1].path", &grid, &samples).unwrap();
    let mom = grid.moments(m.as_slice().unwrap()).unwrap();
    let mean = samples.mean_axis(ndarray::Axis(0)).unwrap();
    assert!((mom.mass - 1.0).abs() < 1e-13);
    assert!(
        (&mom.mean - &mean).iter().all(|x| x.abs() < 1e-13),
        "{mom:?}"
    );
    // Outside the grid: refused naming the sample.
    let bad = array![[0.0, 0.0], [1.5, 0.0]];
    let e = initial::cloud_in_cell("t", "population[1].path", &grid, &bad).unwrap_err();
    assert!(e.to_string().contains("sample 1"), "{e}");
}

/// `.npy` v1.0 writer for the test (float64, C order).
fn write_npy(path: &Path, a: &ArrayD<f64>) {
    let shape: Vec<String> = a.shape().iter().map(|n| n.to_string()).collect();
    let shape = if shape.len() == 1 {
        format!("({},)", shape[0])
    } else {
        format!("({})", shape.join(", "))
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in a.iter() {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn file_scenario(path: &str, extra: &str) -> String {
    format!(
        "{BASE_1D}[[population]]\nkind = \"file\"\npath = \"{path}\"\n{extra}\
         [solver]\ndomain = [[-2.0, 2.0]]\npoints = 81\nsteps = 40\n"
    )
}

#[test]
fn hdf5_density_round_trips_through_solve() {
    let dir = TempDir::new().unwrap();
    let grid = Grid::from_bounds(&[-2.0], &[2.0], &[81]).unwrap();
    // An unnormalised two-bump density (mass 2.5 before normalisation).
    let raw = ArrayD::from_shape_fn(IxDyn(&[81]), |i| {
        let x = grid.axis(0).node(i[0]);
        (-(x - 0.4f64).powi(2) / 0.02).exp() + 0.5 * (-(x + 0.3f64).powi(2) / 0.05).exp()
    });
    let mass = raw.sum() * grid.cell_volume();
    let f = hdf5::File::create(dir.path().join("m0.h5")).unwrap();
    f.new_dataset_builder()
        .with_data(&raw)
        .create("start")
        .unwrap();
    drop(f);
    std::fs::write(
        dir.path().join("s.toml"),
        file_scenario("m0.h5", "dataset = \"start\"\n"),
    )
    .unwrap();
    // Every bit of the stored density (the output rounds it by default), so that the
    // initial law read from the file is compared to 1e-12.
    let all_bits = ["--set", "output.significant_bits=\"all\""];
    let r = tufield_in(
        dir.path(),
        &["solve", "s.toml", "--out", "o.h5", all_bits[0], all_bits[1]],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("normalised to mass 1"), "{}", r.stderr);
    let out = hdf5::File::open(dir.path().join("o.h5")).unwrap();
    let pg = out.group("populations/0").unwrap();
    let norm: f64 = pg.attr("normalisation").unwrap().read_scalar().unwrap();
    assert!(
        (norm - 1.0 / mass).abs() < 1e-12 * norm,
        "{norm} vs {}",
        1.0 / mass
    );
    let kind: hdf5::types::VarLenUnicode = pg.attr("initial_kind").unwrap().read_scalar().unwrap();
    assert_eq!(kind.as_str(), "file");
    let dens = pg.dataset("density").unwrap().read_dyn::<f64>().unwrap();
    let first: Vec<f64> = dens.outer_iter().next().unwrap().iter().cloned().collect();
    let worst = first
        .iter()
        .zip(raw.iter())
        .map(|(a, b)| (a - b / mass).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-12,
        "stored m(0) differs from the file / mass by {worst}"
    );
    // The same density as .npy gives the same initial density.
    write_npy(&dir.path().join("m0.npy"), &raw);
    std::fs::write(dir.path().join("n.toml"), file_scenario("m0.npy", "")).unwrap();
    let r = tufield_in(
        dir.path(),
        &["solve", "n.toml", "--out", "n.h5", all_bits[0], all_bits[1]],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d2 = hdf5::File::open(dir.path().join("n.h5"))
        .unwrap()
        .dataset("populations/0/density")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    assert_eq!(dens, d2);
}

#[test]
fn bad_files_are_refused_naming_the_key() {
    let dir = TempDir::new().unwrap();
    let check = |name: &str, data: ArrayD<f64>, want: &[&str]| {
        write_npy(&dir.path().join(format!("{name}.npy")), &data);
        std::fs::write(
            dir.path().join(format!("{name}.toml")),
            file_scenario(&format!("{name}.npy"), ""),
        )
        .unwrap();
        let r = tufield_in(
            dir.path(),
            &["solve", &format!("{name}.toml"), "--out", "o.h5"],
        );
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        for w in want {
            assert!(
                r.stderr.contains(w),
                "{name}: missing `{w}` in\n{}",
                r.stderr
            );
        }
    };
    let mut neg = ArrayD::from_elem(IxDyn(&[81]), 1.0);
    neg[[17]] = -0.5;
    check("neg", neg, &["population[1].path", "[17]", "-0.5"]);
    let mut nan = ArrayD::from_elem(IxDyn(&[81]), 1.0);
    nan[[3]] = f64::NAN;
    check("nan", nan, &["population[1].path", "[3]"]);
    check(
        "shape",
        ArrayD::from_elem(IxDyn(&[80]), 1.0),
        &["population[1].path", "[80]", "[81]"],
    );
    // A missing HDF5 dataset names the key too.
    std::fs::write(
        dir.path().join("ds.toml"),
        file_scenario("neg.npy.h5", "dataset = \"nope\"\n"),
    )
    .unwrap();
    let r = tufield_in(dir.path(), &["check", "ds.toml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("population[1].path"), "{}", r.stderr);
    // Keys of another kind are refused.
    let text = format!(
        "{BASE_1D}[[population]]\nkind = \"uniform\"\nlow = [0.0]\nhigh = [1.0]\nmean = [0.1]\n"
    );
    std::fs::write(dir.path().join("mix.toml"), text).unwrap();
    let r = tufield_in(dir.path(), &["check", "mix.toml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("population[1].mean"), "{}", r.stderr);
}

/// Equilibrium mean path of a 1-D single population from a mixture start (LQ model).
fn mixture_mean_drift(points: usize, steps: usize) -> (f64, f64) {
    let text = format!(
        "{BASE_1D}[[population]]\nkind = \"mixture\"\nweights = [0.7, 0.3]\n\
         means = [[-0.3], [0.6]]\nstds = [[0.15], [0.25]]\n\
         [solver]\ndomain = [[-3.0, 3.0]]\npoints = {points}\nsteps = {steps}\n"
    );
    let sc = load(&text);
    let grid = grid_for(&sc).unwrap();
    let init =
        initial::discretise("t", 0, &sc.initial[0], &sc.model.populations[0], &grid).unwrap();
    assert!(matches!(sc.initial[0], InitialSpec::Mixture(_)));
    let mut map = MeanFieldMap::with_initial(
        &sc.model,
        &grid,
        steps,
        snapshot_levels(steps, steps),
        vec![init.density],
    )
    .unwrap();
    let settings = FixedPointSettings {
        tol: 1e-11,
        max_iter: 200,
        ..Default::default()
    };
    let mut fp = FixedPoint::new(
        settings,
        map.scale(),
        FixedPointState::new(map.initial_guess()),
    )
    .unwrap();
    let mut last = Vec::new();
    let outcome = fp
        .run(
            &mut |x: &[f64]| map.evaluate(x, &mut |_| {}),
            &mut |_, _, g: &[f64]| {
                last = g.to_vec();
                Control::Continue
            },
            &AtomicBool::new(false),
        )
        .unwrap();
    assert_eq!(outcome, Outcome::Converged);
    let drift = last.iter().map(|m| (m - last[0]).abs()).fold(0.0, f64::max);
    (drift, last[0])
}

/// docs/design.md §3: in the LQ model the single-population equilibrium mean is constant for
/// any initial law (r = φm̄ + h has r' = 0, r(T) = 0). From a skewed two-component
/// mixture the discrete mean drifts only by the discretisation error, which falls
/// under refinement.
#[test]
fn lq_single_population_mean_is_constant_from_a_mixture() {
    let mut drifts = Vec::new();
    for (points, steps) in [(61, 25), (121, 50), (241, 100)] {
        let (drift, m0) = mixture_mean_drift(points, steps);
        eprintln!(
            "points {points:4} steps {steps:4}: m̄(0) = {m0:.6}, max |m̄(t) − m̄(0)| = {drift:.3e}"
        );
        assert!((m0 + 0.03).abs() < 1e-3, "m̄(0) = {m0}");
        drifts.push(drift);
    }
    let orders: Vec<f64> = drifts.windows(2).map(|w| (w[0] / w[1]).log2()).collect();
    eprintln!("observed orders {orders:?}");
    assert!(drifts[2] < 2e-3, "{drifts:?}");
    for o in &orders {
        assert!(*o > 0.7, "drift does not fall at first order: {drifts:?}");
    }
}
