//! Checkpoints of the fixed-point iteration (`tufield solve`): where they are written
//! ([`checkpoint_path`]) and when ([`CheckpointWriter`], after every iteration). Their file
//! format ([`save`], [`load`]) is the output layer's, [`crate::output::checkpoint`].

pub use crate::output::checkpoint::{load, save, Checkpoint, RunRecord};
use crate::{AppError, AppResult};
use std::path::{Path, PathBuf};
use tufield_solvers::fixed_point::{Control, FixedPointState, IterationRecord, Observer};

/// Checkpoint path belonging to an output file: `<dir>/<stem>.checkpoint.h5`.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tufield".to_string());
    out.with_file_name(format!("{stem}.checkpoint.h5"))
}

/// Absolute form of `p` (relative paths joined to the working directory; not resolved
/// through symbolic links so that the path stays what the user named).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Writes a checkpoint after the iterations it is told of (an observer of the fixed
/// point, [`crate::run::observe`]): the state, the run record and the point of the last
/// completed evaluation, read from `evaluated` (the map records it there). A checkpoint
/// that cannot be written is an I/O error that ends the run.
pub struct CheckpointWriter<'a> {
    /// The checkpoint file.
    pub path: &'a Path,
    /// The scenario text after overrides.
    pub scenario: &'a str,
    /// The record of the run (scenario file, overrides, output).
    pub run: Option<&'a RunRecord>,
    /// The point of the last completed evaluation, if any.
    pub evaluated: &'a std::cell::RefCell<Option<Vec<f64>>>,
}

impl Observer for CheckpointWriter<'_> {
    type Error = AppError;

    fn iteration(
        &mut self,
        state: &FixedPointState,
        _record: &IterationRecord,
        _g: &[f64],
    ) -> AppResult<Control> {
        let ev = self.evaluated.borrow();
        save(self.path, self.scenario, self.run, state, ev.as_deref())?;
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_path_sits_next_to_the_output() {
        assert_eq!(
            checkpoint_path(Path::new("output/run.h5")),
            PathBuf::from("output/run.checkpoint.h5")
        );
    }
}
