//! Snapshot chunks encoded by tufield and written with HDF5's direct chunk write
//! (`H5Dwrite_chunk`), so that the chunks of a dataset are compressed in parallel.
//!
//! A chunk holds one snapshot. [`encode`] produces exactly what HDF5's filter pipeline
//! `shuffle` then `deflate` expects to read back: the values as little-endian doubles
//! (optionally rounded first, [`super::quantize`]), byte-shuffled (byte j of value i at
//! position j·n + i), then one zlib stream. The dataset is created with those two filters,
//! so every reader decodes the chunks with its own HDF5 as if HDF5 had written them. The
//! deflate encoder is zlib-rs (flate2), not the system zlib HDF5 links, so the compressed
//! bytes may differ from HDF5's own while the values read back are the same.

use flate2::write::ZlibEncoder;
use hdf5::Dataset;
use rayon::prelude::*;
use std::io::Write as _;

/// Bytes of one stored value (f64).
const VALUE_BYTES: usize = 8;

/// The stored bytes of one chunk of `values` through the filters shuffle + deflate at
/// `level` (1–9), after rounding to `significant_bits` (netCDF BitRound) when given.
pub fn encode(values: &[f64], significant_bits: Option<u32>, level: u8) -> Vec<u8> {
    let shuffled = shuffle(values, significant_bits);
    let n = values.len();
    let mut z = ZlibEncoder::new(
        Vec::with_capacity(n * VALUE_BYTES / 2),
        flate2::Compression::new(u32::from(level.clamp(1, 9))),
    );
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&shuffled);
    z.finish().unwrap_or_default()
}

/// The bytes of `values` (rounded to `significant_bits` when given) as HDF5's shuffle
/// filter stores them: byte j of value i at position j·n + i. Eight values at a time are
/// transposed as an 8 × 8 byte matrix held in eight words.
fn shuffle(values: &[f64], significant_bits: Option<u32>) -> Vec<u8> {
    let n = values.len();
    let mut shuffled = vec![0u8; n * VALUE_BYTES];
    if n == 0 {
        return shuffled;
    }
    let bits = |v: f64| match significant_bits {
        Some(nsb) => super::quantize::bitround(v, nsb).to_bits(),
        None => v.to_bits(),
    };
    let mut planes: Vec<&mut [u8]> = shuffled.chunks_exact_mut(n).collect();
    let whole = n - n % VALUE_BYTES;
    for (b, block) in values[..whole].chunks_exact(VALUE_BYTES).enumerate() {
        let mut w = [0u64; VALUE_BYTES];
        for (wk, &v) in w.iter_mut().zip(block) {
            *wk = bits(v);
        }
        for (j, plane) in planes.iter_mut().enumerate() {
            let mut out = 0u64;
            for (k, &wk) in w.iter().enumerate() {
                out |= ((wk >> (8 * j)) & 0xff) << (8 * k);
            }
            let at = b * VALUE_BYTES;
            plane[at..at + VALUE_BYTES].copy_from_slice(&out.to_le_bytes());
        }
    }
    for (i, &v) in values.iter().enumerate().skip(whole) {
        for (plane, byte) in planes.iter_mut().zip(bits(v).to_le_bytes()) {
            plane[i] = byte;
        }
    }
    shuffled
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
