//! The output layer: everything that decides what tufield's files look like.
//!
//! * [`schema`] — dataset paths, attribute names and units shared by every writer and
//!   reader, and the CF root attributes;
//! * [`netcdf`] — dimension scales that make every HDF5 file a netCDF-4 file;
//! * [`layout`] — the blocks several files share (time axes, grid coordinates);
//! * [`xdmf`] — the XDMF sidecar that lets ParaView and VisIt open solve outputs;
//! * [`quantize`] — netCDF BitRound rounding of the solution fields;
//! * [`chunk`] — snapshot chunks encoded in parallel and written directly;
//! * [`oracle`] — the LQ oracle's groups `/model` and `/lq` (`lq` and `solve` files);
//! * [`solve`], [`quantities`], [`estimate`], [`modal`] — the file of `tufield solve`
//!   (projected: the fields, the per-population quantities, the error estimate; modal);
//! * [`lq`] — the file of `tufield lq`;
//! * [`simulate`] — the file of `tufield simulate`;
//! * [`compare`] — the file `compare.h5` of `tufield compare`;
//! * [`checkpoint`] — the checkpoint file of `tufield solve` (read by `--resume`);
//! * the atomic HDF5 writer itself is [`crate::h5::AtomicH5`].
//!
//! The layout of every file is described in docs/output-files.md.

pub mod checkpoint;
pub mod chunk;
pub mod compare;
pub mod estimate;
pub mod layout;
pub mod lq;
pub mod modal;
pub mod netcdf;
pub mod oracle;
pub mod quantities;
pub mod quantize;
pub mod reader;
pub mod schema;
pub mod simulate;
pub mod solution;
pub mod solve;
pub mod sweep;
pub mod xdmf;

pub use crate::h5::{AtomicH5, SnapshotWriter};

/// Default deflate level of the snapshot datasets (with the shuffle filter).
pub const DEFAULT_DEFLATE_LEVEL: u8 = 1;

/// Filters of the snapshot datasets (`[output] compression` in the scenario).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Chunked by snapshot, no filter (the writer's default; checkpoints).
    #[default]
    None,
    /// Chunked by snapshot, byte shuffle then deflate at this level (1–9).
    Deflate(u8),
}

impl Compression {
    /// A short description for messages (`none`, `deflate (level 1, shuffle)`).
    pub fn name(&self) -> String {
        match self {
            Compression::None => "none".to_string(),
            Compression::Deflate(l) => format!("deflate (level {l}, shuffle)"),
        }
    }
}

/// The `[output]` table of a scenario (docs/output-files.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSettings {
    /// `compression` (and `level`): filters of the snapshot datasets (default shuffle +
    /// deflate level 1).
    pub compression: Compression,
    /// `significant_bits`: bits kept by the solution fields of a solve (netCDF BitRound,
    /// [`quantize`]) when they are compressed; `None` (`significant_bits = "all"`, or no
    /// compression) keeps every bit.
    pub significant_bits: Option<u32>,
    /// `feedback_fields`: write the allocation and disturbance drift fields of a solve at
    /// every snapshot (2·d times the size of `value`; default on, rounded to
    /// [`quantize::drift_significant_bits`]).
    pub feedback_fields: bool,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            compression: Compression::Deflate(DEFAULT_DEFLATE_LEVEL),
            significant_bits: Some(quantize::DEFAULT_SIGNIFICANT_BITS),
            feedback_fields: true,
        }
    }
}

impl OutputSettings {
    /// The significant bits the solution fields keep (`None`: every bit).
    pub fn quantization(&self) -> Option<u32> {
        match self.compression {
            Compression::None => None,
            Compression::Deflate(_) => self.significant_bits,
        }
    }

    /// The significant bits of the error estimate's `*_error` fields: at most
    /// [`quantize::ERROR_SIGNIFICANT_BITS`], fewer when the solution fields keep fewer,
    /// every bit when they keep every bit.
    pub fn error_quantization(&self) -> Option<u32> {
        self.quantization()
            .map(|b| b.min(quantize::ERROR_SIGNIFICANT_BITS))
    }

    /// The significant bits of the drift fields under a scheme of order `order`:
    /// [`quantize::drift_significant_bits`], or the solution fields' bits when those are
    /// fewer; every bit when the solution fields keep every bit.
    pub fn drift_quantization(&self, order: u32) -> Option<u32> {
        self.quantization()
            .map(|b| b.min(quantize::drift_significant_bits(order)))
    }

    /// The significant bits of the error estimate's `*_extrapolated` fields when the
    /// scheme has order `order`: Richardson's extrapolation is one order more accurate
    /// than the scheme, so they keep the default bits of a scheme of order `order + 1`,
    /// or the solution fields' bits when those are more; every bit when the solution
    /// fields keep every bit.
    pub fn extrapolated_quantization(&self, order: u32) -> Option<u32> {
        self.quantization()
            .map(|b| b.max(quantize::default_significant_bits(order + 1)))
    }
}

/// Wall time of the phases of one file write, in the order they first ran (the solve
/// bench prints them).
#[derive(Debug, Clone, Default)]
pub struct WriteTimes {
    /// (phase, seconds), one entry per phase name.
    pub phases: Vec<(&'static str, f64)>,
    last: Option<std::time::Instant>,
}

impl WriteTimes {
    /// Starts the clock.
    pub fn start() -> Self {
        WriteTimes {
            phases: Vec::new(),
            last: Some(std::time::Instant::now()),
        }
    }

    /// Charges the time since the previous lap to `phase` (added when it ran before).
    pub fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        let dt = self.last.map_or(0.0, |t| (now - t).as_secs_f64());
        self.last = Some(now);
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, t)) => *t += dt,
            None => self.phases.push((phase, dt)),
        }
    }

    /// The phases as `name 0.012 s, …`.
    pub fn describe(&self) -> String {
        self.phases
            .iter()
            .map(|(p, t)| format!("{p} {t:.3} s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
