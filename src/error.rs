//! Typed errors of the application and their exit codes.
//!
//! Every message reads `<file>: <key>: <what is wrong>; <what is allowed>` (the binary
//! prefixes `error: `). Exit codes: 0 success, 1 other failures (I/O, HDF5), 2 invalid
//! input (scenario syntax or validation, bad command-line arguments, ill-posed games),
//! 3 numerical failure (non-finite values, linear-algebra breakdown), 128 + signal number
//! for a run stopped by a signal (130 SIGINT, 143 SIGTERM; see [`crate::interrupt`]).

use std::path::Path;
use thiserror::Error;
use tufield_solvers::coop::coalition_key;
use tufield_solvers::{Param, SolverError};

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for failures that are neither bad input nor numerics (I/O, HDF5).
pub const EXIT_OTHER: i32 = 1;
/// Exit code for invalid input (scenario, `--set`, command line, condition (17)).
pub const EXIT_INVALID: i32 = 2;
/// Exit code for numerical failure (NaN/∞, linear algebra) and for a fixed point that
/// did not converge.
pub const EXIT_NUMERICAL: i32 = 3;

/// Everything the application can fail with.
#[derive(Debug, Error)]
pub enum AppError {
    /// A scenario value (or a `--set` override) is invalid; `key` is the dotted scenario
    /// path (`cost.q`, `population[2].mean`, ...).
    #[error("{source_name}: {key}: {message}")]
    Invalid {
        /// Scenario file (or `--set …` for a bad override).
        source_name: String,
        /// Dotted key of the offending value.
        key: String,
        /// What is wrong; what is allowed.
        message: String,
    },
    /// The input as a whole is unusable (TOML syntax error, unreadable scenario file).
    #[error("{source_name}: {message}")]
    InvalidFile {
        /// Scenario file.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The numerics failed (NaN/∞, linear-algebra breakdown).
    #[error("{source_name}: numerical failure: {source}")]
    Numerical {
        /// Scenario file being computed.
        source_name: String,
        /// The solver's error.
        source: SolverError,
    },
    /// The fixed point stopped without converging (max iterations, stagnation,
    /// divergence, non-finite values, interrupt). The output file, if any, is complete
    /// and says so in its `status` attribute.
    #[error("{source_name}: no equilibrium: {outcome} after {iterations} iterations (residual {residual:.3e}){detail}")]
    NotConverged {
        /// Scenario file being solved.
        source_name: String,
        /// The outcome's name (`max_iterations`, `diverged`, ...).
        outcome: String,
        /// Iterations done.
        iterations: usize,
        /// Last residual (∞ when no iteration completed).
        residual: f64,
        /// Extra explanation (starts with "; " when not empty).
        detail: String,
    },
    /// SIGINT or SIGTERM stopped the run at a safe point (exit code 128 + signal: 130 for
    /// SIGINT, 143 for SIGTERM); `detail` says what was kept and how to continue.
    #[error("{source_name}: interrupted by {signal_name}{detail}")]
    Interrupted {
        /// Scenario file being computed.
        source_name: String,
        /// The signal number.
        signal: i32,
        /// "SIGINT" or "SIGTERM".
        signal_name: String,
        /// What was kept and how to continue (starts with "; " when not empty).
        detail: String,
    },
    /// A file could not be read, written or renamed.
    #[error("{path}: {message}")]
    Io {
        /// The file concerned.
        path: String,
        /// What failed and why.
        message: String,
    },
    /// The HDF5 library reported an error.
    #[error("{path}: HDF5 error while {action}: {source}")]
    Hdf5 {
        /// The output file.
        path: String,
        /// What was being done (e.g. "writing /lq/exact/phi").
        action: String,
        /// The library's error.
        source: hdf5::Error,
    },
}

impl AppError {
    /// Process exit code for this error (see the module documentation).
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Invalid { .. } | AppError::InvalidFile { .. } => EXIT_INVALID,
            AppError::Numerical { .. } | AppError::NotConverged { .. } => EXIT_NUMERICAL,
            AppError::Io { .. } | AppError::Hdf5 { .. } => EXIT_OTHER,
            AppError::Interrupted { signal, .. } => crate::interrupt::exit_code(*signal),
        }
    }

    /// An invalid value at `key` of `source_name`.
    pub fn invalid(
        source_name: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AppError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// An I/O failure on `path`.
    pub fn io(path: &Path, what: &str, err: &std::io::Error) -> Self {
        AppError::Io {
            path: path.display().to_string(),
            message: format!("{what}: {err}"),
        }
    }

    /// An HDF5 failure on `path` while doing `action`.
    pub fn hdf5(path: &Path, action: impl Into<String>, source: hdf5::Error) -> Self {
        AppError::Hdf5 {
            path: path.display().to_string(),
            action: action.into(),
            source,
        }
    }

    /// Maps a solver error for scenario `source_name`: invalid parameters and condition
    /// (17) become invalid input (exit 2, the key being the parameter's scenario field, or
    /// `ill_posed_key` for (17)); non-finite values and linear-algebra failures become
    /// numerical failures (exit 3).
    pub fn from_solver(source_name: &str, ill_posed_key: &str, err: SolverError) -> Self {
        match err {
            SolverError::InvalidParameter { field, message } => {
                AppError::invalid(source_name, scenario_key(field), message)
            }
            e @ SolverError::IllPosed { .. } => AppError::invalid(
                source_name,
                ill_posed_key,
                format!("{e}; choose costs/γ so that A = −B R⁻¹ Bᵀ + Γ⁻¹ is negative definite"),
            ),
            e => AppError::Numerical {
                source_name: source_name.to_string(),
                source: e,
            },
        }
    }
}

/// The scenario key of a parameter of the numerics: the key an error message names.
pub fn scenario_key(param: Param) -> String {
    match param {
        Param::Drift => "model.a".into(),
        Param::RunningCost => "cost.q".into(),
        Param::TerminalCost => "cost.s".into(),
        Param::ControlWeight => "cost.r".into(),
        Param::Gamma => "cost.gamma".into(),
        Param::GammaMatrix => "cost.gamma_matrix".into(),
        Param::CorePenalty => "cost.core_penalty".into(),
        Param::Noise => "noise.sigma".into(),
        Param::Horizon => "horizon.t".into(),
        Param::OutputSteps => "horizon.steps".into(),
        Param::AllocationBound => "bounds.allocation".into(),
        Param::DisturbanceBound => "bounds.disturbance".into(),
        Param::Bounds => "bounds".into(),
        Param::Controls => "controls".into(),
        Param::Players => "game.players".into(),
        Param::Coalitions => "game.coalitions".into(),
        Param::Reduction => "game.reduction".into(),
        Param::CoalitionValues => "game.values".into(),
        Param::CharacteristicFunction => "game.characteristic_function".into(),
        Param::Populations => "population".into(),
        Param::MixtureWeights => "population.weights".into(),
        Param::InitialLaw => "population.kind".into(),
        Param::InitialLawFile | Param::InitialSamples => "population.path".into(),
        Param::UniformBox => "population.low".into(),
        Param::Graph => "graph".into(),
        Param::GraphKind => "graph.kind".into(),
        Param::GraphEdges => "graph.edges".into(),
        Param::Steps => "solver.steps".into(),
        Param::Points => "solver.points".into(),
        Param::Domain => "solver.domain".into(),
        Param::Tolerance => "solver.tol".into(),
        Param::MaxIterations => "solver.max_iter".into(),
        Param::Damping => "solver.damping".into(),
        Param::AndersonDepth => "solver.anderson_depth".into(),
        Param::DivergenceFactor => "solver.divergence_factor".into(),
        Param::SnapshotEvery => "solver.snapshot_every".into(),
        Param::Scheme => "solver.scheme".into(),
        Param::ErrorEstimate => "solver.error_estimate".into(),
        Param::Theta => "heuristic.theta".into(),
        Param::ThetaTilde => "heuristic.theta_tilde".into(),
        Param::ThetaHat => "heuristic.theta_hat".into(),
        Param::FixedPointScale => "fixed_point.scale".into(),
        Param::FixedPointState => "fixed_point.x".into(),
        Param::FixedPointMap => "fixed_point.map".into(),
        Param::PopulationMean(None) => "population.mean".into(),
        Param::PopulationCov(None) => "population.cov".into(),
        Param::PopulationMean(Some(k)) => format!("population[{}].mean", k + 1),
        Param::PopulationCov(Some(k)) => format!("population[{}].cov", k + 1),
        Param::PopulationDensity(k) => format!("population[{}].density", k + 1),
        Param::CoalitionValue(mask) => format!("game.values.\"{}\"", coalition_key(mask)),
        Param::Argument(name) => name.into(),
    }
}

/// Shorthand for results of the application library.
pub type AppResult<T> = std::result::Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solver_errors_map_to_exit_codes() {
        let inv = AppError::from_solver(
            "s.toml",
            "cost.gamma",
            SolverError::invalid(Param::RunningCost, "bad"),
        );
        assert_eq!(inv.exit_code(), EXIT_INVALID);
        assert_eq!(inv.to_string(), "s.toml: cost.q: bad");
        let ill = AppError::from_solver(
            "s.toml",
            "cost.gamma",
            SolverError::IllPosed {
                largest_eigenvalue: 0.5,
                min_gamma: Some(1.7),
            },
        );
        assert_eq!(ill.exit_code(), EXIT_INVALID);
        assert!(ill
            .to_string()
            .starts_with("s.toml: cost.gamma: condition (17)"));
        let nf = AppError::from_solver(
            "s.toml",
            "cost.gamma",
            SolverError::NonFinite {
                stage: "riccati",
                level: 3,
                population: 0,
            },
        );
        assert_eq!(nf.exit_code(), EXIT_NUMERICAL);
        let la = AppError::from_solver(
            "s.toml",
            "x",
            SolverError::LinearAlgebra {
                context: "eig",
                message: "no".into(),
            },
        );
        assert_eq!(la.exit_code(), EXIT_NUMERICAL);
        let io = AppError::io(
            Path::new("out.h5"),
            "cannot create",
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(io.exit_code(), EXIT_OTHER);
    }
}
