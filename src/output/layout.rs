//! Blocks that several files share: the time axes, the grid coordinates and the
//! dimension naming of time series and snapshot datasets.

use super::schema::{
    self, DIMENSIONLESS, DIM_AXIS, DIM_COL, DIM_ROW, SNAPSHOT_LEVEL, SNAPSHOT_TIME, TIME,
    TIME_LONG_NAME,
};
use crate::h5::AtomicH5;
use crate::AppResult;
use hdf5::Dataset;
use ndarray::Array1;
use tufield_solvers::grid::Grid;

/// The root coordinate variables `/time` and `/snapshot_time`.
#[derive(Debug, Clone)]
pub struct TimeAxes {
    /// `/time` (steps+1).
    pub time: Dataset,
    /// `/snapshot_time` (snapshots).
    pub snapshot: Dataset,
}

/// Writes `/time`, `/snapshot_time` and `/snapshot_level` (the level of each snapshot).
pub fn time_axes(w: &AtomicH5, time: &Array1<f64>, levels: &[usize]) -> AppResult<TimeAxes> {
    let root = w.root()?.clone();
    let t = w.coordinate(&root, TIME, time, TIME_LONG_NAME, Some(DIMENSIONLESS))?;
    let snap_time: Array1<f64> = levels.iter().map(|&l| time[l]).collect();
    let snapshot = w.coordinate(
        &root,
        SNAPSHOT_TIME,
        &snap_time,
        "model time of the stored snapshots",
        Some(DIMENSIONLESS),
    )?;
    let lv: Array1<u64> = levels.iter().map(|&l| l as u64).collect();
    let lvds = w.array(&root, SNAPSHOT_LEVEL, &lv)?;
    w.str_attr(
        &lvds,
        schema::ATTR_LONG_NAME,
        "time level n of each snapshot",
    )?;
    w.attach_scale(&lvds, &snapshot, 0)?;
    Ok(TimeAxes { time: t, snapshot })
}

/// Writes the grid: the root coordinate variables `/x<i>` (the nodes of axis i, with
/// `long_name` and `label` = the axis label) and `/grid/x<i>` (the same nodes with the
/// attributes label, lo, hi, spacing). Returns the root coordinates.
pub fn grid(w: &AtomicH5, grid: &Grid, labels: &[String]) -> AppResult<Vec<Dataset>> {
    let root = w.root()?.clone();
    let g = w.group(schema::GRID)?;
    let mut coords = Vec::new();
    for (i, ax) in grid.axes().iter().enumerate() {
        let name = schema::axis_name(i);
        let nodes = ax.nodes();
        let label = labels.get(i).map_or("", String::as_str);
        let c = w.coordinate(
            &root,
            &name,
            &nodes,
            &format!("reduced coordinate {i} (excess of coalition {label})"),
            Some(DIMENSIONLESS),
        )?;
        w.str_attr(&c, schema::ATTR_LABEL, label)?;
        let ds = w.array(&g, &name, &nodes)?;
        w.str_attr(&ds, schema::ATTR_LABEL, label)?;
        w.scalar_attr(&ds, schema::ATTR_LO, ax.lo())?;
        w.scalar_attr(&ds, schema::ATTR_HI, ax.hi())?;
        w.scalar_attr(&ds, schema::ATTR_SPACING, ax.spacing())?;
        w.attach_scale(&ds, &c, 0)?;
        coords.push(c);
    }
    Ok(coords)
}

/// Attaches `/time` to dimension 0 of a time series and names the others by rank:
/// `axis` for (time, d), `row`, `col` for (time, d, d).
pub fn over_time(w: &AtomicH5, ds: &Dataset, time: &Dataset) -> AppResult<()> {
    w.attach_scale(ds, time, 0)?;
    w.label_dim(ds, 0, TIME)?;
    match ds.ndim() {
        2 => w.dims(ds, &[TIME, DIM_AXIS]),
        3 => w.dims(ds, &[TIME, DIM_ROW, DIM_COL]),
        _ => Ok(()),
    }
}

/// Attaches `snapshot` to dimension 0 of a snapshot dataset and `coords[i]` to dimension
/// i + 1, labelling the grid dimensions with `labels`.
pub fn over_snapshots(
    w: &AtomicH5,
    ds: &Dataset,
    snapshot: &Dataset,
    coords: &[Dataset],
    labels: &[String],
) -> AppResult<()> {
    w.attach_scale(ds, snapshot, 0)?;
    w.label_dim(ds, 0, SNAPSHOT_TIME)?;
    for (i, c) in coords.iter().enumerate() {
        w.attach_scale(ds, c, i + 1)?;
        if let Some(l) = labels.get(i) {
            w.label_dim(ds, i + 1, l)?;
        }
    }
    Ok(())
}
