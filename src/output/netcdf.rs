//! netCDF-4 compatibility of the HDF5 files tufield writes.
//!
//! netCDF-4 (netCDF-C, netCDF4-python, xarray's `h5netcdf` and `netcdf4` engines) reads an
//! HDF5 file when every dimension of every dataset has exactly one dimension scale attached
//! and that scale lives in the dataset's group or one of its ancestors. A scale with values
//! (`/time`, `/x0`, …) is a *coordinate variable*: its dataset name is the dimension name.
//! A dimension without values (`axis`, `row`, `col`, `population`, …) is a
//! *dimension without variable*: an empty dataset marked as a scale whose `NAME` attribute
//! is [`NOT_A_VARIABLE`] followed by the length, exactly as netCDF-C writes it.
//!
//! [`complete`] runs when a file is committed and attaches such a dimension to every
//! dimension still without a scale (named after the dataset and the dimension index), so
//! every file is readable by netCDF-4 even where a writer named nothing.

use super::schema;
use hdf5::{Dataset, Group};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_uint};

/// The `NAME` prefix netCDF-C gives a dimension that is not a variable.
pub const NOT_A_VARIABLE: &str = "This is a netCDF dimension but not a netCDF variable.";

#[link(name = "hdf5_hl")]
extern "C" {
    fn H5DSset_scale(dsid: hdf5_sys::h5i::hid_t, dimname: *const c_char) -> hdf5_sys::h5::herr_t;
    fn H5DSattach_scale(
        did: hdf5_sys::h5i::hid_t,
        dsid: hdf5_sys::h5i::hid_t,
        idx: c_uint,
    ) -> hdf5_sys::h5::herr_t;
    fn H5DSis_attached(
        did: hdf5_sys::h5i::hid_t,
        dsid: hdf5_sys::h5i::hid_t,
        idx: c_uint,
    ) -> hdf5_sys::h5::htri_t;
    fn H5DSis_scale(did: hdf5_sys::h5i::hid_t) -> hdf5_sys::h5::htri_t;
    fn H5DSget_num_scales(did: hdf5_sys::h5i::hid_t, idx: c_uint) -> c_int;
    fn H5DSset_label(
        did: hdf5_sys::h5i::hid_t,
        idx: c_uint,
        label: *const c_char,
    ) -> hdf5_sys::h5::herr_t;
}

fn fail(msg: String) -> hdf5::Error {
    hdf5::Error::from(msg.as_str())
}

fn cstr(s: &str) -> hdf5::Result<CString> {
    CString::new(s).map_err(|_| fail(format!("{s:?} contains a NUL byte")))
}

fn dim_index(dim: usize) -> c_uint {
    c_uint::try_from(dim).unwrap_or(c_uint::MAX)
}

/// Whether `ds` is a dimension scale.
pub fn is_scale(ds: &Dataset) -> bool {
    hdf5::sync::sync(|| unsafe { H5DSis_scale(ds.id()) }) > 0
}

/// Number of scales attached to dimension `dim` of `ds`.
pub fn scales_on(ds: &Dataset, dim: usize) -> usize {
    let n = hdf5::sync::sync(|| unsafe { H5DSget_num_scales(ds.id(), dim_index(dim)) });
    usize::try_from(n).unwrap_or(0)
}

/// Marks `scale` as a dimension scale (a coordinate variable named after its dataset).
pub fn set_scale(scale: &Dataset) -> hdf5::Result<()> {
    let name = scale.name();
    let base = name.rsplit('/').next().unwrap_or(&name).to_string();
    set_scale_name(scale, &base)
}

fn set_scale_name(scale: &Dataset, name: &str) -> hdf5::Result<()> {
    let c = cstr(name)?;
    let st = hdf5::sync::sync(|| unsafe { H5DSset_scale(scale.id(), c.as_ptr()) });
    if st < 0 {
        return Err(fail(format!(
            "cannot make {} a dimension scale",
            scale.name()
        )));
    }
    Ok(())
}

/// Attaches the scale `scale` to dimension `dim` of `data` (marking it a scale first;
/// attaching twice is skipped).
pub fn attach(data: &Dataset, scale: &Dataset, dim: usize) -> hdf5::Result<()> {
    if !is_scale(scale) {
        set_scale(scale)?;
    }
    let idx = dim_index(dim);
    let st = hdf5::sync::sync(|| unsafe {
        // H5DSis_attached follows every reference the scale holds (a cost that grows with
        // the datasets sharing `/time`): ask it only when the dimension has a scale already.
        if H5DSget_num_scales(data.id(), idx) > 0 && H5DSis_attached(data.id(), scale.id(), idx) > 0
        {
            0
        } else {
            H5DSattach_scale(data.id(), scale.id(), idx)
        }
    });
    if st < 0 {
        return Err(fail(format!(
            "cannot attach {} to dimension {dim} of {}",
            scale.name(),
            data.name()
        )));
    }
    Ok(())
}

/// Labels dimension `dim` of `data` (shown by HDF5 viewers; netCDF ignores labels).
pub fn label(data: &Dataset, dim: usize, text: &str) -> hdf5::Result<()> {
    let c = cstr(text)?;
    let st = hdf5::sync::sync(|| unsafe { H5DSset_label(data.id(), dim_index(dim), c.as_ptr()) });
    if st < 0 {
        return Err(fail(format!("cannot label dimension {dim} as {text}")));
    }
    Ok(())
}

/// The group that holds `ds` (its parent path opened from the file).
fn parent_of(ds: &Dataset) -> hdf5::Result<Group> {
    let name = ds.name();
    let parent = match name.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => name[..i].to_string(),
    };
    ds.file()?.group(&parent)
}

/// The dimension without variable `name` of length `len` in `group`: reused when it
/// exists with that length, created otherwise; when `name` is taken by something else
/// the dimension is called `<name>_<len>` (then `<name>_<len>_<n>`).
pub fn dimension(group: &Group, name: &str, len: usize) -> hdf5::Result<Dataset> {
    let mut candidates = vec![name.to_string(), format!("{name}_{len}")];
    candidates.extend((2..100).map(|n| format!("{name}_{len}_{n}")));
    for cand in candidates {
        if group.link_exists(&cand) {
            if let Ok(ds) = group.dataset(&cand) {
                if is_dimension_only(&ds) && ds.shape() == [len] {
                    return Ok(ds);
                }
            }
            continue;
        }
        let ds = group
            .new_dataset::<f32>()
            .shape(len)
            .create(cand.as_str())?;
        set_scale_name(&ds, &format!("{NOT_A_VARIABLE}{len:10}"))?;
        return Ok(ds);
    }
    Err(fail(format!("no free name for dimension {name}")))
}

/// Whether `ds` is a netCDF dimension without variable.
pub fn is_dimension_only(ds: &Dataset) -> bool {
    is_scale(ds) && name_attr(ds).is_some_and(|n| n.starts_with(NOT_A_VARIABLE))
}

/// The `NAME` attribute of a scale (a fixed-length C string written by H5DSset_scale).
fn name_attr(ds: &Dataset) -> Option<String> {
    let a = ds.attr(schema::ATTR_DIMENSION_SCALE_NAME).ok()?;
    let dt = a.dtype().ok()?;
    let mut buf = vec![0u8; dt.size().max(1)];
    let st = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5a::H5Aread(a.id(), dt.id(), buf.as_mut_ptr().cast())
    });
    if st < 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Attaches a dimension without variable named `names[i]` to every dimension `i` of
/// `ds` that has no scale yet (created in the dataset's group).
pub fn name_dims(ds: &Dataset, names: &[&str]) -> hdf5::Result<()> {
    name_dims_in(&parent_of(ds)?, ds, names)
}

/// [`name_dims`] for a dataset of `group`.
fn name_dims_in(group: &Group, ds: &Dataset, names: &[&str]) -> hdf5::Result<()> {
    let shape = ds.shape();
    if names.len() != shape.len() {
        return Err(fail(format!(
            "{}: {} dimension names for {} dimensions",
            ds.name(),
            names.len(),
            shape.len()
        )));
    }
    for (i, (&len, name)) in shape.iter().zip(names).enumerate() {
        if scales_on(ds, i) == 0 {
            let dim = dimension(group, name, len)?;
            attach(ds, &dim, i)?;
        }
    }
    Ok(())
}

/// Gives every dimension of every dataset under `group` that has no scale a dimension
/// without variable `<dataset>_<i>` (recursively).
pub fn complete(group: &Group) -> hdf5::Result<()> {
    for ds in group.datasets()? {
        if is_scale(&ds) || ds.ndim() == 0 {
            continue;
        }
        let name = ds.name();
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        if (0..ds.ndim()).all(|i| scales_on(&ds, i) > 0) {
            continue;
        }
        let names: Vec<String> = (0..ds.ndim()).map(|i| format!("{base}_{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        name_dims_in(group, &ds, &refs)?;
    }
    for g in group.groups()? {
        complete(&g)?;
    }
    Ok(())
}
