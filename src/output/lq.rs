//! The file of `tufield lq` (the exact LQ equilibrium and the paper's heuristics,
//! computed by [`crate::oracle::compute`]).
//!
//! File layout (paths are a contract; `<k>` is the 0-based population index):
//!
//! ```text
//! /                       attrs tufield_version, scenario (TOML after overrides), name,
//!                               command = "lq", axis_labels
//! /time                   (steps+1)            dimension scale of every time axis
//! /model/a, /q, /s        (d, d)               attrs sigma, horizon
//! /lq/exact               attrs residual_initial, residual_terminal, note
//! /lq/exact/phi           (steps+1, d, d)
//! /lq/exact/populations/<k>/{mean, h, target} (steps+1, d), chi (steps+1),
//!                          cov (steps+1, d, d); attr name
//! /lq/heuristic          attr note
//! /lq/heuristic/augmented_state      Section 5: attrs note, method, theta, theorem_2
//!                                    ("satisfied"/"violated"), theorem_2_max_eigenvalue;
//!                          p (steps+1, 2d, 2d) (game Riccati (20));
//!                          populations/<k>/{mean, mean_with_estimate, estimate} (steps+1, d)
//! /lq/heuristic/consensus            Section 7: attrs note, method; phi (steps+1, d, d);
//!                          populations/<k>/{mean, target, h} (steps+1, d)
//! ```
//!
//! Every heuristic group carries the attribute `note` = [`super::oracle::HEURISTIC_NOTE`];
//! the groups `/model` and `/lq` are written by [`super::oracle`], which `solve` shares.

use super::{oracle, schema};
use crate::h5::AtomicH5;
use crate::oracle::LqResults;
use crate::scenario::Scenario;
use crate::AppResult;
use std::path::Path;

/// Writes the results to `out` atomically (see the module docs for the layout).
pub fn write(out: &Path, sc: &Scenario, res: &LqResults) -> AppResult<()> {
    let w = AtomicH5::create(out, &sc.text)?;
    let root = w.root()?.clone();
    w.str_attr(&root, schema::ATTR_NAME, &sc.name)?;
    w.str_attr(&root, schema::ATTR_COMMAND, schema::COMMAND_LQ)?;
    w.str_list_attr(&root, schema::ATTR_AXIS_LABELS, &sc.model.axis_labels)?;
    crate::paper::claims::write_attributes(&w, &root, sc, None)?;
    if let Some(terms) = sc.non_lq_terms() {
        w.str_attr(
            &root,
            schema::ATTR_LQ_NOTE,
            &format!("not LQ ({terms}): the LQ approximation of the model"),
        )?;
    }

    let time = w.coordinate(
        &root,
        schema::TIME,
        &res.exact.time,
        schema::TIME_LONG_NAME,
        Some(schema::DIMENSIONLESS),
    )?;
    oracle::write_groups(&w, sc, res, &time)?;
    w.commit()?;
    Ok(())
}
