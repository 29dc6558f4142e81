//! The file schema: dataset paths, attribute names and units that writers and readers
//! share (the layout of every file is described in docs/output-files.md).

use crate::clock::utc_now;
use std::path::Path;

/// Root attribute: the crate version.
pub const ATTR_VERSION: &str = "tufield_version";
/// Root attribute: the scenario TOML after overrides.
pub const ATTR_SCENARIO: &str = "scenario";
/// Root attribute: the command that wrote the file (`solve`, `lq`, `simulate`, `compare`).
pub const ATTR_COMMAND: &str = "command";
/// Root attribute: the scenario name.
pub const ATTR_NAME: &str = "name";
/// Root attribute: the labels of the reduced coordinates (coalitions such as `{1,2}`).
pub const ATTR_AXIS_LABELS: &str = "axis_labels";
/// Root attribute of modal solves: `reduction = "modal"`.
pub const ATTR_REDUCTION: &str = "reduction";
/// Group and dataset attribute: a label (a coalition, never a dimension name).
pub const ATTR_LABEL: &str = "label";
/// CF attribute: a descriptive name.
pub const ATTR_LONG_NAME: &str = "long_name";
/// CF attribute: units (UDUNITS; `1` for dimensionless).
pub const ATTR_UNITS: &str = "units";

/// CF conventions version written at the root.
pub const CONVENTIONS: &str = "CF-1.10";

/// `/time`: the time levels t_n = n·T/steps (coordinate variable).
pub const TIME: &str = "time";
/// `/snapshot_time`: the times of the stored snapshots (coordinate variable).
pub const SNAPSHOT_TIME: &str = "snapshot_time";
/// `/snapshot_level`: the time level of each snapshot.
pub const SNAPSHOT_LEVEL: &str = "snapshot_level";
/// `long_name` of `/time`.
pub const TIME_LONG_NAME: &str = "model time t_n = n·T/steps";
/// Units of model time, coordinates and costs (the model is dimensionless).
pub const DIMENSIONLESS: &str = "1";
/// `/grid`: the grid group (datasets `x<i>` with attributes label, lo, hi, spacing).
pub const GRID: &str = "grid";
/// `/populations`: one group per population.
pub const POPULATIONS: &str = "populations";
/// Snapshot dataset: the density m_k(t, x).
pub const DENSITY: &str = "density";
/// Snapshot dataset: the value v_k(t, x).
pub const VALUE: &str = "value";
/// Dataset: the mean path m̄_k (steps+1, d).
pub const MEAN: &str = "mean";
/// Population dataset: the expected cost J_k = ∫ v_k(0, x) m_k(0, x) dx (scalar).
pub const EXPECTED_COST: &str = "expected_cost";
/// `/modes`: the modes of a modal solve.
pub const MODES: &str = "modes";

/// Dimension name of the reduced coordinates' index (`d`).
pub const DIM_AXIS: &str = "axis";
/// Dimension names of a d × d matrix.
pub const DIM_ROW: &str = "row";
/// Dimension names of a d × d matrix.
pub const DIM_COL: &str = "col";
/// Dimension name of the population index.
pub const DIM_POPULATION: &str = "population";
/// Dimension name of the fixed-point iterations.
pub const DIM_ITERATION: &str = "iteration";
/// Dimension name of the modes of a modal solve.
pub const DIM_MODE: &str = "mode";

/// Name of grid axis `i`: the root coordinate variable `/x<i>` and `/grid/x<i>`.
pub fn axis_name(i: usize) -> String {
    format!("x{i}")
}

/// Path of grid axis `i`: `grid/x<i>`.
pub fn grid_axis(i: usize) -> String {
    format!("{GRID}/x{i}")
}

/// Path of population `k`'s group: `populations/<k>`.
pub fn population(k: usize) -> String {
    format!("{POPULATIONS}/{k}")
}

/// Path of a dataset of population `k`: `populations/<k>/<name>`.
pub fn population_dataset(k: usize, name: &str) -> String {
    format!("{POPULATIONS}/{k}/{name}")
}

/// The CF root attributes of a file written to `dest` from `scenario_text`:
/// `Conventions`, `title` (the scenario's `name`, else the file stem), `source` (the
/// tufield version) and `history` (UTC time and command line).
pub fn cf_root_attributes(dest: &Path, scenario_text: &str) -> Vec<(&'static str, String)> {
    let name = toml::from_str::<toml::Table>(scenario_text)
        .ok()
        .and_then(|t| t.get("name").and_then(|v| v.as_str().map(str::to_string)))
        .or_else(|| dest.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().collect();
    vec![
        ("Conventions", CONVENTIONS.to_string()),
        ("title", format!("tufield output: {name}")),
        ("source", format!("tufield {}", crate::h5::TUFIELD_VERSION)),
        ("history", format!("{} {}", utc_now(), args.join(" "))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_now_is_an_iso_timestamp() {
        let s = utc_now();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20") && s.ends_with('Z') && s.as_bytes()[10] == b'T');
    }

    #[test]
    fn root_attributes_take_the_scenario_name() {
        let a = cf_root_attributes(Path::new("out/x.h5"), "name = \"abc\"\n");
        assert_eq!(a[0], ("Conventions", "CF-1.10".to_string()));
        assert_eq!(a[1].1, "tufield output: abc");
        let b = cf_root_attributes(Path::new("out/x.h5"), "not toml [");
        assert_eq!(b[1].1, "tufield output: x");
    }
}
