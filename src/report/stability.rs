//! Stability verdicts in words, for the run summaries and the files' attributes: the
//! spectral radius of the second-order consensus step (43) and Theorem 2's condition for
//! the Section 5 heuristic.

use super::format::num;
use tufield_solvers::lq::Theorem2Condition;

/// "stable", "unstable" or "marginal" for a spectral radius ρ of an iteration: stable iff
/// ρ < 1 (the attribute `stability` next to `spectral_radius`).
pub fn iteration_stability(rho: f64) -> &'static str {
    if (rho - 1.0).abs() <= 1e-12 {
        "marginal"
    } else if rho < 1.0 {
        "stable"
    } else {
        "unstable"
    }
}

/// "stable (ρ = 0.922 < 1)" or "unstable (ρ = 1.049 > 1: the consensus step diverges)".
pub fn consensus_verdict(rho: f64) -> String {
    match iteration_stability(rho) {
        "stable" => format!("stable (ρ = {} < 1)", num(rho, 4)),
        "unstable" => format!(
            "unstable (ρ = {} > 1: the consensus step diverges)",
            num(rho, 4)
        ),
        _ => format!(
            "marginally stable (ρ = {}: the consensus step neither decays nor diverges)",
            num(rho, 4)
        ),
    }
}

/// "satisfied" or "violated": the attribute `theorem_2` of the Section 5 heuristic.
pub fn theorem_2_status(c: &Theorem2Condition) -> &'static str {
    if c.holds {
        "satisfied"
    } else {
        "violated"
    }
}

/// The sentence `lq` prints for Theorem 2.
pub fn theorem_2_verdict(c: &Theorem2Condition) -> String {
    if c.holds {
        format!(
            "satisfied: K(t) = A P11(t) is Hurwitz at every level (largest eigenvalue {} at t = {} < 0), \
             so the excesses (23) are mean-square stable",
            num(c.max_eigenvalue, 4),
            num(c.at_time, 4)
        )
    } else {
        format!(
            "violated: K(t) = A P11(t) has the eigenvalue {} ≥ 0 at t = {} (P11 not positive \
             definite), so the theorem does not apply",
            num(c.max_eigenvalue, 4),
            num(c.at_time, 4)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_right() {
        assert_eq!(consensus_verdict(0.922), "stable (ρ = 0.922 < 1)");
        assert_eq!(
            consensus_verdict(1.049),
            "unstable (ρ = 1.049 > 1: the consensus step diverges)"
        );
        assert_eq!(iteration_stability(1.0), "marginal");
        let ok = Theorem2Condition {
            max_eigenvalue: -0.25,
            at_time: 6.0,
            holds: true,
        };
        assert_eq!(theorem_2_status(&ok), "satisfied");
        assert!(theorem_2_verdict(&ok).starts_with("satisfied"));
        let bad = Theorem2Condition {
            max_eigenvalue: 0.0,
            at_time: 1.0,
            holds: false,
        };
        assert_eq!(theorem_2_status(&bad), "violated");
    }
}
