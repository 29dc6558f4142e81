//! The random streams of the copies (ChaCha8, one stream per chunk, fixed word
//! positions) and Gaussian sampling: Box–Muller normals and a semidefinite Cholesky factor.

use super::CHUNK;
use crate::error::{Param, Result, SolverError};
use ndarray::Array2;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The ChaCha8 stream of chunk `chunk` of population `k`, positioned at `phase`
/// (0 = initial sampling, n + 1 = Euler step n) for a `d`-dimensional state.
pub(super) fn chunk_rng(seed: u64, k: usize, chunk: usize, phase: usize, d: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((k as u64) << 40) | chunk as u64);
    rng.set_word_pos(phase as u128 * (CHUNK * words_per_copy(d)) as u128);
    rng
}

/// u32 words of the stream used by one copy per phase: 4 per pair of normals.
pub(super) fn words_per_copy(d: usize) -> usize {
    4 * d.div_ceil(2)
}

/// Fills `out` with independent N(0, 1) draws by Box–Muller, using exactly
/// [`words_per_copy`] words (an odd last draw discards its partner).
pub(super) fn normals(rng: &mut ChaCha8Rng, out: &mut [f64]) {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    let mut i = 0;
    while i < out.len() {
        let u1 = ((rng.next_u64() >> 11) + 1) as f64 * SCALE; // (0, 1]
        let u2 = (rng.next_u64() >> 11) as f64 * SCALE; // [0, 1)
        let r = (-2.0 * u1.ln()).sqrt();
        let (sn, cs) = (std::f64::consts::TAU * u2).sin_cos();
        out[i] = r * cs;
        if i + 1 < out.len() {
            out[i + 1] = r * sn;
        }
        i += 2;
    }
}

/// Lower-triangular L with LLᵀ = C for a symmetric positive semidefinite C (zero pivots
/// give zero columns). `Param::PopulationCov` when C is not PSD.
pub(super) fn cholesky_psd(c: &Array2<f64>) -> Result<Array2<f64>> {
    let d = c.nrows();
    let scale = c
        .diag()
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let tol = 1e-12 * scale;
    let mut l = Array2::<f64>::zeros((d, d));
    for j in 0..d {
        let mut diag = c[[j, j]];
        for k in 0..j {
            diag -= l[[j, k]] * l[[j, k]];
        }
        if diag < -tol || !diag.is_finite() {
            return Err(SolverError::invalid(
                Param::PopulationCov(None),
                "covariance must be symmetric positive semidefinite",
            ));
        }
        if diag <= tol {
            for i in j + 1..d {
                let mut v = c[[i, j]];
                for k in 0..j {
                    v -= l[[i, k]] * l[[j, k]];
                }
                if v.abs() > 1e-9 * scale.sqrt() * scale.sqrt() {
                    return Err(SolverError::invalid(
                        Param::PopulationCov(None),
                        "covariance must be symmetric positive semidefinite",
                    ));
                }
            }
            continue;
        }
        let ljj = diag.sqrt();
        l[[j, j]] = ljj;
        for i in j + 1..d {
            let mut v = c[[i, j]];
            for k in 0..j {
                v -= l[[i, k]] * l[[j, k]];
            }
            l[[i, j]] = v / ljj;
        }
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn normals_have_unit_moments_and_fixed_consumption() {
        let mut rng = chunk_rng(7, 0, 0, 0, 3);
        let mut z = [0.0; 3];
        let (mut s1, mut s2, m) = (0.0, 0.0, 200_000);
        for _ in 0..m {
            normals(&mut rng, &mut z);
            for v in z {
                s1 += v;
                s2 += v * v;
            }
        }
        let nn = 3.0 * m as f64;
        let (mean, var) = (s1 / nn, s2 / nn);
        // SE of the mean 1/√nn ≈ 1.3e-3, of the variance √2/√nn ≈ 1.8e-3.
        assert!(mean.abs() < 4.0 / nn.sqrt(), "{mean}");
        assert!((var - 1.0).abs() < 4.0 * 2f64.sqrt() / nn.sqrt(), "{var}");
        let mut a = chunk_rng(7, 0, 0, 1, 3);
        let mut b = chunk_rng(7, 0, 0, 0, 3);
        for _ in 0..CHUNK {
            normals(&mut b, &mut z);
        }
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn cholesky_of_semidefinite_covariance() {
        let c = array![[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 9.0]];
        let l = cholesky_psd(&c).unwrap();
        let err = (&l.dot(&l.t()) - &c)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "{l}");
        let bad = array![[1.0, 2.0], [2.0, 1.0]];
        assert!(matches!(
            cholesky_psd(&bad),
            Err(SolverError::InvalidParameter { ref field, .. }) if *field == Param::PopulationCov(None)
        ));
    }
}
