//! XDMF sidecars: `<stem>.xmf` next to a solve output describes its snapshot datasets as
//! temporal collections of uniform grids (CoRectMesh with origin and spacing), so ParaView
//! and VisIt open the HDF5 file through it. The sidecar names the HDF5 file by its
//! relative name (the two files move together) and is written atomically.

use crate::{AppError, AppResult};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A uniform grid: nodes `origin[i] + j·spacing[i]`, `j < shape[i]` (1 to 3 axes, in the
/// order of the HDF5 dataset dimensions).
#[derive(Debug, Clone, PartialEq)]
pub struct UniformGrid {
    /// First node of each axis.
    pub origin: Vec<f64>,
    /// Node spacing of each axis.
    pub spacing: Vec<f64>,
    /// Number of nodes of each axis.
    pub shape: Vec<usize>,
}

/// One scalar field of a collection: a snapshot dataset of shape (snapshots, grid…), or
/// one component of a dataset of shape (snapshots, components, grid…).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Name shown in the viewer (`density`, `allocation_drift_x0`).
    pub name: String,
    /// Dataset path in the HDF5 file (`/populations/0/density`).
    pub path: String,
    /// (component, number of components) of a vector field: the index along dimension 1
    /// and that dimension's length; `None` for a scalar field.
    pub component: Option<(usize, usize)>,
}

impl Field {
    /// A scalar field.
    pub fn scalar(name: &str, path: String) -> Self {
        Field {
            name: name.to_string(),
            path,
            component: None,
        }
    }

    /// Components `0..count` of a vector field, named `<name>_x<i>` after the grid axes.
    pub fn components(name: &str, path: &str, count: usize) -> Vec<Self> {
        (0..count)
            .map(|i| Field {
                name: format!("{name}_{}", crate::output::schema::axis_name(i)),
                path: path.to_string(),
                component: Some((i, count)),
            })
            .collect()
    }
}

/// One temporal collection: the fields (snapshot datasets of shape (snapshots, grid…))
/// of one population on one grid.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Name shown in the viewer (`population 0 (low)`).
    pub name: String,
    /// The grid of every snapshot.
    pub grid: UniformGrid,
    /// The fields shown on the grid.
    pub fields: Vec<Field>,
}

/// Path of the sidecar of `h5`: the same stem with the extension `.xmf`.
pub fn sidecar_path(h5: &Path) -> PathBuf {
    h5.with_extension("xmf")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn join<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn fmt_f(x: f64) -> String {
    // Round-trip precision: `{:?}` prints the shortest representation that reads back.
    format!("{x:?}")
}

/// The XDMF document for `h5_name` (relative file name) with snapshot times `times`.
pub fn document(h5_name: &str, times: &[f64], collections: &[Collection]) -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n");
    x.push_str("<Xdmf Version=\"2.0\">\n <Domain>\n");
    for c in collections {
        // Always a 3-D CoRectMesh, padded in front with one-point axes at 0: ParaView maps
        // the dataset's last axis to x, the one before to y (XDMF lists axes slowest first),
        // and XDMF has no 1-D CoRectMesh.
        let pad = 3 - c.grid.shape.len().min(3);
        let mut dims = vec![1; pad];
        dims.extend(&c.grid.shape);
        let mut origin = vec![0.0; pad];
        origin.extend(&c.grid.origin);
        let mut spacing = vec![1.0; pad];
        spacing.extend(&c.grid.spacing);
        let (topo, geo) = ("3DCoRectMesh", "ORIGIN_DXDYDZ");
        let nd = dims.len();
        let of: Vec<String> = origin.iter().map(|&v| fmt_f(v)).collect();
        let sf: Vec<String> = spacing.iter().map(|&v| fmt_f(v)).collect();
        let _ = writeln!(
            x,
            "  <Grid Name=\"{}\" GridType=\"Collection\" CollectionType=\"Temporal\">",
            esc(&c.name)
        );
        for (s, t) in times.iter().enumerate() {
            let _ = writeln!(
                x,
                "   <Grid Name=\"{} t{s}\" GridType=\"Uniform\">",
                esc(&c.name)
            );
            let _ = writeln!(x, "    <Time Value=\"{}\"/>", fmt_f(*t));
            let _ = writeln!(
                x,
                "    <Topology TopologyType=\"{topo}\" Dimensions=\"{}\"/>",
                join(&dims)
            );
            let _ = writeln!(x, "    <Geometry GeometryType=\"{geo}\">");
            for v in [&of, &sf] {
                let _ = writeln!(
                    x,
                    "     <DataItem Format=\"XML\" Dimensions=\"{nd}\" NumberType=\"Float\" Precision=\"8\">{}</DataItem>",
                    v.join(" ")
                );
            }
            x.push_str("    </Geometry>\n");
            for f in &c.fields {
                // (snapshot[, component], grid…): one snapshot (and component) at a time.
                let mut start = vec![s];
                let mut count = vec![1];
                let mut full = vec![times.len()];
                if let Some((i, n)) = f.component {
                    start.push(i);
                    count.push(1);
                    full.push(n);
                }
                start.extend(std::iter::repeat_n(0, c.grid.shape.len()));
                count.extend(&c.grid.shape);
                full.extend(&c.grid.shape);
                let stride = vec![1; count.len()];
                let (field, path) = (&f.name, &f.path);
                let _ = writeln!(
                    x,
                    "    <Attribute Name=\"{}\" AttributeType=\"Scalar\" Center=\"Node\">",
                    esc(field)
                );
                let _ = writeln!(
                    x,
                    "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"{}\" Type=\"HyperSlab\">",
                    join(&dims)
                );
                let _ = writeln!(
                    x,
                    "      <DataItem Dimensions=\"3 {}\" Format=\"XML\">{} {} {}</DataItem>",
                    count.len(),
                    join(&start),
                    join(&stride),
                    join(&count)
                );
                let _ = writeln!(
                    x,
                    "      <DataItem Format=\"HDF\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"{}\">{}:{}</DataItem>",
                    join(&full),
                    esc(h5_name),
                    esc(path)
                );
                x.push_str("     </DataItem>\n    </Attribute>\n");
            }
            x.push_str("   </Grid>\n");
        }
        x.push_str("  </Grid>\n");
    }
    x.push_str(" </Domain>\n</Xdmf>\n");
    x
}

/// Writes the sidecar of `h5` atomically (a temporary file renamed into place; nothing
/// is left behind on error). Returns its path.
pub fn write(h5: &Path, times: &[f64], collections: &[Collection]) -> AppResult<PathBuf> {
    let dest = sidecar_path(h5);
    let h5_name = h5
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = document(&h5_name, times, collections);
    let mut tmp_name = dest.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dest.with_file_name(tmp_name);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &dest)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(AppError::io(&dest, "cannot write the XDMF sidecar", &e));
    }
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_one_grid_per_snapshot_and_hyperslabs() {
        let c = Collection {
            name: "population 0 (a&b)".to_string(),
            grid: UniformGrid {
                origin: vec![-1.0, -2.0],
                spacing: vec![0.5, 0.25],
                shape: vec![5, 17],
            },
            fields: vec![Field::scalar("density", "/populations/0/density".into())]
                .into_iter()
                .chain(Field::components(
                    "allocation_drift",
                    "/populations/0/allocation_drift",
                    2,
                ))
                .collect(),
        };
        let d = document("x.h5", &[0.0, 0.5, 1.0], &[c]);
        assert_eq!(d.matches("Name=\"allocation_drift_x1\"").count(), 3);
        assert!(d.contains(">2 1 0 0 1 1 1 1 1 1 5 17<"));
        assert!(d.contains("Dimensions=\"3 2 5 17\">x.h5:/populations/0/allocation_drift<"));
        assert_eq!(d.matches("GridType=\"Uniform\"").count(), 3);
        assert!(d.contains("3DCoRectMesh\" Dimensions=\"1 5 17\""));
        assert!(d.contains(">2 0 0 1 1 1 1 5 17<"));
        assert!(d.contains("Dimensions=\"3 5 17\">x.h5:/populations/0/density<"));
        assert!(d.contains("a&amp;b"));
    }

    #[test]
    fn write_is_atomic_and_reports_unwritable_paths() {
        let dir = tempfile::TempDir::new().unwrap();
        let h5 = dir.path().join("r.h5");
        let p = write(&h5, &[0.0], &[]).unwrap();
        assert_eq!(p, dir.path().join("r.xmf"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bad = dir.path().join("missing").join("r.h5");
        assert!(write(&bad, &[0.0], &[]).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
