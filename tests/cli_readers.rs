//! The output files opened by the field's own tools, started by the test itself:
//!
//! * every file tufield writes (solve projected and modal, lq, simulate with the study and
//!   the heuristic, compare projected and modal, a checkpoint) is opened group by group
//!   by netCDF4-python and by xarray with the `h5netcdf` and `netcdf4` engines, and
//!   listed by `ncdump -h`
//!   (tests/readers/open_all.py);
//! * the XDMF sidecars of 1-D, 2-D, 3-D and modal solves open in ParaView (`pvpython`,
//!   tests/readers/paraview_check.py): one time step per snapshot, the point count, the
//!   grid's extent as bounds, the density's integral 1 to 1e-6 at the last snapshot, and
//!   every component of the drift fields (written by default) with the range the HDF5
//!   file holds.
//!
//! These need a Python venv with xarray, h5netcdf and netCDF4, Debian's netcdf-bin and
//! paraview + python3-paraview: `make test-readers` installs them and runs these tests
//! (CI does) with `TUFIELD_REQUIRE_READERS=1`, which turns a missing reader into a
//! failure. Without them and without that variable the tests print how to run them and
//! return.

mod common;

use common::{root, scenario, tufield_in};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The venv python: `TUFIELD_PYENV`/bin/python, default /var/tmp/tufield-pyenv.
fn venv_python() -> PathBuf {
    let env = std::env::var("TUFIELD_PYENV").unwrap_or_else(|_| "/var/tmp/tufield-pyenv".into());
    PathBuf::from(env).join("bin").join("python")
}

fn runs(cmd: &Path, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a missing reader is a failure (`make test-readers` sets this).
fn readers_required() -> bool {
    std::env::var_os("TUFIELD_REQUIRE_READERS").is_some()
}

fn netcdf_readers_present() -> bool {
    let ok = runs(&venv_python(), &["-c", "import xarray, h5netcdf, netCDF4"])
        && runs(Path::new("ncdump"), &[]);
    assert!(
        ok || !readers_required(),
        "TUFIELD_REQUIRE_READERS is set but the netCDF readers are missing"
    );
    if !ok {
        eprintln!(
            "skipped: the netCDF readers are not installed (venv {} with xarray, h5netcdf, \
             netCDF4; ncdump from netcdf-bin); run `make test-readers`",
            venv_python().display()
        );
    }
    ok
}

fn pvpython_present() -> bool {
    let ok = Command::new("pvpython")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || !readers_required(),
        "TUFIELD_REQUIRE_READERS is set but pvpython is missing"
    );
    if !ok {
        eprintln!("skipped: pvpython not found (Debian paraview, python3-paraview); run `make test-readers`");
    }
    ok
}

fn tufield_ok(dir: &Path, args: &[&str]) {
    let r = tufield_in(dir, args);
    assert_eq!(r.code, 0, "tufield {args:?}: {}", r.stderr);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn netcdf_readers_open_every_file() {
    if !netcdf_readers_present() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let coarse = [
        "--set",
        "solver.points=21",
        "--set",
        "solver.steps=20",
        "-q",
    ];
    let chain = scenario("lqc_2d_chain3.toml");
    let mut files = Vec::new();

    let solve = d.join("solve.h5");
    let mut a = vec![
        "solve",
        s(&chain),
        "--out",
        s(&solve),
        "--set",
        "output.compression=\"deflate\"",
    ];
    a.extend(coarse);
    tufield_ok(d, &a);
    files.push(solve.clone());

    let modal = d.join("modal.h5");
    let msc = scenario("lqc_7d_modal_chain3.toml");
    let mut a = vec!["solve", s(&msc), "--out", s(&modal)];
    a.extend(coarse);
    tufield_ok(d, &a);
    files.push(modal);

    let lq = d.join("lq.h5");
    tufield_ok(d, &["lq", s(&chain), "--out", s(&lq), "-q"]);
    files.push(lq);

    let sim = d.join("sim.h5");
    let sim1 = scenario("lqc_1d_chain3.toml");
    tufield_ok(
        d,
        &[
            "simulate",
            s(&sim1),
            "--policy",
            "lq",
            "--copies",
            "500",
            "--set",
            "solver.steps=20",
            "--study",
            "10,100",
            "--out",
            s(&sim),
            "-q",
        ],
    );
    files.push(sim);

    let sim_h = d.join("sim_heuristic.h5");
    let fig7 = scenario("paper_7d_chain5_fig7.toml");
    tufield_ok(
        d,
        &[
            "simulate",
            s(&fig7),
            "--policy",
            "second-order",
            "--copies",
            "100",
            "--set",
            "solver.steps=20",
            "--out",
            s(&sim_h),
            "-q",
        ],
    );
    files.push(sim_h);

    let sim_f = d.join("sim_file.h5");
    let mut a = vec![
        "simulate",
        s(&chain),
        "--policy",
        s(&solve),
        "--copies",
        "200",
        "--out",
        s(&sim_f),
    ];
    a.extend(coarse);
    tufield_ok(d, &a);
    files.push(sim_f);

    let cmp = d.join("cmp");
    let bounded = scenario("bounded_2d_chain3.toml");
    let mut a = vec!["compare", s(&bounded), "--out", s(&cmp)];
    a.extend(coarse);
    tufield_ok(d, &a);
    files.push(cmp.join("compare.h5"));

    let cmp_modal = d.join("cmp_modal");
    let mut a = vec!["compare", s(&msc), "--out", s(&cmp_modal)];
    a.extend(coarse);
    tufield_ok(d, &a);
    files.push(cmp_modal.join("compare.h5"));

    // A run stopped after one iteration leaves its checkpoint.
    let stopped = d.join("stopped.h5");
    let mut a = vec![
        "solve",
        s(&chain),
        "--out",
        s(&stopped),
        "--set",
        "solver.max_iter=1",
    ];
    a.extend(coarse);
    let r = tufield_in(d, &a);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let ck = d.join("stopped.checkpoint.h5");
    assert!(ck.is_file(), "no checkpoint: {}", r.stderr);
    files.push(ck);

    let script = root().join("tests/readers/open_all.py");
    let mut cmd = Command::new(venv_python());
    cmd.arg(&script).args(&files);
    let out = cmd.output().expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "readers failed:\n{text}");
    assert_eq!(
        text.matches("\nok ").count() + usize::from(text.starts_with("ok ")),
        files.len()
    );
}

/// Solves `sc` with `set`, then checks its sidecar in ParaView with `blocks` blocks.
fn paraview_check(dir: &Path, name: &str, sc: &Path, set: &[&str], blocks: usize) {
    let out = dir.join(format!("{name}.h5"));
    let mut a = vec!["solve", s(sc), "--out", s(&out), "-q"];
    a.extend(set);
    tufield_ok(dir, &a);
    let xmf = out.with_extension("xmf");
    assert!(xmf.is_file(), "no sidecar next to {}", out.display());
    let f = hdf5::File::open(&out).unwrap();
    let snapshots = f.dataset("snapshot_time").unwrap().size();
    // Per block (XDMF collection order: populations, or modes × populations) the grid's
    // extent per axis in dataset order.
    let extent = |path: &str| -> (f64, f64, usize) {
        let x: Vec<f64> = f.dataset(path).unwrap().read_raw().unwrap();
        (x[0], x[x.len() - 1], x.len())
    };
    let mut block_bounds: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut points = 1;
    if f.link_exists("grid") {
        let d = f.attr("axis_labels").unwrap().shape()[0];
        let axes: Vec<(f64, f64, usize)> = (0..d).map(|i| extent(&format!("grid/x{i}"))).collect();
        points = axes.iter().map(|a| a.2).product();
        for _ in 0..blocks {
            block_bounds.push(axes.iter().map(|a| (a.0, a.1)).collect());
        }
    } else {
        let modes = f.attr("modes").unwrap().read_scalar::<u64>().unwrap() as usize;
        let pops = blocks / modes;
        for i in 0..modes {
            let (lo, hi, n) = extent(&format!("modes/{i}/grid"));
            points = n;
            for _ in 0..pops {
                block_bounds.push(vec![(lo, hi)]);
            }
        }
    }
    // The drift fields' components of population 0 at the last snapshot (projected
    // solves write them by default), with their range in the HDF5 file.
    let mut arrays = Vec::new();
    for field in ["allocation_drift", "disturbance_drift"] {
        let Ok(ds) = f.dataset(&format!("populations/0/{field}")) else {
            continue;
        };
        let v = ds.read_dyn::<f64>().unwrap();
        let last = v.index_axis(ndarray::Axis(0), v.shape()[0] - 1);
        for i in 0..last.shape()[0] {
            let c = last.index_axis(ndarray::Axis(0), i);
            let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            arrays.push(format!("\"{field}_x{i}\": [{lo:?}, {hi:?}]"));
        }
    }
    assert!(
        f.link_exists("modes") || arrays.len() == 2 * f.attr("axis_labels").unwrap().shape()[0],
        "{name}: the drift fields are written by default"
    );
    let bj: Vec<String> = block_bounds
        .iter()
        .map(|b| {
            let ax: Vec<String> = b.iter().map(|(a, c)| format!("[{a:?}, {c:?}]")).collect();
            format!("[{}]", ax.join(", "))
        })
        .collect();
    let spec = format!(
        "{{\"snapshots\": {snapshots}, \"blocks\": {blocks}, \"points\": {points}, \"block_bounds\": [{}], \"arrays\": {{{}}}}}",
        bj.join(", "),
        arrays.join(", ")
    );
    let script = root().join("tests/readers/paraview_check.py");
    let o = Command::new("pvpython")
        .args(["--force-offscreen-rendering", s(&script), s(&xmf), &spec])
        .output()
        .expect("pvpython runs");
    let text = String::from_utf8_lossy(&o.stdout);
    eprintln!("{text}");
    assert!(
        o.status.success() && text.contains("ok "),
        "ParaView check of {name} failed:\n{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn paraview_opens_the_xdmf_sidecars() {
    if !pvpython_present() {
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    paraview_check(
        d,
        "one_d",
        &scenario("lqc_1d_chain3.toml"),
        &["--set", "solver.points=81", "--set", "solver.steps=20"],
        3,
    );
    paraview_check(
        d,
        "two_d",
        &scenario("lqc_2d_chain3.toml"),
        &["--set", "solver.points=31", "--set", "solver.steps=20"],
        3,
    );
    paraview_check(
        d,
        "three_d",
        &scenario("lqc_3d_single.toml"),
        &["--set", "solver.points=21", "--set", "solver.steps=10"],
        1,
    );
    paraview_check(
        d,
        "modal",
        &scenario("lqc_15d_modal_single.toml"),
        &["--set", "solver.points=41", "--set", "solver.steps=10"],
        15,
    );
}
