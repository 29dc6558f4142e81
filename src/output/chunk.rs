//! Snapshot chunks encoded by tufield and written with HDF5's direct chunk write
//! (`H5Dwrite_chunk`), so that the chunks of a dataset are compressed in parallel.
//!
//! A chunk holds one snapshot. [`encode`] produces exactly what HDF5's filter pipeline
//! `shuffle` then `deflate` expects to read back: the values as little-endian doubles
//! (optionally rounded first, [`super::quantize`]), byte-shuffled (byte j of value i at
//! position j·n + i), then one zlib stream in which each byte plane is deflated or, when
//! deflate would not shrink it, stored ([`encode_with`]). The dataset is created with those two filters,
//! so every reader decodes the chunks with its own HDF5 as if HDF5 had written them. The
//! deflate encoder is zlib-rs, not the system zlib HDF5 links, so the compressed
//! bytes may differ from HDF5's own while the values read back are the same.

use hdf5::Dataset;
use rayon::prelude::*;

/// Bytes of one stored value (f64).
const VALUE_BYTES: usize = 8;

/// How the deflate encoder looks for repeats (both produce standard zlib streams that
/// HDF5's deflate filter reads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Search {
    /// Matches at any distance (zlib's default strategy): for smooth fields whose byte
    /// planes repeat, such as the drift fields of LQ models (linear in x).
    #[default]
    Matches,
    /// Runs of one byte only (zlib's `Z_RLE`): for fields whose compressible byte planes
    /// are runs, such as the error estimate's errors; as fast as `Matches` there and
    /// smaller. A plane whose probe matches at any distance shrink by a further tenth is
    /// deflated with matches instead (the leading mantissa byte of a smooth error: at
    /// 128³ to 0.29 of its size against 0.50 by runs, and searched 2.7 times as fast).
    Runs,
}

/// The stored bytes of one chunk of `values` through the filters shuffle + deflate at
/// `level` (1–9), after rounding to `significant_bits` (netCDF BitRound) when given.
pub fn encode(values: &[f64], significant_bits: Option<u32>, level: u8) -> Vec<u8> {
    encode_with(values, significant_bits, level, Search::Matches)
}

/// Bytes of a plane probed before it is compressed: an eighth of it, at least
/// [`PROBE_MIN`] and at most [`PROBE_MAX`] bytes, from its middle.
const PROBE_MIN: usize = 4096;
/// See [`PROBE_MIN`].
const PROBE_MAX: usize = 65536;

/// The largest fraction of its size (numerator, denominator) to which deflate must shrink
/// a plane's probe for the plane to be deflated rather than stored. Deflate codes a plane
/// that is half noise (a mantissa byte with a few predictable bits) at ~100 MB/s against
/// several GB/s for a copy; at 128³ a density's leading mantissa plane shrinks to ~0.83
/// and a disturbance drift's second to ~0.73, which took half of those fields' encoding
/// time to save under a tenth of their stored size. Planes of runs (the exponent bytes,
/// the zeros BitRound leaves) and of smooth fields shrink far below it.
const WORTH_DEFLATING: (usize, usize) = (2, 3);

/// Largest length of a stored deflate block.
const STORED_BLOCK: usize = 65535;

/// [`encode`] with the deflate encoder's [`Search`].
///
/// The zlib stream is built plane by plane (the shuffled bytes j of every value form
/// plane j): a plane whose probe (a slice from its middle) deflate shrinks by at least a
/// third is deflated as a whole (raw deflate blocks, sync-flushed to a byte boundary, so
/// that the planes' blocks follow one another in one stream); any other plane — the
/// mantissa bytes that rounding kept, which are noise to deflate, and the half-noisy bytes
/// that deflate would shrink by less than a third — is copied into stored blocks. This
/// costs a copy where deflate would search in vain or buy little, and stores noise in 8
/// bits a byte where deflate's fixed codes take up to 9. The stream ends with an empty final
/// block and the Adler-32 of the shuffled bytes, as zlib's format wants.
pub fn encode_with(
    values: &[f64],
    significant_bits: Option<u32>,
    level: u8,
    search: Search,
) -> Vec<u8> {
    let mut chunk = Shuffled::new(values.len(), significant_bits);
    chunk.put(0, values);
    chunk.encode(level, search)
}

/// The shuffled bytes of one chunk of `n` values, filled piece by piece ([`Shuffled::put`])
/// and then encoded ([`Shuffled::encode`]): a chunk whose values are computed block by
/// block needs no array of its values. The buffer is reused by the next chunk of the same
/// thread (a fresh one of a hundred megabytes costs the kernel a page fault and a zeroed
/// page per 4 KiB).
#[derive(Debug)]
pub struct Shuffled {
    /// The planes above the rounded-off ones: plane j ≥ `zero_planes` at
    /// (j − `zero_planes`)·n.
    bytes: Vec<u8>,
    /// The low planes, allocated (zeroed) only when a value has a byte there that rounding
    /// did not clear (a NaN with a payload): plane j < `zero_planes` at j·n.
    low: Option<Vec<u8>>,
    /// Low byte planes that rounding to `significant_bits` clears in every finite value.
    zero_planes: usize,
    n: usize,
    filled: usize,
    significant_bits: Option<u32>,
}

/// Shuffle buffers a thread keeps for its next chunks: the drift fields' tasks fill two
/// chunks at a time (allocation and disturbance).
const SPARES_PER_THREAD: usize = 2;

thread_local! {
    /// The buffers of the last [`Shuffled`] chunks dropped on this thread, largest first.
    static SPARES: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes from this thread's spares (any content) or a new one.
fn take_spare(len: usize) -> Vec<u8> {
    let spare = SPARES.with(|s| {
        let mut s = s.borrow_mut();
        // The smallest spare that holds `len` bytes (the spares are sorted largest first).
        let at = s.iter().rposition(|b| b.len() >= len);
        at.map(|i| s.remove(i))
    });
    let mut buf = spare.unwrap_or_else(|| vec![0; len]);
    buf.truncate(len);
    buf
}

/// Returns the buffer of a dropped chunk to this thread's spares, keeping the largest
/// [`SPARES_PER_THREAD`].
fn keep_spare(bytes: Vec<u8>) {
    SPARES.with(|s| {
        let mut s = s.borrow_mut();
        s.push(bytes);
        s.sort_by_key(|b| std::cmp::Reverse(b.len()));
        s.truncate(SPARES_PER_THREAD);
    });
}

/// Most bytes of encoded chunks kept for reuse ([`recycle`]) between a batch of snapshots
/// and the next.
const POOL_BYTES: usize = 256 << 20;

/// Buffers of written chunks, reused for the streams of the next ones: a fresh buffer of
/// megabytes costs the kernel a page fault and a zeroed page per 4 KiB as it is filled.
static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Hands the buffers of chunks that have been written back for the next chunks (up to
/// 256 MiB).
pub fn recycle(chunks: impl IntoIterator<Item = Vec<u8>>) {
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut held: usize = pool.iter().map(Vec::capacity).sum();
    for mut c in chunks {
        if held + c.capacity() <= POOL_BYTES {
            held += c.capacity();
            c.clear();
            pool.push(c);
        }
    }
}

/// Frees the buffers [`recycle`] kept (once a file's snapshots are written).
pub fn release_pool() {
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *pool = Vec::new();
}

/// An empty buffer for a stream of `len` bytes: the smallest recycled one that holds it,
/// or a new one an eighth larger (the next snapshot's stream may be a little longer).
fn stream_buffer(len: usize) -> Vec<u8> {
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let best = pool
        .iter()
        .enumerate()
        .filter(|(_, b)| b.capacity() >= len)
        .min_by_key(|(_, b)| b.capacity())
        .map(|(i, _)| i);
    match best {
        Some(i) => pool.swap_remove(i),
        None => Vec::with_capacity(len + len / 8),
    }
}

/// Low byte planes that BitRound to `significant_bits` clears in every finite value: the
/// 53 − nsb trailing bits, whole bytes of them.
fn zero_planes(significant_bits: Option<u32>) -> usize {
    significant_bits.map_or(0, |nsb| {
        (DOUBLE_DIGITS - nsb.clamp(1, super::quantize::MAX_SIGNIFICANT_BITS)) as usize / 8
    })
}

/// Bits of a double's significand, the implicit bit included.
const DOUBLE_DIGITS: u32 = 53;

impl Shuffled {
    /// An empty chunk of `n` values, rounded to `significant_bits` when given. Only the
    /// byte planes that rounding leaves non-zero are held (see [`Shuffled::put`]).
    pub fn new(n: usize, significant_bits: Option<u32>) -> Self {
        let zero_planes = zero_planes(significant_bits);
        Self {
            bytes: take_spare(n * (VALUE_BYTES - zero_planes)),
            low: None,
            zero_planes,
            n,
            filled: 0,
            significant_bits,
        }
    }

    /// Stores `values` as the values `at, at + 1, …` of the chunk (rounded, shuffled:
    /// byte j of value i at position j·n + i). Eight values at a time are transposed as an
    /// 8 × 8 byte matrix held in eight words.
    pub fn put(&mut self, at: usize, values: &[f64]) {
        let n = self.n;
        assert!(at + values.len() <= n, "values beyond the chunk");
        self.filled += values.len();
        let bits = |v: f64| match self.significant_bits {
            Some(nsb) => super::quantize::bitround(v, nsb).to_bits(),
            None => v.to_bits(),
        };
        let whole = values.len() - values.len() % VALUE_BYTES;
        let z = self.zero_planes;
        // The bits of the low planes: zero after rounding, unless a value is a NaN with a
        // payload there (kept by BitRound); such a value's low bytes go to `low`.
        let low_mask = if z == 0 { 0 } else { u64::MAX >> (64 - 8 * z) };
        let mut planes: Vec<&mut [u8]> = self
            .bytes
            .chunks_exact_mut(n)
            .map(|p| &mut p[at..at + values.len()])
            .collect();
        let mut low_values = Vec::new();
        for (b, block) in values[..whole].chunks_exact(VALUE_BYTES).enumerate() {
            let mut w = [0u64; VALUE_BYTES];
            let mut low = 0;
            for (wk, &v) in w.iter_mut().zip(block) {
                *wk = bits(v);
                low |= *wk & low_mask;
            }
            if low != 0 {
                low_values.extend((0..VALUE_BYTES).map(|k| (b * VALUE_BYTES + k, w[k])));
            }
            for (j, plane) in planes.iter_mut().enumerate() {
                let j = j + z;
                let mut out = 0u64;
                for (k, &wk) in w.iter().enumerate() {
                    out |= ((wk >> (8 * j)) & 0xff) << (8 * k);
                }
                let at = b * VALUE_BYTES;
                plane[at..at + VALUE_BYTES].copy_from_slice(&out.to_le_bytes());
            }
        }
        for (i, &v) in values.iter().enumerate().skip(whole) {
            let w = bits(v);
            if w & low_mask != 0 {
                low_values.push((i, w));
            }
            for (plane, byte) in planes.iter_mut().zip(&w.to_le_bytes()[z..]) {
                plane[i] = *byte;
            }
        }
        if !low_values.is_empty() {
            let low = self.low.get_or_insert_with(|| vec![0; z * n]);
            for (i, w) in low_values {
                for (j, byte) in w.to_le_bytes()[..z].iter().enumerate() {
                    low[j * n + at + i] = *byte;
                }
            }
        }
    }

    /// The stored bytes of the chunk (see [`encode_with`]); every value must have been
    /// stored once.
    pub fn encode(self, level: u8, search: Search) -> Vec<u8> {
        assert_eq!(self.filled, self.n, "every value of the chunk stored once");
        let n = self.n;
        let low: Vec<Option<&[u8]>> = match &self.low {
            Some(low) => low.chunks_exact(n.max(1)).map(Some).collect(),
            None => vec![None; self.zero_planes],
        };
        let planes: Vec<Option<&[u8]>> = low
            .into_iter()
            .chain(self.bytes.chunks_exact(n.max(1)).map(Some))
            .take(if n == 0 { 0 } else { VALUE_BYTES })
            .collect();
        encode_planes(&planes, n, level, search)
    }
}

impl Drop for Shuffled {
    fn drop(&mut self) {
        keep_spare(std::mem::take(&mut self.bytes));
    }
}

/// The zlib stream of the shuffled bytes of `n` values (module docs), given as its byte
/// planes in order, `None` for a plane of `n` zeros (the low planes rounding cleared,
/// never formed: their deflate blocks come from [`zero_plane`] and their bytes enter the
/// checksum in closed form). The planes are deflated into this thread's scratch buffer
/// and the stream is assembled in one buffer ([`stream_buffer`]); the stream is the same
/// as that of the planes written out.
fn encode_planes(planes: &[Option<&[u8]>], n: usize, level: u8, search: Search) -> Vec<u8> {
    let strategy = match search {
        Search::Matches => zlib_rs::Strategy::Default,
        Search::Runs => zlib_rs::Strategy::Rle,
    };
    let level = i32::from(level.clamp(1, 9));
    // Per plane: its deflate blocks, or `None` when it is stored.
    let deflated: Vec<Option<std::rc::Rc<Vec<u8>>>> = planes
        .iter()
        .map(|plane| match plane {
            Some(plane) => plane_strategy(plane, level, strategy)
                .map(|s| std::rc::Rc::new(deflate_raw(plane, level, s, <[u8]>::to_vec).1)),
            None => zero_plane(n, level, strategy),
        })
        .collect();
    let stored_len = |len: usize| len + 5 * len.div_ceil(STORED_BLOCK);
    let len: usize = deflated
        .iter()
        .map(|p| p.as_ref().map_or(stored_len(n), |b| b.len()))
        .sum();
    // zlib header: deflate with a 32 KiB window, no dictionary, check bits (0x7801 % 31 = 0).
    let mut out = stream_buffer(2 + len + 5 + 4);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut adler = 1;
    for (plane, blocks) in planes.iter().zip(&deflated) {
        match (plane, blocks) {
            (_, Some(blocks)) => out.extend_from_slice(blocks),
            (Some(plane), None) => stored(plane, &mut out),
            (None, None) => stored(&vec![0; n], &mut out),
        }
        adler = match plane {
            Some(plane) => zlib_rs::adler32::adler32(adler, plane),
            None => adler32_zeros(adler, n),
        };
    }
    // The empty final block (stored), then the checksum of the uncompressed bytes.
    out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// Adler-32's modulus.
const ADLER_BASE: u64 = 65521;

/// The Adler-32 `adler` continued over `n` zero bytes: the sum A of the bytes does not
/// change, the sum B of the A's grows by n·A.
fn adler32_zeros(adler: u32, n: usize) -> u32 {
    let a = u64::from(adler & 0xffff);
    let b = (u64::from(adler >> 16) + (n as u64 % ADLER_BASE) * a) % ADLER_BASE;
    ((b as u32) << 16) | a as u32
}

thread_local! {
    /// The deflate blocks of the last plane of zeros this thread encoded, with its length,
    /// level and search.
    static ZERO_PLANE: std::cell::RefCell<Option<ZeroPlane>> = const { std::cell::RefCell::new(None) };
}

/// A plane of zeros' length, level, search and deflate blocks (`None`: stored).
type ZeroPlane = (usize, i32, zlib_rs::Strategy, Option<std::rc::Rc<Vec<u8>>>);

/// The deflate blocks of a plane of `n` zeros, exactly as [`encode_planes`] encodes a
/// plane it is given (same probe, same search; `None` when it would be stored, which only
/// a plane of a few bytes is); computed once per thread, length, level and search.
fn zero_plane(n: usize, level: i32, search: zlib_rs::Strategy) -> Option<std::rc::Rc<Vec<u8>>> {
    ZERO_PLANE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((len, l, s, blocks)) = cache.as_ref() {
            if (*len, *l, *s) == (n, level, search) {
                return blocks.clone();
            }
        }
        let zeros = vec![0u8; n];
        let blocks = plane_strategy(&zeros, level, search)
            .map(|s| std::rc::Rc::new(deflate_raw(&zeros, level, s, <[u8]>::to_vec).1));
        *cache = Some((n, level, search, blocks.clone()));
        blocks
    })
}

/// How the plane `plane` is stored: `None` (stored blocks) unless deflate with `search`
/// shrinks a probe of it (a slice from its middle) to at most [`WORTH_DEFLATING`] of its
/// size; with runs ([`Search::Runs`]), matches at any distance when they make the probe a
/// further tenth smaller.
fn plane_strategy(
    plane: &[u8],
    level: i32,
    search: zlib_rs::Strategy,
) -> Option<zlib_rs::Strategy> {
    let probe_len = (plane.len() / 8)
        .clamp(PROBE_MIN, PROBE_MAX)
        .min(plane.len());
    let from = (plane.len() - probe_len) / 2;
    let probe = &plane[from..from + probe_len];
    let (mut shrunk, ()) = deflate_raw(probe, level, search, |_| ());
    let mut strategy = search;
    if search == zlib_rs::Strategy::Rle {
        let (matched, ()) = deflate_raw(probe, level, zlib_rs::Strategy::Default, |_| ());
        if 10 * matched <= 9 * shrunk {
            (shrunk, strategy) = (matched, zlib_rs::Strategy::Default);
        }
    }
    let (num, den) = WORTH_DEFLATING;
    (den * shrunk <= num * probe.len()).then_some(strategy)
}

thread_local! {
    /// Room for the deflate blocks of one plane, reused by every plane of this thread.
    static DEFLATED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Deflates `data` into raw deflate blocks ending on a byte boundary (sync flush, no final
/// block) in this thread's scratch buffer; returns `keep` of those bytes and their number.
fn deflate_raw<T>(
    data: &[u8],
    level: i32,
    strategy: zlib_rs::Strategy,
    keep: impl FnOnce(&[u8]) -> T,
) -> (usize, T) {
    let config = zlib_rs::DeflateConfig {
        level,
        method: zlib_rs::Method::Deflated,
        window_bits: -15,
        mem_level: 8,
        strategy,
    };
    let mut z = zlib_rs::Deflate::new_with_config(config);
    DEFLATED.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        let bound = zlib_rs::compress_bound(data.len()) + 64;
        if buf.len() < bound {
            buf.resize(bound, 0);
        }
        // The bound holds any stream of `data`, so one call consumes the whole input.
        let _ = z.compress(data, &mut buf[..bound], zlib_rs::DeflateFlush::SyncFlush);
        let len = usize::try_from(z.total_out()).unwrap_or(0);
        (len, keep(&buf[..len]))
    })
}

/// Appends `data` as stored (uncompressed) non-final deflate blocks.
fn stored(data: &[u8], out: &mut Vec<u8>) {
    for block in data.chunks(STORED_BLOCK) {
        // BFINAL = 0, BTYPE = 00, padded to the byte boundary; LEN and its complement.
        let len = block.len() as u16;
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

/// Encodes `frames` (each a whole chunk, in standard layout) in parallel on the current
/// rayon pool; the result is in the order of `frames` and does not depend on the number
/// of threads.
pub fn encode_all(frames: &[&[f64]], significant_bits: Option<u32>, level: u8) -> Vec<Vec<u8>> {
    frames
        .par_iter()
        .map(|f| encode(f, significant_bits, level))
        .collect()
}

/// Writes the encoded chunk `bytes` at chunk offset `offset` (element coordinates of the
/// chunk's first value) of `ds`, with every filter of the pipeline applied (mask 0).
pub fn write(ds: &Dataset, offset: &[u64], bytes: &[u8]) -> hdf5::Result<()> {
    if offset.len() != ds.ndim() {
        return Err(hdf5::Error::from(
            format!(
                "chunk offset of rank {} for a dataset of rank {}",
                offset.len(),
                ds.ndim()
            )
            .as_str(),
        ));
    }
    let st = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5d::H5Dwrite_chunk(
            ds.id(),
            hdf5_sys::h5p::H5P_DEFAULT,
            0,
            offset.as_ptr(),
            bytes.len(),
            bytes.as_ptr().cast(),
        )
    });
    if st < 0 {
        return Err(hdf5::Error::from(
            format!("cannot write the chunk at {offset:?} of {}", ds.name()).as_str(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read as _;

    #[test]
    fn a_chunk_filled_piece_by_piece_is_the_chunk_of_its_values() {
        let mut values: Vec<f64> = (0..4099)
            .map(|i| match i % 4 {
                0 => 0.0,
                1 => (i as f64 * 0.01).exp(),
                2 => -(i as f64).ln_1p(),
                _ => f64::from(i % 7),
            })
            .collect();
        // NaNs whose payload rounding keeps, in two of the pieces below.
        values[5] = f64::from_bits(0x7ff8_0000_0000_0001);
        values[2050] = f64::from_bits(0x7ff8_0000_0010_0000);
        for bits in [None, Some(9), Some(20)] {
            for search in [Search::Matches, Search::Runs] {
                let whole = encode_with(&values, bits, 1, search);
                let mut c = Shuffled::new(values.len(), bits);
                // Uneven pieces in reverse order, one of them empty.
                let cuts = [0, 1, 9, 9, 1000, 3001, values.len()];
                for w in cuts.windows(2).rev() {
                    c.put(w[0], &values[w[0]..w[1]]);
                }
                assert_eq!(c.encode(1, search), whole, "bits {bits:?}, {search:?}");
            }
        }
        // An empty chunk is a valid stream of no bytes.
        let mut plain = Vec::new();
        ZlibDecoder::new(Shuffled::new(0, None).encode(1, Search::Matches).as_slice())
            .read_to_end(&mut plain)
            .unwrap();
        assert!(plain.is_empty());
    }

    /// The shuffled bytes of `values` rounded to `bits`, every plane written out.
    fn shuffled_reference(values: &[f64], bits: Option<u32>) -> Vec<u8> {
        let n = values.len();
        let mut out = vec![0; VALUE_BYTES * n];
        for (i, &v) in values.iter().enumerate() {
            let w = bits.map_or(v, |b| super::super::quantize::bitround(v, b));
            for (j, byte) in w.to_bits().to_le_bytes().iter().enumerate() {
                out[j * n + i] = *byte;
            }
        }
        out
    }

    #[test]
    fn planes_rounding_clears_are_encoded_as_if_written_out() {
        // Values whose low bytes stay after rounding: NaNs with a payload.
        let payload = f64::from_bits(0x7ff8_0000_0000_0001);
        let negative_payload = f64::from_bits(0xfff0_0000_0100_0000);
        for n in [1usize, 3, 9, 4099] {
            let plain: Vec<f64> = (0..n)
                .map(|i| match i % 7 {
                    0 => 0.0,
                    1 => -(i as f64).sqrt(),
                    2 => f64::INFINITY,
                    3 => 5e-320,
                    4 => (i as f64 * 0.37).sin(),
                    5 => f64::NAN,
                    _ => 1.0 / (1.0 + i as f64),
                })
                .collect();
            let mut with_payload = plain.clone();
            with_payload[n / 2] = payload;
            with_payload[n - 1] = negative_payload;
            for values in [&plain, &with_payload] {
                for bits in [None, Some(12), Some(20), Some(32), Some(52)] {
                    for search in [Search::Matches, Search::Runs] {
                        let full = shuffled_reference(values, bits);
                        let planes: Vec<Option<&[u8]>> = full.chunks(n).map(Some).collect();
                        let expected = encode_planes(&planes, n, 1, search);
                        let got = encode_with(values, bits, 1, search);
                        assert_eq!(got, expected, "n {n}, bits {bits:?}, {search:?}");
                        let mut plain_bytes = Vec::new();
                        ZlibDecoder::new(got.as_slice())
                            .read_to_end(&mut plain_bytes)
                            .unwrap();
                        assert_eq!(plain_bytes, full, "n {n}, bits {bits:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_are_shuffled_zlib_streams_independent_of_the_thread_count() {
        let frames: Vec<Vec<f64>> = (0..7)
            .map(|n| (0..1003).map(|i| ((n * 1003 + i) as f64).sqrt()).collect())
            .collect();
        let views: Vec<&[f64]> = frames.iter().map(Vec::as_slice).collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| encode_all(&views, Some(20), 1))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        // Runs only: another stream, the same bytes once inflated.
        let runs = encode_with(&frames[3], Some(20), 1, Search::Runs);
        let inflate = |z: &[u8]| {
            let mut plain = Vec::new();
            ZlibDecoder::new(z).read_to_end(&mut plain).unwrap();
            plain
        };
        assert_eq!(inflate(&runs), inflate(&one[3]));
        for (bytes, frame) in one.iter().zip(&frames) {
            let mut plain = Vec::new();
            ZlibDecoder::new(bytes.as_slice())
                .read_to_end(&mut plain)
                .unwrap();
            let n = frame.len();
            assert_eq!(plain.len(), 8 * n);
            for (i, &v) in frame.iter().enumerate() {
                let b: Vec<u8> = (0..8).map(|j| plain[j * n + i]).collect();
                let back = f64::from_le_bytes(b.try_into().unwrap());
                assert_eq!(back, super::super::quantize::bitround(v, 20));
            }
        }
    }
}
