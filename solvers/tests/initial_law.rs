//! Discretised initial laws m(0) = m0 (docs/design.md §1) against their invariants:
//! normalisation gives mass 1; cloud-in-cell keeps the mass and the sample mean exactly;
//! a uniform box inside the grid keeps its exact mass (and loses exactly the part outside
//! the grid otherwise); a mixture's discrete mean tends to the exact mixture mean under
//! refinement; bad entries and samples are refused naming the parameter and the index.

use ndarray::{array, Array1, Array2, ArrayD, IxDyn};
use tufield_solvers::grid::Grid;
use tufield_solvers::initial_law::{
    cloud_in_cell, mixture_density, normalise, uniform_box_density,
};
use tufield_solvers::model::{GaussianMixture, UniformBox};
use tufield_solvers::{Param, SolverError};

fn mass(grid: &Grid, m: &ArrayD<f64>) -> f64 {
    m.sum() * grid.cell_volume()
}

fn mean(grid: &Grid, m: &ArrayD<f64>) -> Array1<f64> {
    grid.moments(m.as_slice().unwrap()).unwrap().mean
}

/// The message of an invalid-parameter error, after checking its parameter.
fn invalid(err: SolverError, want: Param) -> String {
    match err {
        SolverError::InvalidParameter { field, message } => {
            assert_eq!(field, want, "{message}");
            message
        }
        other => panic!("expected an invalid {want}, got {other}"),
    }
}

#[test]
fn normalise_gives_mass_one_and_reports_the_factor() {
    let grid = Grid::from_bounds(&[-1.0, 0.0], &[2.0, 1.0], &[13, 9]).unwrap();
    let raw = ArrayD::from_shape_fn(IxDyn(grid.shape()), |i| 1.0 + (i[0] * 7 + i[1]) as f64);
    let raw_mass = mass(&grid, &raw);
    let init = normalise(Param::InitialLawFile, &grid, raw.clone()).unwrap();
    assert!((mass(&grid, &init.density) - 1.0).abs() < 1e-14);
    assert!((init.normalisation * raw_mass - 1.0).abs() < 1e-14);
    // The density is the raw one times the factor, entry by entry.
    for (a, b) in init.density.iter().zip(raw.iter()) {
        assert_eq!(*a, b * init.normalisation);
    }
}

#[test]
fn normalise_refuses_negative_non_finite_and_massless_densities() {
    let grid = Grid::from_bounds(&[0.0, 0.0], &[1.0, 1.0], &[5, 4]).unwrap();
    let ones = ArrayD::from_elem(IxDyn(grid.shape()), 1.0);

    let mut neg = ones.clone();
    neg[[3, 2]] = -0.25;
    let msg = invalid(
        normalise(Param::MixtureWeights, &grid, neg).unwrap_err(),
        Param::MixtureWeights,
    );
    assert!(msg.contains("[3, 2]") && msg.contains("-0.25"), "{msg}");

    let mut nan = ones.clone();
    nan[[1, 0]] = f64::NAN;
    let msg = invalid(
        normalise(Param::UniformBox, &grid, nan).unwrap_err(),
        Param::UniformBox,
    );
    assert!(msg.contains("[1, 0]") && msg.contains("NaN"), "{msg}");

    let mut inf = ones.clone();
    inf[[4, 3]] = f64::INFINITY;
    let msg = invalid(
        normalise(Param::InitialLawFile, &grid, inf).unwrap_err(),
        Param::InitialLawFile,
    );
    assert!(msg.contains("[4, 3]") && msg.contains("inf"), "{msg}");

    let zero = ArrayD::zeros(IxDyn(grid.shape()));
    let msg = invalid(
        normalise(Param::InitialLawFile, &grid, zero).unwrap_err(),
        Param::InitialLawFile,
    );
    assert!(msg.contains("no mass"), "{msg}");
}

#[test]
fn cloud_in_cell_keeps_mass_and_sample_mean_exactly() {
    // 1-D, 2-D and 3-D grids with unequal spacings; samples anywhere, on nodes and on the
    // upper edge of the box.
    let cases: Vec<(Grid, Array2<f64>)> = vec![
        (
            Grid::from_bounds(&[-1.0], &[2.0], &[17]).unwrap(),
            array![[-1.0], [0.123], [1.999], [2.0], [0.5]],
        ),
        (
            Grid::from_bounds(&[-1.0, -1.0], &[1.0, 1.0], &[21, 31]).unwrap(),
            array![
                [0.11, -0.2],
                [0.5, 0.33],
                [-0.71, 0.05],
                [0.2, 0.9],
                [1.0, 1.0]
            ],
        ),
        (
            Grid::from_bounds(&[0.0, -2.0, -0.5], &[1.0, 2.0, 0.5], &[9, 11, 7]).unwrap(),
            array![
                [0.3, 1.7, -0.41],
                [0.0, -2.0, 0.5],
                [0.77, 0.01, 0.13],
                [0.5, -1.3, -0.2]
            ],
        ),
    ];
    for (grid, samples) in cases {
        let m = cloud_in_cell(&grid, &samples).unwrap();
        assert!(m.iter().all(|v| *v >= 0.0));
        assert!((mass(&grid, &m) - 1.0).abs() < 1e-13, "{}", mass(&grid, &m));
        let exact = samples.mean_axis(ndarray::Axis(0)).unwrap();
        let got = mean(&grid, &m);
        let err = (&got - &exact).iter().fold(0.0f64, |e, x| e.max(x.abs()));
        assert!(err < 1e-13, "mean {got} vs sample mean {exact}");
    }
}

#[test]
fn cloud_in_cell_refuses_samples_outside_the_grid_naming_the_first() {
    let grid = Grid::from_bounds(&[-1.0, -1.0], &[1.0, 1.0], &[11, 11]).unwrap();
    let outside = array![[0.0, 0.0], [0.5, 0.2], [0.1, 1.5], [3.0, 3.0]];
    let msg = invalid(
        cloud_in_cell(&grid, &outside).unwrap_err(),
        Param::InitialSamples,
    );
    assert!(msg.contains("sample 2") && msg.contains("axis 2"), "{msg}");
    let nan = array![[f64::NAN, 0.0]];
    let msg = invalid(
        cloud_in_cell(&grid, &nan).unwrap_err(),
        Param::InitialSamples,
    );
    assert!(msg.contains("sample 0") && msg.contains("axis 1"), "{msg}");
}

#[test]
fn uniform_box_keeps_its_exact_mass_fraction() {
    let grid = Grid::from_bounds(&[-1.0, -1.0], &[1.0, 1.0], &[21, 17]).unwrap();
    // Inside the grid, edges off the nodes and off the cell faces: mass 1 exactly.
    let inside = UniformBox {
        low: array![-0.437, -0.21],
        high: array![0.318, 0.654],
    };
    let m = uniform_box_density(&grid, &inside);
    assert!((mass(&grid, &m) - 1.0).abs() < 1e-13, "{}", mass(&grid, &m));
    // Half outside on axis 1, a quarter outside on axis 2: mass = 1/2 · 3/4.
    let partly = UniformBox {
        low: array![0.5, -1.5],
        high: array![1.5, 0.5],
    };
    let m = uniform_box_density(&grid, &partly);
    assert!(
        (mass(&grid, &m) - 0.375).abs() < 1e-13,
        "{}",
        mass(&grid, &m)
    );
}

#[test]
fn mixture_mean_tends_to_the_exact_mean_under_refinement() {
    let mixture = GaussianMixture {
        weights: vec![0.3, 0.7],
        means: vec![array![-1.0, 0.5], array![1.2, -0.4]],
        covs: vec![
            array![[0.30, 0.12], [0.12, 0.20]],
            array![[0.25, -0.05], [-0.05, 0.40]],
        ],
    };
    let exact = &mixture.means[0] * 0.3 + &mixture.means[1] * 0.7;
    let mut errors = Vec::new();
    for n in [9, 17, 33, 65] {
        let grid = Grid::from_bounds(&[-5.0, -5.0], &[5.0, 5.0], &[n, n]).unwrap();
        let raw = mixture_density(&grid, &mixture).unwrap();
        let init = normalise(Param::MixtureWeights, &grid, raw).unwrap();
        assert!((mass(&grid, &init.density) - 1.0).abs() < 1e-13);
        let err = (&mean(&grid, &init.density) - &exact)
            .iter()
            .fold(0.0f64, |e, x| e.max(x.abs()));
        errors.push(err);
    }
    // Coarsest grid (h = 1.25, comparable to the standard deviations): a visible error;
    // then each halving of h reduces it, down to round-off.
    assert!(errors[0] > 1e-4, "{errors:?}");
    for w in errors.windows(2) {
        assert!(w[1] < 0.1 * w[0] || w[1] < 1e-12, "{errors:?}");
    }
    assert!(errors[3] < 1e-10, "{errors:?}");
}
