//! The static TU game of `[game.values]` as `tufield check` prints it: the values, the
//! imputation set, the core (with a point, or by how much it is empty), the Shapley value
//! and the nucleolus, each allocation with its core membership.

use crate::scenario::CoalitionValues;
use crate::{AppError, AppResult};
use tufield_solvers::coop::{coalition_key, mask_of, TuGame, ValueKind};

/// A number with at most 4 decimals and no trailing zeros: 130, 46.6667, -0.3333.
fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

fn allocation(kind: ValueKind, x: &[f64]) -> String {
    let items: Vec<String> = kind.to_user(x).iter().map(|&v| num(v)).collect();
    format!("({})", items.join(", "))
}

fn membership(game: &TuGame, x: &[f64]) -> String {
    let tol = 100.0 * game.tolerance();
    match (game.is_in_core(x, tol), game.is_imputation(x, tol)) {
        (Ok(true), _) => "in the core".to_string(),
        (_, Ok(true)) => "an imputation, not in the core".to_string(),
        _ => "not an imputation".to_string(),
    }
}

/// The lines `check` prints for `[game.values]` of `source_name`. Errors only when a linear
/// programme fails (exit 3).
pub fn describe(values: &CoalitionValues, source_name: &str) -> AppResult<String> {
    let g = &values.game;
    let kind = values.kind;
    let n = g.players();
    let lp_error = |e| AppError::from_solver(source_name, "game.values", e);
    let mut out = String::new();
    let (letter, what, shares) = match kind {
        ValueKind::Value => ("v", "value game v(S)", "allocations x, core x(S) ≥ v(S)"),
        ValueKind::Cost => (
            "c",
            "cost game c(S), taken as v = −c",
            "allocations are cost shares y, core y(S) ≤ c(S)",
        ),
    };
    out.push_str(&format!(
        "coalition values  {what}, {n} players, {} of {} coalitions given (the others are worth 0); {shares}\n",
        values.given,
        g.grand()
    ));
    // Table 1 order (by size, then lexicographically); scenarios have n ≤ 6 players.
    let order = tufield_solvers::game::coalitions(n)
        .map_err(lp_error)?
        .iter()
        .map(|c| mask_of(c))
        .collect::<Vec<_>>();
    let listed: Vec<String> = order
        .into_iter()
        .filter(|&s| g.value(s) != 0.0 || s == g.grand())
        .map(|s| {
            let v = kind.to_user(&[g.value(s)])[0];
            format!("{letter}({{{}}}) = {}", coalition_key(s), num(v))
        })
        .collect();
    for chunk in listed.chunks(4) {
        out.push_str(&format!("                  {}\n", chunk.join(", ")));
    }
    let user = |mask: usize| kind.to_user(&[g.value(mask)])[0];
    let singles: f64 = (0..n).map(|i| user(1 << i)).sum();
    let vertices: Vec<String> = g
        .imputation_vertices()
        .iter()
        .map(|f| allocation(kind, f))
        .collect();
    let (cmp, rel) = match (kind, g.imputation_set_nonempty()) {
        (ValueKind::Value, true) => ("non-empty", "≥"),
        (ValueKind::Value, false) => ("EMPTY", "<"),
        (ValueKind::Cost, true) => ("non-empty", "≤"),
        (ValueKind::Cost, false) => ("EMPTY", ">"),
    };
    out.push_str(&format!(
        "imputation set    {cmp}: {letter}(N) = {} {rel} Σ {letter}({{i}}) = {}",
        num(user(g.grand())),
        num(singles)
    ));
    if g.imputation_set_nonempty() {
        out.push_str(&format!("; the hull of {}\n", vertices.join(", ")));
    } else {
        out.push('\n');
    }
    let core = g.core().map_err(lp_error)?;
    let eps = core.least_core.epsilon;
    let margin = match kind {
        ValueKind::Value => "x(S) − v(S)",
        ValueKind::Cost => "c(S) − y(S)",
    };
    if core.nonempty {
        out.push_str(&format!(
            "core              non-empty; a point {} (least core: smallest {margin} = {} over S ≠ N)\n",
            allocation(kind, &core.least_core.point),
            num(eps),
        ));
    } else {
        out.push_str(&format!(
            "core              EMPTY: every efficient allocation has {margin} ≤ {} < 0 for some S \
             (least core {})\n",
            num(eps),
            allocation(kind, &core.least_core.point)
        ));
    }
    let phi = g.shapley_value();
    out.push_str(&format!(
        "Shapley value     {}, {}\n",
        allocation(kind, &phi),
        membership(g, &phi)
    ));
    match g.nucleolus().map_err(lp_error)? {
        Some(nu) => out.push_str(&format!(
            "nucleolus         {}, {}\n",
            allocation(kind, &nu),
            membership(g, &nu)
        )),
        None => out.push_str("nucleolus         none: the imputation set is empty\n"),
    }
    Ok(out)
}
