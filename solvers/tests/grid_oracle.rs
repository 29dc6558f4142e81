//! The grid scheme against the exact linear-quadratic solution (docs/design.md §3).
//!
//! For a given target path ρ(t) the HJI has the exact solution v = ½xᵀφx + hᵀx + χ with
//!   φ' = −φAφ − Q, φ(T) = S;  h' = −φAh + Qρ, h(T) = −Sρ(T);
//!   χ' = −½hᵀAh − ½ρᵀQρ − σ²/2 tr φ, χ(T) = ½ρ(T)ᵀSρ(T),
//! and a Gaussian m0 stays Gaussian with mean' = A(φ mean + h), Σ' = AφΣ + ΣφA + σ²I.
//! These ODEs are integrated here by RK4 with many substeps (self-contained reference).
//! Under joint refinement of space and time the errors of v(·,0) near the mass, of the
//! mean and of the covariance must fall at the scheme's first order (observed order ≥ 0.9).

use ndarray::{Array1, Array2, ArrayViewD};
use tufield_solvers::grid::{Grid, DEFAULT_STD_MULTIPLE};
use tufield_solvers::model::{Model, Population};
use tufield_solvers::sweep::Sweeper;

#[derive(Clone)]
struct Problem {
    a: Array2<f64>,
    q: Array2<f64>,
    s: Array2<f64>,
    sigma: f64,
    horizon: f64,
    mean0: Array1<f64>,
    cov0: Array2<f64>,
}

impl Problem {
    fn dim(&self) -> usize {
        self.a.nrows()
    }

    fn params(&self) -> Model {
        self.model()
    }

    fn model(&self) -> Model {
        Model::builder(self.a.clone())
            .q(self.q.clone())
            .s(self.s.clone())
            .sigma(self.sigma)
            .horizon(self.horizon)
            .population(Population {
                name: "p".into(),
                mean: self.mean0.clone(),
                cov: self.cov0.clone(),
            })
            .build()
            .unwrap()
    }
}

/// Exact LQ reference on `fine` uniform steps (values at t_k = kT/fine).
struct Reference {
    phi0: Array2<f64>,
    h0: Array1<f64>,
    chi0: f64,
    mean: Vec<Array1<f64>>,
    cov: Vec<Array2<f64>>,
}

impl Reference {
    fn value0(&self, x: &Array1<f64>) -> f64 {
        0.5 * x.dot(&self.phi0.dot(x)) + self.h0.dot(x) + self.chi0
    }
}

fn reference(p: &Problem, rho: &dyn Fn(f64) -> Array1<f64>, fine: usize) -> Reference {
    let d = p.dim();
    let (a, q) = (&p.a, &p.q);
    let t_end = p.horizon;
    // Backward in s = T − t on 2·fine half steps: y = (φ, h, χ), dy/ds = −dy/dt.
    let rhs = |t: f64, phi: &Array2<f64>, h: &Array1<f64>| {
        let r = rho(t);
        let dphi = phi.dot(a).dot(phi) + q; // −φ'
        let dh = phi.dot(a).dot(h) - q.dot(&r); // −h'
        let dchi = 0.5 * h.dot(&a.dot(h))
            + 0.5 * r.dot(&q.dot(&r))
            + 0.5 * p.sigma * p.sigma * phi.diag().sum(); // −χ'
        (dphi, dh, dchi)
    };
    let nh = 2 * fine;
    let ds = t_end / nh as f64;
    let r_t = rho(t_end);
    let mut phi = p.s.clone();
    let mut h = -p.s.dot(&r_t);
    let mut chi = 0.5 * r_t.dot(&p.s.dot(&r_t));
    let mut phis = vec![Array2::zeros((d, d)); nh + 1];
    let mut hs = vec![Array1::zeros(d); nh + 1];
    phis[nh] = phi.clone();
    hs[nh] = h.clone();
    for k in (0..nh).rev() {
        let t = (k + 1) as f64 * ds;
        let (k1p, k1h, k1c) = rhs(t, &phi, &h);
        let (k2p, k2h, k2c) = rhs(
            t - 0.5 * ds,
            &(&phi + &(&k1p * (0.5 * ds))),
            &(&h + &(&k1h * (0.5 * ds))),
        );
        let (k3p, k3h, k3c) = rhs(
            t - 0.5 * ds,
            &(&phi + &(&k2p * (0.5 * ds))),
            &(&h + &(&k2h * (0.5 * ds))),
        );
        let (k4p, k4h, k4c) = rhs(t - ds, &(&phi + &(&k3p * ds)), &(&h + &(&k3h * ds)));
        phi = &phi + &((&k1p + &(&k2p * 2.0) + &(&k3p * 2.0) + &k4p) * (ds / 6.0));
        h = &h + &((&k1h + &(&k2h * 2.0) + &(&k3h * 2.0) + &k4h) * (ds / 6.0));
        chi += (k1c + 2.0 * k2c + 2.0 * k3c + k4c) * ds / 6.0;
        phis[k] = phi.clone();
        hs[k] = h.clone();
    }
    // Forward moments on `fine` steps, midpoints from the half-step grid.
    let dt = t_end / fine as f64;
    let frhs = |k: usize, m: &Array1<f64>, c: &Array2<f64>| {
        let ap = a.dot(&phis[k]);
        let dm = a.dot(&(phis[k].dot(m) + &hs[k]));
        let dc = ap.dot(c) + c.dot(&ap.t()) + Array2::<f64>::eye(d) * (p.sigma * p.sigma);
        (dm, dc)
    };
    let mut m = p.mean0.clone();
    let mut c = p.cov0.clone();
    let mut means = vec![m.clone()];
    let mut covs = vec![c.clone()];
    for n in 0..fine {
        let (k1m, k1c) = frhs(2 * n, &m, &c);
        let (k2m, k2c) = frhs(
            2 * n + 1,
            &(&m + &(&k1m * (0.5 * dt))),
            &(&c + &(&k1c * (0.5 * dt))),
        );
        let (k3m, k3c) = frhs(
            2 * n + 1,
            &(&m + &(&k2m * (0.5 * dt))),
            &(&c + &(&k2c * (0.5 * dt))),
        );
        let (k4m, k4c) = frhs(2 * n + 2, &(&m + &(&k3m * dt)), &(&c + &(&k3c * dt)));
        m = &m + &((&k1m + &(&k2m * 2.0) + &(&k3m * 2.0) + &k4m) * (dt / 6.0));
        c = &c + &((&k1c + &(&k2c * 2.0) + &(&k3c * 2.0) + &k4c) * (dt / 6.0));
        means.push(m.clone());
        covs.push(c.clone());
    }
    Reference {
        phi0: phis[0].clone(),
        h0: hs[0].clone(),
        chi0: chi,
        mean: means,
        cov: covs,
    }
}

#[derive(Debug, Clone, Copy)]
struct Errors {
    value: f64,
    mean: f64,
    cov: f64,
    boundary: f64,
}

/// Runs HJI + FPK on `grid` with `steps` and compares with the reference (`fine` must be a
/// multiple of `steps`). Value error: max over nodes within Mahalanobis distance 2 of the
/// initial Gaussian; mean/cov errors: max over all time levels and entries.
fn run(
    p: &Problem,
    grid: &Grid,
    steps: usize,
    rho: &dyn Fn(f64) -> Array1<f64>,
    r: &Reference,
    fine: usize,
) -> Errors {
    assert_eq!(fine % steps, 0);
    let d = p.dim();
    let mut sw = Sweeper::new(&p.params(), grid, steps).unwrap();
    let dt = sw.time().dt();
    let mut rho_path = Array2::zeros((steps + 1, d));
    for n in 0..=steps {
        rho_path.row_mut(n).assign(&rho(n as f64 * dt));
    }
    let hji = sw.solve_hji(rho_path.view(), 0).unwrap();
    let m0 = grid.gaussian(p.mean0.view(), p.cov0.view()).unwrap();
    let fpk = sw
        .solve_fpk(&hji, m0.view(), 0, &mut |_, _: ArrayViewD<f64>| {})
        .unwrap();
    let prec = {
        // inverse of cov0 for the Mahalanobis distance (d ≤ 3; via ndarray-linalg-free Gauss-Jordan)
        let mut m = p.cov0.clone();
        let mut inv = Array2::<f64>::eye(d);
        for i in 0..d {
            let piv = m[[i, i]];
            for j in 0..d {
                m[[i, j]] /= piv;
                inv[[i, j]] /= piv;
            }
            for k in 0..d {
                if k != i {
                    let f = m[[k, i]];
                    for j in 0..d {
                        m[[k, j]] -= f * m[[i, j]];
                        inv[[k, j]] -= f * inv[[i, j]];
                    }
                }
            }
        }
        inv
    };
    let v0 = hji.level_slice(0);
    let mut value = 0.0f64;
    let mut count = 0;
    for (idx, &v) in v0.iter().enumerate() {
        let x = grid.point(idx);
        let w = &x - &p.mean0;
        if w.dot(&prec.dot(&w)) <= 4.0 {
            value = value.max((v - r.value0(&x)).abs());
            count += 1;
        }
    }
    assert!(count > 0);
    let ratio = fine / steps;
    let mut mean = 0.0f64;
    let mut cov = 0.0f64;
    for n in 0..=steps {
        let k = n * ratio;
        mean = mean.max(
            (&fpk.mean.row(n) - &r.mean[k])
                .iter()
                .fold(0.0, |a, e| a.max(e.abs())),
        );
        let cn = fpk.cov.index_axis(ndarray::Axis(0), n);
        cov = cov.max((&cn - &r.cov[k]).iter().fold(0.0, |a, e| a.max(e.abs())));
        assert!((fpk.mass[n] - 1.0).abs() < 1e-12);
    }
    let boundary = fpk.boundary_mass.iter().cloned().fold(0.0, f64::max);
    Errors {
        value,
        mean,
        cov,
        boundary,
    }
}

/// Prints the order table and returns the observed orders (value, mean, cov) per refinement.
fn order_table(label: &str, pts: &[usize], errs: &[Errors]) -> Vec<[f64; 3]> {
    eprintln!("\n{label}");
    eprintln!(
        "{:>7} {:>12} {:>6} {:>12} {:>6} {:>12} {:>6} {:>10}",
        "points", "err v(.,0)", "order", "err mean", "order", "err cov", "order", "bdry mass"
    );
    let mut orders = Vec::new();
    for (i, e) in errs.iter().enumerate() {
        let o = if i == 0 {
            [f64::NAN; 3]
        } else {
            let f = (pts[i] - 1) as f64 / (pts[i - 1] - 1) as f64;
            let p = errs[i - 1];
            [
                (p.value / e.value).ln() / f.ln(),
                (p.mean / e.mean).ln() / f.ln(),
                (p.cov / e.cov).ln() / f.ln(),
            ]
        };
        eprintln!(
            "{:>7} {:>12.4e} {:>6.2} {:>12.4e} {:>6.2} {:>12.4e} {:>6.2} {:>10.2e}",
            pts[i], e.value, o[0], e.mean, o[1], e.cov, o[2], e.boundary
        );
        if i > 0 {
            orders.push(o);
        }
    }
    orders
}

fn problem_1d() -> Problem {
    Problem {
        a: ndarray::array![[-0.75]],
        q: ndarray::array![[1.0]],
        s: ndarray::array![[0.5]],
        sigma: 0.3,
        horizon: 1.0,
        mean0: ndarray::array![0.4],
        cov0: ndarray::array![[0.15 * 0.15]],
    }
}

fn problem_2d() -> Problem {
    Problem {
        a: ndarray::array![[-1.0, 0.3], [0.3, -0.8]],
        q: ndarray::array![[1.0, 0.2], [0.2, 0.6]],
        s: ndarray::array![[0.5, 0.0], [0.0, 0.3]],
        sigma: 0.3,
        horizon: 1.0,
        mean0: ndarray::array![0.3, -0.2],
        cov0: ndarray::array![[0.04, 0.01], [0.01, 0.03]],
    }
}

/// Box around the reference trajectory: [min mean − κ s, max mean + κ s] per axis with s the
/// largest reference standard deviation (the rule of `Grid::auto`, applied to a moving ρ).
fn box_around(r: &Reference, d: usize, points: usize) -> Grid {
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for i in 0..d {
        let s = r.cov.iter().map(|c| c[[i, i]]).fold(0.0, f64::max).sqrt();
        let (mn, mx) = r
            .mean
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), m| {
                (a.min(m[i]), b.max(m[i]))
            });
        lo[i] = mn - DEFAULT_STD_MULTIPLE * s;
        hi[i] = mx + DEFAULT_STD_MULTIPLE * s;
    }
    Grid::from_bounds(&lo, &hi, &[points]).unwrap()
}

#[test]
fn oracle_1d_equilibrium_constant_target() {
    let p = problem_1d();
    let mbar = p.mean0.clone();
    let rho = move |_t: f64| mbar.clone();
    let fine = 4000;
    let r = reference(&p, &rho, fine);
    // Exact equilibrium: the mean stays at m̄(0) (docs/design.md §3).
    assert!(r.mean.iter().all(|m| (m[0] - p.mean0[0]).abs() < 1e-12));
    let pts = [51, 101, 201, 401];
    let errs: Vec<Errors> = pts
        .iter()
        .map(|&n| {
            let g = Grid::auto(&p.model(), &[n], DEFAULT_STD_MULTIPLE).unwrap();
            run(&p, &g, n - 1, &rho, &r, fine)
        })
        .collect();
    let orders = order_table(
        "1-D, rho = mbar(0) (single-population equilibrium)",
        &pts,
        &errs,
    );
    for o in &orders {
        assert!(o[0] >= 0.9 && o[2] >= 0.9, "observed orders {o:?}");
    }
    // The automatic box is symmetric about m̄(0) and the discrete scheme preserves the point
    // symmetry of the problem, so the equilibrium mean is constant to round-off.
    assert!(errs.iter().all(|e| e.mean < 1e-12), "{errs:?}");
    assert_truncation_negligible(&errs);
}

/// Mass reaching the reflecting boundary of the automatic box is at least three orders of
/// magnitude below the discretisation errors.
fn assert_truncation_negligible(errs: &[Errors]) {
    for e in errs {
        assert!(e.boundary < 1e-3 * e.value.min(e.cov), "{e:?}");
    }
}

#[test]
fn oracle_1d_moving_target() {
    let p = problem_1d();
    let rho = |t: f64| ndarray::array![0.4 + 0.5 * t];
    let fine = 4000;
    let r = reference(&p, &rho, fine);
    let pts = [51, 101, 201, 401];
    let errs: Vec<Errors> = pts
        .iter()
        .map(|&n| run(&p, &box_around(&r, 1, n), n - 1, &rho, &r, fine))
        .collect();
    let orders = order_table("1-D, rho(t) = 0.4 + 0.5 t", &pts, &errs);
    for o in &orders {
        assert!(o.iter().all(|&x| x >= 0.9), "observed orders {o:?}");
    }
}

#[test]
fn oracle_2d_nondiagonal_equilibrium_constant_target() {
    let p = problem_2d();
    let mbar = p.mean0.clone();
    let rho = move |_t: f64| mbar.clone();
    let fine = 2048;
    let r = reference(&p, &rho, fine);
    let pts = [33, 65, 129];
    let errs: Vec<Errors> = pts
        .iter()
        .map(|&n| {
            let g = Grid::auto(&p.model(), &[n], DEFAULT_STD_MULTIPLE).unwrap();
            run(&p, &g, n - 1, &rho, &r, fine)
        })
        .collect();
    let orders = order_table("2-D, A = [[-1,0.3],[0.3,-0.8]], rho = mbar(0)", &pts, &errs);
    for o in &orders {
        assert!(o[0] >= 0.9 && o[2] >= 0.9, "observed orders {o:?}");
    }
    assert!(errs.iter().all(|e| e.mean < 1e-12), "{errs:?}");
    assert_truncation_negligible(&errs);
}

#[test]
fn oracle_2d_nondiagonal_moving_target() {
    let p = problem_2d();
    let rho = |t: f64| ndarray::array![0.3 + 0.4 * t, -0.2 - 0.3 * t];
    let fine = 2048;
    let r = reference(&p, &rho, fine);
    let pts = [33, 65, 129];
    let errs: Vec<Errors> = pts
        .iter()
        .map(|&n| run(&p, &box_around(&r, 2, n), n - 1, &rho, &r, fine))
        .collect();
    let orders = order_table("2-D, A = [[-1,0.3],[0.3,-0.8]], rho(t) linear", &pts, &errs);
    for o in &orders {
        assert!(o.iter().all(|&x| x >= 0.9), "observed orders {o:?}");
    }
}

#[test]
fn oracle_3d_coarse() {
    let p = Problem {
        a: ndarray::array![[-1.0, 0.3, -0.2], [0.3, -0.8, 0.25], [-0.2, 0.25, -1.2]],
        q: ndarray::array![[1.0, 0.2, 0.0], [0.2, 0.6, 0.1], [0.0, 0.1, 0.8]],
        s: ndarray::array![[0.5, 0.0, 0.1], [0.0, 0.3, 0.0], [0.1, 0.0, 0.4]],
        sigma: 0.3,
        horizon: 1.0,
        mean0: ndarray::array![0.3, -0.2, 0.1],
        cov0: ndarray::array![
            [0.04, 0.01, 0.0],
            [0.01, 0.03, -0.005],
            [0.0, -0.005, 0.035]
        ],
    };
    let rho = |t: f64| ndarray::array![0.3 + 0.4 * t, -0.2 - 0.3 * t, 0.1 + 0.2 * t];
    let fine = 2400;
    let r = reference(&p, &rho, fine);
    let pts = [21, 41];
    let errs: Vec<Errors> = pts
        .iter()
        .map(|&n| run(&p, &box_around(&r, 3, n), n - 1, &rho, &r, fine))
        .collect();
    let orders = order_table("3-D, non-diagonal A, rho(t) linear (coarse)", &pts, &errs);
    assert!(
        orders[0].iter().all(|&x| x >= 0.9),
        "observed orders {:?}",
        orders[0]
    );
    // Magnitude. First-order error model (upwinding, Lie splitting, lagged policy), with
    // dt ∝ h: e = Σ_i α_i h + Σ_{i<k} π_ik h, one term α_i per axis (upwind/diffusion
    // truncation along i, plus the time error it carries) and one term π_ik per axis pair
    // (the splitting error of factors i and k, which have a non-zero commutator when A is
    // non-diagonal). The 2-D moving-target problem at 33 points, whose 2×2 blocks the 3-D
    // problem extends, measures K2 = e2/h = Σ_{i<2} α_i + π_01 (= axis part + pair part).
    // If the third axis and the two new pairs are no worse than the average of their 2-D
    // counterparts, the 3-D constant is 1.5·(axis part) + 3·(pair part) ≤ 3 K2. The old
    // bound 1.5 K2 was the lower end of that range (pair part assumed zero) and, applied to
    // errors at finite h, also assumed the O(h²) remainders of both problems to scale alike.
    // Measured (value): e3/h = 1.50 K2 at 41 points; the Richardson-extrapolated first-order
    // parts (4 e(h) − e(2h)) give 1.46, the 3-D O(h²) remainder (8e-4 at 41 points) being 8×
    // the 2-D one (1e-4 at 33); mean 1.47, cov 1.05. The scheme's convergence is asserted by
    // the observed orders above; this is the magnitude check of the model.
    let p2 = problem_2d();
    let rho2 = |t: f64| ndarray::array![0.3 + 0.4 * t, -0.2 - 0.3 * t];
    let r2 = reference(&p2, &rho2, 2048);
    let g2 = box_around(&r2, 2, 33);
    let e2 = run(&p2, &g2, 32, &rho2, &r2, 2048);
    let hmax = |g: &Grid| g.axes().iter().map(|a| a.spacing()).fold(0.0, f64::max);
    let h_ratio = hmax(&box_around(&r, 3, 41)) / hmax(&g2);
    let scale = 3.0 * h_ratio;
    let e = errs[1];
    eprintln!(
        "3-D at 41 points: K3/K2 = e3 h2/(e2 h3): value {:.3}, mean {:.3}, cov {:.3} (model range 1.5 … 3)",
        e.value / (h_ratio * e2.value),
        e.mean / (h_ratio * e2.mean),
        e.cov / (h_ratio * e2.cov)
    );
    assert!(
        e.value <= scale * e2.value && e.mean <= scale * e2.mean && e.cov <= scale * e2.cov,
        "{e:?} vs 3 K2 h from {e2:?}"
    );
}

/// Large time steps with a non-diagonal A: on a fine grid (321² nodes over a box wider than
/// the mass, so the drift at the walls is large) with 5 … 40 steps the Courant number
/// dt·max|b|/h is ~80 … 10. The scheme must stay finite, and since at this h the spatial
/// error is a floor, the excess of the value error over that of a run with small Courant
/// number (160 steps, Courant ~2.4) must fall at first order in dt (observed order ≥ 0.9).
#[test]
fn oracle_2d_nondiagonal_large_courant() {
    let p = Problem {
        a: ndarray::array![[-1.75, -1.0], [-1.0, -2.75]],
        q: Array2::eye(2),
        s: Array2::eye(2),
        sigma: 0.3,
        horizon: 1.0,
        mean0: ndarray::array![0.5, -0.3],
        cov0: Array2::eye(2) * 0.04,
    };
    let mbar = p.mean0.clone();
    let rho = move |_t: f64| mbar.clone();
    let fine = 3200;
    let r = reference(&p, &rho, fine);
    let grid = Grid::from_bounds(&[-1.2, -1.5], &[2.2, 1.6], &[321]).unwrap();
    // Courant number of the exact drift b = A∇v(·, 0) = A(φx + h) at the nodes.
    let hmin = grid
        .axes()
        .iter()
        .map(|a| a.spacing())
        .fold(f64::INFINITY, f64::min);
    let bmax = (0..grid.len())
        .map(|i| {
            let x = grid.point(i);
            let b = p.a.dot(&(r.phi0.dot(&x) + &r.h0));
            b.iter().fold(0.0f64, |m, v| m.max(v.abs()))
        })
        .fold(0.0, f64::max);
    let steps = [5, 10, 20, 40, 160];
    let errs: Vec<Errors> = steps
        .iter()
        .map(|&n| run(&p, &grid, n, &rho, &r, fine))
        .collect();
    let floor = errs[steps.len() - 1].value;
    eprintln!("\n2-D, A = [[-1.75,-1],[-1,-2.75]], 321 points, large steps");
    eprintln!(
        "  steps  Courant   err v(.,0)  excess over 160 steps  order     err mean      err cov"
    );
    let mut prev: Option<f64> = None;
    for (&n, e) in steps.iter().zip(&errs) {
        let courant = bmax * p.horizon / n as f64 / hmin;
        let excess = e.value - floor;
        let order = prev.map_or(f64::NAN, |q| (q / excess).log2());
        eprintln!(
            "{n:>7} {courant:>8.1} {:>12.4e} {excess:>22.4e} {order:>6.2} {:>12.4e} {:>12.4e}",
            e.value, e.mean, e.cov
        );
        if n < 160 {
            if prev.is_some() {
                assert!(
                    order >= 0.9,
                    "temporal order {order} at {n} steps: {errs:?}"
                );
            }
            prev = Some(excess);
        }
    }
    assert!(
        bmax * p.horizon / 10.0 / hmin >= 15.0,
        "Courant number too small"
    );
    // Exact equilibrium (ρ = m̄(0)): the mean stays put (measured ~1e-9 here).
    assert!(errs.iter().all(|e| e.mean < 1e-6), "{errs:?}");
}
