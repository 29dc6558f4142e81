//! Typed errors of the numerics crate.

use thiserror::Error;

/// Every failure the numerics can report. Invalid input names the field it came from;
/// numerical failures say where they happened.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SolverError {
    /// A parameter is outside its admissible set.
    #[error("invalid `{field}`: {message}")]
    InvalidParameter {
        /// Dotted path of the offending field (scenario key where there is one).
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Condition (17) fails: A = −B R⁻¹ Bᵀ + Γ⁻¹ is not negative definite.
    #[error(
        "condition (17) violated: A must be negative definite, but its largest eigenvalue is {largest_eigenvalue:.6e}{}",
        min_gamma.map(|g| format!("; with Γ = γ²I the smallest admissible γ is {g:.6} (γ must exceed it)")).unwrap_or_default()
    )]
    IllPosed {
        /// Largest eigenvalue of A (must be < 0).
        largest_eigenvalue: f64,
        /// For Γ = γ² I: the infimum of admissible γ (γ must be strictly larger).
        min_gamma: Option<f64>,
    },
    /// A NaN or infinity appeared during a sweep.
    #[error("non-finite value in {stage} at time level {level}, population {population}")]
    NonFinite {
        /// Which computation ("HJI", "FPK", "riccati", ...).
        stage: &'static str,
        /// Time level index (0..=steps).
        level: usize,
        /// 0-based population index.
        population: usize,
    },
    /// The caller's interrupt flag was raised during a sweep ([`crate::sweep::Sweeper::set_interrupt`]);
    /// the evaluation was abandoned and its partial results are discarded.
    #[error("interrupted")]
    Interrupted,
    /// A linear-algebra routine failed (singular matrix, no convergence).
    #[error("linear algebra failure in {context}: {message}")]
    LinearAlgebra {
        /// Where it happened.
        context: &'static str,
        /// The backend's message.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, SolverError>;

impl SolverError {
    /// Builds an [`SolverError::InvalidParameter`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        SolverError::InvalidParameter {
            field: field.into(),
            message: message.into(),
        }
    }
}
