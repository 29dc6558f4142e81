//! Typed errors of the numerics crate.

use thiserror::Error;

/// Every failure the numerics can report. Invalid input names the field it came from;
/// numerical failures say where they happened.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SolverError {
    /// A parameter is outside its admissible set.
    #[error("invalid {field}: {message}")]
    InvalidParameter {
        /// The offending parameter.
        field: Param,
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
    pub fn invalid(field: Param, message: impl Into<String>) -> Self {
        SolverError::InvalidParameter {
            field,
            message: message.into(),
        }
    }
}

/// A parameter of the numerics, named by its role in the equations (docs/design.md §1):
/// what an [`SolverError::InvalidParameter`] refers to. The application maps each to the
/// key of its input file; this crate knows no file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// The drift matrix A of the reduced dynamics (or a control channel's column).
    Drift,
    /// The running cost weight Q.
    RunningCost,
    /// The terminal cost weight S.
    TerminalCost,
    /// The control cost weight R of the designer.
    ControlWeight,
    /// The disturbance attenuation level γ (Γ = γ²I).
    Gamma,
    /// The disturbance weight matrix Γ.
    GammaMatrix,
    /// The core-stability penalty κ.
    CorePenalty,
    /// The noise intensity σ.
    Noise,
    /// The horizon T.
    Horizon,
    /// The number of output intervals of an ODE solution on [0, T].
    OutputSteps,
    /// The bound on the designer's (allocation) controls.
    AllocationBound,
    /// The bound on the disturbance's controls.
    DisturbanceBound,
    /// The control bounds as a whole.
    Bounds,
    /// The control channels of the Hamiltonian.
    Controls,
    /// The number of players n.
    Players,
    /// The projected coalitions (grid axes).
    Coalitions,
    /// The reduction of the game to grid axes (projection or modes).
    Reduction,
    /// The coalition values v(S) as a whole.
    CoalitionValues,
    /// The value v(S) of one coalition (bit mask of its players).
    CoalitionValue(usize),
    /// The characteristic function as a table.
    CharacteristicFunction,
    /// The populations as a whole (their number).
    Populations,
    /// The initial mean m̄_k(0) (population k, 0-based, when known).
    PopulationMean(Option<usize>),
    /// The initial covariance of population k (0-based, when known).
    PopulationCov(Option<usize>),
    /// The initial density m_k(·, 0) on the grid of population k (0-based).
    PopulationDensity(usize),
    /// The weights of a Gaussian-mixture initial law.
    MixtureWeights,
    /// The kind of an initial law.
    InitialLaw,
    /// The file an initial law is read from.
    InitialLawFile,
    /// The N × d samples of an empirical initial law.
    InitialSamples,
    /// The box of a uniform initial law.
    UniformBox,
    /// The graph of who tracks whom.
    Graph,
    /// The shape of that graph.
    GraphKind,
    /// Its explicit edges.
    GraphEdges,
    /// The number of time steps N of the grid scheme.
    Steps,
    /// The grid's points per axis.
    Points,
    /// The grid's box.
    Domain,
    /// The fixed-point tolerance.
    Tolerance,
    /// The fixed-point iteration limit.
    MaxIterations,
    /// The fixed-point damping.
    Damping,
    /// The Anderson memory depth.
    AndersonDepth,
    /// The divergence factor of the fixed point.
    DivergenceFactor,
    /// The snapshot spacing in time levels.
    SnapshotEvery,
    /// The time-stepping scheme of the HJI–FPK pair.
    Scheme,
    /// The settings of the discretisation-error estimate.
    ErrorEstimate,
    /// The internal-model gain θ of the heuristic.
    Theta,
    /// The gain θ̃ of the second-order heuristic.
    ThetaTilde,
    /// The gain θ̂ of the second-order heuristic.
    ThetaHat,
    /// The residual scales of the fixed point.
    FixedPointScale,
    /// The fixed-point iterate.
    FixedPointState,
    /// The fixed-point map's value.
    FixedPointMap,
    /// An argument of a function of this crate that is no model parameter (a policy, a
    /// target path, a field, a count), by its name.
    Argument(&'static str),
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Param::Drift => "A",
            Param::RunningCost => "Q",
            Param::TerminalCost => "S",
            Param::ControlWeight => "R",
            Param::Gamma => "γ",
            Param::GammaMatrix => "Γ",
            Param::CorePenalty => "κ",
            Param::Noise => "σ",
            Param::Horizon => "T",
            Param::OutputSteps => "output steps",
            Param::AllocationBound => "allocation bound",
            Param::DisturbanceBound => "disturbance bound",
            Param::Bounds => "bounds",
            Param::Controls => "control channels",
            Param::Players => "players",
            Param::Coalitions => "coalitions",
            Param::Reduction => "reduction",
            Param::CoalitionValues => "coalition values",
            Param::CoalitionValue(mask) => return write!(f, "v(coalition {mask:#b})"),
            Param::CharacteristicFunction => "characteristic function",
            Param::Populations => "populations",
            Param::PopulationMean(Some(k)) => return write!(f, "mean of population {}", k + 1),
            Param::PopulationMean(None) => "mean",
            Param::PopulationCov(Some(k)) => {
                return write!(f, "covariance of population {}", k + 1)
            }
            Param::PopulationCov(None) => "covariance",
            Param::PopulationDensity(k) => {
                return write!(f, "initial density of population {}", k + 1)
            }
            Param::MixtureWeights => "mixture weights",
            Param::InitialLaw => "initial law",
            Param::InitialLawFile => "initial law file",
            Param::InitialSamples => "initial samples",
            Param::UniformBox => "uniform box",
            Param::Graph => "graph",
            Param::GraphKind => "graph kind",
            Param::GraphEdges => "graph edges",
            Param::Steps => "time steps",
            Param::Points => "grid points",
            Param::Domain => "grid box",
            Param::Tolerance => "tolerance",
            Param::MaxIterations => "iteration limit",
            Param::Damping => "damping",
            Param::AndersonDepth => "Anderson depth",
            Param::DivergenceFactor => "divergence factor",
            Param::SnapshotEvery => "snapshot spacing",
            Param::Scheme => "time-stepping scheme",
            Param::ErrorEstimate => "error estimate",
            Param::Theta => "θ",
            Param::ThetaTilde => "θ̃",
            Param::ThetaHat => "θ̂",
            Param::FixedPointScale => "residual scale",
            Param::FixedPointState => "iterate",
            Param::FixedPointMap => "map value",
            Param::Argument(name) => name,
        };
        f.write_str(name)
    }
}
