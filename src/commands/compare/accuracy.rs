//! How accurate is the PDE reference of a comparison? The PDE solve's own error estimate
//! (Richardson against the grid coarsened by 2, `solve/estimate.rs`) stated next to every
//! difference `compare` reports, and on LQ models the gap between the PDE cost and the
//! exact Riccati cost, which is then pure discretisation error.

use crate::run::compare::Comparison;
use crate::run::estimate::ErrorEstimate;
use crate::scenario::Scenario;

/// The estimate as compare uses it: Ok, or why there is none.
pub type Estimate<'a> = Result<&'a ErrorEstimate, String>;

/// Text after a policy's cost difference: the PDE cost's estimated error relative to
/// |J_PDE| (the scale of the relative differences).
pub fn cost_note(est: &Estimate, cmp: &Comparison, k: usize) -> String {
    match est {
        Ok(e) => format!(
            "± {:.2} % PDE error",
            100.0 * e.populations[k].cost_error.abs() / cmp.costs[0][k].abs().max(1e-300)
        ),
        Err(_) => "PDE error unknown".to_string(),
    }
}

/// Text after a mean distance: the PDE means' estimated error.
pub fn mean_note(est: &Estimate, k: usize) -> String {
    match est {
        Ok(e) => format!(
            "(PDE ± {:.1e})",
            e.populations[k]
                .mean_error
                .iter()
                .fold(0.0f64, |a, v| a.max(v.abs()))
        ),
        Err(_) => String::new(),
    }
}

/// Closing lines: why an estimate is missing, or, on LQ models, the gap between the PDE
/// cost and the exact Riccati cost next to the estimated error and the extrapolated cost.
pub fn lines(sc: &Scenario, cmp: &Comparison, est: &Estimate) -> Vec<String> {
    let e = match est {
        Ok(e) => e,
        Err(why) => {
            return vec![format!(
                "  the PDE's own error is not estimated ({why}); set solver.error_estimate = \
                 true on a grid with at least 9 points per axis"
            )]
        }
    };
    let mut out = vec![
        "  ± : the PDE's own estimated discretisation error (Richardson against the grid \
         coarsened by 2 in space and time); a difference below it is not significant"
            .to_string(),
    ];
    if sc.non_lq_terms().is_some() {
        return out;
    }
    out.push(
        "  LQ model: the PDE cost should equal the exact Riccati cost; the gap is \
         discretisation error"
            .to_string(),
    );
    for (k, name) in cmp.names.iter().enumerate() {
        let (j, r) = (cmp.costs[0][k], cmp.riccati_cost[k]);
        let p = &e.populations[k];
        out.push(format!(
            "    population {} ({name}): PDE cost {j:.6} vs exact Riccati {r:.6} ({:+.2} %); \
             estimated PDE error {:+.2e} ({:.2} %); extrapolated cost {:.6} ({:+.2} % from \
             Riccati)",
            k + 1,
            100.0 * (j - r) / r.abs().max(1e-300),
            p.cost_error,
            100.0 * p.cost_error.abs() / j.abs().max(1e-300),
            p.cost_extrapolated,
            100.0 * (p.cost_extrapolated - r) / r.abs().max(1e-300)
        ));
    }
    out
}
