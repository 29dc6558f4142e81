//! The output layer: everything that decides what tufield's files look like.
//!
//! * [`schema`] — dataset paths, attribute names and units shared by every writer and
//!   reader, and the CF root attributes;
//! * [`netcdf`] — dimension scales that make every HDF5 file a netCDF-4 file;
//! * [`layout`] — the blocks several files share (time axes, grid coordinates);
//! * [`xdmf`] — the XDMF sidecar that lets ParaView and VisIt open solve outputs;
//! * the atomic HDF5 writer itself is [`crate::h5::AtomicH5`].
//!
//! The layout of every file is described in docs/output-files.md.

pub mod layout;
pub mod netcdf;
pub mod schema;
pub mod xdmf;

pub use crate::h5::{AtomicH5, SnapshotWriter};

/// Default deflate level of the snapshot datasets (with the shuffle filter).
pub const DEFAULT_DEFLATE_LEVEL: u8 = 1;

/// Filters of the snapshot datasets (`[output] compression` in the scenario).
///
/// The default is no filter: lossless deflate shrinks full-precision solver output only
/// 1.1–1.3× and would dominate the wall time of large runs (docs/output-files.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Chunked by snapshot, no filter.
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

/// The `[output]` table of a scenario.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputSettings {
    /// `compression` (and `level`): filters of the snapshot datasets.
    pub compression: Compression,
    /// `feedback_fields` (default false): write the allocation and disturbance drift
    /// fields of a solve at every snapshot (2·d times the size of `value`).
    pub feedback_fields: bool,
}
