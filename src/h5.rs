//! HDF5 output: an atomic file writer and helpers for self-describing files.
//!
//! [`AtomicH5`] writes `<name>.tmp-<pid>` next to the destination and renames it into
//! place on [`AtomicH5::commit`]; on any error, or when dropped without a commit, the
//! temporary file is deleted, so a failed run never leaves a partial file behind.
//!
//! Every file gets the root attributes `tufield_version` and `scenario` (the TOML text
//! after overrides). Strings are variable-length UTF-8 (h5py reads them as `str`).
//! Dimension scales use the HDF5 high-level library (H5DSset_scale / H5DSattach_scale),
//! so viewers label axes with `/time` or grid coordinates, and every file is a valid
//! netCDF-4 file (see [`crate::output::netcdf`]); the root also carries the CF attributes
//! `Conventions`, `title`, `source` and `history`.

use crate::error::{AppError, AppResult};
use crate::output::netcdf;
use crate::output::Compression;
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, Group, H5Type, Location};
use ndarray::{ArrayD, ArrayView, ArrayViewD, CowArray, Dimension, IxDyn};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The crate version written as the root attribute `tufield_version`.
pub const TUFIELD_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An HDF5 file being written to a temporary path, renamed into place on commit.
#[derive(Debug)]
pub struct AtomicH5 {
    file: Option<hdf5::File>,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
    compression: Compression,
    significant_bits: Option<u32>,
}

impl AtomicH5 {
    /// Creates `<dest>.tmp-<pid>` in the destination's directory (which must exist) and
    /// writes the root attributes `tufield_version` and `scenario`.
    pub fn create(dest: &Path, scenario_text: &str) -> AppResult<Self> {
        let file_name = dest.file_name().ok_or_else(|| AppError::Io {
            path: dest.display().to_string(),
            message: "not a file name".to_string(),
        })?;
        let mut tmp_name = file_name.to_os_string();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(AppError::Io {
                path: dest.display().to_string(),
                message: format!(
                    "cannot create the output file: directory {} does not exist",
                    parent.display()
                ),
            });
        }
        if dest.is_dir() {
            return Err(AppError::Io {
                path: dest.display().to_string(),
                message: "cannot write the output file: this path is a directory".to_string(),
            });
        }
        // Registered before it exists: a signal that ends the process blocks further
        // registrations, so a temporary is never created unregistered.
        crate::interrupt::register_temp(&tmp);
        // Create exclusively through std first so that a stale or foreign file is never
        // clobbered and permission problems surface as plain I/O errors.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| AppError::io(&tmp, "cannot create the temporary output file", &e))?;
        let mut w = AtomicH5 {
            file: None,
            tmp: tmp.clone(),
            dest: dest.to_path_buf(),
            committed: false,
            compression: Compression::default(),
            significant_bits: None,
        };
        // HDF5 then creates the file anew, exclusively too: opening the empty reservation
        // with truncation would make ext4 allocate and start writing the whole file back
        // when it is closed (its `auto_da_alloc` rule for truncated files), a quarter of a
        // second at 700 MB that the run would wait for.
        std::fs::remove_file(&tmp)
            .map_err(|e| AppError::io(&tmp, "cannot prepare the temporary output file", &e))?;
        let file = hdf5::File::create_excl(&tmp)
            .map_err(|e| AppError::hdf5(&tmp, "creating the file", e))?;
        w.file = Some(file);
        let root = w.root()?.clone();
        w.str_attr(&root, crate::output::schema::ATTR_VERSION, TUFIELD_VERSION)?;
        w.str_attr(&root, crate::output::schema::ATTR_SCENARIO, scenario_text)?;
        for (name, value) in crate::output::schema::cf_root_attributes(dest, scenario_text) {
            w.str_attr(&root, name, &value)?;
        }
        Ok(w)
    }

    /// Sets the filters of the snapshot datasets created from now on.
    pub fn set_compression(&mut self, compression: Compression) {
        self.compression = compression;
    }

    /// Sets the number of significant bits (netCDF BitRound, [`crate::output::quantize`])
    /// kept by the datasets created from now on with [`AtomicH5::quantized_snapshots`];
    /// `None` keeps every bit. Rounding is applied only to filtered datasets.
    pub fn set_significant_bits(&mut self, bits: Option<u32>) {
        self.significant_bits = bits;
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path being written.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// The root group (an error only if the file was already closed).
    pub fn root(&self) -> AppResult<&Group> {
        self.file.as_deref().ok_or_else(|| self.closed())
    }

    fn closed(&self) -> AppError {
        AppError::Io {
            path: self.dest.display().to_string(),
            message: "the output file is already closed".to_string(),
        }
    }

    fn err(&self, action: impl Into<String>) -> impl FnOnce(hdf5::Error) -> AppError + '_ {
        let action = action.into();
        move |e| AppError::hdf5(&self.dest, action, e)
    }

    /// Creates (or opens) the group at `path` ("/lq/exact"), with all intermediate groups.
    pub fn group(&self, path: &str) -> AppResult<Group> {
        let mut g = self.root()?.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            g = if g.link_exists(part) {
                g.group(part)
            } else {
                g.create_group(part)
            }
            .map_err(self.err(format!("creating group {path}")))?;
        }
        Ok(g)
    }

    /// Writes a variable-length UTF-8 string attribute on a group or dataset.
    pub fn str_attr(&self, loc: &Location, name: &str, value: &str) -> AppResult<()> {
        let v = VarLenUnicode::from_str(value).map_err(|e| AppError::Io {
            path: self.dest.display().to_string(),
            message: format!("attribute {name}: {e}"),
        })?;
        loc.new_attr::<VarLenUnicode>()
            .shape(())
            .create(name)
            .and_then(|a| a.write_scalar(&v))
            .map_err(self.err(format!("writing attribute {name}")))
    }

    /// Writes a list of strings as a 1-D variable-length UTF-8 attribute.
    pub fn str_list_attr(&self, loc: &Location, name: &str, values: &[String]) -> AppResult<()> {
        let mut v = Vec::with_capacity(values.len());
        for s in values {
            v.push(VarLenUnicode::from_str(s).map_err(|e| AppError::Io {
                path: self.dest.display().to_string(),
                message: format!("attribute {name}: {e}"),
            })?);
        }
        loc.new_attr::<VarLenUnicode>()
            .shape(v.len())
            .create(name)
            .and_then(|a| a.write(&v))
            .map_err(self.err(format!("writing attribute {name}")))
    }

    /// Writes a scalar numeric attribute.
    pub fn scalar_attr<T: H5Type>(&self, loc: &Location, name: &str, value: T) -> AppResult<()> {
        loc.new_attr::<T>()
            .shape(())
            .create(name)
            .and_then(|a| a.write_scalar(&value))
            .map_err(self.err(format!("writing attribute {name}")))
    }

    /// Writes an n-D array as a contiguous dataset `name` in `group`.
    pub fn array<'a, T: H5Type + Clone, D: Dimension>(
        &self,
        group: &Group,
        name: &str,
        data: impl Into<ArrayView<'a, T, D>>,
    ) -> AppResult<Dataset> {
        let view: ArrayView<'a, T, D> = data.into();
        let owned = view.as_standard_layout();
        group
            .new_dataset_builder()
            .with_data(owned.view())
            .create(name)
            .map_err(self.err(format!("writing dataset {name}")))
    }

    /// Marks `scale` as a dimension scale (a netCDF coordinate variable named after its
    /// dataset) and attaches it to dimension `dim` of `data`.
    pub fn attach_scale(&self, data: &Dataset, scale: &Dataset, dim: usize) -> AppResult<()> {
        netcdf::attach(data, scale, dim).map_err(self.err(format!(
            "attaching dimension scale {} to dimension {dim}",
            scale.name()
        )))
    }

    /// Labels dimension `dim` of `data` (shown by viewers).
    pub fn label_dim(&self, data: &Dataset, dim: usize, label: &str) -> AppResult<()> {
        netcdf::label(data, dim, label).map_err(self.err(format!("labelling dimension {dim}")))
    }

    /// Names the dimensions of `data` that have no scale yet: dimension `i` gets the
    /// netCDF dimension without variable `names[i]` of the dataset's group.
    pub fn dims(&self, data: &Dataset, names: &[&str]) -> AppResult<()> {
        netcdf::name_dims(data, names)
            .map_err(self.err(format!("naming the dimensions of {}", data.name())))
    }

    /// Writes a 1-D coordinate variable `name` in `group` (a dimension scale named
    /// `name`) with the CF attributes `long_name` and, when given, `units`.
    pub fn coordinate(
        &self,
        group: &Group,
        name: &str,
        data: &ndarray::Array1<f64>,
        long_name: &str,
        units: Option<&str>,
    ) -> AppResult<Dataset> {
        let ds = self.array(group, name, data)?;
        netcdf::set_scale(&ds).map_err(self.err(format!("making {name} a dimension scale")))?;
        self.str_attr(&ds, crate::output::schema::ATTR_LONG_NAME, long_name)?;
        if let Some(u) = units {
            self.str_attr(&ds, crate::output::schema::ATTR_UNITS, u)?;
        }
        Ok(ds)
    }

    /// Starts a dataset of `count` snapshots of shape `frame` (1-4-D), chunked by
    /// snapshot and filtered as [`AtomicH5::set_compression`] says, written one snapshot
    /// at a time with [`SnapshotWriter::push`] or all at once with
    /// [`SnapshotWriter::push_all`]. The values are stored exactly.
    pub fn snapshots(
        &self,
        group: &Group,
        name: &str,
        count: usize,
        frame: &[usize],
    ) -> AppResult<SnapshotWriter> {
        self.snapshot_dataset(group, name, count, frame, None)
    }

    /// Like [`AtomicH5::snapshots`], for the solution fields (density, value, drift
    /// fields): when the dataset is filtered, every value is rounded to the writer's
    /// significant bits ([`AtomicH5::set_significant_bits`]) and the dataset carries the
    /// attribute `_QuantizeBitRoundNumberOfSignificantBits`, as netCDF-C writes it.
    pub fn quantized_snapshots(
        &self,
        group: &Group,
        name: &str,
        count: usize,
        frame: &[usize],
    ) -> AppResult<SnapshotWriter> {
        self.snapshot_dataset(group, name, count, frame, self.significant_bits)
    }

    /// Like [`AtomicH5::quantized_snapshots`] with its own number of significant bits
    /// (`None`: every bit) instead of the writer's: the error estimate's fields.
    pub fn rounded_snapshots(
        &self,
        group: &Group,
        name: &str,
        count: usize,
        frame: &[usize],
        significant_bits: Option<u32>,
    ) -> AppResult<SnapshotWriter> {
        self.snapshot_dataset(group, name, count, frame, significant_bits)
    }

    fn snapshot_dataset(
        &self,
        group: &Group,
        name: &str,
        count: usize,
        frame: &[usize],
        significant_bits: Option<u32>,
    ) -> AppResult<SnapshotWriter> {
        let mut shape = vec![count];
        shape.extend_from_slice(frame);
        let mut chunk = vec![1];
        chunk.extend_from_slice(frame);
        let mut builder = group.new_dataset::<f64>().shape(shape).chunk(chunk);
        let level = match self.compression {
            Compression::Deflate(level) if hdf5::filters::deflate_available() => {
                builder = builder.shuffle().deflate(level);
                Some(level)
            }
            _ => None,
        };
        let significant_bits = significant_bits.filter(|_| level.is_some());
        let ds = builder
            .create(name)
            .map_err(self.err(format!("creating dataset {name}")))?;
        if let Some(bits) = significant_bits {
            let bits = i32::try_from(bits).unwrap_or(i32::MAX);
            self.scalar_attr(&ds, crate::output::schema::ATTR_BITROUND, bits)?;
        }
        Ok(SnapshotWriter {
            ds,
            frame: frame.to_vec(),
            count,
            next: 0,
            name: name.to_string(),
            dest: self.dest.clone(),
            level,
            significant_bits,
            search: crate::output::chunk::Search::Matches,
        })
    }

    /// Flushes, closes and renames the temporary file to the destination.
    pub fn commit(mut self) -> AppResult<PathBuf> {
        let file = self.file.take().ok_or_else(|| self.closed())?;
        crate::output::chunk::release_pool();
        netcdf::complete(&file)
            .map_err(|e| AppError::hdf5(&self.dest, "naming the netCDF dimensions", e))?;
        file.flush()
            .map_err(|e| AppError::hdf5(&self.dest, "flushing the file", e))?;
        file.close()
            .map_err(|e| AppError::hdf5(&self.dest, "closing the file", e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| {
            AppError::io(
                &self.dest,
                &format!("cannot move {} into place", self.tmp.display()),
                &e,
            )
        })?;
        self.committed = true;
        crate::interrupt::forget_temp(&self.tmp);
        Ok(self.dest.clone())
    }
}

impl Drop for AtomicH5 {
    fn drop(&mut self) {
        // Not committed (an error or an early return): close and remove the temporary.
        if let Some(file) = self.file.take() {
            let _ = file.close();
        }
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
            crate::interrupt::forget_temp(&self.tmp);
        }
    }
}

/// A chunked dataset of shape (count, frame…) filled one snapshot at a time.
#[derive(Debug)]
pub struct SnapshotWriter {
    ds: Dataset,
    frame: Vec<usize>,
    count: usize,
    next: usize,
    name: String,
    dest: PathBuf,
    /// Deflate level when the dataset is filtered (shuffle + deflate).
    level: Option<u8>,
    /// Significant bits kept (filtered datasets only).
    significant_bits: Option<u32>,
    /// How the deflate encoder searches for repeats (filtered datasets only).
    search: crate::output::chunk::Search,
}

/// Writes `count` snapshots into every one of `writers` (datasets of the same snapshot
/// count): `frames(s)` gives snapshot `s` of each writer, in the order of `writers`. When
/// every writer is filtered, the snapshots are produced and encoded in parallel on the
/// current rayon pool, a batch of snapshots (all writers' chunks of a snapshot in one task)
/// while the previous batch is written; otherwise they are written one at a time. The
/// file does not depend on the number of threads.
pub fn push_together<'a, F>(
    writers: &mut [SnapshotWriter],
    count: usize,
    frames: F,
) -> AppResult<()>
where
    F: Fn(usize) -> AppResult<Vec<CowArray<'a, f64, IxDyn>>> + Sync,
{
    let Some(first) = writers.first() else {
        return Ok(());
    };
    let (n, dest, name) = (writers.len(), first.dest.clone(), first.name.clone());
    let produce = |s: usize| one_per_dataset(frames(s)?, n, s, "fields", &dest, &name);
    let encoders: Option<Vec<ChunkEncoder>> = writers.iter().map(|w| w.encoder()).collect();
    let Some(encoders) = encoders else {
        for s in 0..count {
            for (w, f) in writers.iter_mut().zip(produce(s)?) {
                w.push(f.view())?;
            }
        }
        return Ok(());
    };
    push_encoded_together(writers, count, |s| {
        produce(s)?
            .iter()
            .zip(&encoders)
            .map(|(f, e)| e.encode(f.view()))
            .collect()
    })
}

/// `items` (the `what` of snapshot `s`) when there is one per each of the `n` datasets
/// being written together into `dest` (the first named `name`), else an I/O error saying
/// how many came.
fn one_per_dataset<T>(
    items: Vec<T>,
    n: usize,
    s: usize,
    what: &str,
    dest: &Path,
    name: &str,
) -> AppResult<Vec<T>> {
    if items.len() != n {
        return Err(AppError::Io {
            path: dest.display().to_string(),
            message: format!(
                "snapshot {s}: {} {what} for {n} datasets ({name} …)",
                items.len()
            ),
        });
    }
    Ok(items)
}

/// Writes `count` snapshots into every one of the filtered `writers` (each with its
/// [`SnapshotWriter::encoder`]): `chunks(s)` gives the encoded chunk of snapshot `s` of
/// each writer, in the order of `writers`. The snapshots are encoded in parallel on the
/// current rayon pool, a batch of snapshots while the previous batch is written; the file
/// does not depend on the number of threads.
pub fn push_encoded_together<F>(
    writers: &mut [SnapshotWriter],
    count: usize,
    chunks: F,
) -> AppResult<()>
where
    F: Fn(usize) -> AppResult<Vec<Vec<u8>>> + Sync,
{
    let Some(first) = writers.first() else {
        return Ok(());
    };
    let (n, dest, name) = (writers.len(), first.dest.clone(), first.name.clone());
    let encode = |s: usize| one_per_dataset(chunks(s)?, n, s, "chunks", &dest, &name);
    let mut write = |chunks: &[Vec<Vec<u8>>]| -> AppResult<()> {
        for snapshot in chunks {
            for (w, c) in writers.iter_mut().zip(snapshot) {
                w.push_encoded(c)?;
            }
        }
        Ok(())
    };
    let batch = 2 * rayon::current_num_threads().max(1);
    let mut pending: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut start = 0;
    while start < count {
        let end = (start + batch).min(count);
        let (encoded, written) = rayon::join(
            || {
                (start..end)
                    .into_par_iter()
                    .map(encode)
                    .collect::<AppResult<Vec<_>>>()
            },
            || write(&pending),
        );
        written?;
        let done = std::mem::replace(&mut pending, encoded?);
        crate::output::chunk::recycle(done.into_iter().flatten());
        start = end;
    }
    write(&pending)?;
    crate::output::chunk::recycle(pending.into_iter().flatten());
    Ok(())
}

/// Encodes the snapshots of one filtered [`SnapshotWriter`] into its chunks (rounding,
/// shuffle, deflate: [`crate::output::chunk::encode`]) on any thread.
#[derive(Debug, Clone)]
pub struct ChunkEncoder {
    frame: Vec<usize>,
    significant_bits: Option<u32>,
    level: u8,
    search: crate::output::chunk::Search,
    name: String,
    dest: PathBuf,
}

impl ChunkEncoder {
    /// An empty chunk of this dataset (its frame's values, rounded as the dataset wants),
    /// to be filled piece by piece and encoded by [`ChunkEncoder::finish`].
    pub fn chunk(&self) -> crate::output::chunk::Shuffled {
        crate::output::chunk::Shuffled::new(self.frame.iter().product(), self.significant_bits)
    }

    /// The stored bytes of `chunk`, a filled [`ChunkEncoder::chunk`].
    pub fn finish(&self, chunk: crate::output::chunk::Shuffled) -> Vec<u8> {
        chunk.encode(self.level, self.search)
    }

    /// The stored bytes of the chunk of `snapshot` (its shape must equal the frame).
    pub fn encode(&self, snapshot: ArrayViewD<'_, f64>) -> AppResult<Vec<u8>> {
        if snapshot.shape() != self.frame.as_slice() {
            return Err(AppError::Io {
                path: self.dest.display().to_string(),
                message: format!(
                    "dataset {}: a snapshot of shape {:?} does not fit (frame {:?})",
                    self.name,
                    snapshot.shape(),
                    self.frame
                ),
            });
        }
        let owned = snapshot.as_standard_layout();
        Ok(crate::output::chunk::encode_with(
            owned.as_slice().unwrap_or_default(),
            self.significant_bits,
            self.level,
            self.search,
        ))
    }
}

impl SnapshotWriter {
    /// Sets how the deflate encoder searches for repeats in the chunks written from now
    /// on (the default finds matches at any distance).
    pub fn set_search(&mut self, search: crate::output::chunk::Search) {
        self.search = search;
    }

    fn misfit(&self, shape: &[usize]) -> AppError {
        AppError::Io {
            path: self.dest.display().to_string(),
            message: format!(
                "dataset {}: snapshot {} of shape {:?} does not fit (frame {:?}, {} snapshots)",
                self.name, self.next, shape, self.frame, self.count
            ),
        }
    }

    /// The chunk offset of snapshot `s`.
    fn offset(&self, s: usize) -> Vec<u64> {
        let mut o = vec![s as u64];
        o.extend(std::iter::repeat_n(0, self.frame.len()));
        o
    }

    fn write_chunk(&mut self, bytes: &[u8]) -> AppResult<()> {
        crate::output::chunk::write(&self.ds, &self.offset(self.next), bytes).map_err(|e| {
            AppError::hdf5(
                &self.dest,
                format!("writing snapshot {} of {}", self.next, self.name),
                e,
            )
        })?;
        self.next += 1;
        Ok(())
    }

    /// Writes the remaining snapshots `frames` (each of the frame's shape). Filtered
    /// datasets are encoded in parallel on the current rayon pool, a few snapshots at a
    /// time, each batch while the previous one is written; the file does not depend on
    /// the number of threads.
    pub fn push_all(&mut self, frames: &[ArrayD<f64>]) -> AppResult<()> {
        let Some(level) = self.level else {
            for f in frames {
                self.push(f.view())?;
            }
            return Ok(());
        };
        if let Some(f) = frames.iter().find(|f| f.shape() != self.frame.as_slice()) {
            return Err(self.misfit(f.shape()));
        }
        if self.next + frames.len() > self.count {
            return Err(self.misfit(&self.frame.clone()));
        }
        let bits = self.significant_bits;
        let encode = |group: &[ArrayD<f64>]| {
            let owned: Vec<_> = group.iter().map(|f| f.as_standard_layout()).collect();
            let slices: Vec<&[f64]> = owned
                .iter()
                .map(|f| f.as_slice().unwrap_or_default())
                .collect();
            crate::output::chunk::encode_all(&slices, bits, level)
        };
        let batch = 2 * rayon::current_num_threads().max(1);
        let mut pending: Vec<Vec<u8>> = Vec::new();
        for group in frames.chunks(batch) {
            let (encoded, written) = rayon::join(|| encode(group), || self.write_chunks(&pending));
            written?;
            pending = encoded;
        }
        self.write_chunks(&pending)
    }

    fn write_chunks(&mut self, chunks: &[Vec<u8>]) -> AppResult<()> {
        for bytes in chunks {
            self.write_chunk(bytes)?;
        }
        Ok(())
    }

    /// The encoder of this dataset's chunks when it is filtered (`None`: unfiltered, write
    /// with [`SnapshotWriter::push`]): chunks can then be encoded on any thread and written
    /// in order with [`SnapshotWriter::push_encoded`].
    pub fn encoder(&self) -> Option<ChunkEncoder> {
        self.level.map(|level| ChunkEncoder {
            frame: self.frame.clone(),
            significant_bits: self.significant_bits,
            level,
            search: self.search,
            name: self.name.clone(),
            dest: self.dest.clone(),
        })
    }

    /// Writes the next snapshot as a chunk encoded by this dataset's
    /// [`SnapshotWriter::encoder`].
    pub fn push_encoded(&mut self, chunk: &[u8]) -> AppResult<()> {
        if self.level.is_none() || self.next >= self.count {
            return Err(self.misfit(&self.frame.clone()));
        }
        self.write_chunk(chunk)
    }

    /// Writes the next snapshot (shape must equal the frame).
    pub fn push(&mut self, snapshot: ArrayViewD<'_, f64>) -> AppResult<()> {
        if snapshot.shape() != self.frame.as_slice() || self.next >= self.count {
            return Err(self.misfit(snapshot.shape()));
        }
        if let Some(level) = self.level {
            let owned = snapshot.as_standard_layout();
            let bytes = crate::output::chunk::encode(
                owned.as_slice().unwrap_or_default(),
                self.significant_bits,
                level,
            );
            return self.write_chunk(&bytes);
        }
        let mut sel = vec![hdf5::SliceOrIndex::Index(self.next)];
        for &n in &self.frame {
            sel.push(hdf5::SliceOrIndex::SliceCount {
                start: 0,
                step: 1,
                count: n,
                block: 1,
            });
        }
        let owned = snapshot.as_standard_layout();
        self.ds
            .write_slice(owned.view(), hdf5::Hyperslab::from(sel))
            .map_err(|e| {
                AppError::hdf5(
                    &self.dest,
                    format!("writing snapshot {} of {}", self.next, self.name),
                    e,
                )
            })?;
        self.next += 1;
        Ok(())
    }

    /// Number of snapshots written so far.
    pub fn written(&self) -> usize {
        self.next
    }

    /// The dataset (for attributes and dimension scales).
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2, Array3};

    #[test]
    fn dropped_writer_removes_its_temporary_and_commit_renames() {
        let dir = tempfile::TempDir::new().unwrap();
        let dest = dir.path().join("x.h5");
        {
            let w = AtomicH5::create(&dest, "a = 1").unwrap();
            assert!(w.tmp_path().exists());
            assert!(!dest.exists());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let w = AtomicH5::create(&dest, "a = 1").unwrap();
        let tmp = w.tmp_path().to_path_buf();
        w.commit().unwrap();
        assert!(dest.is_file() && !tmp.exists());
    }

    #[test]
    fn attributes_arrays_snapshots_and_scales_round_trip() {
        let dir = tempfile::TempDir::new().unwrap();
        let dest = dir.path().join("y.h5");
        let mut w = AtomicH5::create(&dest, "name = \"π ≈ 3.14\"").unwrap();
        w.set_compression(Compression::Deflate(1));
        let g = w.group("/a/b").unwrap();
        w.str_attr(&g, "note", "ünïcode ✓").unwrap();
        w.scalar_attr(&g, "count", 7u64).unwrap();
        w.str_list_attr(&g, "labels", &["{1}".to_string(), "{1,2}".to_string()])
            .unwrap();
        let x = Array1::linspace(-1.0, 1.0, 5);
        let xs = w.array(&g, "x", &x).unwrap();
        let y = Array1::linspace(0.0, 2.0, 3);
        let ys = w.array(&g, "y", &y).unwrap();
        let t = Array1::from(vec![0.0, 0.5, 1.0, 1.5]);
        let ts = w.array(&g, "t", &t).unwrap();
        let mut snap = w.snapshots(&g, "density", 4, &[5, 3]).unwrap();
        let frames: Vec<Array2<f64>> = (0..4)
            .map(|n| Array2::from_shape_fn((5, 3), |(i, j)| (n * 100 + i * 10 + j) as f64))
            .collect();
        for f in &frames {
            snap.push(f.view().into_dyn()).unwrap();
        }
        assert!(
            snap.push(frames[0].view().into_dyn()).is_err(),
            "a fifth snapshot does not fit"
        );
        assert!(
            snap.push(Array2::<f64>::zeros((2, 2)).view().into_dyn())
                .is_err(),
            "wrong frame shape"
        );
        let ds = snap.dataset().clone();
        w.attach_scale(&ds, &ts, 0).unwrap();
        w.attach_scale(&ds, &xs, 1).unwrap();
        w.attach_scale(&ds, &ys, 2).unwrap();
        w.label_dim(&ds, 1, "x").unwrap();
        // Transposed (non-standard layout) input is written in logical order.
        let m = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64);
        w.array(&g, "mt", m.t()).unwrap();
        drop((g, xs, ys, ts, ds, snap));
        w.commit().unwrap();

        let f = hdf5::File::open(&dest).unwrap();
        let s: VarLenUnicode = f.attr("scenario").unwrap().read_scalar().unwrap();
        assert_eq!(s.as_str(), "name = \"π ≈ 3.14\"");
        let g = f.group("a/b").unwrap();
        let note: VarLenUnicode = g.attr("note").unwrap().read_scalar().unwrap();
        assert_eq!(note.as_str(), "ünïcode ✓");
        assert_eq!(g.attr("count").unwrap().read_scalar::<u64>().unwrap(), 7);
        let labels: Vec<VarLenUnicode> = g.attr("labels").unwrap().read_raw().unwrap();
        assert_eq!(labels[1].as_str(), "{1,2}");
        let d = g.dataset("density").unwrap();
        assert!(d.is_chunked());
        assert_eq!(d.chunk(), Some(vec![1, 5, 3]));
        if hdf5::filters::deflate_available() {
            assert!(!d.filters().is_empty(), "deflate filter set");
        }
        let back: Array3<f64> = d.read().unwrap();
        for (n, f) in frames.iter().enumerate() {
            assert_eq!(back.index_axis(ndarray::Axis(0), n), f.view());
        }
        assert!(d.attr("DIMENSION_LIST").is_ok());
        let cls = g.dataset("t").unwrap().attr("CLASS").unwrap();
        let cls: hdf5::types::FixedAscii<16> = cls.read_scalar().unwrap();
        assert_eq!(cls.as_str(), "DIMENSION_SCALE");
        let mt: Array2<f64> = g.dataset("mt").unwrap().read_2d().unwrap();
        assert_eq!(mt, m.t());
    }

    #[test]
    fn snapshots_pushed_together_read_back_rounded_or_exact_for_any_thread_count() {
        use crate::output::quantize::bitround;
        use ndarray::{ArrayD, IxDyn};
        let frames: Vec<ArrayD<f64>> = (0..7)
            .map(|n| {
                ArrayD::from_shape_fn(IxDyn(&[6, 5]), |i| {
                    ((n * 30 + i[0] * 5 + i[1]) as f64 * 0.71).cos() + 2.0
                })
            })
            .collect();
        let write = |threads: usize, compression: Compression| {
            let dir = tempfile::TempDir::new().unwrap();
            let dest = dir.path().join("t.h5");
            let mut w = AtomicH5::create(&dest, "").unwrap();
            w.set_compression(compression);
            w.set_significant_bits(Some(10));
            let g = w.group("/g").unwrap();
            let mut writers = [
                w.quantized_snapshots(&g, "rounded", 7, &[6, 5]).unwrap(),
                w.rounded_snapshots(&g, "exact", 7, &[6, 5], None).unwrap(),
            ];
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    push_together(&mut writers, 7, |s| {
                        Ok(vec![
                            CowArray::from(frames[s].view()),
                            CowArray::from(frames[s].mapv(|v| -v)),
                        ])
                    })
                })
                .unwrap();
            assert!(
                push_together(&mut writers, 1, |s| Ok(vec![CowArray::from(
                    frames[s].view()
                )]))
                .is_err(),
                "one field for two datasets"
            );
            drop((g, writers));
            w.commit().unwrap();
            let f = hdf5::File::open(&dest).unwrap();
            let r: ArrayD<f64> = f.dataset("g/rounded").unwrap().read_dyn().unwrap();
            let e: ArrayD<f64> = f.dataset("g/exact").unwrap().read_dyn().unwrap();
            (r, e)
        };
        let (r1, e1) = write(1, Compression::Deflate(1));
        let (r3, e3) = write(3, Compression::Deflate(1));
        let (rn, en) = write(2, Compression::None);
        for (s, fr) in frames.iter().enumerate() {
            let rs = r1.index_axis(ndarray::Axis(0), s);
            let es = e1.index_axis(ndarray::Axis(0), s);
            assert!(rs.iter().zip(fr).all(|(q, x)| *q == bitround(*x, 10)));
            assert!(es.iter().zip(fr).all(|(q, x)| *q == -*x));
            assert_eq!(
                rn.index_axis(ndarray::Axis(0), s),
                fr.view(),
                "no filter, no rounding"
            );
        }
        assert_eq!((&r1, &e1), (&r3, &e3), "the same for 1 and 3 threads");
        assert_eq!(e1, en);
    }

    #[test]
    fn chunks_filled_piece_by_piece_read_back_rounded_for_any_thread_count() {
        use crate::output::chunk::Search;
        use crate::output::quantize::bitround;
        use ndarray::ArrayD;
        // Values whose byte planes are runs, noise and smooth, so that planes are
        // deflated and stored, with both searches.
        let value = |s: usize, i: usize| match i % 3 {
            0 => (s as f64 + 1.0) * 0.25,
            1 => ((s * 1000 + i) as f64 * 1.618).sin() * 1e3,
            _ => (i as f64).sqrt() - s as f64,
        };
        let frame = [3usize, 11, 9];
        let n: usize = frame.iter().product();
        let write = |threads: usize| {
            let dir = tempfile::TempDir::new().unwrap();
            let dest = dir.path().join("p.h5");
            let mut w = AtomicH5::create(&dest, "").unwrap();
            w.set_compression(Compression::Deflate(1));
            w.set_significant_bits(Some(14));
            let g = w.group("/g").unwrap();
            let mut writers = [
                w.quantized_snapshots(&g, "matches", 5, &frame).unwrap(),
                w.quantized_snapshots(&g, "runs", 5, &frame).unwrap(),
            ];
            writers[1].set_search(Search::Runs);
            let enc: Vec<ChunkEncoder> = writers.iter().map(|w| w.encoder().unwrap()).collect();
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    push_encoded_together(&mut writers, 5, |s| {
                        let vals: Vec<f64> = (0..n).map(|i| value(s, i)).collect();
                        // Pieces of uneven lengths, the last first.
                        let cuts = [0, 5, 6, 70, 161, 290, n];
                        Ok(enc
                            .iter()
                            .map(|e| {
                                let mut c = e.chunk();
                                for w in cuts.windows(2).rev() {
                                    c.put(w[0], &vals[w[0]..w[1]]);
                                }
                                e.finish(c)
                            })
                            .collect())
                    })
                })
                .unwrap();
            drop((g, writers));
            w.commit().unwrap();
            let f = hdf5::File::open(&dest).unwrap();
            let m: ArrayD<f64> = f.dataset("g/matches").unwrap().read_dyn().unwrap();
            let r: ArrayD<f64> = f.dataset("g/runs").unwrap().read_dyn().unwrap();
            (m, r)
        };
        let (m1, r1) = write(1);
        assert_eq!((&m1, &r1), (&write(2).0, &write(2).1), "1 and 2 threads");
        for (s, (ms, rs)) in m1.outer_iter().zip(r1.outer_iter()).enumerate() {
            for (i, (a, b)) in ms.iter().zip(rs.iter()).enumerate() {
                let q = bitround(value(s, i), 14);
                assert_eq!((a.to_bits(), b.to_bits()), (q.to_bits(), q.to_bits()));
            }
        }
    }

    #[test]
    fn direct_chunk_writes_read_back_as_hdf5s_own_filters_write() {
        use crate::output::quantize::bitround;
        use ndarray::{s, Array4, ArrayD};
        let dir = tempfile::TempDir::new().unwrap();
        let dest = dir.path().join("c.h5");
        let mut w = AtomicH5::create(&dest, "").unwrap();
        w.set_compression(Compression::Deflate(1));
        w.set_significant_bits(Some(12));
        let g = w.group("/g").unwrap();
        let frames: Vec<ArrayD<f64>> = (0..5)
            .map(|n| {
                Array3::from_shape_fn((4, 7, 3), |(i, j, l)| {
                    ((n * 31 + i * 7 + j * 3 + l) as f64 * 0.37).sin() * 10f64.powi(i as i32 - 2)
                })
                .into_dyn()
            })
            .collect();
        // Encoded by tufield (in parallel, then one at a time) and written as chunks.
        let mut direct = w.quantized_snapshots(&g, "direct", 5, &[4, 7, 3]).unwrap();
        direct.push_all(&frames[..3]).unwrap();
        direct.push(frames[3].view()).unwrap();
        direct.push_all(&frames[4..]).unwrap();
        assert!(direct.push(frames[0].view()).is_err(), "a sixth snapshot");
        let mut exact = w.snapshots(&g, "exact", 5, &[4, 7, 3]).unwrap();
        exact.push_all(&frames).unwrap();
        // The same rounded values through HDF5's own shuffle and deflate filters.
        let filtered = g
            .new_dataset::<f64>()
            .shape([5, 4, 7, 3])
            .chunk([1, 4, 7, 3])
            .shuffle()
            .deflate(1)
            .create("filtered")
            .unwrap();
        for (n, f) in frames.iter().enumerate() {
            let q = f.mapv(|v| bitround(v, 12));
            filtered.write_slice(&q, s![n, .., .., ..]).unwrap();
        }
        drop((g, direct, exact, filtered));
        w.commit().unwrap();

        let f = hdf5::File::open(&dest).unwrap();
        let a = f.dataset("g/direct").unwrap();
        let b = f.dataset("g/filtered").unwrap();
        assert_eq!(a.filters(), b.filters(), "the same filter pipeline");
        assert_eq!(a.chunk(), b.chunk());
        let bits: i32 = a
            .attr(crate::output::schema::ATTR_BITROUND)
            .unwrap()
            .read_scalar()
            .unwrap();
        assert_eq!(bits, 12);
        let av: Array4<f64> = a.read().unwrap();
        let bv: Array4<f64> = b.read().unwrap();
        let same_bits = av.iter().zip(&bv).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(
            same_bits,
            "direct chunks read back as HDF5's filters wrote them"
        );
        let ev: Array4<f64> = f.dataset("g/exact").unwrap().read().unwrap();
        for (n, fr) in frames.iter().enumerate() {
            let got = ev.index_axis(ndarray::Axis(0), n);
            assert!(got.iter().zip(fr).all(|(x, y)| x.to_bits() == y.to_bits()));
            let rounded = av.index_axis(ndarray::Axis(0), n);
            let worst = rounded
                .iter()
                .zip(fr)
                .map(|(q, x)| ((q - x) / x).abs())
                .fold(0.0, f64::max);
            assert!(worst <= 2f64.powi(-12) && worst > 0.0, "{worst:e}");
        }
        assert!(f
            .dataset("g/exact")
            .unwrap()
            .attr(crate::output::schema::ATTR_BITROUND)
            .is_err());
    }
}
