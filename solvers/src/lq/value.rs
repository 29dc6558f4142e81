//! The value function v(x, t) = ½xᵀφx + hᵀx + χ of the HJI (13)/(37) for a *given*
//! target path ρ (the mean-field response of Section 4), from the corrected ODEs (15)
//! (docs/design.md §3):
//!
//! ```text
//!   φ' = −φAφ − Q,                      φ(T) = S
//!   h' = −φAh + Qρ,                     h(T) = −Sρ(T)
//!   χ' = −½hᵀAh − ½ρᵀQρ − σ²/2 tr φ,    χ(T) = ½ρ(T)ᵀSρ(T)
//! ```
//!
//! so that v(x, T) = ½(x − ρ(T))ᵀS(x − ρ(T)). The three are integrated jointly backward
//! (the stable direction: dh/dτ = φAh − Qρ contracts because φA has non-positive
//! eigenvalues), so h and χ see the exact φ between levels.

use super::ode::{integrate_levels, Direction, OdeOptions};
use super::riccati::riccati_rhs;
use super::{check_coefficients, check_sigma, check_vector, mat, non_finite, symmetrize, TimeGrid};
use crate::error::{Param, Result, SolverError};
use ndarray::{Array1, Array2, Array3, ArrayView1};

/// The target ρ(t) tracked by the running and terminal costs.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetPath {
    /// ρ(t) ≡ ρ (length d). Cheapest case: no path array needed.
    Constant(Array1<f64>),
    /// ρ at every level, shape (steps+1, d); between levels t_n and t_{n+1} ρ is
    /// interpolated **linearly**, ρ(t) = ρ_n + (t − t_n)/dt · (ρ_{n+1} − ρ_n). The ODEs are
    /// then solved exactly (to integrator accuracy) for this piecewise-linear ρ.
    Levels(Array2<f64>),
}

impl TargetPath {
    fn check(&self, d: usize, grid: &TimeGrid) -> Result<()> {
        match self {
            TargetPath::Constant(r) => check_vector(Param::Argument("target"), r, d),
            TargetPath::Levels(r) => {
                if r.dim() != (grid.levels(), d) {
                    return Err(SolverError::invalid(
                        Param::Argument("target"),
                        format!(
                            "expected a ({}, {d}) path (levels × axes), got {:?}",
                            grid.levels(),
                            r.dim()
                        ),
                    ));
                }
                if r.iter().any(|v| !v.is_finite()) {
                    return Err(SolverError::invalid(
                        Param::Argument("target"),
                        "entries must be finite",
                    ));
                }
                Ok(())
            }
        }
    }

    /// ρ at time t inside interval n (linear interpolation for [`TargetPath::Levels`]).
    fn at(&self, grid: &TimeGrid, n: usize, t: f64, out: &mut [f64]) {
        match self {
            TargetPath::Constant(r) => {
                for (o, v) in out.iter_mut().zip(r.iter()) {
                    *o = *v;
                }
            }
            TargetPath::Levels(r) => {
                let w = ((t - grid.t(n)) / grid.dt()).clamp(0.0, 1.0);
                for (i, o) in out.iter_mut().enumerate() {
                    *o = (1.0 - w) * r[[n, i]] + w * r[[n + 1, i]];
                }
            }
        }
    }

    fn level(&self, n: usize) -> Array1<f64> {
        match self {
            TargetPath::Constant(r) => r.clone(),
            TargetPath::Levels(r) => r.row(n).to_owned(),
        }
    }
}

/// Coefficients of v(x, t_n) = ½xᵀφ_n x + h_nᵀx + χ_n at every level.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueFunction {
    /// Level times t_n, length steps+1.
    pub time: Array1<f64>,
    /// φ_n, shape (steps+1, d, d).
    pub phi: Array3<f64>,
    /// h_n, shape (steps+1, d).
    pub h: Array2<f64>,
    /// χ_n, length steps+1.
    pub chi: Array1<f64>,
}

impl ValueFunction {
    fn check_point(&self, level: usize, x: &ArrayView1<f64>) -> Result<()> {
        if level >= self.time.len() {
            return Err(SolverError::invalid(
                Param::Argument("level"),
                format!("level {level} outside 0..={}", self.time.len() - 1),
            ));
        }
        if x.len() != self.h.ncols() {
            return Err(SolverError::invalid(
                Param::Argument("x"),
                format!("expected {} coordinates, got {}", self.h.ncols(), x.len()),
            ));
        }
        Ok(())
    }

    /// v(x, t_level) = ½xᵀφx + hᵀx + χ.
    pub fn value(&self, level: usize, x: ArrayView1<f64>) -> Result<f64> {
        self.check_point(level, &x)?;
        let phi = self.phi.slice(ndarray::s![level, .., ..]);
        let h = self.h.row(level);
        Ok(0.5 * x.dot(&phi.dot(&x)) + h.dot(&x) + self.chi[level])
    }

    /// ∇v(x, t_level) = φx + h; the optimal drift (11)-(12) is A∇v.
    pub fn gradient(&self, level: usize, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        self.check_point(level, &x)?;
        let phi = self.phi.slice(ndarray::s![level, .., ..]);
        Ok(phi.dot(&x) + self.h.row(level))
    }
}

/// Solves the corrected ODEs (15) for φ, h, χ backward from T for the target `target`
/// (constant or piecewise linear between levels, see [`TargetPath`]), noise σ, on `grid`.
/// Parameters named in errors: `Param::Drift`, `RunningCost`, `TerminalCost`, `Noise`,
/// `Argument("target")`, `Horizon`, `OutputSteps`. Blow-up: `NonFinite { stage: "lq", .. }`.
pub fn value_function(
    a: &Array2<f64>,
    q: &Array2<f64>,
    s: &Array2<f64>,
    sigma: f64,
    target: &TargetPath,
    grid: &TimeGrid,
) -> Result<ValueFunction> {
    let d = check_coefficients(a, q, s)?;
    check_sigma(sigma)?;
    grid.validate()?;
    target.check(d, grid)?;
    let levels = grid.levels();
    let mut phi_out = Array3::zeros((levels, d, d));
    let mut h_out = Array2::zeros((levels, d));
    let mut chi_out = Array1::zeros(levels);

    // State: [φ (d²) | h (d) | χ].
    let rho_t = target.level(grid.steps);
    let h_t = -s.dot(&rho_t);
    let chi_t = 0.5 * rho_t.dot(&s.dot(&rho_t));
    let mut y: Vec<f64> = s
        .iter()
        .copied()
        .chain(h_t.iter().copied())
        .chain([chi_t])
        .collect();
    let store = |n: usize,
                 y: &[f64],
                 phi_out: &mut Array3<f64>,
                 h_out: &mut Array2<f64>,
                 chi_out: &mut Array1<f64>| {
        let mut m = mat(&y[..d * d], d, d).to_owned();
        symmetrize(&mut m);
        phi_out.slice_mut(ndarray::s![n, .., ..]).assign(&m);
        h_out
            .row_mut(n)
            .assign(&ArrayView1::from(&y[d * d..d * d + d]));
        chi_out[n] = y[d * d + d];
    };
    store(grid.steps, &y, &mut phi_out, &mut h_out, &mut chi_out);
    let mut work = vec![0.0; d * d];
    let mut rho = vec![0.0; d];
    let half_s2 = 0.5 * sigma * sigma;
    integrate_levels(
        grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, _| {},
        |n, t, y, dy| {
            let (phi, rest) = y.split_at(d * d);
            let h = &rest[..d];
            let (dphi, drest) = dy.split_at_mut(d * d);
            riccati_rhs(a, q, phi, dphi, &mut work);
            target.at(grid, n, t, &mut rho);
            let p = mat(phi, d, d);
            let hv = ArrayView1::from(h);
            let rv = ArrayView1::from(&rho[..]);
            let ah = a.dot(&hv);
            let qr = q.dot(&rv);
            let dh = -p.dot(&ah) + &qr;
            drest[..d].copy_from_slice(dh.as_slice().expect("contiguous"));
            let trace: f64 = (0..d).map(|i| phi[i * d + i]).sum();
            drest[d] = -0.5 * hv.dot(&ah) - 0.5 * rv.dot(&qr) - half_s2 * trace;
        },
        |n, y| store(n, y, &mut phi_out, &mut h_out, &mut chi_out),
    )
    .map_err(|f| non_finite("lq", f, 0))?;
    Ok(ValueFunction {
        time: grid.times(),
        phi: phi_out,
        h: h_out,
        chi: chi_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lq::riccati::riccati;
    use ndarray::array;

    /// Five-point central difference in time at level n (O(dt⁴)).
    fn dt_five_point(v: &dyn Fn(usize) -> f64, n: usize, dt: f64) -> f64 {
        (v(n - 2) - 8.0 * v(n - 1) + 8.0 * v(n + 1) - v(n + 2)) / (12.0 * dt)
    }

    /// d = 1, ρ constant: v from the ODEs satisfies the HJI
    /// ∂t v + ½A(∂x v)² + ½Q(ρ−x)² + σ²/2 ∂xx v = 0 by finite differences
    /// (5-point in t, central in x, exact for the quadratic in x), and v(T) matches.
    #[test]
    fn hji_residual_one_dimensional_constant_target() {
        let (a, q, s, sigma, rho) = (-0.75, 1.3, 0.4, 0.3, 0.7);
        let grid = TimeGrid::new(2.0, 2000).unwrap();
        let vf = value_function(
            &array![[a]],
            &array![[q]],
            &array![[s]],
            sigma,
            &TargetPath::Constant(array![rho]),
            &grid,
        )
        .unwrap();
        let v = |n: usize, x: f64| vf.value(n, array![x].view()).unwrap();
        let mut worst: f64 = 0.0;
        for &n in &[2usize, 500, 1000, 1998] {
            for &x in &[-1.5, 0.0, 0.7, 2.5] {
                let dx = 1e-2;
                let vt = dt_five_point(&|m| v(m, x), n, grid.dt());
                let vx = (v(n, x + dx) - v(n, x - dx)) / (2.0 * dx);
                let vxx = (v(n, x + dx) - 2.0 * v(n, x) + v(n, x - dx)) / (dx * dx);
                let res = vt
                    + 0.5 * a * vx * vx
                    + 0.5 * q * (rho - x) * (rho - x)
                    + 0.5 * sigma * sigma * vxx;
                worst = worst.max(res.abs());
            }
        }
        eprintln!("HJI residual (1-D, FD): {worst:.3e}");
        assert!(worst < 1e-8, "HJI residual {worst:e}");
        for &x in &[-1.0, 0.3, 2.0] {
            let exact = 0.5 * s * (x - rho) * (x - rho);
            assert!((v(grid.steps, x) - exact).abs() < 1e-15);
        }
    }

    /// d = 2, non-diagonal A, ρ linear in time (so the piecewise-linear interpolation is
    /// exact): HJI residual by finite differences in t and x, with the full Laplacian.
    #[test]
    fn hji_residual_two_dimensional_linear_target() {
        let a = array![[-1.0, 0.4], [0.4, -0.8]];
        let q = array![[1.0, 0.2], [0.2, 0.5]];
        let s = array![[0.3, 0.0], [0.0, 0.6]];
        let sigma = 0.5;
        let grid = TimeGrid::new(1.5, 1500).unwrap();
        let rho_of = |t: f64| array![0.2 + 0.5 * t, -1.0 + 0.3 * t];
        let mut path = Array2::zeros((grid.levels(), 2));
        for n in 0..grid.levels() {
            path.row_mut(n).assign(&rho_of(grid.t(n)));
        }
        let vf = value_function(&a, &q, &s, sigma, &TargetPath::Levels(path), &grid).unwrap();
        let v = |n: usize, x: &Array1<f64>| vf.value(n, x.view()).unwrap();
        let mut worst: f64 = 0.0;
        for &n in &[2usize, 700, 1497] {
            for x in [array![0.5, -0.2], array![-1.0, 1.5]] {
                let h = 1e-2;
                let vt = dt_five_point(&|m| v(m, &x), n, grid.dt());
                let mut grad = Array1::zeros(2);
                let mut lap = 0.0;
                for i in 0..2 {
                    let mut xp = x.clone();
                    xp[i] += h;
                    let mut xm = x.clone();
                    xm[i] -= h;
                    grad[i] = (v(n, &xp) - v(n, &xm)) / (2.0 * h);
                    lap += (v(n, &xp) - 2.0 * v(n, &x) + v(n, &xm)) / (h * h);
                }
                let e = &rho_of(grid.t(n)) - &x;
                let res = vt
                    + 0.5 * grad.dot(&a.dot(&grad))
                    + 0.5 * e.dot(&q.dot(&e))
                    + 0.5 * sigma * sigma * lap;
                worst = worst.max(res.abs());
            }
        }
        eprintln!("HJI residual (2-D, FD): {worst:.3e}");
        assert!(worst < 1e-8, "HJI residual {worst:e}");
    }

    /// φ of the joint integration equals the stand-alone Riccati solution, and a constant
    /// target given as a level path gives the same coefficients as `Constant`.
    #[test]
    fn constant_and_level_targets_agree() {
        let a = array![[-1.2, 0.3], [0.3, -0.7]];
        let q = Array2::eye(2);
        let s = array![[2.0, 0.5], [0.5, 1.0]];
        let grid = TimeGrid::new(10.0, 100).unwrap();
        let rho = array![1.0, -2.0];
        let c = value_function(&a, &q, &s, 0.2, &TargetPath::Constant(rho.clone()), &grid).unwrap();
        let path = Array2::from_shape_fn((grid.levels(), 2), |(_, i)| rho[i]);
        let l = value_function(&a, &q, &s, 0.2, &TargetPath::Levels(path), &grid).unwrap();
        let phi = riccati(&a, &q, &s, &grid).unwrap();
        let max = |x: f64, y: &f64| x.max(y.abs());
        assert!((&c.h - &l.h).iter().fold(0.0, max) < 1e-14);
        assert!((&c.chi - &l.chi).iter().fold(0.0, max) < 1e-12);
        assert!((&c.phi - &phi).iter().fold(0.0, max) < 1e-11);
    }

    #[test]
    fn bad_target_shape_is_refused() {
        let grid = TimeGrid::new(1.0, 10).unwrap();
        let err = value_function(
            &array![[-1.0]],
            &array![[1.0]],
            &array![[1.0]],
            0.1,
            &TargetPath::Levels(Array2::zeros((10, 1))),
            &grid,
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::Argument("target")),
            "{err}"
        );
        let err = value_function(
            &array![[-1.0]],
            &array![[1.0]],
            &array![[1.0]],
            -0.1,
            &TargetPath::Constant(array![0.0]),
            &grid,
        )
        .unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::Noise),
            "{err}"
        );
    }
}
