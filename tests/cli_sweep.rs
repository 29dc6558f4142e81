//! `tufield sweep`: points run concurrently and agree bit for bit with a direct
//! `tufield solve`; finished points are skipped on a re-run; a point invalid on its own
//! (γ below the threshold of condition (17)) is recorded while the others run; failed
//! points are recorded and re-run on request; a signalled sweep records its point as
//! interrupted and a re-run resumes it bit for bit; bad sweep input exits 2 before any
//! point runs; the Slurm scripts carry the job-array directives; `summary.nc` is read by the
//! independent netCDF readers (xarray with h5netcdf and netCDF4, ncdump) when installed.

mod common;

use common::{h5_contents, scenario, tufield_in};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

const COARSE: [&str; 4] = ["--set", "solver.points=41", "--set", "solver.steps=20"];

fn sweep(cwd: &Path, args: &[&str]) -> common::Run {
    let mut all = vec!["sweep"];
    all.extend_from_slice(args);
    tufield_in(cwd, &all)
}

fn csv_rows(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("summary.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let j = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("column {name} in {:?}", rows[0]));
    rows[1..].iter().map(|r| r[j].clone()).collect()
}

fn status_of(dir: &Path, i: usize) -> String {
    std::fs::read_to_string(dir.join(format!("points/{i}/status.toml"))).unwrap_or_default()
}

fn f64_attr(f: &hdf5::File, name: &str) -> f64 {
    f.attr(name).unwrap().read_scalar().unwrap()
}

/// The netCDF readers of the project's test environment, when installed.
fn check_readers(nc: &Path) {
    let python = PathBuf::from("/var/tmp/tufield-pyenv/bin/python");
    if python.is_file() {
        let script = "import sys, xarray as xr\n\
            for engine in ('h5netcdf', 'netcdf4'):\n\
            \x20   ds = xr.open_dataset(sys.argv[1], engine=engine)\n\
            \x20   assert ds.attrs['Conventions'] == 'CF-1.10', ds.attrs\n\
            \x20   assert 'status' in ds, list(ds)\n\
            \x20   print(engine, dict(ds.sizes))\n";
        let out = Command::new(&python)
            .args(["-c", script])
            .arg(nc)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xarray cannot read {}: {}",
            nc.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!(
            "skipping the xarray check: no venv at {} (make test-slurm installs it)",
            python.display()
        );
    }
    match Command::new("ncdump").arg("-h").arg(nc).output() {
        Ok(out) => assert!(
            out.status.success(),
            "ncdump -h {}: {}",
            nc.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!("skipping the ncdump check: netcdf-bin not installed"),
    }
}

#[test]
fn points_run_concurrently_match_direct_solves_and_are_not_run_twice() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("sw");
    let sc = scenario("lqc_1d_chain3.toml");
    let mut args = vec![
        sc.to_str().unwrap(),
        "--vary",
        "noise.sigma=[0.25, 0.35]",
        "--vary",
        "horizon.t=[0.5,1]",
        "--jobs",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(&COARSE);
    let run = sweep(tmp.path(), &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let rows = csv_rows(&dir);
    assert_eq!(rows.len(), 5, "header and 4 points");
    assert_eq!(column(&rows, "status"), vec!["done"; 4]);

    // Point 3 is (sigma 0.35, t 1): the same numbers as a direct solve, bit for bit.
    let direct = tmp.path().join("direct.h5");
    let mut solve = vec![
        "solve",
        sc.to_str().unwrap(),
        "--out",
        direct.to_str().unwrap(),
    ];
    solve.extend_from_slice(&COARSE);
    solve.extend_from_slice(&["--set", "noise.sigma=0.35", "--set", "horizon.t=1"]);
    // Every bit of density and value (rounded by default), from which J is recomputed
    // below exactly as the solver sums it.
    solve.extend_from_slice(&["--set", "output.significant_bits=\"all\""]);
    let run = tufield_in(tmp.path(), &solve);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = hdf5::File::open(&direct).unwrap();
    let lq = f64_attr(&f, "lq_mean_distance");
    assert_eq!(column(&rows, "lq_mean_distance")[3], format!("{lq}"));
    assert_eq!(
        column(&rows, "residual")[3],
        format!("{}", f64_attr(&f, "residual"))
    );
    // Against the exact LQ answer: the PDE means follow the oracle's at this grid.
    assert!(lq < 0.05, "distance to the exact LQ means {lq}");
    let mean: ndarray::Array2<f64> = f.dataset("populations/2/mean").unwrap().read_2d().unwrap();
    let last = mean[[mean.nrows() - 1, 0]];
    assert_eq!(column(&rows, "final_mean[right][x]")[3], format!("{last}"));
    // J_k = ∫ v(x,0) m_k(x,0) dx from snapshot 0, recomputed here.
    let v: ndarray::Array2<f64> = f.dataset("populations/0/value").unwrap().read_2d().unwrap();
    let m: ndarray::Array2<f64> = f
        .dataset("populations/0/density")
        .unwrap()
        .read_2d()
        .unwrap();
    let h: f64 = f
        .dataset("grid/x0")
        .unwrap()
        .attr("spacing")
        .unwrap()
        .read_scalar()
        .unwrap();
    let j: f64 = v
        .row(0)
        .iter()
        .zip(m.row(0).iter())
        .map(|(a, b)| a * b)
        .sum::<f64>()
        * h;
    assert!(j.is_finite() && j > 0.0);
    assert_eq!(column(&rows, "expected_cost[left]")[3], format!("{j}"));

    // A re-run skips the finished points (their status files stay untouched).
    let before = std::fs::metadata(dir.join("points/0/status.toml"))
        .unwrap()
        .modified()
        .unwrap();
    let run = sweep(tmp.path(), &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("running 0 point(s)"), "{}", run.stdout);
    let after = std::fs::metadata(dir.join("points/0/status.toml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after);
    // A different sweep in the same directory is refused.
    let mut other = args.clone();
    other[2] = "noise.sigma=[0.2, 0.35]";
    let run = sweep(tmp.path(), &other);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("different sweep"), "{}", run.stderr);

    // summary.nc: the axes are dimensions with coordinate variables, the gathered values
    // are those of the CSV.
    let nc = dir.join("summary.nc");
    let c = h5_contents(&nc);
    assert!(
        c.contains_key("/noise_sigma") && c.contains_key("/horizon_t"),
        "{:?}",
        c.keys()
    );
    assert!(c["/noise_sigma@long_name"].contains("noise.sigma"));
    assert!(c["@Conventions"].contains("CF-1.10"));
    let f = hdf5::File::open(&nc).unwrap();
    let lqd = f.dataset("lq_mean_distance").unwrap();
    assert_eq!(lqd.shape(), vec![2, 2]);
    assert_eq!(
        lqd.read_2d::<f64>().unwrap()[[1, 1]].to_bits(),
        lq.to_bits()
    );
    assert_eq!(f.dataset("final_mean").unwrap().shape(), vec![2, 2, 3, 1]);
    for png in [
        "expected_cost.png",
        "final_mean.png",
        "lq_mean_distance.png",
    ] {
        assert!(dir.join(png).is_file(), "{png}");
    }
    check_readers(&nc);
}

#[test]
fn a_point_below_the_gamma_threshold_is_recorded_invalid_while_the_others_run() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("g");
    let sc = scenario("bounded_1d_single.toml");
    let mut args = vec![
        sc.to_str().unwrap(),
        "--vary",
        "cost.gamma=[0.3, 2.0, 3.0]",
        "--jobs",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(&COARSE);
    let run = sweep(tmp.path(), &args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        status_of(&dir, 0).contains("status = \"invalid\""),
        "{}",
        status_of(&dir, 0)
    );
    assert!(
        status_of(&dir, 0).contains("condition (17)"),
        "{}",
        status_of(&dir, 0)
    );
    let rows = csv_rows(&dir);
    assert_eq!(column(&rows, "status"), vec!["invalid", "done", "done"]);
    assert_eq!(column(&rows, "exit_code")[0], "2");
    let f = hdf5::File::open(dir.join("summary.nc")).unwrap();
    let g: f64 = f64_attr(&f, "condition_17_min_gamma");
    assert!(g > 0.3 && g < 2.0, "threshold {g}");
    let status: Vec<i8> = f.dataset("status").unwrap().read_raw().unwrap();
    assert_eq!(status, vec![3, 1, 1]);
    assert!(dir.join("expected_cost.png").is_file());
}

#[test]
fn failed_points_are_recorded_and_rerun_only_on_request() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("f");
    let sc = scenario("lqc_1d_chain3.toml");
    let mut args = vec![
        sc.to_str().unwrap(),
        "--vary",
        "solver.max_iter=[1, 100]",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(&COARSE);
    let run = sweep(tmp.path(), &args);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("1 of 2 point(s) did not finish"),
        "{}",
        run.stderr
    );
    let st = status_of(&dir, 0);
    assert!(
        st.contains("status = \"failed\"") && st.contains("exit_code = 3"),
        "{st}"
    );
    assert!(st.contains("max_iterations"), "{st}");
    let attempts = |d: &Path| {
        std::fs::read_to_string(d.join("points/0/solve.log"))
            .unwrap()
            .matches("tufield solve of point 0")
            .count()
    };
    assert_eq!(attempts(&dir), 1);
    sweep(tmp.path(), &args);
    assert_eq!(attempts(&dir), 1, "failed points are not re-run by default");
    let mut retry = args.clone();
    retry.push("--retry-failed");
    sweep(tmp.path(), &retry);
    assert_eq!(attempts(&dir), 2);
    let log = std::fs::read_to_string(dir.join("points/0/solve.log")).unwrap();
    assert!(log.contains("resuming from the checkpoint"), "{log}");
}

#[test]
fn bad_sweeps_exit_2_before_any_point_runs() {
    let tmp = TempDir::new().unwrap();
    let sc = scenario("lqc_1d_single.toml");
    let dir = tmp.path().join("bad");
    for (vary, needle) in [
        ("cost.gamm=[1, 2]", "cost.gamm"),
        ("noise.sigma=[0.2, \"x\"]", "noise.sigma"),
        ("noise.sigma=[]", "noise.sigma: empty axis"),
        ("noise.sigma=linspace(0.1, 0.2, 0)", "empty axis"),
        ("solver.max_iter=[10, \"many\"]", "solver.max_iter"),
    ] {
        let run = sweep(
            tmp.path(),
            &[
                sc.to_str().unwrap(),
                "--vary",
                vary,
                "--out",
                dir.to_str().unwrap(),
            ],
        );
        assert_eq!(run.code, 2, "{vary}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{vary}: {}", run.stderr);
        assert!(!dir.exists(), "{vary}: nothing written");
    }
    let run = sweep(
        tmp.path(),
        &[
            sc.to_str().unwrap(),
            "--zip",
            "--vary",
            "noise.sigma=[0.2,0.3]",
            "--vary",
            "horizon.t=[1]",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("equal lengths"), "{}", run.stderr);

    // --submit without sbatch on the PATH.
    let out = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .args([
            "sweep",
            sc.to_str().unwrap(),
            "--vary",
            "noise.sigma=[0.2,0.3]",
            "--slurm",
            "--submit",
            "--out",
        ])
        .arg(&dir)
        .env("PATH", tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sbatch is not on the PATH"));
    assert!(!dir.exists());
}

#[test]
fn slurm_scripts_carry_the_array_and_a_zipped_sweep_gathers_before_it_runs() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("z");
    let sc = scenario("lqc_1d_single.toml");
    let run = sweep(
        tmp.path(),
        &[
            sc.to_str().unwrap(),
            "--zip",
            "--vary",
            "noise.sigma=linspace(0.2, 0.4, 3)",
            "--vary",
            "horizon.t=[0.5, 1, 2]",
            "--slurm",
            "--cpus-per-task",
            "2",
            "--mem",
            "1G",
            "--time",
            "00:05:00",
            "--array-limit",
            "2",
            "--partition",
            "debug",
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-2%2",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --mem=1G",
        "#SBATCH --requeue",
        "#SBATCH --partition=debug",
    ] {
        assert!(script.contains(line), "{line}:\n{script}");
    }
    assert!(script.contains("sweep run") && script.contains("$SLURM_ARRAY_TASK_ID"));
    assert!(std::fs::read_to_string(dir.join("gather.sbatch"))
        .unwrap()
        .contains("sweep gather"));
    assert!(
        !dir.join("points/0/result.h5").exists(),
        "--slurm runs nothing"
    );

    let run = tufield_in(
        tmp.path(),
        &["sweep", "run", dir.to_str().unwrap(), "--index", "3"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("out of range"), "{}", run.stderr);

    let run = tufield_in(tmp.path(), &["sweep", "gather", dir.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = hdf5::File::open(dir.join("summary.nc")).unwrap();
    assert_eq!(f.dataset("point").unwrap().shape(), vec![3]);
    let sigma: Vec<f64> = f.dataset("noise_sigma").unwrap().read_raw().unwrap();
    assert_eq!(sigma, vec![0.2, 0.30000000000000004, 0.4]);
    let status: Vec<i8> = f.dataset("status").unwrap().read_raw().unwrap();
    assert_eq!(status, vec![0, 0, 0], "all pending");
    check_readers(&dir.join("summary.nc"));
}

#[test]
fn a_signalled_local_sweep_records_the_point_interrupted_and_resumes_it_bit_for_bit() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    let sc = scenario("lqc_1d_chain3.toml");
    let heavy = [
        "--set",
        "solver.points=1201",
        "--set",
        "solver.steps=2400",
        "--set",
        "solver.tol=1e-12",
    ];
    let mut args = vec![
        "sweep",
        sc.to_str().unwrap(),
        "--vary",
        "noise.sigma=[0.3]",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(&heavy);
    let child = Command::new(env!("CARGO_BIN_EXE_tufield"))
        .args(&args)
        .current_dir(tmp.path())
        .env("OPENBLAS_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ckpt = dir.join("points/0/result.checkpoint.h5");
    let start = std::time::Instant::now();
    while !ckpt.exists() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ckpt.exists(), "the point wrote no checkpoint");
    // SIGTERM to the sweep only: it forwards the signal to its solve.
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    let st = status_of(&dir, 0);
    assert!(st.contains("status = \"interrupted\""), "{st}");
    assert!(st.contains("exit_code = 143"), "{st}");

    // Running the sweep again resumes the point from its checkpoint ...
    let run = tufield_in(tmp.path(), &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let st = status_of(&dir, 0);
    assert!(
        st.contains("status = \"done\"") && st.contains("resumed = true"),
        "{st}"
    );
    // ... and ends with the bits of an uninterrupted solve.
    let direct = tmp.path().join("direct.h5");
    let mut solve = vec![
        "solve",
        sc.to_str().unwrap(),
        "--out",
        direct.to_str().unwrap(),
    ];
    solve.extend_from_slice(&heavy);
    solve.extend_from_slice(&["--set", "noise.sigma=0.3"]);
    let run = tufield_in(tmp.path(), &solve);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let a = hdf5::File::open(&direct).unwrap();
    let b = hdf5::File::open(dir.join("points/0/result.h5")).unwrap();
    for k in 0..3 {
        for name in ["mean", "density", "value"] {
            let path = format!("populations/{k}/{name}");
            let x: Vec<f64> = a.dataset(&path).unwrap().read_raw().unwrap();
            let y: Vec<f64> = b.dataset(&path).unwrap().read_raw().unwrap();
            assert!(
                x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits()) && x.len() == y.len(),
                "{path} differs after the resume"
            );
        }
    }
    let residual = |f: &hdf5::File| f64_attr(f, "residual").to_bits();
    assert_eq!(residual(&a), residual(&b));
}
