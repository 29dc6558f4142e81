//! The paper's Section 8, checked: the claims named in a scenario's `[paper]` table,
//! assessed from the scenario (and a run's evidence) by `solve`, `lq`, `simulate` and
//! `paper`, and the corrections tufield makes to the paper.
//!
//! * [`claims`] — the checks, their verdicts and the files' `paper_*` attributes;
//! * [`corrections`] — each correction with its reason (listed by `tufield paper`).

pub mod claims;
pub mod corrections;
