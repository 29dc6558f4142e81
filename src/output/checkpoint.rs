//! Checkpoints of the fixed-point iteration (`tufield solve`): the complete
//! [`FixedPointState`] after an iteration, written atomically (temporary file + rename, see
//! [`AtomicH5`]) so a killed run always leaves the previous or the new checkpoint, never a
//! torn one. `--resume` reloads it and continues bit for bit.
//!
//! Layout (HDF5):
//!
//! ```text
//! /            attrs tufield_version, scenario (TOML after overrides), kind = "checkpoint",
//!                    memory (number of Anderson pairs), length (of x)
//! /x           (length)            the next iterate
//! /past_x      (memory, length)    Anderson memory (absent when memory = 0)
//! /past_f      (memory, length)
//! /history/residual, damping, wall_s (iterations) f64; accelerated (iterations) u8
//! /evaluated_x (length)            the point of the last completed evaluation (absent
//!                                  before the first)
//! ```
//!
//! Root attributes recording the run, so that `tufield solve --resume CHECKPOINT` alone
//! continues it: `scenario_file` (the scenario path as given), `base_dir` (absolute
//! directory that relative initial-law paths resolve against), `overrides` (the `--set`
//! overrides, a string list; absent when there are none) and `out` (absolute output path). Checkpoints without them
//! need the scenario on the command line.
//!
//! A run whose fixed point has stopped (converged, max_iterations, stagnated, diverged)
//! leaves a checkpoint from which [`tufield_solvers::fixed_point::FixedPoint::finished`]
//! reads that outcome: a resume evaluates the map once more at `/evaluated_x` (no new
//! iteration) and writes the same file as the uninterrupted run.

use crate::h5::AtomicH5;
use crate::{AppError, AppResult};
use ndarray::{Array1, Array2};
use std::path::{Path, PathBuf};
use tufield_solvers::fixed_point::{Control, FixedPointState, IterationRecord, Observer};

/// Value of the root attribute `kind` of a checkpoint file.
pub const CHECKPOINT_KIND: &str = "checkpoint";

/// Checkpoint path belonging to an output file: `<dir>/<stem>.checkpoint.h5`.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tufield".to_string());
    out.with_file_name(format!("{stem}.checkpoint.h5"))
}

/// What a checkpoint records about its run besides the iteration state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRecord {
    /// The scenario path as given on the command line (names the scenario in messages).
    pub scenario_file: String,
    /// Absolute directory relative initial-law paths resolve against.
    pub base_dir: PathBuf,
    /// The `--set` overrides, as given.
    pub overrides: Vec<String>,
    /// Absolute output path.
    pub out: PathBuf,
}

/// Absolute form of `p` (relative paths joined to the working directory; not resolved
/// through symbolic links so that the path stays what the user named).
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Writes `state` for the scenario text `scenario` to `path` atomically, with the record
/// of the run (if known) and the point of the last completed evaluation (if any).
pub fn save(
    path: &Path,
    scenario: &str,
    run: Option<&RunRecord>,
    state: &FixedPointState,
    evaluated: Option<&[f64]>,
) -> AppResult<()> {
    let w = AtomicH5::create(path, scenario)?;
    let root = w.root()?.clone();
    let len = state.x.len();
    let memory = state.past_x.len();
    w.str_attr(&root, "kind", CHECKPOINT_KIND)?;
    w.scalar_attr(&root, "memory", memory as u64)?;
    w.scalar_attr(&root, "length", len as u64)?;
    if let Some(r) = run {
        w.str_attr(&root, "scenario_file", &r.scenario_file)?;
        w.str_attr(&root, "base_dir", &r.base_dir.to_string_lossy())?;
        if !r.overrides.is_empty() {
            w.str_list_attr(&root, "overrides", &r.overrides)?;
        }
        w.str_attr(&root, "out", &r.out.to_string_lossy())?;
    }
    w.array(&root, "x", &Array1::from(state.x.clone()))?;
    if let Some(e) = evaluated {
        w.array(&root, "evaluated_x", &Array1::from(e.to_vec()))?;
    }
    if memory > 0 {
        for (name, rows) in [("past_x", &state.past_x), ("past_f", &state.past_f)] {
            let flat: Vec<f64> = rows.iter().flatten().copied().collect();
            let a = Array2::from_shape_vec((memory, len), flat).map_err(|_| AppError::Io {
                path: path.display().to_string(),
                message: format!("checkpoint: {name} rows do not all have length {len}"),
            })?;
            w.array(&root, name, &a)?;
        }
    }
    let hist = w.group("/history")?;
    let h = &state.history;
    w.array(
        &hist,
        "residual",
        &h.iter().map(|r| r.residual).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        "damping",
        &h.iter().map(|r| r.damping).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        "wall_s",
        &h.iter().map(|r| r.wall_s).collect::<Array1<f64>>(),
    )?;
    w.array(
        &hist,
        "accelerated",
        &h.iter()
            .map(|r| u8::from(r.accelerated))
            .collect::<Array1<u8>>(),
    )?;
    w.commit()?;
    Ok(())
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

/// A loaded checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Scenario text (after overrides) the run was started with.
    pub scenario: String,
    /// The iteration state.
    pub state: FixedPointState,
    /// The run it belongs to (`None` for checkpoints that do not record it).
    pub run: Option<RunRecord>,
    /// The point of the last completed evaluation.
    pub evaluated: Option<Vec<f64>>,
}

/// Reads a checkpoint written by [`save`]. Errors name the file and say what is wrong
/// (exit code 2: the `--resume` argument is invalid input).
pub fn load(path: &Path) -> AppResult<Checkpoint> {
    let bad = |what: String| AppError::Invalid {
        source_name: path.display().to_string(),
        key: "--resume".to_string(),
        message: what,
    };
    if !path.is_file() {
        return Err(bad("no such checkpoint file".to_string()));
    }
    let file =
        hdf5::File::open(path).map_err(|e| bad(format!("not a readable HDF5 checkpoint ({e})")))?;
    let read_str = |name: &str| -> AppResult<String> {
        let a = file.attr(name).map_err(|_| {
            bad(format!(
                "missing root attribute {name}; not a tufield checkpoint"
            ))
        })?;
        let s: hdf5::types::VarLenUnicode = a
            .read_scalar()
            .map_err(|e| bad(format!("attribute {name}: {e}")))?;
        Ok(s.as_str().to_string())
    };
    if read_str("kind")? != CHECKPOINT_KIND {
        return Err(bad(
            "this file is not a checkpoint (attribute kind ≠ \"checkpoint\"); pass the \
             <output>.checkpoint.h5 file written next to the output"
                .to_string(),
        ));
    }
    let scenario = read_str("scenario")?;
    let read_u64 = |name: &str| -> AppResult<u64> {
        file.attr(name)
            .and_then(|a| a.read_scalar::<u64>())
            .map_err(|e| bad(format!("attribute {name}: {e}")))
    };
    let memory = read_u64("memory")? as usize;
    let len = read_u64("length")? as usize;
    let vec = |name: &str| -> AppResult<Vec<f64>> {
        file.dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| bad(format!("dataset {name}: {e}")))
    };
    let x = vec("x")?;
    if x.len() != len {
        return Err(bad(format!("/x has {} values, expected {len}", x.len())));
    }
    let evaluated = if file.link_exists("evaluated_x") {
        let e = vec("evaluated_x")?;
        if e.len() != len {
            return Err(bad(format!(
                "/evaluated_x has {} values, expected {len}",
                e.len()
            )));
        }
        Some(e)
    } else {
        None
    };
    let run = if file.attr("scenario_file").is_ok() {
        let overrides: Vec<String> = match file.attr("overrides") {
            Ok(a) => a
                .read_raw::<hdf5::types::VarLenUnicode>()
                .map_err(|e| bad(format!("attribute overrides: {e}")))?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            Err(_) => Vec::new(),
        };
        Some(RunRecord {
            scenario_file: read_str("scenario_file")?,
            base_dir: PathBuf::from(read_str("base_dir")?),
            overrides,
            out: PathBuf::from(read_str("out")?),
        })
    } else {
        None
    };
    let rows = |name: &str| -> AppResult<Vec<Vec<f64>>> {
        if memory == 0 {
            return Ok(Vec::new());
        }
        let flat = vec(name)?;
        if flat.len() != memory * len {
            return Err(bad(format!("/{name} has the wrong size")));
        }
        Ok(flat.chunks(len).map(|c| c.to_vec()).collect())
    };
    let past_x = rows("past_x")?;
    let past_f = rows("past_f")?;
    let residual = vec("history/residual")?;
    let damping = vec("history/damping")?;
    let wall_s = vec("history/wall_s")?;
    let accelerated = file
        .dataset("history/accelerated")
        .and_then(|d| d.read_raw::<u8>())
        .map_err(|e| bad(format!("dataset history/accelerated: {e}")))?;
    let n = residual.len();
    if damping.len() != n || wall_s.len() != n || accelerated.len() != n {
        return Err(bad(
            "the /history datasets have different lengths".to_string()
        ));
    }
    let history = (0..n)
        .map(|i| IterationRecord {
            residual: residual[i],
            damping: damping[i],
            accelerated: accelerated[i] != 0,
            wall_s: wall_s[i],
        })
        .collect();
    Ok(Checkpoint {
        scenario,
        state: FixedPointState {
            x,
            past_x,
            past_f,
            history,
        },
        run,
        evaluated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_bit_for_bit() {
        let dir = tempfile::TempDir::new().unwrap();
        let p = dir.path().join("run.checkpoint.h5");
        let state = FixedPointState {
            x: vec![0.1, -2.5e-300, 3.0, f64::MIN_POSITIVE],
            past_x: vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0, 6.0, 7.0, 8.0 + 1e-15]],
            past_f: vec![vec![-1.0, 0.0, 1.0, 2.0], vec![0.5, 0.25, 0.125, 1.0 / 3.0]],
            history: vec![
                IterationRecord {
                    residual: 0.3,
                    damping: 1.0,
                    accelerated: false,
                    wall_s: 0.01,
                },
                IterationRecord {
                    residual: 1.0 / 7.0,
                    damping: 0.5,
                    accelerated: true,
                    wall_s: 0.02,
                },
            ],
        };
        let run = RunRecord {
            scenario_file: "sc/a b.toml".into(),
            base_dir: "/abs/sc".into(),
            overrides: vec!["solver.points=51".into(), "cost.q=[[1]]".into()],
            out: "/abs/runs/a.h5".into(),
        };
        let evaluated = vec![0.5, 1.5, -3.0, 1e-300];
        save(&p, "name = \"x\"\n", Some(&run), &state, Some(&evaluated)).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.scenario, "name = \"x\"\n");
        assert_eq!(back.state, state);
        assert_eq!(back.run, Some(run));
        assert_eq!(back.evaluated, Some(evaluated));
        // No Anderson memory: the datasets are absent and come back empty.
        let plain = FixedPointState::new(vec![1.0, 2.0]);
        let mut plain = plain;
        plain.history.push(state.history[0]);
        save(&p, "s", None, &plain, None).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.state, plain);
        assert_eq!((back.run, back.evaluated), (None, None));
    }

    #[test]
    fn loading_a_non_checkpoint_names_the_option() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = load(&dir.path().join("nope.h5")).unwrap_err();
        assert!(missing.to_string().contains("--resume"), "{missing}");
        let p = dir.path().join("other.h5");
        let w = AtomicH5::create(&p, "s").unwrap();
        w.commit().unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.to_string().contains("not a tufield checkpoint"), "{e}");
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID);
    }

    #[test]
    fn checkpoint_path_sits_next_to_the_output() {
        assert_eq!(
            checkpoint_path(Path::new("output/run.h5")),
            PathBuf::from("output/run.checkpoint.h5")
        );
    }
}
