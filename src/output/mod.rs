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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Chunked by snapshot, no filter.
    None,
    /// Chunked by snapshot, byte shuffle then deflate at this level (1–9).
    Deflate(u8),
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Deflate(DEFAULT_DEFLATE_LEVEL)
    }
}

impl Compression {
    /// The name used in the scenario file and in the `compression` dataset attribute.
    pub fn name(&self) -> String {
        match self {
            Compression::None => "none".to_string(),
            Compression::Deflate(l) => format!("deflate (level {l}, shuffle)"),
        }
    }
}

/// The `[output]` table of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSettings {
    /// `compression` (and `level`): filters of the snapshot datasets.
    pub compression: Compression,
    /// `feedback_fields` (default true): write the allocation and disturbance drift
    /// fields of a solve at every snapshot.
    pub feedback_fields: bool,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            compression: Compression::default(),
            feedback_fields: true,
        }
    }
}
