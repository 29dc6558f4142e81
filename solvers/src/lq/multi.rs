//! Exact multi-population LQ equilibrium on the graph (Section 7, docs/design.md §3).
//!
//! Population k tracks ρ_k = Σ_j W_kj m̄_j (26), W = D⁻¹Adj the row-stochastic averaging
//! matrix of the graph (D = diag of degrees; a single population has W = `[[1]]`). Stacking
//! M = (m̄_1, …, m̄_p), H = (h_1, …, h_p) ∈ R^{pd}, with 𝒜 = I⊗A, Φ = I⊗φ:
//!
//! ```text
//!   M' = 𝒜(ΦM + H),              M(0) given
//!   H' = −Φ𝒜H + (W⊗Q)M,          H(T) = −(W⊗S)M(T)
//! ```
//!
//! a linear forward–backward two-point problem. **Sweep.** The ansatz H = K(t)M gives
//! K' = −K𝒜Φ − Φ𝒜K − K𝒜K + W⊗Q, K(T) = −W⊗S; with P := Φ + K this becomes
//!
//! ```text
//!   P' = −P𝒜P − (I−W)⊗Q,   P(T) = (I−W)⊗S,   and   M' = 𝒜PM.
//! ```
//!
//! **Graph modes.** W is similar to the symmetric W_s = D^½WD^−½ = UΛUᵀ (U orthogonal,
//! eigenvalues λ_i ∈ [−1, 1]); with V := D^−½U, W = VΛV⁻¹. In the coordinates
//! M = (V⊗I)Z the problem separates into p independent d-dimensional ones: P is
//! block-diagonal with blocks P_i solving the **symmetric** Riccati equation
//!
//! ```text
//!   P_i' = −P_iAP_i − γ_iQ,   P_i(T) = γ_iS,   γ_i = 1 − λ_i ∈ [0, 2],   z_i' = AP_i z_i,
//! ```
//!
//! so every P_i is PSD and bounded and is integrated backward like φ (stable). The
//! consensus mode (λ = 1, eigenvector ∝ D^½1) has P_i ≡ 0: the degree-weighted average
//! Σ_k deg_k m̄_k is conserved, and all other modes contract (z_iᵀ(−A⁻¹)z_i has derivative
//! −2z_iᵀP_iz_i): the means reach consensus. Back in population coordinates
//! m̄_k = Σ_i V_ki z_i, h_k = Σ_i V_ki (P_i − φ) z_i, ρ_k = Σ_i V_ki λ_i z_i (WV = VΛ).
//! For p = 1, γ = 0: m̄ constant and h = −φm̄ (the single-population equilibrium).
//!
//! **No forward Riccati integration.** During the backward sweep each interval's
//! transition Ψ_{i,n} = Ψ_i(t_{n+1}, t_n) of z_i' = AP_iz_i is obtained from
//! ∂_sΨ_i(t_{n+1}, s) = −Ψ_iAP_i(s), Ψ_i(t_{n+1}, t_{n+1}) = I (contracting backward);
//! then z_i(t_{n+1}) = Ψ_{i,n} z_i(t_n). χ_k is exact as well: with h_k = H_kZ and
//! ρ_k = R_kZ, G_k = H_kᵀAH_k + R_kᵀQR_k (block (i, j): V_kiV_kj((P_i−φ)A(P_j−φ) +
//! λ_iλ_jQ)), the matrix N_k' = −FᵀN_k − N_kF − G_k, F = blockdiag(AP_i),
//! N_k(T) = R_kᵀSR_k, integrated backward (stable) with c' = −σ²/2 tr φ, c(T) = 0, gives
//! χ_k = ½ZᵀN_kZ + c (the adjoint form of χ_k(t) = χ_k(T) + ∫_t^T ½hᵀAh + ½ρᵀQρ + σ²/2 tr φ).
//! Since F is block-diagonal, N_k's blocks are V_kiV_kj times blocks Ñ_ij shared by all
//! populations, so only p(p+1)/2 d×d blocks are integrated.

use super::equilibrium::{
    boundary_residuals, refinement_factor, subsample2, subsample3, LqEquilibrium, LqPopulation,
};
use super::moments::{covariance_transitions, propagate_covariance};
use super::ode::{integrate_levels, Direction, OdeOptions};
use super::riccati::{riccati, riccati_rhs};
use super::{mat, set_identity, symmetrize, TimeGrid};
use crate::error::{Param, Result, SolverError};
use crate::linalg::symmetric_eigen;
use crate::model::Model;
use ndarray::{s, Array1, Array2, Array3};

/// The graph's averaging matrix in modal form: W = VΛV⁻¹ with V = D^−½U,
/// W_s = D^½WD^−½ = UΛUᵀ.
#[derive(Debug, Clone)]
pub(crate) struct GraphModes {
    /// Row-stochastic W (p×p).
    pub w: Array2<f64>,
    /// Eigenvalues λ_i of W (ascending).
    pub lambda: Array1<f64>,
    /// V = D^−½U: population k's mean is Σ_i V_ki z_i.
    pub v: Array2<f64>,
    /// V⁻¹ = UᵀD^½.
    pub v_inv: Array2<f64>,
}

impl GraphModes {
    /// Decomposes the averaging matrix of `model.graph` (refuses a W that is not
    /// D⁻¹·symmetric, which a [`crate::graph::Graph`] never produces).
    pub(crate) fn new(model: &Model) -> Result<Self> {
        let p = model.num_populations();
        let w = model.graph.averaging_matrix();
        let deg: Vec<f64> = (0..p)
            .map(|k| model.graph.neighbours(k).len() as f64)
            .collect();
        let mut ws = Array2::from_shape_fn((p, p), |(k, j)| w[[k, j]] * (deg[k] / deg[j]).sqrt());
        for k in 0..p {
            for j in 0..k {
                if (ws[[k, j]] - ws[[j, k]]).abs() > 1e-12 {
                    return Err(SolverError::invalid(
                        Param::Graph,
                        "averaging matrix is not D⁻¹·(symmetric adjacency)",
                    ));
                }
            }
        }
        symmetrize(&mut ws);
        let (lambda, u) = symmetric_eigen(&ws)?;
        let v = Array2::from_shape_fn((p, p), |(k, i)| u[[k, i]] / deg[k].sqrt());
        let v_inv = Array2::from_shape_fn((p, p), |(i, k)| u[[k, i]] * deg[k].sqrt());
        Ok(GraphModes {
            w,
            lambda,
            v,
            v_inv,
        })
    }

    /// γ_i = 1 − λ_i ∈ [0, 2], with round-off around the consensus mode set to 0.
    pub(crate) fn gamma(&self) -> Vec<f64> {
        self.lambda
            .iter()
            .map(|l| {
                let g = 1.0 - l;
                if g.abs() < 1e-13 {
                    0.0
                } else {
                    g
                }
            })
            .collect()
    }

    /// Modal coordinates z_i = Σ_k V⁻¹_ik m̄_k of per-population vectors (rows).
    pub(crate) fn to_modes(&self, x: &Array2<f64>) -> Array2<f64> {
        self.v_inv.dot(x)
    }
}

/// Everything the backward sweep stores (fine levels unless said otherwise).
struct Sweep {
    phi: Array3<f64>,
    /// P_i at every level: `pm[l]` has shape (p, d, d).
    pm: Vec<Array3<f64>>,
    /// Ψ_i of every interval: `psi[l]` has shape (p, d, d).
    psi: Vec<Array3<f64>>,
    /// The shared blocks Ñ_ij (i ≤ j, see [`backward_sweep`]) at output levels:
    /// `nb[m]` has shape (p(p+1)/2, d, d), pair (i, j) at [`pair_index`].
    nb: Vec<Array3<f64>>,
    /// c at output levels.
    c: Vec<f64>,
}

/// Position of the pair i ≤ j in the upper-triangular enumeration of p modes.
fn pair_index(i: usize, j: usize, p: usize) -> usize {
    i * p - i * (i + 1) / 2 + j
}

/// c += α·op(a)·b for d×d row-major slices, op(a) = a or aᵀ (small sizes: plain loops).
fn mm_acc(alpha: f64, a: &[f64], transpose_a: bool, b: &[f64], c: &mut [f64], d: usize) {
    for i in 0..d {
        for l in 0..d {
            let ail = alpha
                * if transpose_a {
                    a[l * d + i]
                } else {
                    a[i * d + l]
                };
            if ail != 0.0 {
                let (brow, crow) = (&b[l * d..(l + 1) * d], &mut c[i * d..(i + 1) * d]);
                for (cj, bj) in crow.iter_mut().zip(brow) {
                    *cj += ail * bj;
                }
            }
        }
    }
}

/// The exact multi-population LQ equilibrium of `model` on `steps` output intervals
/// (see the module docs for the method): means, h, χ, covariances and targets of every
/// population, φ, and the independent boundary residuals. For p = 1 it reduces to
/// [`crate::lq::single_population_equilibrium`].
///
/// Errors: the model's validation (parameters named), `Param::OutputSteps` for `steps = 0`,
/// `NonFinite { stage: "riccati" | "lq", level, population }` on numerical failure.
pub fn exact_equilibrium(model: &Model, steps: usize) -> Result<LqEquilibrium> {
    let grid = TimeGrid::new(model.horizon, steps)?;
    let (a, q, s_mat) = (&model.a, &model.q, &model.s);
    let d = model.dim();
    let p = model.num_populations();
    let modes = GraphModes::new(model)?;

    let phi_coarse = riccati(a, q, s_mat, &grid)?;
    let r = refinement_factor(a, &phi_coarse, &grid);
    let fine = grid.refined(r);
    let sweep = backward_sweep(model, &modes, &fine, r)?;

    // Forward: z_i(t_{l+1}) = Ψ_{i,l} z_i(t_l); m̄_k = Σ_i V_ki z_i, h_k = Σ_i V_ki (P_i − φ) z_i.
    let levels_f = fine.levels();
    let n = p * d;
    let m0 = Array2::from_shape_fn((p, d), |(k, i)| model.populations[k].mean[i]);
    let mut z = modes.to_modes(&m0);
    let mut mean_f = Array2::zeros((levels_f, n));
    let mut h_f = Array2::zeros((levels_f, n));
    let mut chi = Array2::zeros((grid.levels(), p));
    for l in 0..levels_f {
        if l > 0 {
            for i in 0..p {
                let next = sweep.psi[l - 1].slice(s![i, .., ..]).dot(&z.row(i));
                z.row_mut(i).assign(&next);
            }
        }
        let phi = sweep.phi.slice(s![l, .., ..]);
        // (P_i − φ) z_i per mode.
        let mut kz = Array2::zeros((p, d));
        for i in 0..p {
            let ki = &sweep.pm[l].slice(s![i, .., ..]) - &phi;
            kz.row_mut(i).assign(&ki.dot(&z.row(i)));
        }
        let mk = modes.v.dot(&z);
        let hk = modes.v.dot(&kz);
        for k in 0..p {
            for j in 0..d {
                mean_f[[l, k * d + j]] = mk[[k, j]];
                h_f[[l, k * d + j]] = hk[[k, j]];
            }
        }
        if l % r == 0 {
            // χ_k = ½ Σ_ij V_kiV_kj z_iᵀÑ_ij z_j + c, Ñ_ji = Ñ_ijᵀ.
            let mlev = l / r;
            let mut quad = Array2::<f64>::zeros((p, p));
            for i in 0..p {
                for j in i..p {
                    let nij = sweep.nb[mlev].slice(s![pair_index(i, j, p), .., ..]);
                    quad[[i, j]] = z.row(i).dot(&nij.dot(&z.row(j)));
                    quad[[j, i]] = quad[[i, j]];
                }
            }
            for k in 0..p {
                let vk = modes.v.row(k);
                chi[[mlev, k]] = 0.5 * vk.dot(&quad.dot(&vk)) + sweep.c[mlev];
            }
        }
    }
    let m0_stacked = Array1::from_iter(m0.iter().copied());
    let (residual_initial, residual_terminal) = boundary_residuals(
        a,
        q,
        s_mat,
        &modes.w,
        &fine,
        &sweep.phi,
        &mean_f,
        &h_f,
        &m0_stacked,
    )?;

    let (_, trans, gram) = covariance_transitions(a, q, s_mat, &grid)?;
    let mean = subsample2(&mean_f, r);
    let h = subsample2(&h_f, r);
    let mut populations = Vec::with_capacity(p);
    for (k, pop) in model.populations.iter().enumerate() {
        let mut target = Array2::zeros((grid.levels(), d));
        for j in 0..p {
            if modes.w[[k, j]] != 0.0 {
                target.scaled_add(modes.w[[k, j]], &mean.slice(s![.., j * d..(j + 1) * d]));
            }
        }
        let popk = LqPopulation {
            mean: mean.slice(s![.., k * d..(k + 1) * d]).to_owned(),
            h: h.slice(s![.., k * d..(k + 1) * d]).to_owned(),
            chi: chi.column(k).to_owned(),
            cov: propagate_covariance(&pop.cov, model.sigma, &trans, &gram),
            target,
        };
        if let Some(level) = first_non_finite(&popk) {
            return Err(SolverError::NonFinite {
                stage: "lq",
                level,
                population: k,
            });
        }
        populations.push(popk);
    }
    Ok(LqEquilibrium {
        time: grid.times(),
        phi: subsample3(&sweep.phi, r),
        populations,
        residual_initial,
        residual_terminal,
    })
}

/// First level at which a population's output is not finite.
fn first_non_finite(pop: &LqPopulation) -> Option<usize> {
    (0..pop.chi.len()).find(|&l| {
        !pop.chi[l].is_finite()
            || pop
                .mean
                .row(l)
                .iter()
                .chain(pop.h.row(l).iter())
                .any(|v| !v.is_finite())
            || pop.cov.slice(s![l, .., ..]).iter().any(|v| !v.is_finite())
    })
}

/// Backward sweep on the fine grid (r fine steps per output step), all in modal
/// coordinates, of the state
/// [φ (d²) | P_1..P_p (p·d²) | Ñ_ij, i ≤ j (p(p+1)/2·d²) | c | Ψ_1..Ψ_p (p·d², reset to I
/// at every level)].
///
/// The blocks of N_k are N_k,ij = V_kiV_kj Ñ_ij with one shared
/// Ñ_ij' = −F_iᵀÑ_ij − Ñ_ijF_j − (K_iAK_j + λ_iλ_jQ), Ñ_ij(T) = λ_iλ_jS (F_i = AP_i,
/// K_i = P_i − φ): the N_k equation is block-wise linear with block-diagonal F, so the
/// scalar weights V_kiV_kj factor out and Ñ_ji = Ñ_ijᵀ.
fn backward_sweep(model: &Model, modes: &GraphModes, fine: &TimeGrid, r: usize) -> Result<Sweep> {
    let (a, q, s_mat) = (&model.a, &model.q, &model.s);
    let d = model.dim();
    let p = model.num_populations();
    let dd = d * d;
    let np = p * (p + 1) / 2;
    let o_pm = dd;
    let o_n = o_pm + p * dd;
    let o_c = o_n + np * dd;
    let o_psi = o_c + 1;
    let len = o_psi + p * dd;
    let gamma = modes.gamma();
    let lam = modes.lambda.to_vec();
    let qs: Vec<f64> = q.iter().copied().collect();
    let a_s: Vec<f64> = a.iter().copied().collect();

    let levels = fine.levels();
    let out_levels = fine.steps / r + 1;
    let mut sw = Sweep {
        phi: Array3::zeros((levels, d, d)),
        pm: vec![Array3::zeros((p, d, d)); levels],
        psi: vec![Array3::zeros((p, d, d)); fine.steps],
        nb: vec![Array3::zeros((np, d, d)); out_levels],
        c: vec![0.0; out_levels],
    };
    // Terminal values: φ = S, P_i = γ_iS, Ñ_ij = λ_iλ_jS, c = 0.
    let ss: Vec<f64> = s_mat.iter().copied().collect();
    let mut y = vec![0.0; len];
    y[..dd].copy_from_slice(&ss);
    for i in 0..p {
        for (t, v) in y[o_pm + i * dd..o_pm + (i + 1) * dd].iter_mut().zip(&ss) {
            *t = gamma[i] * v;
        }
        for j in i..p {
            let o = o_n + pair_index(i, j, p) * dd;
            for (t, v) in y[o..o + dd].iter_mut().zip(&ss) {
                *t = lam[i] * lam[j] * v;
            }
        }
    }
    let store = |l: usize, y: &[f64], sw: &mut Sweep| {
        let mut ph = mat(&y[..dd], d, d).to_owned();
        symmetrize(&mut ph);
        sw.phi.slice_mut(s![l, .., ..]).assign(&ph);
        for i in 0..p {
            let mut pi = mat(&y[o_pm + i * dd..o_pm + (i + 1) * dd], d, d).to_owned();
            symmetrize(&mut pi);
            sw.pm[l].slice_mut(s![i, .., ..]).assign(&pi);
            if l < fine.steps {
                sw.psi[l].slice_mut(s![i, .., ..]).assign(&mat(
                    &y[o_psi + i * dd..o_psi + (i + 1) * dd],
                    d,
                    d,
                ));
            }
        }
        if l % r == 0 {
            for b in 0..np {
                sw.nb[l / r].slice_mut(s![b, .., ..]).assign(&mat(
                    &y[o_n + b * dd..o_n + (b + 1) * dd],
                    d,
                    d,
                ));
            }
            sw.c[l / r] = y[o_c];
        }
    };
    store(fine.steps, &y, &mut sw);

    let half_s2 = 0.5 * model.sigma * model.sigma;
    let mut work = vec![0.0; dd];
    // Per-mode scratch: F_i = AP_i, K_i = P_i − φ, AK_i.
    let mut f = vec![0.0; p * dd];
    let mut kk = vec![0.0; p * dd];
    let mut ak = vec![0.0; p * dd];
    let mut rhs = |y: &[f64], dy: &mut [f64]| {
        let (dphi, rest) = dy.split_at_mut(dd);
        riccati_rhs(a, q, &y[..dd], dphi, &mut work);
        let phi = &y[..dd];
        let (dpm, rest) = rest.split_at_mut(p * dd);
        f.fill(0.0);
        ak.fill(0.0);
        for i in 0..p {
            let pi = &y[o_pm + i * dd..o_pm + (i + 1) * dd];
            let fi = &mut f[i * dd..(i + 1) * dd];
            mm_acc(1.0, &a_s, false, pi, fi, d);
            // dP_i = −P_iAP_i − γ_iQ
            let dpi = &mut dpm[i * dd..(i + 1) * dd];
            for (t, v) in dpi.iter_mut().zip(&qs) {
                *t = -gamma[i] * v;
            }
            mm_acc(-1.0, pi, false, &f[i * dd..(i + 1) * dd], dpi, d);
            let ki = &mut kk[i * dd..(i + 1) * dd];
            for ((t, u), v) in ki.iter_mut().zip(pi).zip(phi) {
                *t = u - v;
            }
            mm_acc(
                1.0,
                &a_s,
                false,
                &kk[i * dd..(i + 1) * dd],
                &mut ak[i * dd..(i + 1) * dd],
                d,
            );
        }
        let (dn, rest) = rest.split_at_mut(np * dd);
        for i in 0..p {
            for j in i..p {
                // dÑ_ij = −F_iᵀÑ_ij − Ñ_ijF_j − K_iAK_j − λ_iλ_jQ
                let b = pair_index(i, j, p);
                let nij = &y[o_n + b * dd..o_n + (b + 1) * dd];
                let out = &mut dn[b * dd..(b + 1) * dd];
                let ll = lam[i] * lam[j];
                for (t, v) in out.iter_mut().zip(&qs) {
                    *t = -ll * v;
                }
                mm_acc(
                    -1.0,
                    &kk[i * dd..(i + 1) * dd],
                    false,
                    &ak[j * dd..(j + 1) * dd],
                    out,
                    d,
                );
                mm_acc(-1.0, &f[i * dd..(i + 1) * dd], true, nij, out, d);
                mm_acc(-1.0, nij, false, &f[j * dd..(j + 1) * dd], out, d);
            }
        }
        let trace: f64 = (0..d).map(|i| phi[i * d + i]).sum();
        rest[0] = -half_s2 * trace;
        let dpsi = &mut rest[1..];
        dpsi.fill(0.0);
        for i in 0..p {
            let psi = &y[o_psi + i * dd..o_psi + (i + 1) * dd];
            mm_acc(
                -1.0,
                psi,
                false,
                &f[i * dd..(i + 1) * dd],
                &mut dpsi[i * dd..(i + 1) * dd],
                d,
            );
        }
    };
    integrate_levels(
        fine,
        Direction::Backward,
        &mut y,
        OdeOptions::default(),
        |_, y| {
            for i in 0..p {
                set_identity(&mut y[o_psi + i * dd..o_psi + (i + 1) * dd], d);
            }
        },
        |_, _t, y, dy| rhs(y, dy),
        |l, y| store(l, y, &mut sw),
    )
    .map_err(|e| SolverError::NonFinite {
        stage: "lq",
        level: e.level / r,
        population: 0,
    })?;
    Ok(sw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Graph, GraphKind};
    use crate::lq::single::single_population_equilibrium;
    use crate::model::Population;
    use ndarray::{array, ArrayView1};
    use ndarray_linalg::{Inverse, Solve};

    /// ρ_k = Σ_j W_kj m̄_j for stacked means.
    fn stacked_targets(w: &Array2<f64>, mean: ArrayView1<f64>, d: usize) -> Array1<f64> {
        let p = w.nrows();
        let mut out = Array1::zeros(p * d);
        for k in 0..p {
            for j in 0..p {
                if w[[k, j]] != 0.0 {
                    let mut o = out.slice_mut(s![k * d..(k + 1) * d]);
                    o.scaled_add(w[[k, j]], &mean.slice(s![j * d..(j + 1) * d]));
                }
            }
        }
        out
    }

    fn model(
        a: Array2<f64>,
        q: Array2<f64>,
        s: Array2<f64>,
        sigma: f64,
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
            .sigma(sigma)
            .horizon(horizon)
            .populations(
                means
                    .into_iter()
                    .enumerate()
                    .map(|(k, m)| Population {
                        name: format!("pop{k}"),
                        mean: m,
                        cov: Array2::eye(d) * (0.1 + 0.05 * k as f64),
                    })
                    .collect(),
            )
            .graph(Graph::new(p, &kind).unwrap())
            .build()
            .unwrap()
    }

    fn model_2d_chain3(horizon: f64) -> Model {
        model(
            array![[-1.1, 0.45], [0.45, -0.6]],
            array![[1.0, 0.3], [0.3, 0.7]],
            array![[0.5, -0.1], [-0.1, 0.9]],
            0.4,
            horizon,
            vec![array![1.5, -0.5], array![-2.0, 1.0], array![0.3, 3.0]],
            GraphKind::Chain,
        )
    }

    fn sup(x: &Array2<f64>, y: &Array2<f64>) -> f64 {
        (x - y).iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// p = 1: the sweep reduces exactly to the single-population equilibrium.
    #[test]
    fn single_population_reduces_to_item_4() {
        let mut m = model_2d_chain3(20.0);
        m.populations.truncate(1);
        m.graph = Graph::single();
        let e = exact_equilibrium(&m, 200).unwrap();
        let s1 = single_population_equilibrium(&m, 200).unwrap();
        let (a, b) = (&e.populations[0], &s1.populations[0]);
        let dm = sup(&a.mean, &b.mean);
        let dh = sup(&a.h, &b.h);
        let dchi = (&a.chi - &b.chi).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let dcov = (&a.cov - &b.cov).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        eprintln!("p=1 vs single: mean {dm:.1e} h {dh:.1e} chi {dchi:.1e} cov {dcov:.1e}");
        assert!(dm < 1e-13 && dh < 1e-11 && dchi < 1e-10 && dcov < 1e-13);
        let m0 = &m.populations[0].mean;
        assert!(a
            .mean
            .outer_iter()
            .all(|r| (&r - m0).iter().all(|v| v.abs() < 1e-13)));
    }

    /// Residuals ≤ 1e-9 on several graphs, dimensions and horizons (incl. T = 50).
    #[test]
    fn residuals_are_small() {
        let cases = vec![
            (model_2d_chain3(5.0), 50),
            (model_2d_chain3(50.0), 500),
            (model_2d_chain3(50.0), 10),
            (
                model(
                    array![[-0.75]],
                    array![[1.0]],
                    array![[0.3]],
                    0.3,
                    10.0,
                    vec![array![0.0], array![2.0], array![5.0], array![-1.0]],
                    GraphKind::Complete,
                ),
                100,
            ),
            (
                model(
                    array![[-2.0]],
                    array![[3.0]],
                    array![[0.0]],
                    0.0,
                    3.0,
                    vec![array![1.0], array![2.0], array![-4.0], array![0.5]],
                    GraphKind::Star,
                ),
                30,
            ),
        ];
        for (m, steps) in cases {
            let e = exact_equilibrium(&m, steps).unwrap();
            eprintln!(
                "residuals (T={}, steps={steps}, p={}): initial {:.2e}, terminal {:.2e}",
                m.horizon,
                m.num_populations(),
                e.residual_initial,
                e.residual_terminal
            );
            assert!(e.residual_initial <= 1e-9 && e.residual_terminal <= 1e-9);
        }
    }

    /// Exactness does not depend on dt: T = 50 with 10 and with 500 steps agree at the
    /// common levels.
    #[test]
    fn independent_of_output_grid() {
        let m = model_2d_chain3(50.0);
        let coarse = exact_equilibrium(&m, 10).unwrap();
        let fine = exact_equilibrium(&m, 500).unwrap();
        let mut worst: f64 = 0.0;
        for (pc, pf) in coarse.populations.iter().zip(&fine.populations) {
            for l in 0..=10 {
                let lf = 50 * l;
                worst = worst
                    .max(
                        (&pc.mean.row(l) - &pf.mean.row(lf))
                            .iter()
                            .fold(0.0, |m, v| m.max(v.abs())),
                    )
                    .max(
                        (&pc.h.row(l) - &pf.h.row(lf))
                            .iter()
                            .fold(0.0, |m, v| m.max(v.abs())),
                    )
                    .max((pc.chi[l] - pf.chi[lf]).abs() / pf.chi[lf].abs().max(1.0))
                    .max(
                        (&pc.cov.slice(s![l, .., ..]) - &pf.cov.slice(s![lf, .., ..]))
                            .iter()
                            .fold(0.0, |m, v| m.max(v.abs())),
                    );
            }
        }
        eprintln!("dt = 5 vs dt = 0.1 (T = 50): max difference {worst:.2e}");
        assert!(worst < 1e-9, "{worst:e}");
    }

    /// Spread functional V = Y⊥ᵀ(I⊗(−A⁻¹))Y⊥ (Y = D^½M, ⊥ to the consensus direction):
    /// non-increasing at every level, much smaller at T; degree-weighted average conserved.
    fn check_consensus(m: &Model, steps: usize) {
        let e = exact_equilibrium(m, steps).unwrap();
        let d = m.dim();
        let p = m.num_populations();
        let deg: Vec<f64> = (0..p).map(|k| m.graph.neighbours(k).len() as f64).collect();
        let total: f64 = deg.iter().sum();
        let u1: Vec<f64> = deg.iter().map(|v| (v / total).sqrt()).collect();
        let ainv = -m.a.inv().unwrap();
        let mut prev = f64::INFINITY;
        let mut v0 = 0.0;
        let avg0: Array1<f64> = (0..p).fold(Array1::zeros(d), |acc, k| {
            acc + &m.populations[k].mean * (deg[k] / total)
        });
        let mut spreads = Vec::new();
        for l in 0..=steps {
            let y = Array2::from_shape_fn((p, d), |(k, i)| {
                deg[k].sqrt() * e.populations[k].mean[[l, i]]
            });
            let par = (0..p).fold(Array1::<f64>::zeros(d), |acc, k| acc + &y.row(k) * u1[k]);
            let mut v = 0.0;
            let mut avg = Array1::<f64>::zeros(d);
            for k in 0..p {
                let yp = &y.row(k) - &(&par * u1[k]);
                v += yp.dot(&ainv.dot(&yp));
                avg = avg + &e.populations[k].mean.row(l) * (deg[k] / total);
            }
            if l == 0 {
                v0 = v;
            }
            assert!(
                v <= prev + 1e-12 * v0,
                "spread functional increased at level {l}: {prev} → {v}"
            );
            prev = v;
            assert!(
                (&avg - &avg0).iter().all(|x| x.abs() < 1e-10),
                "weighted average drifted at level {l}"
            );
            let spread = (0..p)
                .map(|k| {
                    (&e.populations[k].mean.row(l) - &avg0)
                        .iter()
                        .fold(0.0f64, |m, x| m.max(x.abs()))
                })
                .fold(0.0, f64::max);
            spreads.push(spread);
        }
        eprintln!(
            "consensus (d={d}): V(T)/V(0) = {:.2e}, spread {:.3} → {:.3e}",
            prev / v0,
            spreads[0],
            spreads[steps]
        );
        assert!(prev < 1e-2 * v0);
        assert!(spreads[steps] < 0.1 * spreads[0]);
    }

    #[test]
    fn chain_of_three_reaches_consensus() {
        let m1 = model(
            array![[-1.0]],
            array![[1.0]],
            array![[0.5]],
            0.2,
            10.0,
            vec![array![-3.0], array![0.5], array![4.0]],
            GraphKind::Chain,
        );
        check_consensus(&m1, 100);
        check_consensus(&model_2d_chain3(10.0), 100);
    }

    /// Independent brute force: linear shooting on the unknown H(0) for the coupled
    /// (φ, M, H) system, fixed-step classical RK4 (φ forward from the Riccati φ(0)), dense
    /// solve of the terminal condition; χ from forward quadrature of its integrand.
    #[test]
    fn matches_shooting_on_short_horizon() {
        let mut m = model_2d_chain3(1.0);
        m.graph = Graph::new(3, &GraphKind::Star).unwrap();
        let steps = 20;
        let sub = 50;
        let e = exact_equilibrium(&m, steps).unwrap();
        let grid = TimeGrid::new(1.0, steps).unwrap();
        let (a, q, s_mat) = (&m.a, &m.q, &m.s);
        let d = 2;
        let p = 3;
        let n = p * d;
        let w = m.graph.averaging_matrix();
        let phi0 = riccati(a, q, s_mat, &grid)
            .unwrap()
            .slice(s![0, .., ..])
            .to_owned();
        let sigma2 = m.sigma * m.sigma;
        // state: [φ (4) | M (n) | H (n) | I_k (p)]
        let rhs = |z: &Array1<f64>| -> Array1<f64> {
            let phi = z
                .slice(s![0..4])
                .to_owned()
                .into_shape_with_order((2, 2))
                .unwrap();
            let mm = z.slice(s![4..4 + n]);
            let hh = z.slice(s![4 + n..4 + 2 * n]);
            let mut out = Array1::zeros(z.len());
            let dphi = -phi.dot(a).dot(&phi) - q;
            out.slice_mut(s![0..4])
                .assign(&Array1::from_iter(dphi.iter().copied()));
            let rho = stacked_targets(&w, mm, d);
            for k in 0..p {
                let mk = mm.slice(s![k * d..(k + 1) * d]);
                let hk = hh.slice(s![k * d..(k + 1) * d]);
                let rk = rho.slice(s![k * d..(k + 1) * d]);
                out.slice_mut(s![4 + k * d..4 + (k + 1) * d])
                    .assign(&a.dot(&(phi.dot(&mk) + hk)));
                out.slice_mut(s![4 + n + k * d..4 + n + (k + 1) * d])
                    .assign(&(q.dot(&rk) - phi.dot(&a.dot(&hk))));
                out[4 + 2 * n + k] = 0.5 * hk.dot(&a.dot(&hk))
                    + 0.5 * rk.dot(&q.dot(&rk))
                    + 0.5 * sigma2 * (phi[[0, 0]] + phi[[1, 1]]);
            }
            out
        };
        let run =
            |m0: &Array1<f64>, h0: &Array1<f64>, record: &mut Vec<Array1<f64>>| -> Array1<f64> {
                let mut z = Array1::zeros(4 + 2 * n + p);
                z.slice_mut(s![0..4])
                    .assign(&Array1::from_iter(phi0.iter().copied()));
                z.slice_mut(s![4..4 + n]).assign(m0);
                z.slice_mut(s![4 + n..4 + 2 * n]).assign(h0);
                record.push(z.clone());
                let h = grid.dt() / sub as f64;
                for _ in 0..steps {
                    for _ in 0..sub {
                        let k1 = rhs(&z);
                        let k2 = rhs(&(&z + &(&k1 * (h / 2.0))));
                        let k3 = rhs(&(&z + &(&k2 * (h / 2.0))));
                        let k4 = rhs(&(&z + &(&k3 * h)));
                        z = &z + &((&k1 + &(&k2 * 2.0) + &(&k3 * 2.0) + &k4) * (h / 6.0));
                    }
                    record.push(z.clone());
                }
                z
            };
        let terminal_residual = |z: &Array1<f64>| {
            let mm = z.slice(s![4..4 + n]);
            let rho = stacked_targets(&w, mm, d);
            let mut r = z.slice(s![4 + n..4 + 2 * n]).to_owned();
            for k in 0..p {
                let mut rk = r.slice_mut(s![k * d..(k + 1) * d]);
                rk += &s_mat.dot(&rho.slice(s![k * d..(k + 1) * d]));
            }
            r
        };
        let m0 = Array1::from_iter(m.populations.iter().flat_map(|p| p.mean.iter().copied()));
        let base = terminal_residual(&run(&m0, &Array1::zeros(n), &mut Vec::new()));
        let mut jac = Array2::zeros((n, n));
        for i in 0..n {
            let mut ei = Array1::zeros(n);
            ei[i] = 1.0;
            jac.column_mut(i).assign(&terminal_residual(&run(
                &Array1::zeros(n),
                &ei,
                &mut Vec::new(),
            )));
        }
        let h0 = jac.solve(&(-&base)).unwrap();
        let mut rec = Vec::new();
        let end = run(&m0, &h0, &mut rec);
        let phi_end_err = (&end.slice(s![0..4]) - &Array1::from_iter(s_mat.iter().copied()))
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let rho_t = stacked_targets(&w, end.slice(s![4..4 + n]), d);
        let (mut em, mut eh, mut ec): (f64, f64, f64) = (0.0, 0.0, 0.0);
        for (l, z) in rec.iter().enumerate() {
            for k in 0..p {
                for i in 0..d {
                    em = em.max((z[4 + k * d + i] - e.populations[k].mean[[l, i]]).abs());
                    eh = eh.max((z[4 + n + k * d + i] - e.populations[k].h[[l, i]]).abs());
                }
                let rk = rho_t.slice(s![k * d..(k + 1) * d]);
                let chi = 0.5 * rk.dot(&s_mat.dot(&rk)) + end[4 + 2 * n + k] - z[4 + 2 * n + k];
                ec = ec.max((chi - e.populations[k].chi[l]).abs());
            }
        }
        eprintln!("sweep vs shooting (2-D, star of 3, T = 1): mean {em:.2e}, h {eh:.2e}, chi {ec:.2e}; |φ_fwd(T) − S| {phi_end_err:.1e}");
        assert!(phi_end_err < 1e-10);
        assert!(em < 1e-9 && eh < 1e-9 && ec < 1e-9, "{em:e} {eh:e} {ec:e}");
    }

    /// The residuals can fail: a 1e-6 perturbation of h at one level, or of the means,
    /// shows up at that size, while the computed solution gives ~1e-13.
    #[test]
    fn residuals_detect_perturbations() {
        use crate::lq::equilibrium::boundary_residuals;
        let m = model_2d_chain3(5.0);
        let e = exact_equilibrium(&m, 50).unwrap();
        let grid = TimeGrid::new(5.0, 50).unwrap();
        let (d, p) = (2, 3);
        let mut mean = Array2::zeros((51, p * d));
        let mut h = Array2::zeros((51, p * d));
        for k in 0..p {
            mean.slice_mut(s![.., k * d..(k + 1) * d])
                .assign(&e.populations[k].mean);
            h.slice_mut(s![.., k * d..(k + 1) * d])
                .assign(&e.populations[k].h);
        }
        let w = m.graph.averaging_matrix();
        let m0 = mean.row(0).to_owned();
        let res = |mean: &Array2<f64>, h: &Array2<f64>| {
            boundary_residuals(&m.a, &m.q, &m.s, &w, &grid, &e.phi, mean, h, &m0).unwrap()
        };
        let (ri, rt) = res(&mean, &h);
        assert!(ri < 1e-12 && rt < 1e-12, "{ri:e} {rt:e}");
        let mut hp = h.clone();
        hp[[25, 3]] += 1e-6;
        let (ri, rt) = res(&mean, &hp);
        eprintln!("h perturbed by 1e-6 at one level: residuals {ri:.2e} / {rt:.2e}");
        assert!(rt > 2e-7 && ri > 1e-9);
        let mut mp = mean.clone();
        mp.slice_mut(s![1.., ..]).mapv_inplace(|v| v * (1.0 + 1e-6));
        let (ri, rt) = res(&mp, &h);
        eprintln!("means scaled by 1 + 1e-6: residuals {ri:.2e} / {rt:.2e}");
        assert!(ri > 2e-7 && rt > 1e-9);
    }

    /// Column-major (Fortran-order) input arrays give the same result (no layout panics).
    #[test]
    fn fortran_layout_inputs_are_accepted() {
        let m = model_2d_chain3(2.0);
        let mut f = m.clone();
        f.a = m.a.t().to_owned();
        f.q = m.q.t().to_owned();
        f.s = m.s.t().to_owned();
        assert!(!f.s.is_standard_layout());
        for pop in f.populations.iter_mut() {
            pop.cov = pop.cov.t().to_owned();
        }
        let (e1, e2) = (
            exact_equilibrium(&m, 20).unwrap(),
            exact_equilibrium(&f, 20).unwrap(),
        );
        for (p1, p2) in e1.populations.iter().zip(&e2.populations) {
            assert!(sup(&p1.mean, &p2.mean) < 1e-14 && sup(&p1.h, &p2.h) < 1e-14);
        }
        assert!(crate::lq::heuristic_consensus(&f, 20).is_ok());
    }

    #[test]
    fn invalid_model_is_refused() {
        // The model is validated where it is built: an A that is not negative definite
        // never reaches the oracle.
        let m = model_2d_chain3(1.0);
        let mut a = m.a.clone();
        a[[0, 0]] = 1.0;
        assert!(matches!(
            Model::builder(a)
                .q(m.q.clone())
                .s(m.s.clone())
                .populations(m.populations.clone())
                .graph(m.graph.clone())
                .build()
                .unwrap_err(),
            SolverError::IllPosed { .. }
        ));
        let m = model_2d_chain3(1.0);
        let err = exact_equilibrium(&m, 0).unwrap_err();
        assert!(
            matches!(err, SolverError::InvalidParameter { ref field, .. } if *field == Param::OutputSteps),
            "{err}"
        );
    }
}
