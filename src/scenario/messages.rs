//! Error formatting: TOML syntax errors with line and column, serde paths as
//! `a.b[2].c` (1-based), unknown and missing keys with the allowed ones.

use super::raw::TABLES;
use crate::error::AppError;

pub(super) fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            // Name the key of a duplicate (the span covers it).
            let key = text
                .get(span.clone())
                .map(|k| {
                    k.trim()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .trim()
                })
                .filter(|k| msg.contains("duplicate") && !k.is_empty() && !msg.contains(k));
            match key {
                Some(k) => format!("TOML syntax error at line {line}, column {col}: {msg} `{k}`"),
                None => format!("TOML syntax error at line {line}, column {col}: {msg}"),
            }
        }
        None => format!("TOML syntax error: {msg}"),
    }
}

/// Formats a serde path as `a.b[2].c` with 1-based indices.
pub(super) fn format_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{}]", index + 1)),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => {}
        }
    }
    out
}

pub(super) fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w.to_string())
        .collect()
}

pub(super) fn serde_error(
    source_name: &str,
    e: serde_path_to_error::Error<toml::de::Error>,
) -> AppError {
    let path = format_path(e.path());
    let msg = e.inner().message().trim().to_string();
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        // serde_path_to_error records the unknown key itself as the last segment.
        let allowed = rest
            .split_once("expected ")
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        let names = backticked(&allowed);
        let allowed = if names.is_empty() {
            allowed
        } else {
            names.join(", ")
        };
        let parent_key = backticked(rest).first().cloned().unwrap_or_default();
        let key = if path.ends_with(&parent_key) {
            path
        } else if path.is_empty() {
            parent_key
        } else {
            format!("{path}.{parent_key}")
        };
        return AppError::invalid(
            source_name,
            key,
            format!("unknown key; allowed keys here: {allowed}"),
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let field = backticked(rest).first().cloned().unwrap_or_default();
        let key = if path.is_empty() {
            field.clone()
        } else {
            format!("{path}.{field}")
        };
        let message = if path.is_empty() && TABLES.contains(&field.as_str()) {
            format!("missing table [{field}]; it is required (see docs/scenario-format.md)")
        } else {
            "missing; this key is required (see docs/scenario-format.md)".to_string()
        };
        return AppError::invalid(source_name, key, message);
    }
    let key = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path
    };
    let msg = msg
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected a list [...]")
        .replace("expected struct ", "expected a table ");
    AppError::invalid(source_name, key, msg)
}
