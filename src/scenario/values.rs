//! `[game.values]`: the value of each coalition, keyed by its players.
//!
//! ```toml
//! [game.values]
//! "1" = 0.0
//! "1,2" = 90.0
//! "1,2,3" = 120.0
//! # kind = "cost"   # the numbers are costs c(S), taken as the value game v = −c
//! ```
//!
//! Keys list 1-based players separated by commas, in any order ("2,1" is {1,2});
//! coalitions left out are worth 0, the grand coalition must be given. Every error names
//! the key (`game.values."1,4"`).

use crate::error::{AppError, AppResult};
use toml::{Table, Value};
use tufield_solvers::coop::{coalition_key, TuGame, ValueKind};

/// The coalition values of a scenario: the game (always a value game, see
/// [`tufield_solvers::coop`]) and how the user's numbers are to be read back.
#[derive(Debug, Clone, PartialEq)]
pub struct CoalitionValues {
    /// `kind`: "value" (default) or "cost".
    pub kind: ValueKind,
    /// The value game (v, or −c for a cost game).
    pub game: TuGame,
    /// How many coalitions were given explicitly.
    pub given: usize,
}

fn key_of(raw: &str) -> String {
    format!("game.values.\"{raw}\"")
}

/// The bitmask of the coalition written as `raw` ("1,2") for `n` players.
fn parse_coalition(src: &str, raw: &str, n: usize) -> AppResult<usize> {
    let key = key_of(raw);
    let mut mask = 0usize;
    let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
    if parts.iter().all(|p| p.is_empty()) {
        return Err(AppError::invalid(
            src,
            key,
            "a coalition needs at least one player; keys list players separated by commas, e.g. \"1,2\"",
        ));
    }
    for p in parts {
        let player: usize = p.parse().map_err(|_| {
            AppError::invalid(
                src,
                key.clone(),
                format!(
                    "{p:?} is not a player; keys list players 1..={n} separated by commas, \
                     e.g. \"1,2\" (the only other key is `kind`)"
                ),
            )
        })?;
        if player < 1 || player > n {
            return Err(AppError::invalid(
                src,
                key,
                format!("player {player} does not exist; players are numbered 1..={n}"),
            ));
        }
        let bit = 1usize << (player - 1);
        if mask & bit != 0 {
            return Err(AppError::invalid(
                src,
                key,
                format!("player {player} is listed twice"),
            ));
        }
        mask |= bit;
    }
    Ok(mask)
}

/// Validates the `[game.values]` table of an `n`-player game.
pub fn parse(src: &str, n: usize, table: Table) -> AppResult<CoalitionValues> {
    let mut kind = ValueKind::Value;
    let mut values = vec![0.0; 1 << n];
    let mut seen: Vec<Option<String>> = vec![None; 1 << n];
    for (raw, value) in &table {
        if raw == "kind" {
            kind = match value.as_str() {
                Some("value") => ValueKind::Value,
                Some("cost") => ValueKind::Cost,
                _ => {
                    return Err(AppError::invalid(
                        src,
                        "game.values.kind",
                        format!(
                            "got {value}; allowed: \"value\" (v(S), the default) or \"cost\" \
                             (c(S), taken as the value game v = −c)"
                        ),
                    ))
                }
            };
            continue;
        }
        let mask = parse_coalition(src, raw, n)?;
        let v = match value {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            other => {
                return Err(AppError::invalid(
                    src,
                    key_of(raw),
                    format!("must be a number, got {other}"),
                ))
            }
        };
        if !v.is_finite() {
            return Err(AppError::invalid(
                src,
                key_of(raw),
                format!("must be finite, got {v}"),
            ));
        }
        if let Some(first) = &seen[mask] {
            return Err(AppError::invalid(
                src,
                key_of(raw),
                format!(
                    "the coalition {{{}}} is already given as {first:?}",
                    coalition_key(mask)
                ),
            ));
        }
        seen[mask] = Some(raw.clone());
        values[mask] = v;
    }
    let grand = (1usize << n) - 1;
    if seen[grand].is_none() {
        return Err(AppError::invalid(
            src,
            key_of(&coalition_key(grand)),
            "missing: the grand coalition's value is required (other coalitions left out are worth 0)",
        ));
    }
    let given = seen.iter().filter(|s| s.is_some()).count();
    let game = TuGame::from_kind(n, values, kind)
        .map_err(|e| AppError::from_solver(src, "game.values", e))?;
    Ok(CoalitionValues { kind, game, given })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    fn key_of_err(r: AppResult<CoalitionValues>) -> String {
        match r.unwrap_err() {
            AppError::Invalid { key, .. } => key,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_values_and_costs() {
        let v = parse(
            "s",
            3,
            table("\"1\" = 0.0\n\"2,1\" = 90\n\"1,2,3\" = 120.0"),
        )
        .unwrap();
        assert_eq!(v.kind, ValueKind::Value);
        assert_eq!(v.given, 3);
        assert_eq!(v.game.value(0b011), 90.0);
        assert_eq!(v.game.value(0b101), 0.0);
        assert_eq!(v.game.grand_value(), 120.0);
        let c = parse("s", 2, table("kind = \"cost\"\n\"1\" = 3\n\"1,2\" = 5")).unwrap();
        assert_eq!(c.kind, ValueKind::Cost);
        assert_eq!(c.game.grand_value(), -5.0);
    }

    #[test]
    fn errors_name_the_coalition() {
        for (text, key) in [
            ("\"1,4\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"1,4\""),
            ("\"0\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"0\""),
            ("\"1,1\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"1,1\""),
            ("\"\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"\""),
            ("\"a\" = 1.0\n\"1,2,3\" = 1.0", "game.values.\"a\""),
            ("\"1,2\" = 1.0", "game.values.\"1,2,3\""),
            ("\"1,2\" = nan\n\"1,2,3\" = 1.0", "game.values.\"1,2\""),
            ("\"1,2\" = inf\n\"1,2,3\" = 1.0", "game.values.\"1,2\""),
            ("\"1,2\" = \"x\"\n\"1,2,3\" = 1.0", "game.values.\"1,2\""),
            (
                "\"1,2\" = 1\n\"2,1\" = 2\n\"1,2,3\" = 1.0",
                "game.values.\"2,1\"",
            ),
            ("kind = \"profit\"\n\"1,2,3\" = 1.0", "game.values.kind"),
        ] {
            assert_eq!(key_of_err(parse("s", 3, table(text))), key, "{text}");
        }
    }
}
