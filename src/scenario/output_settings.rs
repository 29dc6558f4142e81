//! The `[output]` table: compression, deflate level, significant bits, feedback fields.

use super::raw::RawOutput;
use crate::error::{AppError, AppResult};

/// `[output] compression = "deflate" | "none"`, `level` (1–9, deflate only),
/// `significant_bits` (1–52 or "all", deflate only) and `feedback_fields` (bool).
///
/// The default `significant_bits` follows the scheme's order (`order`, see
/// [`crate::output::quantize::default_significant_bits`]).
pub(super) fn output_settings(
    src: &str,
    raw: Option<RawOutput>,
    order: u32,
) -> AppResult<crate::output::OutputSettings> {
    use crate::output::quantize::{default_significant_bits, MAX_SIGNIFICANT_BITS};
    use crate::output::{Compression, OutputSettings, DEFAULT_DEFLATE_LEVEL};
    let default_bits = default_significant_bits(order);
    let Some(raw) = raw else {
        return Ok(OutputSettings {
            significant_bits: Some(default_bits),
            ..OutputSettings::default()
        });
    };
    let level = match raw.level {
        None => DEFAULT_DEFLATE_LEVEL,
        Some(l @ 1..=9) => l as u8,
        Some(l) => {
            return Err(AppError::invalid(
                src,
                "output.level",
                format!("{l} is not a deflate level; allowed: 1 (fastest) to 9 (smallest)"),
            ))
        }
    };
    let only_deflate = |key: &str| {
        AppError::invalid(
            src,
            key,
            "only used with compression = \"deflate\"; remove it",
        )
    };
    let compression = match raw.compression.as_deref() {
        None | Some("deflate") => Compression::Deflate(level),
        Some("none") if raw.level.is_some() => return Err(only_deflate("output.level")),
        Some("none") if raw.significant_bits.is_some() => {
            return Err(only_deflate("output.significant_bits"))
        }
        Some("none") => Compression::None,
        Some(other) => {
            return Err(AppError::invalid(
                src,
                "output.compression",
                format!(
                    "{other:?} is not known; allowed: \"deflate\" (shuffle + deflate, the \
                     default) or \"none\""
                ),
            ))
        }
    };
    let bad_bits = |what: String| {
        AppError::invalid(
            src,
            "output.significant_bits",
            format!(
                "{what} is not allowed; give the number of significant bits the density and \
                 value keep, 1 to {MAX_SIGNIFICANT_BITS} (default {default_bits}), \
                 or \"all\" to keep every bit"
            ),
        )
    };
    let significant_bits = match raw.significant_bits {
        None => Some(default_bits),
        Some(toml::Value::String(s)) if s == "all" => None,
        Some(toml::Value::Integer(n)) => match u32::try_from(n) {
            Ok(b @ 1..=MAX_SIGNIFICANT_BITS) => Some(b),
            _ => return Err(bad_bits(n.to_string())),
        },
        Some(other) => return Err(bad_bits(other.to_string())),
    };
    Ok(OutputSettings {
        compression,
        significant_bits,
        feedback_fields: raw
            .feedback_fields
            .unwrap_or(OutputSettings::default().feedback_fields),
    })
}
