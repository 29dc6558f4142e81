//! `[paper]`: which figure of the paper a scenario reproduces, what the paper claims it
//! shows, which checks decide whether a run shows it, and the overrides that restore the
//! paper's behaviour where the shipped parameters do not.
//!
//! ```toml
//! [paper]
//! figure = 7
//! section = "8.2"
//! policy = "second-order"
//! shows = "two time scales: ..."
//! checks = ["copies-settle", "consensus-stable"]
//! restore = ["cost.q=10", "cost.s=10"]
//! ```
//!
//! The verdicts are computed (src/paper/claims.rs), never stored: a run with
//! other parameters gets the verdicts of its own parameters.

use crate::error::{AppError, AppResult};
use crate::overrides::Override;
use serde::Deserialize;

/// A check of one claim of the paper (`[paper] checks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperCheck {
    /// `"copies-settle"`: every closed-loop direction of the copies' feedback Aφ(t)
    /// relaxes within the horizon (the copies reach their target on the fast scale).
    CopiesSettle,
    /// `"consensus-stable"`: the second-order consensus step (43) has spectral radius < 1.
    ConsensusStable,
    /// `"state-near-origin"`: the internal model m̃' = −θm̃ decays within the horizon, so
    /// the state reaches a neighbourhood of the origin (Section 8.1, Figure 5).
    StateNearOrigin,
    /// `"least-squares-limit"`: with θ = 0 the state's least-squares allocation converges
    /// to that of m̄(0) (Section 8.1, Figure 6).
    LeastSquaresLimit,
}

impl PaperCheck {
    /// Every check with its key.
    pub const ALL: [(PaperCheck, &'static str); 4] = [
        (PaperCheck::CopiesSettle, "copies-settle"),
        (PaperCheck::ConsensusStable, "consensus-stable"),
        (PaperCheck::StateNearOrigin, "state-near-origin"),
        (PaperCheck::LeastSquaresLimit, "least-squares-limit"),
    ];

    /// The key of the check in `[paper] checks`.
    pub fn key(self) -> &'static str {
        PaperCheck::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, k)| *k)
            .unwrap_or("")
    }
}

/// The validated `[paper]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperRef {
    /// Figure number in the paper.
    pub figure: u32,
    /// Section of the paper ("8.1", "8.2").
    pub section: String,
    /// The `simulate --policy` that draws the figure.
    pub policy: String,
    /// What the paper says the figure shows.
    pub shows: String,
    /// The checks that decide whether a run shows it.
    pub checks: Vec<PaperCheck>,
    /// `--set` overrides that restore the paper's behaviour (empty: none needed).
    pub restore: Vec<String>,
}

/// The raw table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPaper {
    figure: i64,
    section: String,
    policy: String,
    shows: String,
    checks: Vec<String>,
    #[serde(default)]
    restore: Vec<String>,
}

/// Policies a `[paper]` figure can be drawn with.
const POLICIES: [&str; 4] = ["lq", "least-squares", "internal-model", "second-order"];

/// Validates the raw table; every error names its key.
pub(crate) fn parse(src: &str, raw: RawPaper) -> AppResult<PaperRef> {
    let figure = u32::try_from(raw.figure)
        .ok()
        .filter(|f| *f >= 1)
        .ok_or_else(|| AppError::invalid(src, "paper.figure", "must be a figure number ≥ 1"))?;
    if !POLICIES.contains(&raw.policy.as_str()) {
        return Err(AppError::invalid(
            src,
            "paper.policy",
            format!(
                "{:?} is not a policy; allowed: {}",
                raw.policy,
                POLICIES.join(", ")
            ),
        ));
    }
    let checks = raw
        .checks
        .iter()
        .map(|c| {
            PaperCheck::ALL
                .iter()
                .find(|(_, k)| k == c)
                .map(|(check, _)| *check)
                .ok_or_else(|| {
                    AppError::invalid(
                        src,
                        "paper.checks",
                        format!(
                            "{c:?} is not a check; allowed: {}",
                            PaperCheck::ALL
                                .iter()
                                .map(|(_, k)| *k)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })
        })
        .collect::<AppResult<Vec<_>>>()?;
    if checks.is_empty() {
        return Err(AppError::invalid(
            src,
            "paper.checks",
            "list at least one check of the figure's claim",
        ));
    }
    for r in &raw.restore {
        Override::parse(r).map_err(|_| {
            AppError::invalid(
                src,
                "paper.restore",
                format!("{r:?} is not a --set override (key.path=value)"),
            )
        })?;
    }
    Ok(PaperRef {
        figure,
        section: raw.section,
        policy: raw.policy,
        shows: raw.shows,
        checks,
        restore: raw.restore,
    })
}
