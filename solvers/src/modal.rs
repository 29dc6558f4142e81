//! Exact modal decomposition of the full q-dimensional game (docs/design.md §2).
//!
//! When A, Q and S commute pairwise (e.g. Q = qI, S = sI with the paper's R = I,
//! Γ = γ²I), they share an orthonormal eigenbasis U: UᵀAU = Λ, UᵀQU and UᵀSU diagonal.
//! In the coordinates y = Uᵀx the HJI of docs/design.md §1,
//!
//!   ∂t v + ½∇vᵀA∇v + ½(ρ−x)ᵀQ(ρ−x) + σ²/2 Δv = 0,   v(T) = ½(ρ(T)−x)ᵀS(ρ(T)−x),
//!
//! separates (σ²I and the Laplacian are invariant under rotation): v = Σ_i v_i(y_i, t),
//! each v_i solving the 1-D HJI with a = λ_i, q_i = (UᵀQU)_ii, s_i = (UᵀSU)_ii and target
//! (Uᵀρ)_i. The optimal drift A∇v = U Λ ∇_y v acts on y_i through v_i alone, so the i-th
//! marginal of m_k evolves by the 1-D FPK from the Gaussian N((Uᵀm̄_k(0))_i, (UᵀC_kU)_ii).
//! The graph coupling ρ_k = Σ_j W_kj m̄_j (26)-(30) acts on the population index and is
//! linear, so it commutes with the rotation: **each mode is an independent 1-D
//! multi-population equilibrium**, and the coalition-coordinate means are m̄_k = U ȳ_k.
//!
//! [`ModalDecomposition::new`] checks the commutation, builds a common eigenbasis even
//! when eigenvalues of A repeat (within each cluster of equal eigenvalues of A it
//! diagonalises Q, then S within equal pairs), and verifies that UᵀAU, UᵀQU and UᵀSU are
//! diagonal to [`DIAGONAL_TOL`] (relative). [`solve_modal`] builds the modes one after
//! another — grid, mean-field map and fixed point of [`crate::fixed_point`] — and hands
//! each to the caller's fixed-point driver; each sweep is already parallel, and nothing
//! here reduces in parallel, so results do not depend on the number of threads.

use crate::equilibrium::{MeanFieldMap, PopulationResult};
use crate::error::{Param, Result, SolverError};
use crate::fixed_point::{
    FixedPoint, FixedPointSettings, FixedPointState, IterationRecord, Outcome, RunError,
};
use crate::game::{commute_pairwise, COMMUTE_TOL};
use crate::grid::Grid;
use crate::linalg::{frobenius, symmetric_eigen};
use crate::model::{Model, Population};
use ndarray::{s, Array1, Array2, Axis};

/// Relative tolerance of the final check that UᵀAU, UᵀQU and UᵀSU are diagonal:
/// ‖offdiag(UᵀMU)‖_F ≤ `DIAGONAL_TOL` · ‖M‖_F for each M.
pub const DIAGONAL_TOL: f64 = 1e-10;

/// Relative gap below which two eigenvalues count as equal when the common eigenbasis is
/// built (a cluster of A's eigenvalues is then rotated to diagonalise Q, then S).
pub const CLUSTER_TOL: f64 = 1e-9;

/// The parameter under which a failure of the modal reduction is reported.
pub const MODAL_FIELD: Param = Param::Reduction;

/// A common orthonormal eigenbasis U of commuting symmetric A, Q, S and the 1-D mode
/// coefficients (docs/design.md §2, "Modal decomposition (exact)").
#[derive(Debug, Clone, PartialEq)]
pub struct ModalDecomposition {
    model: Model,
    vectors: Array2<f64>,
    eigenvalues: Array1<f64>,
    q_diag: Array1<f64>,
    s_diag: Array1<f64>,
    commutators: [f64; 3],
    off_diagonal: [f64; 3],
}

fn off_diagonal_norm(m: &Array2<f64>) -> f64 {
    let mut s = 0.0;
    for ((i, j), v) in m.indexed_iter() {
        if i != j {
            s += v * v;
        }
    }
    s.sqrt()
}

/// ‖XY − YX‖_F / (‖X‖_F ‖Y‖_F) (0 when either is zero).
fn relative_commutator(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
    let den = frobenius(x) * frobenius(y);
    if den == 0.0 {
        return 0.0;
    }
    frobenius(&(x.dot(y) - y.dot(x))) / den
}

/// Rotates, within every run of consecutive columns of `u` whose `keys` are all equal
/// (to [`CLUSTER_TOL`] relative to `scales`), to the eigenvectors of UcᵀMUc (ascending).
fn refine(
    u: &Array2<f64>,
    keys: &[Vec<f64>],
    scales: &[f64],
    m: &Array2<f64>,
) -> Result<Array2<f64>> {
    let n = u.ncols();
    let mut out = u.clone();
    let same = |a: usize, b: usize| {
        keys[a]
            .iter()
            .zip(&keys[b])
            .zip(scales)
            .all(|((x, y), sc)| (x - y).abs() <= CLUSTER_TOL * sc)
    };
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && same(end - 1, end) {
            end += 1;
        }
        if end - start > 1 {
            let uc = u.slice(s![.., start..end]).to_owned();
            let mc = uc.t().dot(m).dot(&uc);
            let mc = (&mc + &mc.t()) * 0.5;
            let (_, w) = symmetric_eigen(&mc)?;
            out.slice_mut(s![.., start..end]).assign(&uc.dot(&w));
        }
        start = end;
    }
    Ok(out)
}

fn diag_of(u: &Array2<f64>, m: &Array2<f64>) -> (Array2<f64>, Array1<f64>) {
    let r = u.t().dot(m).dot(u);
    let d = r.diag().to_owned();
    (r, d)
}

impl ModalDecomposition {
    /// Builds the decomposition of the full q-dimensional `model` (validated first).
    ///
    /// Errors: the model's validation; [`SolverError::InvalidParameter`] with field
    /// [`MODAL_FIELD`] (`Param::Reduction`) when A, Q and S do not commute pairwise
    /// ([`commute_pairwise`] with [`COMMUTE_TOL`]) or no common eigenbasis diagonalises
    /// them to [`DIAGONAL_TOL`].
    pub fn new(model: &Model) -> Result<Self> {
        if !model.is_lq() {
            return Err(SolverError::invalid(
                Param::CorePenalty,
                "the core-stability cost κ Σ_j max(0, −x_j)² does not separate into modes; \
                 the modal decomposition needs core_penalty = 0",
            ));
        }
        let (a, q, s) = (&model.a, &model.q, &model.s);
        let commutators = [
            relative_commutator(a, q),
            relative_commutator(a, s),
            relative_commutator(q, s),
        ];
        let refuse = |detail: String| {
            SolverError::invalid(
                MODAL_FIELD,
                format!(
                    "the modal decomposition is exact only when the matrices A, Q and S \
                     commute pairwise (e.g. Q and S scalar multiples of I with R = I, \
                     Γ = γ²I), but they do not commute: {detail}; use a projection on ≤ 3 \
                     coalitions instead (omit `reduction` and list `coalitions`)"
                ),
            )
        };
        if !commute_pairwise(a, q, s, COMMUTE_TOL) {
            return Err(refuse(format!(
                "‖AQ − QA‖ = {:.2e}, ‖AS − SA‖ = {:.2e}, ‖QS − SQ‖ = {:.2e} relative to the \
                 norms' products (tolerance {COMMUTE_TOL:.0e})",
                commutators[0], commutators[1], commutators[2]
            )));
        }
        let (ev, u0) = symmetric_eigen(a)?;
        let scale = |m: &Array2<f64>| m.iter().fold(0.0f64, |acc, v| acc.max(v.abs())).max(1e-300);
        let n = model.dim();
        // Refine inside clusters of equal eigenvalues of A by Q, then by (A, Q) pairs by S.
        let keys_a: Vec<Vec<f64>> = ev.iter().map(|&l| vec![l]).collect();
        let u1 = refine(&u0, &keys_a, &[scale(a)], q)?;
        let (_, qd1) = diag_of(&u1, q);
        let keys_aq: Vec<Vec<f64>> = (0..n).map(|i| vec![ev[i], qd1[i]]).collect();
        let mut u = refine(&u1, &keys_aq, &[scale(a), scale(q)], s)?;
        // Deterministic sign: the entry of largest magnitude (first such) is positive.
        for mut col in u.axis_iter_mut(Axis(1)) {
            let mut best = 0;
            for (i, v) in col.iter().enumerate() {
                if v.abs() > col[best].abs() * (1.0 + 1e-12) {
                    best = i;
                }
            }
            if col[best] < 0.0 {
                col.mapv_inplace(|v| -v);
            }
        }
        let (ra, eigenvalues) = diag_of(&u, a);
        let (rq, q_diag) = diag_of(&u, q);
        let (rs, s_diag) = diag_of(&u, s);
        let off = |r: &Array2<f64>, m: &Array2<f64>| {
            let f = frobenius(m);
            if f == 0.0 {
                0.0
            } else {
                off_diagonal_norm(r) / f
            }
        };
        let off_diagonal = [off(&ra, a), off(&rq, q), off(&rs, s)];
        if off_diagonal.iter().any(|&o| o.is_nan() || o > DIAGONAL_TOL) {
            return Err(refuse(format!(
                "no common eigenbasis diagonalises them: relative off-diagonal parts of \
                 UᵀAU, UᵀQU, UᵀSU are {:.2e}, {:.2e}, {:.2e} (tolerance {DIAGONAL_TOL:.0e})",
                off_diagonal[0], off_diagonal[1], off_diagonal[2]
            )));
        }
        Ok(ModalDecomposition {
            model: model.clone(),
            vectors: u,
            eigenvalues,
            q_diag,
            s_diag,
            commutators,
            off_diagonal,
        })
    }

    /// Number of modes q (the full model's dimension).
    pub fn num_modes(&self) -> usize {
        self.eigenvalues.len()
    }

    /// λ_i = (UᵀAU)_ii, the drift coefficient a of mode i (all < 0 by (17)).
    pub fn eigenvalues(&self) -> &Array1<f64> {
        &self.eigenvalues
    }

    /// U (q×q, orthonormal columns u_i): x = U y, y = Uᵀx.
    pub fn eigenvectors(&self) -> &Array2<f64> {
        &self.vectors
    }

    /// (UᵀQU)_ii per mode.
    pub fn q_diagonal(&self) -> &Array1<f64> {
        &self.q_diag
    }

    /// (UᵀSU)_ii per mode.
    pub fn s_diagonal(&self) -> &Array1<f64> {
        &self.s_diag
    }

    /// Relative commutators ‖XY − YX‖_F/(‖X‖_F‖Y‖_F) for (A,Q), (A,S), (Q,S).
    pub fn commutators(&self) -> [f64; 3] {
        self.commutators
    }

    /// Relative off-diagonal norms of UᵀAU, UᵀQU, UᵀSU (each ≤ [`DIAGONAL_TOL`]).
    pub fn off_diagonal(&self) -> [f64; 3] {
        self.off_diagonal
    }

    /// The full model this decomposes.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The 1-D model of mode i (0-based): a = λ_i, q = (UᵀQU)_ii, s = (UᵀSU)_ii, the same
    /// σ, T and graph; population k starts from N((Uᵀm̄_k(0))_i, (UᵀC_kU)_ii). Axis label
    /// "mode <i+1>". `Param::Reduction` if i ≥ q.
    pub fn mode_model(&self, i: usize) -> Result<Model> {
        if i >= self.num_modes() {
            return Err(SolverError::invalid(
                MODAL_FIELD,
                format!(
                    "mode {i} out of range (there are {} modes)",
                    self.num_modes()
                ),
            ));
        }
        let u = self.vectors.column(i);
        let populations = self
            .model
            .populations
            .iter()
            .map(|p| Population {
                name: p.name.clone(),
                mean: Array1::from_elem(1, u.dot(&p.mean)),
                cov: Array2::from_elem((1, 1), u.dot(&p.cov.dot(&u))),
            })
            .collect();
        Ok(Model {
            axis_labels: vec![format!("mode {}", i + 1)],
            a: Array2::from_elem((1, 1), self.eigenvalues[i]),
            q: Array2::from_elem((1, 1), self.q_diag[i].max(0.0)),
            s: Array2::from_elem((1, 1), self.s_diag[i].max(0.0)),
            sigma: self.model.sigma,
            horizon: self.model.horizon,
            populations,
            graph: self.model.graph.clone(),
            core_penalty: 0.0,
            controls: None,
        })
    }

    /// Coalition coordinates x = U y of mode-coordinate paths: `modes[i]` is mode i's path
    /// (steps+1 values); returns (steps+1, q). Sequential sums in mode order.
    pub fn to_coalitions(&self, modes: &[Array1<f64>]) -> Result<Array2<f64>> {
        let q = self.num_modes();
        if modes.len() != q {
            return Err(SolverError::invalid(
                MODAL_FIELD,
                format!("expected {q} mode paths, got {}", modes.len()),
            ));
        }
        let levels = modes[0].len();
        if modes.iter().any(|m| m.len() != levels) {
            return Err(SolverError::invalid(
                MODAL_FIELD,
                "mode paths have different lengths",
            ));
        }
        let mut out = Array2::zeros((levels, q));
        for n in 0..levels {
            for j in 0..q {
                let mut v = 0.0;
                for (i, m) in modes.iter().enumerate() {
                    v += self.vectors[[j, i]] * m[n];
                }
                out[[n, j]] = v;
            }
        }
        Ok(out)
    }
}

/// Numerical settings of [`solve_modal`] (shared by every mode).
#[derive(Debug, Clone, PartialEq)]
pub struct ModalSettings {
    /// Grid points of each mode's 1-D grid (`Param::Points`, ≥ 3).
    pub points: usize,
    /// Time steps (`Param::Steps`).
    pub steps: usize,
    /// Half-width of each mode's automatic domain in standard deviations
    /// (see [`Grid::auto`]; use [`crate::grid::DEFAULT_STD_MULTIPLE`]).
    pub std_multiple: f64,
    /// Fixed-point settings of every mode (the residual of mode i is scaled by the width
    /// of its own grid).
    pub fixed_point: FixedPointSettings,
    /// Levels at which density and value snapshots are kept.
    pub snapshot_levels: Vec<usize>,
}

/// One mode ready to be solved, handed to the "solve this mode" callback of
/// [`solve_modal`]: the map and the fixed point are built, the callback runs the fixed
/// point to its outcome (e.g. `fixed_point.run(…)` evaluating `map`).
#[derive(Debug)]
pub struct ModeRun<'a> {
    /// 0-based mode index.
    pub index: usize,
    /// The mode's 1-D model ([`ModalDecomposition::mode_model`]).
    pub model: &'a Model,
    /// Its 1-D grid (automatic domain).
    pub grid: &'a Grid,
    /// The mean-field map of the mode on `grid`.
    pub map: &'a mut MeanFieldMap,
    /// The fixed point of the mode, at the held initial means.
    pub fixed_point: &'a mut FixedPoint,
}

/// The equilibrium of one mode (a 1-D multi-population HJI–FPK fixed point).
#[derive(Debug, Clone)]
pub struct ModeSolution {
    /// The mode's 1-D model.
    pub model: Model,
    /// Its grid (automatic domain).
    pub grid: Grid,
    /// Why its fixed point stopped.
    pub outcome: Outcome,
    /// Fixed-point history.
    pub history: Vec<IterationRecord>,
    /// Latest HJI–FPK results per population (mean paths (steps+1, 1), targets,
    /// snapshots of density and value); empty if no evaluation completed.
    pub populations: Vec<PopulationResult>,
    /// Largest |mass − 1| in the latest evaluation.
    pub mass_error: f64,
    /// Largest boundary mass in the latest evaluation.
    pub boundary_mass: f64,
    /// The numerical failure behind a `NonFinite` outcome.
    pub failure: Option<SolverError>,
}

impl ModeSolution {
    /// Last residual (∞ if no iteration completed).
    pub fn residual(&self) -> f64 {
        self.history.last().map_or(f64::INFINITY, |r| r.residual)
    }
}

/// The full game solved mode by mode.
#[derive(Debug, Clone)]
pub struct ModalSolution {
    /// The decomposition used.
    pub decomposition: ModalDecomposition,
    /// Solved modes in order (fewer than q if the run was interrupted).
    pub modes: Vec<ModeSolution>,
    /// Converged if every mode converged; otherwise the first other outcome in mode order.
    pub outcome: Outcome,
    /// Per population, m̄_k(t_n) = U ȳ_k(t_n) in coalition coordinates, (steps+1, q);
    /// `None` unless every mode has results.
    pub means: Option<Vec<Array2<f64>>>,
    /// Per population, the targets ρ_k(t_n) = U (ρ_k in modes), (steps+1, q); as `means`.
    pub targets: Option<Vec<Array2<f64>>>,
}

impl ModalSolution {
    /// Total fixed-point iterations over the modes.
    pub fn iterations(&self) -> usize {
        self.modes.iter().map(|m| m.history.len()).sum()
    }

    /// Largest last residual over the modes (∞ if a mode has none).
    pub fn residual(&self) -> f64 {
        self.modes
            .iter()
            .map(ModeSolution::residual)
            .fold(0.0, f64::max)
    }

    /// Largest |mass − 1| over modes, populations and levels.
    pub fn mass_error(&self) -> f64 {
        self.modes.iter().map(|m| m.mass_error).fold(0.0, f64::max)
    }
}

/// Solves the full game of `model` exactly by its modes (docs/design.md §2): decomposes it
/// ([`ModalDecomposition::new`], `Param::Reduction` when A, Q, S do not commute),
/// then for each mode i in order builds its 1-D grid ([`Grid::auto`] with
/// `settings.points`), the [`MeanFieldMap`] and a [`FixedPoint`] from the held initial
/// means, and hands them to `solve_mode` ([`ModeRun`]), which runs the fixed point to its
/// outcome (the caller's driver: progress, observers, stop token). An
/// [`Outcome::Interrupted`] mode ends the run; other non-converged outcomes are recorded
/// (a non-finite value with its cause, [`FixedPoint::failure`]) and the next mode is
/// solved. An error of `solve_mode` ends the run with that error.
pub fn solve_modal<E>(
    model: &Model,
    settings: &ModalSettings,
    solve_mode: &mut dyn FnMut(ModeRun<'_>) -> std::result::Result<Outcome, RunError<E>>,
) -> std::result::Result<ModalSolution, RunError<E>> {
    settings.fixed_point.validate().map_err(RunError::Solver)?;
    let decomposition = ModalDecomposition::new(model).map_err(RunError::Solver)?;
    let q = decomposition.num_modes();
    let mut modes = Vec::with_capacity(q);
    let mut outcome = Outcome::Converged;
    for i in 0..q {
        let mm = decomposition.mode_model(i).map_err(RunError::Solver)?;
        let grid =
            Grid::auto(&mm, &[settings.points], settings.std_multiple).map_err(RunError::Solver)?;
        let mut map =
            MeanFieldMap::new(&mm, &grid, settings.steps, settings.snapshot_levels.clone())
                .map_err(RunError::Solver)?;
        let mut fp = FixedPoint::new(
            settings.fixed_point.clone(),
            map.scale(),
            FixedPointState::new(map.initial_guess()),
        )
        .map_err(RunError::Solver)?;
        let mode_outcome = solve_mode(ModeRun {
            index: i,
            model: &mm,
            grid: &grid,
            map: &mut map,
            fixed_point: &mut fp,
        })?;
        if outcome == Outcome::Converged && mode_outcome != Outcome::Converged {
            outcome = mode_outcome;
        }
        modes.push(ModeSolution {
            model: mm,
            grid,
            outcome: mode_outcome,
            history: fp.state().history.clone(),
            populations: map.results().to_vec(),
            mass_error: map.mass_error(),
            boundary_mass: map.boundary_mass(),
            failure: fp.failure().cloned(),
        });
        if mode_outcome == Outcome::Interrupted {
            break;
        }
    }
    let complete = modes.len() == q && modes.iter().all(|m| !m.populations.is_empty());
    let (means, targets) = if complete {
        let p = model.num_populations();
        let mut means = Vec::with_capacity(p);
        let mut targets = Vec::with_capacity(p);
        for k in 0..p {
            let path = |f: &dyn Fn(&PopulationResult) -> Array1<f64>| {
                let per_mode: Vec<Array1<f64>> =
                    modes.iter().map(|m| f(&m.populations[k])).collect();
                decomposition.to_coalitions(&per_mode)
            };
            means.push(path(&|r| r.fpk.mean.column(0).to_owned()).map_err(RunError::Solver)?);
            targets.push(path(&|r| r.target.column(0).to_owned()).map_err(RunError::Solver)?);
        }
        (Some(means), Some(targets))
    } else {
        (None, None)
    };
    Ok(ModalSolution {
        decomposition,
        modes,
        outcome,
        means,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::{full_game, ControlWeight, DisturbanceWeight};

    fn full_model(n: usize, q: Array2<f64>) -> Model {
        let g = full_game(
            n,
            &ControlWeight::Scalar(1.0),
            &DisturbanceWeight::Gamma(3.0),
        )
        .unwrap();
        let d = g.a.nrows();
        Model::builder(g.a)
            .axis_labels(g.axis_labels)
            .s(q.clone())
            .q(q)
            .sigma(0.3)
            .population(Population {
                name: "p".into(),
                mean: Array1::from_iter((0..d).map(|i| 0.1 * i as f64 - 0.2)),
                cov: Array2::eye(d) * 0.04,
            })
            .build()
            .unwrap()
    }

    #[test]
    fn scalar_costs_decompose_and_reconstruct_a() {
        for n in [3, 4] {
            let m = full_model(n, Array2::eye((1 << n) - 1));
            let dec = ModalDecomposition::new(&m).unwrap();
            let u = dec.eigenvectors();
            let recon = u.dot(&Array2::from_diag(dec.eigenvalues())).dot(&u.t());
            let err = (&recon - &m.a).iter().fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(err < 1e-12, "n = {n}: {err}");
            let orth = (u.t().dot(u) - Array2::<f64>::eye(u.ncols()))
                .iter()
                .fold(0.0f64, |a, v| a.max(v.abs()));
            assert!(orth < 1e-12);
            assert!(dec.eigenvalues().iter().all(|&l| l < 0.0));
        }
    }

    #[test]
    fn degenerate_eigenspace_is_rotated_to_diagonalise_q() {
        // Q = I + u uᵀ with u a mixture of two eigenvectors of a repeated eigenvalue of
        // A: commutes with A but is not diagonal in an arbitrary eigenbasis of A.
        let m0 = full_model(3, Array2::eye(7));
        let (ev, vecs) = symmetric_eigen(&m0.a).unwrap();
        let j = (0..6)
            .find(|&j| (ev[j] - ev[j + 1]).abs() < 1e-9)
            .expect("the 3-player A has a repeated eigenvalue");
        let u = (&vecs.column(j) * 0.6 + &vecs.column(j + 1) * 0.8).to_owned();
        let uu = u
            .clone()
            .into_shape_with_order((7, 1))
            .unwrap()
            .dot(&u.clone().into_shape_with_order((1, 7)).unwrap());
        let q = Array2::eye(7) + uu;
        let m = Model { q: q.clone(), ..m0 };
        let dec = ModalDecomposition::new(&m).unwrap();
        assert!(dec.off_diagonal().iter().all(|&o| o <= DIAGONAL_TOL));
        let mut qd = dec.q_diagonal().to_vec();
        qd.sort_by(f64::total_cmp);
        assert!(
            (qd[6] - 2.0).abs() < 1e-12 && (qd[5] - 1.0).abs() < 1e-12,
            "{qd:?}"
        );
    }

    #[test]
    fn non_commuting_q_is_refused_naming_game_reduction() {
        let q = Array2::from_diag(&Array1::from_iter((1..=7).map(|i| i as f64)));
        let m = full_model(3, q);
        match ModalDecomposition::new(&m).unwrap_err() {
            SolverError::InvalidParameter { field, message } => {
                assert_eq!(field, Param::Reduction);
                assert!(message.contains("do not commute"), "{message}");
                assert!(message.contains("projection"), "{message}");
            }
            e => panic!("{e:?}"),
        }
    }
}
