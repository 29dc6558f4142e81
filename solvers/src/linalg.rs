//! Small dense linear-algebra helpers (symmetric eigenproblems via ndarray-linalg/LAPACK).

use crate::error::{Result, SolverError};
use ndarray::{Array1, Array2, ArrayBase, Data, Ix2};
use ndarray_linalg::{Eigh, UPLO};

/// True when `m` is square and symmetric to a relative 1e-12.
pub fn is_symmetric(m: &Array2<f64>) -> bool {
    if m.nrows() != m.ncols() {
        return false;
    }
    let scale = m.iter().map(|v| v.abs()).fold(0.0, f64::max).max(1e-300);
    let n = m.nrows();
    (0..n).all(|i| (0..i).all(|j| (m[[i, j]] - m[[j, i]]).abs() <= 1e-12 * scale))
}

/// Eigenvalues of a symmetric matrix, ascending.
pub fn symmetric_eigenvalues(m: &Array2<f64>) -> Result<Array1<f64>> {
    Ok(symmetric_eigen(m)?.0)
}

/// Eigen-decomposition of a symmetric matrix: (ascending eigenvalues, orthonormal
/// eigenvectors as columns).
pub fn symmetric_eigen(m: &Array2<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    m.eigh(UPLO::Lower).map_err(|e| SolverError::LinearAlgebra {
        context: "symmetric eigendecomposition",
        message: e.to_string(),
    })
}

/// Frobenius norm ‖m‖_F = (Σ_ij m_ij²)^{1/2}, summed in row-major order.
pub fn frobenius<S: Data<Elem = f64>>(m: &ArrayBase<S, Ix2>) -> f64 {
    m.iter().map(|v| v * v).sum::<f64>().sqrt()
}
