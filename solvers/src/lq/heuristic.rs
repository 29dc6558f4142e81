//! The paper's **heuristics** (docs/design.md §3), computed so users can compare them with the
//! exact LQ equilibrium ([`crate::lq::exact_equilibrium`]) and the PDE solution. None of
//! them is an equilibrium of the mean-field game.
//!
//! **Section 5, augmented state.** The designer replaces the population mean by an
//! internal model m̃' = −θm̃, m̃(0) = m̄(0) (19), and solves the LQ game in X = (x, m̃) with
//! F = [[0, 0], [0, −θI]], Q̃ = [[Q, −Q], [−Q, Q]], P(T) = [[S, −S], [−S, S]]. In the reduced
//! notation (GR⁻¹Gᵀ − HΓ⁻¹Hᵀ = [[−A, 0], [0, 0]] with A = −BR⁻¹Bᵀ + Γ⁻¹) the game
//! Riccati equation (20) reads
//!
//! ```text
//!   P' = −PF − FᵀP − P 𝔸 P − Q̃,   𝔸 = [[A, 0], [0, 0]],   P(T) = [[S, −S], [−S, S]],
//! ```
//!
//! and the policies (21)-(22) give the drift Bũ − w̃ = A(P₁₁x + P₁₂m). Facts used by the
//! tests: the (1,1) block decouples, P₁₁ = φ for every θ; for θ = 0,
//! P = [[φ, −φ], [−φ, φ]] so P₁₁ + P₁₂ = 0. Reading of the paper: (21) writes m̄ where the
//! augmented state has m̃; we output both closed-loop means, with the policy fed the actual
//! mean as in (21), (23) and Section 6.2 (m̄' = A(P₁₁ + P₁₂)m̄), and with the policy fed the
//! internal model m̃ (m̄' = AP₁₁m̄ + AP₁₂m̃). Section 5 concerns one population; with p > 1
//! every population runs it with its own mean (the graph is not used).
//!
//! **Section 7, consensus.** Theorem 4 takes h = −φρ_k in the value function. Then
//! φx + h = φ(x − ρ_k), the policy drift is Aφ(x − ρ_k) and the means follow
//! m̄_k' = Aφ(m̄_k − ρ_k) = −Aφ Σ_j W_kj(m̄_j − m̄_k). The paper prints
//! (−BR⁻¹Bᵀ + Γ⁻¹)φ(ρ_k − m̄_k), whose sign would drive the means apart (Aφ has negative
//! eigenvalues); we implement the sign that follows from h = −φρ_k, which is the
//! consensus dynamics of Remark 4. Stacked: M' = ((I − W) ⊗ Aφ(t))M. Note h = −φρ_k does
//! not solve the h-equation of (15), hence "heuristic".
//!
//! Both forward mean dynamics are propagated with one-interval transition matrices
//! computed during the backward Riccati sweep (no forward Riccati integration).

use super::multi::GraphModes;
use super::ode::{integrate_levels, Direction, OdeOptions};
use super::riccati::riccati_rhs;
use super::{mat, mat_mut, set_identity, symmetrize, TimeGrid};
use crate::error::{Param, Result, SolverError};
use crate::model::Model;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, Array3, ArrayView2};

/// Kronecker product a ⊗ b.
fn kron(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let (ar, ac) = a.dim();
    let (br, bc) = b.dim();
    let mut out = Array2::zeros((ar * br, ac * bc));
    for i in 0..ar {
        for j in 0..ac {
            let aij = a[[i, j]];
            if aij != 0.0 {
                out.slice_mut(s![i * br..(i + 1) * br, j * bc..(j + 1) * bc])
                    .assign(&(b * aij));
            }
        }
    }
    out
}

/// Output of the Section 5 heuristic (augmented state, game Riccati (20), policies
/// (21)-(22)). A heuristic, not an equilibrium.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentedStateHeuristic {
    /// Level times.
    pub time: Array1<f64>,
    /// Rate θ ≥ 0 of the internal model m̃' = −θm̃ (19).
    pub theta: f64,
    /// Solution P(t_n) of the game Riccati equation (20), shape (steps+1, 2d, 2d);
    /// the feedback gains are its blocks P₁₁ = P[.., :d, :d] and P₁₂ = P[.., :d, d:].
    pub p: Array3<f64>,
    /// Internal model m̃_k(t_n) = e^{−θt_n} m̄_k(0) per population, shape (steps+1, d).
    pub estimate: Vec<Array2<f64>>,
    /// Closed-loop mean with the policy (21)-(22) fed the actual mean (paper's (23) and
    /// Section 6.2): m̄' = A(P₁₁ + P₁₂)m̄. Per population, shape (steps+1, d).
    pub mean: Vec<Array2<f64>>,
    /// Closed-loop mean with the policy fed the internal model m̃ (the augmented LQ
    /// problem taken literally): m̄' = AP₁₁m̄ + AP₁₂m̃. Per population, shape (steps+1, d).
    pub mean_with_estimate: Vec<Array2<f64>>,
}

impl AugmentedStateHeuristic {
    /// Feedback gain P₁₁(t_level) (d×d).
    pub fn p11(&self, level: usize) -> ArrayView2<'_, f64> {
        let d = self.p.shape()[1] / 2;
        self.p.slice(s![level, ..d, ..d])
    }

    /// Feedback gain P₁₂(t_level) (d×d), multiplying the mean (or m̃) in (21)-(22).
    pub fn p12(&self, level: usize) -> ArrayView2<'_, f64> {
        let d = self.p.shape()[1] / 2;
        self.p.slice(s![level, ..d, d..])
    }
}

/// Theorem 2's stability condition for the Section 5 heuristic, as evaluated on the
/// output levels (see [`AugmentedStateHeuristic::theorem_2`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theorem2Condition {
    /// max over the levels t_n of the largest eigenvalue of K(t_n) = A P₁₁(t_n) (real: see
    /// [`AugmentedStateHeuristic::theorem_2`]); 0 when some P₁₁(t_n) is not positive
    /// definite.
    pub max_eigenvalue: f64,
    /// The time t_n at which the maximum is attained.
    pub at_time: f64,
    /// True when K(t) is Hurwitz at every level (`max_eigenvalue` < 0).
    pub holds: bool,
}

impl AugmentedStateHeuristic {
    /// Theorem 2 (Section 6.1) states that the excesses (23) under the Section 5 policy are
    /// mean-square stable, assuming (Assumption 2) a Hurwitz matrix K that bounds the
    /// closed-loop drift. The drift's state part is K(t) = A P₁₁(t) with A the Hamiltonian
    /// matrix of `model` (the mean enters only as a forcing term), so the condition checked
    /// here is: K(t_n) is Hurwitz at every output level. With A symmetric negative
    /// definite (condition (17)) and P₁₁ symmetric, A P₁₁ is similar to the symmetric
    /// P₁₁^{1/2} A P₁₁^{1/2} when P₁₁ ≻ 0, so its eigenvalues are real and negative
    /// exactly when P₁₁(t_n) ≻ 0 — which the Riccati equation (20) guarantees for Q ≻ 0 or
    /// S ≻ 0; a P₁₁ that is only semidefinite leaves a marginal direction (eigenvalue 0).
    /// Errors: an eigen-decomposition failure.
    pub fn theorem_2(&self, a: &Array2<f64>) -> Result<Theorem2Condition> {
        let mut worst = (f64::NEG_INFINITY, 0.0);
        for level in 0..self.time.len() {
            let p = self.p11(level);
            let p = (&p + &p.t()) * 0.5;
            let (ev, u) = crate::linalg::symmetric_eigen(&p)?;
            let smallest = ev.iter().cloned().fold(f64::INFINITY, f64::min);
            let largest = ev.iter().cloned().fold(0.0f64, f64::max);
            let lam = if smallest <= 1e-12 * largest.max(f64::MIN_POSITIVE) {
                0.0
            } else {
                let mut r = u.clone();
                for (mut col, &l) in r.columns_mut().into_iter().zip(ev.iter()) {
                    col *= l.sqrt();
                }
                let root = r.dot(&u.t());
                let m = root.dot(a).dot(&root);
                let m = (&m + &m.t()) * 0.5;
                crate::linalg::symmetric_eigenvalues(&m)?
                    .iter()
                    .cloned()
                    .fold(f64::NEG_INFINITY, f64::max)
            };
            if lam > worst.0 {
                worst = (lam, self.time[level]);
            }
        }
        Ok(Theorem2Condition {
            max_eigenvalue: worst.0,
            at_time: worst.1,
            holds: worst.0 < 0.0,
        })
    }
}

/// Output of the Section 7 heuristic h = −φρ_k (Theorem 4), consensus dynamics of the
/// means. A heuristic, not an equilibrium.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsensusHeuristic {
    /// Level times.
    pub time: Array1<f64>,
    /// φ(t_n) of (15) (first equation of (35)), shape (steps+1, d, d).
    pub phi: Array3<f64>,
    /// Means m̄_k(t_n) under m̄_k' = Aφ(m̄_k − ρ_k), per population, shape (steps+1, d).
    pub mean: Vec<Array2<f64>>,
    /// Targets ρ_k(t_n) = Σ_j W_kj m̄_j(t_n), per population.
    pub target: Vec<Array2<f64>>,
    /// The heuristic's h_k = −φρ_k; the feedback drift is A(φx + h_k) = Aφ(x − ρ_k).
    pub h: Vec<Array2<f64>>,
}

/// Section 5 heuristic (augmented state with m̃' = −θm̃, game Riccati (20), policies
/// (21)-(22)) for every population of `model` on `steps` output intervals.
/// `theta` must be finite and ≥ 0 (`Param::Theta`; θ = 0 is the paper's second
/// scenario of Section 8.1). Blow-up: `NonFinite { stage: "riccati", .. }`.
pub fn heuristic_augmented_state(
    model: &Model,
    theta: f64,
    steps: usize,
) -> Result<AugmentedStateHeuristic> {
    if !(theta.is_finite() && theta >= 0.0) {
        return Err(SolverError::invalid(Param::Theta, "must be finite and ≥ 0"));
    }
    let grid = TimeGrid::new(model.horizon, steps)?;
    let (a, q, s_mat) = (&model.a, &model.q, &model.s);
    let d = model.dim();
    let (m, dd) = (2 * d, d * d);
    let mm = m * m;
    // Augmented matrices.
    let sign = ndarray::array![[1.0, -1.0], [-1.0, 1.0]];
    let qt = kron(&sign, q);
    let pt_end = kron(&sign, s_mat);
    let mut big_a = Array2::zeros((m, m));
    big_a.slice_mut(s![..d, ..d]).assign(a);
    // State: [P (m²) | Ψa (d²) | Ψb (d²) | Γ (d²)].
    let (o_a, o_b, o_g) = (mm, mm + dd, mm + 2 * dd);
    let mut y = vec![0.0; mm + 3 * dd];
    y[..mm].copy_from_slice(pt_end.as_slice().expect("contiguous"));
    let mut p_out = Array3::zeros((grid.levels(), m, m));
    p_out.slice_mut(s![grid.steps, .., ..]).assign(&pt_end);
    let mut trans_a = vec![Array2::zeros((d, d)); steps];
    let mut trans_b = vec![Array2::zeros((d, d)); steps];
    let mut forcing = vec![Array2::zeros((d, d)); steps];
    let (mut pa, mut fa, mut fb, mut ap12) = (
        Array2::zeros((m, m)),
        Array2::zeros((d, d)),
        Array2::zeros((d, d)),
        Array2::zeros((d, d)),
    );
    integrate_levels(
        &grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, y| {
            set_identity(&mut y[o_a..o_b], d);
            set_identity(&mut y[o_b..o_g], d);
            y[o_g..].fill(0.0);
        },
        |_, t, y, dy| {
            let p = mat(&y[..mm], m, m);
            // dP = −PF − FᵀP − P𝔸P − Q̃; F = diag(0, −θI) so PF scales the last d columns
            // by −θ and FᵀP the last d rows.
            general_mat_mul(1.0, &big_a, &p, 0.0, &mut pa);
            let mut dp = mat_mut(&mut dy[..mm], m, m);
            dp.assign(&qt);
            general_mat_mul(-1.0, &p, &pa, -1.0, &mut dp);
            for i in 0..m {
                for j in 0..m {
                    let f = usize::from(j >= d) + usize::from(i >= d);
                    dp[[i, j]] += theta * f as f64 * p[[i, j]];
                }
            }
            let p11 = p.slice(s![..d, ..d]);
            let p12 = p.slice(s![..d, d..]);
            general_mat_mul(1.0, a, &p11, 0.0, &mut fb);
            general_mat_mul(1.0, a, &p12, 0.0, &mut ap12);
            fa.assign(&fb);
            fa += &ap12;
            let psi_a = mat(&y[o_a..o_b], d, d);
            let psi_b = mat(&y[o_b..o_g], d, d);
            let (_, rest) = dy.split_at_mut(mm);
            let (da, rest) = rest.split_at_mut(dd);
            let (db, dg) = rest.split_at_mut(dd);
            general_mat_mul(-1.0, &psi_a, &fa, 0.0, &mut mat_mut(da, d, d));
            general_mat_mul(-1.0, &psi_b, &fb, 0.0, &mut mat_mut(db, d, d));
            general_mat_mul(
                -(-theta * t).exp(),
                &psi_b,
                &ap12,
                0.0,
                &mut mat_mut(dg, d, d),
            );
        },
        |n, y| {
            let mut p = mat(&y[..mm], m, m).to_owned();
            symmetrize(&mut p);
            p_out.slice_mut(s![n, .., ..]).assign(&p);
            trans_a[n].assign(&mat(&y[o_a..o_b], d, d));
            trans_b[n].assign(&mat(&y[o_b..o_g], d, d));
            forcing[n].assign(&mat(&y[o_g..], d, d));
        },
    )
    .map_err(|e| SolverError::NonFinite {
        stage: "riccati",
        level: e.level,
        population: 0,
    })?;

    let times = grid.times();
    let mut estimate = Vec::new();
    let mut mean = Vec::new();
    let mut mean_est = Vec::new();
    for pop in &model.populations {
        let m0 = &pop.mean;
        let est = Array2::from_shape_fn((grid.levels(), d), |(n, i)| {
            (-theta * times[n]).exp() * m0[i]
        });
        let mut ma = Array2::zeros((grid.levels(), d));
        let mut mb = Array2::zeros((grid.levels(), d));
        ma.row_mut(0).assign(m0);
        mb.row_mut(0).assign(m0);
        for n in 0..steps {
            let next_a = trans_a[n].dot(&ma.row(n));
            let next_b = trans_b[n].dot(&mb.row(n)) + forcing[n].dot(m0);
            ma.row_mut(n + 1).assign(&next_a);
            mb.row_mut(n + 1).assign(&next_b);
        }
        estimate.push(est);
        mean.push(ma);
        mean_est.push(mb);
    }
    Ok(AugmentedStateHeuristic {
        time: times,
        theta,
        p: p_out,
        estimate,
        mean,
        mean_with_estimate: mean_est,
    })
}

/// Section 7 heuristic (Theorem 4): h_k = −φρ_k, means under the consensus dynamics
/// m̄_k' = Aφ(m̄_k − ρ_k) on the graph of `model` (sign as derived in the module docs),
/// on `steps` output intervals. Blow-up: `NonFinite { stage: "riccati", .. }`.
pub fn heuristic_consensus(model: &Model, steps: usize) -> Result<ConsensusHeuristic> {
    let grid = TimeGrid::new(model.horizon, steps)?;
    let (a, q, s_mat) = (&model.a, &model.q, &model.s);
    let d = model.dim();
    let p = model.num_populations();
    let n = p * d;
    let dd = d * d;
    // Graph modes: M = (V⊗I)Z, and mode i follows z_i' = γ_i Aφ z_i (γ_i = 1 − λ_i).
    let modes = GraphModes::new(model)?;
    let gamma = modes.gamma();
    let w = &modes.w;
    let mut phi_out = Array3::zeros((grid.levels(), d, d));
    phi_out.slice_mut(s![grid.steps, .., ..]).assign(s_mat);
    let mut trans = vec![Array3::zeros((p, d, d)); steps];
    let mut y = vec![0.0; dd + p * dd];
    for (t, v) in y[..dd].iter_mut().zip(s_mat.iter()) {
        *t = *v;
    }
    let (mut work, mut aphi) = (vec![0.0; dd], Array2::zeros((d, d)));
    integrate_levels(
        &grid,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, y| {
            for i in 0..p {
                set_identity(&mut y[dd + i * dd..dd + (i + 1) * dd], d);
            }
        },
        |_, _t, y, dy| {
            let (dphi, dpsi) = dy.split_at_mut(dd);
            riccati_rhs(a, q, &y[..dd], dphi, &mut work);
            general_mat_mul(1.0, a, &mat(&y[..dd], d, d), 0.0, &mut aphi);
            for i in 0..p {
                let psi = mat(&y[dd + i * dd..dd + (i + 1) * dd], d, d);
                let mut out = mat_mut(&mut dpsi[i * dd..(i + 1) * dd], d, d);
                general_mat_mul(-gamma[i], &psi, &aphi, 0.0, &mut out);
            }
        },
        |l, y| {
            let mut ph = mat(&y[..dd], d, d).to_owned();
            symmetrize(&mut ph);
            phi_out.slice_mut(s![l, .., ..]).assign(&ph);
            for i in 0..p {
                trans[l].slice_mut(s![i, .., ..]).assign(&mat(
                    &y[dd + i * dd..dd + (i + 1) * dd],
                    d,
                    d,
                ));
            }
        },
    )
    .map_err(|e| SolverError::NonFinite {
        stage: "riccati",
        level: e.level,
        population: 0,
    })?;

    let m0 = Array2::from_shape_fn((p, d), |(k, i)| model.populations[k].mean[i]);
    let mut z = modes.to_modes(&m0);
    let mut stacked = Array2::zeros((grid.levels(), n));
    for l in 0..grid.levels() {
        if l > 0 {
            for i in 0..p {
                let next = trans[l - 1].slice(s![i, .., ..]).dot(&z.row(i));
                z.row_mut(i).assign(&next);
            }
        }
        let m = modes.v.dot(&z);
        stacked.row_mut(l).assign(&ndarray::ArrayView1::from(
            m.as_slice().expect("contiguous"),
        ));
    }
    let mut mean = Vec::new();
    let mut target = Vec::new();
    let mut h = Vec::new();
    for k in 0..p {
        let mut rho = Array2::zeros((grid.levels(), d));
        for j in 0..p {
            if w[[k, j]] != 0.0 {
                rho.scaled_add(w[[k, j]], &stacked.slice(s![.., j * d..(j + 1) * d]));
            }
        }
        let mut hk = Array2::zeros((grid.levels(), d));
        for l in 0..grid.levels() {
            let v = -phi_out.slice(s![l, .., ..]).dot(&rho.row(l));
            hk.row_mut(l).assign(&v);
        }
        mean.push(stacked.slice(s![.., k * d..(k + 1) * d]).to_owned());
        target.push(rho);
        h.push(hk);
    }
    Ok(ConsensusHeuristic {
        time: grid.times(),
        phi: phi_out,
        mean,
        target,
        h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, GraphKind};
    use crate::linalg::symmetric_eigen;
    use crate::lq::riccati::riccati;
    use crate::model::Population;
    use ndarray::array;

    fn model(
        a: Array2<f64>,
        q: Array2<f64>,
        s: Array2<f64>,
        horizon: f64,
        means: Vec<Array1<f64>>,
        kind: GraphKind,
    ) -> Model {
        let d = a.nrows();
        let p = means.len();
        Model::builder(a)
            .axis_labels((0..d).map(|i| format!("x{}", i + 1)).collect())
            .q(q)
            .s(s)
            .sigma(0.2)
            .horizon(horizon)
            .populations(
                means
                    .into_iter()
                    .map(|m| Population {
                        name: "p".into(),
                        mean: m,
                        cov: Array2::eye(d),
                    })
                    .collect(),
            )
            .graph(Graph::new(p, &kind).unwrap())
            .build()
            .unwrap()
    }

    fn model_2d(horizon: f64) -> Model {
        model(
            array![[-1.1, 0.45], [0.45, -0.6]],
            array![[1.0, 0.3], [0.3, 0.7]],
            array![[0.5, -0.1], [-0.1, 0.9]],
            horizon,
            vec![array![1.5, -0.5]],
            GraphKind::Chain,
        )
    }

    fn sup<'a>(x: impl IntoIterator<Item = &'a f64>) -> f64 {
        x.into_iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// θ = 0: P = [[φ, −φ], [−φ, φ]] (so P₁₁ + P₁₂ = 0) and both means stay at m̄(0),
    /// which is the exact single-population equilibrium; P₁₁ = φ for any θ; P symmetric
    /// and finite (T = 50, 2-D non-diagonal A).
    #[test]
    fn augmented_theta_limit_and_structure() {
        let m = model_2d(50.0);
        let grid = TimeGrid::new(50.0, 500).unwrap();
        let phi = riccati(&m.a, &m.q, &m.s, &grid).unwrap();
        let h0 = heuristic_augmented_state(&m, 0.0, 500).unwrap();
        let mut worst: f64 = 0.0;
        for l in 0..=500 {
            let ph = phi.slice(s![l, .., ..]);
            worst = worst
                .max(sup((&h0.p11(l) - &ph).iter()))
                .max(sup((&h0.p12(l) + &ph).iter()))
                .max(sup((&h0.p.slice(s![l, 2.., 2..]) - &ph).iter()));
        }
        let m0 = &m.populations[0].mean;
        let drift = h0.mean[0]
            .outer_iter()
            .chain(h0.mean_with_estimate[0].outer_iter())
            .map(|r| sup((&r - m0).iter()))
            .fold(0.0, f64::max);
        eprintln!(
            "augmented heuristic θ=0: |P − [[φ,−φ],[−φ,φ]]| {worst:.2e}, mean drift {drift:.2e}"
        );
        assert!(worst < 1e-10 && drift < 1e-10);

        let h1 = heuristic_augmented_state(&m, 0.3, 500).unwrap();
        for l in 0..=500 {
            let p = h1.p.slice(s![l, .., ..]);
            assert!(p.iter().all(|v| v.is_finite()));
            assert!(sup((&p - &p.t()).iter()) == 0.0);
            assert!(sup((&h1.p11(l) - &phi.slice(s![l, .., ..])).iter()) < 1e-10);
        }
        // With θ > 0 the paper's mean (Section 6.2) decays towards 0.
        let mt = h1.mean[0].row(500);
        assert!(sup(mt.iter()) < 0.1 * sup(m0.iter()), "{mt}");
    }

    /// 1-D closed forms with a = −1, q = 1, S = φ∞ = 1 (so φ ≡ 1), κ = θ + 1:
    ///   P₁₂(t) = −1/κ + C e^{κ(t−T)},  C = −1 + 1/κ;
    ///   mean(t) = m0 exp(−[(1 − 1/κ)t + C(e^{κ(t−T)} − e^{−κT})/κ]);
    ///   mean_with_estimate(t) = e^{−t} m0 [1 + (e^{(1−θ)t} − 1)/((1−θ)κ) − C e^{−κT}(e^{2t} − 1)/2].
    #[test]
    fn augmented_one_dimensional_closed_form() {
        let (theta, t_end, m0) = (0.5f64, 10.0f64, 2.0f64);
        let mut m = model(
            array![[-1.0]],
            array![[1.0]],
            array![[1.0]],
            t_end,
            vec![array![m0]],
            GraphKind::Chain,
        );
        m.graph = Graph::single();
        let h = heuristic_augmented_state(&m, theta, 100).unwrap();
        let kappa = theta + 1.0;
        let c = -1.0 + 1.0 / kappa;
        let (mut e12, mut ea, mut eb): (f64, f64, f64) = (0.0, 0.0, 0.0);
        for l in 0..=100 {
            let t = h.time[l];
            let p12 = -1.0 / kappa + c * (kappa * (t - t_end)).exp();
            let ma = m0
                * (-((1.0 - 1.0 / kappa) * t
                    + c * ((kappa * (t - t_end)).exp() - (-kappa * t_end).exp()) / kappa))
                    .exp();
            let mb = (-t).exp()
                * m0
                * (1.0 + ((1.0 - theta) * t).exp_m1() / ((1.0 - theta) * kappa)
                    - c * (-kappa * t_end).exp() * (2.0 * t).exp_m1() / 2.0);
            e12 = e12.max((h.p12(l)[[0, 0]] - p12).abs());
            ea = ea.max((h.mean[0][[l, 0]] - ma).abs());
            eb = eb.max((h.mean_with_estimate[0][[l, 0]] - mb).abs());
            assert!((h.estimate[0][[l, 0]] - m0 * (-theta * t).exp()).abs() < 1e-15);
        }
        eprintln!("augmented heuristic 1-D closed forms: P12 {e12:.2e}, mean {ea:.2e}, mean_with_estimate {eb:.2e}");
        assert!(e12 < 1e-10 && ea < 1e-10 && eb < 1e-10);
    }

    /// 1-D consensus with φ ≡ φ∞ (S = φ∞): in the eigenbasis of W = D^−½ U Λ Uᵀ D^½ the
    /// modes evolve as z_λ(t) = e^{(1−λ)aφ∞t} z_λ(0). Chain of 4, T = 10.
    #[test]
    fn consensus_one_dimensional_closed_form() {
        let (a, q) = (-0.8f64, 1.5f64);
        let phi_inf = (q / -a).sqrt();
        let means = vec![array![-3.0], array![0.0], array![1.0], array![6.0]];
        let m = model(
            array![[a]],
            array![[q]],
            array![[phi_inf]],
            10.0,
            means,
            GraphKind::Chain,
        );
        let h = heuristic_consensus(&m, 100).unwrap();
        let deg: Vec<f64> = (0..4).map(|k| m.graph.neighbours(k).len() as f64).collect();
        let w = m.graph.averaging_matrix();
        let ws = Array2::from_shape_fn((4, 4), |(k, j)| w[[k, j]] * (deg[k] / deg[j]).sqrt());
        let (lam, u) = symmetric_eigen(&ws).unwrap();
        let sq = Array1::from_iter(deg.iter().map(|v| v.sqrt()));
        let m0 = Array1::from_iter(m.populations.iter().map(|p| p.mean[0]));
        let z0 = u.t().dot(&(&sq * &m0));
        let mut worst: f64 = 0.0;
        for l in 0..=100 {
            let t = h.time[l];
            let z = Array1::from_iter(
                lam.iter()
                    .zip(z0.iter())
                    .map(|(lm, z)| z * ((1.0 - lm) * a * phi_inf * t).exp()),
            );
            let exact = u.dot(&z) / &sq;
            for k in 0..4 {
                worst = worst.max((h.mean[k][[l, 0]] - exact[k]).abs());
            }
        }
        eprintln!("consensus heuristic vs modal closed form: {worst:.2e}");
        assert!(worst < 1e-10, "{worst:e}");
    }

    /// 2-D non-diagonal A, chain of 3: the means are drawn together, the degree-weighted
    /// average is conserved and h = −φρ.
    #[test]
    fn consensus_draws_means_together() {
        let mut m = model_2d(20.0);
        m.populations = vec![array![1.5, -0.5], array![-2.0, 1.0], array![0.3, 3.0]]
            .into_iter()
            .map(|mean| Population {
                name: "p".into(),
                mean,
                cov: Array2::eye(2),
            })
            .collect();
        m.graph = Graph::new(3, &GraphKind::Chain).unwrap();
        let h = heuristic_consensus(&m, 200).unwrap();
        let weights = [0.25, 0.5, 0.25];
        let avg = |l: usize| {
            (0..3).fold(Array1::<f64>::zeros(2), |acc, k| {
                acc + &h.mean[k].row(l) * weights[k]
            })
        };
        let spread = |l: usize| {
            (0..3)
                .map(|k| sup((&h.mean[k].row(l) - &avg(l)).iter()))
                .fold(0.0, f64::max)
        };
        for l in 0..=200 {
            assert!(sup((&avg(l) - &avg(0)).iter()) < 1e-10);
            for k in 0..3 {
                let expect = -h.phi.slice(s![l, .., ..]).dot(&h.target[k].row(l));
                assert!(sup((&h.h[k].row(l) - &expect).iter()) < 1e-14);
            }
        }
        eprintln!(
            "consensus heuristic (2-D): spread {:.3} → {:.2e}",
            spread(0),
            spread(200)
        );
        assert!(spread(200) < 1e-2 * spread(0));
        assert!(spread(100) < spread(50) && spread(50) < spread(0));
    }

    #[test]
    fn bad_theta_is_refused() {
        let err = heuristic_augmented_state(&model_2d(1.0), -0.1, 10).unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::Theta),
            "{err}"
        );
    }

    #[test]
    fn theorem_2_condition_is_the_spectrum_of_a_p11() {
        // 1-D: K(t) = aφ(t) with φ the scalar Riccati solution, negative for q, s > 0.
        let m = model(
            array![[-0.75]],
            array![[1.0]],
            array![[1.0]],
            1.0,
            vec![array![0.5]],
            GraphKind::Chain,
        );
        let h = heuristic_augmented_state(&m, 0.5, 20).unwrap();
        let c = h.theorem_2(&m.a).unwrap();
        let expect = (0..=20)
            .map(|n| -0.75 * h.p11(n)[[0, 0]])
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(c.holds);
        assert!(
            (c.max_eigenvalue - expect).abs() < 1e-12,
            "{c:?} vs {expect}"
        );
        // 2-D with a non-diagonal A: the eigenvalues of A P₁₁ computed directly (2×2
        // characteristic polynomial) agree with the symmetric similarity.
        let m = model_2d(2.0);
        let h = heuristic_augmented_state(&m, 0.5, 10).unwrap();
        let c = h.theorem_2(&m.a).unwrap();
        let mut direct = f64::NEG_INFINITY;
        for n in 0..=10 {
            let k = m.a.dot(&h.p11(n));
            let (tr, det) = (
                k[[0, 0]] + k[[1, 1]],
                k[[0, 0]] * k[[1, 1]] - k[[0, 1]] * k[[1, 0]],
            );
            let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
            direct = direct.max(tr / 2.0 + disc);
        }
        assert!(c.holds && c.max_eigenvalue < 0.0);
        assert!(
            (c.max_eigenvalue - direct).abs() < 1e-10,
            "{c:?} vs {direct}"
        );
        // Q = S = 0: P₁₁ ≡ 0, K ≡ 0 is not Hurwitz and the condition fails.
        let mut z = model_2d(1.0);
        z.q = Array2::zeros((2, 2));
        z.s = Array2::zeros((2, 2));
        let h = heuristic_augmented_state(&z, 0.5, 10).unwrap();
        let c = h.theorem_2(&z.a).unwrap();
        assert!(!c.holds && c.max_eigenvalue == 0.0, "{c:?}");
    }
}
