//! BitRound quantization of the snapshot fields (netCDF-C 4.9's `nc_def_var_quantize`
//! with `NC_QUANTIZE_BITROUND`): every finite value keeps its `nsb` most significant bits
//! (the implicit leading bit included) and is rounded to the nearest such number, so the
//! relative rounding error is at most 2^−nsb. The trailing mantissa bits become zeros,
//! which the shuffle + deflate filters then store in almost no space. The file stays a
//! plain HDF5/netCDF-4 file (no plugin is needed to read it); the number of bits kept is
//! the dataset attribute [`ATTR_BITROUND`], under the name netCDF-C gives it.

pub use super::schema::ATTR_BITROUND;

/// Default number of significant bits of the snapshot fields: a relative rounding error
/// of at most 2^−20 ≈ 9.5·10⁻⁷, orders of magnitude below the first-order scheme's
/// discretisation error on any grid the solver takes (docs/output-files.md).
pub const DEFAULT_SIGNIFICANT_BITS: u32 = 20;

/// Default number of significant bits under the second-order scheme: its discretisation
/// error reaches 10⁻⁸ of the fields on moderate grids, so the rounding keeps 2^−32 ≈
/// 2.3·10⁻¹⁰ (docs/output-files.md).
pub const SECOND_ORDER_SIGNIFICANT_BITS: u32 = 32;

/// Significant bits of the error estimate's `*_error` fields: a relative rounding of at
/// most 2^−12 ≈ 2.4·10⁻⁴ of an estimate that is itself good to tens of per cent (its
/// ratio to the true error lies in [0.5, 2], docs/output-files.md).
pub const ERROR_SIGNIFICANT_BITS: u32 = 12;

/// Significant bits by which the drift fields stay below the solution fields' default
/// ([`drift_significant_bits`]).
pub const DRIFT_BITS_BELOW_VALUE: u32 = 8;

/// Significant bits of the drift fields (`allocation_drift`, `disturbance_drift`) under a
/// scheme of order `order`: 12 for the monotone scheme, 24 for the second-order one. A
/// drift is ∇H at a difference quotient of v, whose error is at least v's (O(h) for the
/// monotone scheme, ~10⁻² of the fields on the default scenario): a relative rounding of
/// 2^−12 ≈ 2.4·10⁻⁴ stays two orders below it, as 2^−24 ≈ 6·10⁻⁸ does below the
/// second-order scheme's. At 128³ the drift fields are 2·d = 6 times the size of `value`;
/// the 8 bits less store ~1.3 instead of ~2.3 bytes a value (docs/output-files.md).
pub fn drift_significant_bits(order: u32) -> u32 {
    default_significant_bits(order) - DRIFT_BITS_BELOW_VALUE
}

/// The default significant bits for a scheme of observed order `order`.
pub fn default_significant_bits(order: u32) -> u32 {
    if order >= 2 {
        SECOND_ORDER_SIGNIFICANT_BITS
    } else {
        DEFAULT_SIGNIFICANT_BITS
    }
}

/// Largest number of significant bits of a double that BitRound accepts (netCDF-C's
/// `NC_QUANTIZE_MAX_DOUBLE_NSB`).
pub const MAX_SIGNIFICANT_BITS: u32 = 52;

/// Bits of a double's significand, the implicit leading bit included (`DBL_MANT_DIG`).
const DOUBLE_MANTISSA_DIGITS: u32 = 53;

/// The BitRound masks for `nsb` significant bits: (bits kept, half of the last kept bit).
fn masks(nsb: u32) -> (u64, u64) {
    let zeroed = DOUBLE_MANTISSA_DIGITS - nsb.clamp(1, MAX_SIGNIFICANT_BITS);
    let keep = u64::MAX << zeroed;
    let half = !keep & (keep >> 1);
    (keep, half)
}

/// `x` rounded to `nsb` significant bits (1–52) as netCDF-C's BitRound does: add half of
/// the last kept bit to the bit pattern, then clear the bits below it. Non-finite values
/// are returned unchanged.
pub fn bitround(x: f64, nsb: u32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let (keep, half) = masks(nsb);
    f64::from_bits(x.to_bits().wrapping_add(half) & keep)
}

/// Applies [`bitround`] to every value of `values`.
pub fn bitround_all(values: &mut [f64], nsb: u32) {
    let (keep, half) = masks(nsb);
    for v in values.iter_mut().filter(|v| v.is_finite()) {
        *v = f64::from_bits(v.to_bits().wrapping_add(half) & keep);
    }
}

/// The largest relative rounding error of [`bitround`] with `nsb` bits: 2^−nsb.
pub fn max_relative_error(nsb: u32) -> f64 {
    (-f64::from(nsb.clamp(1, MAX_SIGNIFICANT_BITS))).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_at_most_two_to_minus_nsb() {
        let mut s = 0x2545_f491_4f6c_dd1d_u64;
        for nsb in [1, 8, 16, 20, 24, 52] {
            let bound = max_relative_error(nsb);
            let mut worst: f64 = 0.0;
            for _ in 0..20_000 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let mant = (s >> 11) as f64 / (1u64 << 53) as f64;
                let x = (mant - 0.5) * 10f64.powi((s % 40) as i32 - 20);
                if x == 0.0 {
                    continue;
                }
                let q = bitround(x, nsb);
                worst = worst.max(((q - x) / x).abs());
                // Rounding again changes nothing, and the dropped bits are zero.
                assert_eq!(bitround(q, nsb), q);
                assert_eq!(q.to_bits() & !masks(nsb).0, 0);
            }
            assert!(worst <= bound, "nsb {nsb}: {worst:e} > {bound:e}");
            assert!(worst > 0.25 * bound, "nsb {nsb}: the bound is attained");
        }
    }

    #[test]
    fn exact_values_and_non_finite_values_are_kept() {
        for x in [0.0, -0.0, 1.0, -2.5, 0.75, 1024.0] {
            assert_eq!(bitround(x, 4).to_bits(), x.to_bits());
        }
        assert!(bitround(f64::NAN, 10).is_nan());
        assert_eq!(bitround(f64::INFINITY, 10), f64::INFINITY);
        // 4 significant bits: the numbers 1, 1 + 1/8, 1 + 2/8, … near 1; rounding to the
        // nearest, up at the half, as netCDF-C's BitRound does.
        assert_eq!(bitround(1.0 + 1.0 / 16.0, 4), 1.0 + 1.0 / 8.0);
        assert_eq!(bitround(1.0 + 1.0 / 32.0, 4), 1.0);
        assert_eq!(bitround(-(1.0 + 3.0 / 32.0), 4), -(1.0 + 1.0 / 8.0));
        let mut v = vec![std::f64::consts::PI, f64::NAN, -1e-300];
        bitround_all(&mut v, 20);
        assert_eq!(v[0], bitround(std::f64::consts::PI, 20));
        assert!(v[1].is_nan());
        assert_eq!(v[2], bitround(-1e-300, 20));
    }
}
