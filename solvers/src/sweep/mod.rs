//! Monotone HJI sweep backward and its exact discrete adjoint, the FPK, forward
//! (docs/design.md §1 and §4) on a [`Grid`].
//!
//! For a given target path ρ(t) (one row per time level t_n = nT/N) this solves
//!
//! * HJI (backward): ∂t v + ½∇vᵀA∇v + ½(ρ−x)ᵀQ(ρ−x) + σ²/2 Δv = 0,  v(T) = ½(ρ(T)−x)ᵀS(ρ(T)−x)
//! * FPK (forward):  ∂t m + div(m A∇v) − σ²/2 Δm = 0,                 m(0) = m0
//!
//! with A symmetric negative definite (condition (17)), possibly non-diagonal.
//!
//! # Scheme
//!
//! *Hamiltonian over the drift.* ½pᵀAp = min_b { b·p − ½bᵀA⁻¹b }, attained at b = Ap.
//! The HJI is the Bellman equation of the control problem "choose the drift b".
//!
//! *One backward step* (level n+1 → n, dt = T/N), semi-implicit policy step:
//!
//! 1. drift b^n = A∇v^{n+1} at every node, ∇ by centred differences inside and one-sided
//!    differences on the boundary faces;
//! 2. source g^n = f^n − ½ b^n·∇v^{n+1} with the running cost
//!    f^n = ½(ρ^n−x)ᵀQ(ρ^n−x) + κ Σ_j max(0, −x_j)² (κ = `core_penalty`, 0 in the LQ
//!    model), which at b = A∇v equals
//!    f − ½bᵀA⁻¹b = ½∇vᵀA∇v + f − b·∇v (so b·∇v + g = ½∇vᵀA∇v + f: the Hamiltonian);
//! 3. linear generator L^n = Σ_i L_i, L_i = upwind b_i ∂_i (forward difference where
//!    b_i > 0, backward where b_i < 0; off-diagonals b_i⁺/h_i and b_i⁻/h_i, both ≥ 0)
//!    plus σ²/2 ∂_ii (3-point). Reflecting (Neumann) boundary: couplings that would leave
//!    the grid are dropped, so every row of every L_i sums to zero and its off-diagonals
//!    are non-negative (L_i generates a continuous-time Markov chain on the nodes);
//! 4. (I − dt L^n) v^n = v^{n+1} + dt g^n, solved by dimensional (Lie) splitting with
//!    tridiagonal line solves, E_i = (I − dt L_i)⁻¹, **with the source split between the
//!    factors**: g^n = Σ_i g_i, g_i = −b_i ∂_i v^{n+1} for i < d−1 and
//!    g_{d−1} = f − ½ b·∇v^{n+1} + Σ_{i<d−1} b_i ∂_i v^{n+1}, and
//!
//!    v^n = E_0( E_1( ⋯ E_{d−1}(v^{n+1} + dt g_{d−1}) ⋯ + dt g_1) + dt g_0).
//!
//!    The linear part of the step is S_n = E_0 E_1 ⋯ E_{d−1}.
//!
//! *Why the source is split.* The policy is lagged (b from v^{n+1}); what makes that
//! harmless is the envelope property: a perturbation δb changes the transport term
//! δb_i ∂_i v by exactly what it changes the source −b_i ∂_i v. If the whole source
//! entered before the innermost factor (v^n = S_n(v^{n+1} + dt g)), the transport
//! perturbation of axis i would be smoothed only by E_0⋯E_i while its source counterpart
//! is smoothed by all factors; with a non-diagonal A, b_i depends on ∂_k v (k ≠ i), and the
//! mismatch E_0⋯E_i(I − E_{i+1}⋯E_{d−1})(δb_i ∂_i v) is an explicit transport along axis
//! k, unstable once dt|b|/h ≳ 3 (measured: 2-D, A = [[−1.75,−1],[−1,−2.75]], 161 points and
//! 40 steps blew up). Giving factor i its own −b_i ∂_i v cancels that term inside the same
//! factor; what remains (Σ_i b_i δ∂_i v in g_{d−1}) is followed by every factor, each
//! implicit along its own axis at its own speed. Measured on that problem: stable and first
//! order up to Courant numbers ~80 (test `oracle_2d_nondiagonal_large_courant`). In 1-D the
//! scheme is the unsplit one.
//!
//! Each I − dt L_i is a strictly diagonally dominant M-matrix, so E_i ≥ 0 entrywise and
//! E_i 1 = 1: the linear part is monotone and preserves constants for any dt (no CFL for the
//! linear solves; stability of the nonlinear, policy-lagged step is the measured statement
//! above, not a theorem). It is first order in h and dt (upwinding, splitting, explicit
//! policy).
//!
//! *FPK = exact discrete adjoint* (Achdou–Capuzzo-Dolcetta): m^{n+1} = S_nᵀ m^n =
//! E_{d−1}ᵀ⋯E_0ᵀ m^n (transposed factors in reverse order), with the same b^n, recomputed
//! bit-identically from the stored v^{n+1} (one field per level is kept, not the drift).
//! Since 1ᵀE_iᵀ = (E_i 1)ᵀ = 1ᵀ and E_iᵀ ≥ 0, mass Σ m·cell is conserved to round-off and
//! m stays ≥ 0 with no boundary code; no-flux boundaries come with the transpose. The
//! sources are affine terms of the HJI step only; the linear parts of the HJI and FPK steps
//! are exact transposes (Σ_x (S_n w) m^n = Σ_x w S_nᵀ m^n for every field w).
//!
//! *Line solves.* Thomas algorithm without pivoting (diagonally dominant). Row j of
//! I − dt L_i has −α_j below and −β_j above the diagonal, α_j = dt(b_j⁻/h + σ²/2h²)
//! (0 at j = 0), β_j = dt(b_j⁺/h + σ²/2h²) (0 at j = n−1); the transpose exchanges them:
//! row j of (I − dt L_i)ᵀ has −β_{j−1} below and −α_{j+1} above the diagonal.
//! On the contiguous last axis, 16 rows are solved together: drift and right-hand side
//! are computed along each row, transposed into a small tile and the 16 recurrences run
//! in SIMD lanes (which hides the latency of the Thomas recurrence). On the other axes the
//! array is seen as (outer, n_axis, inner) and a task sweeps along the axis over a segment
//! of 64 consecutive nodes of one last-axis row, SIMD across the segment. The drift is
//! never stored: each pass recomputes the component it needs from the stored v^{n+1}
//! with the same expressions, so the HJI and the FPK use bit-identical coefficients. The
//! HJI's right-hand side and the FPK's moments are fused into the row pass, so one time
//! step of either costs d passes over the field. The inner loops are compiled for AVX2
//! too and chosen at run time; no a·b + c is contracted into an FMA, so both builds give
//! identical bits.
//!
//! *Bounded controls and policy evaluation* ([`crate::hamiltonian`]). With bounds the
//! Hamiltonian is the channel sum H(p) = b(p)·p + ℓ(p) with the saturated optimum
//! b = ∇H(p) (C¹, so the envelope argument above still holds): steps 1–4 are unchanged
//! with b = ∇H(∇v^{n+1}) in the upwind generator and the source g = f + ℓ (split as
//! above: g_i = −b_i ∂_i v, g_{d−1} = f + ℓ + Σ_{i<d−1} b_i ∂_i v). The linear parts stay
//! monotone M-matrix factors, so mass, positivity and adjointness are as in the quadratic
//! case. In policy evaluation ([`Sweeper::set_designer_policy`]) the designer's channels
//! read the gradient of a given policy's value instead of ∇v^{n+1}, the disturbance's
//! still read ∇v^{n+1}. The channel drift is computed channel by channel over a segment
//! (vectorised); without bounds or a policy the kernels use b = Ap.
//!
//! *Physics as traits.* The kernels are generic over the Hamiltonian (½pᵀAp or the
//! channels) and the running cost (quadratic, or with the core penalty), monomorphised and
//! chosen once per pass (docs/design.md §4.6), so the inner loops carry no physics branch.
//!
//! *Determinism.* rayon tasks have fixed sizes (independent of the thread count), each
//! output element is written by one task, and reductions (mass, moments) are combined in
//! task order, so results are bit-identical for any number of threads.
//!
//! *Interrupts.* With [`Sweeper::set_interrupt`], the caller's flag is polled before every
//! time step of either sweep; once raised, the sweep stops with [`SolverError::Interrupted`]
//! (the partial result is to be discarded). Polling reads one atomic and changes no bit.
//!
//! *Checks.* Every time level is checked for NaN/∞ ([`SolverError::NonFinite`] with stage
//! "HJI" or "FPK", the level and the caller's population index).

mod kernels;
mod par;

use crate::error::{Param, Result, SolverError};
use crate::grid::{Grid, MomentPartial, Moments, MAX_DIM};
use crate::model::Model;
use crate::physics::{to_m3, ModelPhysics};
use kernels::Geometry;
use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2, ArrayViewD, IxDyn};
use sprs::{CsMat, TriMat};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Uniform time levels t_n = n·dt, n = 0..=steps, dt = horizon/steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeStepping {
    /// T.
    pub horizon: f64,
    /// Number of steps N (levels 0..=N).
    pub steps: usize,
}

impl TimeStepping {
    /// dt = T/N.
    pub fn dt(&self) -> f64 {
        self.horizon / self.steps as f64
    }

    /// t_n = n T/N.
    pub fn time(&self, n: usize) -> f64 {
        n as f64 * self.dt()
    }
}

/// The value function v^n on the grid at every time level n = 0..=steps (HJI solution).
#[derive(Debug, Clone, PartialEq)]
pub struct HjiSolution {
    values: Array2<f64>,
    shape: Vec<usize>,
    population: usize,
}

impl HjiSolution {
    /// Empty solution to be filled by [`Sweeper::solve_hji_into`] (no allocation yet).
    pub fn empty() -> Self {
        HjiSolution {
            values: Array2::zeros((0, 0)),
            shape: Vec::new(),
            population: 0,
        }
    }

    /// A value function given level by level (shape (steps+1, grid points), rows
    /// row-major fields), e.g. a tabulated LQ value ½xᵀφ(t)x + h(t)ᵀx to be evaluated as a
    /// policy ([`Sweeper::set_designer_policy`]). Non-finite entries are refused.
    pub fn from_values(values: Array2<f64>, grid: &Grid) -> Result<Self> {
        if values.ncols() != grid.len() || values.nrows() < 2 {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                format!(
                    "expected (steps+1) × {} values with steps ≥ 1, got {:?}",
                    grid.len(),
                    values.dim()
                ),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::invalid(
                Param::Argument("policy"),
                "values must be finite",
            ));
        }
        Ok(HjiSolution {
            values: values.as_standard_layout().into_owned(),
            shape: grid.shape().to_vec(),
            population: 0,
        })
    }

    /// Storage for levels 0..=`steps` on `grid`, labelled `population`, as one flat slice
    /// (level after level, each a row-major field), reusing the allocation when the size
    /// matches: how the other time steppers ([`crate::scheme`]) fill a solution.
    pub(crate) fn prepare(&mut self, grid: &Grid, steps: usize, population: usize) -> &mut [f64] {
        if self.values.dim() != (steps + 1, grid.len()) {
            self.values = Array2::zeros((steps + 1, grid.len()));
        }
        self.shape = grid.shape().to_vec();
        self.population = population;
        self.values
            .as_slice_mut()
            .expect("freshly allocated or standard-layout values")
    }

    /// Number of time steps N (levels 0..=N).
    pub fn steps(&self) -> usize {
        self.values.nrows().saturating_sub(1)
    }

    /// Population index this solution belongs to.
    pub fn population(&self) -> usize {
        self.population
    }

    /// All levels, shape (steps+1, grid points), each row a row-major field.
    pub fn values(&self) -> ArrayView2<'_, f64> {
        self.values.view()
    }

    /// v^n with the grid's shape. Panics if `level > steps`.
    pub fn value(&self, level: usize) -> ArrayViewD<'_, f64> {
        self.values
            .row(level)
            .into_shape_with_order(IxDyn(&self.shape))
            .expect("row is contiguous with the grid's size")
    }

    /// v^n as a flat row-major slice. Panics if `level > steps`.
    pub fn level_slice(&self, level: usize) -> &[f64] {
        self.values
            .row(level)
            .to_slice()
            .expect("rows are contiguous")
    }
}

/// What the forward FPK sweep reports at every level n = 0..=steps.
#[derive(Debug, Clone, PartialEq)]
pub struct FpkSummary {
    /// m̄(t_n) = Σ x m^n cell / mass, shape (steps+1, d).
    pub mean: Array2<f64>,
    /// Covariance of m^n/mass, shape (steps+1, d, d).
    pub cov: Array3<f64>,
    /// Σ m^n cell (1 up to round-off for a normalised m0).
    pub mass: Array1<f64>,
    /// Mass on the boundary nodes (how much the reflecting wall is felt).
    pub boundary_mass: Array1<f64>,
    /// Smallest nodal density over all levels (≥ 0 by monotonicity).
    pub min_density: f64,
}

impl FpkSummary {
    /// An empty summary for levels 0..=steps on d axes (minimum density +∞).
    pub(crate) fn zeros(steps: usize, d: usize) -> Self {
        FpkSummary {
            mean: Array2::zeros((steps + 1, d)),
            cov: Array3::zeros((steps + 1, d, d)),
            mass: Array1::zeros(steps + 1),
            boundary_mass: Array1::zeros(steps + 1),
            min_density: f64::INFINITY,
        }
    }

    /// Records the moments of m^n at level n.
    pub(crate) fn record(&mut self, n: usize, mom: &Moments) {
        self.mean.row_mut(n).assign(&mom.mean);
        self.cov
            .index_axis_mut(ndarray::Axis(0), n)
            .assign(&mom.cov);
        self.mass[n] = mom.mass;
        self.boundary_mass[n] = mom.boundary_mass;
        self.min_density = self.min_density.min(mom.min_density);
    }
}

/// Reusable solver for one grid, one set of coefficients and one time stepping: owns the
/// workspace (density, reduction buffers; per-thread tiles are kept by the threads) so
/// repeated HJI/FPK solves,
/// e.g. in a fixed-point loop, do not reallocate.
#[derive(Debug, Clone)]
pub struct Sweeper {
    grid: Grid,
    geo: Geometry,
    phys: ModelPhysics,
    time: TimeStepping,
    density: Vec<f64>,
    partials: Vec<MomentPartial>,
    policy: Option<HjiSolution>,
    interrupt: Option<Arc<AtomicBool>>,
}

impl Sweeper {
    /// The sweeps of a (validated) model on `grid`: checks that the model has one axis per
    /// grid axis and allocates the workspace (one field). `steps ≥ 1` (`Param::Steps`). The model's A, Q, S, σ, T, κ and control channels are the
    /// coefficients; its populations are not read.
    pub fn new(model: &Model, grid: &Grid, steps: usize) -> Result<Self> {
        let d = grid.dim();
        if model.dim() != d {
            return Err(SolverError::invalid(
                Param::Drift,
                format!(
                    "expected a {d}×{d} matrix (one row per grid axis), got {}×{}",
                    model.a.nrows(),
                    model.a.ncols()
                ),
            ));
        }
        if steps == 0 {
            return Err(SolverError::invalid(
                Param::Steps,
                "need at least 1 time step",
            ));
        }
        let time = TimeStepping {
            horizon: model.horizon,
            steps,
        };
        let geo = Geometry::new(grid, to_m3(&model.s), model.sigma, time.dt());
        if let Some(law) = &model.controls {
            law.check_kernel_channels()?;
        }
        Ok(Sweeper {
            grid: grid.clone(),
            time,
            density: vec![0.0; grid.len()],
            partials: vec![MomentPartial::new(); grid.row_tasks().3],
            geo,
            phys: ModelPhysics::new(model),
            policy: None,
            interrupt: None,
        })
    }

    /// Policy evaluation: with `Some(policy)`, the designer's channels no longer optimise
    /// but play the feedback of `policy` (its allocation at level n is the optimum of the
    /// channel Hamiltonian at ∇policy^n, clipped to the bounds), while the disturbance
    /// still plays its best response to the value being computed. The HJI step from level
    /// n+1 then solves ∂t v + H_π(x, ∇v) + f + σ²/2 Δv = 0 with
    /// H_π = b_u(∇policy)·p + ½u_πᵀRu_π + max_w{…}: the designer's expected cost under the
    /// worst-case disturbance (the robust cost of the policy), and the FPK moves the
    /// density with the resulting drift. Needs the control channels (`controls`) and a
    /// policy with this sweeper's grid and steps. `None` restores the equilibrium sweeps.
    pub fn set_designer_policy(&mut self, policy: Option<HjiSolution>) -> Result<()> {
        if let Some(p) = &policy {
            if !self.phys.has_channels() {
                return Err(SolverError::invalid(
                    Param::Controls,
                    "policy evaluation needs the control channels of the game",
                ));
            }
            if p.values.dim() != (self.time.steps + 1, self.grid.len())
                || p.shape != self.grid.shape()
            {
                return Err(SolverError::invalid(
                    Param::Argument("policy"),
                    "policy does not belong to this grid and time stepping",
                ));
            }
        }
        self.phys.set_policy(policy.is_some());
        self.policy = policy;
        Ok(())
    }

    /// Polls `flag` before every time step of the HJI and FPK sweeps: once it is set, the
    /// sweep in progress stops with [`SolverError::Interrupted`]. `None` never interrupts.
    pub fn set_interrupt(&mut self, flag: Option<Arc<AtomicBool>>) {
        self.interrupt = flag;
    }

    fn check_interrupt(&self) -> Result<()> {
        match &self.interrupt {
            Some(f) if f.load(Ordering::Relaxed) => Err(SolverError::Interrupted),
            _ => Ok(()),
        }
    }

    /// Selects the portable build of the inner loops instead of the AVX2 one (both give
    /// identical bits; for tests and comparisons).
    #[doc(hidden)]
    pub fn set_portable_kernels(&mut self, portable: bool) {
        self.geo.simd = !portable && kernels::Geometry::detect_simd();
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Time levels.
    pub fn time(&self) -> TimeStepping {
        self.time
    }

    fn check_rho(&self, rho: &ArrayView2<f64>) -> Result<()> {
        let want = (self.time.steps + 1, self.grid.dim());
        if rho.dim() != want {
            return Err(SolverError::invalid(
                Param::Argument("rho"),
                format!(
                    "target path must have shape {want:?} (levels × axes), got {:?}",
                    rho.dim()
                ),
            ));
        }
        Ok(())
    }

    fn check_field(&self, field: &'static str, len: usize) -> Result<()> {
        if len != self.grid.len() {
            return Err(SolverError::invalid(
                Param::Argument(field),
                format!(
                    "expected {} values (one per grid node), got {len}",
                    self.grid.len()
                ),
            ));
        }
        Ok(())
    }

    /// Solves the HJI backward for the target path `rho` (shape (steps+1, d), row n = ρ(t_n)).
    /// `population` only labels errors.
    pub fn solve_hji(&mut self, rho: ArrayView2<f64>, population: usize) -> Result<HjiSolution> {
        let mut out = HjiSolution::empty();
        self.solve_hji_into(rho, population, &mut out)?;
        Ok(out)
    }

    /// [`Sweeper::solve_hji`] into an existing solution, reusing its storage when the size
    /// matches.
    pub fn solve_hji_into(
        &mut self,
        rho: ArrayView2<f64>,
        population: usize,
        out: &mut HjiSolution,
    ) -> Result<()> {
        self.check_rho(&rho)?;
        let steps = self.time.steps;
        let n_pts = self.grid.len();
        if out.values.dim() != (steps + 1, n_pts) {
            out.values = Array2::zeros((steps + 1, n_pts));
        }
        out.shape = self.grid.shape().to_vec();
        out.population = population;
        let values = out
            .values
            .as_slice_mut()
            .expect("freshly allocated or standard-layout values");
        let d = self.grid.dim();
        let mut rho_n = [0.0; MAX_DIM];
        let nonfinite = |level| SolverError::NonFinite {
            stage: "HJI",
            level,
            population,
        };
        {
            for i in 0..d {
                rho_n[i] = rho[[steps, i]];
            }
            let last = &mut values[steps * n_pts..];
            kernels::terminal_pass(&self.geo, last, &rho_n[..d]);
            if !kernels::all_finite(&self.geo, last) {
                return Err(nonfinite(steps));
            }
        }
        for n in (0..steps).rev() {
            self.check_interrupt()?;
            let (lower, upper) = values.split_at_mut((n + 1) * n_pts);
            let out_n = &mut lower[n * n_pts..];
            let v_next = &upper[..n_pts];
            for i in 0..d {
                rho_n[i] = rho[[n, i]];
            }
            // E_{d−1} (last axis, with the right-hand side v + dt g_{d−1}), then
            // E_{d−2} … E_0 (each adding its source share −dt b*_i p_i first).
            let pol = self.policy.as_ref().map(|p| p.level_slice(n + 1));
            let mut ok = kernels::row_pass(
                &self.geo,
                &self.phys,
                &self.grid,
                v_next,
                pol,
                out_n,
                Some(&rho_n[..d]),
                false,
                None,
            );
            for axis in (0..d - 1).rev() {
                ok = kernels::block_pass(
                    &self.geo, &self.phys, v_next, pol, out_n, axis, false, true,
                );
            }
            // The last factor writes every node of v^n and checks each value it writes.
            if !ok {
                return Err(nonfinite(n));
            }
        }
        Ok(())
    }

    /// Solves the FPK forward from `m0` (grid-shaped, non-negative, finite; not renormalised)
    /// with the drift of `hji`, calling `observer(level, m^level)` at every level 0..=steps.
    pub fn solve_fpk(
        &mut self,
        hji: &HjiSolution,
        m0: ArrayViewD<f64>,
        population: usize,
        observer: &mut dyn FnMut(usize, ArrayViewD<'_, f64>),
    ) -> Result<FpkSummary> {
        let steps = self.time.steps;
        let d = self.grid.dim();
        if hji.values.dim() != (steps + 1, self.grid.len()) || hji.shape != self.grid.shape() {
            return Err(SolverError::invalid(
                Param::Argument("hji"),
                "value function does not belong to this grid and time stepping",
            ));
        }
        check_initial_density(&self.grid, &m0, population)?;
        for (dst, src) in self.density.iter_mut().zip(m0.iter()) {
            *dst = *src;
        }
        let mut summary = FpkSummary::zeros(steps, d);
        for n in 0..=steps {
            self.check_interrupt()?;
            let (mom, ok) = if n == 0 {
                let mom = self.grid.moments_with(&self.density, &mut self.partials);
                let ok = kernels::all_finite(&self.geo, &self.density);
                (mom, ok)
            } else {
                // m^n = E_{d−1}ᵀ ⋯ E_0ᵀ m^{n−1} with the drift of v^n; moments fused in the last.
                let v = hji.level_slice(n);
                let pol = self.policy.as_ref().map(|p| p.level_slice(n));
                for axis in 0..d - 1 {
                    kernels::block_pass(
                        &self.geo,
                        &self.phys,
                        v,
                        pol,
                        &mut self.density,
                        axis,
                        true,
                        false,
                    );
                }
                let ok = kernels::row_pass(
                    &self.geo,
                    &self.phys,
                    &self.grid,
                    v,
                    pol,
                    &mut self.density,
                    None,
                    true,
                    Some(&mut self.partials),
                );
                (self.grid.combine(&self.partials), ok)
            };
            if !ok || !mom.mass.is_finite() || mom.cov.iter().any(|v| !v.is_finite()) {
                return Err(SolverError::NonFinite {
                    stage: "FPK",
                    level: n,
                    population,
                });
            }
            summary.record(n, &mom);
            observer(
                n,
                ArrayViewD::from_shape(IxDyn(self.grid.shape()), &self.density)
                    .expect("density has the grid's size"),
            );
        }
        Ok(summary)
    }

    /// The feedback drift b = A∇v of a value field (same discrete gradient as the sweeps),
    /// shape (d, n_0, …, n_{d−1}). The FPK step from level n to n+1 uses the drift of v^{n+1}:
    /// `optimal_drift(hji.value(n + 1))`.
    pub fn optimal_drift(&mut self, v: ArrayViewD<f64>) -> Result<ArrayD<f64>> {
        if v.shape() != self.grid.shape() {
            return Err(SolverError::invalid(
                Param::Argument("value"),
                "value field must have the grid's shape",
            ));
        }
        let v: Vec<f64> = v.iter().cloned().collect();
        let mut drift = vec![vec![0.0; self.grid.len()]; self.grid.dim()];
        kernels::drift_field(&self.geo, &self.phys, &v, None, &mut drift);
        let mut shape = vec![self.grid.dim()];
        shape.extend_from_slice(self.grid.shape());
        let flat: Vec<f64> = drift.into_iter().flatten().collect();
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("d fields of grid size"))
    }

    fn factor(&self, v_next: &[f64], axis: usize, transpose: bool, x: &mut [f64]) {
        if axis + 1 == self.grid.dim() {
            kernels::row_pass(
                &self.geo, &self.phys, &self.grid, v_next, None, x, None, transpose, None,
            );
        } else {
            kernels::block_pass(
                &self.geo, &self.phys, v_next, None, x, axis, transpose, false,
            );
        }
    }

    /// Applies one splitting factor E_axis = (I − dt L_axis)⁻¹, or its transpose, to the flat
    /// field `x` in place, with the drift of `v_next` (building block of [`Sweeper::apply_step`]).
    pub fn apply_factor(
        &mut self,
        v_next: &[f64],
        axis: usize,
        transpose: bool,
        x: &mut [f64],
    ) -> Result<()> {
        self.check_field("value", v_next.len())?;
        self.check_field("field", x.len())?;
        if axis >= self.grid.dim() {
            return Err(SolverError::invalid(
                Param::Argument("axis"),
                format!("axis {axis} ≥ dimension {}", self.grid.dim()),
            ));
        }
        self.factor(v_next, axis, transpose, x);
        Ok(())
    }

    /// x ← S x with S = E_0⋯E_{d−1} the linear part of one HJI step whose drift comes from
    /// `v_next` (flat fields of the grid's size).
    pub fn apply_step(&mut self, v_next: &[f64], x: &mut [f64]) -> Result<()> {
        self.check_field("value", v_next.len())?;
        self.check_field("field", x.len())?;
        for axis in (0..self.grid.dim()).rev() {
            self.factor(v_next, axis, false, x);
        }
        Ok(())
    }

    /// y ← Sᵀ y = E_{d−1}ᵀ⋯E_0ᵀ y: one FPK step with the drift of `v_next`.
    pub fn apply_step_transpose(&mut self, v_next: &[f64], y: &mut [f64]) -> Result<()> {
        self.check_field("value", v_next.len())?;
        self.check_field("field", y.len())?;
        for axis in 0..self.grid.dim() {
            self.factor(v_next, axis, true, y);
        }
        Ok(())
    }

    /// The generators L_i (i = 0..d) of step 3 of the scheme as sparse matrices (CSR,
    /// N×N), with the drift of `v_next`. For tests and analysis; the sweeps never form them.
    pub fn assemble_generators(&mut self, v_next: &[f64]) -> Result<Vec<CsMat<f64>>> {
        self.check_field("value", v_next.len())?;
        let mut drift = vec![vec![0.0; self.grid.len()]; self.grid.dim()];
        kernels::drift_field(&self.geo, &self.phys, v_next, None, &mut drift);
        let g = &self.geo;
        let n_pts = g.len;
        let diff = g.diff;
        let mut out = Vec::with_capacity(g.d);
        for (axis, b_axis) in drift.iter().enumerate() {
            let (n, stride) = (g.shape[axis], g.strides[axis]);
            let (ih, dh2) = (g.inv_h[axis], diff * g.inv_h[axis] * g.inv_h[axis]);
            let mut tri = TriMat::with_capacity((n_pts, n_pts), 3 * n_pts);
            for (p, &b) in b_axis.iter().enumerate() {
                let j = (p / stride) % n;
                let lo = if j > 0 { (-b).max(0.0) * ih + dh2 } else { 0.0 };
                let up = if j + 1 < n {
                    b.max(0.0) * ih + dh2
                } else {
                    0.0
                };
                if j > 0 {
                    tri.add_triplet(p, p - stride, lo);
                }
                if j + 1 < n {
                    tri.add_triplet(p, p + stride, up);
                }
                tri.add_triplet(p, p, -(lo + up));
            }
            out.push(tri.to_csr());
        }
        Ok(out)
    }
}

/// One-shot [`Sweeper::solve_hji`] (allocates a workspace).
pub fn solve_hji(
    model: &Model,
    grid: &Grid,
    steps: usize,
    rho: ArrayView2<f64>,
    population: usize,
) -> Result<HjiSolution> {
    Sweeper::new(model, grid, steps)?.solve_hji(rho, population)
}

/// One-shot [`Sweeper::solve_fpk`] (allocates a workspace).
pub fn solve_fpk(
    model: &Model,
    grid: &Grid,
    steps: usize,
    hji: &HjiSolution,
    m0: ArrayViewD<f64>,
    population: usize,
    observer: &mut dyn FnMut(usize, ArrayViewD<'_, f64>),
) -> Result<FpkSummary> {
    Sweeper::new(model, grid, steps)?.solve_fpk(hji, m0, population, observer)
}

/// Checks an FPK start m_k(·, 0) of population `population` (0-based): the grid's shape,
/// every value finite and ≥ 0 (it is not renormalised).
pub(crate) fn check_initial_density(
    grid: &Grid,
    m0: &ArrayViewD<f64>,
    population: usize,
) -> Result<()> {
    let field = Param::PopulationDensity(population);
    if m0.shape() != grid.shape() {
        return Err(SolverError::invalid(
            field,
            format!(
                "initial density must have shape {:?}, got {:?}",
                grid.shape(),
                m0.shape()
            ),
        ));
    }
    if m0.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(SolverError::invalid(
            field,
            "initial density must be finite and ≥ 0",
        ));
    }
    Ok(())
}
